"""The ``erechnung`` command line (``app``, ``main``: the console script and ``python -m erechnung``). Each
command is a thin layer over a ``run_*`` function of the module named for its command group: ``validate``,
``convert`` (also ``show``), ``documents`` (also ``batches``), ``run``, ``notice``, ``delivery`` (``status``,
``deliver``, ``track``, ``sandbox``, ``audit``), ``archive``, ``stadtkasse`` (``receivables``, ``payments``); each returns the command's exit code.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(name="erechnung", add_completion=False, no_args_is_help=True,
                  help="E-invoices for a municipality: validate (KoSIT-equivalent) and more.")


@app.callback()
def _root(
    ctx: typer.Context,
    tenant: Optional[str] = typer.Option(None, "--tenant", help="The municipality of the installation to work "
                                                                 "on: its configuration for every --config "
                                                                 "(also after the command)."),
    installation: Optional[Path] = typer.Option(None, "--installation", dir_okay=False,
                                                envvar="ERECHNUNG_INSTALLATION",
                                                help="The installation file naming the municipalities (tenants)."),
) -> None:
    """E-invoices for a municipality: validate (KoSIT-equivalent) and more."""
    from .tenants import use_tenant

    ctx.obj = use_tenant(ctx, tenant, installation)


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
    from .validate import run_validate

    raise typer.Exit(run_validate(paths, as_json=as_json, report_dir=report_dir, workers=workers, bundle=bundle))


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
    from .convert import run_convert

    raise typer.Exit(run_convert(input_path, to, output, profile=profile))


@app.command("show")
def show_command(
    input_path: Path = typer.Argument(..., metavar="INPUT", help="UBL or CII XML, or a Factur-X/ZUGFeRD PDF."),
    html: Path = typer.Option(..., "--html", dir_okay=False, help="Write the HTML page here."),
    with_report: bool = typer.Option(False, "--with-report", help="Validate too and show the findings above the "
                                                                   "invoice."),
    lang: str = typer.Option("de", "--lang", help="Language of the page: de or en."),
) -> None:
    """Render an invoice readably (official XRechnung visualization), optionally with its validation findings."""
    from .convert import run_show

    raise typer.Exit(run_show(input_path, html, with_report=with_report, lang=lang))


def _db_of(db: Optional[str], config: Optional[Path]) -> Optional[str]:
    """``--db``, else the database the configuration (``--config``) names, else None (ERECHNUNG_DB / default)."""
    if db is not None or config is None:
        return db
    from ...config import ConfigError, database_url, load_config

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
    from .documents import run_documents

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
    from .documents import run_batches

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

    from .documents import run_release_batch

    raise typer.Exit(run_release_batch(batch_id, _db_of(db, config), by=f"{getpass.getuser()}@{socket.gethostname()}"))


app.add_typer(batches_app, name="batches")


@app.command("run")
def run_command(
    ctx: typer.Context,
    config: Path = typer.Option(Path("examples/config.toml"), "--config", dir_okay=False,
                                help="The municipality's configuration (TOML)."),
    department: Optional[str] = typer.Option(None, "--department", help="Only this department (default: all)."),
    no_prefect: bool = typer.Option(False, "--no-prefect", help="Run the plain functions, without Prefect."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Worker processes (default: all cores)."),
    chunk_size: int = typer.Option(500, "--chunk-size", min=1, help="Documents per task."),
    db: Optional[str] = typer.Option(None, "--db", help="Database URL (default: the configuration's)."),
) -> None:
    """Run the pipeline once: intake, render and validate, archive, hand over; summary per department."""
    from .run import run_command as run_pipeline
    from .tenants import tenant_folders

    work_dir, report_dir = tenant_folders(ctx, config)
    raise typer.Exit(run_pipeline(config, department, no_prefect=no_prefect, workers=workers,
                                  chunk_size=chunk_size, db=db, work_dir=work_dir, report_dir=report_dir))


from .notice import notice_app  # noqa: E402  (erechnung notice render|verify)

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
    from .delivery import run_status

    raise typer.Exit(run_status(_db_of(db, config), as_json=as_json, document=document, batch=batch, html=html))


@app.command("deliver")
def deliver_command(
    config: Path = typer.Option(Path("examples/config.toml"), "--config", dir_okay=False,
                                help="The municipality's configuration (TOML) with its [delivery] channels."),
    db: Optional[str] = typer.Option(None, "--db", help="Database URL (default: the configuration's)."),
    no_track: bool = typer.Option(False, "--no-track", help="Do not collect status events first."),
) -> None:
    """Deliver the handed-over documents: route, send what is due, retry, fall back, dead-letter; print batch."""
    from .delivery import run_deliver

    raise typer.Exit(run_deliver(config, db, track_first=not no_track))


@app.command("track")
def track_command(
    config: Path = typer.Option(Path("examples/config.toml"), "--config", dir_okay=False,
                                help="The municipality's configuration (TOML) with its [delivery] channels."),
    db: Optional[str] = typer.Option(None, "--db", help="Database URL (default: the configuration's)."),
) -> None:
    """Collect the channels' status events, expire overdue deliveries, compute notification dates."""
    from .delivery import run_track

    raise typer.Exit(run_track(config, db))


