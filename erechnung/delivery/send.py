"""Sending: claim what is due, send it through its channel, record the outcome; retry with backoff, and after
the last attempt hand the delivery to the next channel (``fallback``).

    deliver_due(sf, connectors, now, config=..., content=...)  # claim, send, record receipt; retry, fall back

``sf`` is a session factory (``erechnung.state.session_factory(engine)``); ``connectors`` maps a channel name
(``email``, ``bundid``, ``elster``, ``peppol``, ``print``) to a :class:`~mailbox_connectors.base.MailboxConnector`.
Every state change is appended to the hash-chained ``delivery_events`` in the same transaction; the SQL is in
``erechnung.state.deliveries.send``.

Exactly once, per delivery
--------------------------
A delivery is a row whose ``idempotency_key`` (``<prefix>-<document>-<channel>-<sequence>``) is UNIQUE; planning
inserts it with ON CONFLICT DO NOTHING, so a crash or a second planner never loses or duplicates it.

Sending is three steps, each its own transaction or call:

1. **claim** (commit): the row goes ``queued -> sending`` with ``claimed_by`` and ``lease_until``, attempts + 1,
   and the event is appended. On PostgreSQL the candidates are read with ``SELECT ... FOR UPDATE SKIP LOCKED``,
   so workers never wait for nor take each other's rows; on SQLite every transaction holds the write lock from
   ``BEGIN IMMEDIATE``, and the claim is a conditional ``UPDATE ... WHERE state = <seen> AND <lease ran out>``
   whose row count says whether this worker won. Only the worker whose claim committed calls ``send``.
2. **send**: ``connector.send(Delivery(delivery_id=<idempotency key>, ...))``, outside any transaction.
3. **record** (commit): receipt, ``sending -> sent`` and the event, in one transaction, only if this worker
   still holds the claim.

A crash between 1 and 3 leaves the row ``sending`` with a lease that runs out; the next worker claims it again
and sends it again **with the same idempotency key**. Whether that second send reaches the recipient twice is
up to the channel, which is why the key is handed to it:

* email (``mailbox_connectors.email``): the Message-ID is derived from the key and the DSN ``ENVID`` is the key.
  SMTP cannot take a message back and an MTA does not deduplicate, so a crash after the server's 250 and
  before our commit can put a second copy into the mailbox; it carries the same Message-ID (mail clients and
  archives show it once) and the audit trail marks the resend (``resend_after_crash``). Email cannot be made
  exactly-once; it is at-least-once with a recognisable duplicate.
* FIT-Connect, BundID (bridge and direct ZBP): the adapter keeps a journal per delivery id (a JSON-lines file
  when configured with a path) and answers a repeated ``send`` with the first receipt; the key also goes to
  the channel as the submission's / message's reference. Only a crash between the server's 2xx and the
  adapter's journal write can still give a second submission.
* ELSTER-Transfer: ``auftragsReferenz`` is the key, and ELSTER-Transfer answers a repeated order with the first
  acknowledgement (as its sandbox does; the real interface is not public).
* print (``mailbox_connectors.print``, our own outbox): exactly once. ``send`` answers a delivery id found in
  the open batch, a half-closed one or the ledger of closed batches with the first receipt, and a batch is
  closed in steps that a crash at any point completes under the same batch id, so a letter is in one batch
  only, ever (``tests/delivery/test_print_exactly_once_crash.py`` kills a real deliver at each step).

A worker that is merely slow (its lease ran out while it sent) loses the conditional update in step 3: the
other worker's record stands and nothing is recorded twice. A worker known to be dead (its ``host:pid`` is a
process of this host that no longer runs: :func:`erechnung.state.leases.holder_is_dead`) is not waited out: its
claims are taken over at once, like the pipeline's department locks.

A failure while recording an outcome (step 3 raising: a legal rule that no longer covers the delivery, a
database error) never leaves the delivery ``sending``: it is recorded as a temporary failure of that delivery
(an event with the reason, the channel's receipt kept as evidence), retried with the same key and, after
``max_attempts``, failed and handed to the next channel; the other deliveries go on.

Retries
-------
``TemporaryFailure`` (and unexpected errors) put the delivery back to ``queued`` with ``next_attempt_at`` after
an exponential backoff with jitter (``RetryPolicy``: ``base * 2**(attempt-1)``, capped, half of it random; a
channel's ``retry_after`` is respected). After ``max_attempts`` or on ``PermanentFailure`` the delivery fails
and the next channel of the route takes over (``fallback``).
"""
from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from erechnung.state import deliveries as repo
from erechnung.state.deliveries import send as send_repo
from erechnung.state.deliveries.legal_dates import store_dates
from erechnung.state.schema import utcnow
from erechnung.model.codes import LANDS
from mailbox_connectors.base import MailboxConnector, PermanentFailure, Receipt, TemporaryFailure

