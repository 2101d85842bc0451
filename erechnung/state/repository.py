"""What the flows do with the state database: plain functions taking a Session, no Prefect.

Transactions belong to the caller (``with transaction(engine) as s: ...``): a function here flushes but never
commits, so that what must happen together does (a document, its number and its records' status in one
transaction). Where a function must tolerate a concurrent writer it uses a savepoint and the database's
unique constraints, never a read-then-write race.

Guarantees:

* **Exactly once per batch**: a batch is identified by (department, sha256); dropping the same file twice
  gives ``duplicate`` the second time. A claimed batch carries a lease (``lease_until``) that the worker
  renews with :func:`heartbeat`; after a crash the lease runs out and :func:`claim_batch` lets another worker
  take it over (``resumed``), the old worker's heartbeat then fails.
* **Exactly once per document**: the idempotency key is UNIQUE; :func:`create_document` with a key that
  exists returns the existing document (``created=False``) and allocates no number, so re-running a batch
  after a crash, or running the same batch twice, yields each document once.
* **Gap-free numbers**: :func:`allocate_number` locks the number range row (``SELECT ... FOR UPDATE`` on
  PostgreSQL; on SQLite every transaction holds the write lock from ``BEGIN IMMEDIATE``) and increments it in
  the caller's transaction: a number is consumed only if the transaction that creates the document commits.
  Keep that transaction short: it serializes document creation per number range.
* **Idempotent records**: a record is once per (batch, first row); recording it again is a no-op.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable, Literal, Mapping, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from erechnung.errors import ErechnungError

from .schema import (LOCK_PREFIX, ArchiveItem, Batch, Document, DocumentCorrection, DocumentIdentity, NumberRange,
                     Quarantine, Recipient, Record, Run, utcnow)

DEFAULT_LEASE = timedelta(minutes=5)


class StateError(ErechnungError):
    """The state database refuses an operation (unknown document, a state change that is not allowed)."""


class BatchNotReleasable(StateError):
    """Only a batch set aside as poison can be released for the runs again."""


def _insert(session: Session, model):
    """The dialect's INSERT (with ON CONFLICT support) for ``model``."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover
        raise StateError(f"unsupported database dialect {name!r} (use SQLite or PostgreSQL)")
    return insert(model)


def _now(now: datetime | None) -> datetime:
    return now or utcnow()


