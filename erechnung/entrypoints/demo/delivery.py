"""``make demo``, part 3: the documents the pipeline handed over are delivered through the local sandboxes.

The sandboxes (``mailbox_connectors.sandboxes.site``: SMTP with DSN, FIT-Connect with the BundID bridge to a
ZBP, ELSTER-Transfer, and a Peppol network: SML by DNS, an SMP, a receiving access point) start on loopback under
``out/pipeline/sandbox/``; the configuration includes their ``delivery.toml``. The Landkreis receives its invoices
by Peppol (AS4, with the access point's signed receipt as proof); the Amtsgericht is in no Peppol SMP, so its
invoice goes to the Land's invoice portal by e-mail (``[[delivery.portals]]``); companies get their Gewerbesteuer
notices in their ELSTER business postbox. The BundID postbox of Erika Mustermann (K-10001) rejects the first message it gets, as a
closed postbox does: that notice falls back to the next channel of her route (a letter). Then she opens her
postbox; the retrieval confirmations come back and the notices' notification dates are computed (§ 9 OZG,
§ 41 VwVfG). The companies with an ELSTER account (K-20001, K-20003) get their notices (the Gewerbesteuer
prepayments) provided in their ELSTER business postbox (§ 122a AO); the sandbox takes PDF/A only and knows the
register's accounts. ``erechnung status`` shows every delivery's history (the first ELSTER provision's with its
evidence); running the demo again sends nothing twice.
"""
from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
FALLBACK_REASON = "Postfach aufgelöst: nimmt keine Nachrichten mehr an"
#: in no Peppol SMP: its invoices go to the portal that serves its Leitweg-ID
NOT_IN_PEPPOL = ("0204:05-AGMUSTER-20",)


