"""Dead letters: documents no channel could deliver, once per document, with the reason, for finance."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..delivery_schema import DeadLetter
from ..repository import _insert


def add_dead_letter(session: Session, document_id: int, delivery_id: int | None, reason: str,
                    now: datetime) -> bool:
    """The document's dead letter; False when it has an open one already. A resolved one (finance retried the
    document, ``erechnung.delivery.actions``) is opened again with the new reason: the decision before stays in
    the delivery audit trail."""
    insert = _insert(session, DeadLetter).values(document_id=document_id, delivery_id=delivery_id, reason=reason,
                                                 created_at=now)
    return session.execute(insert.on_conflict_do_update(
        index_elements=["document_id"],
        set_={"delivery_id": delivery_id, "reason": reason, "created_at": now, "resolved_at": None,
              "resolution": None},
        where=DeadLetter.__table__.c.resolved_at.is_not(None)).returning(DeadLetter.id)).first() is not None


def dead_letters(session: Session, *, open_only: bool = True) -> list[DeadLetter]:
    q = select(DeadLetter).order_by(DeadLetter.created_at, DeadLetter.id)
    if open_only:
        q = q.where(DeadLetter.resolved_at.is_(None))
    return list(session.execute(q).scalars())
