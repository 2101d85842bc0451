"""Booking bank entries on open items: states follow the money (partially paid, paid, overpaid), a returned
direct debit reopens the item, the same entries imported twice book nothing twice (SQLite and PostgreSQL), what
matching could not book waits on the clarification list until a clerk decides."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from erechnung.model.receivables import Direction, ItemState, MatchKind
from erechnung.stadtkasse.payments import PaymentsError, decide, import_files, unmatched
from erechnung.state import make_engine, migrate, transaction
from erechnung.state.receivables_schema import AllocationRow, BankEntryRow, ClarificationDecision

from .books import add_document_with_items, entry, item, matcher, reader

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def engine(db_url):
    migrate(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def test_states_follow_the_money(engine):
    [a] = add_document_with_items(engine, "STA-1", ["100.00"])
    [b] = add_document_with_items(engine, "STA-2", ["50.00"])
    [c] = add_document_with_items(engine, "STA-3", ["20.00"])
    files = {"tag1.xml": (entry("E1", "40.00", text="STA-1"), entry("E2", "50.00", text="STA-2"),
                          entry("E3", "25.00", text="STA-3"))}
    match = matcher({"E1": (MatchKind.REFERENCE, {a: "40.00"}), "E2": (MatchKind.REFERENCE, {b: "50.00"}),
                     "E3": (MatchKind.REFERENCE, {c: "25.00"})})
    report = import_files(engine, [("tag1.xml", b"")], read=reader(files), match=match, now=NOW)
    assert (report.read, report.new, report.booked, report.booked_amount) == (3, 3, 3, Decimal("115.00"))
    assert (item(engine, a).state, item(engine, a).open) == (ItemState.PARTIALLY_PAID, Decimal("60.00"))
    assert item(engine, b).state is ItemState.PAID
    assert (item(engine, c).state, item(engine, c).open) == (ItemState.OVERPAID, Decimal("-5.00"))
    with transaction(engine) as s:
        rows = s.execute(select(AllocationRow).order_by(AllocationRow.id)).scalars().all()
    assert [(r.kind, r.booked_by, r.booked_at) for r in rows] == [("reference", "automatisch", NOW)] * 3


def test_a_returned_direct_debit_reopens_the_item(engine):
    [a] = add_document_with_items(engine, "STA-4", ["80.00"])
    import_files(engine, [("f1", b"")], read=reader({"f1": (entry("DD-1", "80.00"),)}),
                 match=matcher({"DD-1": (MatchKind.END_TO_END, {a: "80.00"})}))
    assert item(engine, a).state is ItemState.PAID
    back = entry("RET-1", "80.00", direction=Direction.DEBIT, reversal=True)
    report = import_files(engine, [("f2", b"")], read=reader({"f2": (back,)}),
                          match=matcher({"RET-1": (MatchKind.REVERSAL, {a: "-80.00"})}))
    assert report.reversals == 1 and report.clarification == 0
    assert (item(engine, a).state, item(engine, a).paid) == (ItemState.OPEN, Decimal("0.00"))


def test_the_same_entries_imported_twice_book_nothing_twice(engine):
    [a] = add_document_with_items(engine, "STA-5", ["30.00"])
    same = (entry("ACSR-77", "30.00", text="STA-5"),)
    match = matcher({"ACSR-77": (MatchKind.REFERENCE, {a: "30.00"})})
    files = {"camt054.xml": same, "camt053.xml": same + same}  # the day's camt.053 repeats the camt.054's entry
    first = import_files(engine, [("camt054.xml", b"")], read=reader(files), match=match)
    second = import_files(engine, [("camt053.xml", b"")], read=reader(files), match=match)
    third = import_files(engine, [("camt054.xml", b"")], read=reader(files), match=match)
    assert (first.new, second.new, second.known, third.new) == (1, 0, 2, 0)
    assert match.asked == [["ACSR-77"]]  # only new entries are matched
    assert item(engine, a).paid == Decimal("30.00") and item(engine, a).state is ItemState.PAID
    with transaction(engine) as s:
        assert s.scalar(select(func.count()).select_from(BankEntryRow)) == 1
        assert s.scalar(select(func.count()).select_from(AllocationRow)) == 1
        assert s.execute(select(BankEntryRow.source)).scalar_one() == "camt054.xml"


def test_unmatched_entries_wait_for_a_clerk(engine):
    [a] = add_document_with_items(engine, "STA-6", ["45.00"])
    files = {"f": (entry("N-1", "45.00", text="Gebuehr Urkunde"), entry("S-1", "45.00", text="Mustermann"))}
    import_files(engine, [("f", b"")], read=reader(files),
                 match=matcher({"S-1": (MatchKind.SUGGESTION, {a: "45.00"})}))
    waiting = unmatched(engine)
    assert [(w["entry_key"], w["kind"], w["suggested"], w["open"]) for w in waiting] == [
        ("N-1", "none", [], "45.00"), ("S-1", "suggestion", [a], "45.00")]
    assert item(engine, a).state is ItemState.OPEN  # a suggestion is never booked by itself

    result = decide(engine, "S-1", a, by="kasse.meier", note="Name und Betrag passen", now=NOW)
    assert result["state"] == "paid" and result["open"] == "0.00"
    assert [w["entry_key"] for w in unmatched(engine)] == ["N-1"]
    with transaction(engine) as s:
        [d] = s.execute(select(ClarificationDecision)).scalars().all()
        alloc = s.execute(select(AllocationRow)).scalar_one()
    assert (d.decided_by, d.decided_at, d.item_id, d.note, d.decision) == (
        "kasse.meier", NOW, a, "Name und Betrag passen", "booked")
    assert (alloc.kind, alloc.booked_by, alloc.amount_cents) == ("manual", "kasse.meier", 4500)
    with pytest.raises(PaymentsError, match="bereits vollständig gebucht"):
        decide(engine, "S-1", a, by="kasse.meier")
    with pytest.raises(PaymentsError, match="nicht eingelesen"):
        decide(engine, "GIBTESNICHT", a, by="kasse.meier")
