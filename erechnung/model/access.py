"""Who may do what in the console (issue 14): the roles of its users, defined once.

==============  ============================================================================================
role            may
==============  ============================================================================================
``department``  upload export files into the drop zones of its own departments and read what became of them
``finance``     everything of every department that concerns runs and deliveries; start runs; act on
                deliveries (retry, send on paper, mark delivered by hand), each action recorded
``auditor``     read everything (documents, reports, archive, audit trail); change nothing
``admin``       all of the above
==============  ============================================================================================
"""
from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    DEPARTMENT = "department"
    FINANCE = "finance"
    AUDITOR = "auditor"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        """The role as users read it (German)."""
        return ROLE_LABELS[self]


ROLE_LABELS = {Role.DEPARTMENT: "Fachabteilung", Role.FINANCE: "Stadtkasse / Finanzen",
               Role.AUDITOR: "Prüfung (nur lesen)", Role.ADMIN: "Administration"}
