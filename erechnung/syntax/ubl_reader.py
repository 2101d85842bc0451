"""Read a UBL 2.1 Invoice or CreditNote into the model, mirroring ``ubl_writer``.

Every business term the model holds is read; what the model has no place for (UBL extensions, XRechnung
extension elements such as sub invoice lines) is left unread. A missing mandatory term, or a number or
date that is not one, raises ``DocumentReadError`` naming the term, its XPath and what to do.
"""
from __future__ import annotations

import base64
import binascii
import re
from datetime import date
from decimal import Decimal

from lxml import etree

from ..errors import DocumentReadError
from ..model import (
    Attachment, Buyer, Classification, Contact, CreditTransfer, Delivery, DirectDebit, DocumentAllowance,
    DocumentCharge, DocumentTotals, ElectronicAddress, Identifier, Invoice, InvoiceLine, Item, ItemAttribute,
    LineAllowance, LineCharge, LineVat, Note, Payee, PaymentCard, PaymentInstructions, Period, PostalAddress,
    PrecedingInvoice, PriceDetails, ProcessControl, Seller, SupportingDocument, TaxRepresentative, ThirdPartyPayment,
    VatBreakdown, VatCategory,
)
from ..model.codes import DIRECT_DEBIT_MEANS
from .reading import find, findall, missing, text, to_date, to_decimal, to_vat_category
from .ubl_names import (
    CREDIT_NOTE_NS, INVOICE_NS, NAMESPACES, OBJECT_IDENTIFIER_DOCUMENT_TYPE, PROJECT_REFERENCE_DOCUMENT_TYPE,
    SALES_ORDER_ONLY_ORDER_ID, SEPA_SCHEME, VAT_SCHEME, split_note,
)

# xs:date; a time zone suffix (seen in official cases) has no meaning for EN 16931 dates and is not kept.
_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})(?:Z|[+-]\d{2}:\d{2})?")
_BOOLEAN = {"true": True, "1": True, "false": False, "0": False}


def read_ubl(root: etree._Element) -> Invoice:
    """The invoice held by a UBL 2.1 ``Invoice`` or ``CreditNote`` root element."""
    doc = _root(root)
    credit_note = doc.element.tag == f"{{{CREDIT_NOTE_NS}}}CreditNote"
    type_code_tag = "cbc:CreditNoteTypeCode" if credit_note else "cbc:InvoiceTypeCode"
    period = doc.one("cac:InvoicePeriod")
    order = doc.one("cac:OrderReference")
    references = _additional_references(doc, credit_note)
    payments = _Payments(doc)
    return Invoice(
        number=doc.required("cbc:ID", "BT-1", "Invoice number"),
        issue_date=doc.required_date("cbc:IssueDate", "BT-2", "Invoice issue date"),
        type_code=doc.required(type_code_tag, "BT-3", "Invoice type code"),
        currency_code=doc.required("cbc:DocumentCurrencyCode", "BT-5", "Invoice currency code"),
        tax_currency_code=doc.text("cbc:TaxCurrencyCode"),
        tax_point_date=doc.date("cbc:TaxPointDate", "BT-7", "Value added tax point date"),
        tax_point_date_code=period.text("cbc:DescriptionCode") if period else None,
        due_date=payments.due_date if credit_note else doc.date("cbc:DueDate", "BT-9", "Payment due date"),
        buyer_reference=doc.text("cbc:BuyerReference"),
        project_reference=references.project if credit_note else doc.text("cac:ProjectReference/cbc:ID"),
        contract_reference=doc.text("cac:ContractDocumentReference/cbc:ID"),
        purchase_order_reference=_purchase_order(order),
        sales_order_reference=order.text("cbc:SalesOrderID") if order else None,
        receiving_advice_reference=doc.text("cac:ReceiptDocumentReference/cbc:ID"),
        despatch_advice_reference=doc.text("cac:DespatchDocumentReference/cbc:ID"),
        tender_or_lot_reference=doc.text("cac:OriginatorDocumentReference/cbc:ID"),
        invoiced_object_identifier=references.invoiced_object,
        buyer_accounting_reference=doc.text("cbc:AccountingCost"),
        payment_terms=_payment_terms(doc),
        notes=tuple(_note(note) for note in doc.all("cbc:Note")),
        process=_process_control(doc),
        preceding_invoices=tuple(_preceding_invoice(reference) for reference in
                                 doc.all("cac:BillingReference/cac:InvoiceDocumentReference")),
        seller=_seller(doc, payments),
        buyer=_buyer(doc),
        payee=_payee(doc, payments),
        tax_representative=_tax_representative(doc),
        delivery=_delivery(doc),
        invoicing_period=_period(period, "BG-14", "BT-73", "BT-74"),
        payment_instructions=payments.instructions,
        third_party_payments=tuple(_third_party_payment(at) for at in doc.all("cac:PrepaidPayment")),
        allowances=tuple(_document_allowance(at) for at in doc.all("cac:AllowanceCharge") if not _is_charge(at)),
        charges=tuple(_document_charge(at) for at in doc.all("cac:AllowanceCharge") if _is_charge(at)),
        totals=_document_totals(doc),
        vat_breakdown=_vat_breakdown(doc),
        supporting_documents=references.supporting,
        lines=_lines(doc, credit_note),
    )