def _aware(value: datetime | None) -> datetime | None:
    """Datetimes read back through the ORM identity map may be naive on SQLite: make them aware UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


# ================================================================================================ runs


def start_run(session: Session, run_id: str | None = None, *, now: datetime | None = None) -> Run:
    """Record the start of a pipeline run (``run_id`` defaults to a new UUID)."""
    run = Run(id=run_id or str(uuid.uuid4()), started_at=_now(now), status="running", counts={})
    session.add(run)
    session.flush()
    return run


def finish_run(session: Session, run_id: str, counts: Mapping[str, int], *, status: str = "finished",
               now: datetime | None = None) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise StateError(f"run {run_id}: unknown")
    run.finished_at, run.status, run.counts = _now(now), status, dict(counts)
    session.flush()
    return run


# ============================================================================================= batches


@dataclass(frozen=True)
class BatchClaim:
    """The outcome of :func:`claim_batch`.

    ``outcome``: ``claimed`` (first time), ``resumed`` (taken over after the previous worker's lease ran
    out, or re-claimed by the same worker), ``duplicate`` (this file was processed before: do nothing but
    remove it from the inbox), ``busy`` (another worker holds a live lease).
    """

    batch: Batch
    outcome: Literal["claimed", "resumed", "duplicate", "busy"]

    @property
    def mine(self) -> bool:
        """Whether the caller now holds the batch and must process it."""
        return self.outcome in ("claimed", "resumed")


def claim_batch(session: Session, *, department: str, source_key: str, sha256: str, worker: str,
                lease: timedelta = DEFAULT_LEASE, size: int | None = None, run_id: str | None = None,
                received_at: datetime | None = None, now: datetime | None = None) -> BatchClaim:
    """Claim the batch (department, sha256) for ``worker`` (see :class:`BatchClaim`). Commit promptly: the
    claim is visible to other workers only then."""
    now = _now(now)
    inserted = session.execute(
        _insert(session, Batch).values(
            department=department, source_key=source_key, sha256=sha256, size=size, run_id=run_id,
            received_at=received_at or now, claimed_at=now, claimed_by=worker, lease_until=now + lease,
            attempts=1, status="claimed", record_count=0, documented_count=0, quarantined_count=0,
            document_count=0,
        ).on_conflict_do_nothing(index_elements=["department", "sha256"]).returning(Batch.id)
    ).first() is not None  # (an INSERT's rowcount is -1 on psycopg when SQLAlchemy adds RETURNING itself)
    batch = session.execute(select(Batch).where(Batch.department == department, Batch.sha256 == sha256)
                            .execution_options(populate_existing=True)).scalar_one()
    if inserted:
        return BatchClaim(batch, "claimed")
    if batch.status != "claimed":
        return BatchClaim(batch, "duplicate")
    # Compare-and-set: take the batch over only if nobody renewed or took it meanwhile.
    condition = (Batch.claimed_by == worker) | (Batch.lease_until < now) | (Batch.lease_until.is_(None))
    taken = session.execute(
        update(Batch).where(Batch.id == batch.id, Batch.status == "claimed", condition)
        .values(claimed_by=worker, claimed_at=now, lease_until=now + lease, attempts=Batch.attempts + 1,
                run_id=run_id if run_id is not None else Batch.run_id)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    session.refresh(batch)
    return BatchClaim(batch, "resumed" if taken else "busy")


def heartbeat(session: Session, batch_id: int, worker: str, *, lease: timedelta = DEFAULT_LEASE,
              now: datetime | None = None) -> bool:
    """Renew ``worker``'s lease; ``False`` when the worker no longer holds the batch (it was taken over after
    its lease ran out, or is finished): the worker must then stop working on it."""
    now = _now(now)
    return session.execute(
        update(Batch).where(Batch.id == batch_id, Batch.claimed_by == worker, Batch.status == "claimed")
        .values(lease_until=now + lease).execution_options(synchronize_session=False)
    ).rowcount == 1


def finish_batch(session: Session, batch_id: int, worker: str, *, status: Literal["done", "failed"] = "done",
                 now: datetime | None = None) -> bool:
    """Mark the batch done (or failed) with counts taken from its records and documents; ``False`` when
    ``worker`` no longer holds it."""
    if status not in ("done", "failed"):
        raise StateError(f"finish_batch: status must be done or failed, not {status!r}")
    counts = batch_counts(session, batch_id)
    done = session.execute(
        update(Batch).where(Batch.id == batch_id, Batch.claimed_by == worker, Batch.status == "claimed")
        .values(status=status, finished_at=_now(now), lease_until=None, **counts)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    return done


def fail_batch(session: Session, batch_id: int, worker: str, *, error: str, max_attempts: int,
               now: datetime | None = None) -> str | None:
    """Record that ``worker``'s attempt at the batch failed with an unexpected ``error``: the batch is released
    (its lease cleared, so the next run takes it over at once) and ``"retry"`` returned, or, once it has been
    attempted ``max_attempts`` times, set aside as poison (:func:`poison_batch`) and ``"poison"`` returned.
    ``None`` when ``worker`` no longer holds it."""
    batch = session.execute(select(Batch).where(Batch.id == batch_id, Batch.claimed_by == worker,
                                                Batch.status == "claimed")
                            .execution_options(populate_existing=True)).scalar_one_or_none()
    if batch is None:
        return None
    if batch.attempts >= max_attempts:
        poison_batch(session, batch_id, reason=error, last_error=error, now=now)
        return "poison"
    session.execute(update(Batch).where(Batch.id == batch_id)
                    .values(last_error=error, claimed_by=None, lease_until=None)
                    .execution_options(synchronize_session=False))
    return "retry"


def poison_batch(session: Session, batch_id: int, *, reason: str, last_error: str | None = None,
                 now: datetime | None = None) -> bool:
    """Set a claimed batch aside as poison: ``failed`` with ``poison_reason``, so that no run tries it again (a
    clerk drops a corrected file: other bytes, a new batch). ``False`` when it is no longer claimed."""
    values: dict[str, Any] = dict(status="failed", poison_reason=reason, finished_at=_now(now), lease_until=None,
                                  **batch_counts(session, batch_id))
    if last_error is not None:
        values["last_error"] = last_error
    return session.execute(update(Batch).where(Batch.id == batch_id, Batch.status == "claimed").values(**values)
                           .execution_options(synchronize_session=False)).rowcount == 1


def poisoned_batches(session: Session, department: str | None = None) -> list[Batch]:
    """The batches set aside as poison, oldest first (what an operator looks at: ``poison_reason``)."""
    q = select(Batch).where(Batch.poison_reason.is_not(None)).order_by(Batch.id)
    if department is not None:
        q = q.where(Batch.department == department)
    return list(session.execute(q).scalars())


def release_batch(session: Session, batch_id: int, *, by: str, now: datetime | None = None) -> Batch:
    """Give a batch set aside as poison back to the runs (an operator found and fixed the cause, or the runs that
    died in it were killed for other reasons): ``claimed`` with no holder and its attempts counted anew, so the
    next run of its department processes it again from the archived original, where every finished step is found
    done. Its reason stays in ``last_error`` with who released it. BatchNotReleasable when it is not set aside."""
    batch = session.get(Batch, batch_id, populate_existing=True)
    if batch is None or batch.poison_reason is None or batch.status != "failed":
        what = "gibt es nicht" if batch is None else f"ist nicht zurückgestellt (Zustand {batch.status})"
        raise BatchNotReleasable(f"Datei-Lieferung {batch_id} {what}: nur zurückgestellte Lieferungen "
                                 "(erechnung batches list --set-aside) können freigegeben werden")
    note = f"{batch.poison_reason} [freigegeben von {by} am {_now(now).isoformat(timespec='seconds')}]"
    session.execute(update(Batch).where(Batch.id == batch_id, Batch.status == "failed")
                    .values(status="claimed", poison_reason=None, attempts=0, claimed_by=None, lease_until=None,
                            finished_at=None, last_error=note[:2000])
                    .execution_options(synchronize_session=False))
    return get_batch(session, batch_id)


def list_batches(session: Session, *, department: str | None = None, set_aside: bool = False) -> list[Batch]:
    """The batches (files taken in), oldest first; ``set_aside``: only those set aside as poison."""
    q = select(Batch).where(Batch.department.not_like(f"{LOCK_PREFIX}%")).order_by(Batch.id)
    if department is not None:
        q = q.where(Batch.department == department)
    if set_aside:
        q = q.where(Batch.poison_reason.is_not(None))
    return list(session.execute(q).scalars())


def batch_counts(session: Session, batch_id: int) -> dict[str, int]:
    """``record_count``, ``documented_count``, ``quarantined_count``, ``document_count`` of a batch."""
    by_status = dict(session.execute(select(Record.status, func.count()).where(Record.batch_id == batch_id)
                                     .group_by(Record.status)).all())
    documents = session.execute(select(func.count()).select_from(Document)
                                .where(Document.batch_id == batch_id)).scalar_one()
    return {"record_count": sum(by_status.values()), "documented_count": by_status.get("documented", 0),
            "quarantined_count": by_status.get("quarantined", 0), "document_count": documents}


def expired_batches(session: Session, *, now: datetime | None = None) -> list[Batch]:
    """Claimed batches whose lease ran out: their worker crashed; claim them again to resume."""
    return list(session.execute(select(Batch).where(Batch.status == "claimed", Batch.lease_until < _now(now))
                                .order_by(Batch.id)).scalars())


def get_batch(session: Session, batch_id: int) -> Batch:
    batch = session.get(Batch, batch_id, populate_existing=True)
    if batch is None:
        raise StateError(f"batch {batch_id}: unknown")
    return batch


# ======================================================================================= number ranges


@dataclass(frozen=True)
class AllocatedNumber:
    department: str
    prefix: str
    value: int
    number: str  # prefix + value, zero-padded to the range's width: RE-2026-000042


def ensure_number_range(session: Session, department: str, prefix: str, *, width: int = 6,
                        start: int = 1) -> None:
    """Create the range (department, prefix) if it does not exist (an existing one is left unchanged)."""
    session.execute(_insert(session, NumberRange).values(department=department, prefix=prefix,
                                                          next_value=start, width=width)
                    .on_conflict_do_nothing(index_elements=["department", "prefix"]))


def allocate_number(session: Session, department: str, prefix: str, *, width: int = 6) -> AllocatedNumber:
    """The next number of the range (created on first use with ``width`` digits), consumed only if the
    caller's transaction commits (see the module docstring)."""
    ensure_number_range(session, department, prefix, width=width)
    rng = session.execute(select(NumberRange).where(NumberRange.department == department,
                                                    NumberRange.prefix == prefix)
                          .with_for_update().execution_options(populate_existing=True)).scalar_one()
    value = rng.next_value
    rng.next_value = value + 1
    session.flush()
    return AllocatedNumber(department, prefix, value, f"{prefix}{value:0{rng.width}d}")


