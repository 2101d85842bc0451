"""The notification dates of notice deliveries (``notification_dates``): stored with every input of their
computation, one per delivery, rewritten only when the date or its inputs change."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from ..delivery_schema import Delivery, NotificationDate
from ..repository import _insert

_ND = NotificationDate.__table__


def notification_values(document_id: int, result: Any, now: datetime) -> dict[str, Any]:
    """The row of a computed date (``erechnung.delivery.notification.NotificationResult``), but its delivery."""
    return dict(document_id=document_id, legal_basis=result.basis, land=result.land,
                start_event=result.start_event, provision_at=result.provision_at,
                notification_sent_at=result.notification_sent_at, retrieved_at=result.retrieved_at,
                days=result.days, earlier_retrieval_wins=result.earlier_retrieval_wins,
                shift_to_working_day=result.shift_to_working_day, calendar=result.calendar,
                calendar_version=result.calendar_version, rules_sha256=result.rules_sha256,
                inputs=result.inputs(), computed_date=result.date, explanation=result.explanation,
                computed_at=now)


def notification_date(session: Session, delivery_id: int) -> NotificationDate:
    """The delivery's notification date (there must be one)."""
    return session.execute(select(NotificationDate).where(NotificationDate.delivery_id == delivery_id)).scalar_one()


def store_notification_date(session: Session, d: Delivery, result: Any, now: datetime) -> NotificationDate:
    """Upsert the delivery's notification date with its inputs."""
    values = notification_values(d.document_id, result, now)
    nd = session.execute(select(NotificationDate).where(NotificationDate.delivery_id == d.id)).scalar_one_or_none()
    if nd is None:
        nd = NotificationDate(delivery_id=d.id, **values)
        session.add(nd)
    elif nd.computed_date != result.date or nd.inputs != values["inputs"]:
        for k, v in values.items():
            setattr(nd, k, v)
    session.flush()
    return nd


def stored_dates(session: Session, delivery_ids: Iterable[int]) -> dict[int, tuple[date, Any]]:
    """(computed date, inputs) of the deliveries that have one, by delivery."""
    return {r.delivery_id: (r.computed_date, r.inputs) for r in session.execute(
        select(_ND.c.delivery_id, _ND.c.computed_date, _ND.c.inputs).where(_ND.c.delivery_id.in_(delivery_ids)))}


_MISSING = object()
_DATES_INSERTS: dict[str, Any] = {}


def store_dates(session: Session, delivery_id: int, document_id: int, result: Any, now: datetime,
                stored: Any = _MISSING) -> None:
    """:func:`store_notification_date` without the ORM: insert, or update when the date or its inputs changed
    (``stored``: the row's (computed_date, inputs) when already read, None when there is none)."""
    values = notification_values(document_id, result, now)
    if stored is _MISSING:
        dialect = session.get_bind().dialect.name
        stmt = _DATES_INSERTS.get(dialect)
        if stmt is None:  # built once per dialect (see send._receipt_update)
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