# --------------------------------------------------------------------------------------------- reading helpers


class _At:
    """One element and its XPath: reads the terms below it, and names where one is missing or malformed."""

    __slots__ = ("element", "path")

    def __init__(self, element: etree._Element, path: str) -> None:
        self.element, self.path = element, path

    def one(self, path: str) -> _At | None:
        element = find(self.element, path, NAMESPACES)
        return None if element is None else _At(element, f"{self.path}/{path}")

    def all(self, path: str) -> list[_At]:
        elements = findall(self.element, path, NAMESPACES)
        if len(elements) == 1:
            return [_At(elements[0], f"{self.path}/{path}")]
        where = f"{self.path}/{path}" if "/" not in path else f"({self.path}/{path})"
        return [_At(element, f"{where}[{index}]") for index, element in enumerate(elements, 1)]

    def text(self, path: str) -> str | None:
        """The text of the first ``path`` as written ('' when empty), None when absent."""
        return text(self.element, path, NAMESPACES)

    def attribute(self, path: str, name: str) -> str | None:
        element = find(self.element, path, NAMESPACES)
        return None if element is None else element.get(name)

    def required(self, path: str, term: str, name: str) -> str:
        value = self.text(path)
        if value is None or not value.strip():
            raise self.missing(path, term, name)
        return value

    def required_one(self, path: str, term: str, name: str) -> _At:
        found = self.one(path)
        if found is None:
            raise self.missing(path, term, name)
        return found

    def missing(self, path: str, term: str, name: str) -> DocumentReadError:
        return missing(name, term, f"{self.path}/{path}", f"fill in {path} with the {name} ({term})")

    def decimal(self, path: str, term: str, name: str) -> Decimal | None:
        value = self.text(path)
        return None if value is None else to_decimal(value, term, f"{self.path}/{path}", name)

    def required_decimal(self, path: str, term: str, name: str) -> Decimal:
        value = self.decimal(path, term, name)
        if value is None:
            raise self.missing(path, term, name)
        return value

    def date(self, path: str, term: str, name: str) -> date | None:
        value = self.text(path)
        return None if value is None else to_date(value, _DATE, term, f"{self.path}/{path}",
                                                  "write the date as YYYY-MM-DD, e.g. 2024-03-31", name)

    def required_date(self, path: str, term: str, name: str) -> date:
        value = self.date(path, term, name)
        if value is None:
            raise self.missing(path, term, name)
        return value

    def vat_category(self, path: str, term: str, name: str) -> VatCategory:
        return to_vat_category(self.required(path, term, name), term, f"{self.path}/{path}", name)

    def identifier(self, path: str) -> Identifier | None:
        value = self.text(path)
        return None if value is None else Identifier(value=value, scheme_id=self.attribute(path, "schemeID"))


def _root(root: etree._Element) -> _At:
    if root.tag == f"{{{INVOICE_NS}}}Invoice":
        return _At(root, "/Invoice")
    if root.tag == f"{{{CREDIT_NOTE_NS}}}CreditNote":
        return _At(root, "/CreditNote")
    raise DocumentReadError(f"the root element {root.tag} is not a UBL 2.1 Invoice or CreditNote", location="/",
                            fix="send a UBL Invoice or CreditNote")


def _is_charge(at: _At) -> bool:
    value = at.required("cbc:ChargeIndicator", "BG-20/BG-21", "charge indicator")
    if value.strip() not in _BOOLEAN:
        raise DocumentReadError(f"charge indicator {value!r} is neither true nor false", term="BG-20/BG-21",
                                location=f"{at.path}/cbc:ChargeIndicator",
                                fix="write true for a charge, false for an allowance")
    return _BOOLEAN[value.strip()]


def _period(at: _At | None, group: str, start_term: str, end_term: str) -> Period | None:
    """BG-14 / BG-26: None unless a start or end date is given (BT-8 alone makes no period)."""
    if at is None:
        return None
    start = at.date("cbc:StartDate", start_term, f"{group} period start date")
    end = at.date("cbc:EndDate", end_term, f"{group} period end date")
    return None if start is None and end is None else Period(start=start, end=end)


