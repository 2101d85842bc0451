"""Read a UN/CEFACT CrossIndustryInvoice D16B (as XRechnung 3.0.2 uses it) into the model.

Mirrors ``cii_writer`` group by group. A missing mandatory term, a number that is not a decimal or a date
that is not CCYYMMDD raises ``DocumentReadError`` naming the term, its XPath and what to do about it.
Text is kept exactly as sent (an empty element reads as ``""``); optional groups with nothing in them read
as absent.

CII keeps some terms in one place that the model keeps per payment instruction: BT-83 remittance
information (``PaymentReference``) applies to every instruction, BT-89 mandate and BT-90 creditor id go with
the direct-debit instructions (or every instruction when none is marked as direct debit).
"""
from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from lxml import etree
from pydantic import BaseModel, ValidationError

from ..errors import DocumentReadError
from ..model import (
    Attachment, Buyer, Classification, Contact, CreditTransfer, Delivery, DirectDebit, DocumentAllowance,
    DocumentCharge, DocumentTotals, ElectronicAddress, Identifier, Invoice, InvoiceLine, Item, ItemAttribute,
    LineAllowance, LineCharge, LineVat, Note, Payee, PaymentCard, PaymentInstructions, Period, PostalAddress,
    PrecedingInvoice, PriceDetails, ProcessControl, Seller, SupportingDocument, TaxRepresentative, VatBreakdown,
    VatCategory,
)
from ..model.codes import DIRECT_DEBIT_MEANS
from .cii_names import (
    DATE_FORMAT, INVOICED_OBJECT, NSMAP as NS, RSM, TAX_POINT_DATE_CODE_FROM_CII, TENDER_OR_LOT, UDT,
)
from .reading import find, findall, missing, text, to_date, to_decimal, to_vat_category

_CCYYMMDD = re.compile(r"(\d{8})")

M = TypeVar("M", bound=BaseModel)


def read_cii(root: etree._Element) -> Invoice:
    """The invoice in the CII document whose root element is ``root``."""
    if root.tag != f"{{{RSM}}}CrossIndustryInvoice":
        raise DocumentReadError(f"the root element is {root.tag}, not rsm:CrossIndustryInvoice", location="/",
                                fix="send a CII D16B CrossIndustryInvoice")
    try:
        return _invoice(root)
    except ValidationError as exc:  # a safety net: the checks below should name the term first
        error = exc.errors()[0]
        raise DocumentReadError(f"the document does not fit the invoice model: {error['msg']} "
                                f"at {'.'.join(str(part) for part in error['loc'])}",
                                location=root.getroottree().getpath(root)) from None


# --------------------------------------------------------------------------------------------- building blocks


def _where(element: etree._Element, path: str | None = None) -> str:
    base = element.getroottree().getpath(element)
    return f"{base}/{path}" if path else base


def _find(element: etree._Element | None, path: str) -> etree._Element | None:
    return find(element, path, NS)


def _findall(element: etree._Element | None, path: str) -> list[etree._Element]:
    return findall(element, path, NS)


def _text(element: etree._Element | None, path: str) -> str | None:
    return text(element, path, NS)


def _require(element: etree._Element, path: str, term: str, what: str) -> etree._Element:
    found = find(element, path, NS)
    if found is None:
        raise missing(f"the {what}", term, _where(element, path), f"add {path.split('/')[-1]} with the {what}")
    return found


def _required_text(element: etree._Element, path: str, term: str, what: str) -> str:
    return _require(element, path, term, what).text or ""


def _attribute(element: etree._Element, name: str, term: str, what: str) -> str:
    value = element.get(name)
    if value is None:
        raise missing(f"the {what}", term, f"{_where(element)}/@{name}", f"add the attribute {name} with the {what}")
    return value


def _to_decimal(found: etree._Element, term: str) -> Decimal:
    return to_decimal(found.text or "", term, _where(found))


def _decimal(element: etree._Element | None, path: str, term: str) -> Decimal | None:
    found = _find(element, path)
    return None if found is None else _to_decimal(found, term)


def _required_decimal(element: etree._Element, path: str, term: str, what: str) -> Decimal:
    return _to_decimal(_require(element, path, term, what), term)


