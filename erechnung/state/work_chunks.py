"""The chunks of a run that any machine may work on (issue 16): table ``work_chunks`` (migration
``0009_work_chunks``) and the lease operations on it.

A run's coordinator cuts the numbered documents into chunks (:func:`plan`); a worker on any machine claims the
next chunk (:func:`claim`), renews its lease while it works (:func:`renew`) and records what it did
(:func:`finish`). A chunk whose holder stopped renewing - a worker that died, a machine that went away - is
claimed again by another worker once its lease has run out (a holder known to be dead, a process of the same
host that no longer runs, loses it at once: :func:`erechnung.state.leases.holder_is_dead`). Redoing a chunk is
safe: every step of the pipeline is idempotent per document (render only what is still numbered, archive only
what is rendered, hand over only what is archived), so the lease only keeps two workers from doing the same
work at the same time; it is not what keeps documents from being processed twice.

On PostgreSQL a claim skips rows another transaction has locked (``FOR UPDATE SKIP LOCKED``): workers never wait
on each other; on SQLite every transaction takes the write lock at its start (``state.db``), which serializes
claims. ``result`` holds what the chunk did (ids rendered, rejected with their reasons, failed, archived, handed
over, warnings, worker seconds by format): the coordinator builds the run's summary from it, so nothing but ids
ever crosses from one machine to another.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional, Sequence

from sqlalchemy import CheckConstraint, Index, Integer, String, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from .leases import holder_is_dead
from .schema import Base, BigId, Json, UTCDateTime, _in, utcnow

CHUNK_STATES = ("pending", "running", "done")


class WorkChunk(Base):
    __tablename__ = "work_chunks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    document_ids: Mapped[list] = mapped_column(Json)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    holder: Mapped[Optional[str]] = mapped_column(String(200))
    lease_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    holders: Mapped[list] = mapped_column(Json, default=list)  # every worker that claimed it, in order
    result: Mapped[Optional[dict]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_work_chunks_run_state", "run_id", "state", "seq"),
                      CheckConstraint(_in("state", CHUNK_STATES), name="state"))


@dataclass(frozen=True)
class Claimed:
    """A chunk this worker holds now."""

    id: int
    run_id: str
    seq: int
    document_ids: tuple[int, ...]
    attempt: int
    taken_from: str | None  # the holder whose lease ran out (a chunk taken over), else None


@dataclass(frozen=True)
class Progress:
    """How far a run's chunks are."""

    total: int
    done: int
    running: int
    pending: int
    expired: int  # running, but the holder's lease has run out: another worker will take them over

    @property
    def finished(self) -> bool:
        return self.done == self.total


def plan(session: Session, run_id: str, chunks: Sequence[Sequence[int]]) -> int:
    """Record a run's chunks (in order); returns how many."""
    rows = [WorkChunk(run_id=run_id, seq=i, document_ids=[int(x) for x in c], state="pending", holders=[])
            for i, c in enumerate(chunks)]
    session.add_all(rows)
    return len(rows)


def claim(session: Session, run_id: str, holder: str, *, lease: timedelta,
          now: datetime | None = None) -> Claimed | None:
    """The next chunk of ``run_id`` for ``holder``: a pending one, else one whose holder's lease ran out or who is
    known to be dead; None when there is none to take now."""
    now = now or utcnow()
    q = (select(WorkChunk).where(WorkChunk.run_id == run_id, WorkChunk.state != "done")
         .order_by(WorkChunk.seq))
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    for row in session.execute(q).scalars():
        expired = row.state == "running" and (row.lease_until is None or row.lease_until < now
                                               or holder_is_dead(row.holder))
        if row.state != "pending" and not expired:
            continue
        taken_from = row.holder if row.state == "running" else None
        row.state, row.holder, row.lease_until = "running", holder, now + lease
        row.attempts += 1
        row.holders = [*(row.holders or []), holder]
        session.flush()
        return Claimed(row.id, row.run_id, row.seq, tuple(row.document_ids), row.attempts, taken_from)
    return None


def renew(session: Session, chunk_id: int, holder: str, *, lease: timedelta, now: datetime | None = None) -> bool:
    """Extend the lease; False when the chunk is no longer this holder's (taken over after the lease ran out)."""
    now = now or utcnow()
    return session.execute(update(WorkChunk).where(WorkChunk.id == chunk_id, WorkChunk.holder == holder,
                                                   WorkChunk.state == "running")
                           .values(lease_until=now + lease)
                           .execution_options(synchronize_session=False)).rowcount == 1


def finish(session: Session, chunk_id: int, holder: str, result: dict[str, Any],
           now: datetime | None = None) -> bool:
    """Record the chunk as done with what it did; False (nothing recorded) when another worker holds it now: its
    result then comes from that worker (the work itself was idempotent)."""
    return session.execute(update(WorkChunk).where(WorkChunk.id == chunk_id, WorkChunk.holder == holder,
                                                   WorkChunk.state == "running")
                           .values(state="done", result=result, done_at=now or utcnow(), lease_until=None)
                           .execution_options(synchronize_session=False)).rowcount == 1


def progress(session: Session, run_id: str, now: datetime | None = None) -> Progress:
    now = now or utcnow()
    rows = session.execute(select(WorkChunk.state, WorkChunk.lease_until, WorkChunk.holder)
                           .where(WorkChunk.run_id == run_id)).all()
    done = sum(1 for r in rows if r.state == "done")
    running = [r for r in rows if r.state == "running"]
    expired = sum(1 for r in running if r.lease_until is None or r.lease_until < now or holder_is_dead(r.holder))
    return Progress(len(rows), done, len(running), sum(1 for r in rows if r.state == "pending"), expired)


def results(session: Session, run_id: str) -> list[tuple[int, list[str], dict[str, Any]]]:
    """(seq, holders, result) of the run's finished chunks, in order."""
    return [(r.seq, list(r.holders or []), dict(r.result or {})) for r in session.execute(
        select(WorkChunk).where(WorkChunk.run_id == run_id, WorkChunk.state == "done")
        .order_by(WorkChunk.seq)).scalars()]


def count(session: Session, run_id: str) -> int:
    return session.execute(select(func.count()).select_from(WorkChunk).where(WorkChunk.run_id == run_id)).scalar_one()


__all__ = ["CHUNK_STATES", "Claimed", "Progress", "WorkChunk", "claim", "count", "finish", "plan", "progress",
           "renew", "results"]
