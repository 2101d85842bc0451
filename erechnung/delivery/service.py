"""The delivery service: plan, send with retries and fallback, track, compute legal dates, dead-letter.
Plain functions over the connectors' interface (``mailbox_connectors.base``) and the state database; no
Prefect. Every state change is appended to the hash-chained ``delivery_events`` in the same transaction.

    plan_deliveries(sf, config, now=now)          # handed-over documents -> their first delivery (queued)
    deliver_due(sf, connectors, now, config=...)  # claim, send, record receipt; retry, fall back, dead-letter
    track(sf, connectors, now, config=...)        # status events, deadlines, notification dates

``sf`` is a session factory (``erechnung.state.session_factory(engine)``); ``connectors`` maps a channel name
(``email``, ``bundid``, ``elster``, ``peppol``, ``print``) to a :class:`~mailbox_connectors.base.MailboxConnector`.

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
  only, ever (``tests/tracking/test_print_exactly_once_crash.py`` kills a real deliver at each step).

A worker that is merely slow (its lease ran out while it sent) loses the conditional update in step 3: the
other worker's record stands and nothing is recorded twice. A worker known to be dead (its ``host:pid`` is a
process of this host that no longer runs: :func:`erechnung.state.leases.holder_is_dead`) is not waited out: its
claims are taken over at once, like the pipeline's department locks.

A failure while recording an outcome (step 3 raising: a legal rule that no longer covers the delivery, a
database error) never leaves the delivery ``sending``: it is recorded as a temporary failure of that delivery
(an event with the reason, the channel's receipt kept as evidence), retried with the same key and, after
``max_attempts``, failed and handed to the next channel; the other deliveries go on.

Retries and fallback
--------------------
``TemporaryFailure`` (and unexpected errors) put the delivery back to ``queued`` with ``next_attempt_at`` after
an exponential backoff with jitter (``RetryPolicy``: ``base * 2**(attempt-1)``, capped, half of it random; a
channel's ``retry_after`` is respected). After ``max_attempts``, on ``PermanentFailure``, on a ``failed``
status event, or when a retrieval deadline passes (§ 41 Abs. 2a VwVfG: not retrieved within 10 days -> not
notified, ``expired``) the next channel of the route takes over: the old delivery goes ``-> fell_back`` and a
new one (next sequence, next hop) is queued in the same transaction. After the last channel the document goes
to ``dead_letters`` with the reason, for finance.
"""
from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, case, func, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from erechnung.config.channels import DeliverySection
from erechnung.model.codes import LANDS
from erechnung.model.delivery import DeliveryFormat
from erechnung.model.documents import DocumentFormat, DocumentKind
from erechnung.state.delivery_schema import DeadLetter, Delivery, NotificationDate
from erechnung.state.leases import dead_holders, worker_id
from erechnung.state.schema import ArchiveItem, Document, utcnow

from .audit import append_event, append_events
from .notification import LegalRuleError, LegalRules, compute_notification_date, retrieval_deadline
from .routing import Hop, Route, route

log = logging.getLogger(__name__)

_D = Delivery.__table__
_ND = NotificationDate.__table__

