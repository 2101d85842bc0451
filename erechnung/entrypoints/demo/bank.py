"""``make demo``, part 4: the bank answers. A camt.053.001.08 end-of-day statement of the Stadtkasse's account
(``payments.demo_statement``, valid against the official XSD), made from the demo's open items: the first ones paid
in full naming their Kassenzeichen, one partly, one with a mistyped Kassenzeichen (two characters swapped), and a
transfer nobody can place; the rest stays open for the dunning run.
"""
from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from ...model.receivables import OpenItem
from ...payments.demo_statement import DemoPayment

__all__ = ["demo_payments"]

PAID_IN_FULL = 4
SHOWN_STEPS = 6  # dunning steps the demo prints before the total


def _mistyped(kassenzeichen: str) -> str:
    """The Kassenzeichen with its last two differing characters swapped, as a hurried payer types it."""
    chars = list(kassenzeichen)
    for i in range(len(chars) - 1, 0, -1):
        if chars[i] != chars[i - 1] and chars[i].isdigit() and chars[i - 1].isdigit():
            chars[i], chars[i - 1] = chars[i - 1], chars[i]
            return "".join(chars)
    return kassenzeichen + "7"


def demo_payments(items: Sequence[OpenItem]) -> list[tuple[DemoPayment, OpenItem | None]]:
    """The demo's story, from the open items not collected by direct debit, oldest due date first: each payment
    with the item it was meant for (None: a transfer nobody can place)."""
    payers = sorted((i for i in items if i.mandate_id is None and i.open > 0),
                    key=lambda i: (i.due_date, i.kassenzeichen))
    story: list[tuple[DemoPayment, OpenItem | None]] = [
        (DemoPayment(item.open, item.debtor_name or "Zahler", "DE89370400440532013000",
                     f"Kassenzeichen {item.kassenzeichen}"), item) for item in payers[:PAID_IN_FULL]]
    if len(payers) > PAID_IN_FULL:
        partly = payers[PAID_IN_FULL]
        story.append((DemoPayment((partly.open / 2).quantize(Decimal("0.01")), partly.debtor_name or "Zahler",
                                  "DE02120300000000202051", f"KZ {partly.kassenzeichen} Teilzahlung"), partly))
    if len(payers) > PAID_IN_FULL + 1:
        typo = payers[PAID_IN_FULL + 1]
        story.append((DemoPayment(typo.open, typo.debtor_name or "Zahler", "DE75512108001245126199",
                                  f"Kassenzeichen {_mistyped(typo.kassenzeichen)}"), typo))
    story.append((DemoPayment(Decimal("87.30"), "Unbekannt GmbH", "DE44500105175407324931",
                              "Rechnung 4711 vom 03.11."), None))
    return story


def money_demo(root, config_path, console) -> int:
    """Part 4 of ``make demo``: the Stadtkasse's open items (posted when the run handed the documents over), the
    bank's statement imported (once: a second demo imports the same file and books nothing twice), the
    clarification list, and a dunning dry run on a day after the last due date."""
    from datetime import date, datetime, timedelta, timezone

    from ...config import database_url, load_config
    from ...payments.demo_statement import demo_camt053
    from ...stadtkasse.dunning import dunning_run
    from ...payments.clarification import clarification_csv, clarification_html
    from ...stadtkasse.payments import clarification_rows, import_files, unmatched
    from ...state import make_engine, migrate, transaction
    from ...state import receivables as books
    from ...model.labels import label
    from ..cli.stadtkasse import _euro

    console.rule("[bold]erechnung Stadtkasse: offene Posten, Kontoauszug, Klärung, Mahnlauf[/bold]")
    cfg = load_config(config_path)
    engine = make_engine(database_url(cfg))
    migrate(engine)
    try:
        with transaction(engine) as s:
            items = books.list_items(s)
        folder = root / "bank"
        folder.mkdir(exist_ok=True)
        files = sorted(folder.glob("*.xml"))
        if not files:  # the bank's statements of today, one per account the payments went to
            today = date.today()
            story = demo_payments(items)
            default = items[0].account_iban if items else "DE02120300000000202051"
            accounts: dict[str, list[DemoPayment]] = {}
            for payment, item in story:
                accounts.setdefault(item.account_iban if item else default, []).append(payment)
            for n, (account, payments) in enumerate(sorted(accounts.items()), 1):
                (folder / f"camt053_{today:%Y%m%d}_{n}.xml").write_bytes(demo_camt053(
                    payments, account_iban=account, booking_date=today, created=datetime.now(timezone.utc),
                    statement_id=f"{today:%Y%m%d}-{n}"))
            files = sorted(folder.glob("*.xml"))
        report = import_files(engine, [(f.name, f.read_bytes()) for f in files], rules=cfg.payments)
        console.print(f"Kontoauszug: {report.summary()}")
        with transaction(engine) as s:
            items = books.list_items(s)
        states: dict[str, int] = {}
        for i in items:
            states[i.state.value] = states.get(i.state.value, 0) + 1
        console.print("Offene Posten nach Zustand: " + ", ".join(f"{label(k)} {v}" for k, v in sorted(states.items()))
                      + f"; offen insgesamt {_euro(sum((i.open for i in items if i.open > 0), 0))} EUR")
        listed = clarification_rows(engine)
        kasse = root / "kasse"
        kasse.mkdir(exist_ok=True)
        (kasse / "klaerungsliste.csv").write_bytes(clarification_csv(listed))
        (kasse / "klaerungsliste.html").write_bytes(clarification_html(listed, created=datetime.now(timezone.utc)))
        console.print(f"Klärungsliste: {kasse / 'klaerungsliste.html'} (und .csv für Excel)")
        for row in unmatched(engine):
            console.print(f"  zur Klärung: {_euro(Decimal(row['amount']))} EUR von {row['counterparty']}, „{row['remittance']}“ – "
                          f"{row['reason']}")
        due = [i.due_date for i in items if i.open > 0]
        if due:
            on = max(due) + timedelta(days=25)
            plan = dunning_run(engine, on=on, land=cfg.delivery.land or "default", dry_run=True)
            lines = plan.lines()
            shown = lines[:SHOWN_STEPS] + ([f"... und {len(lines) - 1 - SHOWN_STEPS} weitere"]
                                           if len(lines) - 1 > SHOWN_STEPS else []) + lines[-1:]
            for line in shown if len(lines) - 1 > SHOWN_STEPS else lines:
                console.print(f"Mahnlauf (Probe zum {on:%d.%m.%Y}): {line}")
    finally:
        engine.dispose()
    cfg_shown = config_path
    console.print(f"receivables: .venv/bin/erechnung receivables --config {cfg_shown}")
    console.print(f"clarify:     .venv/bin/erechnung payments unmatched --config {cfg_shown}")
    console.print(f"dunning:     .venv/bin/erechnung dunning run --config {cfg_shown} --dry-run --date YYYY-MM-DD")
    return 0
