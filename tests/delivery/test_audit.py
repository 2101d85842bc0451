"""The audit trail: the hash chain of delivery events holds, and a row changed, deleted or inserted directly in
SQL is found by ``erechnung audit verify`` (exit 1, the first broken link); ``erechnung status`` shows the
deliveries (``--json``: one object per attempt) and writes the batch's HTML report."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from erechnung.entrypoints.cli import main
from erechnung.delivery.audit import canonical_event, event_hash, verify_chain
from erechnung.delivery.plan import plan_deliveries
from erechnung.delivery.send import deliver_due
from erechnung.state import session_factory, transaction
from erechnung.state import repository as repo

from .fakes import FakeConnector
from .world import DEPARTMENT, add_documents, config, content

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def trail(engine):
    """Two documents sent (one after a temporary failure) and one that fell back to print: 11 events."""
    docs = add_documents(engine, 3)
    sf, cfg = session_factory(engine), config()
    conns = {"email": FakeConnector("email"), "print": FakeConnector("print")}
    plan_deliveries(sf, cfg, now=T0, connectors=conns)
    conns["email"].script[f"erechnung-{docs[1]}-email-1"] = ["temporary"]
    conns["email"].script[f"erechnung-{docs[2]}-email-1"] = ["permanent"]
    deliver_due(sf, conns, T0, config=cfg, content=content)
    deliver_due(sf, conns, T0 + timedelta(hours=1), config=cfg, content=content)
    return docs


def verify(db_url, capsys):
    code = main(["audit", "verify", "--db", db_url])
    return code, capsys.readouterr().out


def events_count(engine):
    with engine.connect() as c:
        return c.execute(text("SELECT count(*) FROM delivery_events")).scalar_one()


def test_intact_chain_verifies(db_url, engine, trail, capsys):
    code, out = verify(db_url, capsys)
    assert code == 0 and out.startswith(f"OK: {events_count(engine)} Zustellereignis(se), Kette unversehrt")


def test_changed_event_row_is_detected(db_url, engine, trail, capsys):
    with engine.begin() as c:
        c.execute(text("UPDATE delivery_events SET reason = 'angenommen von email: <forged>' WHERE seq = 6"))
    code, out = verify(db_url, capsys)
    assert code == 1 and "GEBROCHEN bei Ereignis Nr. 6" in out and "die Zeile wurde geändert" in out


def test_changed_state_in_an_event_is_detected(db_url, engine, trail, capsys):
    with engine.begin() as c:
        c.execute(text("UPDATE delivery_events SET to_state = 'delivered' WHERE seq = 4"))
    code, out = verify(db_url, capsys)
    assert code == 1 and "Ereignis Nr. 4" in out


def test_changed_evidence_is_detected(db_url, engine, trail, capsys):
    with engine.begin() as c:
        seq = c.execute(text("SELECT min(seq) FROM delivery_events WHERE evidence IS NOT NULL")).scalar_one()
        c.execute(text("UPDATE delivery_events SET evidence = :e WHERE seq = :s"), {"e": b"250 forged", "s": seq})
    code, out = verify(db_url, capsys)
    assert code == 1 and f"Ereignis Nr. {seq}" in out and "Nachweisdaten" in out


def test_deleted_event_row_is_detected(db_url, engine, trail, capsys):
    with engine.begin() as c:
        c.execute(text("DELETE FROM delivery_events WHERE seq = 5"))
    code, out = verify(db_url, capsys)
    assert code == 1 and "GEBROCHEN bei Ereignis Nr. 5" in out and "gelöscht" in out


def test_deleted_last_event_is_detected_by_the_head(db_url, engine, trail, capsys):
    with engine.begin() as c:
        c.execute(text("DELETE FROM delivery_events WHERE seq = (SELECT max(seq) FROM delivery_events)"))
    code, out = verify(db_url, capsys)
    assert code == 1 and "das letzte wurde gelöscht" in out


def test_inserted_event_row_is_detected(db_url, engine, trail, capsys):
    """A forger who computes a valid hash for the row they append is still caught by the chain's head."""
    n = events_count(engine)
    with engine.begin() as c:
        prev, delivery_id, document_id = c.execute(text(
            "SELECT hash, delivery_id, document_id FROM delivery_events WHERE seq = :n"), {"n": n}).one()
        at = datetime(2026, 11, 24, tzinfo=timezone.utc)
        canonical = canonical_event(seq=n + 1, delivery_id=delivery_id, document_id=document_id, from_state="sent",
                                    to_state="retrieved", at=at, source="channel", channel_event_id=None,
                                    reason="forged", detail={}, evidence_type=None, evidence_sha256=None)
        c.execute(text("INSERT INTO delivery_events (seq, delivery_id, document_id, from_state, to_state, at, "
                       "source, reason, detail, prev_hash, hash) VALUES (:seq, :d, :doc, 'sent', 'retrieved', :at, "
                       "'channel', 'forged', '{}', :prev, :hash)"),
                  {"seq": n + 1, "d": delivery_id, "doc": document_id,
                   "at": at if engine.dialect.name == "postgresql" else "2026-11-24 00:00:00.000000",
                   "prev": prev, "hash": event_hash(prev, canonical)})
    code, out = verify(db_url, capsys)
    assert code == 1 and "eingefügt" in out


