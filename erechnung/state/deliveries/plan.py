"""Planning's SQL: the handed-over documents without a delivery, their register entries, and queued deliveries
inserted once per idempotency key (``INSERT ... ON CONFLICT DO NOTHING``: planned before, by a crashed run or
another planner, is no error and no second row)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..delivery_schema import DeadLetter, Delivery
from ..repository import _insert
from ..schema import Document, Recipient

_D = Delivery.__table__


def unplanned(session: Session, document_ids: Iterable[int] | None = None) -> list[int]:
    """The handed-over documents (of ``document_ids``) with neither a delivery nor a dead letter, by id."""
    q = select(Document.id).where(Document.state == "handed_over",
                                  ~select(Delivery.id).where(Delivery.document_id == Document.id).exists(),
                                  ~select(DeadLetter.id).where(DeadLetter.document_id == Document.id).exists())
    if document_ids is not None:
        q = q.where(Document.id.in_(list(document_ids)))
    return list(session.execute(q.order_by(Document.id)).scalars())


def register_entries(session: Session, docs: Sequence[Document]) -> dict[tuple[str, str], Any]:
    """The persisted register's data of the documents' recipients, by (department, ref)."""
    refs = {doc.recipient_ref for doc in docs if doc.recipient_ref}
    if not refs:
        return {}
    return {(row.department, row.ref): row.data for row in session.execute(select(Recipient).where(
        Recipient.department.in_({doc.department for doc in docs}), Recipient.ref.in_(refs))).scalars()}


def insert_queued(session: Session, rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Insert the deliveries ``rows``; the ids of those that were new, by idempotency key (a key or
    (document, sequence) there already was planned before)."""
    return dict(session.execute(_insert(session, _D).values(list(rows)).on_conflict_do_nothing()
                                .returning(_D.c.idempotency_key, _D.c.id)).all())


def insert_delivery(session: Session, values: Mapping[str, Any]) -> int | None:
    """Insert one delivery; its id, None when its key or (document, sequence) was there."""
    return session.execute(_insert(session, Delivery).values(**values).on_conflict_do_nothing()
                           .returning(Delivery.id)).scalar_one_or_none()


def next_sequence(session: Session, document_id: int) -> int:
    """The sequence number of the document's next delivery."""
    return session.execute(select(func.max(Delivery.sequence)).where(Delivery.document_id == document_id)
                           ).scalar_one() + 1


def on_hop(session: Session, document_id: int, hop: int) -> int:
    """How many deliveries of the document went to ``hop`` of its route."""
    return session.execute(select(func.count()).select_from(Delivery).where(
        Delivery.document_id == document_id, Delivery.hop == hop)).scalar_one()
