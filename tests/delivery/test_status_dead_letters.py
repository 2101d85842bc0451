"""`erechnung status --json` lists every dead letter, also one that never had a delivery attempt (a document no
channel can deliver goes straight to ``dead_letters`` with no ``deliveries`` row): finance must see it with its
reason, document and department (issue 10, smaller finding 2)."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from erechnung.entrypoints.cli import main
from erechnung.delivery.plan import plan_deliveries
from erechnung.state import session_factory

from .fakes import FakeConnector
from .world import DEPARTMENT, add_documents, config, recipient

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def test_status_json_lists_a_dead_letter_without_any_delivery_attempt(db_url, engine, capsys):
    [sent] = add_documents(engine, 1)  # e-mail consent: one planned delivery
    [stuck] = add_documents(engine, 1, who=recipient("K-2"))  # no e-mail, no print connector: no channel at all
    result = plan_deliveries(session_factory(engine), config(), now=T0,
                             connectors={"email": FakeConnector("email")})
    assert result.dead == [stuck]

    assert main(["status", "--json", "--db", db_url]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["document_id"] for x in lines] == [sent, stuck]
    [dead] = [x for x in lines if x["document_id"] == stuck]
    assert dead["state"] == "dead_letter" and dead["department"] == DEPARTMENT
    assert dead["document_number"] and dead["recipient_ref"] == "K-2"
    assert "für print ist kein Connector konfiguriert" in dead["dead_letter"]
    assert dead["delivery_id"] is None and dead["channel"] is None and dead["events"] == []
    assert set(lines[0]) <= set(dead), "the same keys as an attempt's record, so a reader needs no second shape"

    assert main(["status", "--json", "--document", str(stuck), "--db", db_url]) == 0
    [only] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert only["document_id"] == stuck and only["dead_letter"] == dead["dead_letter"]
