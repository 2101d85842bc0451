"""The pipeline as Prefect flows: thin wrappers over :mod:`erechnung.pipeline`, one task per chunk of documents.

``run_flow``              the whole run: intake (a task per department), then per chunk of a few hundred
                          documents a ``render-validate`` task, an ``archive`` task and a ``hand-over`` task; the
                          render tasks of several chunks run at once (threads), each handing its chunk to the
                          pool of spawned worker processes, so every core renders while finished chunks are
                          archived. At the end the summary is published as artifacts (a table per department:
                          received / rendered / rejected / quarantined; the run as markdown; a link to the HTML
                          run report) and returned. When something failed (a department skipped because its
                          mapping profile is broken, a department's intake stopped, a file unreadable, documents
                          left for the next run) the flow run ends Failed, its message listing what, and the
                          result travels as ``RunFailed.result`` (``run_flow(..., return_state=True)``).
``intake_flow``,          the steps alone, on what waits in the state database (for operators: e.g. render
``render_validate_flow``, again after a bundle update, archive after an outage); each holds its departments
``archive_flow``,         for its duration.
``hand_over_flow``

Tasks get the pipeline, the pool and the run's state wrapped in ``quote()``: Prefect then does not walk
through them looking for futures (the run's lists grow with every document; walking them for every task made
the run quadratic). Parameters of the flows are plain values (a deployment passes them): ``config`` (path of the configuration),
``department`` (one id, or None for all), ``workers``, ``chunk_size``, ``db_url`` (default: the configuration's).
Flows never hold state between runs; everything is in the database, the archive and the work area.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Optional

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NONE
from prefect.states import Failed
from prefect.utilities.annotations import quote

from erechnung.config import load_config
from erechnung.pipeline import Options, Pipeline, RenderPool, archive, chunks, hand_over, intake, pending
from erechnung.pipeline.locks import acquire_all, release, renew
from erechnung.pipeline.run import (RunFailed, RunState, begin, chunk_done, early_pool, fail, finish, leftovers, plan,
                                    pool_for)
from erechnung.pipeline.steps import record_results, render_items_of

#: Set by a caller running a flow in its own process (the command line's progress bars): ``(stage, done, total)``.
PROGRESS: Optional[Callable[[str, int, Optional[int]], None]] = None

TASK = dict(cache_policy=NONE, retries=0, persist_result=False)


def _open(config: str, db_url: Optional[str], workers: Optional[int], chunk_size: int,
          work_dir: Optional[str] = None, report_dir: Optional[str] = None) -> Pipeline:
    return Pipeline.open(load_config(config), db_url=db_url, work_dir=work_dir, report_dir=report_dir,
                         options=Options(workers=workers, chunk_size=chunk_size))


def _progress(stage: str, done: int, total: Optional[int]) -> None:
    if PROGRESS is not None:
        PROGRESS(stage, done, total)


# ============================================================================================ tasks


@task(name="intake", **TASK)
def intake_task(p: Pipeline, department: str, run_id: Optional[str] = None):
    report = intake(p, [department], run_id=run_id)
    get_run_logger().info("%s: %s", department, report.by_department().get(department, {}))
    return report


@task(name="render-validate", **TASK)
def render_validate_task(p: Pipeline, chunk: list[int], pool: RenderPool):
    items = render_items_of(p, chunk)
    return items, (pool.render(items) if items else [])


@task(name="archive", **TASK)
def archive_task(p: Pipeline, chunk: list[int]):
    return archive(p, chunk)


@task(name="hand-over", **TASK)
def hand_over_task(p: Pipeline, chunk: list[int]) -> list[int]:
    handed = hand_over(p, chunk)
    renew(p)
    return handed


@task(name="record-archive-hand-over", **TASK)
def finish_chunk_task(p: Pipeline, st: RunState, rendered) -> int:
    items, results = rendered
    chunk_done(p, st, items, results)
    return len(items)


# ============================================================================================ the run


def publish(summary) -> None:
    """The run's summary as artifacts of the current flow run (shown in the UI under Artifacts)."""
    create_table_artifact(table=summary.table(), key="erechnung-run-summary",
                          description=f"Run {summary.run_id}: per department received / rendered / rejected / "
                                      "quarantined")
    create_markdown_artifact(markdown=summary.markdown(), key="erechnung-run-report",
                             description="The run: counts, rejected documents, error reports")
    if summary.report_html is not None:
        create_link_artifact(link=Path(summary.report_html).absolute().as_uri(), key="erechnung-run-report-html",
                             link_text=Path(summary.report_html).name, description="HTML run report")