OPEN_STATES = ("sent", "delivered", "retrieved")  # sent, waiting for status events or the notification date
#: How far a channel's clock may be behind ours: an event older than its delivery by more is not about it.
EVENT_CLOCK_SKEW = timedelta(hours=1)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: attempt n waits ``base * 2**(n-1)`` (at most ``cap``), of which the
    ``jitter`` fraction is random; ``max_attempts`` sends per delivery before the next channel takes over."""

    base: timedelta = timedelta(minutes=1)
    cap: timedelta = timedelta(hours=6)
    max_attempts: int = 5
    jitter: float = 0.5

    def delay(self, attempt: int, rng: random.Random | None = None, retry_after: float | None = None) -> timedelta:
        full = min(self.cap.total_seconds(), self.base.total_seconds() * 2 ** max(attempt - 1, 0))
        wait = full * (1 - self.jitter) + full * self.jitter * (rng or random).random()
        if retry_after is not None:
            wait = max(wait, float(retry_after))
        return timedelta(seconds=wait)


def default_worker() -> str:
    """This process as the holder of its claims (``host:pid:tag``, the form every lease of the project uses)."""
    return worker_id()


@dataclass(frozen=True)
class DeliveryConfig:
    retry: RetryPolicy = RetryPolicy()
    lease: timedelta = timedelta(minutes=5)
    key_prefix: str = "erechnung"  # one per installation: channels see the key (Message-ID, ENVID, references)
    land: str | None = None  # the authority's Land: holidays and Land rules of the legal dates
    notice_group: str = "default"  # legal.toml notice_bases group of the municipality's notices
    rules: LegalRules = field(default_factory=LegalRules.load)
    worker: str = field(default_factory=default_worker)
    batch_size: int = 20
    #: channels whose receipt is the provision in the postbox (no separate "delivered" event)
    provision_on_receipt: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.land is not None and self.land not in LANDS:
            raise LegalRuleError(f"land {self.land!r} is not the code of a German Land: use one of "
                                 f"{' '.join(LANDS)} (configuration [delivery] land)")


def delivery_config(section: DeliverySection, *, worker: str | None = None) -> DeliveryConfig:
    """The delivery service's settings from the configuration's ``[delivery]`` section."""
    r = section.retry
    kw: dict[str, Any] = dict(
        retry=RetryPolicy(base=timedelta(seconds=r.base_seconds), cap=timedelta(seconds=r.cap_seconds),
                          max_attempts=r.max_attempts, jitter=r.jitter),
        lease=timedelta(seconds=section.lease_seconds), key_prefix=section.key_prefix, land=section.land,
        notice_group=section.notice_group, batch_size=section.batch_size)
    if worker:
        kw["worker"] = worker
    return DeliveryConfig(**kw)


@dataclass(frozen=True)
class Content:
    data: bytes
    filename: str
    media_type: str
    subject: str = ""
    body: str = ""


#: What the service needs to build a channel delivery: the document's bytes, file name and media type.
ContentLoader = Callable[[Session, Document], Content]


def archive_content(archive) -> ContentLoader:
    """A loader that reads the document from the archive (``erechnung.archive.Archive``) by its sha256."""

    def load(session: Session, doc: Document) -> Content:
        item = session.get(ArchiveItem, doc.sha256) if doc.sha256 else None
        if doc.sha256 is None:
            raise LookupError(f"document {doc.id} has no rendered content (sha256) to send")
        data = archive.get(doc.sha256)
        media_type = item.media_type if item is not None else (
            "application/xml" if doc.format in (DocumentFormat.UBL, DocumentFormat.CII) else "application/pdf")
        name = (item.meta or {}).get("original_name") if item is not None else None
        ext = ".xml" if media_type.endswith("xml") else ".pdf"
        return Content(data, name or f"{doc.number or doc.id}{ext}", media_type,
                       subject=_subject(doc))

    return load


def _subject(doc: Document) -> str:
    what = {DocumentKind.INVOICE: "Rechnung", DocumentKind.CREDIT_NOTE: "Gutschrift",
            DocumentKind.NOTICE: "Bescheid"}.get(doc.kind, doc.kind)
    return f"{what} {doc.number or doc.id}"


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def delivery_key(prefix: str, document_id: int, channel: str, sequence: int) -> str:
    return f"{prefix}-{document_id}-{channel}-{sequence}"


# ============================================================================================== planning


@dataclass(frozen=True)
class PlanResult:
    planned: list[int] = field(default_factory=list)  # delivery ids queued
    dead: list[int] = field(default_factory=list)  # document ids with no channel at all


def _document_size(session: Session, doc: Document) -> int | None:
    if not doc.sha256:
        return None
    item = session.get(ArchiveItem, doc.sha256)
    return item.size if item is not None else None


def plan_deliveries(session_factory: sessionmaker[Session], config: DeliveryConfig, *, now: datetime | None = None,
                    connectors: Mapping[str, Any] | None = None, document_ids: Iterable[int] | None = None,
                    register: Callable[[Session, Document], Any] | None = None) -> PlanResult:
    """Queue the first delivery of every handed-over document that has none yet (or of ``document_ids``):
    route it (recipient from the persisted register, limits and available channels from ``connectors``) and
    insert delivery 1 on the route's first hop; no channel at all -> dead letter. Idempotent. Documents are
    planned ``PLAN_BATCH`` per transaction."""
    now = now or utcnow()
    result = PlanResult()
    limits = {name: c.capabilities.max_bytes for name, c in (connectors or {}).items()}
    formats = {name: frozenset(str(getattr(f, "value", f)) for f in c.capabilities.formats)
               for name, c in (connectors or {}).items()}
    available = set(connectors) if connectors is not None else None
    with session_factory() as session:
        q = select(Document.id).where(Document.state == "handed_over",
                                      ~select(Delivery.id).where(Delivery.document_id == Document.id).exists(),
                                      ~select(DeadLetter.id).where(DeadLetter.document_id == Document.id).exists())
        if document_ids is not None:
            q = q.where(Document.id.in_(list(document_ids)))
        ids = list(session.execute(q.order_by(Document.id)).scalars())
    for start in range(0, len(ids), PLAN_BATCH):
        _plan_batch(session_factory, ids[start:start + PLAN_BATCH], config, now, result, register, limits=limits,
                    available=available, formats=formats)
    return result


#: Documents planned per transaction by :func:`plan_deliveries`.
PLAN_BATCH = 100


def _plan_batch(session_factory: sessionmaker[Session], ids: list[int], config: DeliveryConfig, now: datetime,
                result: PlanResult, register: Callable[[Session, Document], Any] | None, *, limits, available,
                formats) -> None:
    """Plan ``ids`` in one transaction: documents, archive items and register entries read with one query
    each, the first deliveries inserted with one INSERT ... ON CONFLICT DO NOTHING, their events appended
    under one chain-head lock."""
    from erechnung.model.recipients import Recipient
    from erechnung.state.schema import Recipient as RecipientRow

    with session_factory() as session, session.begin():
        docs = list(session.execute(select(Document).where(Document.id.in_(ids)).order_by(Document.id)).scalars())
        shas = {doc.sha256 for doc in docs if doc.sha256}
        if shas:  # into the session, where _document_size and _delivery_format find them
            session.execute(select(ArchiveItem).where(ArchiveItem.sha256.in_(shas))).scalars().all()
        recipients: dict[tuple[str, str], Any] = {}
        if register is None:
            refs = {doc.recipient_ref for doc in docs if doc.recipient_ref}
            if refs:
                for row in session.execute(select(RecipientRow).where(
                        RecipientRow.department.in_({doc.department for doc in docs}),
                        RecipientRow.ref.in_(refs))).scalars():
                    recipients[(row.department, row.ref)] = row.data
        validated: dict[tuple[str, str], Any] = {}
        queued: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (delivery values, its event)
        for doc in docs:
            if register is not None:
                recipient = register(session, doc)
            else:
                key = (doc.department, doc.recipient_ref)
                recipient = None
                if doc.recipient_ref and key in recipients:
                    if key not in validated:
                        validated[key] = Recipient.model_validate(recipients[key])
                    recipient = validated[key]
            if recipient is None:
                if _dead_letter(session, doc.id, None, f"recipient {doc.recipient_ref!r} is not in the register of "
                                f"{doc.department}: add them, then plan again", now):
                    result.dead.append(doc.id)
                continue
            planned = route(recipient, doc.kind, size=_document_size(session, doc), limits=limits,
                            available=available, rules=config.rules, notice_group=config.notice_group,
                            formats=formats, document_format=_delivery_format(session, doc))
            if not planned.hops:
                if _dead_letter(session, doc.id, None, f"no channel can deliver it: {planned.explain()}", now):
                    result.dead.append(doc.id)
                continue
            queued.append(_queue_values(doc.id, doc.kind, planned, 0, 1, config, now,
                                        reason=f"route: {planned.explain()}"))
        if not queued:
            return
        from erechnung.state.repository import _insert

        new = dict(session.execute(_insert(session, _D).values([values for values, _ in queued])
                                   .on_conflict_do_nothing()  # key or (document, sequence): planned before
                                   .returning(_D.c.idempotency_key, _D.c.id)).all())
        events = []
        for values, event in queued:
            if values["idempotency_key"] in new:
                events.append(dict(event, delivery_id=new[values["idempotency_key"]]))
                result.planned.append(new[values["idempotency_key"]])
        append_events(session, events)


def _queue_values(document_id: int, kind: str, planned: Route | list, hop: int, sequence: int,
                  config: DeliveryConfig, now: datetime, *, reason: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The row of a queued delivery and its first event (without ``delivery_id``)."""
    hops = [h.to_json() for h in planned.hops] if isinstance(planned, Route) else list(planned)
    h = Hop.from_json(hops[hop])
    values = dict(idempotency_key=delivery_key(config.key_prefix, document_id, h.channel, sequence),
                  document_id=document_id, sequence=sequence, hop=hop, channel=h.channel,
                  address_ref=h.address_ref, address=h.address, kind=kind, legal_basis=h.legal_basis,
                  land=config.land, route=hops, state="queued", attempts=0, next_attempt_at=now,
                  notification_only=False, created_at=now, updated_at=now)
    event = dict(document_id=document_id, from_state=None, to_state="queued", at=now, source="planner",
                 reason=reason, detail={"channel": h.channel, "hop": hop, "sequence": sequence,
                                        "legal_basis": h.legal_basis})
    return values, event