# ============================================================================================ documents


@dataclass(frozen=True)
class DocumentResult:
    document: Document
    created: bool  # False: the idempotency key existed, this is the document created before


def idempotency_key(*parts: object) -> str:
    """A key from parts (``department``, ``batch sha256``, ``group key``...), joined with ``:``."""
    return ":".join(str(p) for p in parts)


def find_document(session: Session, key: str) -> Document | None:
    return session.execute(select(Document).where(Document.idempotency_key == key)
                           .execution_options(populate_existing=True)).scalar_one_or_none()


def create_document(session: Session, *, idempotency_key: str, department: str, kind: str, format: str,
                    number_prefix: str | None = None, number: str | None = None, number_width: int = 6,
                    recipient_ref: str | None = None, issue_date: date | None = None,
                    batch_id: int | None = None, rows: Sequence[tuple[int, int]] = (),
                    state: str = "numbered", sha256: str | None = None, verdict: str | None = None,
                    report_sha256: str | None = None, now: datetime | None = None) -> DocumentResult:
    """Create a document once per ``idempotency_key``, in the caller's transaction, together with its number
    (allocated from ``number_prefix``, or ``number`` as given, e.g. for passthrough documents) and the
    records of its batch rows (``rows``: (first, last) pairs) marked ``documented``.

    A second call with the same key returns the existing document and changes nothing."""
    if number_prefix is not None and number is not None:
        raise StateError("create_document: give number_prefix (allocate) or number (as given), not both")
    existing = find_document(session, idempotency_key)
    if existing is not None:
        return DocumentResult(existing, False)
    try:
        with session.begin_nested():  # a concurrent creator of the same key: undo our number, take theirs
            if number_prefix is not None:
                # Lock the range first, then look again: a concurrent creator of this key that held the lock
                # has committed by now, and we must not consume a number for a document that exists.
                allocated = allocate_number(session, department, number_prefix, width=number_width)
                existing = find_document(session, idempotency_key)
                if existing is not None:
                    raise _AlreadyThere(existing)
                number = allocated.number
            now = _now(now)
            doc = Document(idempotency_key=idempotency_key, department=department, number=number, kind=kind,
                           format=format, recipient_ref=recipient_ref, issue_date=issue_date, batch_id=batch_id,
                           state=state, sha256=sha256, verdict=verdict, report_sha256=report_sha256,
                           created_at=now, updated_at=now)
            session.add(doc)
            session.flush()
            for first, last in rows:
                if batch_id is None:
                    raise StateError("create_document: rows need the batch_id they belong to")
                session.add(Record(batch_id=batch_id, row_first=first, row_last=last, status="documented",
                                   document_id=doc.id))
            session.flush()
    except _AlreadyThere as there:
        return DocumentResult(there.document, False)
    except IntegrityError:
        existing = find_document(session, idempotency_key)
        if existing is None:
            raise  # another constraint (a number given twice, rows recorded before): the caller's error
        return DocumentResult(existing, False)
    return DocumentResult(doc, True)


