"""Importing bank files and booking what matched (issue 15).

``import_files(engine, files, now=None, read=..., match=..., rules=None)`` reads each file
(``erechnung.payments.bankfiles.read_bank_file``), stores the entries not stored before (``entry_key`` unique:
a file read twice, or a camt.054 followed by the camt.053 with the same entries, books nothing twice), matches
only the new entries against the open items (``erechnung.payments.matching.match``), books the allocations
(who: ``automatisch``) and puts entries matched with ``none`` or only a ``suggestion`` on the clarification list.
All of one call is one transaction. ``decide`` is a clerk's booking of an entry from that list.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Callable, Sequence

from sqlalchemy import Engine

from ..config.payments import MatchRules
from ..model.receivables import BankEntry, BankFile, ItemState, MatchKind
from ..state import receivables as books
from ..state.db import transaction
from ..state.receivables_schema import OpenItemRow


class PaymentsError(Exception):
    """A clerk's request that cannot be done (German message: what, why, how to fix)."""


@dataclass
class ImportReport:
    files: list[tuple[str, str, int]] = field(default_factory=list)  # (name, format, entries)
    read: int = 0
    new: int = 0
    known: int = 0  # read before: booked nothing again
    booked: int = 0  # entries booked automatically
    booked_amount: Decimal = Decimal("0")
    reversals: int = 0
    clarification: int = 0

    def summary(self) -> str:
        amount = f"{self.booked_amount:.2f}".replace(".", ",")
        return (f"{len(self.files)} Datei(en), {self.read} Umsätze gelesen: {self.new} neu, {self.known} bereits "
                f"eingelesen (nicht erneut gebucht); {self.booked} automatisch zugeordnet ({amount} EUR), "
                f"{self.reversals} Rückbuchung(en), {self.clarification} zur Klärung "
                f"(erechnung payments unmatched).")

    def as_json(self) -> dict:
        return {"files": [{"name": n, "format": f, "entries": c} for n, f, c in self.files], "read": self.read,
                "new": self.new, "known": self.known, "booked": self.booked,
                "booked_amount": str(self.booked_amount), "reversals": self.reversals,
                "clarification": self.clarification}


def _default_read(data: bytes, name: str) -> BankFile:
    from ..payments.bankfiles import read_bank_file

    return read_bank_file(data, name)


def _default_match(entries, items, *, rules):
    from ..payments.matching import match

    return match(entries, items, rules=rules)


def import_files(engine: Engine, files: Sequence[tuple[str, bytes]], *, now: datetime | None = None,
                 read: Callable[[bytes, str], BankFile] = _default_read, match: Callable = _default_match,
                 rules=None) -> ImportReport:
    report = ImportReport()
    entries: list[BankEntry] = []
    for name, data in files:  # read all first: a file that cannot be read stops the import before any booking
        bank_file = read(data, name)
        report.files.append((name, bank_file.format, len(bank_file.entries)))
        entries += [e if e.source else e.model_copy(update={"source": name}) for e in bank_file.entries]
    report.read = len(entries)
    with transaction(engine) as s:
        new = books.store_entries(s, entries, now=now)
        report.new, report.known = len(new), report.read - len(new)
        if not new:
            return report
        items = books.list_items(s, states=[st for st in ItemState if st is not ItemState.WRITTEN_OFF])
        matches = match([e for _, e in new], items, rules=rules if rules is not None else MatchRules())
        rows = {row.entry_key: row for row, _ in new}
        for m in matches:
            row = rows.get(m.entry_key)
            if row is None:
                continue
            books.record_match(s, row, m, now=now)
            if m.kind is MatchKind.REVERSAL:
                report.reversals += 1
            elif m.allocations and not row.open_clarification:
                report.booked += 1
                report.booked_amount += sum((a.amount for a in m.allocations), Decimal("0"))
            if row.open_clarification:
                report.clarification += 1
        unmatched = [row for key, row in rows.items() if row.match_kind is None]
        for row in unmatched:  # the matcher said nothing about it: a person must look
            row.match_kind, row.open_clarification = MatchKind.NONE.value, True
            row.reason = "kein Ergebnis der Zuordnung"
            report.clarification += 1
    return report


def unmatched(engine: Engine) -> list[dict]:
    """The clarification list: entries waiting for a person, oldest first."""
    with transaction(engine) as s:
        out = []
        for row in books.clarification_list(s):
            e = books.entry_model(row)
            out.append({"entry_id": row.id, "entry_key": row.entry_key, "booking_date": row.booking_date.isoformat(),
                        "amount": str(books.euros(row.amount_cents)), "direction": row.direction,
                        "open": str(books.euros(row.unallocated_cents)), "counterparty": e.counterparty_name,
                        "counterparty_iban": e.counterparty_iban, "remittance": " ".join(e.remittance),
                        "kind": row.match_kind, "suggested": row.data.get("suggested", []),
                        "reason": row.reason or "", "source": row.source})
        return out


def clarification_rows(engine: Engine):
    """The clarification list as ``payments.clarification`` renders it (CSV for Excel, HTML): each waiting entry
    with what matching made of it and its candidate items (the suggested ones)."""
    from ..model.receivables import Match
    from ..payments.clarification import clarification_rows as rows_of

    with transaction(engine) as s:
        waiting = books.clarification_list(s)
        entries = [books.entry_model(row) for row in waiting]
        matches = [Match(entry_key=row.entry_key, kind=MatchKind(row.match_kind or MatchKind.NONE),
                         suggested=tuple(int(i) for i in (row.data or {}).get("suggested", [])),
                         unallocated=books.euros(row.unallocated_cents) or books.euros(row.amount_cents),
                         reason=row.reason or "") for row in waiting]
        items = books.list_items(s)
    return rows_of(matches, entries, items)


def decide(engine: Engine, entry_ref: str, item_id: int, *, by: str, note: str | None = None,
           now: datetime | None = None) -> dict:
    """Book an entry on an item by a clerk's decision; returns the item's new figures."""
    with transaction(engine) as s:
        row = books.find_entry(s, entry_ref)
        if row is None:
            raise PaymentsError(f"Umsatz {entry_ref!r} ist nicht eingelesen: geben Sie den Schlüssel oder die Nummer "
                                "aus 'erechnung payments unmatched' an.")
        if s.get(OpenItemRow, item_id) is None:
            raise PaymentsError(f"Offener Posten {item_id} existiert nicht: die Nummern zeigt "
                                "'erechnung receivables --json' (item_id).")
        if not row.open_clarification and row.unallocated_cents == 0:
            raise PaymentsError(f"Umsatz {entry_ref!r} ist bereits vollständig gebucht; eine Umbuchung ist hier nicht "
                                "vorgesehen.")
        item = books.decide(s, row, item_id, by=by, note=note, now=now)
        return item_json(books.to_model(item))


def item_json(item) -> dict:
    return {"item_id": item.item_id, "document_id": item.document_id, "number": item.number,
            "kassenzeichen": item.kassenzeichen, "instalment": item.instalment, "amount": str(item.amount),
            "paid": str(item.paid), "open": str(item.open), "due_date": item.due_date.isoformat(),
            "state": item.state.value}
