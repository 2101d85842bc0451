"""`erechnung status --document N` names, for the notification date of a notice, the Land's paragraph that
produced it, the sentence it rests on and its source (stored in ``notification_dates.inputs`` with the date)."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from erechnung.delivery.plan import plan_deliveries
from erechnung.delivery.send import deliver_due
from erechnung.entrypoints.cli import main
from erechnung.state import session_factory, transaction
from erechnung.state.delivery_schema import NotificationDate

from .fakes import FakeConnector
from .world import add_documents, config, content, recipient

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)  # Mon 23 Nov 2026, 10:00 in Berlin


def test_status_of_a_notice_names_the_land_paragraph_and_its_source(db_url, engine, capsys):
    [doc] = add_documents(engine, 1, kind="notice", who=recipient(), prefix="BS-2026-")  # no postbox: by post
    printer = FakeConnector("print")
    printer.now = T0
    cfg = config(land="NW")
    sf = session_factory(engine)
    plan_deliveries(sf, cfg, now=T0, connectors={"print": printer})
    deliver_due(sf, {"print": printer}, T0, config=cfg, content=content)
    with transaction(engine) as s:
        nd = s.execute(select(NotificationDate)).scalar_one()
        # § 41 Abs. 2 VwVfG NRW: posted Mon 23 Nov 2026, the 4th day is Fri 27 Nov
        assert nd.computed_date.isoformat() == "2026-11-27"
        assert "kommunen.nrw" in nd.inputs["citation"] and nd.inputs["title"] == "§ 41 Abs. 2 VwVfG NRW"
        assert nd.rules_sha256 == cfg.rules.sha256 == nd.inputs["rules_sha256"]

    assert main(["status", "--document", str(doc), "--db", db_url]) == 0
    out = capsys.readouterr().out
    assert "Bekanntgabe am 2026-11-27 nach § 41 Abs. 2 VwVfG NRW (Regel Land NW, 4 Tage ab 2026-11-23)" in out
    assert "Grundlage: § 41 Abs. 2 VwVfG NRW: am vierten Tag nach der Aufgabe zur Post" in out
    assert "Quelle: https://kommunen.nrw/" in out