def _postal_address(at: _At, group: str, country_term: str) -> PostalAddress:
    """BG-5 / BG-8 / BG-12 / BG-15."""
    return PostalAddress(
        line1=at.text("cbc:StreetName"),
        line2=at.text("cbc:AdditionalStreetName"),
        line3=at.text("cac:AddressLine/cbc:Line"),
        city=at.text("cbc:CityName"),
        post_code=at.text("cbc:PostalZone"),
        country_subdivision=at.text("cbc:CountrySubentity"),
        country_code=at.required("cac:Country/cbc:IdentificationCode", country_term, f"{group} country code"),
    )


def _contact(at: _At | None) -> Contact | None:
    """BG-6 / BG-9."""
    if at is None:
        return None
    return Contact(name=at.text("cbc:Name"), telephone=at.text("cbc:Telephone"), email=at.text("cbc:ElectronicMail"))


def _electronic_address(party: _At, term: str) -> ElectronicAddress | None:
    """BT-34 / BT-49 with its mandatory scheme."""
    endpoint = party.one("cbc:EndpointID")
    if endpoint is None:
        return None
    scheme = endpoint.element.get("schemeID")
    if scheme is None or not scheme.strip():
        raise DocumentReadError("electronic address scheme identifier is missing", term=f"{term}-1",
                                location=f"{endpoint.path}/@schemeID",
                                fix="add schemeID with the EAS code of the address, e.g. EM for an email address")
    return ElectronicAddress(value=endpoint.text(".") or "", scheme_id=scheme)


def _tax_scheme_ids(party: _At) -> tuple[str | None, str | None]:
    """(VAT identifier, tax registration identifier) from cac:PartyTaxScheme by their tax scheme."""
    vat_id = registration_id = None
    for scheme in party.all("cac:PartyTaxScheme"):
        company_id = scheme.text("cbc:CompanyID")
        if (scheme.text("cac:TaxScheme/cbc:ID") or "").strip() == VAT_SCHEME:
            vat_id = company_id if vat_id is None else vat_id
        elif registration_id is None:
            registration_id = company_id
    return vat_id, registration_id


# --------------------------------------------------------------------------------------------- document header


def _process_control(doc: _At) -> ProcessControl:
    """BG-2."""
    return ProcessControl(business_process=doc.text("cbc:ProfileID"),
                          specification=doc.required("cbc:CustomizationID", "BT-24", "Specification identifier"))


def _note(at: _At) -> Note:
    """BG-1: one cbc:Note, BT-21 as its '#CODE#' prefix."""
    subject_code, text = split_note(at.text(".") or "")
    return Note(text=text, subject_code=subject_code)


def _purchase_order(order: _At | None) -> str | None:
    """BT-13; the placeholder ID 'NA' that stands in when only BT-14 is known is no order reference."""
    if order is None:
        return None
    number = order.text("cbc:ID")
    if number == SALES_ORDER_ONLY_ORDER_ID and order.text("cbc:SalesOrderID") is not None:
        return None
    return number


def _preceding_invoice(at: _At) -> PrecedingInvoice:
    """BG-3."""
    return PrecedingInvoice(number=at.required("cbc:ID", "BT-25", "Preceding Invoice reference"),
                            issue_date=at.date("cbc:IssueDate", "BT-26", "Preceding Invoice issue date"))


def _payment_terms(doc: _At) -> str | None:
    """BT-20; several notes (UBL allows them, EN 16931 has one term) are joined by line breaks."""
    notes = [note.text(".") or "" for note in doc.all("cac:PaymentTerms/cbc:Note")]
    return "\n".join(notes) if notes else None


class _References:
    """cac:AdditionalDocumentReference split by type code: BT-18 (130), BT-11 (50, CreditNote), BG-24."""

    def __init__(self) -> None:
        self.invoiced_object: Identifier | None = None
        self.project: str | None = None
        self.supporting: tuple[SupportingDocument, ...] = ()


def _additional_references(doc: _At, credit_note: bool) -> _References:
    references, supporting = _References(), []
    for at in doc.all("cac:AdditionalDocumentReference"):
        type_code = (at.text("cbc:DocumentTypeCode") or "").strip()
        if type_code == OBJECT_IDENTIFIER_DOCUMENT_TYPE and references.invoiced_object is None:
            references.invoiced_object = at.identifier("cbc:ID")
        elif credit_note and type_code == PROJECT_REFERENCE_DOCUMENT_TYPE and references.project is None:
            references.project = at.text("cbc:ID")
        else:
            supporting.append(_supporting_document(at))
    references.supporting = tuple(supporting)
    return references