class _AlreadyThere(Exception):
    def __init__(self, document: Document) -> None:
        self.document = document


#: Allowed state changes; a change to the state a document already has is a no-op.
TRANSITIONS = {"numbered": {"rendered", "rejected"}, "rendered": {"rejected", "archived"},
               "rejected": set(), "archived": {"handed_over"}, "handed_over": set()}


def _document(session: Session, document_id: int) -> Document:
    doc = session.get(Document, document_id, populate_existing=True, with_for_update=True)
    if doc is None:
        raise StateError(f"document {document_id}: unknown")
    return doc


def _move(doc: Document, state: str) -> bool:
    if doc.state == state:
        return False
    if state not in TRANSITIONS[doc.state]:
        raise StateError(f"document {doc.id} ({doc.number or doc.idempotency_key}): cannot go from {doc.state} "
                         f"to {state}")
    doc.state = state
    return True


def record_rendered(session: Session, document_id: int, *, sha256: str, verdict: str,
                    report_sha256: str | None = None, now: datetime | None = None) -> Document:
    """The rendered document's hash and the validator's verdict (``accept`` -> rendered, ``reject`` ->
    rejected). Repeating it with the same values is a no-op."""
    doc = _document(session, document_id)
    if doc.state in ("archived", "handed_over"):
        if doc.sha256 != sha256:
            raise StateError(f"document {doc.id}: already {doc.state} as {doc.sha256}, cannot become {sha256}")
        return doc
    _move(doc, "rendered" if verdict == "accept" else "rejected")
    doc.sha256, doc.verdict, doc.report_sha256, doc.updated_at = sha256, verdict, report_sha256, _now(now)
    session.flush()
    return doc


