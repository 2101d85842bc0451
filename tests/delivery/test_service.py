"""The delivery service on SQLite and PostgreSQL: planning, sending, retries with backoff, fallback to the
next channel, dead letters, status events, retrieval deadlines and notification dates.

The connectors are in-memory fakes of our own interface (mailbox_connectors.base): what is tested here is the
service's bookkeeping, which the real channels (tested by their own helpers against their sandboxes) add
nothing to; tests/delivery/test_guarantees.py sends through the real SMTP sandbox."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select

from erechnung.delivery.audit import verify_chain
from erechnung.delivery.notification import DEFAULT_RULES, LegalRules
from erechnung.delivery.config import RetryPolicy
from erechnung.delivery.content import channel_delivery
from erechnung.delivery.plan import plan_deliveries
from erechnung.delivery.send import SendSummary, _record, claim_due, deliver_due
from erechnung.delivery.track import track
from erechnung.state.deliveries.dead_letters import dead_letters
from erechnung.state import session_factory, transaction
from erechnung.state.delivery_schema import Delivery, DeliveryEvent, NotificationDate
from erechnung.state.schema import Document
from mailbox_connectors.base import NoticeHandling

from .fakes import FakeConnector, FileSink
from .world import UUID, add_documents, config, content, recipient

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)  # a Monday
BERLIN = ZoneInfo("Europe/Berlin")


def connectors(*names, **kw):
    """Fakes whose receipts carry the test's clock (T0), never the wall clock: a receipt of today would put the
    deliveries' ``sent_at`` after the events the test reports at T0, and tracking would skip those events."""
    fakes = {n: FakeConnector(n, **kw) for n in names}
    for fake in fakes.values():
        fake.now = T0
    return fakes


def deliveries(engine, document_id=None):
    with transaction(engine) as s:
        q = select(Delivery).order_by(Delivery.document_id, Delivery.sequence)
        if document_id is not None:
            q = q.where(Delivery.document_id == document_id)
        return list(s.execute(q).scalars())


def transitions(engine, delivery_id):
    with transaction(engine) as s:
        return [(e.from_state, e.to_state) for e in s.execute(
            select(DeliveryEvent).where(DeliveryEvent.delivery_id == delivery_id).order_by(DeliveryEvent.seq)
        ).scalars()]


def test_invoice_by_email_is_planned_once_and_sent_once_with_its_receipt(engine):
    docs = add_documents(engine, 3)
    sf, cfg, conns = session_factory(engine), config(), connectors("email", "print")
    first = plan_deliveries(sf, cfg, now=T0, connectors=conns)
    again = plan_deliveries(sf, cfg, now=T0, connectors=conns)
    assert len(first.planned) == 3 and again.planned == [] and again.dead == []
    summary = deliver_due(sf, conns, T0, config=cfg, content=content)
    assert len(summary.sent) == 3
    assert sorted(conns["email"].calls.values()) == [1, 1, 1] and not conns["print"].calls
    rows = deliveries(engine)
    assert [(r.document_id, r.channel, r.state, r.attempts) for r in rows] == [(d, "email", "sent", 1) for d in docs]
    assert rows[0].idempotency_key == f"erechnung-{docs[0]}-email-1"
    assert rows[0].channel_message_id == f"<erechnung-{docs[0]}-email-1@fake>"
    assert transitions(engine, rows[0].id) == [(None, "queued"), ("queued", "sending"), ("sending", "sent")]
    with transaction(engine) as s:
        sent = s.execute(select(DeliveryEvent).where(DeliveryEvent.to_state == "sent")).scalars().first()
        assert sent.evidence.startswith(b"250 OK") and sent.evidence_type == "text/plain"
        assert verify_chain(s).ok
    assert deliver_due(sf, conns, T0 + timedelta(hours=1), config=cfg, content=content).sent == []