@app.command("sandbox")
def sandbox_command(
    directory: Path = typer.Option(Path("var/sandbox"), "--dir", file_okay=False,
                                   help="Where the sandboxes keep mailboxes, certificates, secrets and "
                                        "delivery.toml."),
    recipients: Optional[Path] = typer.Option(None, "--recipients", dir_okay=False, exists=True,
                                              help="Open the BundID postboxes and ELSTER accounts this recipient "
                                                   "register (CSV) names, and publish its Peppol participants."),
    closed: List[str] = typer.Option([], "--closed-postbox", help="A postbox of the register left closed "
                                                                  "(messages to it are rejected); repeatable."),
    fail: List[str] = typer.Option([], "--fail", help="A failure mode: bounce:ADDRESS, reject:ADDRESS, "
                                                      "greylist:ADDRESS, reject-next:N, zbp:503x3, "
                                                      "fitconnect:429, elster:500, peppol-unknown:ID, "
                                                      "not-serviced:ID, doctype:ID, smp-signature:ID, smp-cert:ID, "
                                                      "mls-reject:ID, dns:servfail, smp:503, ap:503; repeatable."),
    bundid_via: str = typer.Option("fitconnect", "--bundid-via", help="fitconnect (bridge) or zbp (direct)."),
) -> None:
    """Start the delivery sandboxes on loopback (SMTP with DSN, FIT-Connect + BundID bridge, ZBP, ELSTER, Peppol)
    and an S3 stand-in for s3:// drop zones.

    They run until Ctrl+C; a configuration delivers to them with [delivery] include = "DIR/delivery.toml" (for
    examples/config.toml: --dir examples/var/sandbox), and its s3:// locations use the stand-in ([s3] there).
    """
    from .delivery import run_sandbox

    if bundid_via not in ("fitconnect", "zbp"):
        raise typer.BadParameter("fitconnect or zbp", param_hint="--bundid-via")
    raise typer.Exit(run_sandbox(directory, recipients=recipients, closed=tuple(closed), fail=tuple(fail),
                                 bundid_via=bundid_via))


@app.command("samples")
def samples_command(
    config: Path = typer.Option(Path("examples/config.toml"), "--config", dir_okay=False,
                                help="The configuration whose drop zones receive the sample files."),
    department: List[str] = typer.Option([], "--department", help="Only this department; repeatable."),
) -> None:
    """Put the sample deliveries (examples/batches/<department>/) into the configuration's drop zones (folders or
    s3://, the sandbox's S3 stand-in included): exit 0, or 4 when a department's drop zone was unreachable."""
    from .samples import run_samples

    raise typer.Exit(run_samples(config, department))


audit_app = typer.Typer(name="audit", no_args_is_help=True, help="The tamper-evident audit trail of deliveries.")


@audit_app.command("verify")
def audit_verify_command(
    db: Optional[str] = typer.Option(None, "--db", help="Database URL (default: ERECHNUNG_DB or "
                                                         "sqlite:///var/erechnung.db)."),
    config: Optional[Path] = CONFIG_DB,
) -> None:
    """Recompute the hash chain of the delivery events and check it against the archive's checkpoint (with
    --config), the deliveries' states and notification dates: OK (exit 0) or every finding (exit 1)."""
    from .delivery import run_audit_verify

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
    from .archive import run_archive_verify

    raise typer.Exit(run_archive_verify(config, as_json=as_json))


app.add_typer(archive_app, name="archive")


console_app = typer.Typer(name="console", help="The web console for departments, finance and auditors.")


@console_app.callback(invoke_without_command=True)
def console_command(
    ctx: typer.Context,
    config: Path = typer.Option(Path("examples/config.toml"), "--config", dir_okay=False,
                                help="The configuration with its console accounts (section console)."),
    host: str = typer.Option("127.0.0.1", "--host", help="The address to listen on."),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="The port to listen on."),
) -> None:
    """Serve the console (German, server-rendered) until Ctrl+C."""
    if ctx.invoked_subcommand is not None:
        return
    from ..console.app import serve

    raise typer.Exit(serve(config, host=host, port=port))


@console_app.command("hash-password")
def console_hash_password_command() -> None:
    """Ask for a password twice and print its scrypt hash (password_hash of a console user)."""
    from ..console.auth import hash_password

    password = typer.prompt("Passwort", hide_input=True, confirmation_prompt="Passwort wiederholen")
    if len(password) < 12:
        typer.echo("Fehler: das Passwort ist kürzer als 12 Zeichen", err=True)
        raise typer.Exit(2)
    typer.echo(hash_password(password))


app.add_typer(console_app, name="console")

from .stadtkasse import debits_command, dunning_app, payments_app, receivables_app  # noqa: E402  (issue 15)

app.add_typer(receivables_app, name="receivables")
app.add_typer(payments_app, name="payments")
app.add_typer(dunning_app, name="dunning")
app.command("debits")(debits_command)


@app.command("tenants")
def tenants_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="One JSON object per municipality per line on stdout."),
) -> None:
    """The municipalities of the installation (--installation / ERECHNUNG_INSTALLATION): configuration, database,
    archive, OK or what is wrong; exit 1 when one is broken or shares storage with another."""
    from .tenants import run_tenants

    raise typer.Exit(run_tenants(ctx.find_root().obj["installation"], as_json=as_json))


def main(argv: Optional[List[str]] = None) -> int:
    """Console entry point (``erechnung = "erechnung.entrypoints.cli:main"``); ``--tenant``/``--installation``
    may follow the command (moved before it)."""
    import sys

    from .tenants import tenant_options_first

    try:
        app(args=tenant_options_first(sys.argv[1:] if argv is None else argv), prog_name="erechnung")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0