from .audit import append_event, append_events
from .config import DeliveryConfig
from .content import ContentLoader, channel_delivery
from .fallback import fall_back
from .legal_dates import legal_dates
from .notification import compute_notification_date, retrieval_deadline
from .texts import EVENT

log = logging.getLogger(__name__)


@dataclass
class SendSummary:
    sent: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    fell_back: list[int] = field(default_factory=list)  # the new deliveries
    dead: list[int] = field(default_factory=list)  # document ids
    lost_claim: list[int] = field(default_factory=list)

    def merge(self, other: SendSummary) -> None:
        for name in self.__dataclass_fields__:
            getattr(self, name).extend(getattr(other, name))


def claim_due(session_factory: sessionmaker[Session], channels: Iterable[str], now: datetime,
              config: DeliveryConfig, *, limit: int | None = None) -> list[int]:
    """Claim up to ``limit`` deliveries that are due (queued and due, or ``sending`` with a lease that ran
    out or held by a dead process of this host) for ``config.worker``, and commit the claim. Returns the
    claimed ids."""
    return [row.id for row in _claim(session_factory, channels, now, config, limit=limit)]


def _claim(session_factory: sessionmaker[Session], channels: Iterable[str], now: datetime,
           config: DeliveryConfig, *, limit: int | None = None) -> list[Any]:
    """:func:`claim_due`, returning the claimed rows (``send_repo.CLAIMED``) in claim order. One transaction:
    the due rows are read (PostgreSQL: ``FOR UPDATE SKIP LOCKED``), moved to ``sending`` by one conditional
    UPDATE whose RETURNING names the rows won, and their events appended under one lock of the chain's head.

    A ``sending`` row is due when its lease ran out or its holder is a dead process of this host
    (``send_repo.dead_claimants``). A stored Land that is no Land code (written by a version that did not
    check the configuration) is replaced by the configured one, and the claim's event says so: a corrected
    configuration takes effect for deliveries planned before."""
    limit = limit or config.batch_size
    channels = list(channels)
    with session_factory() as session, session.begin():
        lease_until = now + config.lease
        seen, won, dead = send_repo.claim(session, channels, now, worker=config.worker, lease_until=lease_until,
                                          lands=LANDS, land=config.land, limit=limit)
        if not seen:
            return []
        claimed = [won[i] for i in seen if i in won]
        events = []
        for d in claimed:
            before = seen[d.id]
            detail = {"worker": config.worker, "attempt": d.attempts, "lease_until": lease_until.isoformat()}
            reason = EVENT["claimed"]
            if before.state == "sending":
                detail["resend_after_crash"] = True  # the previous claim ran out: its send may have happened
                gone = before.claimed_by in dead
                detail["previous_worker"] = before.claimed_by
                reason = EVENT["claimed_again_gone" if gone else "claimed_again_lease"]
            if before.land != d.land:
                detail["land"] = {"stored": before.land, "now": d.land}
                reason += EVENT["land_replaced"].format(stored=before.land, land=d.land or EVENT["no_land"])
            events.append(dict(delivery_id=d.id, document_id=d.document_id, from_state=before.state,
                               to_state="sending", at=now, source="worker", reason=reason, detail=detail))
        append_events(session, events)
    return claimed


def _prepare(session_factory: sessionmaker[Session], claimed: list[Any], load: ContentLoader,
             config: DeliveryConfig | None = None) -> list[tuple]:
    """(claimed row, channel delivery or None, PermanentFailure or None) of a claimed batch, its documents and
    archive items read with one query each, in one short transaction before the first send."""
    out = []
    with session_factory() as session:
        # with their archive items, where the loaders' session.get(ArchiveItem, sha256) finds them
        docs = {doc.id: doc for doc in repo.documents(session, {d.document_id for d in claimed})}
        for d in claimed:
            try:
                out.append((d, channel_delivery(session, d, load, docs.get(d.document_id),
                                                services=config.services if config is not None else None,
                                                officer=config.service_officer if config is not None else ""), None))
            except Exception as exc:  # content missing, bad address: the channel cannot take it
                if isinstance(exc, SQLAlchemyError):
                    session.rollback()  # an aborted transaction (PostgreSQL) must not fail the others too
                out.append((d, None, PermanentFailure(EVENT["cannot_build"].format(error=exc), channel=d.channel,
                                                      delivery_id=d.idempotency_key)))
    return out


