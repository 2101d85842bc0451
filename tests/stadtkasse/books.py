"""Helpers for the Stadtkasse's tests: a migrated engine with documents and open items, bank entries and matches
built by hand (the parser and the matcher are other parts; here their results are given)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from erechnung.model.receivables import Allocation, BankEntry, BankFile, Direction, Match, MatchKind, OpenItem
from erechnung.state import receivables as books
from erechnung.state import transaction
from erechnung.state.schema import Document

ACCOUNT = "DE02120300000000202051"


def add_document_with_items(engine, number: str, amounts: list[str], *, kassenzeichen: str | None = None) -> list[int]:
    """A handed-over invoice ``number`` with one item per amount (instalments 1..n when several); the item ids."""
    with transaction(engine) as s:
        doc = Document(idempotency_key=f"test:{number}", department="standesamt", number=number, kind="invoice",
                       format="ubl", state="handed_over")
        s.add(doc)
        s.flush()
        ids = []
        for i, amount in enumerate(amounts, start=1 if len(amounts) > 1 else 0):
            row, _ = books.add_item(s, OpenItem(document_id=doc.id, number=number,
                                                kassenzeichen=kassenzeichen or number, department="standesamt",
                                                debtor_ref="K-1", instalment=i, amount=Decimal(amount),
                                                due_date=date(2026, 12, 1), account_iban=ACCOUNT))
            ids.append(row.id)
        return ids


def entry(key: str, amount: str, *, text: str = "", direction: Direction = Direction.CREDIT,
          reversal: bool = False) -> BankEntry:
    return BankEntry(entry_key=key, account_iban=ACCOUNT, booking_date=date(2026, 12, 2), amount=Decimal(amount),
                     direction=direction, remittance=(text,) if text else (), counterparty_name="Erika Mustermann",
                     reversal=reversal, statement_id="STMT-1")


def reader(files: dict[str, tuple[BankEntry, ...]]):
    """A ``read_bank_file`` that returns the given entries for a file's name."""
    def read(data: bytes, name: str) -> BankFile:
        return BankFile(format="camt.053.001.08", statements=("STMT-1",), entries=files[name])
    return read


def matcher(decisions: dict[str, tuple[MatchKind, dict[int, str]]]):
    """A ``match`` that decides per entry key: the kind and {item id: amount}; records what it was asked."""
    asked: list[list[str]] = []

    def match(entries, items, **_rules):
        asked.append([e.entry_key for e in entries])
        out = []
        for e in entries:
            kind, alloc = decisions.get(e.entry_key, (MatchKind.NONE, {}))
            allocations = () if kind in (MatchKind.SUGGESTION, MatchKind.NONE) else tuple(
                Allocation(item_id=i, amount=Decimal(a)) for i, a in alloc.items())
            booked = sum((abs(a.amount) for a in allocations), Decimal("0"))
            out.append(Match(entry_key=e.entry_key, kind=kind, allocations=allocations,
                             suggested=tuple(alloc) if kind is MatchKind.SUGGESTION else (),
                             unallocated=max(Decimal("0"), e.amount - booked) if kind is not MatchKind.SUGGESTION
                             else e.amount,
                             reason="kein Kassenzeichen im Verwendungszweck" if kind is MatchKind.NONE else ""))
        return out
    match.asked = asked
    return match


def item(engine, item_id: int):
    from erechnung.state.receivables_schema import OpenItemRow

    with transaction(engine) as s:
        return books.to_model(s.get(OpenItemRow, item_id))