def _supporting_document(at: _At) -> SupportingDocument:
    """BG-24."""
    return SupportingDocument(
        reference=at.required("cbc:ID", "BT-122", "Supporting document reference"),
        description=at.text("cbc:DocumentDescription"),
        external_location=at.text("cac:Attachment/cac:ExternalReference/cbc:URI"),
        attachment=_attachment(at.one("cac:Attachment/cbc:EmbeddedDocumentBinaryObject")),
    )


def _attachment(at: _At | None) -> Attachment | None:
    """BT-125 with its MIME code (BT-125-1) and filename (BT-125-2)."""
    if at is None:
        return None
    try:
        content = base64.b64decode("".join((at.text(".") or "").split()), validate=True)
    except (binascii.Error, ValueError):
        raise DocumentReadError("the attached document is not valid base64", term="BT-125", location=at.path,
                                fix="embed the file base64-encoded") from None
    for attribute, term, name in (("mimeCode", "BT-125-1", "Attached document Mime code"),
                                  ("filename", "BT-125-2", "Attached document Filename")):
        if not (at.element.get(attribute) or "").strip():
            raise DocumentReadError(f"{name} is missing", term=term, location=f"{at.path}/@{attribute}",
                                    fix=f"add the {attribute} attribute to the embedded document")
    return Attachment(content=content, mime_code=at.element.get("mimeCode"), filename=at.element.get("filename"))


# --------------------------------------------------------------------------------------------- payment


class _Payments:
    """BG-16 instructions, the credit note's BT-9, and BT-90: a SEPA-schemed party identifier of the payee
    (or else the seller) that is read as the creditor identifier of the direct debit, when there is one."""

    def __init__(self, doc: _At) -> None:
        self.means = doc.all("cac:PaymentMeans")
        self.due_date = next((due for due in (at.date("cbc:PaymentDueDate", "BT-9", "Payment due date")
                                              for at in self.means) if due is not None), None)
        sepa = [identifier for path in ("cac:PayeeParty", "cac:AccountingSupplierParty/cac:Party")
                for identifier in _party_identifiers(doc.one(path)) if identifier.scheme_id == SEPA_SCHEME]
        self.has_direct_debit = any(_is_direct_debit(at) for at in self.means)
        self.creditor_id = sepa[0].value if sepa and self.has_direct_debit else None
        self.instructions = tuple(_payment_instructions(at, self.creditor_id) for at in self.means)

    def party_identifiers(self, party: _At | None) -> list[Identifier]:
        """The party's BT-29 / BT-60 identifiers, without the one read as BT-90."""
        return [identifier for identifier in _party_identifiers(party)
                if self.creditor_id is None or identifier.scheme_id != SEPA_SCHEME]


def _party_identifiers(party: _At | None) -> list[Identifier]:
    if party is None:
        return []
    return [identifier for at in party.all("cac:PartyIdentification")
            if (identifier := at.identifier("cbc:ID")) is not None]


def _is_direct_debit(means: _At) -> bool:
    return (means.text("cbc:PaymentMeansCode") or "").strip() in DIRECT_DEBIT_MEANS \
        or means.one("cac:PaymentMandate") is not None


def _payment_instructions(at: _At, creditor_id: str | None) -> PaymentInstructions:
    """BG-16 from one cac:PaymentMeans, with its BG-17, BG-18 and BG-19."""
    return PaymentInstructions(
        means_code=at.required("cbc:PaymentMeansCode", "BT-81", "Payment means type code"),
        means_text=at.attribute("cbc:PaymentMeansCode", "name"),
        remittance_information=at.text("cbc:PaymentID"),
        credit_transfers=tuple(_credit_transfer(account) for account in at.all("cac:PayeeFinancialAccount")),
        card=_payment_card(at.one("cac:CardAccount")),
        direct_debit=_direct_debit(at, creditor_id),
    )


def _credit_transfer(at: _At) -> CreditTransfer:
    """BG-17."""
    return CreditTransfer(account_id=at.required("cbc:ID", "BT-84", "Payment account identifier"),
                          account_name=at.text("cbc:Name"),
                          service_provider_id=at.text("cac:FinancialInstitutionBranch/cbc:ID"))


def _payment_card(at: _At | None) -> PaymentCard | None:
    """BG-18 (cbc:NetworkID is not an EN 16931 term)."""
    if at is None:
        return None
    return PaymentCard(primary_account_number=at.required("cbc:PrimaryAccountNumberID", "BT-87",
                                                          "Payment card primary account number"),
                       holder_name=at.text("cbc:HolderName"))


