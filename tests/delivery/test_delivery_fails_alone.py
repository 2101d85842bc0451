"""A delivery's trouble stays with that delivery (issue 10), on SQLite and PostgreSQL:

* a failure while recording an outcome (here: the legal rules changed and no longer know the notice's basis)
  becomes a failure of that delivery - an event with the reason, retried, then failed and handed on - and
  never leaves it ``sending``, while the other deliveries are recorded;
* a Land stored by a version that did not check the configuration (``XX``) does not poison the delivery: the
  configured Land applies and the claim's event says so;
* a claim held by a dead process of this host (a real worker process, killed with SIGKILL) is taken over at
  once, not after its lease; a live holder's claim is not.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select, update

from erechnung.delivery.audit import verify_chain
from erechnung.delivery.notification import DEFAULT_RULES, LegalRules
from erechnung.delivery.plan import plan_deliveries
from erechnung.delivery.send import claim_due, deliver_due
from erechnung.state import session_factory, transaction
from erechnung.state.delivery_schema import Delivery, DeliveryEvent, NotificationDate
from mailbox_connectors.base import NoticeHandling

from .fakes import FakeConnector
from .world import UUID, add_documents, config, content, recipient

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)  # a Monday
ROOT = Path(__file__).resolve().parents[2]


def _connectors():
    conns = {n: FakeConnector(n) for n in ("bundid", "print", "email")}
    conns["email"] = FakeConnector("email", notices=NoticeHandling.NOTIFY_ONLY)
    for c in conns.values():
        c.now = T0
    return conns


def _notice_and_invoice(engine):
    who = recipient(bundid_postbox=UUID, email="anna@example.org",
                    consents=frozenset({"notice_retrieval", "email_invoices"}))
    [notice] = add_documents(engine, 1, kind="notice", who=who, prefix="BS-2026-")
    [invoice] = add_documents(engine, 1, who=who)
    return notice, invoice


def _rules_without_ozg_9() -> LegalRules:
    """legal.toml as a later version might have it: § 9 OZG gone, postbox notices under § 41 Abs. 2a VwVfG."""
    kept, dropped = [], False
    for line in DEFAULT_RULES.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith("["):  # the rule and its Land entries
            dropped = line.startswith(("[rules.ozg_9]", "[rules.ozg_9."))
        if not dropped:
            kept.append(line)
    return LegalRules.from_text("".join(kept).replace('bundid = "ozg_9"', 'bundid = "vwvfg_41_2a"'),
                                "legal-neu.toml")


def _by_key(engine):
    with transaction(engine) as s:
        return {d.document_id: (d.state, d.channel, d.attempts, d.last_error)
                for d in s.execute(select(Delivery).order_by(Delivery.id)).scalars()}


def _events(engine, document_id):
    with transaction(engine) as s:
        return [(e.from_state, e.to_state, e.reason, e.detail) for e in s.execute(
            select(DeliveryEvent).where(DeliveryEvent.document_id == document_id).order_by(DeliveryEvent.seq)
        ).scalars()]


def test_a_failure_while_recording_is_a_failure_of_that_delivery_and_nothing_stays_sending(engine):
    notice, invoice = _notice_and_invoice(engine)
    sf, conns = session_factory(engine), _connectors()
    plan_deliveries(sf, config(), now=T0, connectors=conns)  # the notice under ozg_9
    cfg = config(rules=_rules_without_ozg_9())  # ... which the rules of the send no longer know
    summary = deliver_due(sf, conns, T0, config=cfg, content=content)
    states = _by_key(engine)
    assert states[invoice][0] == "sent" and len(summary.sent) == 1 and len(summary.retried) == 1
    state, channel, attempts, error = states[notice]
    assert (state, channel, attempts) == ("queued", "bundid", 1)
    assert "LegalRuleError" in error and "ozg_9" in error
    moves = _events(engine, notice)
    assert moves[-1][:2] == ("sending", "queued")
    assert "das Ergebnis (Receipt) konnte nicht gespeichert werden" in moves[-1][2]
    assert moves[-1][3]["code"] == "recording-failed"
    # tried again with the same key until max_attempts (3), then failed and handed to the next channel
    for hours in (1, 2, 4, 8):
        deliver_due(sf, conns, T0 + timedelta(hours=hours), config=cfg, content=content)
    with transaction(engine) as s:
        rows = list(s.execute(select(Delivery).where(Delivery.document_id == notice).order_by(Delivery.sequence))
                    .scalars())
        assert [(d.channel, d.state) for d in rows][:2] == [("bundid", "fell_back"), ("print", "sent")]
        assert "3 Versuche gescheitert" in rows[0].last_error
        assert not s.execute(select(Delivery).where(Delivery.state == "sending")).first()
        assert verify_chain(s).ok
    assert conns["bundid"].calls[rows[0].idempotency_key] == 3  # always the same key


def test_a_stored_land_that_is_no_land_code_gives_way_to_the_configured_one(engine):
    notice, _ = _notice_and_invoice(engine)
    sf, conns = session_factory(engine), _connectors()
    plan_deliveries(sf, config(), now=T0, connectors=conns)
    with transaction(engine) as s:  # as an earlier version stored land = "XX" from an unchecked configuration
        s.execute(update(Delivery).values(land="XX"))
    deliver_due(sf, conns, T0, config=config(land="NW"), content=content)
    with transaction(engine) as s:
        d = s.execute(select(Delivery).where(Delivery.document_id == notice)).scalar_one()
        assert (d.state, d.land) == ("sent", "NW")
        claim = s.execute(select(DeliveryEvent).where(DeliveryEvent.delivery_id == d.id,
                                                      DeliveryEvent.to_state == "sending")).scalar_one()
        assert claim.detail["land"] == {"stored": "XX", "now": "NW"} and "'XX' ist kein Länderkürzel" in claim.reason
    conns["bundid"].report(d.idempotency_key, "delivered", T0 + timedelta(minutes=1))
    from erechnung.delivery.track import track

    track(sf, conns, T0 + timedelta(hours=1), config=config(land="NW"))
    with transaction(engine) as s:
        nd = s.execute(select(NotificationDate)).scalar_one()
        assert (nd.land, nd.calendar, nd.computed_date) == ("NW", "DE-NW", date(2026, 11, 26))


CLAIMER = """
import json, sys, time
from datetime import datetime
from erechnung.delivery.config import DeliveryConfig
from erechnung.delivery.send import claim_due
from erechnung.state import make_engine, session_factory
sf = session_factory(make_engine(sys.argv[1]))
ids = claim_due(sf, ["email"], datetime.fromisoformat(sys.argv[2]), DeliveryConfig(land="NW"))
print(json.dumps(ids), flush=True)
time.sleep(600)
"""


def test_a_claim_of_a_killed_worker_process_is_taken_over_at_once(db_url, engine):
    add_documents(engine, 2)
    sf, conns = session_factory(engine), _connectors()
    plan_deliveries(sf, config(), now=T0, connectors=conns)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    worker = subprocess.Popen([sys.executable, "-c", CLAIMER, db_url, T0.isoformat()], stdout=subprocess.PIPE,
                              text=True, env=env)
    try:
        claimed = json.loads(worker.stdout.readline())
        assert len(claimed) == 2
        soon = T0 + timedelta(seconds=30)  # the worker's lease (5 minutes) is still live
        assert claim_due(sf, ["email"], soon, config(worker="me:1:x")) == []  # a live holder keeps its claims
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    assert sorted(claim_due(sf, ["email"], soon, config())) == sorted(claimed)
    with transaction(engine) as s:
        taken = s.execute(select(DeliveryEvent).where(DeliveryEvent.from_state == "sending",
                                                      DeliveryEvent.to_state == "sending")).scalars().all()
        assert len(taken) == 2 and all("Prozess des vorigen Workers läuft nicht mehr" in e.reason for e in taken)
        assert {e.detail["previous_worker"].split(":")[1] for e in taken} == {str(worker.pid)}