def test_temporary_failure_backs_off_exponentially_with_jitter_then_succeeds(engine):
    [doc] = add_documents(engine, 1)
    sf = session_factory(engine)
    cfg = config(retry=RetryPolicy(base=timedelta(minutes=1), cap=timedelta(minutes=3), max_attempts=5, jitter=0.5))
    conns = connectors("email", "print")
    plan_deliveries(sf, cfg, now=T0, connectors=conns)
    key = f"erechnung-{doc}-email-1"
    conns["email"].script[key] = ["temporary", "temporary", "temporary"]
    rng = random.Random(7)
    now, waits = T0, []
    for _ in range(3):
        summary = deliver_due(sf, conns, now, config=cfg, content=content, rng=rng)
        assert summary.retried and not summary.sent
        [d] = deliveries(engine)
        wait = d.next_attempt_at - now
        waits.append(wait)
        assert deliver_due(sf, conns, now + wait - timedelta(seconds=1), config=cfg, content=content).retried == []
        now = d.next_attempt_at
    assert timedelta(seconds=30) <= waits[0] <= timedelta(minutes=1)
    assert timedelta(minutes=1) <= waits[1] <= timedelta(minutes=2)
    assert timedelta(minutes=1, seconds=30) <= waits[2] <= timedelta(minutes=3)  # capped at 3 minutes
    assert deliver_due(sf, conns, now, config=cfg, content=content).sent
    [d] = deliveries(engine)
    assert (d.state, d.attempts, d.last_error) == ("sent", 4, None)
    assert conns["email"].calls[key] == 4


def test_retry_after_from_the_channel_is_respected():
    policy = RetryPolicy(base=timedelta(seconds=1), jitter=0)
    assert policy.delay(1, retry_after=120) == timedelta(seconds=120)
    assert policy.delay(3) == timedelta(seconds=4)


def test_after_the_last_attempt_the_next_channel_takes_over(engine):
    [doc] = add_documents(engine, 1)
    sf, cfg, conns = session_factory(engine), config(retry=RetryPolicy(base=timedelta(0), max_attempts=2)), \
        connectors("email", "print")
    plan_deliveries(sf, cfg, now=T0, connectors=conns)
    conns["email"].always = "temporary"
    summary = deliver_due(sf, conns, T0, config=cfg, content=content)
    assert len(summary.retried) == 1 and len(summary.failed) == 1 and len(summary.fell_back) == 1
    assert len(summary.sent) == 1  # the letter, in the same run
    email, letter = deliveries(engine)
    assert (email.state, email.attempts) == ("fell_back", 2) and "2 Versuche gescheitert" in email.last_error
    assert (letter.channel, letter.state, letter.sequence, letter.hop) == ("print", "sent", 2, 1)
    assert transitions(engine, email.id)[-2:] == [("sending", "failed"), ("failed", "fell_back")]
    assert conns["print"].sent[0].address == "Anna Muster\nHauptstr. 1\n12345 Musterstadt"


def test_permanent_failure_on_the_last_channel_goes_to_the_dead_letters(engine):
    [doc] = add_documents(engine, 1)
    sf, cfg, conns = session_factory(engine), config(), connectors("email", "print")
    plan_deliveries(sf, cfg, now=T0, connectors=conns)
    conns["email"].always = conns["print"].always = "permanent"
    summary = deliver_due(sf, conns, T0, config=cfg, content=content)
    assert summary.dead == [doc] and summary.sent == []
    assert [(d.channel, d.state) for d in deliveries(engine)] == [("email", "fell_back"), ("print", "failed")]
    with transaction(engine) as s:
        [dead] = dead_letters(s)
        assert dead.document_id == doc and "kein Kanal mehr übrig (print war der letzte)" in dead.reason
        assert "mailbox unknown" in dead.reason


def test_unknown_recipient_and_no_channel_are_dead_letters_with_the_reason(engine):
    [doc] = add_documents(engine, 1)
    with transaction(engine) as s:
        s.get(Document, doc).recipient_ref = "K-404"
    sf, cfg = session_factory(engine), config()
    result = plan_deliveries(sf, cfg, now=T0, connectors=connectors("email"))
    assert result.dead == [doc]
    with transaction(engine) as s:
        assert "K-404" in dead_letters(s)[0].reason
    [other] = add_documents(engine, 1, who=recipient("K-2"))
    result = plan_deliveries(sf, cfg, now=T0, connectors=connectors("email"))  # no print connector
    assert result.dead == [other]
    with transaction(engine) as s:
        assert "für print ist kein Connector konfiguriert" in dead_letters(s)[1].reason


def test_failed_status_event_falls_back_and_each_event_is_applied_once(engine):
    [doc] = add_documents(engine, 1)
    sf, cfg, conns = session_factory(engine), config(), connectors("email", "print")
    plan_deliveries(sf, cfg, now=T0, connectors=conns)
    deliver_due(sf, conns, T0, config=cfg, content=content)
    key = f"erechnung-{doc}-email-1"
    conns["email"].report(key, "delayed", T0 + timedelta(minutes=5), evidence=b"DSN delayed")
    conns["email"].report(key, "failed", T0 + timedelta(minutes=30), reason="mailbox unknown (550 5.1.1)",
                          evidence=b"Content-Type: multipart/report; report-type=delivery-status")
    first = track(sf, conns, T0 + timedelta(hours=1), config=cfg)
    second = track(sf, conns, T0 + timedelta(hours=2), config=cfg)
    assert len(first.applied) == 2 and len(first.fell_back) == 1 and second.applied == []
    email, letter = deliveries(engine)
    assert email.state == "fell_back" and email.last_error == "mailbox unknown (550 5.1.1)"
    assert letter.state == "queued" and letter.channel == "print"
    assert transitions(engine, email.id)[3:] == [("sent", "sent"), ("sent", "failed"), ("failed", "fell_back")]
    assert deliver_due(sf, conns, T0 + timedelta(hours=2), config=cfg, content=content).sent == [letter.id]


