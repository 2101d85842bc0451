"""``run(config)``: the whole pipeline once, for all departments or some, and what it did.

Order: hold the departments (:mod:`.locks`); intake; finish what earlier runs left (documents rendered but not
archived, archived but not handed over); then the numbered documents in chunks through the worker pool, each
chunk recorded, archived and handed over as soon as its results are back while the workers render the next
ones. The summary (per department: batches, received records, documents, rendered, rejected, quarantined,
handed over) is stored with the run in the database and written as an HTML run report.

One broken department fails alone: every department's mapping profile is checked before anything is claimed
(``Pipeline.profile_check``); a department whose profile is broken (a typo'd table, a missing file) is not held
and none of its files is touched: it is skipped, and the summary names it with the file, what is wrong and how to
fix it, while the others run. ``RunSummary.problems`` lists what failed (skipped, stopped, unreadable files,
documents left for the next run): the command then exits non-zero and the Prefect flow run ends Failed.
"""
from __future__ import annotations

import html
import logging
import math
import time
import uuid
from array import array
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence

from sqlalchemy import func, select

from ..errors import ErechnungError
from ..html_safety import csp_meta_html
from ..model.clock import berlin_text
from ..config import Config, load_config
from ..state.repository import finish_run, start_run
from ..state.schema import Document, utcnow
from .context import Options, Pipeline
from .intake import IntakeReport, intake
from .locks import acquire_all, release, renew
from .pool import RenderPool, resolve_workers
from .steps import (ArchiveReport, RenderReport, archive, chunks, hand_over, pending, record_results,
                    render_items_of, sweep_work_area)

#: How a run reports progress: ``(stage, done, total)``, stage ``intake`` or ``render`` (the command line's bars).
Progress = Callable[[str, int, "int | None"], None]

log = logging.getLogger(__name__)


class RunFailed(ErechnungError):
    """Something of a run failed (``RunSummary.problems``: a department skipped or stopped, files unreadable,
    documents left); ``result`` is what the run returns all the same. The Prefect flow run ends Failed with it."""

    def __init__(self, problems: Sequence[str], result: Any = None) -> None:
        self.problems, self.result = tuple(problems), result
        super().__init__("Im Lauf ist etwas fehlgeschlagen:\n" + "\n".join(f"  {p}" for p in self.problems))


@dataclass
class DepartmentSummary:
    department: str
    name: str
    batches: int = 0
    duplicates: int = 0
    received: int = 0  # records (rows) of the batches processed
    documents: int = 0  # documents made of them
    rendered: int = 0  # accepted by validation in this run
    rejected: int = 0  # rejected by validation in this run
    quarantined: int = 0  # records quarantined
    handed_over: int = 0
    busy: str | None = None  # another run held the department
    error: str | None = None  # the department's intake stopped (its drop zone unreachable ...): next run again
    skipped: str | None = None  # its mapping profile is broken: nothing claimed (the problems, for people)
    unreadable: int = 0  # files that could not be read at all (batch-level problems, in the error report)

    def row(self) -> dict[str, Any]:
        return {"department": self.name, "batches": self.batches, "duplicates": self.duplicates,
                "received": self.received, "documents": self.documents, "rendered": self.rendered,
                "rejected": self.rejected, "quarantined": self.quarantined, "handed_over": self.handed_over}


#: Column labels for people (run report, command line); ``DepartmentSummary.row`` keys are for machines.
LABELS = {"department": "Abteilung", "batches": "Dateien", "duplicates": "Duplikate", "received": "Datensätze",
          "documents": "Belege", "rendered": "erzeugt", "rejected": "abgelehnt", "quarantined": "Quarantäne",
          "handed_over": "übergeben"}


@dataclass
class RejectedDocument:
    id: int
    department: str
    number: str | None
    reason: str
    errors: tuple[str, ...] = ()


