"""``erechnung run [--config FILE] [--department D] [--no-prefect] [--workers N] [--chunk-size N] [--db URL]``.

Runs the pipeline once with progress bars (batches taken in, documents rendered) and prints the summary per
department at the end. By default as the Prefect flow ``erechnung-run`` (ephemeral, in this process, unless
``PREFECT_API_URL`` names a server: then the run shows in its UI); ``--no-prefect`` runs the plain functions.
Exit codes: 0 done, 1 documents were rejected, 2 usage or configuration errors (every mistake listed), 3 every
department was held by another run, 4 something failed (a department skipped because its mapping profile is
broken, a department's intake stopped, a file unreadable, documents left for the next run: each named on
stderr with what to do); 4 wins over 1, so that a failure is never read as "only rejections".
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_BUSY, EXIT_FAILED = 0, 1, 2, 3, 4


def run_command(config: Path, department: Optional[str] = None, *, no_prefect: bool = False,
                workers: Optional[int] = None, chunk_size: int = 500, db: Optional[str] = None, out=None,
                work_dir: Optional[Path] = None, report_dir: Optional[Path] = None) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from ...config import ConfigError, load_config

    out = out or sys.stdout
    console = Console(file=out, highlight=False, width=None if out.isatty() else 120)
    err = Console(stderr=True, highlight=False)
    try:
        cfg = load_config(config)
        if department is not None:
            cfg.department(department)
    except ConfigError as exc:
        err.print(f"[red]Fehler:[/red] {exc}")
        return EXIT_USAGE
    except KeyError as exc:
        err.print(f"[red]Fehler:[/red] {exc.args[0]}")
        return EXIT_USAGE

    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=False, disable=not out.isatty())
    tasks: dict[str, int] = {}
    labels = {"intake": "Dateien übernommen", "render": "Belege erzeugt, geprüft, archiviert"}

    def report(stage: str, done: int, total: Optional[int]) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(labels.get(stage, stage), total=total)
        progress.update(tasks[stage], completed=done, total=total)

    with progress:
        if no_prefect:
            from ...pipeline import Options, run

            summary = run(cfg, departments=department, db_url=db, progress=report,
                          options=Options(workers=workers, chunk_size=chunk_size), work_dir=work_dir,
                          report_dir=report_dir)
            run_id, html, table, rejected = summary.run_id, summary.report_html, summary, len(summary.rejected)
            busy = [d.department for d in summary.departments if d.busy]
            problems = summary.problems()
        else:
            from flows.settings import apply

            apply()  # offline, before Prefect is imported
            from flows.pipeline import run_flow

            state = run_flow(config=str(config), department=department, workers=workers, chunk_size=chunk_size,
                             db_url=db, progress=report, return_state=True,
                             **({"work_dir": str(work_dir), "report_dir": str(report_dir)} if work_dir else {}))
            result = state.result(raise_on_failure=False)
            if isinstance(result, BaseException):
                if not isinstance(getattr(result, "result", None), dict):
                    raise result  # the flow itself broke: its traceback, as before
                result = result.result
            run_id, html, rejected, busy = result["run_id"], result["report_html"], result["rejected"], []
            table, problems = _TableOnly(result["table"]), result["problems"]
    console.print(summary_table(table, title=f"Lauf {run_id}"), width=max(console.width, 110))
    console.print(f"Bericht: {html}")
    if busy:
        err.print(f"[yellow]Von einem anderen Lauf gehalten, nicht bearbeitet:[/yellow] {', '.join(busy)}")
    for problem in problems:
        err.print(f"[red]Fehler:[/red] {escape(problem)}")
    if problems:
        return EXIT_FAILED
    if busy and len(busy) == len(table.table()) - 1:
        return EXIT_BUSY
    return EXIT_REJECTED if rejected else EXIT_OK


def summary_table(summary, title: str = "Verarbeitungslauf"):
    """The run's table per department (``RunSummary.table()``) for the terminal, the totals in bold."""
    from rich.table import Table

    from ...pipeline.run import LABELS

    table = Table(title=title)
    rows = summary.table()
    for i, col in enumerate(rows[0]):
        table.add_column(LABELS[col], justify="left" if i == 0 else "right", no_wrap=True)
    for i, r in enumerate(rows):
        cells = [str(v) for v in r.values()]
        table.add_row(*([f"[bold]{c}[/bold]" for c in cells] if i == len(rows) - 1 else cells))
    return table


class _TableOnly:
    """The flow's returned table, shaped like a RunSummary for ``summary_table``."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows

    def table(self) -> list[dict]:
        return self.rows