@flow(name="erechnung-run", log_prints=False)
def run_flow(config: str = "examples/config.toml", department: Optional[str] = None, workers: Optional[int] = None,
             chunk_size: int = 500, db_url: Optional[str] = None, work_dir: Optional[str] = None,
             report_dir: Optional[str] = None) -> dict[str, Any]:
    """The whole pipeline once, for one department or all (see the module docstring)."""
    log = get_run_logger()
    with _open(config, db_url, workers, chunk_size, work_dir, report_dir) as p:
        st = begin(p, department)
        for d, why in st.skipped.items():
            log.error("%s: skipped, its mapping profile is broken: %s", d, why)
        if st.busy:
            log.warning("held by another run, left out: %s", st.busy)
        started = early_pool(p) if st.held else None
        try:
            t, cpu = time.perf_counter(), time.process_time()
            for f in [intake_task.submit(quote(p), d, st.run_id) for d in st.held]:
                report = f.result()
                st.intake.batches += report.batches
            st.timings["intake"] = time.perf_counter() - t
            st.timings["intake_cpu"], cpu = time.process_time() - cpu, time.process_time()
            t = time.perf_counter()
            leftovers(p, st)
            ids = pending(p, "render", st.held) if st.held else []
            _progress("render", 0, len(ids))
            done = 0
            if ids:
                pool, size = pool_for(p, st, started, len(ids))
                started = None
                with pool:
                    # render tasks for a bounded window of chunks at once; each chunk then recorded, archived and
                    # handed over in order, while the workers render the next ones
                    window = 2 * st.workers
                    queue = list(chunks(ids, size))
                    in_flight = [render_validate_task.submit(quote(p), c, quote(pool)) for c in queue[:window]]
                    queue = queue[window:]
                    while in_flight:
                        rendered = in_flight.pop(0).result()
                        if queue:
                            in_flight.append(render_validate_task.submit(quote(p), queue.pop(0), quote(pool)))
                        done += finish_chunk_task(quote(p), quote(st), quote(rendered))
                        _progress("render", done, len(ids))
            st.timings["documents"] = time.perf_counter() - t
            st.timings["documents_cpu"] = time.process_time() - cpu
        except BaseException:
            fail(p, st)
            raise
        finally:
            if started is not None:
                started.close()
        summary = finish(p, st)
    publish(summary)
    log.info("run %s: %s", summary.run_id, summary.totals.row())
    for d in summary.departments:
        if d.error:
            log.error("%s: intake stopped: %s", d.department, d.error)
    result = {"run_id": summary.run_id, "report_html": str(summary.report_html), "table": summary.table(),
              "seconds": round(summary.seconds, 2), "rejected": len(summary.rejected), "timings": summary.timings,
              "errors": {d.department: d.error for d in summary.departments if d.error},
              "skipped": {d.department: d.skipped for d in summary.departments if d.skipped},
              "problems": summary.problems()}
    return _ended(result)


def _ended(result: dict[str, Any]):
    """``result``, or a Failed state carrying it (``RunFailed.result``) when ``result["problems"]`` says that
    something failed: a flow run with a broken department must not show as Completed."""
    if not result["problems"]:
        return result
    failed = RunFailed(result["problems"], result)
    return Failed(message=str(failed), data=failed)