def _date(element: etree._Element | None, path: str, term: str) -> date | None:
    """A date in ``path`` (``ram:IssueDateTime`` and the like) holding a DateTimeString/DateString."""
    holder = _find(element, path)
    if holder is None:
        return None
    string = next((child for child in holder if isinstance(child.tag, str)
                   and etree.QName(child).localname in ("DateTimeString", "DateString")), None)
    if string is None:
        raise DocumentReadError("the date has no DateTimeString", term=term, location=_where(holder),
                                fix='write the date as <udt:DateTimeString format="102">CCYYMMDD</...>')
    date_format = string.get("format")
    if date_format not in (None, DATE_FORMAT):
        raise DocumentReadError(f"the date format {date_format!r} is not supported", term=term,
                                location=_where(string), fix=f'write the date as CCYYMMDD with format="{DATE_FORMAT}"')
    return to_date(string.text or "", _CCYYMMDD, term, _where(string), "write the date as CCYYMMDD, e.g. 20240131")


def _required_date(element: etree._Element, path: str, term: str, what: str) -> date:
    _require(element, path, term, what)
    value = _date(element, path, term)
    assert value is not None
    return value


def _vat_category(element: etree._Element, path: str, term: str) -> VatCategory:
    found = _require(element, path, term, "VAT category code")
    return to_vat_category(found.text or "", term, _where(found))


def _identifier(found: etree._Element | None) -> Identifier | None:
    return None if found is None else Identifier(value=found.text or "", scheme_id=found.get("schemeID"))


def _party_identifiers(party: etree._Element) -> list[Identifier]:
    """``ram:ID`` and ``ram:GlobalID``: those without a scheme first, as the writer puts them."""
    found = [Identifier(value=e.text or "", scheme_id=e.get("schemeID"))
             for e in _findall(party, "ram:ID") + _findall(party, "ram:GlobalID")]
    return [i for i in found if i.scheme_id is None] + [i for i in found if i.scheme_id is not None]


def _maybe(model: type[M], **values: Any) -> M | None:
    """``model(**values)``, or ``None`` when every value is absent."""
    if all(value is None or value == () for value in values.values()):
        return None
    return model(**values)


def _joined(texts: Iterable[str]) -> str | None:
    texts = list(texts)
    return "\n".join(texts) if texts else None


def _charge_indicator(element: etree._Element, term: str) -> bool:
    found = _require(element, "ram:ChargeIndicator/udt:Indicator", term, "charge indicator")
    value = (found.text or "").strip()
    if value not in ("true", "false", "1", "0"):
        raise DocumentReadError(f"{value!r} is not a charge indicator", term=term, location=_where(found),
                                fix="write true for a charge, false for an allowance")
    return value in ("true", "1")


# --------------------------------------------------------------------------------------------- invoice