def mark_archived(session: Session, document_id: int, *, now: datetime | None = None) -> Document:
    """A rendered document is in the archive (a rejected one keeps its state and gets ``archived_at``)."""
    doc = _document(session, document_id)
    now = _now(now)
    if doc.state == "rejected":
        doc.archived_at = _aware(doc.archived_at) or now
    elif doc.state != "handed_over" and _move(doc, "archived"):
        doc.archived_at, doc.updated_at = now, now
    session.flush()
    return doc


def mark_handed_over(session: Session, document_id: int, *, now: datetime | None = None) -> Document:
    """The archived document was handed to its channel (only archived documents are handed over)."""
    doc = _document(session, document_id)
    if _move(doc, "handed_over"):
        doc.handed_over_at = doc.updated_at = _now(now)
    session.flush()
    return doc


@dataclass(frozen=True)
class DocumentRow:
    """One line of ``erechnung documents``."""

    id: int
    department: str
    number: str | None
    kind: str
    format: str
    verdict: str | None
    sha256: str | None
    state: str
    recipient_ref: str | None
    issue_date: date | None
    batch_id: int | None
    created_at: datetime

    def to_json_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["issue_date"] = self.issue_date.isoformat() if self.issue_date else None
        d["created_at"] = self.created_at.isoformat()
        return d


def list_documents(session: Session, *, department: str | None = None, state: str | None = None,
                   batch_id: int | None = None) -> list[DocumentRow]:
    """Documents in creation order, optionally of one department, state or batch."""
    q = select(Document).order_by(Document.id)
    if department is not None:
        q = q.where(Document.department == department)
    if state is not None:
        q = q.where(Document.state == state)
    if batch_id is not None:
        q = q.where(Document.batch_id == batch_id)
    return [DocumentRow(d.id, d.department, d.number, d.kind, d.format, d.verdict, d.sha256, d.state,
                        d.recipient_ref, d.issue_date, d.batch_id, _aware(d.created_at))
            for d in session.execute(q).scalars()]


# ========================================================================================== quarantine


def _problem(p: Any) -> dict[str, Any]:
    """A problem as a dict: a RecordError (``as_dict``), a mapping, or an object with the same attributes."""
    if hasattr(p, "as_dict"):
        d = p.as_dict()
    elif isinstance(p, Mapping):
        d = dict(p)
    else:
        d = {k: getattr(p, k, None) for k in ("row", "column", "value", "problem", "fix")}
    if not d.get("problem") or not d.get("fix"):
        raise StateError(f"a quarantine problem needs 'problem' and 'fix': {d!r}")
    return d