def _queue(session: Session, doc: Document | None, planned: Route | list, hop: int, sequence: int,
           config: DeliveryConfig, now: datetime, *, reason: str, document_id: int | None = None,
           kind: str | None = None) -> Delivery | None:
    """Insert a queued delivery (once per idempotency key) and its first event; None when it existed."""
    from erechnung.state.repository import _insert

    values, event = _queue_values(doc.id if doc is not None else document_id, doc.kind if doc is not None else kind,
                                  planned, hop, sequence, config, now, reason=reason)
    new_id = session.execute(_insert(session, Delivery).values(**values).on_conflict_do_nothing()
                             .returning(Delivery.id)).scalar_one_or_none()  # key or (document, sequence)
    if new_id is None:
        return None
    append_events(session, [dict(event, delivery_id=new_id)])
    return session.get(Delivery, new_id)


def _dead_letter(session: Session, document_id: int, delivery_id: int | None, reason: str, now: datetime) -> bool:
    from erechnung.state.repository import _insert

    return session.execute(_insert(session, DeadLetter).values(
        document_id=document_id, delivery_id=delivery_id, reason=reason, created_at=now,
    ).on_conflict_do_nothing(index_elements=["document_id"]).returning(DeadLetter.id)).first() is not None


# =============================================================================================== sending


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


#: What a claim hands to the send: the claimed delivery's columns (``id``, ``idempotency_key``, ``attempts`` ...).
_CLAIMED = (_D.c.id, _D.c.idempotency_key, _D.c.document_id, _D.c.channel, _D.c.address, _D.c.kind,
            _D.c.legal_basis, _D.c.land, _D.c.attempts)


def _claim(session_factory: sessionmaker[Session], channels: Iterable[str], now: datetime,
           config: DeliveryConfig, *, limit: int | None = None) -> list[Any]:
    """:func:`claim_due`, returning the claimed rows (``_CLAIMED``) in claim order. One transaction: the due
    rows are read (PostgreSQL: ``FOR UPDATE SKIP LOCKED``), moved to ``sending`` by one conditional UPDATE
    whose RETURNING names the rows won, and their events appended under one lock of the chain's head.

    A ``sending`` row is due when its lease ran out or its holder is a dead process of this host
    (:func:`_dead_claimants`). A stored Land that is no Land code (written by a version that did not check the
    configuration) is replaced by the configured one, and the claim's event says so: a corrected configuration
    takes effect for deliveries planned before."""
    limit = limit or config.batch_size
    channels = list(channels)
    with session_factory() as session, session.begin():
        dead = _dead_claimants(session, channels, now)
        taken_over = or_(_D.c.lease_until.is_(None), _D.c.lease_until < now)
        if dead:
            taken_over = or_(taken_over, _D.c.claimed_by.in_(dead))
        due = or_((_D.c.state == "queued") & (or_(_D.c.next_attempt_at.is_(None), _D.c.next_attempt_at <= now)),
                  (_D.c.state == "sending") & taken_over)
        q = select(_D.c.id, _D.c.state, _D.c.claimed_by, _D.c.land).where(due, _D.c.channel.in_(channels)) \
            .order_by(_D.c.next_attempt_at, _D.c.id).limit(limit)
        if _dialect(session) == "postgresql":
            q = q.with_for_update(skip_locked=True)
        seen = {row.id: row for row in session.execute(q)}
        if not seen:
            return []
        queued = [i for i, row in seen.items() if row.state == "queued"]
        again = [i for i, row in seen.items() if row.state == "sending"]
        lease_until = now + config.lease
        # still in the state seen (and, for a resend, with the lease run out or its holder dead): the rows won
        won = {row.id: row for row in session.execute(
            update(_D).where(or_(_D.c.id.in_(queued) & (_D.c.state == "queued"),
                                 _D.c.id.in_(again) & (_D.c.state == "sending") & taken_over))
            .values(state="sending", claimed_by=config.worker, lease_until=lease_until,
                    attempts=_D.c.attempts + 1, updated_at=now,
                    land=case((_D.c.land.in_(LANDS), _D.c.land), else_=config.land))
            .returning(*_CLAIMED))}
        claimed = [won[i] for i in seen if i in won]
        events = []
        for d in claimed:
            before = seen[d.id]
            detail = {"worker": config.worker, "attempt": d.attempts, "lease_until": lease_until.isoformat()}
            reason = "claimed for sending"
            if before.state == "sending":
                detail["resend_after_crash"] = True  # the previous claim ran out: its send may have happened
                gone = before.claimed_by in dead
                detail["previous_worker"] = before.claimed_by
                reason += (" again: the previous worker's process is gone" if gone
                           else " again: the previous worker's lease ran out")
            if before.land != d.land:
                detail["land"] = {"stored": before.land, "now": d.land}
                reason += (f"; Land {before.land!r} is no Land code, the configured {d.land or 'none'} applies")
            events.append(dict(delivery_id=d.id, document_id=d.document_id, from_state=before.state,
                               to_state="sending", at=now, source="worker", reason=reason, detail=detail))
        append_events(session, events)
    return claimed


