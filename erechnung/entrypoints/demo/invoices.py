"""``make demo``: build a few municipal invoices, write them as XRechnung UBL and CII, validate every one
with the KoSIT rules, convert between the syntaxes, and show where the reports are; then run the whole
pipeline on the sample deliveries of ``examples/batches/`` (``erechnung.entrypoints.demo.pipeline``, under ``out/pipeline/``).

Everything runs on embedded defaults: the official artifacts installed in ``xsd/``, output under
``out/demo/``. One document is broken on purpose (its amount due does not add up) to show what a reject
looks like.
"""
from __future__ import annotations

import shutil
import sys
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ...builder import build_invoice, customer, document_allowance, item_line, municipality
from ...convert import convert, model_to_json
from ...model import Invoice
from ...syntax import write_invoice

OUT = Path("out/demo")


def _stadt():
    return municipality(
        "Stadt Musterstadt", street="Rathausplatz 1", post_code="12345", city="Musterstadt",
        contact_name="Stadtkasse, Frau Beispiel", contact_phone="+49 1234 567-0",
        contact_email="stadtkasse@musterstadt.example", electronic_address="rechnung@musterstadt.example",
        vat_id="DE123456789", tax_number="123/456/78901",
        # BT-30: with items not subject to VAT the VAT id must go (BR-O-02), and BR-CO-26 then needs another
        # seller identifier; for a municipality that is its official municipality key (AGS).
        legal_registration_id="09162000")


def sample_invoices() -> dict[str, Invoice]:
    """Three documents a municipality sends every day."""
    stadt = _stadt()
    bauhof = customer("Bauunternehmen Schmidt GmbH", street="Industriestr. 7", post_code="12345",
                      city="Musterstadt", electronic_address="buchhaltung@schmidt-bau.example",
                      vat_id="DE987654321")
    kreis = customer("Landkreis Beispielkreis", street="Kreishaus 2", post_code="12300", city="Kreisstadt",
                     electronic_address="991-01234-56", electronic_address_scheme="0204")
    return {
        "hallenmiete-ubl": build_invoice(
            number="RE-2026-000117", issue_date=date(2026, 11, 2), seller=stadt, buyer=bauhof,
            leitweg_id="991-33333TEST-33", iban="DE02120300000000202051", kassenzeichen="5.0120.000117.3",
            due_date=date(2026, 12, 2), invoicing_period=(date(2026, 10, 1), date(2026, 10, 31)),
            lines=[item_line("Miete Stadthalle, großer Saal", 2, "450.00", vat_rate=19, unit_code="DAY"),
                   item_line("Reinigung nach Veranstaltung", 1, "120.00", vat_rate=19),
                   item_line("Bewirtung Getränke", 40, "2.50", vat_rate=7, unit_code="H87")],
            allowances=[document_allowance(percentage=10, base_amount="900.00", reason="Vereinsrabatt",
                                           vat_category="S", vat_rate=19)]),
        "sondernutzung-cii": build_invoice(
            number="RE-2026-000118", issue_date=date(2026, 11, 3), seller=stadt, buyer=bauhof,
            leitweg_id="991-33333TEST-33", iban="DE02120300000000202051", kassenzeichen="5.0130.000118.9",
            due_date=date(2026, 12, 3),
            lines=[item_line("Sondernutzungserlaubnis Gerüst Hauptstraße 12", 14, "8.50", vat_category="O",
                             unit_code="DAY")],
            exemption_reasons={"O": "Nicht steuerbar: hoheitliche Tätigkeit (§ 2b UStG)"}),
        "gutschrift-ubl": build_invoice(
            number="GS-2026-000009", issue_date=date(2026, 11, 4), seller=stadt, buyer=kreis, type_code="381",
            leitweg_id="04011000-1234512345-06", iban="DE02120300000000202051", kassenzeichen="5.0120.000099.1",
            payment_terms="Der Betrag wird mit der nächsten Abrechnung verrechnet.",
            preceding_invoices=[("RE-2026-000099", date(2026, 10, 1))],
            lines=[item_line("Erstattung zu viel berechneter Winterdienst", 3, "95.00", vat_rate=19,
                             unit_code="HUR")]),
    }