def deliver_due(session_factory: sessionmaker[Session], connectors: Mapping[str, MailboxConnector],
                now: datetime | None = None, *, config: DeliveryConfig, content: ContentLoader,
                clock: Callable[[], datetime] | None = None, rng: random.Random | None = None,
                max_rounds: int = 1000) -> SendSummary:
    """Send what is due, claim by claim, until nothing due is left (see the module docstring)."""
    clock = clock or (lambda: now or utcnow())
    summary = SendSummary()
    for _ in range(max_rounds):
        at = clock()
        claimed = _claim(session_factory, connectors, at, config)
        if not claimed:
            break
        for d, delivery, outcome in _prepare(session_factory, claimed, content, config):
            connector = connectors[d.channel]
            if outcome is None:
                try:
                    outcome = connector.send(delivery)
                except (TemporaryFailure, PermanentFailure) as exc:
                    outcome = exc
                except Exception as exc:  # an adapter bug or a lost connection: retry later, keep the reason
                    log.exception("delivery %s: unexpected error from %s", d.idempotency_key, d.channel)
                    outcome = TemporaryFailure(EVENT["unexpected"].format(error=f"{exc.__class__.__name__}: {exc}"),
                                               channel=d.channel, delivery_id=d.idempotency_key)
            try:
                _record(session_factory, d.id, outcome, clock(), config, summary, rng, claimed=d)
            except Exception as exc:  # noqa: BLE001 - recording failed: a failure of this delivery, not of all
                _recording_failed(session_factory, d, outcome, exc, clock(), config, summary, rng)
    return summary


def _recording_failed(session_factory: sessionmaker[Session], d: Any, outcome: Any, exc: Exception,
                      now: datetime, config: DeliveryConfig, summary: SendSummary,
                      rng: random.Random | None) -> None:
    """Recording ``outcome`` raised ``exc``: recorded instead as a temporary failure of the delivery (the event
    names the reason; a receipt the channel gave is kept as evidence), so that it is retried with the same key,
    and failed and handed on after ``max_attempts``, never left ``sending``. When even that cannot be recorded
    (the database is gone) the claim's lease runs out and another worker takes the delivery over."""
    log.exception("delivery %s: recording %s failed", d.idempotency_key, type(outcome).__name__)
    evidence = b""
    if isinstance(outcome, Receipt):
        evidence = EVENT["accepted_evidence"].format(message_id=outcome.channel_message_id,
                                                     at=outcome.accepted_at.isoformat()).encode()
    failure = TemporaryFailure(EVENT["recording_failed"].format(outcome=type(outcome).__name__,
                                                                error=f"{type(exc).__name__}: {exc}"),
                               channel=d.channel, delivery_id=d.idempotency_key,
                               code="recording-failed", evidence=evidence)
    try:
        _record(session_factory, d.id, failure, now, config, summary, rng, claimed=d)
    except Exception:  # noqa: BLE001 - see the docstring: the lease runs out
        log.exception("delivery %s: recording the failure failed too; its lease will run out", d.idempotency_key)