def _dead_claimants(session: Session, channels: list[str], now: datetime) -> list[str]:
    """The holders of live claims on ``channels`` that are dead processes of this host (a worker killed: its
    claims are taken over at once instead of after the lease)."""
    holders = session.execute(select(_D.c.claimed_by).where(
        _D.c.state == "sending", _D.c.channel.in_(channels), _D.c.lease_until >= now).distinct()).scalars()
    return dead_holders(holders)


def _delivery_format(session: Session, doc: Document) -> DeliveryFormat | None:
    """The format a channel sees; a finished document passed through is XRechnung when archived as XML, else
    ZUGFeRD."""
    if doc.format != DocumentFormat.PASSTHROUGH:
        try:
            return DeliveryFormat.of(doc.format)
        except ValueError:
            return None
    item = session.get(ArchiveItem, doc.sha256) if doc.sha256 else None
    if item is None:
        return None
    return DeliveryFormat.XRECHNUNG if item.media_type.endswith("xml") else DeliveryFormat.ZUGFERD


def _channel_delivery(session: Session, d: Any, load: ContentLoader, doc: Document | None = None):
    from mailbox_connectors.base import Delivery as ChannelDelivery

    doc = doc if doc is not None else session.get(Document, d.document_id)
    content = load(session, doc)
    fmt = DeliveryFormat.of(doc.format) if doc.format != DocumentFormat.PASSTHROUGH else (
        DeliveryFormat.XRECHNUNG if content.media_type.endswith("xml") else DeliveryFormat.ZUGFERD)
    return ChannelDelivery(delivery_id=d.idempotency_key, kind=d.kind, format=fmt, content=content.data,
                           filename=content.filename, media_type=content.media_type, address=d.address,
                           subject=content.subject or _subject(doc), body=content.body)


def _prepare(session_factory: sessionmaker[Session], claimed: list[Any], load: ContentLoader) -> list[tuple]:
    """(claimed row, channel delivery or None, PermanentFailure or None) of a claimed batch, its documents and
    archive items read with one query each, in one short transaction before the first send."""
    from mailbox_connectors.base import PermanentFailure

    out = []
    with session_factory() as session:
        docs = {doc.id: doc for doc in session.execute(
            select(Document).where(Document.id.in_({d.document_id for d in claimed}))).scalars()}
        shas = {doc.sha256 for doc in docs.values() if doc.sha256}
        if shas:  # into the session, where the loaders' session.get(ArchiveItem, sha256) finds them
            session.execute(select(ArchiveItem).where(ArchiveItem.sha256.in_(shas))).scalars().all()
        for d in claimed:
            try:
                out.append((d, _channel_delivery(session, d, load, docs.get(d.document_id)), None))
            except Exception as exc:  # content missing, bad address: the channel cannot take it
                if isinstance(exc, SQLAlchemyError):
                    session.rollback()  # an aborted transaction (PostgreSQL) must not fail the others too
                out.append((d, None, PermanentFailure(f"cannot build the delivery: {exc}", channel=d.channel,
                                                      delivery_id=d.idempotency_key)))
    return out


