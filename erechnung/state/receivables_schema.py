"""The Stadtkasse's tables (migration ``0007_receivables``, issue 15), on the same metadata as ``schema``.
Amounts are kept in euro cents (integers: exact on SQLite and PostgreSQL alike).

* ``open_items``: one per claim (Sollstellung): a document's amount due, or one instalment of a notice; what
  was paid so far, the due date, the debtor, the SEPA mandate, dispute and deferral (Stundung), the dunning level
  and the state (``model.receivables.ItemState``). Once per (document, instalment).
* ``posted_documents``: each handed-over document taken into the books once (``effect``: ``items``, ``reduced``
  for a credit note, ``replaced`` for an Änderungsbescheid, ``none`` for nothing to collect), with the export file
  it went into.
* ``bank_entries``: every entry read from a bank file, once per ``entry_key`` (the same entry read twice books
  nothing twice); the file and statement it came from, the entry as JSON, the match's kind and whether it waits
  on the clarification list (``open_clarification``).
* ``allocations``: what of an entry was booked on which item (negative for a reversal), how (``MatchKind``, or
  ``manual``), when and by whom (``automatisch`` or the clerk).
* ``clarification_decisions``: who decided what about an entry on the clarification list, and when.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..model.receivables import ItemState, MatchKind
from .schema import Base, BigId, Json, UTCDateTime, _in, utcnow

ITEM_STATES = tuple(s.value for s in ItemState)
ALLOCATION_KINDS = tuple(k.value for k in MatchKind) + ("manual",)
POST_EFFECTS = ("items", "reduced", "replaced", "none")


class OpenItemRow(Base):
    __tablename__ = "open_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    number: Mapped[str] = mapped_column(String(100))
    kassenzeichen: Mapped[str] = mapped_column(String(200), index=True)
    department: Mapped[str] = mapped_column(String(64))
    debtor_ref: Mapped[str] = mapped_column(String(200))
    debtor_name: Mapped[str] = mapped_column(String(300), default="")
    debtor_iban: Mapped[Optional[str]] = mapped_column(String(34))
    instalment: Mapped[int] = mapped_column(Integer, default=0)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    paid_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    due_date: Mapped[date] = mapped_column(Date)
    account_iban: Mapped[str] = mapped_column(String(34))
    mandate_id: Mapped[Optional[str]] = mapped_column(String(35))
    disputed: Mapped[bool] = mapped_column(Boolean, default=False)
    deferred_until: Mapped[Optional[date]] = mapped_column(Date)
    taxes_or_levies: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(20), default="open")
    dunning_level: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("document_id", "instalment"),
                      CheckConstraint(_in("state", ITEM_STATES), name="state"),
                      CheckConstraint("amount_cents >= 0", name="amount"))


class PostedDocument(Base):
    __tablename__ = "posted_documents"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    effect: Mapped[str] = mapped_column(String(20))
    target_document_id: Mapped[Optional[int]] = mapped_column(ForeignKey("documents.id"))
    amount_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    export_name: Mapped[Optional[str]] = mapped_column(String(300))
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (CheckConstraint(_in("effect", POST_EFFECTS), name="effect"),)


class BankEntryRow(Base):
    __tablename__ = "bank_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_key: Mapped[str] = mapped_column(String(300), unique=True)
    account_iban: Mapped[str] = mapped_column(String(34))
    booking_date: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    direction: Mapped[str] = mapped_column(String(4))
    source: Mapped[str] = mapped_column(String(500), default="")
    statement_id: Mapped[str] = mapped_column(String(200), default="")
    data: Mapped[dict[str, Any]] = mapped_column(Json)
    match_kind: Mapped[Optional[str]] = mapped_column(String(20))
    unallocated_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    reason: Mapped[Optional[str]] = mapped_column(Text)
    open_clarification: Mapped[bool] = mapped_column(Boolean, default=False)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_bank_entries_open_clarification", "open_clarification"),)


class AllocationRow(Base):
    __tablename__ = "allocations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("bank_entries.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("open_items.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(20))
    booked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    booked_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (CheckConstraint(_in("kind", ALLOCATION_KINDS), name="kind"),)


class ClarificationDecision(Base):
    __tablename__ = "clarification_decisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("bank_entries.id"), index=True)
    item_id: Mapped[Optional[int]] = mapped_column(ForeignKey("open_items.id"))
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decision: Mapped[str] = mapped_column(String(40))  # "booked" (on item_id)
    note: Mapped[Optional[str]] = mapped_column(Text)


class DunningStepRow(Base):
    """A dunning stage sent for an item (migration ``0008_dunning_steps``): the stage, its fee and Säumniszuschlag
    with every input of their computation (``payments.dunning.DunningStep.inputs``), the day and who ran it.
    Once per (item, level)."""

    __tablename__ = "dunning_steps"
    __table_args__ = (UniqueConstraint("item_id", "level", name="uq_dunning_steps_item_level"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("open_items.id"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(80))
    on: Mapped[date] = mapped_column(Date)
    fee_cents: Mapped[int] = mapped_column(BigInteger)
    surcharge_cents: Mapped[int] = mapped_column(BigInteger)
    total_cents: Mapped[int] = mapped_column(BigInteger)
    inputs: Mapped[dict[str, Any]] = mapped_column(Json)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
