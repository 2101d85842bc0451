"""The Stadtkasse's commands (issue 15), thin over ``erechnung.stadtkasse``:

* ``erechnung receivables --config C [--json]``: takes the handed-over documents not yet in the books into them
  (Sollstellung, with the booking export), then lists the open items; ``--json``: one object per line
  (``item_id``, ``document_id``, ``number``, ``kassenzeichen``, ``instalment``, ``amount``, ``paid``, ``open``,
  ``due_date``, ``state``);
* ``erechnung payments import --config C FILE... [--json]``: reads bank files, books what matched, summary;
* ``erechnung payments unmatched --config C [--json]``: the clarification list;
* ``erechnung payments decide --config C ENTRY ITEM [--note TEXT] [--by NAME]``: a clerk books an entry on an item.

Exit codes: 0 done, 2 the configuration, a file or the request cannot be used (the reason on stderr, in German).
"""
from __future__ import annotations

import getpass
import json
import os
from decimal import Decimal
from pathlib import Path
from typing import List, Optional

import typer

from ...model.amounts import de_amount
from ...model.labels import label

EXIT_OK, EXIT_USAGE = 0, 2
MAX_BANK_FILE = 64 * 1024 * 1024  # a day's camt.053 of a large municipality is a few MB
NOTE_MAX = 1000

receivables_app = typer.Typer(name="receivables", help="Die offenen Posten der Stadtkasse (Sollstellung).")
payments_app = typer.Typer(name="payments", no_args_is_help=True,
                           help="Zahlungseingänge: Kontoauszüge einlesen, zuordnen, klären.")
CONFIG = typer.Option(..., "--config", dir_okay=False, help="The municipality's configuration (TOML).")
JSON = typer.Option(False, "--json", help="One JSON object per line on stdout.")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"Fehler: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


def _config(path: Path):
    from ...config import ConfigError, load_config

    try:
        return load_config(path)
    except (ConfigError, OSError) as exc:
        raise _fail(str(exc)) from None


def _engine(config):
    from ...config import database_url
    from ...state import make_engine, migrate

    engine = make_engine(database_url(config))
    migrate(engine)
    return engine


_euro = de_amount  # 1.234,56


@receivables_app.callback(invoke_without_command=True)
def receivables_command(config: Path = CONFIG, as_json: bool = JSON) -> None:
    """Post the handed-over documents not yet in the books, then list the open items."""
    from ...pipeline.context import Pipeline
    from ...stadtkasse.payments import item_json
    from ...stadtkasse.sollstellung import post
    from ...state.receivables import list_items

    cfg = _config(config)
    with Pipeline.open(cfg) as p:
        report = post(p)
        with p.transaction() as s:
            items = list_items(s)
    typer.echo(f"Sollstellung: {report.summary()}", err=True)
    if as_json:
        for item in items:
            typer.echo(json.dumps(item_json(item), ensure_ascii=False))
        raise typer.Exit(EXIT_OK)
    typer.echo(f"{'Posten':>6}  {'Kassenzeichen':<22} {'Rate':>4} {'Betrag':>12} {'bezahlt':>12} {'offen':>12}  "
               f"{'fällig':<10}  Zustand")
    for i in items:
        typer.echo(f"{i.item_id:>6}  {i.kassenzeichen[:22]:<22} {i.instalment:>4} {_euro(i.amount):>12} "
                   f"{_euro(i.paid):>12} {_euro(i.open):>12}  {i.due_date:%d.%m.%Y}  {label(i.state)}")
    typer.echo(f"{len(items)} Posten, offen insgesamt {_euro(sum((i.open for i in items if i.open > 0), 0))} EUR")




