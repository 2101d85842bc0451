"""CII D16B reader and writer, held together by the official cases.

Every accepted CII case (XRechnung, its Extension and CVD, and plain EN 16931) must read, survive
read -> write -> read as an equal model, be written valid against the D16B schema, and, for XRechnung, be
accepted by the validator. The test id of each case is its path under ``xsd/cases``.
"""
from __future__ import annotations

import csv
import functools
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from erechnung import artifacts
from erechnung.errors import DocumentReadError
from erechnung.model import (
    Attachment, Buyer, Classification, Contact, CreditTransfer, Delivery, DirectDebit, DocumentAllowance,
    DocumentCharge, DocumentTotals, ElectronicAddress, Identifier, Invoice, InvoiceLine, Item, ItemAttribute,
    LineAllowance, LineCharge, LineVat, Note, Payee, PaymentCard, PaymentInstructions, Period, PostalAddress,
    PrecedingInvoice, PriceDetails, ProcessControl, Seller, SupportingDocument, TaxRepresentative,
    ThirdPartyPayment, VatBreakdown, VatCategory,
)
from erechnung.syntax import read_invoice
from erechnung.syntax.cii_names import NSMAP
from erechnung.syntax.cii_writer import CiiWriteError, write_cii

CASES = artifacts.cases_dir()
OBSERVED = CASES / "OBSERVED_KOSIT_EMULATION.tsv"
CII_XSD = artifacts.XSD_DIR / "xrechnung-3.0.2_2026-01-31/resources/cii/16b/xsd/CrossIndustryInvoice_100pD16B.xsd"
COMPREHENSIVE = "xrechnung-testsuite/src/test/technical-cases/cius/01.01_comprehensive_test_uncefact.xml"

XRECHNUNG_CII = ("EN16931 XRechnung (CII)", "EN16931 XRechnung Extension (CII)", "EN16931 XRechnung CVD (CII)")
PLAIN_CII = ("EN16931 (CII)",)


def _accepted_cases(scenarios: tuple[str, ...]) -> list[str]:
    """Paths (relative to ``xsd/cases``) of the cases KoSIT accepts in one of ``scenarios``."""
    if not OBSERVED.exists():
        return []
    with OBSERVED.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return sorted(row["path"].removeprefix("cases/") for row in rows
                  if row["observed_verdict"] == "accept" and row["scenario"] in scenarios)


XRECHNUNG_CASES = _accepted_cases(XRECHNUNG_CII)
ALL_CASES = sorted(XRECHNUNG_CASES + _accepted_cases(PLAIN_CII))


def _params(cases: list[str]) -> list[Any]:
    return [pytest.param(case, id=case) for case in cases]


@functools.lru_cache(maxsize=None)
def _read(case: str) -> Invoice:
    return read_invoice((CASES / case).read_bytes())


@functools.lru_cache(maxsize=None)
def _written(case: str) -> bytes:
    return write_cii(_read(case))


@pytest.fixture(scope="session")
def cii_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(CII_XSD)))


@pytest.fixture(scope="session")
def xrechnung_validator() -> Any:
    from validators.engine import Validator
    return Validator.for_bundle()


