"""Planning: every handed-over document gets its first delivery, queued on the first hop of its route (which
channels, in which order: ``routing``), or a dead letter when no channel can deliver it.

A delivery's ``idempotency_key`` (``<prefix>-<document>-<channel>-<sequence>``, :func:`delivery_key`) is
UNIQUE; planning inserts it with ON CONFLICT DO NOTHING, so a crash or a second planner never loses or
duplicates it. Planning is idempotent: a document with a delivery or a dead letter is not planned again.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from erechnung.model.clock import in_berlin
from erechnung.state import deliveries as repo
from erechnung.state.deliveries import plan as plan_repo
from erechnung.state.deliveries.dead_letters import add_dead_letter
from erechnung.state.schema import ArchiveItem, Document, utcnow
from mailbox_connectors.base import MailboxConnector

from .audit import append_events
from .config import DeliveryConfig
from .content import delivery_format
from .routing import Hop, Route, route
from .texts import EVENT


def delivery_key(prefix: str, document_id: int, channel: str, sequence: int) -> str:
    return f"{prefix}-{document_id}-{channel}-{sequence}"


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
                    connectors: Mapping[str, MailboxConnector] | None = None,
                    document_ids: Iterable[int] | None = None,
                    register: Callable[[Session, Document], Any] | None = None) -> PlanResult:
    """Queue the first delivery of every handed-over document that has none yet (or of ``document_ids``):
    route it (recipient from the persisted register, limits and available channels from ``connectors``) and
    insert delivery 1 on the route's first hop; no channel at all -> dead letter. Idempotent. Documents are
    planned ``PLAN_BATCH`` per transaction. A notice is queued for posting now: ``now``'s day in Berlin is its
    posting day, whose consent model decides its electronic channels (``consent.toml``)."""
    now = now or utcnow()
    result = PlanResult()
    limits = {name: c.capabilities.max_bytes for name, c in (connectors or {}).items()}
    formats = {name: frozenset(str(getattr(f, "value", f)) for f in c.capabilities.formats)
               for name, c in (connectors or {}).items()}
    available = set(connectors) if connectors is not None else None
    with session_factory() as session:
        ids = plan_repo.unplanned(session, document_ids)
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

    with session_factory() as session, session.begin():
        docs = repo.documents(session, ids)  # with their archive items, for _document_size and delivery_format
        recipients = plan_repo.register_entries(session, docs) if register is None else {}
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
                if add_dead_letter(session, doc.id, None, EVENT["not_in_register"].format(
                        recipient=doc.recipient_ref, department=doc.department), now):
                    result.dead.append(doc.id)
                continue
            planned = route(recipient, doc.kind, size=_document_size(session, doc), limits=limits,
                            available=available, rules=config.rules, notice_group=config.notice_group,
                            formats=formats, document_format=delivery_format(session, doc),
                            portals=config.portals, posting_day=in_berlin(now).date(), consent=config.consent,
                            land=config.land)
            if not planned.hops:
                why = "; ".join(filter(None, (EVENT["no_channel"], planned.left_out())))
                if add_dead_letter(session, doc.id, None, why, now):
                    result.dead.append(doc.id)
                continue
            queued.append(queue_values(doc.id, doc.kind, planned, 0, 1, config, now,
                                       reason=EVENT["route"].format(route=planned.explain())))
        if not queued:
            return
        new = plan_repo.insert_queued(session, [values for values, _ in queued])
        events = []
        for values, event in queued:
            if values["idempotency_key"] in new:
                events.append(dict(event, delivery_id=new[values["idempotency_key"]]))
                result.planned.append(new[values["idempotency_key"]])
        append_events(session, events)


def queue_values(document_id: int, kind: str, planned: Route | list, hop: int, sequence: int,
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