@payments_app.command("import")
def import_command(files: List[Path] = typer.Argument(..., dir_okay=False, help="camt.053/.054 or MT940 files."),
                   config: Path = CONFIG, as_json: bool = JSON) -> None:
    """Read bank files, store their new entries, book what matched; the rest goes to the clarification list."""
    from ...payments.bankfile_common import BankFileError
    from ...stadtkasse.payments import PaymentsError, import_files

    cfg = _config(config)
    data = []
    for f in files:
        try:
            size = f.stat().st_size
            if size > MAX_BANK_FILE:
                raise _fail(f"{f}: {size} Bytes sind mehr als die {MAX_BANK_FILE} Bytes, die ein Kontoauszug haben "
                            "darf; teilen Sie die Datei oder prüfen Sie, ob es ein Kontoauszug ist.")
            data.append((f.name, f.read_bytes()))
        except OSError as exc:
            raise _fail(f"{f}: nicht lesbar ({exc.strerror}); prüfen Sie Pfad und Rechte.") from None
    engine = _engine(cfg)
    try:
        report = import_files(engine, data, rules=cfg.payments)
    except (BankFileError, PaymentsError, ValueError, LookupError) as exc:  # what, where, why
        raise _fail(f"Kontoauszug nicht gelesen, nichts gebucht: {exc}") from None
    finally:
        engine.dispose()
    typer.echo(json.dumps(report.as_json(), ensure_ascii=False) if as_json else report.summary())


@payments_app.command("unmatched")
def unmatched_command(config: Path = CONFIG, as_json: bool = JSON,
                      csv_file: Optional[Path] = typer.Option(None, "--csv", dir_okay=False,
                                                              help="Also write the list as CSV (for Excel)."),
                      html_file: Optional[Path] = typer.Option(None, "--html", dir_okay=False,
                                                               help="Also write the list as an HTML page.")) -> None:
    """The clarification list: entries no rule could book."""
    from datetime import datetime, timezone

    from ...payments.clarification import clarification_csv, clarification_html
    from ...stadtkasse.payments import clarification_rows, unmatched

    engine = _engine(_config(config))
    try:
        rows = unmatched(engine)
        if csv_file or html_file:
            listed = clarification_rows(engine)
            if csv_file:
                csv_file.write_bytes(clarification_csv(listed))
            if html_file:
                html_file.write_bytes(clarification_html(listed, created=datetime.now(timezone.utc)))
    finally:
        engine.dispose()
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row, ensure_ascii=False))
        return
    for r in rows:
        typer.echo(f"{r['entry_id']:>6}  {r['booking_date']}  {_euro(Decimal(r['open'])):>12} "
                   f"{r['counterparty'][:30]:<30}  {r['remittance'][:60]}  [{r['reason']}]")
    typer.echo(f"{len(rows)} Umsatz/Umsätze zur Klärung")


@payments_app.command("decide")
def decide_command(entry: str = typer.Argument(..., help="The entry's number or key (payments unmatched)."),
                   item: int = typer.Argument(..., help="The open item's number (receivables --json: item_id)."),
                   config: Path = CONFIG,
                   note: Optional[str] = typer.Option(None, "--note", help="Why (kept with the decision)."),
                   by: Optional[str] = typer.Option(None, "--by", help="Who decides (default: $USER)."),
                   as_json: bool = JSON) -> None:
    """Book an entry from the clarification list on an open item (the decision is recorded)."""
    from ...stadtkasse.payments import PaymentsError, decide

    who = (by or os.environ.get("USER") or getpass.getuser())[:200]
    if note is not None and len(note) > NOTE_MAX:
        raise _fail(f"--note hat {len(note)} Zeichen, höchstens {NOTE_MAX} sind erlaubt; kürzen Sie den Vermerk.")
    engine = _engine(_config(config))
    try:
        result = decide(engine, entry, item, by=who, note=note)
    except PaymentsError as exc:
        raise _fail(str(exc)) from None
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
    else:
        typer.echo(f"Gebucht von {who}: Umsatz {entry} auf Posten {item} ({result['kassenzeichen']}); "
                   f"offen jetzt {result['open'].replace('.', ',')} EUR, Zustand {label(result['state'])}.")



dunning_app = typer.Typer(name="dunning", no_args_is_help=True, help="Mahnläufe: Zahlungserinnerung, Mahnungen, "
                                                                     "Säumniszuschläge (§ 240 AO).")


