"""The ``erechnung`` command line. Each command is a thin layer over a plain function.

``erechnung validate [--json] [--report-dir DIR] [--workers N] [--bundle NAME|auto] PATH...``
exits 0 when every document is accepted, 1 when any is rejected, 2 on usage errors (a missing path, no XML
files found, a bad option).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Iterable, Iterator, List, Optional

import typer

app = typer.Typer(name="erechnung", add_completion=False, no_args_is_help=True,
                  help="E-invoices for a municipality: validate (KoSIT-equivalent) and more.")

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2


@app.callback()
def _root() -> None:
    """E-invoices for a municipality: validate (KoSIT-equivalent) and more."""


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


@app.command("validate")
def validate_command(
    paths: List[Path] = typer.Argument(..., help="XML or PDF (Factur-X/ZUGFeRD) files, or folders (searched "
                                                  "recursively for *.xml and *.pdf)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per document per line on stdout."),
    report_dir: Optional[Path] = typer.Option(None, "--report-dir", file_okay=False,
                                              help="Write per-document XML+HTML reports and the run summary here."),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes (spawned) for large runs."),
    bundle: Optional[str] = typer.Option(None, "--bundle",
                                         help="Rule bundle name, or 'auto' for the one in force on the issue date "
                                              "(default: the newest installed)."),
) -> None:
    """Validate e-invoices exactly as the KoSIT validator does (accept/reject per document)."""
    raise typer.Exit(run_validate(paths, as_json=as_json, report_dir=report_dir, workers=workers, bundle=bundle))


def run_convert(input_path: Path, to: str, output: Optional[Path] = None, out=None,
                profile: str = "EN16931") -> int:
    """The ``convert`` command as a function: returns the exit code (0 done, 1 unreadable/unwritable, 2 usage)."""
    from .convert import TARGETS, convert
    from .errors import ErechnungError

    err = sys.stderr
    if to not in TARGETS:
        print(f"Error: --to must be one of {', '.join(TARGETS)}, not {to!r}", file=err)
        return EXIT_USAGE
    profile = profile.upper()
    if to == "zugferd" and profile not in ("EN16931", "XRECHNUNG"):
        print(f"Error: --profile must be EN16931 or XRECHNUNG, not {profile!r}", file=err)
        return EXIT_USAGE
    try:
        data = input_path.read_bytes()
    except OSError as exc:
        print(f"Error: cannot read {input_path}: {exc.strerror or exc}", file=err)
        return EXIT_USAGE
    try:
        result = convert(data, to, profile)  # type: ignore[arg-type]
    except ErechnungError as exc:
        print(f"{input_path}: cannot convert to {to}: {exc}", file=err)
        return EXIT_REJECTED
    if output is None:
        target = out or sys.stdout
        if hasattr(target, "buffer"):
            target.buffer.write(result)
            target.flush()
        else:
            target.write(result.decode("utf-8"))
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(result)
        print(f"{input_path} -> {output} ({to})", file=err)
    return EXIT_OK


@app.command("convert")
def convert_command(
    input_path: Path = typer.Argument(..., metavar="INPUT",
                                      help="UBL or CII XML, the model as JSON, or a hybrid PDF (ZUGFeRD/Factur-X)."),
    to: str = typer.Option(..., "--to", help="ubl (Invoice or CreditNote by BT-3), cii, json (the model), or "
                                             "zugferd (hybrid PDF/A-3 with the CII embedded)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", dir_okay=False,
                                          help="Write here instead of stdout."),
    profile: str = typer.Option("EN16931", "--profile",
                                help="For --to zugferd: EN16931 (factur-x.xml) or XRECHNUNG (xrechnung.xml)."),
) -> None:
    """Convert an invoice between UBL, CII, the canonical EN 16931 model as JSON and the hybrid ZUGFeRD PDF."""
    raise typer.Exit(run_convert(input_path, to, output, profile=profile))


def run_show(input_path: Path, html: Path, *, with_report: bool = False, lang: str = "de") -> int:
    """The ``show`` command as a function: 0 written, 1 the input cannot be shown, 2 usage (unreadable input)."""
    from .errors import ErechnungError
    from .view import LANGUAGES, show

    err = sys.stderr
    if lang not in LANGUAGES:
        print(f"Error: --lang must be one of {', '.join(LANGUAGES)}, not {lang!r}", file=err)
        return EXIT_USAGE
    if not input_path.is_file():
        print(f"Error: {input_path}: no such file", file=err)
        return EXIT_USAGE
    try:
        shown = show(input_path, html, with_report=with_report, lang=lang)
    except ErechnungError as exc:
        print(f"{input_path}: cannot be shown: {exc}", file=err)
        return EXIT_REJECTED
    except OSError as exc:
        print(f"Error: {exc.strerror or exc}: {exc.filename or ''}", file=err)
        return EXIT_USAGE
    what = f" ({shown.embedded})" if shown.embedded else ""
    verdict = f", Prüfergebnis: {shown.result.verdict} ({shown.result.reason})" if shown.result else ""
    print(f"{input_path}{what} -> {shown.output}{verdict}", file=err)
    for value in shown.invalid:  # shown as it stands, marked invalid on the page
        print(f"Warnung: {value}; auf der Seite als ungültig markiert", file=err)
    return EXIT_OK


@app.command("show")
def show_command(
    input_path: Path = typer.Argument(..., metavar="INPUT", help="UBL or CII XML, or a Factur-X/ZUGFeRD PDF."),
    html: Path = typer.Option(..., "--html", dir_okay=False, help="Write the HTML page here."),
    with_report: bool = typer.Option(False, "--with-report", help="Validate too and show the findings above the "
                                                                   "invoice."),
    lang: str = typer.Option("de", "--lang", help="Language of the page: de or en."),
) -> None:
    """Render an invoice readably (official XRechnung visualization), optionally with its validation findings."""
    raise typer.Exit(run_show(input_path, html, with_report=with_report, lang=lang))


def _db_of(db: Optional[str], config: Optional[Path]) -> Optional[str]:
    """``--db``, else the database the configuration (``--config``) names, else None (ERECHNUNG_DB / default)."""
    if db is not None or config is None:
        return db
    from .config import ConfigError, database_url, load_config

    try:
        return database_url(load_config(config))
    except ConfigError as exc:
        typer.echo(f"Fehler: {exc}", err=True)
        raise typer.Exit(2) from None


CONFIG_DB = typer.Option(None, "--config", dir_okay=False, help="Take the database from this configuration.")


@app.command("documents")
def documents_command(
    as_json: bool = typer.Option(False, "--json", help="One JSON object per document per line on stdout."),
    db: Optional[str] = typer.Option(None, "--db", help="Database URL (default: ERECHNUNG_DB or "
                                                         "sqlite:///var/erechnung.db)."),
    config: Optional[Path] = CONFIG_DB,
) -> None:
    """List the documents in the state database (number, kind, format, verdict, sha256, state)."""
    from .state.cli import run_documents

    raise typer.Exit(run_documents(_db_of(db, config), as_json=as_json))


batches_app = typer.Typer(name="batches", no_args_is_help=True,
                          help="The files the departments delivered, and those set aside (poison).")


@batches_app.command("list")
def batches_list_command(
    set_aside: bool = typer.Option(False, "--set-aside", help="Only files set aside as poison, with the reason."),
    department: Optional[str] = typer.Option(None, "--department", help="Only this department."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per file per line on stdout."),
    db: Optional[str] = typer.Option(None, "--db", help="Database URL (default: ERECHNUNG_DB)."),
    config: Optional[Path] = CONFIG_DB,
) -> None:
    """List the files taken in: what became of each, and why one was set aside."""
    from .state.cli import run_batches

    raise typer.Exit(run_batches(_db_of(db, config), as_json=as_json, department=department, set_aside=set_aside))


@batches_app.command("release")
def batches_release_command(
    batch_id: int = typer.Argument(..., help="The id of a file set aside (erechnung batches list --set-aside)."),
    db: Optional[str] = typer.Option(None, "--db", help="Database URL (default: ERECHNUNG_DB)."),
    config: Optional[Path] = CONFIG_DB,
) -> None:
    """Give a file set aside back to the runs: its department's next run processes it again from the archive."""
    import getpass
    import socket

    from .state.cli import run_release_batch

    raise typer.Exit(run_release_batch(batch_id, _db_of(db, config), by=f"{getpass.getuser()}@{socket.gethostname()}"))