def _record(session_factory: sessionmaker[Session], delivery_id: int, outcome: Any, now: datetime,
            config: DeliveryConfig, summary: SendSummary, rng: random.Random | None, *,
            claimed: Any = None) -> None:
    """Record one send's outcome in its own transaction, committed right after the send, only if this worker
    still holds the claim (``claimed``: the row :func:`_claim` returned, else it is read)."""
    if isinstance(outcome, Receipt):
        _record_receipt(session_factory, delivery_id, outcome, now, config, summary, claimed)
        return
    with session_factory() as session, session.begin():
        d = repo.lock_delivery(session, delivery_id)
        if d.state != "sending" or d.claimed_by != config.worker:
            summary.lost_claim.append(delivery_id)  # another worker took it over and records its own outcome
            log.warning("delivery %s: claim lost before recording (%s)", d.idempotency_key, type(outcome).__name__)
            return
        d.claimed_by, d.lease_until, d.updated_at = None, None, now
        if isinstance(outcome, Receipt):
            d.state, d.sent_at, d.channel_message_id = "sent", outcome.accepted_at, outcome.channel_message_id
            d.notification_only, d.last_error, d.next_attempt_at = outcome.notification_only, None, None
            if d.channel in config.provision_on_receipt:
                d.delivered_at = outcome.accepted_at
            append_event(session, d, from_state="sending", to_state="sent", at=now, source="channel",
                         reason=EVENT["accepted"].format(channel=outcome.channel,
                                                         message_id=outcome.channel_message_id),
                         detail={"channel_message_id": outcome.channel_message_id,
                                 "accepted_at": outcome.accepted_at.isoformat(), "attempt": d.attempts,
                                 "notification_only": outcome.notification_only},
                         evidence=outcome.evidence, evidence_type=outcome.evidence_type)
            legal_dates(session, d, config, now)
            summary.sent.append(d.id)
            return
        exc = outcome
        text = str(exc)
        d.last_error = text
        if isinstance(exc, TemporaryFailure) and d.attempts < config.retry.max_attempts:
            wait = config.retry.delay(d.attempts, rng, getattr(exc, "retry_after", None))
            d.state, d.next_attempt_at = "queued", now + wait
            append_event(session, d, from_state="sending", to_state="queued", at=now, source="channel",
                         reason=EVENT["temporary"].format(attempt=d.attempts, attempts=config.retry.max_attempts,
                                                          error=text),
                         detail={"code": exc.code, "retry_at": d.next_attempt_at.isoformat(),
                                 "attempt": d.attempts}, evidence=exc.evidence or None,
                         evidence_type="text/plain" if exc.evidence else None)
            summary.retried.append(d.id)
            return
        why = (EVENT["attempts_failed"].format(attempts=d.attempts, error=text) if isinstance(exc, TemporaryFailure)
               else EVENT["refused"].format(error=text))
        d.state, d.next_attempt_at, d.last_error = "failed", None, why
        append_event(session, d, from_state="sending", to_state="failed", at=now, source="channel", reason=why,
                     detail={"code": getattr(exc, "code", None), "attempt": d.attempts,
                             "permanent": isinstance(exc, PermanentFailure)},
                     evidence=getattr(exc, "evidence", b"") or None,
                     evidence_type="text/plain" if getattr(exc, "evidence", b"") else None)
        summary.failed.append(d.id)
        fall_back(session, d, why, now, config, summary)


def _served_sent(session: Session, delivery_id: int, config: DeliveryConfig, now: datetime) -> None:
    """A served notice was taken by its channel: await the Empfangsbekenntnis, or store the fiction of an
    Einschreiben (``service.on_sent``)."""
    from erechnung.state.delivery_schema import Delivery

    from .service import hop_form, on_sent

    d = session.get(Delivery, delivery_id)
    if d is not None and hop_form(d) is not None:
        on_sent(session, d, config.services, config.rules.time_zone, now)


def _record_receipt(session_factory: sessionmaker[Session], delivery_id: int, receipt: Any, now: datetime,
                    config: DeliveryConfig, summary: SendSummary, claimed: Any) -> None:
    """``sending -> sent`` with the receipt: one conditional UPDATE (this worker's claim, else nothing is
    recorded), the event, and for a notice its retrieval deadline and notification date."""
    with session_factory() as session, session.begin():
        d = claimed if claimed is not None else send_repo.claimed_row(session, delivery_id)
        sent_at = receipt.accepted_at
        notice = d.kind == "notice" and bool(d.legal_basis)
        row = send_repo.record_receipt(
            session, delivery_id, worker=config.worker, sent_at=sent_at, message_id=receipt.channel_message_id,
            notification_only=receipt.notification_only, now=now,
            provision=d.channel in config.provision_on_receipt, notice=notice,
            deadline=retrieval_deadline(config.rules, d.legal_basis, d.land, repo.aware(sent_at)) if notice else None)
        if row is None:
            summary.lost_claim.append(delivery_id)  # another worker took it over and records its own outcome
            log.warning("delivery %s: claim lost before recording (Receipt)", d.idempotency_key)
            return
        append_events(session, [dict(
            delivery_id=delivery_id, document_id=d.document_id, from_state="sending", to_state="sent", at=now,
            source="channel", reason=EVENT["accepted"].format(channel=receipt.channel,
                                                              message_id=receipt.channel_message_id),
            detail={"channel_message_id": receipt.channel_message_id,
                    "accepted_at": receipt.accepted_at.isoformat(), "attempt": row.attempts,
                    "notification_only": receipt.notification_only},
            evidence=receipt.evidence, evidence_type=receipt.evidence_type)])
        if notice:
            result = compute_notification_date(config.rules, d.legal_basis, d.land,
                                               provision_at=repo.aware(row.delivered_at),
                                               notification_sent_at=repo.aware(sent_at),
                                               retrieved_at=repo.aware(row.retrieved_at))
            if result is not None:
                store_dates(session, delivery_id, d.document_id, result, now)
        elif d.kind == "notice" and getattr(d, "route", None):
            _served_sent(session, delivery_id, config, now)
        summary.sent.append(delivery_id)