@dunning_app.command("run")
def dunning_command(config: Path = CONFIG,
                    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be dunned."),
                    on: Optional[str] = typer.Option(None, "--date", help="The day of the run (YYYY-MM-DD; default: "
                                                                          "today)."),
                    by: Optional[str] = typer.Option(None, "--by", help="Who runs it (default: the login name)."),
                    as_json: bool = JSON) -> None:
    """The dunning steps due on a day: listed (--dry-run) or recorded with their fees and surcharges."""
    from datetime import date as _date

    from ...payments.dunning import DunningRuleError
    from ...stadtkasse.dunning import dunning_run
    from ...stadtkasse.letters import LetterError

    cfg = _config(config)
    try:
        day = _date.fromisoformat(on) if on else _date.today()
    except ValueError:
        raise _fail(f"--date {on!r} ist kein Datum der Form JJJJ-MM-TT (z. B. 2026-12-06).") from None
    land = cfg.delivery.land or "default"
    engine = _engine(cfg)
    try:
        report = dunning_run(engine, on=day, land=land, dry_run=dry_run, by=by or _user(), config=cfg)
    except (DunningRuleError, LetterError) as exc:
        raise _fail(str(exc)) from None
    finally:
        engine.dispose()
    if as_json:
        for step in report.steps:
            typer.echo(json.dumps({**step.inputs(), "item_id": step.item.item_id, "level": step.level,
                                   "number": step.item.number, "kassenzeichen": step.item.kassenzeichen,
                                   "stage": step.stage, "total_due": str(step.total_due), "why": step.why},
                                  ensure_ascii=False))
        return
    for line in report.lines():
        typer.echo(line)


def _user() -> str:
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unbekannt"


def debits_command(config: Path = CONFIG,
                   due: str = typer.Option(..., "--due", help="The collection date (YYYY-MM-DD)."),
                   output: Path = typer.Option(..., "-o", "--output", dir_okay=False,
                                               help="Where to write the pain.008 file."),
                   account: Optional[str] = typer.Option(None, "--account",
                                                         help="The bank account to collect to (a key of "
                                                              "[municipality.bank_accounts]; default: the first).")
                   ) -> None:
    """SEPA direct debits (pain.008, core scheme) for the open items due on a day whose debtor has a mandate."""
    from datetime import date as _date
    from datetime import datetime, timezone

    from ...intake.recipients import import_recipients_csv
    from ...payments.debits import Creditor, build_debits, mandates_of
    from ...state import transaction
    from ...state import receivables as books

    cfg = _config(config)
    try:
        day = _date.fromisoformat(due)
    except ValueError:
        raise _fail(f"--due {due!r} ist kein Datum der Form JJJJ-MM-TT (z. B. 2027-02-15).") from None
    if not cfg.recipients:
        raise _fail("die Konfiguration nennt kein Empfängerverzeichnis (recipients = ...): ohne Verzeichnis keine "
                    "SEPA-Mandate")
    register_file = cfg.path(cfg.recipients)
    try:
        register = import_recipients_csv(register_file.read_bytes(), register_file.name).register
        creditor = Creditor.from_config(cfg, account)
    except OSError as exc:
        raise _fail(f"{register_file}: nicht lesbar ({exc.strerror})") from None
    except ValueError as exc:
        raise _fail(str(exc)) from None
    engine = _engine(cfg)
    try:
        with transaction(engine) as s:
            items = books.list_items(s)
    finally:
        engine.dispose()
    # a mandate already collected under (an item of it paid) goes as RCUR, a new one as FRST
    collected = {i.mandate_id for i in items if i.mandate_id and i.paid > 0}
    # only items whose document announced the debit (BT-89 mandate, the pre-notification): one that asked for a
    # transfer is not collected, even when its debtor has signed a mandate since
    result = build_debits([i for i in items if i.due_date == day and i.mandate_id], due=day, creditor=creditor,
                          mandates=mandates_of(register), collected=collected, created_at=datetime.now(timezone.utc))
    for skipped in result.skipped:
        typer.echo(f"nicht eingezogen: {skipped.item.kassenzeichen}: {skipped.reason}", err=True)
    if not result.debits:
        typer.echo(f"Keine Lastschriften zum {day:%d.%m.%Y}: kein fälliger Posten mit Mandat.")
        return
    output.write_bytes(result.xml)
    typer.echo(f"{len(result.debits)} Lastschrift(en) über {_euro(result.total)} EUR zum {day:%d.%m.%Y} in "
               f"{output} ({result.schema}).")
