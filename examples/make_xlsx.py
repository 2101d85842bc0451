"""Write ``batches/steueramt/2026-01_hundesteuer.xlsx``: the Steueramt's dog tax list as its Excel export looks
(one row per dog, dates and numbers as real Excel cells). Run: ``.venv/bin/python examples/make_xlsx.py``.
All data fictitious."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from openpyxl import Workbook

OUT = Path(__file__).resolve().parent / "batches" / "steueramt" / "2026-01_hundesteuer.xlsx"
HEADER = ("Kassenzeichen", "Kundennummer", "Aktenzeichen", "Bescheiddatum", "Jahr", "Hund", "Gefährlich", "Monate")
ROWS = [
    ("5.0200.100001.7", "K-10001", "22.1-HSt-0042", datetime(2026, 1, 12), 2026, "Bello", "nein", 12),
    ("5.0200.100001.7", "K-10001", "22.1-HSt-0042", datetime(2026, 1, 12), 2026, "Luna", "nein", 12),
    ("5.0200.100003.3", "K-10003", "22.1-HSt-0043", datetime(2026, 1, 12), 2026, "Karabaş", "nein", 9),
    ("5.0200.100004.0", "K-10004", "22.1-HSt-0044", datetime(2026, 1, 12), 2026, "Rex", "ja", 12),
    ("5.0200.100002.5", "K-10002", "22.1-HSt-0045", datetime(2026, 1, 12), 2026, "Wuschel", "nein", 12),
]


def main() -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = "Hundesteuer 2026"
    sheet.append(HEADER)
    for row in ROWS:
        sheet.append(row)
    for cell in sheet["D"][1:]:
        cell.number_format = "DD.MM.YYYY"
    book.properties.creator = "Steueramt Musterstadt"
    book.properties.created = book.properties.modified = datetime(2026, 1, 12, 8, 0)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    book.save(OUT)
    return OUT


if __name__ == "__main__":
    print(main())
