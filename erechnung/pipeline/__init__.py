"""The pipeline as plain functions (no Prefect): intake -> render and validate -> archive -> hand over.

    from erechnung.pipeline import run
    summary = run("examples/config.toml")                  # all departments
    summary = run(config, departments="steueramt", options=Options(workers=2))

or step by step on a :class:`Pipeline` (what the Prefect flows in ``flows/`` do, one task per chunk)::

    with Pipeline.open(config) as p:
        intake(p, ["standesamt"])
        for chunk in chunks(pending(p, "render"), 200):
            render_and_validate(p, chunk, pool)             # numbered -> rendered | rejected
            archive(p, chunk)                               # -> archived (rejected: archived_at)
            hand_over(p, chunk)                             # -> handed_over: the delivery queue

Exactly once, and nothing lost
------------------------------
Every record of a dropped file ends as exactly one document or one quarantine entry, and every document is
rendered, archived and handed over once, however often a file is dropped and wherever a run dies. The means:
(department, sha256) identifies a batch; ``department:sha256:group`` is each document's idempotency key
(UNIQUE); a record exists once per (batch, row); numbers are allocated in the transaction that creates the
document; the archive is content-addressed and write-once; every step reads its work from the database state
and is safe to repeat; a run holds its departments with a lease (:mod:`.locks`), and a later run takes over at
once what a dead run (a process of this host that is gone) held, or when the lease runs out.

The crash windows, by crash point (:mod:`.crash`; the crash test kills the pipeline at each of them):

``intake.claimed``       file moved to ``claimed/<name>``, nothing else done. Next run: processes what is under
                         ``claimed/`` before new files.
``intake.archived``      original archived, batch not claimed in the database. Next run: archives again (the same
                         bytes: nothing new) and claims.
``intake.batch_claimed`` batch claimed (committed), nothing mapped. Next run: the batch is ``claimed`` by a dead
                         run: taken over and processed again from the archived original.
``intake.document``,     some chunks of documents committed, the current one not (rolled back with its numbers:
``intake.chunk``         no gap). Next run: maps again (the same date: the day the batch was received), finds
                         the committed documents by their keys, creates the rest.
``intake.report``        error report in the drop zone and archive, batch not finished. Next run: writes the
                         same bytes again (nothing new in the archive), finishes.
``intake.finished``      batch finished, file still under ``claimed/``. Next run: the file is a duplicate of a
                         finished batch: removed.
``render.results``,      documents rendered into the work area, verdicts not (or: verdicts) committed. Next
``render.committed``     run: renders the still-numbered ones again (a PDF differs by its time stamp: only the
                         hash in the database counts, and it is committed before anything is archived).
``archive.put``          some documents and reports archived, the index not committed. Next run: archives the
                         same work files again (nothing new), indexes them. Without the work files but with the
                         archived bytes: the stored bytes are re-put (completing cut-off metadata) and indexed;
                         with neither, the document is rendered again before anything of it was archived.
``archive.committed``    archived and indexed, work files not removed. Next run: removes them (sweep).
``handover.committed``   handed over. Nothing left to do.

The original batch is archived before any of its documents exists, and a document's hash is in the database
before its bytes are in the archive, so the archive never holds a document the database does not know.
"""
from __future__ import annotations

from .context import Options, Pipeline, WorkArea
from .intake import BatchOutcome, IntakeReport, intake
from .locks import DepartmentBusy
from .pool import RenderPool
from .render import choose_format
from .run import DepartmentSummary, RunSummary, run, run_pipeline, run_report_html, write_run_report
from .steps import (ArchiveReport, RenderReport, archive, chunks, delivery_queue, hand_over, pending,
                    render_and_validate, sweep_work_area)

__all__ = ["ArchiveReport", "BatchOutcome", "DepartmentBusy", "DepartmentSummary", "IntakeReport", "Options",
           "Pipeline", "RenderPool", "RenderReport", "RunSummary", "WorkArea", "archive", "choose_format", "chunks",
           "delivery_queue", "hand_over", "intake", "pending", "render_and_validate", "run", "run_pipeline",
           "run_report_html", "sweep_work_area", "write_run_report"]
