"""Set-based state changes for a chunk of documents: the same transitions as the repository's per-document
``record_rendered``, ``mark_archived``, ``mark_handed_over`` and ``index_archived``, as one statement per chunk
(executemany), because per document each costs a locked read, a flush and a freshly compiled statement (about
2-7 ms each, measured: more than the rendering of an XML invoice). Each statement names the states it moves from,
so that a repeated call changes nothing, and a document that is already further along is left alone.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from ..state.schema import ArchiveItem, Document, Record, utcnow

_DOCS = Document.__table__
_ITEMS = ArchiveItem.__table__


def record_verdicts(s: Session, results: Sequence[Any]) -> None:
    """Per result (``id``, ``verdict`` accept|reject, ``sha256``, ``report_sha256``): numbered or rendered ->
    rendered (accepted), numbered, rendered or rejected -> rejected; hash, verdict and report recorded. Documents
    already archived keep what the archive holds."""
    now = utcnow()
    for verdict, state, sources in (("accept", "rendered", ("numbered", "rendered")),
                                    ("reject", "rejected", ("numbered", "rendered", "rejected"))):
        rows = [{"b_id": r.id, "b_sha": r.sha256, "b_report": r.report_sha256} for r in results
                if r.verdict == verdict]
        if not rows:
            continue
        from_state = or_(*(_DOCS.c.state == src for src in sources))  # IN (...) cannot go with executemany
        stmt = (update(_DOCS).where(and_(_DOCS.c.id == bindparam("b_id"), from_state))
                .values(state=state, verdict=verdict, sha256=bindparam("b_sha"), report_sha256=bindparam("b_report"),
                        updated_at=now))
        s.connection().execute(stmt, rows)


def mark_archived(s: Session, ids: Iterable[int]) -> tuple[list[int], list[int]]:
    """rendered -> archived; a rejected document keeps its state and gets ``archived_at``. Returns (archived,
    rejected) ids as they are now."""
    ids = list(ids)
    if not ids:
        return [], []
    now = utcnow()
    conn = s.connection()
    conn.execute(update(_DOCS).where(_DOCS.c.id.in_(ids), _DOCS.c.state == "rendered")
                 .values(state="archived", archived_at=now, updated_at=now))
    conn.execute(update(_DOCS).where(_DOCS.c.id.in_(ids), _DOCS.c.state == "rejected", _DOCS.c.archived_at.is_(None))
                 .values(archived_at=now))
    rows = conn.execute(select(_DOCS.c.id, _DOCS.c.state).where(_DOCS.c.id.in_(ids))).all()
    return ([i for i, st in rows if st in ("archived", "handed_over")], [i for i, st in rows if st == "rejected"])


def mark_handed_over(s: Session, ids: Iterable[int]) -> list[int]:
    """archived -> handed_over; returns the ids moved now."""
    ids = list(ids)
    if not ids:
        return []
    conn = s.connection()
    moving = list(conn.execute(select(_DOCS.c.id).where(_DOCS.c.id.in_(ids), _DOCS.c.state == "archived")
                               .with_for_update()).scalars())
    if moving:
        now = utcnow()
        conn.execute(update(_DOCS).where(_DOCS.c.id.in_(moving), _DOCS.c.state == "archived")
                     .values(state="handed_over", handed_over_at=now, updated_at=now))
    return moving


def index_archived(s: Session, entries: Sequence[tuple[Any, int | None, int | None]]) -> None:
    """Archive index rows for ``(ArchivedItem, document_id, batch_id)`` entries, once per sha256 (an item indexed
    before keeps its row)."""
    if not entries:
        return
    name = s.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    now = utcnow()
    rows, seen = [], set()
    for item, document_id, batch_id in entries:
        if item.sha256 in seen:
            continue
        seen.add(item.sha256)
        rows.append({"sha256": item.sha256, "kind": str(item.kind), "department": item.department,
                     "media_type": item.media_type, "size": item.size, "document_id": document_id,
                     "batch_id": batch_id, "retention_until": item.retention_until, "archived_at": now,
                     "meta": item.to_meta()})
    s.connection().execute(insert(_ITEMS).on_conflict_do_nothing(index_elements=["sha256"]), rows)


_RECORDS = Record.__table__


def create_documents(s: Session, documents: Sequence[dict[str, Any]]) -> dict[str, int]:
    """``documents`` (each the columns of a new document, and ``rows``: its (first, last) batch rows) created in
    two statements, the documents and then their records (``documented``); returns idempotency key -> id. Meant
    for keys that do not exist yet: a key, a number or a record that does raises IntegrityError (the caller's
    savepoint then undoes both statements), like :func:`erechnung.state.repository.create_document` would for
    the one document, which costs a savepoint, a locked read, a key lookup and three flushes per document."""
    if not documents:
        return {}
    conn = s.connection()
    ids = dict(conn.execute(insert(_DOCS).returning(_DOCS.c.idempotency_key, _DOCS.c.id),
                            [{k: v for k, v in d.items() if k != "rows"} for d in documents]).all())
    records = [{"batch_id": d["batch_id"], "row_first": first, "row_last": last, "status": "documented",
                "document_id": ids[d["idempotency_key"]]} for d in documents for first, last in d["rows"]]
    if records:
        conn.execute(insert(_RECORDS), records)
    return ids