def deliver_due(session_factory: sessionmaker[Session], connectors: Mapping[str, Any], now: datetime | None = None,
                *, config: DeliveryConfig, content: ContentLoader,
                clock: Callable[[], datetime] | None = None, rng: random.Random | None = None,
                max_rounds: int = 1000) -> SendSummary:
    """Send what is due, claim by claim, until nothing due is left (see the module docstring)."""
    from mailbox_connectors.base import PermanentFailure, TemporaryFailure

    clock = clock or (lambda: now or utcnow())
    summary = SendSummary()
    for _ in range(max_rounds):
        at = clock()
        claimed = _claim(session_factory, connectors, at, config)
        if not claimed:
            break
        for d, channel_delivery, outcome in _prepare(session_factory, claimed, content):
            connector = connectors[d.channel]
            if outcome is None:
                try:
                    outcome = connector.send(channel_delivery)
                except (TemporaryFailure, PermanentFailure) as exc:
                    outcome = exc
                except Exception as exc:  # an adapter bug or a lost connection: retry later, keep the reason
                    log.exception("delivery %s: unexpected error from %s", d.idempotency_key, d.channel)
                    outcome = TemporaryFailure(f"unexpected error: {exc.__class__.__name__}: {exc}",
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
    from mailbox_connectors.base import Receipt, TemporaryFailure

    log.exception("delivery %s: recording %s failed", d.idempotency_key, type(outcome).__name__)
    evidence = b""
    if isinstance(outcome, Receipt):
        evidence = (f"the channel accepted it: {outcome.channel_message_id} at {outcome.accepted_at.isoformat()}"
                    ).encode()
    failure = TemporaryFailure(f"recording the outcome ({type(outcome).__name__}) failed: "
                               f"{type(exc).__name__}: {exc}", channel=d.channel, delivery_id=d.idempotency_key,
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
    from mailbox_connectors.base import PermanentFailure, Receipt, TemporaryFailure

    if isinstance(outcome, Receipt):
        _record_receipt(session_factory, delivery_id, outcome, now, config, summary, claimed)
        return
    with session_factory() as session, session.begin():
        d = session.execute(select(Delivery).where(Delivery.id == delivery_id).with_for_update()
                            .execution_options(populate_existing=True)).scalar_one()
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
                         reason=f"accepted by {outcome.channel}: {outcome.channel_message_id}",
                         detail={"channel_message_id": outcome.channel_message_id,
                                 "accepted_at": outcome.accepted_at.isoformat(), "attempt": d.attempts,
                                 "notification_only": outcome.notification_only},
                         evidence=outcome.evidence, evidence_type=outcome.evidence_type)
            _legal_dates(session, d, config, now)
            summary.sent.append(d.id)
            return
        exc = outcome
        text = str(exc)
        d.last_error = text
        if isinstance(exc, TemporaryFailure) and d.attempts < config.retry.max_attempts:
            wait = config.retry.delay(d.attempts, rng, getattr(exc, "retry_after", None))
            d.state, d.next_attempt_at = "queued", now + wait
            append_event(session, d, from_state="sending", to_state="queued", at=now, source="channel",
                         reason=f"temporary failure, attempt {d.attempts} of {config.retry.max_attempts}: {text}",
                         detail={"code": exc.code, "retry_at": d.next_attempt_at.isoformat(),
                                 "attempt": d.attempts}, evidence=exc.evidence or None,
                         evidence_type="text/plain" if exc.evidence else None)
            summary.retried.append(d.id)
            return
        why = (f"{d.attempts} attempts failed, the last: {text}" if isinstance(exc, TemporaryFailure)
               else f"refused: {text}")
        d.state, d.next_attempt_at, d.last_error = "failed", None, why
        append_event(session, d, from_state="sending", to_state="failed", at=now, source="channel", reason=why,
                     detail={"code": getattr(exc, "code", None), "attempt": d.attempts,
                             "permanent": isinstance(exc, PermanentFailure)},
                     evidence=getattr(exc, "evidence", b"") or None,
                     evidence_type="text/plain" if getattr(exc, "evidence", b"") else None)
        summary.failed.append(d.id)
        _fall_back(session, d, why, now, config, summary)


_RECEIPT_UPDATES: dict[tuple[bool, bool], Any] = {}


def _receipt_update(provision: bool, notice: bool) -> Any:
    """The conditional ``sending -> sent`` UPDATE of :func:`_record_receipt` (only while this worker's claim
    holds), built once per kind: with ``delivered_at`` (the receipt counts as provision), with the retrieval
    deadline (a notice; one set before is kept). Built per call, coercing its values and walking the new
    statement for its cache key cost more CPU than executing it."""
    stmt = _RECEIPT_UPDATES.get((provision, notice))
    if stmt is None:
        sent_at = bindparam("r_sent_at", type_=_D.c.sent_at.type)
        values: dict[str, Any] = dict(
            state="sent", sent_at=sent_at,
            channel_message_id=bindparam("r_message_id", type_=_D.c.channel_message_id.type),
            notification_only=bindparam("r_notification_only", type_=_D.c.notification_only.type),
            last_error=None, next_attempt_at=None, claimed_by=None, lease_until=None,
            updated_at=bindparam("r_now", type_=_D.c.updated_at.type))
        if provision:
            values["delivered_at"] = sent_at
        if notice:
            values["deadline_at"] = func.coalesce(_D.c.deadline_at,
                                                  bindparam("r_deadline", type_=_D.c.deadline_at.type))
        stmt = _RECEIPT_UPDATES[(provision, notice)] = (
            update(_D).where(_D.c.id == bindparam("r_id"), _D.c.state == "sending",
                             _D.c.claimed_by == bindparam("r_worker"))
            .values(values).returning(_D.c.attempts, _D.c.delivered_at, _D.c.retrieved_at))
    return stmt


def _record_receipt(session_factory: sessionmaker[Session], delivery_id: int, receipt: Any, now: datetime,
                    config: DeliveryConfig, summary: SendSummary, claimed: Any) -> None:
    """``sending -> sent`` with the receipt: one conditional UPDATE (this worker's claim, else nothing is
    recorded), the event, and for a notice its retrieval deadline and notification date."""
    with session_factory() as session, session.begin():
        d = claimed if claimed is not None else session.execute(select(*_CLAIMED).where(_D.c.id == delivery_id)).one()
        sent_at = receipt.accepted_at
        provision = d.channel in config.provision_on_receipt
        notice = d.kind == DocumentKind.NOTICE and bool(d.legal_basis)
        params: dict[str, Any] = dict(r_id=delivery_id, r_worker=config.worker, r_sent_at=sent_at,
                                      r_message_id=receipt.channel_message_id,
                                      r_notification_only=receipt.notification_only, r_now=now)
        if notice:
            params["r_deadline"] = retrieval_deadline(config.rules, d.legal_basis, d.land, _aware(sent_at))
        row = session.execute(_receipt_update(provision, notice), params).first()
        if row is None:
            summary.lost_claim.append(delivery_id)  # another worker took it over and records its own outcome
            log.warning("delivery %s: claim lost before recording (Receipt)", d.idempotency_key)
            return
        append_events(session, [dict(
            delivery_id=delivery_id, document_id=d.document_id, from_state="sending", to_state="sent", at=now,
            source="channel", reason=f"accepted by {receipt.channel}: {receipt.channel_message_id}",
            detail={"channel_message_id": receipt.channel_message_id,
                    "accepted_at": receipt.accepted_at.isoformat(), "attempt": row.attempts,
                    "notification_only": receipt.notification_only},
            evidence=receipt.evidence, evidence_type=receipt.evidence_type)])
        if notice:
            result = compute_notification_date(config.rules, d.legal_basis, d.land,
                                               provision_at=_aware(row.delivered_at),
                                               notification_sent_at=_aware(sent_at),
                                               retrieved_at=_aware(row.retrieved_at))
            if result is not None:
                _store_dates(session, delivery_id, d.document_id, result, now)
        summary.sent.append(delivery_id)


def _fall_back(session: Session, d: Delivery, reason: str, now: datetime, config: DeliveryConfig,
               summary: SendSummary | None = None, *, resend: bool = False) -> Delivery | None:
    """The next channel of the route takes over from a failed or expired delivery (``resend``: the same hop
    once more); after the last one the document goes to the dead letters."""
    from_state = d.state
    sequence = session.execute(select(func.max(Delivery.sequence)).where(Delivery.document_id == d.document_id)
                               ).scalar_one() + 1
    hop = d.hop
    if resend:
        same_hop = session.execute(select(func.count()).select_from(Delivery).where(
            Delivery.document_id == d.document_id, Delivery.hop == d.hop)).scalar_one()
        resend = same_hop < 2
    if not resend:
        hop += 1
    if hop >= len(d.route):
        d.finished_at = now
        if _dead_letter(session, d.document_id, d.id, f"no channel left ({d.channel} was the last): {reason}", now):
            if summary is not None:
                summary.dead.append(d.document_id)
        return None
    new = _queue(session, None, d.route, hop, sequence, config, now, document_id=d.document_id, kind=d.kind,
                 reason=f"{'sent again' if resend else 'fallback'} after {d.channel} ({from_state}): {reason}")
    if new is None:
        return None
    d.state, d.finished_at, d.updated_at = "fell_back", now, now
    append_event(session, d, from_state=from_state, to_state="fell_back", at=now, source="worker",
                 reason=f"{'the same channel again' if resend else 'next channel ' + new.channel}: {reason}",
                 detail={"next_delivery": new.idempotency_key, "next_channel": new.channel})
    if summary is not None:
        summary.fell_back.append(new.id)
    return new


# ============================================================================================== tracking


@dataclass
class TrackSummary:
    applied: list[str] = field(default_factory=list)  # event ids
    ignored: list[str] = field(default_factory=list)  # unknown delivery or not applicable
    expired: list[int] = field(default_factory=list)
    notified: list[int] = field(default_factory=list)
    fell_back: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)


