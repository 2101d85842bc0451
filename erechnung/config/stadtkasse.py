"""The Stadtkasse's section of the configuration (issue 15): where the booking export for the finance system goes.

    [stadtkasse]
    export_location = "var/kasse/export"        # a folder (relative to the configuration) or s3://bucket/prefix
    statements = "var/kasse/kontoauszuege"      # where the bank's files arrive (folder or s3://), read daily
    dunning_department = "mahnwesen"            # the department whose drop zone gets the dunning letters' batch

The export's layout is described in ``docs/receivables-export.md``.
"""
from __future__ import annotations

from pydantic import Field, field_validator

from .locations import Location, parse_location
from .problems import Strict

DEFAULT_EXPORT = "var/kasse/export"
DEFAULT_STATEMENTS = "var/kasse/kontoauszuege"


class StadtkasseSection(Strict):
    export_location: Location = Field(default_factory=lambda: Location(kind="local", path=DEFAULT_EXPORT))
    statements: Location = Field(default_factory=lambda: Location(kind="local", path=DEFAULT_STATEMENTS))
    dunning_department: str = Field(default="mahnwesen", min_length=1, max_length=80)

    _location = field_validator("export_location", "statements", mode="before")(
        lambda v: parse_location(v) if isinstance(v, str) else v)
