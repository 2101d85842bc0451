"""One run per department at a time: a lease on the department, held for the whole run.

The lease is a row of the ``batches`` table (department ``_lock:<id>``, a fixed sha256), claimed and renewed with
the repository's own :func:`~erechnung.state.repository.claim_batch` and
:func:`~erechnung.state.repository.heartbeat`, so it needs no table of its own and has the same semantics: a
live holder keeps it by renewing it; a holder that stops renewing loses it when the lease runs out; a holder
known to be dead (a process of this host that no longer runs: the crashed run) loses it at once
(:func:`erechnung.state.leases.holder_is_dead`, the rule every lease of the project follows). Releasing it
sets the lease into the past. Department ids cannot start with ``_``, so these rows never mix with batches.

While a run holds a department, nothing else works on that department's batches and documents: a batch still
``claimed`` there was left by a crashed run and is taken over at once, and the document steps (render, archive,
hand over) need no per-document claims.
"""
from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import update

from ..errors import ErechnungError
from ..state.leases import holder_is_dead
from ..state.repository import claim_batch, heartbeat
from ..state.schema import LOCK_PREFIX, Batch, utcnow
from .context import Pipeline

PREFIX = LOCK_PREFIX


class DepartmentBusy(ErechnungError):
    """Another live run holds the department."""

    def __init__(self, department: str, holder: str | None) -> None:
        self.department, self.holder = department, holder
        super().__init__(f"department {department}: another run ({holder}) is working on it; try again later")


class LockLost(ErechnungError):
    """This run's lease on a department ran out and another run took it over: stop working on it."""


def _sha(department: str) -> str:
    return hashlib.sha256(f"erechnung-pipeline-lock:{department}".encode()).hexdigest()


def is_lock(department: str) -> bool:
    return department.startswith(PREFIX)


def acquire(p: Pipeline, department: str) -> None:
    """Hold ``department`` for this run (DepartmentBusy when a live run holds it)."""
    with p.transaction() as s:
        claim = claim_batch(s, department=PREFIX + department, source_key="pipeline-lock", sha256=_sha(department),
                            worker=p.worker, lease=p.options.lease)
        if not claim.mine:
            holder = claim.batch.claimed_by
            if claim.outcome != "busy" or not holder_is_dead(holder):
                raise DepartmentBusy(department, holder)
            taken = s.execute(update(Batch).where(Batch.id == claim.batch.id, Batch.claimed_by == holder)
                              .values(claimed_by=p.worker, claimed_at=utcnow(),
                                      lease_until=utcnow() + p.options.lease, attempts=Batch.attempts + 1)
                              .execution_options(synchronize_session=False)).rowcount == 1
            if not taken:
                raise DepartmentBusy(department, holder)
        p.locks[department] = claim.batch.id


def renew(p: Pipeline) -> None:
    """Renew every department lease this run holds (LockLost if one was taken over)."""
    if not p.locks:
        return
    with p.transaction() as s:
        for department, lock_id in p.locks.items():
            if not heartbeat(s, lock_id, p.worker, lease=p.options.lease):
                raise LockLost(f"department {department}: this run's lease ran out and another run took it over")


def release(p: Pipeline) -> None:
    """Give every held department back (the lease is set into the past)."""
    if not p.locks:
        return
    with p.transaction() as s:
        for lock_id in p.locks.values():
            heartbeat(s, lock_id, p.worker, lease=timedelta(seconds=-1))
    p.locks.clear()


def acquire_all(p: Pipeline, departments: list[str]) -> tuple[list[str], dict[str, str]]:
    """Hold as many of ``departments`` as possible: (held, {busy department: holder})."""
    held, busy = [], {}
    for d in sorted(departments):  # one order for every run: no two runs wait on each other crosswise
        try:
            acquire(p, d)
            held.append(d)
        except DepartmentBusy as exc:
            busy[d] = exc.holder or "?"
    return held, busy