def record_quarantine(session: Session, batch_id: int, row_first: int, row_last: int | None,
                      problems: Iterable[Any]) -> bool:
    """Quarantine rows ``row_first``..``row_last`` of a batch with their problems (RecordError or mappings
    with row, column, value, problem, fix). ``False`` when these rows were recorded before (no-op)."""
    items = [_problem(p) for p in problems]
    if not items:
        raise StateError("record_quarantine: at least one problem is needed")
    row_last = row_first if row_last is None else row_last
    if session.execute(select(Record.id).where(Record.batch_id == batch_id, Record.row_first == row_first)
                       ).first() is not None:
        return False
    try:
        with session.begin_nested():
            session.add(Record(batch_id=batch_id, row_first=row_first, row_last=row_last, status="quarantined",
                               reason=json.loads(json.dumps(items, default=str))))
            for p in items:
                row = p.get("row")
                session.add(Quarantine(batch_id=batch_id, row=row if row is not None else row_first,
                                       column=p.get("column"),
                                       value=None if p.get("value") is None else str(p.get("value")),
                                       problem=str(p["problem"]), fix=str(p["fix"])))
            session.flush()
    except IntegrityError:
        return False
    return True


def record_batch_problems(session: Session, batch_id: int, problems: Iterable[Any]) -> int:
    """Problems with the batch as a whole (nothing of it could be read): quarantine rows without a row.
    Idempotent: problems already recorded for the batch are not added again. Returns how many were added."""
    have = {(q.column, q.value, q.problem) for q in session.execute(
        select(Quarantine).where(Quarantine.batch_id == batch_id, Quarantine.row.is_(None))).scalars()}
    added = 0
    for p in map(_problem, problems):
        value = None if p.get("value") is None else str(p.get("value"))
        if (p.get("column"), value, str(p["problem"])) in have:
            continue
        session.add(Quarantine(batch_id=batch_id, row=None, column=p.get("column"), value=value,
                               problem=str(p["problem"]), fix=str(p["fix"])))
        added += 1
    session.flush()
    return added


@dataclass(frozen=True)
class KnownIdentity:
    """A business identity that has its document already (issue 11)."""

    identity: str
    document_id: int
    number: str | None
    created_at: datetime
    content_sha256: str
    content: dict[str, Any]


def known_identities(session: Session, department: str, identities: Iterable[str]) -> dict[str, KnownIdentity]:
    """Those of ``identities`` of the department that became a document before, with that document."""
    wanted = sorted(set(identities))
    if not wanted:
        return {}
    rows = session.execute(
        select(DocumentIdentity, Document.number, Document.created_at)
        .join(Document, Document.id == DocumentIdentity.document_id)
        .where(DocumentIdentity.department == department, DocumentIdentity.identity.in_(wanted))).all()
    return {i.identity: KnownIdentity(i.identity, i.document_id, number, _aware(created), i.content_sha256,
                                      i.content) for i, number, created in rows}


def record_identities(session: Session, department: str, entries: Sequence[tuple[str, int, str, Any]]) -> None:
    """``(identity, document_id, content_sha256, content)`` of new documents; an identity recorded before raises
    IntegrityError (the caller's savepoint undoes its documents with it)."""
    if entries:
        now = utcnow()
        session.connection().execute(DocumentIdentity.__table__.insert(), [
            {"department": department, "identity": i, "document_id": d, "content_sha256": h, "content": c,
             "created_at": now} for i, d, h, c in entries])


def revisions(session: Session, department: str, identities: Iterable[str]) -> dict[str, int]:
    """How often each of ``identities`` was corrected (``document_corrections``); missing: never."""
    wanted = sorted(set(identities))
    if not wanted:
        return {}
    return dict(session.execute(
        select(DocumentCorrection.identity, func.max(DocumentCorrection.revision))
        .where(DocumentCorrection.department == department, DocumentCorrection.identity.in_(wanted))
        .group_by(DocumentCorrection.identity)).all())