def _invoice(root: etree._Element) -> Invoice:
    context = _require(root, "rsm:ExchangedDocumentContext", "BG-2", "document context")
    document = _require(root, "rsm:ExchangedDocument", "BT-1", "document header")
    transaction = _require(root, "rsm:SupplyChainTradeTransaction", "BG-25", "trade transaction")
    agreement = _require(transaction, "ram:ApplicableHeaderTradeAgreement", "BG-4", "trade agreement")
    delivery = _find(transaction, "ram:ApplicableHeaderTradeDelivery")
    settlement = _require(transaction, "ram:ApplicableHeaderTradeSettlement", "BT-5", "trade settlement")
    header_taxes = _findall(settlement, "ram:ApplicableTradeTax")
    terms = _findall(settlement, "ram:SpecifiedTradePaymentTerms")
    additional = _findall(agreement, "ram:AdditionalReferencedDocument")
    allowances_charges = [(e, _charge_indicator(e, "BG-20/BG-21"))
                          for e in _findall(settlement, "ram:SpecifiedTradeAllowanceCharge")]
    return Invoice(
        number=_required_text(document, "ram:ID", "BT-1", "invoice number"),
        issue_date=_required_date(document, "ram:IssueDateTime", "BT-2", "invoice issue date"),
        type_code=_required_text(document, "ram:TypeCode", "BT-3", "invoice type code").strip(),
        currency_code=_required_text(settlement, "ram:InvoiceCurrencyCode", "BT-5", "invoice currency code").strip(),
        tax_currency_code=_stripped(_text(settlement, "ram:TaxCurrencyCode")),
        tax_point_date=next(filter(None, (_date(t, "ram:TaxPointDate", "BT-7") for t in header_taxes)), None),
        tax_point_date_code=_tax_point_date_code(header_taxes),
        due_date=next(filter(None, (_date(t, "ram:DueDateDateTime", "BT-9") for t in terms)), None),
        buyer_reference=_text(agreement, "ram:BuyerReference"),
        project_reference=_text(agreement, "ram:SpecifiedProcuringProject/ram:ID"),
        contract_reference=_text(agreement, "ram:ContractReferencedDocument/ram:IssuerAssignedID"),
        purchase_order_reference=_text(agreement, "ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID"),
        sales_order_reference=_text(agreement, "ram:SellerOrderReferencedDocument/ram:IssuerAssignedID"),
        receiving_advice_reference=_text(delivery, "ram:ReceivingAdviceReferencedDocument/ram:IssuerAssignedID"),
        despatch_advice_reference=_text(delivery, "ram:DespatchAdviceReferencedDocument/ram:IssuerAssignedID"),
        tender_or_lot_reference=next((_required_text(d, "ram:IssuerAssignedID", "BT-17", "tender or lot reference")
                                      for d in additional if _type_code(d) == TENDER_OR_LOT), None),
        invoiced_object_identifier=next((_object_identifier(d, "BT-18") for d in additional
                                         if _type_code(d) == INVOICED_OBJECT), None),
        buyer_accounting_reference=_text(settlement, "ram:ReceivableSpecifiedTradeAccountingAccount/ram:ID"),
        payment_terms=_joined(e.text or "" for t in terms for e in _findall(t, "ram:Description")),
        notes=tuple(_note(n) for n in _findall(document, "ram:IncludedNote")),
        process=_process_control(context),
        preceding_invoices=tuple(_preceding_invoice(d) for d in _findall(settlement, "ram:InvoiceReferencedDocument")),
        seller=_seller(_require(agreement, "ram:SellerTradeParty", "BG-4", "seller")),
        buyer=_buyer(_require(agreement, "ram:BuyerTradeParty", "BG-7", "buyer")),
        payee=_payee(_find(settlement, "ram:PayeeTradeParty")),
        tax_representative=_tax_representative(_find(agreement, "ram:SellerTaxRepresentativeTradeParty")),
        delivery=_delivery(delivery),
        invoicing_period=_period(_find(settlement, "ram:BillingSpecifiedPeriod"), "BT-73", "BT-74"),
        payment_instructions=_payment_instructions(settlement, terms),
        allowances=tuple(_document_allowance(e) for e, is_charge in allowances_charges if not is_charge),
        charges=tuple(_document_charge(e) for e, is_charge in allowances_charges if is_charge),
        totals=_totals(settlement),
        vat_breakdown=tuple(_vat_breakdown(t) for t in header_taxes),
        supporting_documents=tuple(_supporting_document(d) for d in additional
                                   if _type_code(d) not in (TENDER_OR_LOT, INVOICED_OBJECT)),
        lines=tuple(_line(item) for item in _findall(transaction, "ram:IncludedSupplyChainTradeLineItem")),
    )


def _tax_point_date_code(header_taxes: list[etree._Element]) -> str | None:
    """BT-8 as the model holds it: the UNTDID 2005 code for CII's UNTDID 2475 one (5 -> 3, 29 -> 35, 72 -> 432)."""
    code = next(filter(None, (_text(t, "ram:DueDateTypeCode") for t in header_taxes)), None)
    return None if code is None else TAX_POINT_DATE_CODE_FROM_CII.get(code.strip(), code)


def _stripped(text: str | None) -> str | None:
    return None if text is None else text.strip()


def _type_code(document: etree._Element) -> str | None:
    return _stripped(_text(document, "ram:TypeCode"))


def _process_control(context: etree._Element) -> ProcessControl:
    """BG-2: BT-23 business process, BT-24 specification identifier."""
    return ProcessControl(
        business_process=_text(context, "ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID"),
        specification=_required_text(context, "ram:GuidelineSpecifiedDocumentContextParameter/ram:ID", "BT-24",
                                     "specification identifier"),
    )


def _note(note: etree._Element) -> Note:
    """BG-1: BT-22 text (several ``Content`` join with newlines), BT-21 subject code."""
    contents = _findall(note, "ram:Content")
    if not contents:
        _require(note, "ram:Content", "BT-22", "invoice note text")
    return Note(text="\n".join(c.text or "" for c in contents), subject_code=_text(note, "ram:SubjectCode"))


