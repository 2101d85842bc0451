"""The delivery service's SQL over the tables of ``delivery_schema``, one module per concern of
``erechnung.delivery``: ``plan`` (documents to plan, queued deliveries, register entries), ``send`` (claims and
the receipt), ``track`` (status events, retrieval deadlines, notification dates that have come),
``legal_dates`` (notification dates with their inputs) and ``dead_letters``; here what they share: reading
documents, locking one delivery.

As in ``repository``, transactions belong to the caller: a function here executes and flushes but never
commits. A lock taken here (``SELECT ... FOR UPDATE``, ``SKIP LOCKED`` for claims, on PostgreSQL; on SQLite
every transaction holds the write lock from ``BEGIN IMMEDIATE``) is held until the caller's transaction ends.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..delivery_schema import Delivery
from ..schema import ArchiveItem, Document


def aware(value: datetime | None) -> datetime | None:
    """Datetimes read back from SQLite are naive: make them aware UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def documents(session: Session, ids: Iterable[int]) -> list[Document]:
    """The documents ``ids`` in id order, their archive items read into the session with them (where
    ``session.get(ArchiveItem, sha256)`` finds them without a query each)."""
    docs = list(session.execute(select(Document).where(Document.id.in_(ids)).order_by(Document.id)).scalars())
    shas = {doc.sha256 for doc in docs if doc.sha256}
    if shas:
        session.execute(select(ArchiveItem).where(ArchiveItem.sha256.in_(shas))).scalars().all()
    return docs


def lock_delivery(session: Session, delivery_id: int) -> Delivery:
    """The delivery, locked (PostgreSQL) and read afresh."""
    return session.execute(select(Delivery).where(Delivery.id == delivery_id).with_for_update()
                           .execution_options(populate_existing=True)).scalar_one()


__all__ = ["aware", "dialect", "documents", "lock_delivery"]