def record_correction(session: Session, department: str, identity: str, *, revision: int, replaced: int,
                      credit_note: int | None, document: int, content_sha256: str, content: Any,
                      parts: dict[str, Any]) -> None:
    """A correction (issue 11): the identity now stands for ``document`` with its content, and the trail keeps
    which document it replaced and which credit note cancelled that one. A revision recorded before raises
    IntegrityError (the caller's savepoint undoes the documents with it)."""
    moved = session.execute(
        update(DocumentIdentity).where(DocumentIdentity.department == department,
                                       DocumentIdentity.identity == identity,
                                       DocumentIdentity.document_id == replaced)
        .values(document_id=document, content_sha256=content_sha256, content=content)
        .execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        raise IntegrityError(f"identity {identity!r} moved on while it was corrected", None, Exception(identity))
    session.connection().execute(DocumentCorrection.__table__.insert(), [{
        "department": department, "identity": identity, "revision": revision, "replaced_document_id": replaced,
        "credit_note_document_id": credit_note, "document_id": document, "parts": parts, "created_at": utcnow()}])


def corrections_of(session: Session, document_ids: Iterable[int]) -> list[DocumentCorrection]:
    """The corrections that made any of these documents (as the new document or as the credit note)."""
    ids = sorted(set(document_ids))
    if not ids:
        return []
    return list(session.execute(select(DocumentCorrection).where(
        (DocumentCorrection.document_id.in_(ids)) | (DocumentCorrection.credit_note_document_id.in_(ids))))
        .scalars())


def record_notes(session: Session, batch_id: int, notes: Iterable[Any]) -> None:
    """Lines for the department's report that are no problem (their "Was tun" begins with ``NOTE``): a summary
    row left out, a document corrected. Rows keep their records as they are; a note recorded before (a repeated
    step) is not added again."""
    items = [_problem(n) for n in notes]
    if not items:
        return
    seen = set(session.execute(select(Quarantine.row, Quarantine.problem).where(
        Quarantine.batch_id == batch_id, Quarantine.row.in_([p.get("row") for p in items]))).all())
    for p in items:
        if (p.get("row"), str(p["problem"])) in seen:
            continue
        session.add(Quarantine(batch_id=batch_id, row=p.get("row"), column=p.get("column"),
                               value=None if p.get("value") is None else str(p.get("value")),
                               problem=str(p["problem"]), fix=str(p["fix"])))
    session.flush()


def record_skipped(session: Session, batch_id: int, rows: Sequence[int], document_id: int,
                   problems: Iterable[Any]) -> bool:
    """Rows of a batch whose document exists already (made from an earlier delivery): recorded ``documented``
    with that document, and a line for the report (``problems``: the note). ``False`` when recorded before."""
    rows = sorted(set(rows))
    if not rows or session.execute(select(Record.id).where(Record.batch_id == batch_id,
                                                          Record.row_first.in_(rows))).first() is not None:
        return False
    for r in rows:
        session.add(Record(batch_id=batch_id, row_first=r, row_last=r, status="documented", document_id=document_id))
    record_notes(session, batch_id, [{**p, "row": rows[0] if p.get("row") is None else p["row"]}
                                     for p in (_problem(p) for p in problems)])
    session.flush()
    return True


def quarantine_of(session: Session, batch_id: int) -> list[Quarantine]:
    """The batch's problems, batch-wide ones first, then by row (the error report's order)."""
    return list(session.execute(select(Quarantine).where(Quarantine.batch_id == batch_id)
                                .order_by(Quarantine.row.is_not(None), Quarantine.row, Quarantine.id)).scalars())


def records_of(session: Session, batch_id: int) -> list[Record]:
    return list(session.execute(select(Record).where(Record.batch_id == batch_id)
                                .order_by(Record.row_first)).scalars())


# ============================================================================================== archive


def index_archived(session: Session, item: Any, *, document_id: int | None = None,
                   batch_id: int | None = None) -> bool:
    """Record an :class:`erechnung.archive.ArchivedItem` in the archive index (once per sha256; ``False``
    when it was indexed before)."""
    meta = item.to_meta()
    return session.execute(
        _insert(session, ArchiveItem).values(
            sha256=item.sha256, kind=str(item.kind), department=item.department, media_type=item.media_type,
            size=item.size, document_id=document_id, batch_id=batch_id, retention_until=item.retention_until,
            archived_at=utcnow(), meta=meta,
        ).on_conflict_do_nothing(index_elements=["sha256"]).returning(ArchiveItem.sha256)
    ).first() is not None


def archived_items(session: Session, *, document_id: int | None = None,
                   batch_id: int | None = None) -> list[ArchiveItem]:
    q = select(ArchiveItem).order_by(ArchiveItem.archived_at, ArchiveItem.sha256)
    if document_id is not None:
        q = q.where(ArchiveItem.document_id == document_id)
    if batch_id is not None:
        q = q.where(ArchiveItem.batch_id == batch_id)
    return list(session.execute(q).scalars())


# =========================================================================================== recipients


def _recipient_data(data: Any) -> dict[str, Any]:
    if hasattr(data, "model_dump"):  # the intake's pydantic recipient model
        return data.model_dump(mode="json")
    return json.loads(json.dumps(dict(data), default=str))


def upsert_recipient(session: Session, department: str, ref: str, data: Any, *,
                     name: str | None = None) -> Recipient:
    """Store a recipient of the department's register (its fields as JSON: a pydantic model or a mapping),
    replacing what was stored under (department, ref)."""
    fields = _recipient_data(data)
    name = name if name is not None else fields.get("name")
    session.execute(_insert(session, Recipient).values(department=department, ref=ref, name=name, data=fields,
                                                        updated_at=utcnow())
                    .on_conflict_do_nothing(index_elements=["department", "ref"]))
    rec = session.execute(select(Recipient).where(Recipient.department == department, Recipient.ref == ref)
                          .with_for_update().execution_options(populate_existing=True)).scalar_one()
    rec.name, rec.data, rec.updated_at = name, fields, utcnow()
    session.flush()
    return rec


def store_recipients(session: Session, department: str, recipients: Mapping[str, Any]) -> int:
    """Keep the recipients a chunk of documents goes to (ref -> intake recipient model) in one statement:
    delivery routes each document from this copy, so a record that carried its recipient's data itself (no
    customer number) can be delivered too; a later batch for the same customer number stores the register's
    newer data. Returns how many were stored."""
    rows = []
    for ref, data in recipients.items():
        fields = _recipient_data(data)
        rows.append(dict(department=department, ref=ref, name=fields.get("name"), data=fields, updated_at=utcnow()))
    if not rows:
        return 0
    # executemany of one statement, not one INSERT with a VALUES row per recipient: that statement's text
    # differs with the number of rows, and SQLite's driver keeps up to 128 prepared statements per connection,
    # about 0.45 MB each with a few hundred rows (the coordinator grew by tens of MB over a long intake)
    stmt = _insert(session, Recipient)
    session.connection().execute(stmt.on_conflict_do_update(index_elements=["department", "ref"],
                                                            set_=dict(name=stmt.excluded.name, data=stmt.excluded.data,
                                                                      updated_at=stmt.excluded.updated_at)), rows)
    return len(rows)


def save_recipients(session: Session, department: str, recipients: Iterable[Any]) -> int:
    """Persist the department's recipients (:class:`erechnung.model.recipients.Recipient`, keyed by
    customer number), replacing those stored under the same numbers. Returns how many were saved."""
    count = 0
    for r in recipients:
        upsert_recipient(session, department, r.customer_number, r, name=r.name)
        count += 1
    return count


def load_register(session: Session, department: str):
    """The department's persisted recipients as an :class:`erechnung.model.recipients.RecipientRegister`."""
    from erechnung.model.recipients import Recipient as RecipientModel, RecipientRegister

    return RecipientRegister(tuple(RecipientModel.model_validate(r.data) for r in list_recipients(session, department)))


def get_recipient(session: Session, department: str, ref: str) -> Recipient | None:
    return session.execute(select(Recipient).where(Recipient.department == department, Recipient.ref == ref)
                           ).scalar_one_or_none()


def list_recipients(session: Session, department: str | None = None) -> list[Recipient]:
    q = select(Recipient).order_by(Recipient.department, Recipient.ref)
    if department is not None:
        q = q.where(Recipient.department == department)
    return list(session.execute(q).scalars())