def _preceding_invoice(document: etree._Element) -> PrecedingInvoice:
    """BG-3."""
    return PrecedingInvoice(
        number=_required_text(document, "ram:IssuerAssignedID", "BT-25", "preceding invoice reference"),
        issue_date=_date(document, "ram:FormattedIssueDateTime", "BT-26"),
    )


def _object_identifier(document: etree._Element, term: str) -> Identifier:
    """BT-18 / BT-128 with its scheme in ``ReferenceTypeCode``."""
    return Identifier(value=_required_text(document, "ram:IssuerAssignedID", term, "invoiced object identifier"),
                      scheme_id=_text(document, "ram:ReferenceTypeCode"))


def _supporting_document(document: etree._Element) -> SupportingDocument:
    """BG-24 (TypeCode 916)."""
    binary = _find(document, "ram:AttachmentBinaryObject")
    return SupportingDocument(
        reference=_required_text(document, "ram:IssuerAssignedID", "BT-122", "supporting document reference"),
        description=_text(document, "ram:Name"),
        external_location=_text(document, "ram:URIID"),
        attachment=None if binary is None else _attachment(binary),
    )


def _attachment(binary: etree._Element) -> Attachment:
    """BT-125 with BT-125-1 MIME code and BT-125-2 filename."""
    try:
        content = base64.b64decode(binary.text or "")
    except (binascii.Error, ValueError):
        raise DocumentReadError("the attached document is not valid base64", term="BT-125",
                                location=_where(binary), fix="embed the file base64-encoded") from None
    return Attachment(content=content,
                      mime_code=_attribute(binary, "mimeCode", "BT-125-1", "attached document MIME code"),
                      filename=_attribute(binary, "filename", "BT-125-2", "attached document filename"))


# --------------------------------------------------------------------------------------------- parties


def _postal_address(party: etree._Element, group: str, country_term: str) -> PostalAddress:
    """BG-5 / BG-8 / BG-12 / BG-15."""
    address = _require(party, "ram:PostalTradeAddress", group, "postal address")
    return PostalAddress(
        line1=_text(address, "ram:LineOne"),
        line2=_text(address, "ram:LineTwo"),
        line3=_text(address, "ram:LineThree"),
        city=_text(address, "ram:CityName"),
        post_code=_text(address, "ram:PostcodeCode"),
        country_subdivision=_text(address, "ram:CountrySubDivisionName"),
        country_code=_required_text(address, "ram:CountryID", country_term, "country code").strip(),
    )


def _contact(party: etree._Element) -> Contact | None:
    """BG-6 / BG-9; the contact point is the person's name, else the department's."""
    contact = _find(party, "ram:DefinedTradeContact")
    if contact is None:
        return None
    name = _text(contact, "ram:PersonName")
    return _maybe(Contact,
                  name=name if name is not None else _text(contact, "ram:DepartmentName"),
                  telephone=_text(contact, "ram:TelephoneUniversalCommunication/ram:CompleteNumber"),
                  email=_text(contact, "ram:EmailURIUniversalCommunication/ram:URIID"))


def _electronic_address(party: etree._Element, term: str) -> ElectronicAddress | None:
    """BT-34 / BT-49 with its mandatory scheme."""
    uri = _find(party, "ram:URIUniversalCommunication/ram:URIID")
    if uri is None:
        return None
    return ElectronicAddress(value=uri.text or "",
                             scheme_id=_attribute(uri, "schemeID", f"{term}-1", "electronic address scheme"))


def _tax_registration(party: etree._Element, scheme: str) -> str | None:
    """``SpecifiedTaxRegistration/ID[@schemeID=VA]`` (VAT identifier) or ``[@schemeID=FC]`` (tax number)."""
    return next((e.text or "" for e in _findall(party, "ram:SpecifiedTaxRegistration/ram:ID")
                 if (e.get("schemeID") or "").strip() == scheme), None)


def _seller(party: etree._Element) -> Seller:
    """BG-4 SELLER."""
    return Seller(
        name=_required_text(party, "ram:Name", "BT-27", "seller name"),
        trading_name=_text(party, "ram:SpecifiedLegalOrganization/ram:TradingBusinessName"),
        identifiers=tuple(_party_identifiers(party)),
        legal_registration_id=_identifier(_find(party, "ram:SpecifiedLegalOrganization/ram:ID")),
        vat_id=_tax_registration(party, "VA"),
        tax_registration_id=_tax_registration(party, "FC"),
        additional_legal_info=_text(party, "ram:Description"),
        electronic_address=_electronic_address(party, "BT-34"),
        address=_postal_address(party, "BG-5", "BT-40"),
        contact=_contact(party),
    )