def _direct_debit(means: _At, creditor_id: str | None) -> DirectDebit | None:
    """BG-19: the mandate (BT-89, BT-91) and the creditor identifier BT-90 from the party."""
    mandate = means.one("cac:PaymentMandate")
    if mandate is None and not (creditor_id is not None and _is_direct_debit(means)):
        return None
    return DirectDebit(
        mandate_reference=mandate.text("cbc:ID") if mandate else None,
        creditor_id=creditor_id,
        debited_account_id=mandate.text("cac:PayerFinancialAccount/cbc:ID") if mandate else None,
    )


def _third_party_payment(at: _At) -> ThirdPartyPayment:
    """BG-DEX-09 (XRechnung extension) from cac:PrepaidPayment."""
    return ThirdPartyPayment(
        payment_type=at.required("cbc:ID", "BT-DEX-001", "Third party payment type"),
        amount=at.required_decimal("cbc:PaidAmount", "BT-DEX-002", "Third party payment amount"),
        description=at.required("cbc:InstructionID", "BT-DEX-003", "Third party payment description"),
    )


# --------------------------------------------------------------------------------------------- parties


def _seller(doc: _At, payments: _Payments) -> Seller:
    """BG-4 from cac:AccountingSupplierParty/cac:Party."""
    party = doc.required_one("cac:AccountingSupplierParty/cac:Party", "BG-4", "Seller")
    vat_id, registration_id = _tax_scheme_ids(party)
    return Seller(
        name=party.required("cac:PartyLegalEntity/cbc:RegistrationName", "BT-27", "Seller name"),
        trading_name=party.text("cac:PartyName/cbc:Name"),
        identifiers=tuple(payments.party_identifiers(party)),
        legal_registration_id=party.identifier("cac:PartyLegalEntity/cbc:CompanyID"),
        vat_id=vat_id,
        tax_registration_id=registration_id,
        additional_legal_info=party.text("cac:PartyLegalEntity/cbc:CompanyLegalForm"),
        electronic_address=_electronic_address(party, "BT-34"),
        address=_postal_address(party.required_one("cac:PostalAddress", "BG-5", "Seller postal address"),
                                "Seller", "BT-40"),
        contact=_contact(party.one("cac:Contact")),
    )


def _buyer(doc: _At) -> Buyer:
    """BG-7 from cac:AccountingCustomerParty/cac:Party."""
    party = doc.required_one("cac:AccountingCustomerParty/cac:Party", "BG-7", "Buyer")
    vat_id, _ = _tax_scheme_ids(party)
    return Buyer(
        name=party.required("cac:PartyLegalEntity/cbc:RegistrationName", "BT-44", "Buyer name"),
        trading_name=party.text("cac:PartyName/cbc:Name"),
        identifier=party.identifier("cac:PartyIdentification/cbc:ID"),
        legal_registration_id=party.identifier("cac:PartyLegalEntity/cbc:CompanyID"),
        vat_id=vat_id,
        electronic_address=_electronic_address(party, "BT-49"),
        address=_postal_address(party.required_one("cac:PostalAddress", "BG-8", "Buyer postal address"),
                                "Buyer", "BT-55"),
        contact=_contact(party.one("cac:Contact")),
    )


def _payee(doc: _At, payments: _Payments) -> Payee | None:
    """BG-10 from cac:PayeeParty (its SEPA identifier is BT-90, see ``_Payments``)."""
    party = doc.one("cac:PayeeParty")
    if party is None:
        return None
    identifiers = payments.party_identifiers(party)
    return Payee(name=party.required("cac:PartyName/cbc:Name", "BT-59", "Payee name"),
                 identifier=identifiers[0] if identifiers else None,
                 legal_registration_id=party.identifier("cac:PartyLegalEntity/cbc:CompanyID"))


def _tax_representative(doc: _At) -> TaxRepresentative | None:
    """BG-11 from cac:TaxRepresentativeParty."""
    party = doc.one("cac:TaxRepresentativeParty")
    if party is None:
        return None
    vat_id, _ = _tax_scheme_ids(party)
    if vat_id is None or not vat_id.strip():
        raise party.missing(f"cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='{VAT_SCHEME}']/cbc:CompanyID", "BT-63",
                            "Seller tax representative VAT identifier")
    return TaxRepresentative(
        name=party.required("cac:PartyName/cbc:Name", "BT-62", "Seller tax representative name"),
        vat_id=vat_id,
        address=_postal_address(party.required_one("cac:PostalAddress", "BG-12",
                                                   "Seller tax representative postal address"),
                                "Seller tax representative", "BT-69"),
    )


