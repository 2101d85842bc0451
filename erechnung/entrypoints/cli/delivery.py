"""``erechnung status`` and ``erechnung audit verify``: the logic behind the two commands.

``erechnung status [--json] [--document ID | --batch ID] [--html FILE] [--db URL]``: the deliveries; with
``--json`` one JSON object per delivery attempt per line (``document_id``, ``channel``, ``state``,
``attempts``, ``events`` and more) and one per dead letter without any attempt (``state`` ``dead_letter``),
else a table and the dead letters; ``--html`` writes the per-batch report for finance and auditors. Exit 0
listed, 2 no database / bad options.

``erechnung audit verify [--db URL] [--config FILE]``: recompute the hash chain of the delivery events, check it
against the newest checkpoint in the configuration's archive (``--config``; the runs write one at their end),
check that every delivery has events and the state its last event says, and that every notification date is
covered by the chain (``erechnung.delivery.audit.verify_trail``); exit 0 and ``OK`` when all holds, 1 and each
finding when not, 2 when the database or the archive cannot be read.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

EXIT_OK, EXIT_BROKEN, EXIT_USAGE = 0, 1, 2


def _open(db: Optional[str], err):
    """An engine on a migrated database, or an exit code."""
    from sqlalchemy.engine import make_url

    from erechnung.state import database_url, make_engine, migrate

    url = database_url(db)
    try:
        u = make_url(url)
    except Exception as exc:
        err.print(f"[red]Fehler:[/red] --db {url!r} ist keine Datenbank-URL: {exc}")
        return EXIT_USAGE
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:" \
            and not Path(u.database).is_file():
        err.print(f"[red]Fehler:[/red] keine Zustandsdatenbank unter {u.database} (noch nichts verarbeitet, oder --db "
                  "angeben)")
        return EXIT_USAGE
    engine = make_engine(url)
    migrate(engine)
    return engine


def run_status(db: Optional[str] = None, *, as_json: bool = False, document: Optional[int] = None,
               batch: Optional[int] = None, html: Optional[Path] = None, out=None) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
    from sqlalchemy.exc import SQLAlchemyError

    from erechnung.state import transaction

    from erechnung.delivery.audit import verify_chain
    from erechnung.delivery.report import (batch_report_html, dead_letter_records, delivery_records,
                                           legal_date_lines, status_records)

    out = out or sys.stdout
    err = Console(stderr=True, highlight=False)
    if document is not None and batch is not None:
        err.print("[red]Fehler:[/red] --document oder --batch angeben, nicht beides")
        return EXIT_USAGE
    if html is not None and batch is None:
        err.print("[red]Fehler:[/red] --html schreibt den Bericht eines Stapels: --batch ID angeben")
        return EXIT_USAGE
    try:
        engine = _open(db, err)
        if isinstance(engine, int):
            return engine
        try:
            with transaction(engine) as s:
                # --json: also the dead letters that never had an attempt (the table lists them below)
                records = (status_records if as_json else delivery_records)(s, document_id=document, batch_id=batch)
                dead = dead_letter_records(s, batch_id=batch, document_id=document)
                page = batch_report_html(s, batch, chain_text=verify_chain(s).text()) if html is not None else None
        finally:
            engine.dispose()
    except SQLAlchemyError as exc:
        err.print(f"[red]Fehler:[/red] die Zustandsdatenbank kann nicht gelesen werden: {exc.__class__.__name__}: "
                  f"{str(exc).splitlines()[0]}")
        return EXIT_USAGE
    if page is not None:
        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(page, encoding="utf-8")
        err.print(f"Bericht: {html}")
    if as_json:
        for r in records:
            out.write(json.dumps(r, ensure_ascii=False) + "\n")
        out.flush()
        return EXIT_OK
    console = Console(file=out, highlight=False, width=None if out.isatty() else 200)
    table = Table()
    for col in ("Dokument", "Nr.", "Kanal", "Zustand", "Versuche", "Bekanntgabe", "Letztes Ereignis"):
        table.add_column(col, overflow="fold")
    for r in records:
        last = r["events"][-1] if r["events"] else None
        table.add_row(str(r["document_id"]), str(r["sequence"]), r["channel"], r["state"], str(r["attempts"]),
                      r["notification_date"] or "–",
                      f'{last["at"][:19]} {last["reason"] or ""}' if last else "–")
    console.print(table)
    console.print(f"{len(records)} Zustellversuch(e)")
    if document is not None:  # one document: every delivery's full history, with its evidence
        for r in records:
            console.print(f"\n[bold]Zustellung {r['delivery_id']}[/bold] über {r['channel']} an {r['address_ref']}"
                          + (f" (Rechtsgrundlage {r['legal_basis']})" if r["legal_basis"] else ""))
            for line in legal_date_lines(r):
                console.print(f"  {escape(line)}")
            for e in r["events"]:
                move = f"{e['from'] or '–'} → {e['to']}"
                proof = f" [Nachweis {e['evidence_type']} sha256:{e['evidence_sha256'][:16]}]" \
                    if e["evidence_sha256"] else ""
                console.print(f"  {e['at'][:19]}  {move:27} {e['source']:8} {escape(e['reason'] or '')}"
                              f"{escape(proof)}")
    if document is not None:
        _print_service(engine, document, console)
    if dead:
        console.print(f"[bold red]{len(dead)} nicht zustellbar:[/bold red]")
        for x in dead:
            console.print(f"  Dokument {x['document_number'] or x['document_id']} ({x['recipient_ref'] or '–'}): "
                          f"{x['reason']}")
    return EXIT_OK


def run_audit_verify(db: Optional[str] = None, out=None, *, config: Optional[Path] = None) -> int:
    from rich.console import Console
    from sqlalchemy.exc import SQLAlchemyError

    from erechnung.errors import ErechnungError
    from erechnung.state import transaction

    from erechnung.delivery.audit import verify_against_archive

    out = out or sys.stdout
    err = Console(stderr=True, highlight=False)
    earlier = []
    if config is not None:
        from ..wiring import open_archive

        try:
            earlier = open_archive(config).checkpoints()
        except (ErechnungError, OSError, ValueError) as exc:
            err.print(f"[red]Fehler:[/red] der Prüfpunkt im Archiv kann nicht gelesen werden: {exc}")
            return EXIT_USAGE
    try:
        engine = _open(db, err)
        if isinstance(engine, int):
            return engine
        try:
            with transaction(engine) as s:
                report = verify_against_archive(s, earlier)
        finally:
            engine.dispose()
    except SQLAlchemyError as exc:
        err.print(f"[red]Fehler:[/red] die Zustandsdatenbank kann nicht gelesen werden: {exc.__class__.__name__}: "
                  f"{str(exc).splitlines()[0]}")
        return EXIT_USAGE
    out.write(report.text() + "\n")
    out.flush()
    return EXIT_OK if report.ok else EXIT_BROKEN


def _config_and_connectors(config: Path, err):
    """(configuration, wired connectors) or an exit code, with the mistake explained."""
    from erechnung.config import ConfigError, load_config
    from ..wiring import ChannelConfigError, open_connectors

    try:
        cfg = load_config(config)
        return cfg, open_connectors(cfg)
    except (ConfigError, ChannelConfigError) as exc:
        err.print(f"[red]Fehler:[/red] {exc}")
        return EXIT_USAGE


def _run_with_channels(config: Path, out, body) -> int:
    """Open the configuration's channels, call ``body(cfg, wired, console) -> (exit code, deliveries by state)``
    and print the states; a configuration or channel mistake is exit 2 with its explanation."""
    from rich.console import Console

    out = out or sys.stdout
    err = Console(stderr=True, highlight=False)
    console = Console(file=out, highlight=False, width=None if out.isatty() else 200)
    opened = _config_and_connectors(config, err)
    if isinstance(opened, int):
        return opened
    cfg, wired = opened
    with wired:
        code, states = body(cfg, wired, console)
    console.print("Stand: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())))
    return code


def run_deliver(config: Path, db: Optional[str] = None, *, track_first: bool = True, out=None) -> int:
    """``erechnung deliver``: collect status events first (so fallbacks are due), then plan and send what is due;
    prints what happened and the deliveries by state. Exit 0 done, 1 documents went to the dead letters, 2 usage."""
    from erechnung.delivery.run import deliver_run, track_run

    def body(cfg, wired, console):
        console.print(f"Kanäle: {', '.join(wired.connectors)}")
        if track_first:
            for line in track_run(cfg, wired.connectors, wired.delivery_config, db_url=db).lines():
                console.print(f"Verfolgung: {line}")
        result = deliver_run(cfg, wired.connectors, wired.delivery_config, db_url=db)
        for line in result.lines():
            console.print(f"Zustellung: {line}")
        return (EXIT_BROKEN if result.dead else EXIT_OK), result.states

    return _run_with_channels(config, out, body)


def run_track(config: Path, db: Optional[str] = None, out=None) -> int:
    """``erechnung track``: status events, retrieval deadlines, notification dates, fallbacks. Exit 0 or 2."""
    from erechnung.delivery.run import track_run

    def body(cfg, wired, console):
        result = track_run(cfg, wired.connectors, wired.delivery_config, db_url=db)
        for line in result.lines():
            console.print(f"Verfolgung: {line}")
        return EXIT_OK, result.states

    return _run_with_channels(config, out, body)


def run_sandbox(directory: Path, *, recipients: Optional[Path] = None, closed: tuple[str, ...] = (),
                fail: tuple[str, ...] = (), bundid_via: str = "fitconnect", until=None, out=None) -> int:
    """``erechnung sandbox``: start every delivery sandbox on loopback, write ``DIR/delivery.toml`` and keep them
    running until Ctrl+C (or until ``until`` - a threading.Event - is set). Exit 0, or 2 on bad options."""
    import signal
    import threading

    from rich.console import Console

    from rich.markup import escape

    from mailbox_connectors.sandboxes.site import SandboxSite

    out = out or sys.stdout
    console = Console(file=out, highlight=False, width=None if out.isatty() else 200)
    err = Console(stderr=True, highlight=False)
    register = None
    if recipients is not None:
        from erechnung.intake.recipients import RecipientProblems, import_recipients_csv

        try:
            register = import_recipients_csv(recipients.read_bytes(), recipients.name).register
        except (OSError, RecipientProblems) as exc:
            err.print(f"[red]Fehler:[/red] Empfängerverzeichnis {recipients}: {exc}")
            return EXIT_USAGE
    site = SandboxSite(directory, bundid_via=bundid_via).start()
    s3_server = None
    try:
        from . import s3_standin

        try:
            s3_server, s3_endpoint = s3_standin.start(site.root, site.delivery_toml)
        except ImportError:
            err.print("[yellow]Hinweis:[/yellow] kein S3-Ersatz (moto fehlt; make install bringt es mit): "
                      "s3://-Ablagen bleiben ohne Netz unerreichbar.")
        if register is not None:  # first, so that a failure mode can take a participant out of Peppol again
            opened = site.register(register, closed_postboxes=closed)
            console.print(f"{opened.postboxes} BundID-Postfach/-fächer, {opened.accounts} ELSTER-Konto/-Konten und "
                          f"{opened.participants} Peppol-Teilnehmer aus {recipients} eingerichtet"
                          f"{' (geschlossen: ' + ', '.join(closed) + ')' if closed else ''}")
        try:
            for spec in fail:
                site.fail(spec)
        except (ValueError, KeyError) as exc:
            err.print(f"[red]Fehler:[/red] --fail {exc}")
            return EXIT_USAGE
        for name, url in site.endpoints().items():
            console.print(f"{name:32} {url}")
        if s3_server is not None:
            console.print(f"{'S3-Ersatz (s3://-Ablagen)':32} {s3_endpoint}")
        console.print(f"Verbindungsdaten: {site.delivery_toml}")
        console.print(escape(f'In der Konfiguration: [delivery] include = "{site.delivery_toml}"'))
        console.print("Beenden mit Strg+C.")
        out.flush()
        stop = until or threading.Event()
        if until is None and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
        # Waited in steps: a signal the kernel hands to a server thread is only handled when the main thread
        # runs Python again, and a wait without a time never returns for it (Strg+C or SIGTERM were ignored).
        while not stop.wait(0.5):
            pass
    finally:
        if s3_server is not None:
            s3_server.stop()
        site.stop()
    return EXIT_OK


def _print_service(engine, document: int, console) -> None:
    """``status --document``: the form of service, the proof and the date of service with its paragraph
    (förmliche Zustellung; nothing for a notice that is not served)."""
    from rich.markup import escape

    from erechnung.delivery.service import service_lines
    from erechnung.state import transaction

    with transaction(engine) as s:
        lines = service_lines(s, document)
    for line in lines:
        console.print(escape(line))


def run_service_record(document: int, served_on: str, form: str, how: str, *, served_by: str = "",
                       entered_by: str, note: str = "", scan: Optional[Path] = None, db: Optional[str] = None,
                       config: Optional[Path] = None, out=None) -> int:
    """``erechnung service record``: enter the returned Postzustellungsurkunde or Rückschein of a served notice
    (``erechnung.delivery.service.record_proof``); with ``--config`` the scan is also archived. Exit 0 recorded,
    1 refused (the reason on stderr, German), 2 bad options or no database."""
    from datetime import date

    from rich.console import Console
    from sqlalchemy.exc import SQLAlchemyError

    from erechnung.delivery.notification import LegalRules
    from erechnung.delivery.service import ServiceRefused, record_proof
    from erechnung.delivery.service_rules import ServiceRules
    from erechnung.state import transaction
    from erechnung.state.schema import Document, utcnow

    out = out or sys.stdout
    err = Console(stderr=True, highlight=False, soft_wrap=True)  # a reason is one line, also in a log
    try:
        day = date.fromisoformat(served_on)
    except ValueError:
        err.print(f"[red]Fehler:[/red] --date {served_on!r} ist kein Datum (JJJJ-MM-TT, z. B. 2026-11-25)")
        return EXIT_USAGE
    data = None
    if scan is not None:
        try:
            data = scan.read_bytes()
        except OSError as exc:
            err.print(f"[red]Fehler:[/red] der Scan {scan} kann nicht gelesen werden: {exc.strerror or exc}")
            return EXIT_USAGE
    engine = _open(db, err)
    if isinstance(engine, int):
        return engine
    try:
        with transaction(engine) as s:
            result = record_proof(s, document, proof=form, served_on=day, how=how, entered_by=entered_by,
                                  served_by=served_by, note=note, scan=data,
                                  scan_type="application/pdf" if scan is None or scan.suffix.lower() == ".pdf"
                                  else "image/" + scan.suffix.lower().lstrip(".").replace("jpg", "jpeg"),
                                  scan_name=scan.name if scan is not None else "", rules=ServiceRules.load(),
                                  time_zone=LegalRules.load().time_zone, now=utcnow())
            doc = s.get(Document, document)
            department, number = doc.department, doc.number
    except ServiceRefused as exc:
        err.print(f"[red]Abgelehnt:[/red] {exc}")
        return EXIT_BROKEN
    except SQLAlchemyError as exc:
        err.print(f"[red]Fehler:[/red] die Zustandsdatenbank: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")
        return EXIT_USAGE
    finally:
        engine.dispose()
    if data is not None and config is not None:
        from erechnung.config import load_config
        from erechnung.delivery.run import DeliveryState

        with DeliveryState(load_config(config), db) as st:
            item = st.archive.put(data, kind="document", department=department, document_kind="notice",
                                  media_type="application/pdf" if scan.suffix.lower() == ".pdf" else "image/jpeg",
                                  document_id=str(document), original_name=f"{number or document}.{form}{scan.suffix}")
        out.write(f"Scan archiviert: sha256 {item.sha256}\n")
    out.write(f"Dokument {document}: {result.explanation}\n")
    return EXIT_OK
