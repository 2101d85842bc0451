"""Delivery tracking tables (migration ``0002_deliveries``); registered on the same metadata as ``schema``.

* ``deliveries``: one row per document and channel attempt. ``idempotency_key`` (``<prefix>-<document id>-
  <channel>-<sequence>``) is UNIQUE, as is (document, sequence): planning a delivery twice, or again after a
  crash, finds the row that is there. ``state`` moves queued -> sending -> sent -> delivered -> retrieved ->
  deemed_notified, or to failed / expired and then fell_back (the next channel took over). ``claimed_by`` and
  ``lease_until`` are the claim of one delivery worker: a worker sends only a delivery it claimed.
  ``route`` holds the channel order planned for the document, ``hop`` this row's place in it.
* ``delivery_events``: append-only, every state change with its evidence (raw bytes, media type, sha256) and a
  hash chain over the whole table: ``hash = sha256(prev_hash || canonical JSON of the event)``, in ``seq``
  order. No code updates or deletes a row here; ``erechnung audit verify`` recomputes the chain.
* ``delivery_chain``: the chain's head (one row: last ``seq`` and ``hash``), locked while an event is appended,
  so appends are serialized and a deleted last event is noticed.
* ``notification_dates``: the computed date a notice counts as notified (Bekanntgabe), per delivery, with
  every input (legal basis, Land, provision / notification / retrieval time, holiday calendar and version).
* ``dead_letters``: documents no channel could deliver, with the reason, for finance to act on.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

from sqlalchemy import (BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, LargeBinary,
                        String, Text, UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column

from .schema import Base, BigId, Json, UTCDateTime, _in, utcnow

DELIVERY_STATES = ("queued", "sending", "sent", "delivered", "retrieved", "deemed_notified", "failed", "expired",
                   "fell_back")
#: Every chain starts from this ``prev_hash``.
GENESIS_HASH = "0" * 64


class Delivery(Base):
    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    hop: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str] = mapped_column(String(20))
    address_ref: Mapped[str] = mapped_column(String(500))
    address: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))
    legal_basis: Mapped[Optional[str]] = mapped_column(String(40))
    land: Mapped[Optional[str]] = mapped_column(String(2))
    route: Mapped[list[Any]] = mapped_column(Json)
    state: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    claimed_by: Mapped[Optional[str]] = mapped_column(String(200))
    lease_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    channel_message_id: Mapped[Optional[str]] = mapped_column(String(300))
    notification_only: Mapped[bool] = mapped_column(Boolean, default=False)
    sent_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    delivered_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    retrieved_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    deadline_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    finished_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("document_id", "sequence"),
                      CheckConstraint(_in("state", DELIVERY_STATES), name="state"),
                      CheckConstraint("attempts >= 0", name="attempts"),
                      Index("ix_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
                      Index("ix_deliveries_channel_channel_message_id", "channel", "channel_message_id"))


class DeliveryEvent(Base):
    __tablename__ = "delivery_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    from_state: Mapped[Optional[str]] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(20))
    channel_event_id: Mapped[Optional[str]] = mapped_column(String(300))
    reason: Mapped[Optional[str]] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(Json)
    evidence: Mapped[Optional[bytes]] = mapped_column(LargeBinary)
    evidence_type: Mapped[Optional[str]] = mapped_column(String(100))
    evidence_sha256: Mapped[Optional[str]] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (UniqueConstraint("delivery_id", "channel_event_id"),)


class DeliveryChain(Base):
    __tablename__ = "delivery_chain"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotificationDate(Base):
    __tablename__ = "notification_dates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), unique=True)
    legal_basis: Mapped[str] = mapped_column(String(40))
    land: Mapped[Optional[str]] = mapped_column(String(2))
    start_event: Mapped[str] = mapped_column(String(30))
    provision_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    notification_sent_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    retrieved_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    days: Mapped[int] = mapped_column(Integer)
    earlier_retrieval_wins: Mapped[bool] = mapped_column(Boolean)
    shift_to_working_day: Mapped[bool] = mapped_column(Boolean)
    calendar: Mapped[str] = mapped_column(String(100))
    calendar_version: Mapped[str] = mapped_column(String(40))
    rules_sha256: Mapped[str] = mapped_column(String(64))
    inputs: Mapped[dict[str, Any]] = mapped_column(Json)
    computed_date: Mapped[date] = mapped_column(Date)
    explanation: Mapped[str] = mapped_column(Text)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeadLetter(Base):
    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), unique=True)
    delivery_id: Mapped[Optional[int]] = mapped_column(ForeignKey("deliveries.id"))  # None: nothing was sent
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    resolution: Mapped[Optional[str]] = mapped_column(Text)