def _delivery(doc: _At) -> Delivery | None:
    """BG-13 from the first cac:Delivery."""
    at = doc.one("cac:Delivery")
    if at is None:
        return None
    address = at.one("cac:DeliveryLocation/cac:Address")
    return Delivery(
        party_name=at.text("cac:DeliveryParty/cac:PartyName/cbc:Name"),
        location_id=at.identifier("cac:DeliveryLocation/cbc:ID"),
        actual_delivery_date=at.date("cbc:ActualDeliveryDate", "BT-72", "Actual delivery date"),
        address=_postal_address(address, "Deliver to", "BT-80") if address else None,
    )


# --------------------------------------------------------------------------------------------- allowances, charges


def _document_allowance(at: _At) -> DocumentAllowance:
    """BG-20."""
    return DocumentAllowance(
        amount=at.required_decimal("cbc:Amount", "BT-92", "Document level allowance amount"),
        base_amount=at.decimal("cbc:BaseAmount", "BT-93", "Document level allowance base amount"),
        percentage=at.decimal("cbc:MultiplierFactorNumeric", "BT-94", "Document level allowance percentage"),
        vat_category=at.vat_category("cac:TaxCategory/cbc:ID", "BT-95",
                                     "Document level allowance VAT category code"),
        vat_rate=at.decimal("cac:TaxCategory/cbc:Percent", "BT-96", "Document level allowance VAT rate"),
        reason=at.text("cbc:AllowanceChargeReason"),
        reason_code=at.text("cbc:AllowanceChargeReasonCode"),
    )


def _document_charge(at: _At) -> DocumentCharge:
    """BG-21."""
    return DocumentCharge(
        amount=at.required_decimal("cbc:Amount", "BT-99", "Document level charge amount"),
        base_amount=at.decimal("cbc:BaseAmount", "BT-100", "Document level charge base amount"),
        percentage=at.decimal("cbc:MultiplierFactorNumeric", "BT-101", "Document level charge percentage"),
        vat_category=at.vat_category("cac:TaxCategory/cbc:ID", "BT-102", "Document level charge VAT category code"),
        vat_rate=at.decimal("cac:TaxCategory/cbc:Percent", "BT-103", "Document level charge VAT rate"),
        reason=at.text("cbc:AllowanceChargeReason"),
        reason_code=at.text("cbc:AllowanceChargeReasonCode"),
    )


# --------------------------------------------------------------------------------------------- totals, VAT


def _tax_totals(doc: _At) -> tuple[_At | None, _At | None]:
    """(the cac:TaxTotal with BT-110 and the breakdown, the one with BT-111 in the VAT accounting currency)."""
    totals = doc.all("cac:TaxTotal")
    _one_vat_total_per_currency(doc, totals)
    main = next((at for at in totals if at.one("cac:TaxSubtotal") is not None), None)
    if main is None:
        tax_currency = doc.text("cbc:TaxCurrencyCode")
        main = next((at for at in totals if tax_currency is None
                     or at.attribute("cbc:TaxAmount", "currencyID") != tax_currency), None)
    rest = [at for at in totals if main is None or at.element is not main.element]
    return main, (rest[0] if rest else None)


def _one_vat_total_per_currency(doc: _At, totals: list[_At]) -> None:
    """EN 16931 has one BT-110 (in the invoice currency BT-5) and one BT-111 (in the VAT accounting currency
    BT-6); a document that states more, or one in a third currency, has no single meaning, so it is refused
    rather than read with one of them picked at random (cf. UBL-SR-... / BR-CO-15 unit tests of CEN)."""
    invoice_currency, tax_currency = doc.text("cbc:DocumentCurrencyCode"), doc.text("cbc:TaxCurrencyCode")
    allowed = {invoice_currency, tax_currency} - {None}
    seen: dict[str | None, int] = {}
    for at in totals:
        currency = at.attribute("cbc:TaxAmount", "currencyID")
        seen[currency] = seen.get(currency, 0) + 1
        if currency not in allowed:
            raise DocumentReadError(f"a total VAT amount is stated in {currency}, which is neither the invoice "
                                    f"currency nor the VAT accounting currency", term="BT-110/BT-111",
                                    location=at.path, fix="state BT-110 in BT-5 and BT-111 only in BT-6")
    limit = 1 if tax_currency in (None, invoice_currency) else 2
    if len(totals) > limit or any(n > 1 for n in seen.values()):
        raise DocumentReadError(f"the total VAT amount is stated {len(totals)} times; EN 16931 allows it once in "
                                f"the invoice currency (BT-110) and once in the VAT accounting currency (BT-111)",
                                term="BT-110/BT-111", location=f"{doc.path}/cac:TaxTotal",
                                fix="send one cac:TaxTotal per currency")


