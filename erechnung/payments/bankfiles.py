"""Reading bank files into ``BankFile``: camt.053/camt.054 (.001.02, .001.08) and MT940, told apart by content.

``read_bank_file(data, name)`` is the port the Stadtkasse calls; every problem is a ``BankFileError`` naming the
file, the element or line, what is wrong and how to fix it (in German, for the clerk).
"""
from __future__ import annotations

from pathlib import Path

from ..artifacts import XSD_DIR
from ..model.receivables import BankFile
from .bankfile_common import MAX_BYTES, MAX_ENTRIES, BankFileError, entry_key
from .camt import looks_like_camt, read_camt
from .swift_mt940 import looks_like_mt940, read_mt940

__all__ = ["MAX_BYTES", "MAX_ENTRIES", "BankFileError", "SCHEMA_DIR", "entry_key", "read_bank_file"]

# The ISO 20022 camt XSDs (camt.053.001.02.xsd ...), installed beside the other official schemas.
SCHEMA_DIR = XSD_DIR / "iso20022"


def read_bank_file(data: bytes, name: str, *, schema_dir: Path | None = None) -> BankFile:
    """All booked entries of one bank file (batch bookings split per transaction)."""
    name = (name or "Bankdatei")[:200]
    if not data or not data.strip():
        raise BankFileError("die Datei ist leer", file=name, fix="Den Kontoauszug erneut abrufen.")
    if len(data) > MAX_BYTES:
        raise BankFileError(f"die Datei ist größer als {MAX_BYTES // (1024 * 1024)} MB", file=name,
                            fix="Die Auszüge einzeln (je Tag) abrufen.")
    if looks_like_camt(data):
        fmt, ids, entries = read_camt(data, name, schema_dir=schema_dir or SCHEMA_DIR)
    elif looks_like_mt940(data):
        fmt, ids, entries = read_mt940(data, name)
    else:
        raise BankFileError("weder camt (XML) noch MT940", file=name, where="Dateianfang",
                            fix="Im Online-Banking den Kontoauszug als camt.053 (bevorzugt) oder MT940 abrufen.")
    return BankFile(format=fmt, statements=ids, entries=tuple(entries))
