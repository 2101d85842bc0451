"""The booking export for the finance system (layout: ``docs/receivables-export.md``): one CSV per Sollstellung
run, UTF-8, ``;``-separated, CRLF, decimal comma, dates ``TT.MM.JJJJ``, a header line, one line per booking and a
final checksum line ``SUMME;<count>;<sum>``. Pure: ``booking_csv`` makes the bytes, ``write_export`` stores them."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from ..model.amounts import de_number

COLUMNS = ("Buchungsart", "Kassenzeichen", "Belegnummer", "Rate", "Fachbereich", "Schuldnernummer", "Schuldner",
           "Betrag", "Faelligkeit", "Empfaengerkonto", "Mandatsreferenz", "Beleg-ID")


@dataclass(frozen=True)
class Booking:
    """One line: ``SOLL`` (a new item), ``MINDERUNG`` (a credit note reduced it: negative amount) or ``AENDERUNG``
    (an Änderungsbescheid changed it: the difference)."""

    kind: str
    kassenzeichen: str
    number: str
    instalment: int
    department: str
    debtor_ref: str
    debtor_name: str
    amount: Decimal
    due_date: date
    account_iban: str
    mandate_id: str | None
    document_id: int


money = de_number  # -1234,50 (no thousands separator)


def _cell(value: str) -> str:
    """No formula injection: a cell starting like a formula gets a leading apostrophe."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def booking_csv(bookings: list[Booking]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(COLUMNS)
    for b in bookings:
        w.writerow((b.kind, _cell(b.kassenzeichen), _cell(b.number), b.instalment, _cell(b.department),
                    _cell(b.debtor_ref), _cell(b.debtor_name), money(b.amount), f"{b.due_date:%d.%m.%Y}",
                    b.account_iban, _cell(b.mandate_id or ""), b.document_id))
    w.writerow(("SUMME", len(bookings), money(sum((b.amount for b in bookings), Decimal("0")))))
    return out.getvalue().encode("utf-8")


def export_name(now: datetime) -> str:
    return f"buchungen-{now:%Y%m%d-%H%M%S-%f}.csv"


def write_export(storage, name: str, data: bytes) -> str:
    """Store the file under ``name`` (never over an existing one); returns the name."""
    storage.put(name, data, if_absent=True)
    return name
