"""The pipeline as Prefect flows: thin wrappers over :mod:`erechnung.pipeline`, one task per chunk of documents.

``run_flow``              the whole run (:func:`erechnung.pipeline.run.run_pipeline`, its steps submitted as the
                          tasks of :class:`PrefectTasks`): intake (a task per department), then per chunk of a
                          few hundred documents a ``render-validate`` task and a ``record-archive-hand-over``
                          task; the render tasks of several chunks run at once (threads), each handing its chunk
                          to the pool of spawned worker processes, so every core renders while finished chunks
                          are archived. Intake tasks are named after their department (``intake-standesamt``);
                          one whose intake stopped ends Failed with the reason, the others go on. At the end the
                          summary is published as artifacts (a table per department with German headers; the
                          run as markdown, its times on the Berlin clock with their zone; the run report as a
                          link to the console, ``[console] base_url``, or else where its file lies) and
                          returned. When something failed (a department skipped because its mapping profile is
                          broken, a department's intake stopped, a file unreadable, documents left for the next
                          run) the flow run ends Failed, its message starting with the departments
                          (``Fehlgeschlagen: Ordnungsamt. ...``), and the result travels as ``RunFailed.result``
                          (``run_flow(..., return_state=True)``).
``intake_flow``,          the steps alone, on what waits in the state database (for operators: e.g. render
``render_validate_flow``, again after a bundle update, archive after an outage); each holds its departments
``archive_flow``,         for its duration.
``hand_over_flow``

Tasks get the pipeline, the pool and the run's state wrapped in ``quote()``: Prefect then does not walk
through them looking for futures (the run's lists grow with every document; walking them for every task made
the run quadratic). Parameters of the flows are plain values (a deployment passes them): ``config`` (path of the
configuration), ``department`` (one id, or None for all), ``workers``, ``chunk_size``, ``db_url`` (default: the
configuration's); only ``run_flow``'s ``progress`` is a callable, for a caller running the flow in its own process.
Flows never hold state between runs; everything is in the database, the archive and the work area.

Importing this module imports Prefect: whoever starts a flow applies the offline settings first
(:func:`flows.settings.apply`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

if __name__ == "__main__":  # started as a script: the offline settings before Prefect is imported
    from flows.settings import apply

    apply()

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NONE
from prefect.states import Failed
from prefect.utilities.annotations import quote

from erechnung.config import load_config
from erechnung.pipeline import IntakeReport, Options, Pipeline, RenderPool, archive, chunks, hand_over, intake, pending
from erechnung.pipeline.locks import acquire_all, release, renew
from erechnung.pipeline.run import RunFailed, RunState, chunk_done, plan, run_pipeline
from erechnung.pipeline.steps import record_results, render_items_of

TASK = dict(cache_policy=NONE, retries=0, persist_result=False)


def _open(config: str, db_url: Optional[str], workers: Optional[int], chunk_size: int,
          work_dir: Optional[str] = None, report_dir: Optional[str] = None) -> Pipeline:
    return Pipeline.open(load_config(config), db_url=db_url, work_dir=work_dir, report_dir=report_dir,
                         options=Options(workers=workers, chunk_size=chunk_size))


# ============================================================================================ tasks


@task(name="intake", task_run_name="intake-{department}", **TASK)
def intake_task(p: Pipeline, department: str, run_id: Optional[str] = None):
    """One department's intake; its task run ends Failed (red in the UI, the department's trouble in the message)
    when the intake stopped (its drop zone unreachable ...), carrying the report all the same (:func:`report_of`)."""
    report = intake(p, [department], run_id=run_id)
    get_run_logger().info("%s: %s", department, report.by_department().get(department, {}))
    errors = [b.error for b in report.batches if b.department == department and b.error]
    if errors:
        name = p.config.department(department).name
        return Failed(message=f"{name}: Übernahme abgebrochen: {errors[0]}", data=report)
    return report


def report_of(future) -> IntakeReport:
    """The report of an ``intake_task``, also of one that ended Failed (the run goes on with the others)."""
    return future.result(raise_on_failure=False)


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


def publish(summary, config=None) -> None:
    """The run's summary as artifacts of the current flow run (shown in the UI under Artifacts): the table per
    department with German headers, the run as markdown, and the run report: a link to its page in the console
    when ``[console] base_url`` is configured, else a note saying where the HTML file lies on the server (a
    ``file://`` link would open nothing from the UI)."""
    from erechnung.config.console import console_link

    def links(path: str):
        return console_link(config, path)

    failed = summary.failed_departments()
    create_table_artifact(table=summary.table_de(), key="erechnung-run-summary",
                          description=f"Lauf {summary.run_id} ({summary.when()}): je Abteilung Dateien, Datensätze, "
                                      "Belege, erzeugt, abgelehnt, Quarantäne, übergeben"
                                      + (f" – fehlgeschlagen: {', '.join(failed)}" if failed else ""))
    create_markdown_artifact(markdown=summary.markdown(links), key="erechnung-run-report",
                             description="Der Lauf: Zahlen, zurückgewiesene Belege, Fehlerberichte")
    url = links("laeufe")
    if url:
        create_link_artifact(link=url, key="erechnung-run-report-html", link_text="Läufe in der Konsole",
                             description=f"Die Läufe je Abteilung in der Konsole; der HTML-Bericht dieses Laufs "
                                         f"liegt auf dem Server unter {summary.report_html}")
    elif summary.report_html is not None:
        create_markdown_artifact(
            markdown=f"Der HTML-Bericht des Laufs liegt auf dem Server unter `{Path(summary.report_html).absolute()}`."
                     "\n\nEin Link zur Konsole entsteht, wenn die Konfiguration unter `[console]` `base_url` nennt.",
            key="erechnung-run-report-html", description="Wo der HTML-Bericht liegt")


class PrefectTasks:
    """The run's steps (:class:`erechnung.pipeline.run.Steps`) as the tasks above: an ``intake`` task per
    department; ``render-validate`` tasks for a bounded window of chunks at once, each chunk then recorded,
    archived and handed over in order (``record-archive-hand-over``) while the workers render the next ones."""

    def intake(self, p: Pipeline, departments: list[str], run_id: str, progress) -> IntakeReport:
        """A task per department, all at once; their files are not reported as progress (only rendering is)."""
        report = IntakeReport()
        for f in [intake_task.submit(quote(p), d, run_id) for d in departments]:
            report.batches += report_of(f).batches
        return report

    def render(self, p: Pipeline, pool: RenderPool, chunks):
        window = 2 * pool.workers
        queue = list(chunks)
        in_flight = [render_validate_task.submit(quote(p), c, quote(pool)) for c in queue[:window]]
        queue = queue[window:]
        while in_flight:
            rendered = in_flight.pop(0).result()
            if queue:
                in_flight.append(render_validate_task.submit(quote(p), queue.pop(0), quote(pool)))
            yield rendered

    def chunk_done(self, p: Pipeline, st: RunState, items, results) -> None:
        finish_chunk_task(quote(p), quote(st), quote((items, results)))


def _run_name() -> str:
    """The flow run's name in the UI: the municipality (several share one Prefect server) and the department."""
    from prefect.runtime import flow_run

    params = flow_run.parameters
    try:
        name = load_config(params.get("config") or "examples/config.toml").municipality.name
    except Exception:  # noqa: BLE001 - a broken configuration fails the run itself, with its message
        name = Path(str(params.get("config"))).stem
    return f"{name} – {params['department']}" if params.get("department") else name


@flow(name="erechnung-run", flow_run_name=_run_name, log_prints=False)
def run_flow(config: str = "examples/config.toml", department: Optional[str] = None, workers: Optional[int] = None,
             chunk_size: int = 500, db_url: Optional[str] = None, work_dir: Optional[str] = None,
             report_dir: Optional[str] = None,
             progress: Optional[Callable[[str, int, Optional[int]], None]] = None) -> dict[str, Any]:
    """The whole pipeline once, for one department or all (see the module docstring); ``progress`` hears
    ``(stage, done, total)`` when the flow runs in the caller's process (the command line's progress bars)."""
    log = get_run_logger()
    with _open(config, db_url, workers, chunk_size, work_dir, report_dir) as p:
        summary = run_pipeline(p, department, progress=progress, steps=PrefectTasks())
        cfg = p.config
    for d in summary.departments:
        if d.skipped:
            log.error("%s: skipped, its mapping profile is broken: %s", d.department, d.skipped)
    busy = {d.department: d.busy for d in summary.departments if d.busy}
    if busy:
        log.warning("held by another run, left out: %s", busy)
    publish(summary, cfg)
    log.info("run %s: %s", summary.run_id, summary.totals.row())
    for d in summary.departments:
        if d.error:
            log.error("%s: intake stopped: %s", d.department, d.error)
    result = {"run_id": summary.run_id, "report_html": str(summary.report_html), "table": summary.table(),
              "seconds": round(summary.seconds, 2), "rejected": len(summary.rejected), "timings": summary.timings,
              "errors": {d.department: d.error for d in summary.departments if d.error},
              "skipped": {d.department: d.skipped for d in summary.departments if d.skipped},
              "problems": summary.problems(), "failed_departments": summary.failed_departments()}
    return _ended(result)


def _ended(result: dict[str, Any]):
    """``result``, or a Failed state carrying it (``RunFailed.result``) when ``result["problems"]`` says that
    something failed: a flow run with a broken department must not show as Completed."""
    if not result["problems"]:
        return result
    failed = RunFailed(result["problems"], result)
    names = result.get("failed_departments")
    head = f"Fehlgeschlagen: {', '.join(names)}. " if names else ""
    return Failed(message=head + str(failed), data=failed)


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
            reports = [report_of(intake_task.submit(quote(p), d)) for d in held]
            broken = {d.id: str(p.profile_check.broken[d.id]) for d in p.departments(department)
                      if d.id in p.profile_check.broken}
        finally:
            release(p)
    out: dict[str, Any] = {}
    for r in reports:
        out.update(r.by_department())
    problems = [f"{d}: übersprungen, nichts übernommen: {why}" for d, why in broken.items()]
    problems += [f"{b.department}: Übernahme abgebrochen: {b.error}" for r in reports for b in r.batches if b.error]
    failed = list(broken) + [b.department for r in reports for b in r.batches if b.error]
    return _ended({**out, "problems": problems, "failed_departments": list(dict.fromkeys(failed))}) if problems else out


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