def _document_totals(doc: _At) -> DocumentTotals:
    """BG-22 from cac:LegalMonetaryTotal, BT-110 and BT-111 from cac:TaxTotal."""
    at = doc.required_one("cac:LegalMonetaryTotal", "BG-22", "Document totals")
    main, in_tax_currency = _tax_totals(doc)
    return DocumentTotals(
        line_net_total=at.required_decimal("cbc:LineExtensionAmount", "BT-106", "Sum of Invoice line net amount"),
        allowance_total=at.decimal("cbc:AllowanceTotalAmount", "BT-107", "Sum of allowances on document level"),
        charge_total=at.decimal("cbc:ChargeTotalAmount", "BT-108", "Sum of charges on document level"),
        tax_exclusive_amount=at.required_decimal("cbc:TaxExclusiveAmount", "BT-109",
                                                 "Invoice total amount without VAT"),
        tax_amount=main.decimal("cbc:TaxAmount", "BT-110", "Invoice total VAT amount") if main else None,
        tax_amount_in_tax_currency=in_tax_currency.decimal(
            "cbc:TaxAmount", "BT-111", "Invoice total VAT amount in accounting currency") if in_tax_currency else None,
        tax_inclusive_amount=at.required_decimal("cbc:TaxInclusiveAmount", "BT-112", "Invoice total amount with VAT"),
        prepaid_amount=at.decimal("cbc:PrepaidAmount", "BT-113", "Paid amount"),
        rounding_amount=at.decimal("cbc:PayableRoundingAmount", "BT-114", "Rounding amount"),
        payable_amount=at.required_decimal("cbc:PayableAmount", "BT-115", "Amount due for payment"),
    )


def _vat_breakdown(doc: _At) -> tuple[VatBreakdown, ...]:
    """BG-23 from the cac:TaxSubtotal of the main cac:TaxTotal."""
    main, _ = _tax_totals(doc)
    if main is None:
        return ()
    return tuple(VatBreakdown(
        taxable_amount=at.required_decimal("cbc:TaxableAmount", "BT-116", "VAT category taxable amount"),
        tax_amount=at.required_decimal("cbc:TaxAmount", "BT-117", "VAT category tax amount"),
        category=at.vat_category("cac:TaxCategory/cbc:ID", "BT-118", "VAT category code"),
        rate=at.decimal("cac:TaxCategory/cbc:Percent", "BT-119", "VAT category rate"),
        exemption_reason=at.text("cac:TaxCategory/cbc:TaxExemptionReason"),
        exemption_reason_code=at.text("cac:TaxCategory/cbc:TaxExemptionReasonCode"),
    ) for at in main.all("cac:TaxSubtotal"))


# --------------------------------------------------------------------------------------------- lines


def _lines(doc: _At, credit_note: bool) -> tuple[InvoiceLine, ...]:
    """BG-25: at least one cac:InvoiceLine / cac:CreditNoteLine."""
    tag = "cac:CreditNoteLine" if credit_note else "cac:InvoiceLine"
    lines = doc.all(tag)
    if not lines:
        raise doc.missing(tag, "BG-25", "Invoice line")
    quantity_tag = "cbc:CreditedQuantity" if credit_note else "cbc:InvoicedQuantity"
    return tuple(_line(at, quantity_tag) for at in lines)


def _line(at: _At, quantity_tag: str) -> InvoiceLine:
    """BG-25 with BG-26 .. BG-31."""
    unit_code = at.attribute(quantity_tag, "unitCode")
    if at.one(quantity_tag) is not None and not (unit_code or "").strip():
        raise DocumentReadError("Invoiced quantity unit of measure code is missing", term="BT-130",
                                location=f"{at.path}/{quantity_tag}/@unitCode",
                                fix="add unitCode with a UN/ECE Rec 20 code, e.g. C62 for pieces")
    notes = [note.text(".") or "" for note in at.all("cbc:Note")]
    return InvoiceLine(
        id=at.required("cbc:ID", "BT-126", "Invoice line identifier"),
        note="\n".join(notes) if notes else None,
        object_identifier=_line_object_identifier(at),
        quantity=at.required_decimal(quantity_tag, "BT-129", "Invoiced quantity"),
        unit_code=unit_code or "",
        net_amount=at.required_decimal("cbc:LineExtensionAmount", "BT-131", "Invoice line net amount"),
        order_line_reference=at.text("cac:OrderLineReference/cbc:LineID"),
        buyer_accounting_reference=at.text("cbc:AccountingCost"),
        period=_period(at.one("cac:InvoicePeriod"), "BG-26", "BT-134", "BT-135"),
        allowances=tuple(_line_allowance(ac) for ac in at.all("cac:AllowanceCharge") if not _is_charge(ac)),
        charges=tuple(_line_charge(ac) for ac in at.all("cac:AllowanceCharge") if _is_charge(ac)),
        price=_price(at.required_one("cac:Price", "BG-29", "Price details")),
        vat=_line_vat(at.required_one("cac:Item/cac:ClassifiedTaxCategory", "BG-30", "Line VAT information")),
        item=_item(at.required_one("cac:Item", "BG-31", "Item information")),
    )


