"""The readable invoice as people read it: German formats, multi-page layout with the table header on every
page and "Seite x von y", line details, and a line item longer than a page split rather than cut off.
Text is read back with pdftotext (poppler-utils, installed by `make system-tools`), so the test sees what a
reader's PDF viewer shows."""
from __future__ import annotations

import subprocess
from datetime import date
from decimal import Decimal

import pytest

from erechnung.builder import build_invoice, customer, item_line, line_allowance
from erechnung.entrypoints.demo.invoices import _stadt
from erechnung.documents.checks import pdfa_problems
from erechnung.documents.hybrid import make_hybrid
from erechnung.documents.invoice_pdf import render_invoice


def _pages(pdf: bytes) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True,
                          timeout=60).stdout.decode()
    return [page for page in text.split("\f") if page.strip()]


def _invoice(lines, **extra):
    buyer = customer("Sportverein Musterstadt e. V.", street="Am Sportplatz 3", post_code="12345",
                     city="Musterstadt", electronic_address="kasse@sv-musterstadt.example",
                     contact_name="Herr Kassenwart")
    return build_invoice(number="RE-2026-004711", issue_date=date(2026, 12, 31), seller=_stadt(), buyer=buyer,
                         leitweg_id="991-33333TEST-33", iban="DE02120300000000202051", kassenzeichen="5.0120.004711.0",
                         due_date=date(2027, 1, 31), lines=lines, **extra)


@pytest.fixture(scope="module")
def long_invoice():
    lines = [item_line(f"Hallenzeit Sporthalle Nord, Feld {i % 3 + 1}", 2 + i % 5, "1234.56", vat_rate=19,
                       unit_code="HUR", period=(date(2026, 12, 1), date(2026, 12, 31)),
                       allowances=[line_allowance(percentage=10, base_amount=Decimal("1234.56") * (2 + i % 5),
                                                  reason="Vereinsrabatt")] if i % 4 == 0 else ())
             for i in range(45)]
    return _invoice(lines)


def test_amounts_and_dates_are_written_the_german_way(long_invoice):
    page_one = _pages(render_invoice(long_invoice))[0]
    assert "1.234,56 €" in page_one and "31.12.2026" in page_one and "01.12.2026 – 31.12.2026" in page_one
    assert "Tag(e)" not in page_one and "Std." in page_one  # unit codes as German abbreviations
    assert "abzgl. Vereinsrabatt (10 % von 2.469,12 €):" in page_one and "−246,91 €" in page_one


def test_every_page_numbers_itself_and_repeats_the_table_header(long_invoice):
    pdf = make_hybrid(long_invoice, "XRECHNUNG")
    assert pdfa_problems(pdf) == []
    pages = _pages(pdf)
    assert len(pages) >= 3
    for number, page in enumerate(pages, 1):
        assert f"Seite {number} von {len(pages)}" in page
    for page in pages[:-1]:  # the lines run over every page but the last (totals, payment)
        assert "Pos." in page and "Einzelpreis" in page and "Betrag" in page
    assert "Rechnung RE-2026-004711" in pages[1]  # running head on following pages
    assert "Zahlbetrag" in pages[-1] and "GiroCode" in pages[-1]


def test_a_line_item_longer_than_a_page_is_split_not_cut_off():
    description = "\n".join(f"Einsatzprotokoll Zeile {i}: Räumdienst Straße {i}" for i in range(1, 121))
    pdf = make_hybrid(_invoice([item_line("Winterdienst Dezember", 1, "980.00", vat_rate=19,
                                          description=description)]), "EN16931")
    assert pdfa_problems(pdf) == []
    text = "\n".join(_pages(pdf))
    for i in (1, 60, 120):
        assert f"Einsatzprotokoll Zeile {i}: Räumdienst Straße {i}" in text


def test_the_recipient_is_addressed_with_the_contact_person(long_invoice):
    page_one = _pages(render_invoice(long_invoice))[0]
    assert "Sportverein Musterstadt e. V." in page_one and "z. Hd. Herr Kassenwart" in page_one
    assert "12345 Musterstadt" in page_one


def test_a_foreign_currency_invoice_has_no_girocode():
    invoice = _invoice([item_line("Vermietung Messestand", 1, "500.00", vat_rate=19)], currency_code="CHF")
    page = _pages(render_invoice(invoice))[0]
    assert "595,00 CHF" in page and "GiroCode" not in page
