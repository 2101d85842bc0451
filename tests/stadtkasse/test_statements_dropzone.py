"""The daily import from the bank's drop zone: each file on its own; a good one is booked and moved to
eingelesen/, a broken one goes to abgewiesen/ with its reason beside it while the others go on; the same file
dropped again books nothing twice."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from erechnung.model.receivables import ItemState
from erechnung.payments.demo_statement import DemoPayment, demo_camt053
from erechnung.stadtkasse.statements import import_statements
from erechnung.state import make_engine, migrate
from erechnung.storage import open_storage

from .books import ACCOUNT, add_document_with_items, item


@pytest.fixture
def engine(db_url):
    migrate(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _statement(amount: str, text: str, statement_id: str) -> bytes:
    return demo_camt053([DemoPayment(Decimal(amount), "Anna Muster", "DE89370400440532013000", text)],
                        account_iban=ACCOUNT, booking_date=date(2026, 12, 4),
                        created=datetime(2026, 12, 4, 18, tzinfo=timezone.utc), statement_id=statement_id)


def test_each_file_alone_good_ones_booked_broken_ones_set_aside_with_the_reason(engine, tmp_path):
    [a] = add_document_with_items(engine, "KA-2026-00017", ["30.00"])
    zone = open_storage(tmp_path / "kontoauszuege")
    zone.put("tag1.xml", _statement("30.00", "Kassenzeichen KA-2026-00017", "S1"))
    zone.put("kaputt.xml", b"<Document>nicht camt</Document>")
    report = import_statements(engine, zone)
    assert [name for name, _ in report.imported] == ["tag1.xml"] and item(engine, a).state is ItemState.PAID
    assert [name for name, _ in report.refused] == ["kaputt.xml"]
    assert sorted(zone.list("")) == ["abgewiesen/kaputt.xml", "abgewiesen/kaputt.xml.grund.txt",
                                     "eingelesen/tag1.xml"]
    assert "camt" in zone.get("abgewiesen/kaputt.xml.grund.txt").decode("utf-8")
    zone.put("tag1-nochmal.xml", zone.get("eingelesen/tag1.xml"))  # the bank sends the same statement again
    again = import_statements(engine, zone)
    assert again.imported[0][1].known == 1 and again.imported[0][1].booked == 0
    assert item(engine, a).paid == Decimal("30.00")