def _line_object_identifier(at: _At) -> Identifier | None:
    """BT-128: a cac:DocumentReference of type 130 (or of no type, as some EN 16931 examples write it)."""
    for reference in at.all("cac:DocumentReference"):
        if (reference.text("cbc:DocumentTypeCode") or OBJECT_IDENTIFIER_DOCUMENT_TYPE).strip() \
                == OBJECT_IDENTIFIER_DOCUMENT_TYPE:
            return reference.identifier("cbc:ID")
    return None


def _line_allowance(at: _At) -> LineAllowance:
    """BG-27."""
    return LineAllowance(
        amount=at.required_decimal("cbc:Amount", "BT-136", "Invoice line allowance amount"),
        base_amount=at.decimal("cbc:BaseAmount", "BT-137", "Invoice line allowance base amount"),
        percentage=at.decimal("cbc:MultiplierFactorNumeric", "BT-138", "Invoice line allowance percentage"),
        reason=at.text("cbc:AllowanceChargeReason"),
        reason_code=at.text("cbc:AllowanceChargeReasonCode"),
    )


def _line_charge(at: _At) -> LineCharge:
    """BG-28."""
    return LineCharge(
        amount=at.required_decimal("cbc:Amount", "BT-141", "Invoice line charge amount"),
        base_amount=at.decimal("cbc:BaseAmount", "BT-142", "Invoice line charge base amount"),
        percentage=at.decimal("cbc:MultiplierFactorNumeric", "BT-143", "Invoice line charge percentage"),
        reason=at.text("cbc:AllowanceChargeReason"),
        reason_code=at.text("cbc:AllowanceChargeReasonCode"),
    )


def _price(at: _At) -> PriceDetails:
    """BG-29: BT-146, BT-149/150 and the price allowance's BT-147/148."""
    allowance = at.one("cac:AllowanceCharge")
    return PriceDetails(
        net_price=at.required_decimal("cbc:PriceAmount", "BT-146", "Item net price"),
        discount=allowance.decimal("cbc:Amount", "BT-147", "Item price discount") if allowance else None,
        gross_price=allowance.decimal("cbc:BaseAmount", "BT-148", "Item gross price") if allowance else None,
        base_quantity=at.decimal("cbc:BaseQuantity", "BT-149", "Item price base quantity"),
        base_quantity_unit_code=at.attribute("cbc:BaseQuantity", "unitCode"),
    )


def _line_vat(at: _At) -> LineVat:
    """BG-30 from cac:Item/cac:ClassifiedTaxCategory."""
    return LineVat(category=at.vat_category("cbc:ID", "BT-151", "Invoiced item VAT category code"),
                   rate=at.decimal("cbc:Percent", "BT-152", "Invoiced item VAT rate"))


def _item(at: _At) -> Item:
    """BG-31 with BG-32."""
    return Item(
        name=at.required("cbc:Name", "BT-153", "Item name"),
        description=at.text("cbc:Description"),
        sellers_id=at.text("cac:SellersItemIdentification/cbc:ID"),
        buyers_id=at.text("cac:BuyersItemIdentification/cbc:ID"),
        standard_id=at.identifier("cac:StandardItemIdentification/cbc:ID"),
        classifications=tuple(Classification(
            code=c.text(".") or "", list_id=c.element.get("listID"), list_version=c.element.get("listVersionID"),
        ) for c in at.all("cac:CommodityClassification/cbc:ItemClassificationCode")),
        origin_country=at.text("cac:OriginCountry/cbc:IdentificationCode"),
        attributes=tuple(ItemAttribute(
            name=p.required("cbc:Name", "BT-160", "Item attribute name"),
            value=p.required("cbc:Value", "BT-161", "Item attribute value"),
        ) for p in at.all("cac:AdditionalItemProperty")),
    )