_EVENT_MOVES: Mapping[str, tuple[tuple[str, ...], str, str]] = {
    # event state: (from states, to state, timestamp column)
    "delivered": (("sent",), "delivered", "delivered_at"),
    "retrieved": (("sent", "delivered"), "retrieved", "retrieved_at"),
    "failed": (("sent", "delivered"), "failed", ""),
    "delayed": (("sent",), "sent", ""),
}


def track(session_factory: sessionmaker[Session], connectors: Mapping[str, Any], now: datetime | None = None, *,
          config: DeliveryConfig, since: datetime | None = None) -> TrackSummary:
    """Collect the connectors' status events and apply them (each once: ``(delivery, event_id)`` is unique),
    expire deliveries whose retrieval deadline passed (then fall back or send again), and mark notices whose
    notification date has come ``deemed_notified``."""
    now = now or utcnow()
    summary = TrackSummary()
    for channel, connector in connectors.items():
        cut = since if since is not None else _oldest_open(session_factory, channel)
        if cut is False:
            continue  # nothing open on this channel
        events = list(connector.collect_events(cut))
        done = 0
        while done < len(events):
            applied = _apply_batch(session_factory, events[done:done + TRACK_BATCH], now, config, summary)
            if applied == 0:  # a failed delivery falls back: on its own, through the ORM path
                apply_event(session_factory, events[done], now, config, summary)
                applied = 1
            done += applied
    _expire(session_factory, now, config, summary)
    _deem(session_factory, now, config, summary)
    return summary


def _oldest_open(session_factory: sessionmaker[Session], channel: str) -> datetime | None | Literal[False]:
    with session_factory() as session:
        oldest = session.execute(select(func.min(Delivery.sent_at)).where(
            Delivery.channel == channel, Delivery.state.in_(("sending",) + OPEN_STATES))).scalar_one()
        if oldest is None:
            anything = session.execute(select(Delivery.id).where(
                Delivery.channel == channel, Delivery.state.in_(("sending",) + OPEN_STATES)).limit(1)).first()
            return None if anything else False
    return _aware(oldest) - timedelta(days=1)


def apply_event(session_factory: sessionmaker[Session], event, now: datetime, config: DeliveryConfig,
                summary: TrackSummary | None = None) -> bool:
    """Apply one :class:`~mailbox_connectors.base.StatusEvent` (once); False when ignored or seen before."""
    from erechnung.state.delivery_schema import DeliveryEvent

    summary = summary if summary is not None else TrackSummary()
    with session_factory() as session, session.begin():
        d = session.execute(select(Delivery).where(Delivery.idempotency_key == event.delivery_id).with_for_update()
                            .execution_options(populate_existing=True)).scalar_one_or_none()
        if d is None or event.at < _aware(d.created_at) - EVENT_CLOCK_SKEW:
            # unknown, or older than the delivery itself: a report about another database's delivery that had
            # the same key (give every installation its own DeliveryConfig.key_prefix)
            summary.ignored.append(event.event_id)
            return False
        seen = session.execute(select(DeliveryEvent.id).where(DeliveryEvent.delivery_id == d.id,
                                                              DeliveryEvent.channel_event_id == event.event_id)
                               ).first()
        if seen is not None:
            return False
        state = str(event.state)
        sources, target, column = _EVENT_MOVES[state]
        if d.state not in sources:
            if state == "retrieved" and d.state == "deemed_notified" and d.retrieved_at is None:
                target = "deemed_notified"  # a late retrieval changes nothing legally, but is kept as evidence
            else:
                summary.ignored.append(event.event_id)
                return False
        from_state = d.state
        if column:
            setattr(d, column, event.at)
        d.state, d.updated_at = target, now
        append_event(session, d, from_state=from_state, to_state=target, at=event.at, source="channel",
                     channel_event_id=event.event_id, reason=event.reason or f"{d.channel}: {state}",
                     detail={"event": state, "recorded_at": now.isoformat()}, evidence=event.evidence,
                     evidence_type=event.evidence_type)
        summary.applied.append(event.event_id)
        if target == "failed":
            d.last_error = event.reason or "the channel reported the delivery failed"
            new = _fall_back(session, d, d.last_error, now, config)
            if new is not None:
                summary.fell_back.append(new.id)
            else:
                summary.dead.append(d.document_id)
        else:
            _legal_dates(session, d, config, now)
    return True


