"""A run spread over several machines (issue 16): the coordinator cuts the work into chunks in the state database,
workers on any machine drain them, and the coordinator builds the run's summary from what the chunks recorded.

``coordinate(p, departments, start_workers=..., workers_alive=...)``  the run: hold the departments, intake,
        finish what earlier runs left, record the numbered documents as chunks (:mod:`erechnung.state.work_chunks`),
        start ``[cluster] workers`` workers (``start_workers(run_id, n)``: the Prefect layer submits flow runs of the
        chunk deployment to the work pool), keep the departments held while they work, start another worker when
        none is left but chunks are, and summarize. If no worker can be started at all, the coordinator drains
        the chunks itself, so a run never hangs on an empty work pool.
``drain(p, run_id, pool=...)``  a worker: claim the next chunk, render and validate it, record the verdicts,
        archive, hand over, record what it did; until every chunk of the run is done. A chunk whose worker died
        is claimed again by another worker once its lease has run out (``[cluster] chunk_lease_seconds``); a worker
        waits for such leases instead of leaving, so one surviving worker finishes the run.

What crosses machines is ids: the run id and the chunk's document ids (in the database); the documents built by
intake wait in ``[cluster] shared_work`` (:class:`~erechnung.pipeline.context.WorkArea`); every step is idempotent
per document, so a chunk done twice (a worker thought dead that was only slow) changes nothing twice.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable, Sequence

from sqlalchemy import func, select

from ..state import work_chunks
from ..state.delivery_schema import DeadLetter, Delivery, DeliveryEvent
from ..state.schema import ArchiveItem, Batch, Document, Record
from ..state.work_chunks import WorkChunk
from .context import Pipeline
from .intake import intake as intake_step
from .locks import renew as renew_departments
from .pool import RenderPool
from .run import (Progress, RunState, RunSummary, begin, documents_timed, fail, finish, leftovers, pool_for,
                  take_in)
from .steps import ArchiveReport, RenderReport, archive, chunks, hand_over, record_results, render_items_of

log = logging.getLogger(__name__)


def lease_of(p: Pipeline) -> timedelta:
    return timedelta(seconds=p.config.cluster.chunk_lease_seconds)


# ============================================================================================ a worker


@dataclass
class DrainReport:
    """What one worker did for a run."""

    run_id: str
    holder: str
    chunks: int = 0
    documents: int = 0
    taken_over: list[int] = field(default_factory=list)  # seqs of chunks taken from a worker whose lease ran out
    lost: int = 0  # chunks whose lease this worker lost while working (another finished them)
    cpu: float = 0.0
    seconds: float = 0.0


class _Heartbeat:
    """Renews a chunk's lease every third of it while the chunk is worked on."""

    def __init__(self, p: Pipeline, chunk_id: int, holder: str) -> None:
        self.p, self.chunk_id, self.holder = p, chunk_id, holder
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="erechnung-chunk-lease", daemon=True)

    def _run(self) -> None:
        every = lease_of(self.p).total_seconds() / 3
        while not self._stop.wait(every):
            try:
                with self.p.transaction() as s:
                    if not work_chunks.renew(s, self.chunk_id, self.holder, lease=lease_of(self.p)):
                        self.lost = True
                        return
            except Exception:  # noqa: BLE001 - a missed renewal is retried; the lease is generous
                log.warning("chunk %s: lease renewal failed, trying again", self.chunk_id, exc_info=True)

    def __enter__(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def process_chunk(p: Pipeline, pool: RenderPool, document_ids: Sequence[int]) -> dict[str, Any]:
    """One chunk on this machine: its documents fetched into the work area, rendered and validated, verdicts
    recorded, archived, handed over; returns what it did (JSON, for the coordinator)."""
    cpu, t = time.process_time(), time.perf_counter()
    items = render_items_of(p, document_ids)
    fetched = p.work.fetch_models([i.key for i in items])
    report = record_results(p, items, pool.render(items)) if items else RenderReport()
    _count_earlier_verdicts(p, report, set(document_ids) - {i.id for i in items})
    a = archive(p, document_ids)
    handed = hand_over(p, document_ids)  # also what a worker before us archived but did not hand over
    return {"rendered": list(report.rendered), "rejected": [[i, r, list(e)] for i, r, e in report.rejected],
            "failed": [list(f) for f in report.failed], "warnings": [[i, list(w)] for i, w in report.warnings],
            "seconds": report.seconds, "by_format": report.by_format, "archived": list(a.archived),
            "archive_rejected": list(a.rejected), "rerendered": list(a.rerendered), "handed": list(handed),
            "fetched": fetched, "documents": len(document_ids), "cpu": time.process_time() - cpu,
            "wall": time.perf_counter() - t}


def _count_earlier_verdicts(p: Pipeline, report: RenderReport, ids: set[int]) -> None:
    """The chunk's documents whose verdict an earlier holder of the chunk recorded before it died (every document
    of a chunk was numbered when the run planned it): counted with the run, as the verdicts are this run's."""
    if not ids:
        return
    with p.transaction() as s:
        rows = s.execute(select(Document.id, Document.verdict).where(Document.id.in_(sorted(ids)))).all()
    for doc_id, verdict in rows:
        if verdict == "accept":
            report.rendered.append(doc_id)
        elif verdict == "reject":
            report.rejected.append((doc_id, "von der Prüfung zurückgewiesen (vor der Übernahme des Abschnitts)", ()))


def drain(p: Pipeline, run_id: str, *, pool: RenderPool | None = None, holder: str | None = None,
          poll: float = 1.0, max_chunks: int | None = None,
          on_chunk: Callable[[work_chunks.Claimed, dict[str, Any]], None] | None = None) -> DrainReport:
    """Work on ``run_id``'s chunks until all are done (see the module docstring); ``max_chunks`` stops earlier."""
    holder = holder or p.worker
    report = DrainReport(run_id, holder)
    cpu, t = time.process_time(), time.perf_counter()
    own = pool is None
    pool = pool or RenderPool(1, p.work.root, p.options.hybrid_profile, design=p.config.design())
    try:
        with pool if own else _nothing():
            while max_chunks is None or report.chunks < max_chunks:
                with p.transaction() as s:
                    chunk = work_chunks.claim(s, run_id, holder, lease=lease_of(p))
                    state = work_chunks.progress(s, run_id) if chunk is None else None
                if chunk is None:
                    if state is None or state.finished or state.total == 0:
                        break
                    time.sleep(poll)  # others hold the rest: wait for them to finish or for a lease to run out
                    continue
                if chunk.taken_from:
                    log.warning("chunk %s of run %s: taken over from %s, whose lease ran out", chunk.seq, run_id,
                                chunk.taken_from)
                    report.taken_over.append(chunk.seq)
                with _Heartbeat(p, chunk.id, holder) as beat:
                    result = process_chunk(p, pool, chunk.document_ids)
                result["holder"] = holder
                with p.transaction() as s:
                    mine = work_chunks.finish(s, chunk.id, holder, result)
                if not mine or beat.lost:
                    report.lost += 1
                report.chunks += 1
                report.documents += len(chunk.document_ids)
                if on_chunk:
                    on_chunk(chunk, result)
    finally:
        report.cpu, report.seconds = time.process_time() - cpu, time.perf_counter() - t
    return report


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


# ============================================================================================ the coordinator


def plan_chunks(p: Pipeline, st: RunState, ids: Sequence[int], size: int) -> int:
    with p.transaction() as s:
        return work_chunks.plan(s, st.run_id, list(chunks(ids, size)))


def collect(p: Pipeline, st: RunState) -> dict[str, Any]:
    """Merge what the chunks recorded into the run's state; returns per worker (holder) chunks, documents and CPU
    seconds, and the chunks taken over."""
    with p.transaction() as s:
        done = work_chunks.results(s, st.run_id)
    by_worker: dict[str, dict[str, float]] = {}
    taken_over = 0
    for _seq, holders, r in done:
        rr = RenderReport(rendered=list(r.get("rendered", ())),
                          rejected=[(i, reason, tuple(e)) for i, reason, e in r.get("rejected", ())],
                          failed=[(i, reason) for i, reason in r.get("failed", ())],
                          seconds=float(r.get("seconds", 0.0)),
                          by_format={f: list(v) for f, v in (r.get("by_format") or {}).items()},
                          warnings=[(i, tuple(w)) for i, w in r.get("warnings", ())])
        st.render.merge(rr)
        st.archive.merge(ArchiveReport(archived=list(r.get("archived", ())),
                                       rejected=list(r.get("archive_rejected", ()))))
        st.handed.extend(r.get("handed", ()))
        w = by_worker.setdefault(r.get("holder", "?"), {"chunks": 0, "documents": 0, "cpu": 0.0})
        w["chunks"] += 1
        w["documents"] += int(r.get("documents", 0))
        w["cpu"] += float(r.get("cpu", 0.0))
        taken_over += len(holders) > 1
    return {"workers": by_worker, "taken_over": taken_over, "chunks": len(done)}


def coordinate(p: Pipeline, departments: str | Sequence[str] | None = None, *,
               start_workers: Callable[[str, int], int] | None = None,
               workers_alive: Callable[[], int] | None = None,
               intake: Callable[[Pipeline, list[str], str], Any] | None = None,
               progress: Progress | None = None, poll: float = 2.0) -> RunSummary:
    """The run with its chunks drained by workers elsewhere (see the module docstring). ``start_workers(run_id,
    n)`` starts ``n`` workers and returns how many it started; ``workers_alive()`` says how many of them still
    run (None: assume they do); ``intake`` replaces the in-place intake (the Prefect layer: a task per
    department). The summary's ``timings["cluster"]`` says which worker did how much."""
    st = begin(p, departments)
    try:
        ids, t, cpu = take_in(p, st, lambda held: intake(p, held, st.run_id) if intake
                              else intake_step(p, held, run_id=st.run_id))
        n_chunks = 0
        if ids:
            size = max(1, min(p.options.chunk_size, -(-len(ids) // (p.config.cluster.workers * 4))))
            n_chunks = plan_chunks(p, st, ids, size)
            started = start_workers(st.run_id, min(p.config.cluster.workers, n_chunks)) if start_workers else 0
            st.workers = started
            if not started:
                log.warning("run %s: no worker could be started: the coordinator works on the chunks itself",
                            st.run_id)
                pool, _size = pool_for(p, st, None, len(ids))
                with pool:
                    drain(p, st.run_id, pool=pool)
            _wait(p, st, len(ids), start_workers, workers_alive, progress, poll)
        documents_timed(st, t, cpu)
        cluster = collect(p, st) if n_chunks else {"workers": {}, "taken_over": 0, "chunks": 0}
        leftovers(p, st)  # a document a worker archived but could not hand over before it died
    except BaseException:
        fail(p, st)
        raise
    summary = finish(p, st)
    summary.timings["cluster"] = cluster
    return summary


def _wait(p: Pipeline, st: RunState, total: int, start_workers, workers_alive, progress, poll: float) -> None:
    """Until every chunk is done: the departments stay held and progress is reported. When no worker is left
    (``workers_alive() == 0``) or chunks whose lease ran out stay untaken for two leases (every worker gone, as a
    dead machine's flow run may still show as running), another worker is started; failing that, this process
    drains the chunks itself."""
    last, stalled_since, started_more = -1, None, False
    while True:
        renew_departments(p)
        with p.transaction() as s:
            state = work_chunks.progress(s, st.run_id)
        if progress and state.done != last:
            progress("render", min(total, round(total * state.done / max(1, state.total))), total)
        if state.finished:
            return
        if state.done != last or not state.expired:
            stalled_since = None
        elif stalled_since is None:
            stalled_since = time.monotonic()
        last = state.done
        stalled = stalled_since is not None and time.monotonic() - stalled_since > 2 * lease_of(p).total_seconds()
        alive = workers_alive() if workers_alive else None
        if alive == 0 or stalled:
            restarted = 0 if (started_more and stalled) or not start_workers else start_workers(st.run_id, 1)
            started_more, stalled_since = True, None
            if not restarted:
                log.warning("run %s: no worker left and none can be started: the coordinator finishes the chunks",
                            st.run_id)
                drain(p, st.run_id)
                continue
        time.sleep(poll)




# ============================================================================================ the check


@dataclass(frozen=True)
class Ledger:
    """What a municipality's state database says after its runs, counted from the tables (never from what a run
    said about itself): ``duplicates`` are documents archived as more than one rendering and rows of a file recorded
    more than once; ``lost`` are files not finished, records that became nothing, documents
    not archived and handed over (or rejected and archived), and chunks never done."""

    documents: int
    duplicates: int
    lost: int
    workers: frozenset[str]  # the machines (lease hosts) that worked on chunks
    taken_over: int = 0  # chunks claimed by more than one worker (a worker died or lost its lease)
    deliveries: int = 0  # deliveries sent (with ``delivered=True``)
    dead_letters: tuple[str, ...] = ()  # documents that cannot be delivered, with the reason (recorded, not lost)


def ledger(p: Pipeline, *, delivered: bool = False) -> Ledger:
    """The counts (see :class:`Ledger`); with ``delivered`` (after delivery) also: a delivery sent more than once
    is a duplicate, a handed-over document with neither a delivery nor a dead letter (the reason it cannot be
    delivered, for finance) is lost."""
    with p.transaction() as s:
        documents = s.execute(select(func.count()).select_from(Document)).scalar_one()
        twice_archived = s.execute(select(func.count()).select_from(
            select(ArchiveItem.document_id).where(ArchiveItem.kind == "document", ArchiveItem.document_id.is_not(None))
            .group_by(ArchiveItem.document_id).having(func.count() > 1).subquery())).scalar_one()
        twice_recorded = s.execute(select(func.count()).select_from(
            select(Record.batch_id, Record.row_first).group_by(Record.batch_id, Record.row_first)
            .having(func.count() > 1).subquery())).scalar_one()
        unfinished_files = s.execute(select(func.count()).select_from(Batch).where(
            ~Batch.department.startswith("_"), Batch.status == "claimed")).scalar_one()
        unfinished_docs = s.execute(select(func.count()).select_from(Document).where(
            ~((Document.state == "handed_over")
              | ((Document.state == "rejected") & Document.archived_at.is_not(None))))).scalar_one()
        orphan_records = s.execute(select(func.count()).select_from(Record).where(
            Record.status == "documented", Record.document_id.is_(None))).scalar_one()
        open_chunks = s.execute(select(func.count()).select_from(WorkChunk).where(WorkChunk.state != "done")
                                ).scalar_one()
        chunk_holders = [row or [] for row in s.execute(select(WorkChunk.holders)).scalars()]
        sent = sent_twice = undelivered = 0
        dead: tuple[str, ...] = ()
        if delivered:

            per = select(DeliveryEvent.delivery_id, func.count().label("n")).where(
                DeliveryEvent.to_state == "sent").group_by(DeliveryEvent.delivery_id).subquery()
            sent = s.execute(select(func.count()).select_from(per)).scalar_one()
            sent_twice = s.execute(select(func.count()).select_from(per).where(per.c.n > 1)).scalar_one()
            undelivered = s.execute(select(func.count()).select_from(Document).where(
                Document.state == "handed_over", ~Document.id.in_(select(Delivery.document_id)),
                ~Document.id.in_(select(DeadLetter.document_id)))).scalar_one()
            dead = tuple(f"{number or doc_id}: {reason}" for doc_id, number, reason in s.execute(
                select(DeadLetter.document_id, Document.number, DeadLetter.reason)
                .join(Document, Document.id == DeadLetter.document_id).order_by(DeadLetter.id)).all())
        holders = [h for row in chunk_holders for h in row]
    return Ledger(documents, twice_archived + twice_recorded + sent_twice,
                  unfinished_files + unfinished_docs + orphan_records + open_chunks + undelivered,
                  frozenset(h.split(":", 1)[0] for h in holders),
                  sum(1 for row in chunk_holders if len(row) > 1), sent, dead)


__all__ = ["DrainReport", "Ledger", "coordinate", "collect", "drain", "lease_of", "ledger", "plan_chunks",
           "process_chunk"]
