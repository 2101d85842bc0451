"""The pipeline's state as tables (SQLAlchemy 2.0 typed ORM), the same on SQLite and PostgreSQL.

The schema is created and changed only by the Alembic migrations in ``migrations/`` (``migrate()``); a test
checks that the migrations and these classes describe the same tables.

* ``runs``: one row per pipeline run (started, finished, counts).
* ``batches``: a department's dropped file, once per (department, sha256); ``claimed`` with a lease while a
  worker processes it, then ``done`` or ``failed``, with counts. ``attempts`` counts the times its processing
  began; ``last_error`` is why the last attempt failed (an unexpected error; a run that died leaves none); a
  batch that failed ``[limits] batch_attempts`` times is set aside as poison: ``failed`` with ``poison_reason``.
* ``records``: what became of each row (or group of rows) of a batch: ``documented`` (with its document) or
  ``quarantined`` (with the reasons); once per (batch, first row).
* ``documents``: every invoice, credit note and notice, once per idempotency key, numbered gap-free per
  number range; its state moves numbered -> rendered -> archived -> handed_over (or -> rejected).
* ``document_identities``: what a document is in the department's business (issue 11): per (department,
  identity) the document made for it, the sha256 of the content it was made from and that content (JSON), so a
  record delivered again (another file, the file with one row fixed) is recognised: skipped when unchanged, not
  issued again when changed.
* ``quarantine``: one row per problem (row, column, value, problem, fix) for the clerk's error report.
* ``number_ranges``: per (department, prefix) the next number to hand out.
* ``archive_items``: the index of what the archive holds (sha256, kind, metadata).
* ``recipients``: the persisted recipient register: per (department, ref = customer number) the name and all
  fields of :class:`erechnung.model.recipients.Recipient` as JSON (``model_dump``), so a field added to the
  model needs no migration.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, Optional

from sqlalchemy import (JSON, BigInteger, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, MetaData,
                        String, Text, TypeDecorator, UniqueConstraint)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ..model.documents import DocumentFormat, DocumentKind

#: Constraint names the same on every dialect, so migrations can name them.
NAMING = {"ix": "ix_%(table_name)s_%(column_0_N_name)s", "uq": "uq_%(table_name)s_%(column_0_N_name)s",
          "ck": "ck_%(table_name)s_%(constraint_name)s", "fk": "fk_%(table_name)s_%(column_0_name)s",
          "pk": "pk_%(table_name)s"}

BATCH_STATUSES = ("claimed", "done", "failed")
#: Department of the rows of ``batches`` that are the pipeline's department locks, not files
#: (``erechnung.pipeline.locks``): ``_lock:<department id>``.
LOCK_PREFIX = "_lock:"
RECORD_STATUSES = ("documented", "quarantined")
DOCUMENT_KINDS = tuple(kind.value for kind in DocumentKind)
DOCUMENT_FORMATS = tuple(form.value for form in DocumentFormat)
DOCUMENT_STATES = ("numbered", "rendered", "rejected", "archived", "handed_over")
ARCHIVE_KINDS = ("original_batch", "document", "report", "error_report")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime on every dialect (SQLite keeps it as naive UTC text, which sorts correctly)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect) -> Optional[datetime]:
        if value is None:
            return None
        value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Optional[datetime], dialect) -> Optional[datetime]:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


#: Auto-incrementing keys: BIGINT on PostgreSQL, INTEGER (the rowid) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="running")
    counts: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)

    __table_args__ = (CheckConstraint(_in("status", ("running", "finished", "failed")), name="status"),)


class Batch(Base):
    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    department: Mapped[str] = mapped_column(String(64))
    source_key: Mapped[str] = mapped_column(String(1024))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[Optional[int]] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    claimed_by: Mapped[Optional[str]] = mapped_column(String(200))
    lease_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    finished_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="claimed")
    run_id: Mapped[Optional[str]] = mapped_column(ForeignKey("runs.id"))
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    documented_count: Mapped[int] = mapped_column(Integer, default=0)
    quarantined_count: Mapped[int] = mapped_column(Integer, default=0)
    document_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    poison_reason: Mapped[Optional[str]] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("department", "sha256"),
                      CheckConstraint(_in("status", BATCH_STATUSES), name="status"),
                      Index("ix_batches_status_lease_until", "status", "lease_until"))


class Document(Base):
    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    department: Mapped[str] = mapped_column(String(64))
    number: Mapped[Optional[str]] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    format: Mapped[str] = mapped_column(String(20))
    recipient_ref: Mapped[Optional[str]] = mapped_column(String(200))
    issue_date: Mapped[Optional[date]] = mapped_column(Date)
    sha256: Mapped[Optional[str]] = mapped_column(String(64))
    verdict: Mapped[Optional[str]] = mapped_column(String(20))
    report_sha256: Mapped[Optional[str]] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20), default="numbered")
    batch_id: Mapped[Optional[int]] = mapped_column(ForeignKey("batches.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    archived_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    handed_over_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("department", "number"),
                      CheckConstraint(_in("kind", DOCUMENT_KINDS), name="kind"),
                      CheckConstraint(_in("format", DOCUMENT_FORMATS), name="format"),
                      CheckConstraint(_in("state", DOCUMENT_STATES), name="state"))


class DocumentIdentity(Base):
    __tablename__ = "document_identities"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    department: Mapped[str] = mapped_column(String(64))
    identity: Mapped[str] = mapped_column(String(500))
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    content_sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("department", "identity"),)


class DocumentCorrection(Base):
    """A document replaced because its record came again with other content (issue 11, ``[identity] on_change =
    "correct"``): revision ``n`` of the identity, the document it replaced, the credit note that cancelled it
    (invoices; None for an Änderungsbescheid) and the document that took its place."""

    __tablename__ = "document_corrections"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    department: Mapped[str] = mapped_column(String(64))
    identity: Mapped[str] = mapped_column(String(500))
    revision: Mapped[int] = mapped_column(Integer)
    replaced_document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    credit_note_document_id: Mapped[Optional[int]] = mapped_column(ForeignKey("documents.id"))
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    #: the correction's drafts as made ({"original": draft key, "drafts": {part key: kind, number, data}}), so that
    #: their models can be rebuilt should the work area be lost before they are rendered
    parts: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("department", "identity", "revision"),)


class Record(Base):
    __tablename__ = "records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    row_first: Mapped[int] = mapped_column(Integer)
    row_last: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    document_id: Mapped[Optional[int]] = mapped_column(ForeignKey("documents.id"), index=True)
    reason: Mapped[Optional[Any]] = mapped_column(Json)

    __table_args__ = (UniqueConstraint("batch_id", "row_first"),
                      CheckConstraint(_in("status", RECORD_STATUSES), name="status"),
                      CheckConstraint("row_last >= row_first", name="rows"))


class Quarantine(Base):
    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), index=True)
    row: Mapped[Optional[int]] = mapped_column(Integer)  # None: a problem with the whole batch
    column: Mapped[Optional[str]] = mapped_column(String(200))
    value: Mapped[Optional[str]] = mapped_column(Text)
    problem: Mapped[str] = mapped_column(Text)
    fix: Mapped[str] = mapped_column(Text)


class NumberRange(Base):
    __tablename__ = "number_ranges"

    department: Mapped[str] = mapped_column(String(64), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_value: Mapped[int] = mapped_column(BigInteger, default=1)
    width: Mapped[int] = mapped_column(Integer, default=6)

    __table_args__ = (CheckConstraint("next_value >= 1", name="next_value"),)


class ArchiveItem(Base):
    __tablename__ = "archive_items"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    department: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    document_id: Mapped[Optional[int]] = mapped_column(ForeignKey("documents.id"), index=True)
    batch_id: Mapped[Optional[int]] = mapped_column(ForeignKey("batches.id"), index=True)
    retention_until: Mapped[datetime] = mapped_column(UTCDateTime)
    archived_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    meta: Mapped[dict[str, Any]] = mapped_column(Json)

    __table_args__ = (CheckConstraint(_in("kind", ARCHIVE_KINDS), name="kind"),)


class Recipient(Base):
    __tablename__ = "recipients"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    department: Mapped[str] = mapped_column(String(64))
    ref: Mapped[str] = mapped_column(String(200))
    name: Mapped[Optional[str]] = mapped_column(String(300))
    data: Mapped[dict[str, Any]] = mapped_column(Json)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("department", "ref"),)


metadata = Base.metadata

from . import delivery_schema  # noqa: E402,F401  (the delivery tracking tables join the same metadata)
from . import console_schema  # noqa: E402,F401  (the console access log joins the same metadata)
from . import receivables_schema  # noqa: E402,F401  (the Stadtkasse's tables join the same metadata)
from . import work_chunks  # noqa: E402,F401  (the chunks any machine may work on join the same metadata)