#: Status events applied per transaction by :func:`track` (one chain-head lock, one INSERT of their events).
TRACK_BATCH = 100

_EVENT_ROW = (_D.c.id, _D.c.idempotency_key, _D.c.document_id, _D.c.channel, _D.c.kind, _D.c.legal_basis,
              _D.c.land, _D.c.state, _D.c.created_at, _D.c.sent_at, _D.c.delivered_at, _D.c.retrieved_at,
              _D.c.deadline_at)


def _apply_batch(session_factory: sessionmaker[Session], events: list, now: datetime, config: DeliveryConfig,
                 summary: TrackSummary) -> int:
    """Apply a prefix of ``events`` in one transaction, as :func:`apply_event` applies each (once per
    ``(delivery, event_id)``, the same moves and ignores), up to the first that fails a delivery (that one
    falls back through :func:`apply_event`). The deliveries are read (PostgreSQL: locked, in id order) and
    the events seen before looked up with one query each; the new events go into the chain under one head
    lock. Returns how many events were dealt with."""
    from erechnung.state.delivery_schema import DeliveryEvent

    E = DeliveryEvent.__table__
    with session_factory() as session, session.begin():
        q = select(*_EVENT_ROW).where(_D.c.idempotency_key.in_({e.delivery_id for e in events})).order_by(_D.c.id)
        if _dialect(session) == "postgresql":
            q = q.with_for_update(of=_D)
        rows = {r.idempotency_key: dict(r._mapping) for r in session.execute(q)}
        ids = {r["id"] for r in rows.values()}
        seen = set(session.execute(select(E.c.delivery_id, E.c.channel_event_id).where(
            E.c.delivery_id.in_(ids), E.c.channel_event_id.in_({e.event_id for e in events}))).tuples()) \
            if ids else set()
        appended: list[dict[str, Any]] = []
        changed: dict[int, dict[str, Any]] = {}
        done = 0
        for event in events:
            d = rows.get(event.delivery_id)
            if d is None or event.at < _aware(d["created_at"]) - EVENT_CLOCK_SKEW:
                summary.ignored.append(event.event_id)  # see apply_event
            elif event.event_id is None or (d["id"], event.event_id) in seen:
                pass  # applied before (apply_event's lookup finds any event without a channel id, too)
            else:
                state = str(event.state)
                sources, target, column = _EVENT_MOVES[state]
                if d["state"] not in sources:
                    if state == "retrieved" and d["state"] == "deemed_notified" and d["retrieved_at"] is None:
                        target = "deemed_notified"
                    else:
                        summary.ignored.append(event.event_id)
                        done += 1
                        continue
                if target == "failed":
                    break  # falls back: apply_event, after this batch commits
                from_state = d["state"]
                values = changed.setdefault(d["id"], {})
                if column:
                    d[column] = values[column] = event.at
                d["state"] = values["state"] = target
                values["updated_at"] = now
                appended.append(dict(delivery_id=d["id"], document_id=d["document_id"], from_state=from_state,
                                     to_state=target, at=event.at, source="channel",
                                     channel_event_id=event.event_id, reason=event.reason or f"{d['channel']}: {state}",
                                     detail={"event": state, "recorded_at": now.isoformat()},
                                     evidence=event.evidence, evidence_type=event.evidence_type))
                seen.add((d["id"], event.event_id))
                summary.applied.append(event.event_id)
            done += 1
        append_events(session, appended)
        notices = {d["id"]: d for d in rows.values()
                   if d["id"] in changed and d["kind"] == DocumentKind.NOTICE and d["legal_basis"]}
        stored = {r.delivery_id: (r.computed_date, r.inputs) for r in session.execute(
            select(_ND.c.delivery_id, _ND.c.computed_date, _ND.c.inputs).where(_ND.c.delivery_id.in_(notices)))} \
            if notices else {}
        results = {}
        for delivery_id, d in notices.items():  # _legal_dates on what the batch made of the delivery
            sent_at = _aware(d["sent_at"])
            if d["deadline_at"] is None:
                changed[delivery_id]["deadline_at"] = retrieval_deadline(config.rules, d["legal_basis"], d["land"],
                                                                         sent_at)
            results[delivery_id] = compute_notification_date(
                config.rules, d["legal_basis"], d["land"], provision_at=_aware(d["delivered_at"]),
                notification_sent_at=sent_at, retrieved_at=_aware(d["retrieved_at"]))
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for delivery_id, values in changed.items():
            by_columns.setdefault(tuple(sorted(values)), []).append(
                {"b_id": delivery_id, **{f"b_{c}": v for c, v in values.items()}})
        for columns, params in by_columns.items():  # one executemany per set of columns changed
            session.execute(update(_D).where(_D.c.id == bindparam("b_id"))
                            .values({c: bindparam(f"b_{c}") for c in columns}), params)
        for delivery_id, result in results.items():
            if result is not None:
                _store_dates(session, delivery_id, notices[delivery_id]["document_id"], result, now,
                             stored.get(delivery_id))
    return done


def _expire(session_factory: sessionmaker[Session], now: datetime, config: DeliveryConfig,
            summary: TrackSummary) -> None:
    with session_factory() as session:
        ids = list(session.execute(select(Delivery.id).where(
            Delivery.state.in_(("sent", "delivered")), Delivery.retrieved_at.is_(None),
            Delivery.deadline_at.is_not(None), Delivery.deadline_at <= now).order_by(Delivery.id)).scalars())
    for delivery_id in ids:
        with session_factory() as session, session.begin():
            d = session.execute(select(Delivery).where(Delivery.id == delivery_id).with_for_update()
                                .execution_options(populate_existing=True)).scalar_one()
            if d.state not in ("sent", "delivered") or d.retrieved_at is not None:
                continue
            rule = config.rules.rule(d.legal_basis, d.land)
            reason = (f"not retrieved by {_aware(d.deadline_at).isoformat()} ({rule.retrieval_deadline_days} days "
                      f"after the notification, {rule.title}): not notified")
            append_event(session, d, from_state=d.state, to_state="expired", at=now, source="computed",
                         reason=reason, detail={"deadline_at": _aware(d.deadline_at).isoformat(),
                                                "on_deadline": rule.on_deadline})
            d.state, d.updated_at = "expired", now
            summary.expired.append(d.id)
            new = _fall_back(session, d, reason, now, config, resend=rule.on_deadline == "resend")
            if new is not None:
                summary.fell_back.append(new.id)
            else:
                summary.dead.append(d.document_id)