def _buyer(party: etree._Element) -> Buyer:
    """BG-7 BUYER."""
    return Buyer(
        name=_required_text(party, "ram:Name", "BT-44", "buyer name"),
        trading_name=_text(party, "ram:SpecifiedLegalOrganization/ram:TradingBusinessName"),
        identifier=next(iter(_party_identifiers(party)), None),
        legal_registration_id=_identifier(_find(party, "ram:SpecifiedLegalOrganization/ram:ID")),
        vat_id=_tax_registration(party, "VA"),
        electronic_address=_electronic_address(party, "BT-49"),
        address=_postal_address(party, "BG-8", "BT-55"),
        contact=_contact(party),
    )


def _payee(party: etree._Element | None) -> Payee | None:
    """BG-10 PAYEE."""
    if party is None:
        return None
    return Payee(
        name=_required_text(party, "ram:Name", "BT-59", "payee name"),
        identifier=next(iter(_party_identifiers(party)), None),
        legal_registration_id=_identifier(_find(party, "ram:SpecifiedLegalOrganization/ram:ID")),
    )


def _tax_representative(party: etree._Element | None) -> TaxRepresentative | None:
    """BG-11 SELLER TAX REPRESENTATIVE PARTY."""
    if party is None:
        return None
    vat_id = _tax_registration(party, "VA")
    if vat_id is None:
        raise DocumentReadError("the seller tax representative VAT identifier is missing", term="BT-63",
                                location=_where(party, "ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']"),
                                fix='add SpecifiedTaxRegistration/ID with schemeID="VA"')
    return TaxRepresentative(name=_required_text(party, "ram:Name", "BT-62", "seller tax representative name"),
                             vat_id=vat_id, address=_postal_address(party, "BG-12", "BT-69"))


def _delivery(delivery: etree._Element | None) -> Delivery | None:
    """BG-13: BT-70, BT-71, BT-72, BG-15."""
    ship_to = _find(delivery, "ram:ShipToTradeParty")
    return _maybe(
        Delivery,
        party_name=_text(ship_to, "ram:Name"),
        location_id=None if ship_to is None else next(iter(_party_identifiers(ship_to)), None),
        actual_delivery_date=_date(delivery, "ram:ActualDeliverySupplyChainEvent/ram:OccurrenceDateTime", "BT-72"),
        address=None if ship_to is None or _find(ship_to, "ram:PostalTradeAddress") is None
        else _postal_address(ship_to, "BG-15", "BT-80"),
    )


def _period(period: etree._Element | None, start_term: str, end_term: str) -> Period | None:
    """BG-14 / BG-26."""
    return _maybe(Period, start=_date(period, "ram:StartDateTime", start_term),
                  end=_date(period, "ram:EndDateTime", end_term))


# --------------------------------------------------------------------------------------------- payment


