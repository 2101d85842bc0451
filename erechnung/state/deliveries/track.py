"""Tracking's SQL: deliveries by their key for status events (locked, on PostgreSQL in id order), the events
applied before, the deliveries whose retrieval deadline passed or whose notification date has come."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from ..delivery_schema import Delivery, DeliveryEvent, NotificationDate
from . import aware, dialect

_D = Delivery.__table__
_E = DeliveryEvent.__table__

#: Sent, waiting for status events or the notification date.
OPEN_STATES = ("sent", "delivered", "retrieved")

_EVENT_ROW = (_D.c.id, _D.c.idempotency_key, _D.c.document_id, _D.c.channel, _D.c.kind, _D.c.legal_basis,
              _D.c.land, _D.c.state, _D.c.created_at, _D.c.sent_at, _D.c.delivered_at, _D.c.retrieved_at,
              _D.c.deadline_at)


def oldest_open(session: Session, channel: str) -> datetime | None | Literal[False]:
    """When the oldest delivery on ``channel`` still open (sending or waiting for events) was sent; None when
    none of them was sent yet, False when none is open."""
    oldest = session.execute(select(func.min(Delivery.sent_at)).where(
        Delivery.channel == channel, Delivery.state.in_(("sending",) + OPEN_STATES))).scalar_one()
    if oldest is None:
        anything = session.execute(select(Delivery.id).where(
            Delivery.channel == channel, Delivery.state.in_(("sending",) + OPEN_STATES)).limit(1)).first()
        return None if anything else False
    return aware(oldest)


def lock_by_key(session: Session, key: str) -> Delivery | None:
    """The delivery with idempotency key ``key``, locked (PostgreSQL) and read afresh."""
    return session.execute(select(Delivery).where(Delivery.idempotency_key == key).with_for_update()
                           .execution_options(populate_existing=True)).scalar_one_or_none()


def event_seen(session: Session, delivery_id: int, channel_event_id: str | None) -> bool:
    """Whether the delivery has the channel's event ``channel_event_id`` (None: an event without one)."""
    return session.execute(select(DeliveryEvent.id).where(DeliveryEvent.delivery_id == delivery_id,
                                                          DeliveryEvent.channel_event_id == channel_event_id)
                           ).first() is not None


def lock_by_keys(session: Session, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The deliveries with these keys, as dicts of their id, key, document, channel, kind, legal basis, Land,
    state and times, by key; locked in id order on PostgreSQL."""
    q = select(*_EVENT_ROW).where(_D.c.idempotency_key.in_(set(keys))).order_by(_D.c.id)
    if dialect(session) == "postgresql":
        q = q.with_for_update(of=_D)
    return {r.idempotency_key: dict(r._mapping) for r in session.execute(q)}


def events_seen(session: Session, delivery_ids: set[int], channel_event_ids: set) -> set[tuple[int, Any]]:
    """(delivery, channel event id) of those events the deliveries have."""
    if not delivery_ids:
        return set()
    return set(session.execute(select(_E.c.delivery_id, _E.c.channel_event_id).where(
        _E.c.delivery_id.in_(delivery_ids), _E.c.channel_event_id.in_(channel_event_ids))).tuples())


def update_deliveries(session: Session, changed: Mapping[int, Mapping[str, Any]]) -> None:
    """Write the changed columns of each delivery: one executemany per set of columns changed."""
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for delivery_id, values in changed.items():
        by_columns.setdefault(tuple(sorted(values)), []).append(
            {"b_id": delivery_id, **{f"b_{c}": v for c, v in values.items()}})
    for columns, params in by_columns.items():
        session.execute(update(_D).where(_D.c.id == bindparam("b_id"))
                        .values({c: bindparam(f"b_{c}") for c in columns}), params)


def past_deadline(session: Session, now: datetime) -> list[int]:
    """Deliveries sent or delivered, not retrieved, whose retrieval deadline is ``now`` or before, by id."""
    return list(session.execute(select(Delivery.id).where(
        Delivery.state.in_(("sent", "delivered")), Delivery.retrieved_at.is_(None),
        Delivery.deadline_at.is_not(None), Delivery.deadline_at <= now).order_by(Delivery.id)).scalars())


def notified_by(session: Session, today: date) -> list[int]:
    """Open deliveries whose notification date is ``today`` or before, by id."""
    return list(session.execute(select(Delivery.id)
                                .join(NotificationDate, NotificationDate.delivery_id == Delivery.id)
                                .where(Delivery.state.in_(OPEN_STATES), NotificationDate.computed_date <= today)
                                .order_by(Delivery.id)).scalars())


def count_by_state(session: Session) -> dict[str, int]:
    """How many deliveries there are in each state."""
    return dict(session.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).all())