def _wait(condition, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not condition() and time.monotonic() < end:
        time.sleep(0.1)


def deliver_demo(root: Path, config_path: Path, console: Console) -> int:
    from ..cli.delivery import run_status
    from ...delivery.run import deliver_run, track_run
    from ...config import load_config
    from ...intake.recipients import import_recipients_csv
    from ..wiring import open_connectors
    from mailbox_connectors.sandboxes.site import SandboxSite

    console.rule("[bold]erechnung delivery demo[/bold]")
    console.print("Starting the delivery sandboxes on loopback (SMTP with DSN, FIT-Connect + BundID bridge, ZBP, "
                  "ELSTER-Transfer, Peppol SML/SMP and access point) ...")
    register = import_recipients_csv((EXAMPLES / "recipients.csv").read_bytes(), "recipients.csv").register
    mails_before = _mails(root)
    with SandboxSite(root / "sandbox") as site:
        site.register(register, not_in_peppol=NOT_IN_PEPPOL)
        site.fit.reject_next(FALLBACK_REASON)  # the first BundID message meets a closed postbox
        for name, url in site.endpoints().items():
            console.print(f"  {name:30} {url}")
        cfg = load_config(config_path)
        db = f"sqlite:///{(root / 'erechnung.sqlite3').as_posix()}"
        with open_connectors(cfg) as wired:
            dc = wired.delivery_config
            first = deliver_run(cfg, wired.connectors, dc, db_url=db)
            for line in first.lines():
                console.print(f"Zustellung: {line}")
            if first.sent:
                # the receiving side works asynchronously: the bridge accepts or rejects, the MTA reports
                site.fit.wait_processed()
                _wait(lambda: len(site.smtp.reports()) >= _emails(db))
            tracked = track_run(cfg, wired.connectors, dc, db_url=db)
            console.print(f"Verfolgung: {tracked.lines()[0]}")
            if tracked.fell_back:
                again = deliver_run(cfg, wired.connectors, dc, db_url=db)
                console.print(f"Ausweichkanal: {again.lines()[0]}")
                if again.print_batch:
                    console.print(f"Druckstapel: {again.print_batch}")
            opened = 0
            for message_id in list(site.zbp.messages):  # the citizen opens her postbox
                opened += site.zbp.confirm_retrieval(message_id)
            if opened:
                tracked = track_run(cfg, wired.connectors, dc, db_url=db)
                console.print(f"Abruf im Postfach: {tracked.lines()[0]}")
        portal_mails = sum(len(site.smtp.messages(p.email)) for p in cfg.delivery.portals)
        received = {"E-Mails": f"{_mails(root) - mails_before} (an Rechnungsportale {portal_mails})",
                    "BundID-Nachrichten": len(site.zbp.messages),
                    "ELSTER-Bereitstellungen": len(site.elster.orders),
                    "Peppol-Nachrichten": len(site.peppol_ap.received)}
    console.print("In diesem Lauf bei den Sandboxen angekommen: "
                  + ", ".join(f"{k} {v}" for k, v in received.items()))
    run_status(db, out=console.file)
    fell = _fell_back_document(db)
    if fell is not None:  # the history of the document that fell back, event by event with its evidence
        console.rule(f"[bold]erechnung status --document {fell}[/bold]")
        run_status(db, document=fell, out=console.file)
    provided = _first_on(db, "elster")  # a Gewerbesteuerbescheid, if one went there
    if provided is not None:  # a notice provided in a company's ELSTER postbox: acknowledged, delivered, evidence
        console.rule(f"[bold]erechnung status --document {provided}[/bold] (ELSTER)")
        run_status(db, document=provided, out=console.file)
    by_peppol = _delivered_by_peppol(db)  # an invoice to the Landkreis: the signed receipt, then the MLS
    if by_peppol is not None:
        console.rule(f"[bold]erechnung status --document {by_peppol}[/bold] (Peppol)")
        run_status(db, document=by_peppol, out=console.file)
    console.print(f"mailboxes:   {root / 'sandbox/smtp/mailboxes'}/ (one Maildir per address)")
    console.print(f"print:       {root / 'print'}/ (batches for the print shop)")
    cfg = _shown(config_path)
    console.print(f"history:     .venv/bin/erechnung status --config {cfg} --document {fell or 1}")
    console.print(f"as JSON:     .venv/bin/erechnung status --config {cfg} --json")
    console.print(f"audit:       .venv/bin/erechnung audit verify --config {cfg}")
    console.print("console:     make console, then http://127.0.0.1:8080 (demo accounts: [console] in "
                  "examples/config.toml, e.g. kasse / kasse-demo-2026)")
    console.print(f"again:       .venv/bin/erechnung sandbox --dir {_shown(root / 'sandbox')} --recipients "
                  f"examples/recipients.csv, then .venv/bin/erechnung deliver --config {cfg}")
    return 0


def _shown(path: Path) -> str:
    """``path`` relative to the working directory where it lies below it (shorter to copy)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _fell_back_document(db: str) -> int | None:
    from ...state.delivery_schema import Delivery

    return _first_document(db, Delivery.state == "fell_back")


def _first_on(db: str, channel: str, department: str = "gewerbesteuer") -> int | None:
    """The first document delivered on ``channel``, one of ``department`` if there is one; or None."""
    from ...state.delivery_schema import Delivery
    from ...state.schema import Document

    return _first_document(db, Delivery.channel == channel, first=Document.department != department)


def _delivered_by_peppol(db: str) -> int | None:
    from ...state.delivery_schema import Delivery

    return _first_document(db, (Delivery.channel == "peppol") & (Delivery.state != "fell_back"))


def _first_document(db: str, where, first=None) -> int | None:
    from sqlalchemy import select

    from ...state import make_engine, transaction
    from ...state.delivery_schema import Delivery
    from ...state.schema import Document

    engine = make_engine(db)
    try:
        with transaction(engine) as s:
            query = select(Delivery.document_id).join(Document, Document.id == Delivery.document_id).where(where)
            order = (Delivery.id,) if first is None else (first, Delivery.id)
            return s.execute(query.order_by(*order).limit(1)).scalar_one_or_none()
    finally:
        engine.dispose()


def _mails(root: Path) -> int:
    """Mails in the sandbox MTA's mailboxes (they are kept between demo runs)."""
    return sum(1 for p in (root / "sandbox/smtp/mailboxes").glob("*/*/*") if p.parent.name in ("new", "cur"))


def _emails(db: str) -> int:
    """How many deliveries went out by email (each gets one delivery report from the sandbox MTA)."""
    from sqlalchemy import func, select

    from ...state import make_engine, transaction
    from ...state.delivery_schema import Delivery

    engine = make_engine(db)
    try:
        with transaction(engine) as s:
            return s.execute(select(func.count()).where(Delivery.channel == "email")).scalar_one()
    finally:
        engine.dispose()
