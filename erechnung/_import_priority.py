"""Make ``import validators`` (and our other top-level names) find this project's packages.

PyPI has popular distributions called ``validators`` and ``erechnung``; when one of them is installed in the
same environment, plain ``sys.path`` order would let it shadow ours. A ``.pth`` file in site-packages imports
this module at interpreter start, and it puts a finder at the *front* of ``sys.meta_path`` that resolves our
four top-level names to the directory that holds our ``erechnung`` package (recognised by its marker file),
whatever else is installed.
"""
from __future__ import annotations

import importlib.machinery
import os
import sys

NAMES = ("erechnung", "validators", "mailbox_connectors", "flows")
MARKER = os.path.join("erechnung", "_DISTRIBUTION_ERECHNUNG_KOMMUNE")


class _OwnPackagesFirst:
    """Meta-path finder for our top-level packages only; everything else falls through."""

    def __init__(self) -> None:
        self._root: str | None = None

    def _find_root(self) -> str | None:
        if self._root is None:
            for entry in sys.path:
                if entry and os.path.exists(os.path.join(entry, MARKER)):
                    self._root = entry
                    break
        return self._root

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in NAMES:
            return None
        root = self._find_root()
        if root is None:
            return None
        return importlib.machinery.PathFinder.find_spec(fullname, [root])


if not any(type(f).__name__ == "_OwnPackagesFirst" for f in sys.meta_path):
    sys.meta_path.insert(0, _OwnPackagesFirst())