def _payment_instructions(settlement: etree._Element,
                          terms: list[etree._Element]) -> tuple[PaymentInstructions, ...]:
    """BG-16, one per ``SpecifiedTradeSettlementPaymentMeans``, with BT-83, BT-89 and BT-90 from the header."""
    all_means = _findall(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
    remittance = _text(settlement, "ram:PaymentReference")
    creditor_id = _text(settlement, "ram:CreditorReferenceID")
    mandate = next((e.text or "" for t in terms for e in _findall(t, "ram:DirectDebitMandateID")), None)
    debits = [m for m in all_means
              if (_text(m, "ram:TypeCode") or "").strip() in DIRECT_DEBIT_MEANS
              or _find(m, "ram:PayerPartyDebtorFinancialAccount") is not None] or all_means
    return tuple(_payment_means(m, remittance, (mandate, creditor_id) if m in debits else (None, None))
                 for m in all_means)


def _payment_means(means: etree._Element, remittance: str | None,
                   mandate_and_creditor: tuple[str | None, str | None]) -> PaymentInstructions:
    card = _find(means, "ram:ApplicableTradeSettlementFinancialCard")
    account = _find(means, "ram:PayeePartyCreditorFinancialAccount")
    mandate, creditor_id = mandate_and_creditor
    return PaymentInstructions(
        means_code=_required_text(means, "ram:TypeCode", "BT-81", "payment means type code").strip(),
        means_text=_text(means, "ram:Information"),
        remittance_information=remittance,
        credit_transfers=() if account is None else (_credit_transfer(means, account),),
        card=None if card is None else PaymentCard(
            primary_account_number=_required_text(card, "ram:ID", "BT-87", "payment card primary account number"),
            holder_name=_text(card, "ram:CardholderName")),
        direct_debit=_maybe(DirectDebit, mandate_reference=mandate, creditor_id=creditor_id,
                            debited_account_id=_text(means, "ram:PayerPartyDebtorFinancialAccount/ram:IBANID")),
    )


def _credit_transfer(means: etree._Element, account: etree._Element) -> CreditTransfer:
    """BG-17: BT-84 (IBAN or proprietary id), BT-85, BT-86."""
    account_id = _text(account, "ram:IBANID")
    if account_id is None:
        account_id = _text(account, "ram:ProprietaryID")
    if account_id is None:
        raise DocumentReadError("the payment account identifier is missing", term="BT-84",
                                location=_where(account, "ram:IBANID"), fix="add the IBAN (or the account number)")
    return CreditTransfer(account_id=account_id, account_name=_text(account, "ram:AccountName"),
                          service_provider_id=_text(means, "ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID"))


# --------------------------------------------------------------------------------------------- allowances, VAT, totals


def _document_allowance(element: etree._Element) -> DocumentAllowance:
    """BG-20."""
    return DocumentAllowance(
        amount=_required_decimal(element, "ram:ActualAmount", "BT-92", "allowance amount"),
        base_amount=_decimal(element, "ram:BasisAmount", "BT-93"),
        percentage=_decimal(element, "ram:CalculationPercent", "BT-94"),
        vat_category=_vat_category(element, "ram:CategoryTradeTax/ram:CategoryCode", "BT-95"),
        vat_rate=_decimal(element, "ram:CategoryTradeTax/ram:RateApplicablePercent", "BT-96"),
        reason=_text(element, "ram:Reason"),
        reason_code=_text(element, "ram:ReasonCode"),
    )


def _document_charge(element: etree._Element) -> DocumentCharge:
    """BG-21."""
    return DocumentCharge(
        amount=_required_decimal(element, "ram:ActualAmount", "BT-99", "charge amount"),
        base_amount=_decimal(element, "ram:BasisAmount", "BT-100"),
        percentage=_decimal(element, "ram:CalculationPercent", "BT-101"),
        vat_category=_vat_category(element, "ram:CategoryTradeTax/ram:CategoryCode", "BT-102"),
        vat_rate=_decimal(element, "ram:CategoryTradeTax/ram:RateApplicablePercent", "BT-103"),
        reason=_text(element, "ram:Reason"),
        reason_code=_text(element, "ram:ReasonCode"),
    )


def _vat_breakdown(tax: etree._Element) -> VatBreakdown:
    """BG-23."""
    return VatBreakdown(
        taxable_amount=_required_decimal(tax, "ram:BasisAmount", "BT-116", "VAT category taxable amount"),
        tax_amount=_required_decimal(tax, "ram:CalculatedAmount", "BT-117", "VAT category tax amount"),
        category=_vat_category(tax, "ram:CategoryCode", "BT-118"),
        rate=_decimal(tax, "ram:RateApplicablePercent", "BT-119"),
        exemption_reason=_text(tax, "ram:ExemptionReason"),
        exemption_reason_code=_text(tax, "ram:ExemptionReasonCode"),
    )


def _one_vat_total_per_currency(summation: etree._Element, invoice_currency: str, tax_currency: str | None) -> None:
    """EN 16931 has one BT-110 (in BT-5) and one BT-111 (in BT-6); more ``TaxTotalAmount``s than that, or one
    in a third currency, have no single meaning and are refused rather than read with one picked at random."""
    amounts = _findall(summation, "ram:TaxTotalAmount")
    allowed = {invoice_currency, tax_currency} - {None, ""}
    currencies = [(e.get("currencyID") or "").strip() for e in amounts]
    for element, currency in zip(amounts, currencies):
        if currency and currency not in allowed:
            raise DocumentReadError(f"a total VAT amount is stated in {currency}, which is neither the invoice "
                                    f"currency nor the VAT accounting currency", term="BT-110/BT-111",
                                    location=_where(element), fix="state BT-110 in BT-5 and BT-111 only in BT-6")
    limit = 1 if tax_currency in (None, "", invoice_currency) else 2
    if len(amounts) > limit or len(set(currencies)) < len(currencies):
        raise DocumentReadError(f"the total VAT amount is stated {len(amounts)} times; EN 16931 allows it once in "
                                f"the invoice currency (BT-110) and once in the VAT accounting currency (BT-111)",
                                term="BT-110/BT-111", location=_where(summation, "ram:TaxTotalAmount"),
                                fix="send one ram:TaxTotalAmount per currency")


def _totals(settlement: etree._Element) -> DocumentTotals:
    """BG-22; of the ``TaxTotalAmount``s the one in the VAT accounting currency (BT-6) is BT-111."""
    summation = _require(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation", "BG-22",
                         "document totals")
    invoice_currency = (_text(settlement, "ram:InvoiceCurrencyCode") or "").strip()
    tax_currency = _stripped(_text(settlement, "ram:TaxCurrencyCode"))
    tax_amount = tax_amount_in_tax_currency = None
    _one_vat_total_per_currency(summation, invoice_currency, tax_currency)
    for element in _findall(summation, "ram:TaxTotalAmount"):
        currency = (element.get("currencyID") or "").strip()
        if tax_amount is None and not (currency == tax_currency and tax_currency != invoice_currency):
            tax_amount = _to_decimal(element, "BT-110")
        else:
            tax_amount_in_tax_currency = _to_decimal(element, "BT-111")
    return DocumentTotals(
        line_net_total=_required_decimal(summation, "ram:LineTotalAmount", "BT-106", "sum of line net amounts"),
        allowance_total=_decimal(summation, "ram:AllowanceTotalAmount", "BT-107"),
        charge_total=_decimal(summation, "ram:ChargeTotalAmount", "BT-108"),
        tax_exclusive_amount=_required_decimal(summation, "ram:TaxBasisTotalAmount", "BT-109",
                                               "invoice total amount without VAT"),
        tax_amount=tax_amount,
        tax_amount_in_tax_currency=tax_amount_in_tax_currency,
        tax_inclusive_amount=_required_decimal(summation, "ram:GrandTotalAmount", "BT-112",
                                               "invoice total amount with VAT"),
        prepaid_amount=_decimal(summation, "ram:TotalPrepaidAmount", "BT-113"),
        rounding_amount=_decimal(summation, "ram:RoundingAmount", "BT-114"),
        payable_amount=_required_decimal(summation, "ram:DuePayableAmount", "BT-115", "amount due for payment"),
    )


# --------------------------------------------------------------------------------------------- lines


def _line(item: etree._Element) -> InvoiceLine:
    """BG-25 INVOICE LINE."""
    document = _require(item, "ram:AssociatedDocumentLineDocument", "BT-126", "invoice line identifier")
    agreement = _require(item, "ram:SpecifiedLineTradeAgreement", "BT-146", "item net price")
    settlement = _require(item, "ram:SpecifiedLineTradeSettlement", "BT-131", "invoice line net amount")
    quantity = _require(item, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity", "BT-129", "invoiced quantity")
    allowances_charges = [(e, _charge_indicator(e, "BG-27/BG-28"))
                          for e in _findall(settlement, "ram:SpecifiedTradeAllowanceCharge")]
    object_document = _find(settlement, "ram:AdditionalReferencedDocument")
    return InvoiceLine(
        id=_required_text(document, "ram:LineID", "BT-126", "invoice line identifier"),
        note=_joined(c.text or "" for c in _findall(document, "ram:IncludedNote/ram:Content")),
        object_identifier=None if object_document is None else _object_identifier(object_document, "BT-128"),
        quantity=_to_decimal(quantity, "BT-129"),
        unit_code=_attribute(quantity, "unitCode", "BT-130", "invoiced quantity unit of measure code"),
        net_amount=_required_decimal(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation/"
                                     "ram:LineTotalAmount", "BT-131", "invoice line net amount"),
        order_line_reference=_text(agreement, "ram:BuyerOrderReferencedDocument/ram:LineID"),
        buyer_accounting_reference=_text(settlement, "ram:ReceivableSpecifiedTradeAccountingAccount/ram:ID"),
        period=_period(_find(settlement, "ram:BillingSpecifiedPeriod"), "BT-134", "BT-135"),
        allowances=tuple(_line_allowance(e) for e, is_charge in allowances_charges if not is_charge),
        charges=tuple(_line_charge(e) for e, is_charge in allowances_charges if is_charge),
        price=_price(agreement),
        vat=_line_vat(settlement),
        item=_item(item),
    )


def _line_allowance(element: etree._Element) -> LineAllowance:
    """BG-27."""
    return LineAllowance(
        amount=_required_decimal(element, "ram:ActualAmount", "BT-136", "line allowance amount"),
        base_amount=_decimal(element, "ram:BasisAmount", "BT-137"),
        percentage=_decimal(element, "ram:CalculationPercent", "BT-138"),
        reason=_text(element, "ram:Reason"),
        reason_code=_text(element, "ram:ReasonCode"),
    )


def _line_charge(element: etree._Element) -> LineCharge:
    """BG-28."""
    return LineCharge(
        amount=_required_decimal(element, "ram:ActualAmount", "BT-141", "line charge amount"),
        base_amount=_decimal(element, "ram:BasisAmount", "BT-142"),
        percentage=_decimal(element, "ram:CalculationPercent", "BT-143"),
        reason=_text(element, "ram:Reason"),
        reason_code=_text(element, "ram:ReasonCode"),
    )


def _price(agreement: etree._Element) -> PriceDetails:
    """BG-29: BT-146 net price, BT-148 gross price with BT-147 discount, BT-149/150 from the net price (else gross)."""
    net = _require(agreement, "ram:NetPriceProductTradePrice", "BT-146", "item net price")
    gross = _find(agreement, "ram:GrossPriceProductTradePrice")
    basis = _find(net, "ram:BasisQuantity")
    if basis is None:
        basis = _find(gross, "ram:BasisQuantity")
    discount = next((a for a in _findall(gross, "ram:AppliedTradeAllowanceCharge")
                     if not _charge_indicator(a, "BT-147")), None)
    return PriceDetails(
        net_price=_required_decimal(net, "ram:ChargeAmount", "BT-146", "item net price"),
        discount=None if discount is None else _required_decimal(discount, "ram:ActualAmount", "BT-147",
                                                                  "item price discount"),
        gross_price=None if gross is None else _required_decimal(gross, "ram:ChargeAmount", "BT-148",
                                                                  "item gross price"),
        base_quantity=None if basis is None else _to_decimal(basis, "BT-149"),
        base_quantity_unit_code=None if basis is None else basis.get("unitCode"),
    )


def _line_vat(settlement: etree._Element) -> LineVat:
    """BG-30."""
    tax = _require(settlement, "ram:ApplicableTradeTax", "BT-151", "invoiced item VAT category code")
    return LineVat(category=_vat_category(tax, "ram:CategoryCode", "BT-151"),
                   rate=_decimal(tax, "ram:RateApplicablePercent", "BT-152"))


def _item(item: etree._Element) -> Item:
    """BG-31 ITEM INFORMATION with BG-32 attributes."""
    product = _require(item, "ram:SpecifiedTradeProduct", "BT-153", "item name")
    return Item(
        name=_required_text(product, "ram:Name", "BT-153", "item name"),
        description=_text(product, "ram:Description"),
        sellers_id=_text(product, "ram:SellerAssignedID"),
        buyers_id=_text(product, "ram:BuyerAssignedID"),
        standard_id=_identifier(_find(product, "ram:GlobalID")),
        classifications=tuple(_classification(c) for c in
                              _findall(product, "ram:DesignatedProductClassification/ram:ClassCode")),
        origin_country=_stripped(_text(product, "ram:OriginTradeCountry/ram:ID")),
        attributes=tuple(_attribute_of_item(c) for c in _findall(product, "ram:ApplicableProductCharacteristic")),
    )


def _classification(code: etree._Element) -> Classification:
    """BT-158 with BT-158-1 scheme and BT-158-2 version."""
    return Classification(code=code.text or "", list_id=code.get("listID"), list_version=code.get("listVersionID"))


def _attribute_of_item(characteristic: etree._Element) -> ItemAttribute:
    """BG-32: BT-160 name, BT-161 value."""
    return ItemAttribute(name=_required_text(characteristic, "ram:Description", "BT-160", "item attribute name"),
                         value=_required_text(characteristic, "ram:Value", "BT-161", "item attribute value"))
