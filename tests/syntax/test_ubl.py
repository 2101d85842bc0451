"""The UBL reader and writer against the official cases: read, round-trip, XSD, KoSIT acceptance, errors.

Cases are the accepted UBL rows of OBSERVED_KOSIT_EMULATION.tsv: every "EN16931 XRechnung ... (UBL ...)"
scenario (standard, extension, CVD) and, for reader coverage, the plain "EN16931 (UBL ...)" ones. Test ids
are the case paths as the TSV writes them.
"""
from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from functools import lru_cache

import pytest
from lxml import etree

from erechnung import artifacts
from erechnung.errors import DocumentReadError
from erechnung.model import Identifier, Invoice, Note
from erechnung.syntax import read_invoice, write_invoice
from erechnung.syntax.ubl_names import CAC, CBC, CREDIT_NOTE_NS, INVOICE_NS

NS = {"cac": CAC, "cbc": CBC, "inv": INVOICE_NS, "cn": CREDIT_NOTE_NS}
UBL_SCENARIOS = ("(UBL Invoice)", "(UBL CreditNote)")


def _accepted_ubl_cases(xrechnung_only: bool) -> list[str]:
    with (artifacts.cases_dir() / "OBSERVED_KOSIT_EMULATION.tsv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    prefix = "EN16931 XRechnung" if xrechnung_only else "EN16931"
    return [row["path"] for row in rows if row["observed_verdict"] == "accept"
            and row["scenario"].startswith(prefix) and row["scenario"].endswith(UBL_SCENARIOS)]


UBL_CASES = _accepted_ubl_cases(xrechnung_only=False)
XRECHNUNG_UBL_CASES = _accepted_ubl_cases(xrechnung_only=True)


@lru_cache(maxsize=None)
def _source(path: str) -> bytes:
    return (artifacts.cases_dir() / path.removeprefix("cases/")).read_bytes()


@lru_cache(maxsize=None)
def _model(path: str) -> Invoice:
    return read_invoice(_source(path))


@lru_cache(maxsize=None)
def _written(path: str) -> bytes:
    return write_invoice(_model(path), "ubl")


def _case(name: str) -> str:
    """The one accepted UBL case whose path ends with ``name``."""
    (path,) = [p for p in UBL_CASES if p.endswith(name)]
    return path


@pytest.fixture(scope="session")
def ubl_schemas() -> dict[str, etree.XMLSchema]:
    """The UBL 2.1 Invoice and CreditNote maindoc schemas of the bundle in force, compiled once."""
    maindoc = artifacts.bundle_in_force().directory / "resources/ubl/2.1/xsd/maindoc"
    return {kind: etree.XMLSchema(etree.parse(str(maindoc / f"UBL-{kind}-2.1.xsd")))
            for kind in ("Invoice", "CreditNote")}


@pytest.fixture(scope="session")
def kosit_validator():
    from validators.engine import Validator

    return Validator.for_bundle()


def test_the_case_lists_hold_invoices_credit_notes_and_extensions():
    assert len(XRECHNUNG_UBL_CASES) >= 100 and len(UBL_CASES) > len(XRECHNUNG_UBL_CASES)
    assert any(_model(p).is_credit_note for p in XRECHNUNG_UBL_CASES)
    assert any(_model(p).third_party_payments for p in XRECHNUNG_UBL_CASES)


# --------------------------------------------------------------------------------------------- official cases


@pytest.mark.parametrize("path", UBL_CASES, ids=UBL_CASES)
def test_every_accepted_ubl_case_reads(path: str):
    invoice = _model(path)
    root = etree.fromstring(_source(path))
    assert invoice.number == root.findtext("cbc:ID", namespaces=NS)
    assert invoice.type_code in (root.findtext("cbc:InvoiceTypeCode", namespaces=NS),
                                 root.findtext("cbc:CreditNoteTypeCode", namespaces=NS))
    assert len(invoice.lines) == len(root.findall("cac:InvoiceLine", NS) + root.findall("cac:CreditNoteLine", NS))


@pytest.mark.parametrize("path", UBL_CASES, ids=UBL_CASES)
def test_read_write_read_gives_an_equal_model(path: str):
    assert read_invoice(_written(path)) == _model(path), path


@pytest.mark.parametrize("path", UBL_CASES, ids=UBL_CASES)
def test_written_document_is_valid_against_the_ubl_xsd(path: str, ubl_schemas):
    root = etree.fromstring(_written(path))
    schema = ubl_schemas[etree.QName(root).localname]
    assert schema.validate(root), f"{path}: {schema.error_log.last_error}"


@pytest.mark.xdist_group("validator")
@pytest.mark.parametrize("path", XRECHNUNG_UBL_CASES, ids=XRECHNUNG_UBL_CASES)
def test_written_xrechnung_is_accepted_by_the_validator(path: str, kosit_validator):
    result = kosit_validator.validate(_written(path), path)
    assert result.verdict == "accept", (
        f"{path}: {result.reason} / {result.scenario}: "
        + "; ".join(f"{m.code} {getattr(m, 'text', '')}" for m in result.errors[:5]))


# --------------------------------------------------------------------------------------------- read errors

BASE = "validator-configuration-xrechnung/src/test/instances/ubl001.xml"


def _without(xpath: str, source: bytes | None = None) -> bytes:
    root = etree.fromstring(source or _source(_case(BASE)))
    found = root.xpath(xpath, namespaces=NS)
    assert found, xpath
    for element in found:
        element.getparent().remove(element)
    return etree.tostring(root)


MISSING = [  # (element removed, term named, location named)
    ("/inv:Invoice/cbc:ID", "BT-1", "/Invoice/cbc:ID"),
    ("/inv:Invoice/cbc:IssueDate", "BT-2", "/Invoice/cbc:IssueDate"),
    ("/inv:Invoice/cbc:InvoiceTypeCode", "BT-3", "/Invoice/cbc:InvoiceTypeCode"),
    ("/inv:Invoice/cbc:DocumentCurrencyCode", "BT-5", "/Invoice/cbc:DocumentCurrencyCode"),
    ("/inv:Invoice/cbc:CustomizationID", "BT-24", "/Invoice/cbc:CustomizationID"),
    ("//cac:AccountingSupplierParty//cbc:RegistrationName", "BT-27",
     "/Invoice/cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName"),
    ("//cac:AccountingCustomerParty//cac:Country/cbc:IdentificationCode", "BT-55",
     "/Invoice/cac:AccountingCustomerParty/cac:Party/cac:PostalAddress/cac:Country/cbc:IdentificationCode"),
    ("//cac:PaymentMeans[1]/cbc:PaymentMeansCode", "BT-81", "/Invoice/cac:PaymentMeans[1]/cbc:PaymentMeansCode"),
    ("//cac:LegalMonetaryTotal/cbc:PayableAmount", "BT-115", "/Invoice/cac:LegalMonetaryTotal/cbc:PayableAmount"),
    ("//cac:TaxSubtotal[2]/cac:TaxCategory/cbc:ID", "BT-118",
     "/Invoice/cac:TaxTotal/cac:TaxSubtotal[2]/cac:TaxCategory/cbc:ID"),
    ("//cac:InvoiceLine[2]/cbc:ID", "BT-126", "/Invoice/cac:InvoiceLine[2]/cbc:ID"),
    ("//cac:InvoiceLine[1]/cac:Item/cbc:Name", "BT-153", "/Invoice/cac:InvoiceLine[1]/cac:Item/cbc:Name"),
    ("//cac:InvoiceLine", "BG-25", "/Invoice/cac:InvoiceLine"),
]


@pytest.mark.parametrize(("xpath", "term", "location"), [pytest.param(*row, id=row[1]) for row in MISSING])
def test_a_missing_mandatory_term_is_named_with_its_location_and_a_fix(xpath: str, term: str, location: str):
    with pytest.raises(DocumentReadError) as caught:
        read_invoice(_without(xpath))
    error = caught.value
    assert (error.term, error.location) == (term, location)
    assert term in str(error) and "missing" in error.problem and error.fix


def test_a_missing_credit_note_type_code_names_bt_3():
    source = _source(_case("ubl-cn-br-de-1-test.xml"))
    with pytest.raises(DocumentReadError, match="BT-3") as caught:
        read_invoice(_without("/cn:CreditNote/cbc:CreditNoteTypeCode", source))
    assert caught.value.location == "/CreditNote/cbc:CreditNoteTypeCode"


@pytest.mark.parametrize(("old", "new", "term", "problem"), [
    (b"<cbc:IssueDate>2015-01-09</cbc:IssueDate>", b"<cbc:IssueDate>09.01.2015</cbc:IssueDate>", "BT-2",
     "not a date"),
    (b'<cbc:PayableAmount currencyID="EUR">250.33</cbc:PayableAmount>',
     b'<cbc:PayableAmount currencyID="EUR">250,33</cbc:PayableAmount>', "BT-115", "not a number"),
    (b'<cbc:InvoicedQuantity unitCode="EA">2</cbc:InvoicedQuantity>',
     b'<cbc:InvoicedQuantity unitCode="EA">NaN</cbc:InvoicedQuantity>', "BT-129", "not a number"),
], ids=["date", "amount-with-comma", "quantity-nan"])
def test_a_malformed_number_or_date_is_named_with_its_term(old: bytes, new: bytes, term: str, problem: str):
    source = _source(_case(BASE))
    assert old in source
    with pytest.raises(DocumentReadError) as caught:
        read_invoice(source.replace(old, new, 1))
    assert caught.value.term == term and problem in caught.value.problem and caught.value.fix


# --------------------------------------------------------------------------------------------- tricky mappings


def _xpath(data: bytes, xpath: str) -> list:
    return etree.fromstring(data).xpath(xpath, namespaces=NS)


def test_note_subject_code_travels_as_a_hash_prefix():
    invoice = _model(_case(BASE)).model_copy(update={"notes": (
        Note(text="Es gelten unsere AGB.", subject_code="ADU"), Note(text="ohne Betreff ##AAI# bleibt Text"))})
    written = write_invoice(invoice, "ubl")
    assert _xpath(written, "/inv:Invoice/cbc:Note/text()") == ["#ADU#Es gelten unsere AGB.",
                                                               "ohne Betreff ##AAI# bleibt Text"]
    assert read_invoice(written).notes == invoice.notes
    official = _model(_case("ubl-inv-br-de-17-test.xml")).notes
    assert official and all(note.subject_code == "ADU" and not note.text.startswith("#") for note in official)


def test_credit_note_due_date_goes_to_payment_means():
    invoice = _model(_case("ubl-cn-br-de-1-test.xml")).model_copy(update={"due_date": date(2024, 5, 31)})
    written = write_invoice(invoice, "ubl")
    assert not _xpath(written, "//cbc:DueDate")
    assert {str(d) for d in _xpath(written, "/cn:CreditNote/cac:PaymentMeans/cbc:PaymentDueDate/text()")} \
        == {"2024-05-31"}
    assert read_invoice(written) == invoice


def test_credit_note_project_reference_is_a_document_reference_of_type_50():
    invoice = _model(_case("ubl-cn-br-de-1-test.xml")).model_copy(update={"project_reference": "PRJ-7"})
    written = write_invoice(invoice, "ubl")
    assert _xpath(written, "//cac:AdditionalDocumentReference[cbc:DocumentTypeCode='50']/cbc:ID/text()") == ["PRJ-7"]
    assert not _xpath(written, "//cac:ProjectReference")
    assert read_invoice(written) == invoice


def test_bt_90_is_the_payees_sepa_identifier_when_there_is_a_payee_else_the_sellers():
    invoice = _model(_case("ubl-inv-peppol-en16931-r061-1.xml"))
    (debit,) = [p.direct_debit for p in invoice.payment_instructions if p.direct_debit]
    assert debit.creditor_id == "74" and invoice.payee is not None
    assert invoice.payee.identifier is None or invoice.payee.identifier.scheme_id != "SEPA"
    written = write_invoice(invoice, "ubl")
    assert _xpath(written, "//cac:PayeeParty/cac:PartyIdentification/cbc:ID[@schemeID='SEPA']/text()") == ["74"]
    assert not _xpath(written, "//cac:AccountingSupplierParty//cbc:ID[@schemeID='SEPA']")

    without_payee = invoice.model_copy(update={"payee": None})
    written = write_invoice(without_payee, "ubl")
    assert _xpath(written, "//cac:AccountingSupplierParty/cac:Party/cac:PartyIdentification/"
                           "cbc:ID[@schemeID='SEPA']/text()") == ["74"]
    assert read_invoice(written) == without_payee


def test_a_sepa_identifier_without_a_direct_debit_stays_a_seller_identifier():
    invoice = _model(_case(BASE))
    sepa = Identifier(value="DE98ZZZ09999999999", scheme_id="SEPA")
    invoice = invoice.model_copy(update={"seller": invoice.seller.model_copy(update={"identifiers": (sepa,)})})
    assert read_invoice(write_invoice(invoice, "ubl")) == invoice


def test_a_sales_order_alone_is_written_with_order_id_na_and_read_back_as_none():
    invoice = _model(_case(BASE)).model_copy(update={"purchase_order_reference": None,
                                                     "sales_order_reference": "SO-1"})
    written = write_invoice(invoice, "ubl")
    assert _xpath(written, "//cac:OrderReference/cbc:ID/text()") == ["NA"]
    assert read_invoice(written) == invoice


def test_decimals_are_written_as_given_and_never_in_exponent_notation():
    invoice = _model(_case(BASE))
    totals = invoice.totals.model_copy(update={"payable_amount": Decimal("250.330"), "prepaid_amount": Decimal("1E+1"),
                                               "rounding_amount": Decimal("1E-7")})
    written = write_invoice(invoice.model_copy(update={"totals": totals}), "ubl")
    total = "//cac:LegalMonetaryTotal/cbc:"
    assert _xpath(written, total + "PayableAmount/text()") == ["250.330"]
    assert _xpath(written, total + "PrepaidAmount/text()") == ["10"]
    assert _xpath(written, total + "PayableRoundingAmount/text()") == ["0.0000001"]
    assert _xpath(written, total + "PayableAmount/@currencyID") == ["EUR"]


def test_bt_111_is_a_second_tax_total_in_the_vat_accounting_currency():
    path = _case("ubl-tc434-example5.xml")
    invoice = _model(path)
    assert (invoice.currency_code, invoice.tax_currency_code) == ("DKK", "EUR")
    assert invoice.totals.tax_amount_in_tax_currency == Decimal("628.62")
    written = _written(path)
    assert [t.get("currencyID") for t in _xpath(written, "/inv:Invoice/cac:TaxTotal/cbc:TaxAmount")] == ["DKK", "EUR"]
    assert len(_xpath(written, "/inv:Invoice/cac:TaxTotal[2]/cac:TaxSubtotal")) == 0


def test_namespaces_are_declared_once_on_the_root():
    written = _written(_case(BASE))
    root = etree.fromstring(written)
    assert root.nsmap == {None: INVOICE_NS, "cac": CAC, "cbc": CBC}
    assert written.count(b"xmlns") == 3
