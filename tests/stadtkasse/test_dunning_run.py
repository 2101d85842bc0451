"""The dunning run against the books (issue 15): a dry run lists and stores nothing; a run records each stage once
per item and level with the inputs of its fee and surcharge, raises the item's level and puts it in_dunning; the
next run on the same day records nothing again, a later one the next stage. The day is passed in, never today."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from erechnung.model.receivables import ItemState
from erechnung.stadtkasse.dunning import dunning_run
from erechnung.state import make_engine, migrate, transaction
from erechnung.state.receivables_schema import DunningStepRow

from .books import add_document_with_items, item

DUE = date(2026, 12, 1)  # add_document_with_items' due date


@pytest.fixture
def engine(db_url):
    migrate(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _steps(engine) -> int:
    with transaction(engine) as s:
        return s.execute(select(func.count()).select_from(DunningStepRow)).scalar_one()


def test_a_dry_run_lists_what_would_be_dunned_and_stores_nothing(engine):
    [a] = add_document_with_items(engine, "MAHN-1", ["120.00"])
    report = dunning_run(engine, on=date(2026, 12, 20), land="BW", dry_run=True)
    assert [s.item.item_id for s in report.steps] == [a] and report.recorded == 0
    assert "würden gemahnt (Probelauf, nichts gespeichert)" in report.lines()[-1]
    assert _steps(engine) == 0 and item(engine, a).state is ItemState.OPEN


def test_a_run_records_each_stage_once_with_its_inputs_and_puts_the_item_in_dunning(engine):
    [a] = add_document_with_items(engine, "MAHN-2", ["1234.56"])
    first = dunning_run(engine, on=date(2026, 12, 20), land="BW", dry_run=False, by="kasse")
    assert first.recorded == 1 and first.steps[0].level == 1 and first.steps[0].fee == Decimal("0")
    assert item(engine, a).state is ItemState.IN_DUNNING
    again = dunning_run(engine, on=date(2026, 12, 20), land="BW", dry_run=False, by="kasse")
    assert again.steps == [] and again.recorded == 0 and _steps(engine) == 1  # nothing twice on the same day
    later = dunning_run(engine, on=date(2027, 1, 10), land="BW", dry_run=False, by="kasse")
    assert [s.level for s in later.steps] == [2] and later.steps[0].fee > 0  # the 1. Mahnung costs a fee
    with transaction(engine) as s:
        rows = s.execute(select(DunningStepRow).order_by(DunningStepRow.level)).scalars().all()
        assert [(r.level, r.created_by) for r in rows] == [(1, "kasse"), (2, "kasse")]
        assert rows[1].inputs["fee_rule"] and rows[1].inputs["on"] == "2027-01-10" and rows[1].inputs["open"]
