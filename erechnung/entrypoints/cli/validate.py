"""``erechnung validate [--json] [--report-dir DIR] [--workers N] [--bundle NAME|auto] PATH...``: exits 0 when every
document is accepted, 1 when any is rejected, 2 on usage errors (a missing path, no XML files found, a bad option).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Iterable, Iterator, List, Optional

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """The command line names nothing we can validate."""


def collect_files(paths: Iterable[Path]) -> list[Path]:
    """Files as given, folders searched recursively for ``*.xml`` and ``*.pdf`` (hybrid invoices; any case), sorted,
    each file once; raises UsageError when a path does not exist or nothing is found."""
    files: list[Path] = []
    for p in paths:
        if p.is_file():
            files.append(p)
        elif p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in (".xml", ".pdf")))
        else:
            raise UsageError(f"{p}: no such file or folder")
    if not files:
        raise UsageError("no XML files or PDFs found in " + ", ".join(str(p) for p in paths))
    unique: dict[Path, Path] = {}
    for f in files:  # a file named and also found in a named folder is validated once
        unique.setdefault(f.resolve(), f)
    return list(unique.values())


def _results(files: list[Path], workers: int, bundle: Optional[str]) -> Iterator:
    """``(file, result)`` pairs in file order. Set-up problems (unknown bundle, artifacts not installed,
    no parallel module) raise here, before the first document, as UsageError."""
    from erechnung.errors import ErechnungError
    from validators.engine import ValidationResult, Validator

    if workers > 1:
        try:
            from validators.parallel import iter_validate  # spawn workers, one warm Validator each
        except ImportError as exc:
            raise UsageError(f"--workers needs validators.parallel, which is not available ({exc})") from exc
        stream = iter_validate([str(f) for f in files], workers, bundle=bundle)
        return ((f, r if isinstance(r, ValidationResult) else _as_result(r, str(f))) for f, r in zip(files, stream))
    try:
        validator = Validator.for_bundle(bundle)
    except (ValueError, ErechnungError, OSError) as exc:
        raise UsageError(f"cannot set up the validator: {exc}") from exc
    return ((f, _validate_one(validator, f)) for f in files)


def _validate_one(validator, f: Path):
    """One file, read no further than the validator's size limits (a file over them is rejected unread)."""
    try:
        return validator.validate_path(f)
    except OSError as exc:
        return _as_result(None, str(f), f"cannot read the file: {exc.strerror or exc}")


def _as_result(other, name: str, problem: str | None = None):
    """A ValidationResult (reject, internal-error) for a document that has none (unreadable, worker failure)."""
    from validators.engine import ValidationResult
    from validators.steps import Message, StepResult

    text = problem or "; ".join(getattr(m, "text", str(m)) for m in getattr(other, "messages", ())) or "failed"
    msg = Message(step="val-engine", id="val-engine.1", code=getattr(other, "reason", "internal-error"),
                  level="error", custom_level="error", text=text)
    return ValidationResult(name=name, verdict="reject", reason="internal-error", scenario=None, bundle="",
                            messages=(msg,), steps=(StepResult("val-engine", "xml", (), (msg,), status="crashed"),))


def json_line(path: Path, result) -> str:
    """One line of ``--json`` output: the result's JSON with the path it was read from."""
    d = result.to_json_dict()
    return json.dumps({"path": str(path), **{k: v for k, v in d.items() if k != "name"}}, ensure_ascii=False)


def run_validate(paths: List[Path], *, as_json: bool = False, report_dir: Optional[Path] = None,
                 workers: int = 1, bundle: Optional[str] = None, out=None) -> int:
    """The ``validate`` command as a function: returns the exit code."""
    from rich.console import Console
    from rich.table import Table

    out = out or sys.stdout
    console = Console(file=out, highlight=False, width=None if out.isatty() else 200)
    err = Console(stderr=True, highlight=False)
    try:
        files = collect_files(paths)
    except UsageError as exc:
        err.print(f"[red]Error:[/red] {exc}")
        return EXIT_USAGE
    results = []
    table = None
    if not as_json:
        table = Table(title=None, show_lines=False)
        for col in ("Datei", "Bewertung", "Szenario", "Fehler", "Warn.", "Erste Fehler"):
            table.add_column(col, overflow="fold")
    try:
        stream = _results(files, workers, bundle)
    except UsageError as exc:
        err.print(f"[red]Error:[/red] {exc}")
        return EXIT_USAGE
    try:
        for f, r in stream:
            results.append(r)
            if as_json:
                out.write(json_line(f, r) + "\n")
                out.flush()
            else:
                first = "; ".join(f"{m.code}" for m in r.errors[:4]) + (" …" if len(r.errors) > 4 else "")
                table.add_row(str(f), "[green]accept[/green]" if r.accepted else "[red]reject[/red]",
                              r.scenario or f"– ({r.reason})", str(len(r.errors)), str(len(r.warnings)), first)
    except RuntimeError as exc:  # validators.parallel.WorkerSetupError: a worker could not build its Validator
        err.print(f"[red]Error:[/red] {exc}")
        return EXIT_USAGE
    accepted = sum(r.accepted for r in results)
    if not as_json:
        console.print(table)
        console.print(f"{len(results)} Dokument(e): {accepted} angenommen, {len(results) - accepted} zurückgewiesen")
    if report_dir is not None:
        from validators.report import write_reports

        written = write_reports(results, report_dir)
        (err if as_json else console).print(f"Berichte: {written.directory} (Zusammenfassung: "
                                            f"{written.summary_html.name}, {written.summary_json.name})")
    return EXIT_OK if accepted == len(results) else EXIT_REJECTED