def _broken(ubl: bytes) -> bytes:
    """The first sample with its amount due changed by hand: BR-CO-16 must catch it."""
    marker = b"<cbc:PayableAmount"
    start = ubl.index(marker)
    end = ubl.index(b"</cbc:PayableAmount>", start)
    value_start = ubl.index(b">", start) + 1
    return ubl[:value_start] + b"999.99" + ubl[end:]


def main() -> int:
    from validators.engine import Validator
    from validators.report import write_reports

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    if OUT.exists():
        shutil.rmtree(OUT)
    docs_dir, conv_dir, report_dir = OUT / "documents", OUT / "converted", OUT / "reports"
    for d in (docs_dir, conv_dir):
        d.mkdir(parents=True)

    console.rule("[bold]erechnung demo[/bold]")
    console.print("1. Building invoices from department data (amounts derived by the calculator) ...")
    documents: dict[str, bytes] = {}
    for name, invoice in sample_invoices().items():
        syntax = "cii" if name.endswith("-cii") else "ubl"
        documents[f"{name}.xml"] = write_invoice(invoice, syntax)
        (docs_dir / f"{name}.json").write_bytes(model_to_json(invoice))
    documents["kaputt-zahlbetrag-ubl.xml"] = _broken(documents["hallenmiete-ubl.xml"])
    for name, data in documents.items():
        (docs_dir / name).write_bytes(data)

    console.print("2. Converting between the syntaxes ...")
    conversions = {
        "hallenmiete-als-cii.xml": (documents["hallenmiete-ubl.xml"], "cii"),
        "sondernutzung-als-ubl.xml": (documents["sondernutzung-cii.xml"], "ubl"),
        "gutschrift-als-cii.xml": (documents["gutschrift-ubl.xml"], "cii"),
    }
    for name, (data, to) in conversions.items():
        (conv_dir / name).write_bytes(convert(data, to))

    console.print("3. Validating every document with the official KoSIT rules (first run compiles them) ...")
    validator = Validator.for_bundle()
    results = [validator.validate(p.read_bytes(), str(p))
               for p in sorted(docs_dir.glob("*.xml")) + sorted(conv_dir.glob("*.xml"))]
    written = write_reports(results, report_dir)

    table = Table(title="Validation (KoSIT-equivalent)")
    for col in ("document", "verdict", "scenario", "errors"):
        table.add_column(col, overflow="fold")
    for r in results:
        table.add_row(r.name, "[green]accept[/green]" if r.verdict == "accept" else "[red]reject[/red]",
                      r.scenario or "-", "; ".join(f"{m.code}: {m.text[:90]}" for m in r.errors[:2]))
    console.print(table)
    expected_rejects = {str(docs_dir / "kaputt-zahlbetrag-ubl.xml")}
    unexpected = [r.name for r in results if (r.verdict == "reject") != (r.name in expected_rejects)]
    console.print(f"documents:   {docs_dir}/ (XML, and the canonical model as JSON)")
    console.print(f"converted:   {conv_dir}/")
    console.print(f"reports:     {written.directory}/ (per document XML + HTML; summary {written.summary_html})")
    console.print("try:         .venv/bin/erechnung validate --json out/demo/documents")
    if unexpected:
        console.print(f"[red]unexpected verdicts: {unexpected}[/red]")
        return 1
    console.print("[green]All sample documents accepted; the broken one rejected as it should be.[/green]")
    from .pipeline import main as pipeline_demo  # part 2: the whole pipeline on the sample deliveries

    return pipeline_demo(console=console)


if __name__ == "__main__":
    sys.exit(main())
