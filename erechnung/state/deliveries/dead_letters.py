"""Dead letters: documents no channel could deliver, once per document, with the reason, for finance."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..delivery_schema import DeadLetter
from ..repository import _insert


def add_dead_letter(session: Session, document_id: int, delivery_id: int | None, reason: str,
                    now: datetime) -> bool:
    """The document's dead letter; False when it has one already."""
    return session.execute(_insert(session, DeadLetter).values(
        document_id=document_id, delivery_id=delivery_id, reason=reason, created_at=now,
    ).on_conflict_do_nothing(index_elements=["document_id"]).returning(DeadLetter.id)).first() is not None


def dead_letters(session: Session, *, open_only: bool = True) -> list[DeadLetter]:
    q = select(DeadLetter).order_by(DeadLetter.created_at, DeadLetter.id)
    if open_only:
        q = q.where(DeadLetter.resolved_at.is_(None))
    return list(session.execute(q).scalars())