def _differences(expected: Any, actual: Any, where: str = "invoice") -> list[str]:
    """Where two model dumps differ, as dotted paths (for readable failures)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return [d for key in expected.keys() | actual.keys()
                for d in _differences(expected.get(key), actual.get(key), f"{where}.{key}")]
    if isinstance(expected, (list, tuple)) and isinstance(actual, (list, tuple)) and len(expected) == len(actual):
        return [d for i, (e, a) in enumerate(zip(expected, actual)) for d in _differences(e, a, f"{where}[{i}]")]
    return [] if expected == actual else [f"{where}: {expected!r} became {actual!r}"]


# --------------------------------------------------------------------------------------------- official cases


def test_official_cii_cases_are_installed() -> None:
    assert len(XRECHNUNG_CASES) >= 100 and len(ALL_CASES) >= 110, \
        f"too few accepted CII cases under {CASES} (run `make artifacts`)"


@pytest.mark.parametrize("case", _params(ALL_CASES))
def test_accepted_cii_case_reads(case: str) -> None:
    invoice = _read(case)
    assert invoice.lines, case


@pytest.mark.parametrize("case", _params(ALL_CASES))
def test_cii_read_write_read_gives_an_equal_model(case: str) -> None:
    again = read_invoice(_written(case))
    assert again == _read(case), f"{case}:\n" + "\n".join(
        _differences(_read(case).model_dump(), again.model_dump()))


@pytest.mark.parametrize("case", _params(ALL_CASES))
def test_written_cii_is_valid_against_the_d16b_schema(case: str, cii_schema: etree.XMLSchema) -> None:
    document = etree.fromstring(_written(case))
    assert cii_schema.validate(document), f"{case}: {cii_schema.error_log}"


@pytest.mark.parametrize("case", _params(XRECHNUNG_CASES))
def test_written_xrechnung_cii_is_accepted_by_the_validator(case: str, xrechnung_validator: Any) -> None:
    result = xrechnung_validator.validate(_written(case), case)
    assert result.verdict == "accept", f"{case}: {result.verdict} ({getattr(result, 'reason', '')}) " \
                                       f"{[getattr(m, 'text', m) for m in getattr(result, 'errors', ())][:5]}"


def test_written_cii_declares_its_namespaces_once_on_the_root() -> None:
    root = etree.fromstring(_written(COMPREHENSIVE))
    assert root.nsmap == NSMAP
    assert all(element.nsmap == root.nsmap for element in root.iter())
    assert _written(COMPREHENSIVE).count(b"xmlns:") == len(NSMAP)


# --------------------------------------------------------------------------------------------- errors


def _comprehensive_without(xpath: str) -> bytes:
    """The comprehensive XRechnung case with the node at ``xpath`` (an element or ``.../@attribute``) removed."""
    root = etree.fromstring((CASES / COMPREHENSIVE).read_bytes())
    node = root.xpath(xpath, namespaces=NSMAP)[0]
    if isinstance(node, etree._Element):
        node.getparent().remove(node)
    else:
        del node.getparent().attrib[node.attrname]
    return etree.tostring(root)


TRANSACTION = "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction"
FIRST_LINE = f"{TRANSACTION}/ram:IncludedSupplyChainTradeLineItem[1]"
SETTLEMENT = f"{TRANSACTION}/ram:ApplicableHeaderTradeSettlement"
SELLER = f"{TRANSACTION}/ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty"

MANDATORY_TERMS = [
    ("BT-1", "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:ID"),
    ("BT-2", "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:IssueDateTime"),
    ("BT-3", "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:TypeCode"),
    ("BT-24", "/rsm:CrossIndustryInvoice/rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter"
              "/ram:ID"),
    ("BT-5", f"{SETTLEMENT}/ram:InvoiceCurrencyCode"),
    ("BT-27", f"{SELLER}/ram:Name"),
    ("BT-40", f"{SELLER}/ram:PostalTradeAddress/ram:CountryID"),
    ("BT-34-1", f"{SELLER}/ram:URIUniversalCommunication/ram:URIID/@schemeID"),
    ("BT-44", f"{TRANSACTION}/ram:ApplicableHeaderTradeAgreement/ram:BuyerTradeParty/ram:Name"),
    ("BT-81", f"{SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans[1]/ram:TypeCode"),
    ("BT-118", f"{SETTLEMENT}/ram:ApplicableTradeTax[1]/ram:CategoryCode"),
    ("BT-112", f"{SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:GrandTotalAmount"),
    ("BT-115", f"{SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:DuePayableAmount"),
    ("BT-126", f"{FIRST_LINE}/ram:AssociatedDocumentLineDocument/ram:LineID"),
    ("BT-129", f"{FIRST_LINE}/ram:SpecifiedLineTradeDelivery/ram:BilledQuantity"),
    ("BT-130", f"{FIRST_LINE}/ram:SpecifiedLineTradeDelivery/ram:BilledQuantity/@unitCode"),
    ("BT-146", f"{FIRST_LINE}/ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice"),
    ("BT-153", f"{FIRST_LINE}/ram:SpecifiedTradeProduct/ram:Name"),
]


@pytest.mark.parametrize("term, xpath", [pytest.param(t, x, id=t) for t, x in MANDATORY_TERMS])
def test_missing_mandatory_term_is_named_with_its_location_and_a_fix(term: str, xpath: str) -> None:
    with pytest.raises(DocumentReadError) as raised:
        read_invoice(_comprehensive_without(xpath))
    error = raised.value
    assert error.term == term and term in str(error)
    last_step = xpath.rsplit("/", 1)[-1].split("[")[0]
    assert error.location and last_step in error.location, error.location
    assert error.fix


def _comprehensive_with_text(xpath: str, text: str) -> bytes:
    root = etree.fromstring((CASES / COMPREHENSIVE).read_bytes())
    root.xpath(xpath, namespaces=NSMAP)[0].text = text
    return etree.tostring(root)


@pytest.mark.parametrize("term, xpath, text", [
    pytest.param("BT-112", f"{SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:GrandTotalAmount",
                 "12.829,69", id="BT-112-comma"),
    pytest.param("BT-129", f"{FIRST_LINE}/ram:SpecifiedLineTradeDelivery/ram:BilledQuantity", "1e3",
                 id="BT-129-exponent"),
    pytest.param("BT-2", "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString",
                 "2018-04-13", id="BT-2-iso"),
    pytest.param("BT-9", f"{SETTLEMENT}/ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString",
                 "20180231", id="BT-9-no-such-day"),
])
def test_bad_number_or_date_is_named_with_its_location(term: str, xpath: str, text: str) -> None:
    with pytest.raises(DocumentReadError) as raised:
        read_invoice(_comprehensive_with_text(xpath, text))
    assert raised.value.term == term and repr(text) in str(raised.value)
    assert raised.value.location and raised.value.location.endswith(xpath.rsplit("/", 1)[-1])
    assert raised.value.fix


# --------------------------------------------------------------------------------------------- every model field


def _address(who: str) -> PostalAddress:
    return PostalAddress(line1=f"{who} Str. 1", line2=f"{who} Hof", line3=f"{who} 3. OG", city=f"{who}stadt",
                         post_code="12345", country_subdivision="Bayern", country_code="DE")


def _everything() -> Invoice:
    """An invoice with every field the model has filled (as CII can carry it: one account per means, one
    remittance information for all, mandate and creditor id on the direct debit)."""
    remittance = "RF18 5390 0754 7034"
    return Invoice(
        number="R-2024-1", issue_date=date(2024, 1, 31), type_code="380", currency_code="EUR",
        tax_currency_code="USD", tax_point_date=date(2024, 1, 30), tax_point_date_code="3", due_date=date(2024, 2, 29),
        buyer_reference="04011000-12345-67", project_reference="P-1", contract_reference="V-1",
        purchase_order_reference="B-1", sales_order_reference="A-1", receiving_advice_reference="W-1",
        despatch_advice_reference="L-1", tender_or_lot_reference="Los 2",
        invoiced_object_identifier=Identifier(value="Zähler 7", scheme_id="AUN"), buyer_accounting_reference="K-4711",
        payment_terms="#SKONTO#TAGE=7#PROZENT=2.00#\n",
        notes=(Note(text="Hinweis"), Note(text="Ü", subject_code="AAI")),
        process=ProcessControl(business_process="urn:fdc:peppol.eu:2017:poacc:billing:01:1.0",
                               specification="urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"),
        preceding_invoices=(PrecedingInvoice(number="R-2023-9", issue_date=date(2023, 12, 1)),),
        seller=Seller(name="Stadt Musterhausen", trading_name="Stadtkasse",
                      identifiers=(Identifier(value="S-1"), Identifier(value="4000001000005", scheme_id="0088")),
                      legal_registration_id=Identifier(value="HRB 1", scheme_id="0204"), vat_id="DE123456789",
                      tax_registration_id="123/456/789", additional_legal_info="Körperschaft des öffentlichen Rechts",
                      electronic_address=ElectronicAddress(value="rechnung@musterhausen.de", scheme_id="EM"),
                      address=_address("Verkäufer"),
                      contact=Contact(name="Frau Amt", telephone="+49 1 2", email="amt@musterhausen.de")),
        buyer=Buyer(name="Käufer GmbH", trading_name="Käufer", identifier=Identifier(value="K-1", scheme_id="0088"),
                    legal_registration_id=Identifier(value="HRB 2"), vat_id="DE987654321",
                    electronic_address=ElectronicAddress(value="04011000-12345-67", scheme_id="0204"),
                    address=_address("Käufer"), contact=Contact(email="einkauf@kaeufer.de")),
        payee=Payee(name="Zahlstelle", identifier=Identifier(value="Z-1"),
                    legal_registration_id=Identifier(value="Z-HR", scheme_id="0204")),
        tax_representative=TaxRepresentative(name="Vertreter", vat_id="DE111111111", address=_address("Vertreter")),
        delivery=Delivery(party_name="Lager", location_id=Identifier(value="4000001000012", scheme_id="0088"),
                          actual_delivery_date=date(2024, 1, 15), address=_address("Lager")),
        invoicing_period=Period(start=date(2024, 1, 1), end=date(2024, 1, 31)),
        payment_instructions=(
            PaymentInstructions(means_code="58", means_text="SEPA", remittance_information=remittance,
                                credit_transfers=(CreditTransfer(account_id="DE75512108001245126199",
                                                                 account_name="Stadtkasse",
                                                                 service_provider_id="SSKMDEMMXXX"),)),
            PaymentInstructions(means_code="30", remittance_information=remittance,
                                credit_transfers=(CreditTransfer(account_id="1234567890"),)),
            PaymentInstructions(means_code="59", remittance_information=remittance,
                                direct_debit=DirectDebit(mandate_reference="M-1", creditor_id="DE98ZZZ09999999999",
                                                         debited_account_id="DE02120300000000202051")),
            PaymentInstructions(means_code="54", remittance_information=remittance,
                                card=PaymentCard(primary_account_number="1234", holder_name="M. Muster")),
        ),
        allowances=(DocumentAllowance(amount=Decimal("10.00"), base_amount=Decimal("100.00"),
                                      percentage=Decimal("10"), vat_category=VatCategory.STANDARD,
                                      vat_rate=Decimal("19"), reason="Rabatt", reason_code="95"),),
        charges=(DocumentCharge(amount=Decimal("5.00"), base_amount=Decimal("50"), percentage=Decimal("10"),
                                vat_category=VatCategory.STANDARD, vat_rate=Decimal("19.00"), reason="Fracht",
                                reason_code="FC"),),
        totals=DocumentTotals(line_net_total=Decimal("105.00"), allowance_total=Decimal("10.00"),
                              charge_total=Decimal("5.00"), tax_exclusive_amount=Decimal("100.00"),
                              tax_amount=Decimal("19.00"), tax_amount_in_tax_currency=Decimal("20.50"),
                              tax_inclusive_amount=Decimal("119.00"), prepaid_amount=Decimal("0.00"),
                              rounding_amount=Decimal("0.00"), payable_amount=Decimal("119.00")),
        vat_breakdown=(VatBreakdown(taxable_amount=Decimal("100.00"), tax_amount=Decimal("19.00"),
                                    category=VatCategory.STANDARD, rate=Decimal("19")),
                       VatBreakdown(taxable_amount=Decimal("0"), tax_amount=Decimal("0"),
                                    category=VatCategory.NOT_SUBJECT, exemption_reason="Nicht steuerbar",
                                    exemption_reason_code="VATEX-EU-O")),
        supporting_documents=(
            SupportingDocument(reference="Anlage 1", description="Aufmaß", external_location="https://example.org/a",
                               attachment=Attachment(content=b"%PDF-1.7\x00\xff", mime_code="application/pdf",
                                                     filename="aufmass.pdf")),
            SupportingDocument(reference="Anlage 2"),
        ),
        lines=(
            InvoiceLine(id="1", note="Zeilenhinweis", object_identifier=Identifier(value="O-1", scheme_id="AUN"),
                        quantity=Decimal("2.5000"), unit_code="H87", net_amount=Decimal("105.00"),
                        order_line_reference="3", buyer_accounting_reference="K-1",
                        period=Period(start=date(2024, 1, 2)),
                        allowances=(LineAllowance(amount=Decimal("1"), base_amount=Decimal("10"),
                                                  percentage=Decimal("10"), reason="R", reason_code="95"),),
                        charges=(LineCharge(amount=Decimal("2"), base_amount=Decimal("20"), percentage=Decimal("10"),
                                            reason="C", reason_code="FC"),),
                        price=PriceDetails(net_price=Decimal("41.6000"), discount=Decimal("0.4"),
                                           gross_price=Decimal("42"), base_quantity=Decimal("1"),
                                           base_quantity_unit_code="H87"),
                        vat=LineVat(category=VatCategory.STANDARD, rate=Decimal("19")),
                        item=Item(name="Leistung", description="Beschreibung", sellers_id="V-7", buyers_id="K-7",
                                  standard_id=Identifier(value="4000001000029", scheme_id="0160"),
                                  classifications=(Classification(code="0721", list_id="IB", list_version="88"),
                                                   Classification(code="44", list_id="TST")),
                                  origin_country="AT",
                                  attributes=(ItemAttribute(name="Farbe", value="rot"),))),
            InvoiceLine(id="2", quantity=Decimal("0"), unit_code="C62", net_amount=Decimal("0"),
                        price=PriceDetails(net_price=Decimal("0")),
                        vat=LineVat(category=VatCategory.NOT_SUBJECT), item=Item(name="Hinweiszeile")),
        ),
    )


def test_every_model_field_survives_cii(cii_schema: etree.XMLSchema) -> None:
    invoice = _everything()
    written = write_cii(invoice)
    assert cii_schema.validate(etree.fromstring(written)), cii_schema.error_log
    again = read_invoice(written)
    assert again == invoice, "\n".join(_differences(invoice.model_dump(), again.model_dump()))


def test_account_that_is_no_iban_is_written_as_proprietary_id() -> None:
    root = etree.fromstring(write_cii(_everything()))
    accounts = root.xpath("//ram:PayeePartyCreditorFinancialAccount/*[self::ram:IBANID or self::ram:ProprietaryID]",
                          namespaces=NSMAP)
    assert [(etree.QName(a).localname, a.text) for a in accounts] == [
        ("IBANID", "DE75512108001245126199"), ("ProprietaryID", "1234567890")]


def test_tax_point_date_is_written_once_in_the_first_vat_breakdown() -> None:
    root = etree.fromstring(write_cii(_everything()))
    taxes = root.xpath("//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax", namespaces=NSMAP)
    assert [len(t.xpath("ram:TaxPointDate", namespaces=NSMAP)) for t in taxes] == [1, 0]  # CII-SR-461


@pytest.mark.parametrize(("untdid_2005", "untdid_2475"), [("3", "5"), ("35", "29"), ("432", "72")])
def test_tax_point_date_code_is_untdid_2005_in_the_model_and_2475_in_cii(untdid_2005: str, untdid_2475: str) -> None:
    """BT-8: EN 16931 (and UBL) code it with UNTDID 2005, CII with UNTDID 2475 (BR-CL-06 of each syntax)."""
    invoice = _everything().model_copy(update={"tax_point_date": None, "tax_point_date_code": untdid_2005})
    written = write_cii(invoice)
    root = etree.fromstring(written)
    assert root.xpath("string(//ram:DueDateTypeCode)", namespaces=NSMAP) == untdid_2475
    assert read_invoice(written).tax_point_date_code == untdid_2005


def test_amounts_are_written_as_given_never_through_float() -> None:
    invoice = _everything()
    line = invoice.lines[0].model_copy(update={"net_amount": Decimal("0.0000001"), "quantity": Decimal("1E+2")})
    root = etree.fromstring(write_cii(invoice.model_copy(update={"lines": (line,)})))
    assert root.xpath("string(//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount)",
                      namespaces=NSMAP) == "0.0000001"
    assert root.xpath("string(//ram:BilledQuantity)", namespaces=NSMAP) == "100"


def test_cii_writer_refuses_what_cii_cannot_carry() -> None:
    invoice = _everything()
    two = invoice.model_copy(update={"preceding_invoices": invoice.preceding_invoices * 2})
    with pytest.raises(CiiWriteError, match="BG-3"):
        write_cii(two)
    paid = invoice.model_copy(update={"third_party_payments": (
        ThirdPartyPayment(payment_type="DL", amount=Decimal("5.00"), description="Zuzahlung"),)})
    with pytest.raises(CiiWriteError, match="BG-DEX-09"):
        write_cii(paid)


def test_cii_reader_keeps_text_exactly_as_sent() -> None:
    text = "  Stadt  Musterhausen \n"
    data = _comprehensive_with_text(f"{SELLER}/ram:Name", text)
    assert read_invoice(data).seller.name == text
    assert read_invoice(write_cii(read_invoice(data))).seller.name == text