@dataclass
class RunSummary:
    run_id: str
    started: datetime
    finished: datetime
    seconds: float
    workers: int
    departments: list[DepartmentSummary]
    rejected: list[RejectedDocument] = field(default_factory=list)
    error_reports: list[tuple[str, str]] = field(default_factory=list)  # (department, where in its drop zone)
    failed: list[tuple[int, str]] = field(default_factory=list)  # documents left numbered (tried again next run)
    report_html: Path | None = None
    timings: dict[str, Any] = field(default_factory=dict)
    register_problems: list[str] = field(default_factory=list)  # rows of the register CSV left out, for people
    register_report: Path | None = None  # their error report (next to the run report)
    report_batches: dict[str, int] = field(default_factory=dict)  # where an error report lies -> its batch's id

    @property
    def totals(self) -> DepartmentSummary:
        t = DepartmentSummary("total", "Gesamt")
        for d in self.departments:
            for k in ("batches", "duplicates", "received", "documents", "rendered", "rejected", "quarantined",
                      "handed_over"):
                setattr(t, k, getattr(t, k) + getattr(d, k))
        return t

    def problems(self) -> list[str]:
        """What failed in this run, for people (German, like the reports); empty when nothing did. Documents
        rejected by validation are not in it (they are a verdict, with their own exit code)."""
        out = [f"{d.name}: übersprungen, nichts übernommen: {d.skipped}" for d in self.departments if d.skipped]
        out += [f"{d.name}: Übernahme abgebrochen: {d.error}" for d in self.departments if d.error]
        out += [f"{d.name}: {d.unreadable} Datei(en) nicht lesbar (siehe Fehlerbericht in der Ablage)"
                for d in self.departments if d.unreadable]
        if self.failed:
            out.append(f"{len(self.failed)} Beleg(e) konnten nicht erzeugt werden; der nächste Lauf versucht es "
                       "erneut")
        if self.register_problems:
            out.append(f"Empfängerverzeichnis: {len(self.register_problems)} Problem(e), die betroffenen Zeilen "
                       f"wurden nicht übernommen (Fehlerbericht: {self.register_report})")
            out += [f"  {line}" for line in self.register_problems[:20]]
        return out

    @property
    def documents_per_second(self) -> float:
        t = self.totals
        return (t.rendered + t.rejected) / self.seconds if self.seconds else 0.0

    def counts(self) -> dict[str, Any]:
        return {"departments": {d.department: {k: v for k, v in asdict(d).items() if k not in ("department", "name")}
                                for d in self.departments},
                "rejected": len(self.rejected), "failed": len(self.failed), "seconds": round(self.seconds, 2)}

    def table(self) -> list[dict[str, Any]]:
        """One row per department (and the total): received / rendered / rejected / quarantined, for machines
        (``DepartmentSummary.row`` keys); :meth:`table_de` is the same with the German headers."""
        return [d.row() for d in self.departments] + [self.totals.row()]

    def table_de(self) -> list[dict[str, Any]]:
        """:meth:`table` with the German column headers of :data:`LABELS` (artifacts, reports for people)."""
        return [{LABELS[k]: v for k, v in row.items()} for row in self.table()]

    def failed_departments(self) -> list[str]:
        """The names of the departments something failed in (skipped, intake stopped, files unreadable)."""
        return [d.name for d in self.departments if d.skipped or d.error or d.unreadable]

    def when(self) -> str:
        """The run's time for people: ``06.12.2026 14:05:09 MEZ – 14:06:30 MEZ``, on the Berlin clock."""
        return f"{berlin_text(self.started, seconds=True)} – {berlin_text(self.finished, seconds=True)[11:]}"

    def markdown(self, links: Callable[[str], str | None] | None = None) -> str:
        """The run as markdown (Prefect artifact). ``links(path)`` gives the console's address of one of its pages
        (``laeufe``: the runs per department; ``dokumente/<id>``: a document; ``dateien/<batch>``: a file taken in,
        with its error report) or None; without one, the report says where a file lies instead of linking."""
        link = links or (lambda _path: None)
        rows = self.table_de()
        head = list(rows[0])
        lines = [f"# Lauf {self.run_id}", "",
                 f"{self.when()}, {self.seconds:.1f} s, {self.workers} Worker, {self.documents_per_second:.1f} "
                 "Belege/s", "",
                 "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(str(r[h]) for h in head) + " |" for r in rows]
        failed = self.failed_departments()
        if failed:
            lines[1:1] = ["", f"**Fehlgeschlagen: {', '.join(failed)}** (siehe unten)"]
        if self.rejected:
            lines += ["", "## Zurückgewiesen", ""]
            for r in self.rejected[:50]:
                url = link(f"dokumente/{r.id}")
                shown = f"[{r.number or r.id}]({url})" if url else f"{r.number or r.id}"
                lines.append(f"- {r.department} {shown}: {r.reason} {'; '.join(r.errors[:2])}")
        if self.error_reports:
            lines += ["", "## Fehlerberichte", ""]
            names = {d.department: d.name for d in self.departments}
            for d, k in self.error_reports:
                batch = self.report_batches.get(k)
                url = link(f"dateien/{batch}") if batch is not None else None  # the file's page, with its report
                k = _shown_location(k)
                lines.append(f"- {names.get(d, d)}: [Fehlerbericht in der Konsole]({url}) (`{k}`)" if url
                             else f"- {names.get(d, d)}: liegt in der Ablage der Abteilung: `{k}`")
        if self.register_problems:
            lines += ["", "## Empfängerverzeichnis: Zeilen nicht übernommen", ""]
            lines += [f"- {line}" for line in self.register_problems]
            lines += ["", f"Fehlerbericht (auf dem Server): `{self.register_report}`"]
        errors = [d for d in self.departments if d.error or d.busy or d.skipped]
        if errors:
            lines += ["", "## Nicht (vollständig) bearbeitet", ""]
            lines += [f"- {d.name}: " + (f"übersprungen: {d.skipped}" if d.skipped else d.error
                                          or 'von einem anderen Lauf gehalten (' + str(d.busy) + ')')
                      for d in errors]
        url = link("laeufe")
        if url:
            lines += ["", f"Läufe je Abteilung: [in der Konsole]({url})"]
        if self.report_html:
            lines += ["", f"Der HTML-Bericht liegt auf dem Server unter `{self.report_html}`."]
        return "\n".join(lines) + "\n"


def _shown_location(url: str) -> str:
    """A storage URL as people read it: a local folder's ``file://`` URL as its path (a ``file://`` link opens
    nothing from a browser on another machine), ``s3://`` as it is."""
    parts = urlsplit(url)
    return unquote(parts.path) if parts.scheme == "file" else url


# ============================================================================================ the run


def run(config: Config | str | Path, *, departments: str | Sequence[str] | None = None, db_url: str | None = None,
        options: Options | None = None, work_dir: str | Path | None = None, report_dir: str | Path | None = None,
        archive_url: str | None = None, progress: Progress | None = None, register: Any = None) -> RunSummary:
    """Run the whole pipeline once (see the module docstring); ``config`` is a Config or the path of one."""
    if not isinstance(config, Config):
        config = load_config(config)
    with Pipeline.open(config, db_url=db_url, options=options, work_dir=work_dir, report_dir=report_dir,
                       archive_url=archive_url, register=register) as p:
        return run_pipeline(p, departments, progress=progress)


def plan(p: Pipeline, n: int) -> tuple[int, int]:
    """(workers, chunk size) for ``n`` documents: no pool for a handful (starting workers costs seconds), and
    chunks small enough that every worker gets several."""
    workers = resolve_workers(p.options.workers)
    if n <= 30:
        workers = 1
    size = max(10, min(p.options.chunk_size, math.ceil(n / (workers * 4)) if n else p.options.chunk_size))
    return workers, size


def _ids() -> array[int]:
    """A run's list of document ids: 8 bytes each, where a list of ints costs 36 (100,000 documents: 0.8 MB
    instead of 3.6 MB per list; a run keeps three, so the coordinator's peak memory stays flat with the run's size)."""
    return array("q")


@dataclass
class RunState:
    """What a run holds and has done so far (``begin`` ... ``finish``; the Prefect flow uses the same)."""

    run_id: str
    started: datetime
    t0: float
    wanted: list[str]
    held: list[str]
    busy: dict[str, str]
    skipped: dict[str, str] = field(default_factory=dict)  # department -> why its profile is broken
    intake: IntakeReport = field(default_factory=IntakeReport)
    render: RenderReport = field(default_factory=lambda: RenderReport(rendered=_ids()))
    archive: ArchiveReport = field(default_factory=lambda: ArchiveReport(archived=_ids(), rejected=_ids()))
    handed: array[int] = field(default_factory=_ids)
    workers: int = 1
    timings: dict[str, float] = field(default_factory=dict)  # seconds; ``*_cpu``: this process's CPU seconds


def begin(p: Pipeline, departments: str | Sequence[str] | None = None) -> RunState:
    """Record the run and hold its departments: those whose mapping profile is broken are skipped before
    anything of theirs is touched (``skipped``), those another live run holds are left out (``busy``)."""
    started = utcnow()
    st = RunState(str(uuid.uuid4()), started, time.perf_counter(), [d.id for d in p.departments(departments)],
                  [], {})
    broken = p.profile_check.broken
    st.skipped = {d: str(broken[d]) for d in st.wanted if d in broken}
    with p.transaction() as s:
        start_run(s, st.run_id, now=started)
    st.held, st.busy = acquire_all(p, [d for d in st.wanted if d not in st.skipped])
    return st


def leftovers(p: Pipeline, st: RunState) -> None:
    """Finish what earlier runs left: documents rendered but not archived, archived but not handed over."""
    for c in chunks(pending(p, "archive", st.held), p.options.chunk_size):
        st.archive.merge(archive(p, c))
    for c in chunks(pending(p, "hand_over", st.held), p.options.chunk_size):
        st.handed.extend(hand_over(p, c))


def chunk_done(p: Pipeline, st: RunState, items, results) -> list[int]:
    """A rendered chunk: verdicts recorded, archived, handed over, the departments' leases renewed."""
    st.render.merge(record_results(p, items, results))
    a = archive(p, [i.id for i in items])
    st.archive.merge(a)
    handed = hand_over(p, a.archived)
    st.handed.extend(handed)
    renew(p)
    return handed


def fail(p: Pipeline, st: RunState) -> None:
    with p.transaction() as s:
        finish_run(s, st.run_id, {"error": 1}, status="failed")
    release(p)


def finish(p: Pipeline, st: RunState) -> RunSummary:
    """Release the departments, write the run report, store the counts with the run."""
    sweep_work_area(p)
    release(p)
    summary = summarize(p, st)
    summary.register_report = write_register_report(p, summary)
    summary.error_reports += write_warning_reports(p, st.render.warnings, summary.started)
    summary.report_html = write_run_report(summary, p.report_dir)
    share_run_report(p, summary.report_html)
    with p.transaction() as s:
        finish_run(s, st.run_id, summary.counts())
    post_receivables(p)
    return summary


def post_receivables(p: Pipeline) -> None:
    """The Stadtkasse's Sollstellung of what was handed over (issue 15). Posting is idempotent: should it fail
    here, the next run or ``erechnung receivables`` posts the same documents, so the run does not fail for it."""
    from sqlalchemy.exc import SQLAlchemyError

    from ..stadtkasse.sollstellung import post

    try:
        report = post(p)
    except (ErechnungError, OSError, SQLAlchemyError):
        log.exception("Sollstellung after the run failed; the next run posts the documents")
        return
    if report.posted:
        log.info("Sollstellung: %d documents, %d items, export %s", report.posted, report.items, report.export)


def early_pool(p: Pipeline) -> RenderPool | None:
    """With several workers configured, their pool starts before intake: the workers compile the rules and warm
    up (seconds) while the parent reads and maps the deliveries."""
    n = resolve_workers(p.options.workers)
    pool = RenderPool(n, p.work.root, p.options.hybrid_profile, design=p.config.design()) if n > 1 else None
    return pool.start(wait=False) if pool else None


def pool_for(p: Pipeline, st: RunState, started: RenderPool | None, n: int) -> tuple[RenderPool, int]:
    """The pool for ``n`` documents (the started one, if any) and the chunk size."""
    workers, size = plan(p, n)
    if started is not None:
        workers, size = started.workers, max(10, min(p.options.chunk_size, math.ceil(n / (started.workers * 4))))
    st.workers = workers
    return started or RenderPool(workers, p.work.root, p.options.hybrid_profile, design=p.config.design()), size


class Steps(Protocol):
    """How :func:`run_pipeline` carries out its steps: called in place (:data:`IN_PLACE`), or submitted as Prefect
    tasks (``flows.pipeline``). What the steps are, their order and what is recorded stay in ``run_pipeline``."""

    def intake(self, p: Pipeline, departments: list[str], run_id: str, progress: Progress | None) -> IntakeReport:
        """Take in the new batches of ``departments`` (held by the run)."""

    def render(self, p: Pipeline, pool: RenderPool, chunks: Iterable[list[int]]) -> Iterator[tuple[list, list]]:
        """``(items, results)`` of every chunk of document ids, in order, rendered and validated by ``pool``."""

    def chunk_done(self, p: Pipeline, st: RunState, items: list, results: list) -> None:
        """A rendered chunk recorded, archived and handed over (:func:`chunk_done`)."""


class InPlace:
    """The steps as plain calls in this process (``erechnung run --no-prefect``, :func:`run`)."""

    def intake(self, p: Pipeline, departments: list[str], run_id: str, progress: Progress | None) -> IntakeReport:
        return intake(p, departments, run_id=run_id, progress=progress)

    def render(self, p: Pipeline, pool: RenderPool, chunks: Iterable[list[int]]) -> Iterator[tuple[list, list]]:
        return pool.imap(render_items_of(p, c) for c in chunks)

    def chunk_done(self, p: Pipeline, st: RunState, items: list, results: list) -> None:
        chunk_done(p, st, items, results)


IN_PLACE = InPlace()


def take_in(p: Pipeline, st: RunState, intake: Callable[[list[str]], IntakeReport]) -> tuple[list[int], float, float]:
    """Intake of the held departments (``intake(held)``, timed: ``intake``, ``intake_cpu``), then what earlier runs
    left; returns the ids waiting for rendering and the wall and CPU clocks at which the documents phase began
    (finishing the leftovers counts to it; :func:`documents_timed` ends it)."""
    t, cpu = time.perf_counter(), time.process_time()
    if st.held:
        st.intake = intake(st.held)
    st.timings["intake"] = time.perf_counter() - t
    st.timings["intake_cpu"], cpu = time.process_time() - cpu, time.process_time()
    t = time.perf_counter()
    leftovers(p, st)
    return (pending(p, "render", st.held) if st.held else []), t, cpu


def documents_timed(st: RunState, t: float, cpu: float) -> None:
    """The documents phase's wall and CPU seconds since :func:`take_in` returned ``t`` and ``cpu``."""
    st.timings["documents"] = time.perf_counter() - t
    st.timings["documents_cpu"] = time.process_time() - cpu


def run_pipeline(p: Pipeline, departments: str | Sequence[str] | None = None, *,
                 progress: Progress | None = None, steps: Steps = IN_PLACE) -> RunSummary:
    """The run on an open pipeline: hold the departments, intake, leftovers, then the documents chunk by chunk
    through the pool; ``steps`` says how each step is carried out, ``progress`` hears how far it is."""
    st = begin(p, departments)
    started = early_pool(p) if st.held else None
    try:
        ids, t, cpu = take_in(p, st, lambda held: steps.intake(p, held, st.run_id, progress))
        done = 0
        if ids:
            if progress:
                progress("render", 0, len(ids))
            pool, size = pool_for(p, st, started, len(ids))
            started = None
            with pool:
                st.timings["pool_ready"] = time.perf_counter() - t
                for items, results in steps.render(p, pool, chunks(ids, size)):
                    steps.chunk_done(p, st, items, results)
                    done += len(items)
                    if progress:
                        progress("render", done, len(ids))
        documents_timed(st, t, cpu)
    except BaseException:
        fail(p, st)
        raise
    finally:
        if started is not None:
            started.close()
    return finish(p, st)


def _by_department(p: Pipeline, ids: Sequence[int]) -> dict[str, int]:
    out: dict[str, int] = {}
    with p.transaction() as s:
        for start in range(0, len(ids), 500):
            for dep, n in s.execute(select(Document.department, func.count()).where(
                    Document.id.in_(list(ids[start:start + 500]))).group_by(Document.department)).all():
                out[dep] = out.get(dep, 0) + n
    return out


def summarize(p: Pipeline, st: RunState) -> RunSummary:
    """The run's summary from what it did (per department) and the database (departments of documents)."""
    ir, rr, handed, busy, wanted = st.intake, st.render, st.handed, st.busy, st.wanted
    per_dep = ir.by_department()
    rendered = _by_department(p, rr.rendered)
    rejected = _by_department(p, [r[0] for r in rr.rejected])
    handed_by = _by_department(p, handed)
    rows = []
    for dep_id in wanted:
        d = DepartmentSummary(dep_id, p.config.department(dep_id).name, busy=busy.get(dep_id),
                              error=next((b.error for b in ir.batches if b.department == dep_id and b.error), None),
                              skipped=st.skipped.get(dep_id),
                              unreadable=sum(1 for b in ir.batches if b.department == dep_id
                                             and b.outcome == "failed"))
        for k, v in per_dep.get(dep_id, {}).items():
            setattr(d, k, v)
        d.rendered, d.rejected, d.handed_over = rendered.get(dep_id, 0), rejected.get(dep_id, 0), \
            handed_by.get(dep_id, 0)
        rows.append(d)
    details = []
    if rr.rejected:
        reasons = {i: (reason, errors) for i, reason, errors in rr.rejected}
        with p.transaction() as s:
            for doc in s.execute(select(Document.id, Document.department, Document.number).where(
                    Document.id.in_(list(reasons)[:1000]))).all():
                details.append(RejectedDocument(doc.id, doc.department, doc.number, *reasons[doc.id]))
    located = [(b, f"{p.drop_zone(b.department).url.rstrip('/')}/{b.error_report}")
               for b in ir.batches if b.error_report]
    reports = [(b.department, where) for b, where in located]
    timings: dict[str, Any] = {k: round(v, 3) for k, v in st.timings.items()}
    if rr.by_format:  # milliseconds of worker time per document (render + validate), per form
        timings["ms_per_document"] = {f: round(1000 * sec / n, 1) for f, (n, sec) in sorted(rr.by_format.items())}
    return RunSummary(st.run_id, st.started, utcnow(), time.perf_counter() - st.t0, st.workers, rows, details,
                      reports, rr.failed, timings=timings,
                      report_batches={where: b.batch_id for b, where in located if b.batch_id is not None})


# ============================================================================================ the report


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; } th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { background: #f0f0f0; } tr.total td { font-weight: bold; }
td.text { text-align: left; font-family: monospace; white-space: pre-wrap; }
"""


def run_report_html(summary: RunSummary) -> bytes:
    """The run as a German HTML page: the table per department, rejected documents, error reports."""
    e = html.escape
    rows = summary.table()
    head = "".join(f"<th>{e(LABELS[h])}</th>" for h in rows[0])
    total = ' class="total"'
    body = "\n".join(f"<tr{total if i == len(rows) - 1 else ''}>"
                     + "".join(f"<td>{e(str(v))}</td>" for v in r.values()) + "</tr>" for i, r in enumerate(rows))
    parts = [f"<!DOCTYPE html><html lang=\"de\"><head><meta charset=\"utf-8\">{csp_meta_html()}"
             f"<title>Lauf {e(summary.run_id)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>Verarbeitungslauf {e(berlin_text(summary.started))}</h1>",
             f"<p>{e(summary.when())}</p>",
             f"<p>Lauf {e(summary.run_id)}: {summary.seconds:.1f} s, {summary.workers} Worker-Prozess(e), "
             f"{summary.documents_per_second:.1f} Belege/s.</p>",
             f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"]
    for d in summary.departments:
        if d.skipped:
            parts.append(f"<p><strong>{e(d.name)}</strong>: übersprungen, keine Datei übernommen; das "
                         f"Mapping-Profil ist fehlerhaft:</p><pre>{e(d.skipped)}</pre>")
        if d.error:
            parts.append(f"<p><strong>{e(d.name)}</strong>: Übernahme abgebrochen ({e(d.error)}); der nächste Lauf "
                         "versucht es erneut.</p>")
    busy = [d for d in summary.departments if d.busy]
    if busy:
        parts.append("<p>Nicht bearbeitet, weil ein anderer Lauf sie hielt: "
                     + ", ".join(e(f"{d.name} ({d.busy})") for d in busy) + "</p>")
    if summary.rejected:
        parts.append("<h2>Von der Prüfung zurückgewiesen (nicht versandt)</h2><table><tr><th>Abteilung</th>"
                     "<th>Beleg</th><th>Grund</th><th>Erste Fehler</th></tr>")
        parts += [f"<tr><td>{e(r.department)}</td><td class=\"text\">{e(r.number or str(r.id))}</td>"
                  f"<td class=\"text\">{e(r.reason)}</td><td class=\"text\">{e(chr(10).join(r.errors))}</td></tr>"
                  for r in summary.rejected]
        parts.append("</table>")
    if summary.error_reports:
        parts.append("<h2>Fehlerberichte der Abteilungen</h2><ul>")
        parts += [f"<li>{e(d)}: {e(_shown_location(k))}</li>" for d, k in summary.error_reports]
        parts.append("</ul>")
    if summary.failed:
        parts.append(f"<p>{len(summary.failed)} Beleg(e) konnten in diesem Lauf nicht erzeugt werden und werden im "
                     "nächsten Lauf erneut versucht.</p>")
    if summary.register_problems:
        parts.append("<h2>Empfängerverzeichnis: Zeilen nicht übernommen</h2><p>Belege für diese Kundennummern "
                     "werden als „unbekannte Kundennummer“ zurückgehalten, bis die Zeile berichtigt ist. "
                     f"Fehlerbericht: {e(str(summary.register_report))}</p><ul>")
        parts += [f"<li>{e(line)}</li>" for line in summary.register_problems]
        parts.append("</ul>")
    parts.append("</body></html>\n")
    return "\n".join(parts).encode("utf-8")


def register_problem_lines(errors: Sequence[Any]) -> list[str]:
    """The register's problems as lines for people: file, row, column, value, problem, what to do."""
    out = []
    for err in errors:
        where = ", ".join(x for x in (err.batch, f"Zeile {err.row}" if err.row else None,
                                      f"Spalte {err.column}" if err.column else None) if x)
        value = f" {err.value!r}" if err.value else ""
        out.append(f"{where}:{value} {err.problem} – {err.fix}")
    return out


def write_register_report(p: Pipeline, summary: RunSummary) -> Path | None:
    """The register CSV's problems as an error report next to the run report (``fehlerbericht-<register>-...``),
    and as lines in the run's summary; None when the register has none."""
    from ..intake import error_report_html

    errors = p.register_problems()
    if not errors:
        return None
    summary.register_problems = register_problem_lines(errors)
    name = Path(p.config.recipients or "empfaenger.csv").name
    folder = p.report_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"fehlerbericht-{Path(name).stem}-{summary.started.astimezone():%Y%m%d-%H%M%S}-" \
                    f"{summary.run_id[:8]}.html"
    path.write_bytes(error_report_html(errors, title=f"Fehlerbericht Empfängerverzeichnis {name}",
                                       created=summary.started.astimezone()))
    return path


#: What the department is told to do about a warning of the official rules on a document that went out.
WARNING_FIX = ("der Beleg wurde erzeugt und übergeben; die amtlichen Regeln warnen nur. Prüfen Sie den Wert in "
               "den Quelldaten für künftige Lieferungen")


def write_warning_reports(p: Pipeline, warnings: Sequence[tuple[int, tuple[str, ...]]],
                          started: datetime) -> list[tuple[str, str]]:
    """What the official rules only warn about (a unit code outside UN/ECE Rec. 20, BR-CL-23) on documents they
    accepted: one ``Hinweis`` line per warning in a report beside the batch's error report in the department's
    drop zone (``fehlerberichte/<file>.hinweise.csv`` and ``.html``); (department, where) for the run report."""
    from ..intake import RecordError, error_report_csv, error_report_html
    from .context import ERROR_REPORTS
    from .steps import batch_names

    if not warnings:
        return []
    found = dict(warnings)
    with p.transaction() as s:
        docs = s.execute(select(Document.id, Document.department, Document.number, Document.batch_id)
                         .where(Document.id.in_(list(found)[:5000]))).all()
    names = batch_names(p, [d.batch_id for d in docs if d.batch_id is not None])
    by_batch: dict[tuple[str, str], list[RecordError]] = {}
    for d in docs:
        name = names.get(d.batch_id, "") if d.batch_id is not None else ""
        by_batch.setdefault((d.department, name), []).extend(
            RecordError(batch=name or None, value=d.number or str(d.id), problem=f"Hinweis: {w}", fix=WARNING_FIX)
            for w in found[d.id])
    out = []
    for (dep_id, name), problems in sorted(by_batch.items()):
        dep = p.config.department(dep_id)
        zone = p.drop_zone(dep)
        base = f"{ERROR_REPORTS}{Path(name).name or 'lauf-' + started.strftime('%Y%m%d-%H%M%S')}.hinweise"
        zone.put(base + ".csv", error_report_csv(problems))
        zone.put(base + ".html", error_report_html(problems, title="Hinweise zu erzeugten Belegen",
                                                   department=dep.name, created=started.astimezone()))
        out.append((dep_id, f"{zone.url.rstrip('/')}/{base}.csv"))
    return out


def share_run_report(p: Pipeline, path: Path) -> str | None:
    """With ``[cluster] reports`` (several machines: no machine's disk is where people look), the run report is
    also stored there under its file name; returns where, or None. A failure to store it is logged, not fatal:
    the run is done and its report is on the coordinator's disk."""
    from ..config import location_url
    from ..config.s3 import s3_options
    from ..storage import StorageError, open_storage

    where = p.config.cluster.reports
    if where is None:
        return None
    try:
        storage = open_storage(location_url(p.config, where), s3_options=s3_options(p.config))
        storage.put(path.name, path.read_bytes())
    except (StorageError, OSError) as exc:
        log.error("run report not stored in %s: %s", where, exc)
        return None
    return f"{storage.url.rstrip('/')}/{path.name}"


def write_run_report(summary: RunSummary, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"lauf-{summary.started.astimezone():%Y%m%d-%H%M%S}-{summary.run_id[:8]}.html"
    path.write_bytes(run_report_html(summary))
    return path
