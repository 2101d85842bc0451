"""Read queries the console needs beyond the repository's (issue 14): documents found by number, Kassenzeichen,
recipient, date or state; deliveries counted by channel and state; the files per department; and the console's
append-only access log (``console_schema``). Every query takes ``departments``: None for all, else only those.
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from .console_schema import ConsoleAccess
from .delivery_schema import DeadLetter, Delivery
from .schema import Batch, Document, DocumentIdentity, LOCK_PREFIX, Recipient

#: The most documents a search shows (a narrower search finds the rest).
SEARCH_LIMIT = 200


@dataclass(frozen=True)
class DocumentSearch:
    number: str = ""
    kassenzeichen: str = ""
    recipient: str = ""
    issued_on: date | None = None
    state: str = ""

    def empty(self) -> bool:
        return not (self.number or self.kassenzeichen or self.recipient or self.issued_on or self.state)


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def find_documents(session: Session, search: DocumentSearch, *, departments: Collection[str] | None,
                   limit: int = SEARCH_LIMIT) -> list[tuple[Document, str | None]]:
    """(document, recipient's name) matching every given field, newest first, at most ``limit``: number and
    recipient (name or customer number) as parts, the Kassenzeichen whole or its start, date and state exactly."""
    q = select(Document, Recipient.name).outerjoin(
        Recipient, (Recipient.department == Document.department) & (Recipient.ref == Document.recipient_ref))
    if departments is not None:
        q = q.where(Document.department.in_(list(departments)))
    if search.number:
        q = q.where(Document.number.like(_like(search.number), escape="\\"))
    if search.kassenzeichen:
        q = q.where(select(DocumentIdentity.id).where(
            DocumentIdentity.document_id == Document.id,
            DocumentIdentity.identity.like(_like(f"kassenzeichen={search.kassenzeichen}"), escape="\\")).exists())
    if search.recipient:
        pattern = _like(search.recipient)
        q = q.where(or_(Recipient.name.like(pattern, escape="\\"), Document.recipient_ref.like(pattern, escape="\\")))
    if search.issued_on:
        q = q.where(Document.issue_date == search.issued_on)
    if search.state:
        q = q.where(Document.state == search.state)
    return [(d, name) for d, name in session.execute(q.order_by(Document.id.desc()).limit(limit)).all()]


def kassenzeichen_of(session: Session, document_id: int) -> str | None:
    """The Kassenzeichen the document's business identity names, if any."""
    for identity in session.execute(select(DocumentIdentity.identity)
                                    .where(DocumentIdentity.document_id == document_id)).scalars():
        for part in identity.split("|"):
            if part.startswith("kassenzeichen="):
                return part.removeprefix("kassenzeichen=")
    return None


def deliveries_by_channel_and_state(session: Session) -> dict[tuple[str, str], int]:
    return {(c, s): n for c, s, n in session.execute(
        select(Delivery.channel, Delivery.state, func.count()).group_by(Delivery.channel, Delivery.state)).all()}


def failed_deliveries(session: Session, limit: int = SEARCH_LIMIT) -> list[tuple[Delivery, Document]]:
    """Deliveries that failed or expired and are their document's last, without an open dead letter (those are
    listed as such): waiting for the next channel or for a person, newest first."""
    later = aliased(Delivery)
    q = select(Delivery, Document).join(Document, Document.id == Delivery.document_id).where(
        Delivery.state.in_(("failed", "expired")),
        ~select(later.id).where(later.document_id == Delivery.document_id, later.sequence > Delivery.sequence)
        .exists(),
        ~select(DeadLetter.id).where(DeadLetter.document_id == Delivery.document_id,
                                     DeadLetter.resolved_at.is_(None)).exists())
    return [(d, doc) for d, doc in session.execute(q.order_by(Delivery.updated_at.desc()).limit(limit)).all()]


def files_per_department(session: Session) -> dict[str, dict[str, Any]]:
    """Per department: files, documents, quarantined rows, failed files, the last file's time."""
    rows = session.execute(select(
        Batch.department, func.count(), func.sum(Batch.document_count), func.sum(Batch.quarantined_count),
        func.sum((Batch.status == "failed").cast(Batch.attempts.type)), func.max(Batch.received_at))
        .where(~Batch.department.startswith(LOCK_PREFIX)).group_by(Batch.department)).all()
    return {dep: {"files": n, "documents": docs or 0, "quarantined": q or 0, "failed": failed or 0, "last": last}
            for dep, n, docs, q, failed, last in rows}


def log_access(session: Session, *, user: str, role: str | None, action: str, path: str, remote: str | None,
               now: datetime, document_id: int | None = None, batch_id: int | None = None) -> None:
    """Append one row to the access log (never updated, never deleted)."""
    session.add(ConsoleAccess(at=now, user_name=user[:200], role=role, action=action, path=path[:500],
                              remote=(remote or "")[:100] or None, document_id=document_id, batch_id=batch_id))


def access_log(session: Session, *, document_id: int | None = None, limit: int = 200) -> list[ConsoleAccess]:
    q = select(ConsoleAccess).order_by(ConsoleAccess.id.desc()).limit(limit)
    if document_id is not None:
        q = q.where(ConsoleAccess.document_id == document_id)
    return list(session.execute(q).scalars())