# ============================================================================================ single steps


def _held(p: Pipeline, department: Optional[str]) -> list[str]:
    """The departments this flow holds; those whose mapping profile is broken are never held (logged)."""
    wanted = [d.id for d in p.departments(department)]
    for d in wanted:
        if d in p.profile_check.broken:
            get_run_logger().error("%s: skipped, its mapping profile is broken: %s", d, p.profile_check.broken[d])
    held, busy = acquire_all(p, [d for d in wanted if d not in p.profile_check.broken])
    if busy:
        get_run_logger().warning("held by another run, left out: %s", busy)
    return held


@flow(name="erechnung-intake")
def intake_flow(config: str = "examples/config.toml", department: Optional[str] = None,
                db_url: Optional[str] = None) -> dict[str, Any]:
    """Claim and process the new batches (documents numbered, rows quarantined, error reports written)."""
    with _open(config, db_url, 1, 500) as p:
        try:
            held = _held(p, department)
            reports = [intake_task.submit(quote(p), d).result() for d in held]
            broken = {d.id: str(p.profile_check.broken[d.id]) for d in p.departments(department)
                      if d.id in p.profile_check.broken}
        finally:
            release(p)
    out: dict[str, Any] = {}
    for r in reports:
        out.update(r.by_department())
    problems = [f"{d}: übersprungen, nichts übernommen: {why}" for d, why in broken.items()]
    problems += [f"{b.department}: Übernahme abgebrochen: {b.error}" for r in reports for b in r.batches if b.error]
    return _ended({**out, "problems": problems}) if problems else out


@flow(name="erechnung-render-validate")
def render_validate_flow(config: str = "examples/config.toml", department: Optional[str] = None,
                         workers: Optional[int] = None, chunk_size: int = 500,
                         db_url: Optional[str] = None) -> dict[str, int]:
    """Render and validate every numbered document (results wait in the work area for ``archive_flow``)."""
    with _open(config, db_url, workers, chunk_size) as p:
        try:
            ids = pending(p, "render", _held(p, department))
            n, size = plan(p, len(ids))
            rendered = rejected = 0
            with RenderPool(n, p.work.root, p.options.hybrid_profile) as pool:
                futures = [render_validate_task.submit(quote(p), c, quote(pool)) for c in chunks(ids, size)]
                for f in futures:
                    items, results = f.result()
                    r = record_results(p, items, results)
                    rendered, rejected = rendered + len(r.rendered), rejected + len(r.rejected)
        finally:
            release(p)
    return {"rendered": rendered, "rejected": rejected}


@flow(name="erechnung-archive")
def archive_flow(config: str = "examples/config.toml", department: Optional[str] = None, chunk_size: int = 500,
                 db_url: Optional[str] = None) -> dict[str, int]:
    """Archive every rendered or rejected document not yet archived, with its report."""
    with _open(config, db_url, 1, chunk_size) as p:
        try:
            ids = pending(p, "archive", _held(p, department))
            reports = [archive_task.submit(quote(p), c) for c in chunks(ids, chunk_size)]
            archived = sum(len(f.result().archived) for f in reports)
        finally:
            release(p)
    return {"archived": archived}


@flow(name="erechnung-hand-over")
def hand_over_flow(config: str = "examples/config.toml", department: Optional[str] = None, chunk_size: int = 500,
                   db_url: Optional[str] = None) -> dict[str, int]:
    """Put every archived document into the delivery queue."""
    with _open(config, db_url, 1, chunk_size) as p:
        try:
            ids = pending(p, "hand_over", _held(p, department))
            handed = sum(len(hand_over_task.submit(quote(p), c).result()) for c in chunks(ids, chunk_size))
        finally:
            release(p)
    return {"handed_over": handed}


if __name__ == "__main__":  # python -m flows.pipeline [config] [department]
    import sys

    print(run_flow(*sys.argv[1:3]))