def notice_setup(engine, rules=None, **who):
    who = recipient(bundid_postbox=UUID, email="anna@example.org", consents=frozenset({"notice_retrieval"}), **who)
    [doc] = add_documents(engine, 1, kind="notice", who=who, prefix="BS-2026-")
    conns = connectors("bundid", "print")
    conns["email"] = FakeConnector("email", notices=NoticeHandling.NOTIFY_ONLY)
    cfg = config(rules=rules or LegalRules.load())
    sf = session_factory(engine)
    plan_deliveries(sf, cfg, now=T0, connectors=conns)
    return doc, sf, cfg, conns


def test_notice_in_the_postbox_is_deemed_notified_on_the_third_day_with_its_inputs_stored(engine):
    doc, sf, cfg, conns = notice_setup(engine)
    conns["bundid"].now = T0
    deliver_due(sf, conns, T0, config=cfg, content=content)
    [d] = deliveries(engine)
    assert (d.channel, d.state, d.legal_basis) == ("bundid", "sent", "ozg_9")
    assert not conns["email"].calls  # email never carries the notice
    conns["bundid"].report(d.idempotency_key, "delivered", T0 + timedelta(minutes=1), evidence=b"HTTP/1.1 201")
    track(sf, conns, T0 + timedelta(hours=1), config=cfg)
    with transaction(engine) as s:
        nd = s.execute(select(NotificationDate)).scalar_one()
        assert (nd.legal_basis, nd.land, nd.start_event, nd.days) == ("ozg_9", "NW", "provision", 3)
        assert nd.computed_date == date(2026, 11, 26)  # Monday 23 Nov + 3
        assert nd.inputs["provision_at"] == (T0 + timedelta(minutes=1)).isoformat()
        assert nd.calendar == "DE-NW" and nd.calendar_version.startswith("holidays ") and nd.rules_sha256
    assert track(sf, conns, datetime(2026, 11, 25, 22, 59, tzinfo=timezone.utc), config=cfg).notified == []
    summary = track(sf, conns, datetime(2026, 11, 25, 23, 0, tzinfo=timezone.utc), config=cfg)  # 0:00 in Berlin
    assert summary.notified == [d.id]
    assert transitions(engine, d.id)[-1] == ("delivered", "deemed_notified")


def test_an_earlier_retrieval_does_not_advance_the_third_day_after_provision(engine):
    # § 9 Abs. 1 S. 4 OZG: the 3rd day after provision (Mon 23 Nov -> Thu 26 Nov); S. 7 keeps the first retrieval
    # decisive only against a renewed Bekanntgabe, so a retrieval on the provision day changes nothing
    doc, sf, cfg, conns = notice_setup(engine)
    conns["bundid"].now = T0
    deliver_due(sf, conns, T0, config=cfg, content=content)
    [d] = deliveries(engine)
    conns["bundid"].report(d.idempotency_key, "delivered", T0 + timedelta(minutes=1))
    conns["bundid"].report(d.idempotency_key, "retrieved", T0 + timedelta(hours=3))
    assert track(sf, conns, T0 + timedelta(hours=4), config=cfg).notified == []
    summary = track(sf, conns, T0 + timedelta(days=3, hours=2), config=cfg)  # Thu 26 Nov, 12:00 in Berlin
    assert summary.notified == [d.id]
    with transaction(engine) as s:
        nd = s.execute(select(NotificationDate)).scalar_one()
        assert nd.computed_date == date(2026, 11, 26) and nd.retrieved_at is not None


# § 41 Abs. 2a VwVfG NRW is open research in legal.toml: the municipality (land NW) confirms it
RETRIEVAL_RULES = LegalRules.from_text(DEFAULT_RULES.read_text(encoding="utf-8").replace(
    'bundid = "ozg_9"', 'bundid = "vwvfg_41_2a"')).confirming("NW", ["NW:vwvfg_41_2a"])


