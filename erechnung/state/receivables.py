"""The Stadtkasse's books in the state database (tables in ``receivables_schema``): open items, bank entries,
allocations and clarification decisions. Each function works in the caller's session (one transaction); amounts
go in and out as ``Decimal`` euro and are kept as cents.

An item's state follows from amount and paid (``state_of``), except ``written_off`` (set by a person) and
``in_dunning`` (an unpaid item with a dunning level).
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..model.receivables import BankEntry, ItemState, Match, MatchKind, OpenItem
from .receivables_schema import AllocationRow, BankEntryRow, ClarificationDecision, OpenItemRow, PostedDocument

AUTOMATIC = "automatisch"  # who booked what matching booked


def cents(amount: Decimal) -> int:
    return int((Decimal(amount) * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def euros(value: int) -> Decimal:
    return (Decimal(value) / 100).quantize(Decimal("0.01"))


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)


def state_of(amount_cents: int, paid_cents: int, *, current: str = ItemState.OPEN, dunning_level: int = 0) -> ItemState:
    """The state an item's amounts give (``written_off`` stays)."""
    if current == ItemState.WRITTEN_OFF:
        return ItemState.WRITTEN_OFF
    if paid_cents > amount_cents:
        return ItemState.OVERPAID
    if paid_cents == amount_cents:
        return ItemState.PAID
    if dunning_level > 0:
        return ItemState.IN_DUNNING
    return ItemState.PARTIALLY_PAID if paid_cents > 0 else ItemState.OPEN


def restate(row: OpenItemRow) -> None:
    row.state = state_of(row.amount_cents, row.paid_cents, current=row.state, dunning_level=row.dunning_level).value


def to_model(row: OpenItemRow) -> OpenItem:
    return OpenItem(item_id=row.id, document_id=row.document_id, number=row.number, kassenzeichen=row.kassenzeichen,
                    department=row.department, debtor_ref=row.debtor_ref, debtor_name=row.debtor_name,
                    debtor_iban=row.debtor_iban, instalment=row.instalment, amount=euros(row.amount_cents),
                    paid=euros(row.paid_cents), due_date=row.due_date, account_iban=row.account_iban,
                    mandate_id=row.mandate_id, disputed=row.disputed, deferred_until=row.deferred_until,
                    taxes_or_levies=row.taxes_or_levies, state=ItemState(row.state))


# ============================================================================================ items


def add_item(session: Session, item: OpenItem) -> tuple[OpenItemRow, bool]:
    """Store an item once per (document, instalment); returns the row and whether it is new."""
    row = session.execute(select(OpenItemRow).where(OpenItemRow.document_id == item.document_id,
                                                    OpenItemRow.instalment == item.instalment)).scalar_one_or_none()
    if row is not None:
        return row, False
    row = OpenItemRow(document_id=item.document_id, number=item.number, kassenzeichen=item.kassenzeichen,
                      department=item.department, debtor_ref=item.debtor_ref, debtor_name=item.debtor_name,
                      debtor_iban=item.debtor_iban, instalment=item.instalment, amount_cents=cents(item.amount),
                      paid_cents=cents(item.paid), due_date=item.due_date, account_iban=item.account_iban,
                      mandate_id=item.mandate_id, disputed=item.disputed, deferred_until=item.deferred_until,
                      taxes_or_levies=item.taxes_or_levies, state=item.state.value, dunning_level=0)
    restate(row)
    session.add(row)
    session.flush()
    return row, True


def items_of_number(session: Session, department: str, number: str) -> list[OpenItemRow]:
    """The items of the document numbered ``number`` in ``department``, by instalment."""
    return list(session.execute(select(OpenItemRow).where(OpenItemRow.department == department,
                                                          OpenItemRow.number == number)
                                .order_by(OpenItemRow.instalment)).scalars())


def list_items(session: Session, *, states: Iterable[ItemState] | None = None) -> list[OpenItem]:
    q = select(OpenItemRow).order_by(OpenItemRow.id)
    if states is not None:
        q = q.where(OpenItemRow.state.in_([s.value for s in states]))
    return [to_model(r) for r in session.execute(q).scalars()]


def is_posted(session: Session, document_id: int) -> bool:
    return session.get(PostedDocument, document_id) is not None


def mark_posted(session: Session, document_id: int, effect: str, *, target: int | None = None,
                amount_cents: int = 0, export_name: str | None = None, now: datetime | None = None) -> None:
    session.add(PostedDocument(document_id=document_id, effect=effect, target_document_id=target,
                               amount_cents=amount_cents, export_name=export_name, posted_at=_now(now)))
    session.flush()


