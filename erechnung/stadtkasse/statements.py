"""The bank's files from their drop zone (``[stadtkasse] statements``: a folder or ``s3://``), for the daily
import: every file at the top of the zone is imported on its own (``payments.import_files``: stored once per
entry, matched, booked), then moved to ``eingelesen/``; a file that cannot be read goes to ``abgewiesen/`` with a
``.grund.txt`` beside it saying why, and the others go on. A file read before books nothing twice (entry keys).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from ..config.payments import MatchRules
from ..payments.bankfile_common import BankFileError
from ..storage.base import ObjectTooLargeError
from .payments import ImportReport, PaymentsError, import_files

__all__ = ["DONE", "REFUSED", "StatementsReport", "import_statements"]

DONE, REFUSED = "eingelesen/", "abgewiesen/"
MAX_FILE_BYTES = 64 * 1024 * 1024


@dataclass
class StatementsReport:
    imported: list[tuple[str, ImportReport]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (file, why)

    def lines(self) -> list[str]:
        out = [f"{name}: {report.summary()}" for name, report in self.imported]
        out += [f"{name}: abgewiesen – {why}" for name, why in self.refused]
        return out or ["Keine neuen Kontoauszüge."]


def import_statements(engine: Engine, storage, *, rules: MatchRules | None = None) -> StatementsReport:
    """Import every new bank file of the zone ``storage`` (a ``erechnung.storage.Storage``), each on its own."""
    report = StatementsReport()
    for key in sorted(k for k in storage.list("") if "/" not in k):
        try:
            data = storage.get(key, max_bytes=MAX_FILE_BYTES)
        except ObjectTooLargeError as exc:  # left where it is (not read, so not moved): reported every day
            report.refused.append((key, f"{exc}; eine Bankdatei hat höchstens {MAX_FILE_BYTES // 2**20} MB"))
            continue
        try:
            result = import_files(engine, [(key, data)], rules=rules)
        except (BankFileError, PaymentsError, ValueError) as exc:  # this file alone
            why = str(exc)
            storage.put(f"{REFUSED}{key}.grund.txt", why.encode("utf-8"))
            _move(storage, key, REFUSED + key)
            report.refused.append((key, why))
            continue
        _move(storage, key, DONE + key)
        report.imported.append((key, result))
    return report


def _move(storage, key: str, target: str) -> None:
    storage.put(target, storage.get(key))
    storage.delete(key)