def test_notice_not_retrieved_within_ten_days_expires_and_falls_back_to_print(engine):
    doc, sf, cfg, conns = notice_setup(engine, RETRIEVAL_RULES)
    conns["bundid"].now = T0  # 10:00 in Berlin on Mon 23 Nov: the deadline ends with Thu 3 Dec
    deliver_due(sf, conns, T0, config=cfg, content=content)
    [d] = deliveries(engine)
    assert d.legal_basis == "vwvfg_41_2a"
    assert d.deadline_at == datetime(2026, 12, 4, 0, 0, tzinfo=BERLIN)
    assert track(sf, conns, datetime(2026, 12, 3, 22, 59, tzinfo=timezone.utc), config=cfg).expired == []
    summary = track(sf, conns, datetime(2026, 12, 3, 23, 0, tzinfo=timezone.utc), config=cfg)
    assert summary.expired == [d.id] and len(summary.fell_back) == 1
    bundid, letter = deliveries(engine)
    assert bundid.state == "fell_back" and (letter.channel, letter.legal_basis) == ("print", "vwvfg_41_2")
    assert transitions(engine, bundid.id)[-2:] == [("sent", "expired"), ("expired", "fell_back")]
    with transaction(engine) as s:
        assert s.execute(select(NotificationDate)).scalars().all() == []  # never notified electronically


def test_notice_retrieved_in_time_is_notified_the_day_after(engine):
    doc, sf, cfg, conns = notice_setup(engine, RETRIEVAL_RULES)
    conns["bundid"].now = T0
    deliver_due(sf, conns, T0, config=cfg, content=content)
    [d] = deliveries(engine)
    conns["bundid"].report(d.idempotency_key, "retrieved", datetime(2026, 11, 27, 8, tzinfo=timezone.utc))
    track(sf, conns, datetime(2026, 11, 27, 9, tzinfo=timezone.utc), config=cfg)
    with transaction(engine) as s:
        assert s.execute(select(NotificationDate.computed_date)).scalar_one() == date(2026, 11, 28)
    assert track(sf, conns, datetime(2026, 12, 10, tzinfo=timezone.utc), config=cfg).expired == []
    assert deliveries(engine)[0].state == "deemed_notified"


def test_crash_after_send_before_commit_sends_once(engine, tmp_path):
    [doc] = add_documents(engine, 1)
    sf, cfg = session_factory(engine), config(worker="crashed")
    sink = FileSink(tmp_path / "sink")
    conns = {"email": sink, "print": FakeConnector("print")}
    plan_deliveries(sf, cfg, now=T0, connectors=conns)
    [claimed] = claim_due(sf, ["email"], T0, cfg)  # 1. claim committed
    with sf() as s:
        sink.send(channel_delivery(s, s.get(Delivery, claimed), content))  # 2. sent ... and the worker dies
    assert deliver_due(sf, conns, T0 + timedelta(minutes=1), config=config(), content=content).sent == []  # leased
    summary = deliver_due(sf, conns, T0 + cfg.lease + timedelta(seconds=1), config=config(), content=content)
    assert summary.sent == [claimed]
    assert sink.calls() == [f"erechnung-{doc}-email-1"] * 2 and sink.accepted_lines() == [f"erechnung-{doc}-email-1"]
    assert transitions(engine, claimed) == [(None, "queued"), ("queued", "sending"), ("sending", "sending"),
                                            ("sending", "sent")]
    with transaction(engine) as s:
        again = s.execute(select(DeliveryEvent).where(DeliveryEvent.from_state == "sending",
                                                      DeliveryEvent.to_state == "sending")).scalar_one()
        assert again.detail["resend_after_crash"] is True


def test_a_slow_worker_that_lost_its_claim_records_nothing(engine):
    [doc] = add_documents(engine, 1)
    sf = session_factory(engine)
    slow, fast = config(worker="slow"), config(worker="fast")
    conns = connectors("email", "print")
    plan_deliveries(sf, slow, now=T0, connectors=conns)
    [d] = claim_due(sf, ["email"], T0, slow)
    assert deliver_due(sf, conns, T0 + slow.lease + timedelta(seconds=1), config=fast, content=content).sent == [d]
    late = SendSummary()
    _record(sf, d, _receipt(doc), T0 + timedelta(minutes=6), slow, late, None)
    assert late.lost_claim == [d]
    assert [t for t in transitions(engine, d) if t[1] == "sent"] == [("sending", "sent")]


def _receipt(doc):
    from mailbox_connectors.base import Receipt

    return Receipt(f"erechnung-{doc}-email-1", "email", "<x@slow>", T0)