def _deem(session_factory: sessionmaker[Session], now: datetime, config: DeliveryConfig,
          summary: TrackSummary) -> None:
    today = now.astimezone(ZoneInfo(config.rules.time_zone)).date()
    with session_factory() as session:
        ids = list(session.execute(select(Delivery.id)
                                   .join(NotificationDate, NotificationDate.delivery_id == Delivery.id)
                                   .where(Delivery.state.in_(OPEN_STATES), NotificationDate.computed_date <= today)
                                   .order_by(Delivery.id)).scalars())
    for delivery_id in ids:
        with session_factory() as session, session.begin():
            d = session.execute(select(Delivery).where(Delivery.id == delivery_id).with_for_update()
                                .execution_options(populate_existing=True)).scalar_one()
            nd = session.execute(select(NotificationDate).where(NotificationDate.delivery_id == d.id)).scalar_one()
            if d.state not in OPEN_STATES or nd.computed_date > today:
                continue
            append_event(session, d, from_state=d.state, to_state="deemed_notified", at=now, source="computed",
                         reason=f"notified on {nd.computed_date.isoformat()}: {nd.explanation}",
                         detail={"date": nd.computed_date.isoformat(), "inputs": nd.inputs})
            d.state, d.finished_at, d.updated_at = "deemed_notified", now, now
            summary.notified.append(d.id)


def _legal_dates(session: Session, d: Delivery, config: DeliveryConfig, now: datetime) -> None:
    """For a notice: the retrieval deadline and the notification date from what is known so far (stored with
    its inputs; recomputed when a later event changes them)."""
    if d.kind != DocumentKind.NOTICE or not d.legal_basis:
        return
    rules = config.rules
    sent_at, delivered_at, retrieved_at = _aware(d.sent_at), _aware(d.delivered_at), _aware(d.retrieved_at)
    if d.deadline_at is None:
        d.deadline_at = retrieval_deadline(rules, d.legal_basis, d.land, sent_at)
    result = compute_notification_date(rules, d.legal_basis, d.land, provision_at=delivered_at,
                                       notification_sent_at=sent_at, retrieved_at=retrieved_at)
    if result is None:
        return
    store_notification_date(session, d, result, now)


def store_notification_date(session: Session, d: Delivery, result, now: datetime) -> NotificationDate:
    """Upsert the delivery's notification date with its inputs."""
    values = _notification_values(d.document_id, result, now)
    nd = session.execute(select(NotificationDate).where(NotificationDate.delivery_id == d.id)).scalar_one_or_none()
    if nd is None:
        nd = NotificationDate(delivery_id=d.id, **values)
        session.add(nd)
    elif nd.computed_date != result.date or nd.inputs != values["inputs"]:
        for k, v in values.items():
            setattr(nd, k, v)
    session.flush()
    return nd


def _notification_values(document_id: int, result, now: datetime) -> dict[str, Any]:
    return dict(document_id=document_id, legal_basis=result.basis, land=result.land,
                start_event=result.start_event, provision_at=result.provision_at,
                notification_sent_at=result.notification_sent_at, retrieved_at=result.retrieved_at,
                days=result.days, earlier_retrieval_wins=result.earlier_retrieval_wins,
                shift_to_working_day=result.shift_to_working_day, calendar=result.calendar,
                calendar_version=result.calendar_version, rules_sha256=result.rules_sha256,
                inputs=result.inputs(), computed_date=result.date, explanation=result.explanation,
                computed_at=now)


_MISSING = object()
_DATES_INSERTS: dict[str, Any] = {}


def _store_dates(session: Session, delivery_id: int, document_id: int, result, now: datetime,
                 stored: Any = _MISSING) -> None:
    """:func:`store_notification_date` without the ORM: insert, or update when the date or its inputs changed
    (``stored``: the row's (computed_date, inputs) when already read, None when there is none)."""
    from erechnung.state.repository import _insert

    values = _notification_values(document_id, result, now)
    if stored is _MISSING:
        dialect = session.get_bind().dialect.name
        stmt = _DATES_INSERTS.get(dialect)
        if stmt is None:  # built once per dialect (see _receipt_update)
            stmt = _DATES_INSERTS[dialect] = (
                _insert(session, NotificationDate)
                .values({name: bindparam("n_" + name, type_=_ND.c[name].type) for name in ("delivery_id", *values)})
                .on_conflict_do_nothing(index_elements=["delivery_id"]).returning(_ND.c.id))
        new = session.execute(stmt, {"n_delivery_id": delivery_id, **{"n_" + k: v for k, v in values.items()}}
                              ).first()
        if new is not None:
            return
        stored = session.execute(select(_ND.c.computed_date, _ND.c.inputs)
                                 .where(_ND.c.delivery_id == delivery_id)).first()
    if stored is None:
        session.execute(insert(_ND).values(delivery_id=delivery_id, **values))
    elif stored[0] != result.date or stored[1] != values["inputs"]:
        session.execute(update(_ND).where(_ND.c.delivery_id == delivery_id).values(**values))


def notification_date_of(session: Session, document_id: int) -> date | None:
    """The date the document's notice counts as notified (of its newest delivery that has one)."""
    return session.execute(select(NotificationDate.computed_date).where(NotificationDate.document_id == document_id)
                           .order_by(NotificationDate.delivery_id.desc()).limit(1)).scalar_one_or_none()


def dead_letters(session: Session, *, open_only: bool = True) -> list[DeadLetter]:
    q = select(DeadLetter).order_by(DeadLetter.created_at, DeadLetter.id)
    if open_only:
        q = q.where(DeadLetter.resolved_at.is_(None))
    return list(session.execute(q).scalars())
