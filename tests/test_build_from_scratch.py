"""Documents built from plain data with ``erechnung.builder`` are valid XRechnung 3.0.2 in UBL and in CII.

Each document is written in both syntaxes and must be accepted by the official rules (KoSIT scenarios,
XSD, CEN and XRechnung Schematron); the report's errors are printed when it is not.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from erechnung.builder import (
    BuildError, build_invoice, customer, document_allowance, document_charge, item_line, line_allowance, municipality,
    normalize_iban,
)
from erechnung.calculator import Exemption, check
from erechnung.errors import CalculationError
from erechnung.model import Invoice, VatCategory
from erechnung.model.codes import PEPPOL_BILLING_PROCESS, XRECHNUNG_3_0
from erechnung.syntax import read_invoice, write_invoice

D = Decimal

STADT = municipality(
    "Stadt Musterstadt", street="Rathausplatz 1", post_code="12345", city="Musterstadt",
    vat_id="DE123456789", tax_number="12/345/67890", identifier="AGS 09 1 62 000",
    contact_name="Stadtkasse, Frau Beispiel", contact_phone="+49 1234 56-789",
    contact_email="stadtkasse@musterstadt.de", electronic_address="e-rechnung@musterstadt.de")
FIRMA = customer("Muster Bau GmbH", street="Industriestraße 7", post_code="12349", city="Musterstadt",
                 electronic_address="buchhaltung@musterbau.de", vat_id="DE987654321")
LANDKREIS = customer("Landkreis Beispiel, Kämmerei", street="Kreishaus 3", post_code="12400", city="Beispielstadt",
                     electronic_address="04011000-12345-03", electronic_address_scheme="0204")
IBAN = "DE02 1203 0000 0000 2020 51"
COMMON = dict(seller=STADT, iban=IBAN, bic="BYLADEM1001", account_name="Stadtkasse Musterstadt")


def waste_fee() -> Invoice:
    """Abfallgebühren: a public-law charge of the municipality acting as public authority is not subject to VAT
    (category O, "Not subject to VAT", BR-O-*): no rate on the lines, an exemption reason in the breakdown, no
    VAT identifier on the invoice (BR-O-02) and no other VAT category (BR-O-11..14)."""
    return build(
        number="AG-2025-000123", issue_date=date(2025, 1, 15), buyer=FIRMA, leitweg_id="04011000-12345-03",
        kassenzeichen="5.6100.000123.4", due_date=date(2025, 2, 15),
        invoicing_period=(date(2025, 1, 1), date(2025, 12, 31)),
        lines=[item_line("Restmülltonne 240 l, 14-täglich", 12, "38.45", vat_category="O", unit_code="MON"),
               item_line("Biotonne 120 l", 12, "11.20", vat_category="O", unit_code="MON"),
               item_line("Grundgebühr je Grundstück", 1, "48.00", vat_category="O")],
        exemption_reasons={"O": Exemption("Nicht steuerbar (hoheitliche Tätigkeit)", "VATEX-EU-O")},
        payment_terms="Fällig zum 15.02.2025. Bitte Kassenzeichen angeben.",
        notes=["Gebührenbescheid nach der Abfallgebührensatzung der Stadt Musterstadt."])


def service_19() -> Invoice:
    """A standard rated service at 19 % (e.g. a Betrieb gewerblicher Art renting out a hall)."""
    return build(
        number="RE-2025-0042", issue_date=date(2025, 3, 3), buyer=FIRMA, leitweg_id="04011000-12345-03",
        kassenzeichen="5.7200.004200.1", due_date=date(2025, 4, 2), delivery_date=date(2025, 2, 28),
        lines=[item_line("Hallenmiete Stadthalle, Saal A", 7, "185.00", vat_rate=19, unit_code="HUR"),
               item_line("Reinigungspauschale", 1, "95.50", vat_rate=19),
               item_line("Technikbetreuung", "3.5", "42.17", vat_rate=19, unit_code="HUR",
                         allowances=[line_allowance(percentage=10, base_amount="147.60", reason="Vereinsrabatt")])])


def mixed_19_7() -> Invoice:
    """19 % and 7 % in one invoice with a document allowance per rate and a shipping charge."""
    return build(
        number="RE-2025-0077", issue_date=date(2025, 3, 10), buyer=LANDKREIS, leitweg_id="04011000-12345-03",
        kassenzeichen="5.7200.007700.9", due_date=date(2025, 4, 9), delivery_date=date(2025, 3, 7),
        lines=[item_line("Stadtchronik, gebunden", 25, "34.90", vat_rate=7, unit_code="H87"),
               item_line("Stadtplan, gefalzt", 120, "2.95", vat_rate=7, unit_code="H87"),
               item_line("Führung durch das Stadtarchiv", 2, "149.99", vat_rate=19),
               item_line("Kopierleistungen", 333, "0.15", vat_rate=19, unit_code="H87")],
        allowances=[document_allowance("25.00", "Behördenrabatt", vat_rate=7, reason_code="95"),
                    document_allowance(percentage="3", base_amount="349.93", reason="Sammelbestellung",
                                       vat_rate=19)],
        charges=[document_charge("8.40", "Versandkosten", vat_rate=19, reason_code="FC")],
        prepaid_amount="100.00", payment_terms="Zahlbar innerhalb von 30 Tagen ohne Abzug.")


def credit_note() -> Invoice:
    """Credit note 381 for part of an earlier 19 % invoice, with the preceding invoice referenced (BG-3)."""
    return build(
        number="GS-2025-0005", issue_date=date(2025, 3, 20), type_code="381", buyer=FIRMA,
        leitweg_id="04011000-12345-03", kassenzeichen="5.7200.004200.1", due_date=date(2025, 4, 3),
        preceding_invoices=[("RE-2025-0042", date(2025, 3, 3))], delivery_date=date(2025, 2, 28),
        lines=[item_line("Gutschrift Hallenmiete: 2 Stunden nicht genutzt", 2, "185.00", vat_rate=19,
                         unit_code="HUR")],
        notes=["Gutschrift zur Rechnung RE-2025-0042."])


def build(**kwargs: object) -> Invoice:
    return build_invoice(**COMMON, **kwargs)  # type: ignore[arg-type]


DOCUMENTS = {"waste_fee_O": waste_fee, "service_19": service_19, "mixed_19_7": mixed_19_7,
             "credit_note_381": credit_note}


@pytest.mark.parametrize("syntax", ["ubl", "cii"])
@pytest.mark.parametrize("name", DOCUMENTS)
def test_built_document_is_accepted_by_the_official_validator(name: str, syntax: str, validator):
    invoice = DOCUMENTS[name]()
    data = write_invoice(invoice, syntax)  # type: ignore[arg-type]
    result = validator.validate(data, f"{name}.{syntax}.xml")
    problems = [f"{m.code}: {m.text}" for m in result.messages if m.custom_level in ("error", "warning")]
    assert result.verdict == "accept", f"{name} ({syntax}) {result.reason}: {problems}"
    assert problems == [], f"{name} ({syntax}) has warnings: {problems}"
    assert read_invoice(data) == invoice, f"{name} ({syntax}) does not read back as built"


@pytest.mark.parametrize("name", DOCUMENTS)
def test_built_document_sets_xrechnung_process_and_passes_check(name: str):
    invoice = DOCUMENTS[name]()
    assert invoice.process.specification == XRECHNUNG_3_0
    assert invoice.process.business_process == PEPPOL_BILLING_PROCESS
    assert invoice.buyer_reference == "04011000-12345-03"
    [instructions] = invoice.payment_instructions
    assert instructions.means_code == "58" and instructions.credit_transfers[0].account_id == "DE02120300000000202051"
    assert instructions.remittance_information.startswith("5.")          # the Kassenzeichen
    assert check(invoice) == []


def test_waste_fee_is_not_subject_to_vat_and_carries_no_vat_identifier():
    invoice = waste_fee()
    [vat] = invoice.vat_breakdown
    assert (vat.category, vat.rate, vat.tax_amount) == (VatCategory.NOT_SUBJECT, D("0"), D("0.00"))
    assert vat.exemption_reason == "Nicht steuerbar (hoheitliche Tätigkeit)"
    assert vat.exemption_reason_code == "VATEX-EU-O"
    assert all(line.vat.rate is None for line in invoice.lines)
    assert invoice.seller.vat_id is None and invoice.buyer.vat_id is None            # BR-O-02
    assert invoice.seller.tax_registration_id == "12/345/67890"
    assert invoice.seller.identifiers[0].value == "AGS 09 1 62 000"                 # BR-CO-26 without BT-31
    assert invoice.totals.payable_amount == D("461.40") + D("134.40") + D("48.00")


def test_service_invoice_amounts():
    invoice = service_19()
    assert [line.net_amount for line in invoice.lines] == [D("1295.00"), D("95.50"), D("132.84")]
    assert invoice.lines[2].allowances[0].amount == D("14.76")            # 10 % of 147.60 (3.5 x 42.17 = 147.595)
    assert (invoice.totals.tax_exclusive_amount, invoice.totals.tax_amount, invoice.totals.payable_amount) == (
        D("1523.34"), D("289.43"), D("1812.77"))


def test_mixed_invoice_has_one_breakdown_per_rate_with_its_allowances_and_charges():
    invoice = mixed_19_7()
    breakdown = {b.rate: (b.taxable_amount, b.tax_amount) for b in invoice.vat_breakdown}
    # 7 %: 872.50 + 354.00 - 25.00; 19 %: 299.98 + 49.95 - 10.50 + 8.40
    assert breakdown == {D("7"): (D("1201.50"), D("84.11")), D("19"): (D("347.83"), D("66.09"))}
    t = invoice.totals
    assert (t.allowance_total, t.charge_total, t.tax_inclusive_amount, t.prepaid_amount, t.payable_amount) == (
        D("35.50"), D("8.40"), D("1699.53"), D("100.00"), D("1599.53"))


def test_credit_note_references_its_invoice():
    invoice = credit_note()
    assert invoice.is_credit_note and invoice.preceding_invoices[0].number == "RE-2025-0042"
    assert invoice.totals.payable_amount == D("440.30")


def test_builder_names_the_missing_term():
    with pytest.raises(BuildError, match="BT-10"):
        build(number="1", issue_date=date(2025, 1, 1), buyer=FIRMA, leitweg_id=" ", due_date=date(2025, 1, 31),
              lines=[item_line("x", 1, 1, vat_rate=19)])
    with pytest.raises(BuildError, match=r"BT-9/BT-20.*BR-CO-25"):
        build(number="1", issue_date=date(2025, 1, 1), buyer=FIRMA, leitweg_id="04011000-12345-03",
              lines=[item_line("x", 1, 1, vat_rate=19)])
    with pytest.raises(BuildError, match=r"BT-31/BT-32.*BR-DE-16"):
        build_invoice(number="1", issue_date=date(2025, 1, 1), seller=STADT.model_copy(
            update={"vat_id": None, "tax_registration_id": None}), buyer=FIRMA, leitweg_id="04011000-12345-03",
            iban=IBAN, due_date=date(2025, 1, 31), lines=[item_line("x", 1, 1, vat_rate=19)])
    with pytest.raises(BuildError, match="BT-43"):
        municipality("Stadt", street="", post_code="1", city="X", contact_name="A", contact_phone="123",
                     contact_email="", electronic_address="a@b.de")
    with pytest.raises(BuildError, match="BT-84.*check digits"):
        normalize_iban("DE02 1203 0000 0000 2020 52")
    with pytest.raises(BuildError, match=r"BT-29/BT-30.*BR-CO-26"):
        build_invoice(number="1", issue_date=date(2025, 1, 1), seller=STADT.model_copy(update={"identifiers": ()}),
                      buyer=FIRMA, leitweg_id="04011000-12345-03", iban=IBAN, due_date=date(2025, 1, 31),
                      lines=[item_line("Gebühr", 1, 10, vat_category="O")], exemption_reasons={"O": "Nicht steuerbar"})
    with pytest.raises(CalculationError, match=r"BR-O-10"):
        build(number="1", issue_date=date(2025, 1, 1), buyer=FIRMA, leitweg_id="04011000-12345-03",
              due_date=date(2025, 1, 31), lines=[item_line("Gebühr", 1, 10, vat_category="O")])


def _tampered(kind: str) -> Invoice:
    invoice = mixed_19_7()
    t, vat = invoice.totals, list(invoice.vat_breakdown)
    if kind == "tax_off_by_1.01":
        vat[0] = vat[0].model_copy(update={"tax_amount": vat[0].tax_amount + D("1.01")})
    elif kind == "tax_off_by_1.00_with_totals":
        vat[0] = vat[0].model_copy(update={"tax_amount": vat[0].tax_amount + 1})
        t = t.model_copy(update={"tax_amount": t.tax_amount + 1, "tax_inclusive_amount": t.tax_inclusive_amount + 1,
                                 "payable_amount": t.payable_amount + 1})
    elif kind == "taxable_off_by_0.50":
        vat[1] = vat[1].model_copy(update={"taxable_amount": vat[1].taxable_amount + D("0.50")})
    elif kind == "line_net_total_off_by_0.01":
        t = t.model_copy(update={"line_net_total": t.line_net_total + D("0.01")})
    elif kind == "payable_off_by_0.01":
        t = t.model_copy(update={"payable_amount": t.payable_amount - D("0.01")})
    return invoice.model_copy(update={"totals": t, "vat_breakdown": tuple(vat)})


@pytest.mark.parametrize("syntax", ["ubl", "cii"])
@pytest.mark.parametrize("kind", ["tax_off_by_1.01", "tax_off_by_1.00_with_totals", "taxable_off_by_0.50",
                                  "line_net_total_off_by_0.01", "payable_off_by_0.01"])
def test_check_predicts_the_validators_calculation_errors(kind: str, syntax: str, validator):
    """``check`` tells a clerk before validation exactly which calculation rules the official validator will
    report, with each syntax's own tolerance (UBL: strict ±1, CII: inclusive ±1 and exact BR-S-08)."""
    invoice = _tampered(kind)
    predicted = {f.rule for f in check(invoice, syntax)}  # type: ignore[arg-type]
    result = validator.validate(write_invoice(invoice, syntax), f"{kind}.{syntax}.xml")  # type: ignore[arg-type]
    reported = {m.code for m in result.errors if m.code.startswith(("BR-CO-1", "BR-S-"))}
    assert predicted == reported, f"{kind} ({syntax})"
    assert (result.verdict == "accept") == (not predicted)