def test_inserted_event_in_the_middle_is_detected(db_url, engine, trail, capsys):
    with engine.begin() as c:
        c.execute(text("UPDATE delivery_events SET seq = seq + 1000 WHERE seq > 3"))  # make room, as a forger would
        c.execute(text("INSERT INTO delivery_events (seq, delivery_id, document_id, from_state, to_state, at, "
                       "source, reason, detail, prev_hash, hash) SELECT 4, delivery_id, document_id, 'sent', "
                       "'retrieved', at, source, 'forged', detail, hash, :h FROM delivery_events WHERE seq = 3"),
                  {"h": hashlib.sha256(b"x").hexdigest()})
    code, out = verify(db_url, capsys)
    assert code == 1 and "GEBROCHEN bei Ereignis Nr. 4" in out


def test_status_json_one_object_per_delivery_attempt(db_url, trail, capsys):
    assert main(["status", "--json", "--db", db_url]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(x["document_id"], x["channel"], x["state"], x["attempts"]) for x in lines] == [
        (trail[0], "email", "sent", 1), (trail[1], "email", "sent", 2), (trail[2], "email", "fell_back", 1),
        (trail[2], "print", "sent", 1)]
    assert [e["to"] for e in lines[1]["events"]] == ["queued", "sending", "queued", "sending", "sent"]
    assert all({"document_id", "channel", "state", "attempts", "events"} <= set(x) for x in lines)
    assert main(["status", "--json", "--document", str(trail[2]), "--db", db_url]) == 0
    assert [json.loads(x)["channel"] for x in capsys.readouterr().out.splitlines()] == ["email", "print"]


def test_status_table_and_batch_html_report(db_url, engine, trail, capsys, tmp_path):
    with transaction(engine) as s:
        claim = repo.claim_batch(s, department=DEPARTMENT, source_key="inbox/kasse.csv", sha256="c" * 64,
                                 worker="w")
        for doc_id in trail:
            s.get(repo.Document, doc_id).batch_id = claim.batch.id
    assert main(["status", "--db", db_url]) == 0
    out = capsys.readouterr().out
    assert "fell_back" in out and "4 Zustellversuch(e)" in out
    page = tmp_path / "report.html"
    assert main(["status", "--batch", str(claim.batch.id), "--html", str(page), "--db", db_url]) == 0
    report = page.read_text(encoding="utf-8")
    assert "RE-2026-000003" in report and "mailbox unknown" in report and "fell_back" in report
    assert "Kette unversehrt" in report and report.count("<table") == 4
    assert main(["status", "--html", str(page), "--db", db_url]) == 2  # --html needs --batch


def test_verify_counts_every_event_in_sequence(engine, trail):
    with transaction(engine) as s:
        report = verify_chain(s)
    assert report.ok and report.events == events_count(engine)


def test_no_database_is_a_usage_error(tmp_path, capsys):
    assert main(["audit", "verify", "--db", f"sqlite:///{tmp_path / 'none.db'}"]) == 2