# ============================================================================================ bank entries


def store_entries(session: Session, entries: Sequence[BankEntry], *, now: datetime | None = None
                  ) -> list[tuple[BankEntryRow, BankEntry]]:
    """Store the entries not stored before (by ``entry_key``); returns the new ones. An entry another process
    stores at the same moment is left to it (the unique key decides)."""
    out: list[tuple[BankEntryRow, BankEntry]] = []
    seen: set[str] = set()
    for entry in entries:
        if entry.entry_key in seen:
            continue
        seen.add(entry.entry_key)
        if session.execute(select(BankEntryRow.id).where(BankEntryRow.entry_key == entry.entry_key)).first():
            continue
        row = BankEntryRow(entry_key=entry.entry_key, account_iban=entry.account_iban,
                           booking_date=entry.booking_date, amount_cents=cents(entry.amount),
                           direction=entry.direction.value, source=entry.source[:500],
                           statement_id=entry.statement_id[:200], data={"entry": entry.model_dump(mode="json")},
                           unallocated_cents=cents(entry.amount), open_clarification=False, imported_at=_now(now))
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            continue
        out.append((row, entry))
    return out


def entry_model(row: BankEntryRow) -> BankEntry:
    return BankEntry.model_validate(row.data["entry"])


def find_entry(session: Session, ref: str) -> BankEntryRow | None:
    """An entry by its key, else by its id."""
    row = session.execute(select(BankEntryRow).where(BankEntryRow.entry_key == ref)).scalar_one_or_none()
    if row is None and ref.isdigit():
        row = session.get(BankEntryRow, int(ref))
    return row


def book(session: Session, entry: BankEntryRow, item_id: int, amount: Decimal, kind: str, *, by: str,
         now: datetime | None = None) -> OpenItemRow:
    """Book ``amount`` of ``entry`` on the item (negative: a reversal takes a payment back)."""
    item = session.get(OpenItemRow, item_id, with_for_update=True)
    if item is None:
        raise LookupError(f"no open item {item_id}")
    value = cents(amount)
    session.add(AllocationRow(entry_id=entry.id, item_id=item.id, amount_cents=value, kind=kind,
                              booked_at=_now(now), booked_by=by))
    item.paid_cents += value
    item.updated_at = _now(now)
    restate(item)
    entry.unallocated_cents = max(0, entry.unallocated_cents - abs(value))
    session.flush()
    return item


def record_match(session: Session, entry: BankEntryRow, match: Match, *, now: datetime | None = None) -> None:
    """Book what matching found for a new entry; NONE and SUGGESTION go to the clarification list (and book
    nothing, whatever allocations they carry)."""
    waits = match.kind in (MatchKind.NONE, MatchKind.SUGGESTION)
    for allocation in () if waits else match.allocations:
        book(session, entry, allocation.item_id, allocation.amount, match.kind.value, by=AUTOMATIC, now=now)
    entry.match_kind = match.kind.value
    entry.reason = match.reason or None
    entry.data = {**entry.data, "suggested": list(match.suggested)}
    entry.open_clarification = waits
    if match.allocations and not waits:
        entry.unallocated_cents = cents(match.unallocated)
    session.flush()


def clarification_list(session: Session) -> list[BankEntryRow]:
    return list(session.execute(select(BankEntryRow).where(BankEntryRow.open_clarification.is_(True))
                                .order_by(BankEntryRow.booking_date, BankEntryRow.id)).scalars())


def decide(session: Session, entry: BankEntryRow, item_id: int, *, by: str, note: str | None = None,
           amount: Decimal | None = None, now: datetime | None = None) -> OpenItemRow:
    """A clerk books an entry (what is left of it, or ``amount``) on an item; the decision is recorded."""
    value = amount if amount is not None else euros(entry.unallocated_cents or entry.amount_cents)
    if entry.direction == "DBIT":
        value = -value
    item = book(session, entry, item_id, value, "manual", by=by, now=now)
    session.add(ClarificationDecision(entry_id=entry.id, item_id=item_id, decided_by=by, decided_at=_now(now),
                                      decision="booked", note=note))
    entry.open_clarification = False
    session.flush()
    return item


def decisions_of(session: Session, entry_id: int) -> list[ClarificationDecision]:
    return list(session.execute(select(ClarificationDecision).where(ClarificationDecision.entry_id == entry_id)
                                .order_by(ClarificationDecision.id)).scalars())