app.add_typer(batches_app, name="batches")


@app.command("run")
def run_command(
    config: Path = typer.Option(Path("examples/config.toml"), "--config", dir_okay=False,
                                help="The municipality's configuration (TOML)."),
    department: Optional[str] = typer.Option(None, "--department", help="Only this department (default: all)."),
    no_prefect: bool = typer.Option(False, "--no-prefect", help="Run the plain functions, without Prefect."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Worker processes (default: all cores)."),
    chunk_size: int = typer.Option(500, "--chunk-size", min=1, help="Documents per task."),
    db: Optional[str] = typer.Option(None, "--db", help="Database URL (default: the configuration's)."),
) -> None:
    """Run the pipeline once: intake, render and validate, archive, hand over; summary per department."""
    from .pipeline.cli import run_command as run_pipeline

    raise typer.Exit(run_pipeline(config, department, no_prefect=no_prefect, workers=workers,
                                  chunk_size=chunk_size, db=db))


from .notices.cli import notice_app  # noqa: E402  (erechnung notice render|verify)

app.add_typer(notice_app, name="notice")


@app.command("status")
def status_command(
    as_json: bool = typer.Option(False, "--json", help="One JSON object per delivery attempt per line on stdout."),
    document: Optional[int] = typer.Option(None, "--document", help="Only this document (id)."),
    batch: Optional[int] = typer.Option(None, "--batch", help="Only the documents of this batch (id)."),
    html: Optional[Path] = typer.Option(None, "--html", dir_okay=False, help="Write the batch's HTML report "
                                                                              "(needs --batch)."),
    db: Optional[str] = typer.Option(None, "--db", help="Database URL (default: ERECHNUNG_DB or "
                                                         "sqlite:///var/erechnung.db)."),
    config: Optional[Path] = CONFIG_DB,
) -> None:
    """Deliveries: channel, state, attempts, events, notification date; dead letters for finance."""
    from .delivery.cli import run_status

    raise typer.Exit(run_status(_db_of(db, config), as_json=as_json, document=document, batch=batch, html=html))


@app.command("deliver")
def deliver_command(
    config: Path = typer.Option(Path("examples/config.toml"), "--config", dir_okay=False,
                                help="The municipality's configuration (TOML) with its [delivery] channels."),
    db: Optional[str] = typer.Option(None, "--db", help="Database URL (default: the configuration's)."),
    no_track: bool = typer.Option(False, "--no-track", help="Do not collect status events first."),
) -> None:
    """Deliver the handed-over documents: route, send what is due, retry, fall back, dead-letter; print batch."""
    from .delivery.cli import run_deliver

    raise typer.Exit(run_deliver(config, db, track_first=not no_track))


@app.command("track")
def track_command(
    config: Path = typer.Option(Path("examples/config.toml"), "--config", dir_okay=False,
                                help="The municipality's configuration (TOML) with its [delivery] channels."),
    db: Optional[str] = typer.Option(None, "--db", help="Database URL (default: the configuration's)."),
) -> None:
    """Collect the channels' status events, expire overdue deliveries, compute notification dates."""
    from .delivery.cli import run_track

    raise typer.Exit(run_track(config, db))


@app.command("sandbox")
def sandbox_command(
    directory: Path = typer.Option(Path("var/sandbox"), "--dir", file_okay=False,
                                   help="Where the sandboxes keep mailboxes, certificates, secrets and "
                                        "delivery.toml."),
    recipients: Optional[Path] = typer.Option(None, "--recipients", dir_okay=False, exists=True,
                                              help="Open the BundID postboxes and ELSTER accounts this recipient "
                                                   "register (CSV) names."),
    closed: List[str] = typer.Option([], "--closed-postbox", help="A postbox of the register left closed "
                                                                  "(messages to it are rejected); repeatable."),
    fail: List[str] = typer.Option([], "--fail", help="A failure mode: bounce:ADDRESS, reject:ADDRESS, "
                                                      "greylist:ADDRESS, reject-next:N, zbp:503x3, "
                                                      "fitconnect:429, elster:500; repeatable."),
    bundid_via: str = typer.Option("fitconnect", "--bundid-via", help="fitconnect (bridge) or zbp (direct)."),
) -> None:
    """Start the delivery sandboxes on loopback (SMTP with DSN, FIT-Connect + BundID bridge, ZBP, ELSTER).

    They run until Ctrl+C; a configuration delivers to them with [delivery] include = "DIR/delivery.toml".
    """
    from .delivery.cli import run_sandbox

    if bundid_via not in ("fitconnect", "zbp"):
        raise typer.BadParameter("fitconnect or zbp", param_hint="--bundid-via")
    raise typer.Exit(run_sandbox(directory, recipients=recipients, closed=tuple(closed), fail=tuple(fail),
                                 bundid_via=bundid_via))


audit_app = typer.Typer(name="audit", no_args_is_help=True, help="The tamper-evident audit trail of deliveries.")


@audit_app.command("verify")
def audit_verify_command(
    db: Optional[str] = typer.Option(None, "--db", help="Database URL (default: ERECHNUNG_DB or "
                                                         "sqlite:///var/erechnung.db)."),
    config: Optional[Path] = CONFIG_DB,
) -> None:
    """Recompute the hash chain of the delivery events and check it against the archive's checkpoint (with
    --config), the deliveries' states and notification dates: OK (exit 0) or every finding (exit 1)."""
    from .delivery.cli import run_audit_verify

    raise typer.Exit(run_audit_verify(_db_of(db, config), config=config))


app.add_typer(audit_app, name="audit")

archive_app = typer.Typer(name="archive", no_args_is_help=True, help="The archive (content-addressed, retained).")


@archive_app.command("verify")
def archive_verify_command(
    config: Path = typer.Option(Path("examples/config.toml"), "--config", dir_okay=False,
                                help="The configuration whose archive and retention policy are checked."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per finding per line, then the totals."),
) -> None:
    """Hash every archived item again and check its metadata and retention: exit 0 OK, 1 findings."""
    from .archive_cli import run_archive_verify

    raise typer.Exit(run_archive_verify(config, as_json=as_json))


app.add_typer(archive_app, name="archive")


def main(argv: Optional[List[str]] = None) -> int:
    """Console entry point (``erechnung = "erechnung.cli:main"``)."""
    try:
        app(args=argv, prog_name="erechnung")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
