"""Sending's SQL: the claim (due rows read, on PostgreSQL with ``FOR UPDATE SKIP LOCKED``, and moved to
``sending`` by one conditional UPDATE whose RETURNING names the rows won) and the receipt (a conditional
``sending -> sent`` UPDATE that only the claim's holder can make)."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, func, or_, select, update
from sqlalchemy.orm import Session

from ..delivery_schema import Delivery
from ..leases import dead_holders
from . import dialect

_D = Delivery.__table__

#: What a claim hands to the send: the claimed delivery's columns (``id``, ``idempotency_key``, ``attempts`` ...).
CLAIMED = (_D.c.id, _D.c.idempotency_key, _D.c.document_id, _D.c.channel, _D.c.address, _D.c.kind,
           _D.c.legal_basis, _D.c.land, _D.c.attempts, _D.c.route, _D.c.hop)


def claim(session: Session, channels: list[str], now: datetime, *, worker: str, lease_until: datetime,
          lands: Sequence[str], land: str | None, limit: int) -> tuple[dict[int, Any], dict[int, Any], list[str]]:
    """Claim up to ``limit`` due deliveries on ``channels`` for ``worker``: (the rows seen due by id, with
    their state, holder and Land before; the rows won by id, as ``CLAIMED``; the dead holders whose claims
    were due). Due is queued with its time come, or ``sending`` with a lease that ran out or a holder that is
    a dead process of this host (:func:`dead_claimants`). A row is won when it is still in the state seen;
    ``attempts`` goes up by one, and a stored Land not in ``lands`` becomes ``land``."""
    dead = dead_claimants(session, channels, now)
    taken_over = or_(_D.c.lease_until.is_(None), _D.c.lease_until < now)
    if dead:
        taken_over = or_(taken_over, _D.c.claimed_by.in_(dead))
    due = or_((_D.c.state == "queued") & (or_(_D.c.next_attempt_at.is_(None), _D.c.next_attempt_at <= now)),
              (_D.c.state == "sending") & taken_over)
    q = select(_D.c.id, _D.c.state, _D.c.claimed_by, _D.c.land).where(due, _D.c.channel.in_(channels)) \
        .order_by(_D.c.next_attempt_at, _D.c.id).limit(limit)
    if dialect(session) == "postgresql":
        q = q.with_for_update(skip_locked=True)
    seen = {row.id: row for row in session.execute(q)}
    if not seen:
        return seen, {}, dead
    queued = [i for i, row in seen.items() if row.state == "queued"]
    again = [i for i, row in seen.items() if row.state == "sending"]
    # still in the state seen (and, for a resend, with the lease run out or its holder dead): the rows won
    won = {row.id: row for row in session.execute(
        update(_D).where(or_(_D.c.id.in_(queued) & (_D.c.state == "queued"),
                             _D.c.id.in_(again) & (_D.c.state == "sending") & taken_over))
        .values(state="sending", claimed_by=worker, lease_until=lease_until,
                attempts=_D.c.attempts + 1, updated_at=now,
                land=case((_D.c.land.in_(lands), _D.c.land), else_=land))
        .returning(*CLAIMED))}
    return seen, won, dead


def dead_claimants(session: Session, channels: list[str], now: datetime) -> list[str]:
    """The holders of live claims on ``channels`` that are dead processes of this host (a worker killed: its
    claims are taken over at once instead of after the lease)."""
    holders = session.execute(select(_D.c.claimed_by).where(
        _D.c.state == "sending", _D.c.channel.in_(channels), _D.c.lease_until >= now).distinct()).scalars()
    return dead_holders(holders)


def claimed_row(session: Session, delivery_id: int) -> Any:
    """The delivery's ``CLAIMED`` columns."""
    return session.execute(select(*CLAIMED).where(_D.c.id == delivery_id)).one()


_RECEIPT_UPDATES: dict[tuple[bool, bool], Any] = {}


def _receipt_update(provision: bool, notice: bool) -> Any:
    """The conditional ``sending -> sent`` UPDATE of :func:`record_receipt`, built once per kind: with
    ``delivered_at`` (the receipt counts as provision), with the retrieval deadline (a notice; one set before
    is kept). Built per call, coercing its values and walking the new statement for its cache key cost more
    CPU than executing it."""
    stmt = _RECEIPT_UPDATES.get((provision, notice))
    if stmt is None:
        sent_at = bindparam("r_sent_at", type_=_D.c.sent_at.type)
        values: dict[str, Any] = dict(
            state="sent", sent_at=sent_at,
            channel_message_id=bindparam("r_message_id", type_=_D.c.channel_message_id.type),
            notification_only=bindparam("r_notification_only", type_=_D.c.notification_only.type),
            last_error=None, next_attempt_at=None, claimed_by=None, lease_until=None,
            updated_at=bindparam("r_now", type_=_D.c.updated_at.type))
        if provision:
            values["delivered_at"] = sent_at
        if notice:
            values["deadline_at"] = func.coalesce(_D.c.deadline_at,
                                                  bindparam("r_deadline", type_=_D.c.deadline_at.type))
        stmt = _RECEIPT_UPDATES[(provision, notice)] = (
            update(_D).where(_D.c.id == bindparam("r_id"), _D.c.state == "sending",
                             _D.c.claimed_by == bindparam("r_worker"))
            .values(values).returning(_D.c.attempts, _D.c.delivered_at, _D.c.retrieved_at))
    return stmt


def record_receipt(session: Session, delivery_id: int, *, worker: str, sent_at: datetime, message_id: str,
                   notification_only: bool, now: datetime, provision: bool, notice: bool,
                   deadline: datetime | None = None) -> Any:
    """``sending -> sent`` with the receipt, only while ``worker`` holds the claim: the row's (attempts,
    delivered_at, retrieved_at), None when the claim was lost. ``provision``: the receipt is the provision
    (``delivered_at``); ``notice``: the retrieval ``deadline`` is set unless one was set before."""
    params: dict[str, Any] = dict(r_id=delivery_id, r_worker=worker, r_sent_at=sent_at, r_message_id=message_id,
                                  r_notification_only=notification_only, r_now=now)
    if notice:
        params["r_deadline"] = deadline
    return session.execute(_receipt_update(provision, notice), params).first()
