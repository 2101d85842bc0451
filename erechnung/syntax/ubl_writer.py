"""Write the model as a UBL 2.1 Invoice, or CreditNote when BT-3 is a credit note type code.

The functions below follow the sequence of the UBL 2.1 maindoc schemas top to bottom (element order is
part of XSD validity), one function per business group. The mapping is the EN 16931-3-2 UBL binding as
XRechnung 3.0.2 uses it; where UBL needs more than the model holds, the choice is noted at the function.
"""
from __future__ import annotations

import base64
from datetime import date
from decimal import Decimal

from lxml import etree

from ..errors import DocumentWriteError
from ..model import (
    Buyer, Contact, Delivery, DocumentAllowance, DocumentCharge, Identifier, Invoice, InvoiceLine, Item,
    LineAllowance, LineCharge, Payee, PaymentInstructions, Period, PostalAddress, PriceDetails, Seller,
    SupportingDocument, TaxRepresentative, VatBreakdown, VatCategory,
)
from .ubl_names import (
    CAC, CBC, CREDIT_NOTE_NS, INVOICE_NS, NETWORK_ID_UNKNOWN, OBJECT_IDENTIFIER_DOCUMENT_TYPE,
    PROJECT_REFERENCE_DOCUMENT_TYPE, SALES_ORDER_ONLY_ORDER_ID, SEPA_SCHEME, TAX_REGISTRATION_SCHEME, VAT_SCHEME,
    note_text,
)


def write_ubl(invoice: Invoice) -> bytes:
    """The invoice as UBL 2.1 XML (UTF-8, with declaration)."""
    doc = _Document(invoice)
    root = doc.root
    _process_control(root, invoice)                                    # BG-2
    _identification(doc, invoice)                                      # BT-1, BT-2, BT-9, BT-3, BG-1, BT-7
    _currencies_and_buyer_references(root, invoice)                    # BT-5, BT-6, BT-19, BT-10
    _invoicing_period(root, invoice)                                   # BG-14, BT-8
    _order_reference(root, invoice)                                    # BT-13, BT-14
    _preceding_invoices(root, invoice)                                 # BG-3
    _document_id(root, "DespatchDocumentReference", invoice.despatch_advice_reference)    # BT-16
    _document_id(root, "ReceiptDocumentReference", invoice.receiving_advice_reference)    # BT-15
    if not doc.credit_note:
        _document_id(root, "OriginatorDocumentReference", invoice.tender_or_lot_reference)  # BT-17
    _document_id(root, "ContractDocumentReference", invoice.contract_reference)          # BT-12
    _additional_document_references(doc, invoice)                      # BG-24, BT-18, (BT-11 credit note)
    if doc.credit_note:
        _document_id(root, "OriginatorDocumentReference", invoice.tender_or_lot_reference)  # BT-17
    else:
        _document_id(root, "ProjectReference", invoice.project_reference)                   # BT-11
    _seller(doc, invoice.seller)                                       # BG-4
    _buyer(root, invoice.buyer)                                        # BG-7
    if invoice.payee is not None:
        _payee(doc, invoice.payee)                                     # BG-10
    if invoice.tax_representative is not None:
        _tax_representative(root, invoice.tax_representative)          # BG-11
    if invoice.delivery is not None:
        _delivery(root, invoice.delivery)                              # BG-13
    _payment_instructions(doc, invoice)                                # BG-16
    _payment_terms(root, invoice)                                      # BT-20
    _third_party_payments(doc, invoice)                                # BG-DEX-09
    for allowance in invoice.allowances:                               # BG-20
        _document_allowance_charge(doc, root, allowance, charge=False)
    for charge in invoice.charges:                                     # BG-21
        _document_allowance_charge(doc, root, charge, charge=True)
    _tax_totals(doc, invoice)                                          # BT-110, BG-23, BT-111
    _document_totals(doc, invoice)                                     # BG-22
    for line in invoice.lines:                                         # BG-25
        _line(doc, line)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# --------------------------------------------------------------------------------------------- building blocks


class _Document:
    """The root element and what every part needs to know: document kind and the amounts' currency."""

    def __init__(self, invoice: Invoice) -> None:
        self.credit_note = invoice.is_credit_note
        ns = CREDIT_NOTE_NS if self.credit_note else INVOICE_NS
        self.root = etree.Element(f"{{{ns}}}{'CreditNote' if self.credit_note else 'Invoice'}",
                                  nsmap={None: ns, "cac": CAC, "cbc": CBC})
        self.currency = invoice.currency_code
        self.line_tag = "CreditNoteLine" if self.credit_note else "InvoiceLine"
        self.quantity_tag = "CreditedQuantity" if self.credit_note else "InvoicedQuantity"
        self.creditor_ids = _creditor_ids(invoice)
        self.has_payee = invoice.payee is not None


def _el(parent: etree._Element, ns: str, tag: str, text: str | None = None, **attributes: str | None,
        ) -> etree._Element:
    """Append ``ns:tag`` with ``text`` and the attributes that are not None."""
    element = etree.SubElement(parent, f"{{{ns}}}{tag}")
    if text is not None:
        element.text = text
    for name, value in attributes.items():
        if value is not None:
            element.set(name, value)
    return element


def _cbc(parent: etree._Element, tag: str, value: str | Decimal | date | None, **attributes: str | None) -> None:
    """Append ``cbc:tag`` when ``value`` is given (decimals as written, never in exponent notation)."""
    if value is not None:
        _el(parent, CBC, tag, _text(value), **attributes)


def _amount(parent: etree._Element, tag: str, value: Decimal | None, currency: str) -> None:
    _cbc(parent, tag, value, currencyID=currency)


def _text(value: str | Decimal | date) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _sub(parent: etree._Element, ns: str, tag: str, *, children: list[tuple[str, str, str | None]],
         when: bool = True) -> None:
    """Append ``ns:tag`` holding the given simple children (skipping None), when ``when``."""
    if when:
        element = _el(parent, ns, tag)
        for child_ns, child_tag, value in children:
            if value is not None:
                _el(element, child_ns, child_tag, value)


def _identifier(parent: etree._Element, tag: str, identifier: Identifier | None) -> None:
    if identifier is not None:
        _el(parent, CBC, tag, identifier.value, schemeID=identifier.scheme_id)


def _document_id(parent: etree._Element, tag: str, value: str | None) -> None:
    """A ``cac:*DocumentReference`` (or ProjectReference) that carries only its ``cbc:ID``."""
    if value is not None:
        _el(_el(parent, CAC, tag), CBC, "ID", value)


def _period(parent: etree._Element, period: Period | None, description_code: str | None = None) -> None:
    """BG-14 / BG-26 as ``cac:InvoicePeriod`` (with BT-8 as its DescriptionCode on the document)."""
    if (period is None or (period.start is None and period.end is None)) and description_code is None:
        return
    element = _el(parent, CAC, "InvoicePeriod")
    if period is not None:
        _cbc(element, "StartDate", period.start)
        _cbc(element, "EndDate", period.end)
    _cbc(element, "DescriptionCode", description_code)


def _tax_category(parent: etree._Element, tag: str, category: VatCategory, rate: Decimal | None,
                  exemption_code: str | None = None, exemption_reason: str | None = None) -> None:
    element = _el(parent, CAC, tag)
    _cbc(element, "ID", category.value)
    _cbc(element, "Percent", rate)
    _cbc(element, "TaxExemptionReasonCode", exemption_code)
    _cbc(element, "TaxExemptionReason", exemption_reason)
    _el(_el(element, CAC, "TaxScheme"), CBC, "ID", VAT_SCHEME)


def _postal_address(parent: etree._Element, tag: str, address: PostalAddress) -> None:
    """BG-5 / BG-8 / BG-12 / BG-15 (line 3 goes to cac:AddressLine, after the named fields)."""
    element = _el(parent, CAC, tag)
    _cbc(element, "StreetName", address.line1)
    _cbc(element, "AdditionalStreetName", address.line2)
    _cbc(element, "CityName", address.city)
    _cbc(element, "PostalZone", address.post_code)
    _cbc(element, "CountrySubentity", address.country_subdivision)
    if address.line3 is not None:
        _el(_el(element, CAC, "AddressLine"), CBC, "Line", address.line3)
    _el(_el(element, CAC, "Country"), CBC, "IdentificationCode", address.country_code)


def _contact(parent: etree._Element, contact: Contact | None) -> None:
    """BG-6 / BG-9."""
    if contact is not None:
        _sub(parent, CAC, "Contact", children=[(CBC, "Name", contact.name), (CBC, "Telephone", contact.telephone),
                                                (CBC, "ElectronicMail", contact.email)])


def _party_identification(parent: etree._Element, identifier: Identifier) -> None:
    _identifier(_el(parent, CAC, "PartyIdentification"), "ID", identifier)


def _party_tax_scheme(parent: etree._Element, company_id: str | None, scheme: str) -> None:
    if company_id is not None:
        element = _el(parent, CAC, "PartyTaxScheme")
        _cbc(element, "CompanyID", company_id)
        _el(_el(element, CAC, "TaxScheme"), CBC, "ID", scheme)


# --------------------------------------------------------------------------------------------- document header


def _process_control(root: etree._Element, invoice: Invoice) -> None:
    """BG-2: BT-24 specification identifier, BT-23 business process."""
    _cbc(root, "CustomizationID", invoice.process.specification)
    _cbc(root, "ProfileID", invoice.process.business_process)


def _identification(doc: _Document, invoice: Invoice) -> None:
    """BT-1, BT-2, BT-9 (Invoice only), BT-3, BG-1 notes and BT-7, in the order each document type wants."""
    root = doc.root
    _cbc(root, "ID", invoice.number)
    _cbc(root, "IssueDate", invoice.issue_date)
    if doc.credit_note:
        _cbc(root, "TaxPointDate", invoice.tax_point_date)
        _cbc(root, "CreditNoteTypeCode", invoice.type_code)
    else:
        _cbc(root, "DueDate", invoice.due_date)
        _cbc(root, "InvoiceTypeCode", invoice.type_code)
    for note in invoice.notes:
        _cbc(root, "Note", note_text(note.subject_code, note.text))
    if not doc.credit_note:
        _cbc(root, "TaxPointDate", invoice.tax_point_date)


def _currencies_and_buyer_references(root: etree._Element, invoice: Invoice) -> None:
    """BT-5, BT-6, BT-19 buyer accounting reference, BT-10 buyer reference (Leitweg-ID)."""
    _cbc(root, "DocumentCurrencyCode", invoice.currency_code)
    _cbc(root, "TaxCurrencyCode", invoice.tax_currency_code)
    _cbc(root, "AccountingCost", invoice.buyer_accounting_reference)
    _cbc(root, "BuyerReference", invoice.buyer_reference)


def _invoicing_period(root: etree._Element, invoice: Invoice) -> None:
    """BG-14 with BT-8 (value added tax point date code) as its DescriptionCode."""
    _period(root, invoice.invoicing_period, invoice.tax_point_date_code)


def _order_reference(root: etree._Element, invoice: Invoice) -> None:
    """BT-13 purchase order and BT-14 sales order; UBL needs an order ID, so a lone BT-14 gets 'NA'."""
    order, sales_order = invoice.purchase_order_reference, invoice.sales_order_reference
    if order is None and sales_order is None:
        return
    element = _el(root, CAC, "OrderReference")
    _cbc(element, "ID", order if order is not None else SALES_ORDER_ONLY_ORDER_ID)
    _cbc(element, "SalesOrderID", sales_order)


def _preceding_invoices(root: etree._Element, invoice: Invoice) -> None:
    """BG-3: BT-25 and BT-26."""
    for preceding in invoice.preceding_invoices:
        reference = _el(_el(root, CAC, "BillingReference"), CAC, "InvoiceDocumentReference")
        _cbc(reference, "ID", preceding.number)
        _cbc(reference, "IssueDate", preceding.issue_date)


def _additional_document_references(doc: _Document, invoice: Invoice) -> None:
    """BG-24 supporting documents, BT-18 (type code 130) and, in a CreditNote, BT-11 (type code 50)."""
    for document in invoice.supporting_documents:
        _supporting_document(doc.root, document)
    if invoice.invoiced_object_identifier is not None:
        reference = _el(doc.root, CAC, "AdditionalDocumentReference")
        _identifier(reference, "ID", invoice.invoiced_object_identifier)
        _cbc(reference, "DocumentTypeCode", OBJECT_IDENTIFIER_DOCUMENT_TYPE)
    if doc.credit_note and invoice.project_reference is not None:
        reference = _el(doc.root, CAC, "AdditionalDocumentReference")
        _cbc(reference, "ID", invoice.project_reference)
        _cbc(reference, "DocumentTypeCode", PROJECT_REFERENCE_DOCUMENT_TYPE)


def _supporting_document(root: etree._Element, document: SupportingDocument) -> None:
    """BG-24: BT-122 reference, BT-123 description, BT-125 attachment, BT-124 external location."""
    reference = _el(root, CAC, "AdditionalDocumentReference")
    _cbc(reference, "ID", document.reference)
    _cbc(reference, "DocumentDescription", document.description)
    if document.attachment is None and document.external_location is None:
        return
    attachment = _el(reference, CAC, "Attachment")
    if document.attachment is not None:
        _el(attachment, CBC, "EmbeddedDocumentBinaryObject",
            base64.b64encode(document.attachment.content).decode("ascii"),
            mimeCode=document.attachment.mime_code, filename=document.attachment.filename)
    if document.external_location is not None:
        _el(_el(attachment, CAC, "ExternalReference"), CBC, "URI", document.external_location)


# --------------------------------------------------------------------------------------------- parties


def _creditor_ids(invoice: Invoice) -> tuple[str, ...]:
    """BT-90 of every direct debit, once each, in order."""
    ids: list[str] = []
    for instructions in invoice.payment_instructions:
        debit = instructions.direct_debit
        if debit is not None and debit.creditor_id is not None and debit.creditor_id not in ids:
            ids.append(debit.creditor_id)
    return tuple(ids)


def _seller(doc: _Document, seller: Seller) -> None:
    """BG-4 as cac:AccountingSupplierParty; BT-90 is a SEPA-schemed PartyIdentification here unless a
    payee (BG-10) exists, which then carries it (EN 16931-3-2 and Peppol BIS Billing)."""
    party = _el(_el(doc.root, CAC, "AccountingSupplierParty"), CAC, "Party")
    if seller.electronic_address is not None:                                            # BT-34
        _el(party, CBC, "EndpointID", seller.electronic_address.value,
            schemeID=seller.electronic_address.scheme_id)
    for identifier in seller.identifiers:                                                # BT-29
        _party_identification(party, identifier)
    if not doc.has_payee:
        for creditor_id in doc.creditor_ids:                                             # BT-90
            _party_identification(party, Identifier(value=creditor_id, scheme_id=SEPA_SCHEME))
    if seller.trading_name is not None:                                                  # BT-28
        _el(_el(party, CAC, "PartyName"), CBC, "Name", seller.trading_name)
    _postal_address(party, "PostalAddress", seller.address)                             # BG-5
    _party_tax_scheme(party, seller.vat_id, VAT_SCHEME)                                  # BT-31
    _party_tax_scheme(party, seller.tax_registration_id, TAX_REGISTRATION_SCHEME)                          # BT-32
    legal = _el(party, CAC, "PartyLegalEntity")
    _cbc(legal, "RegistrationName", seller.name)                                        # BT-27
    _identifier(legal, "CompanyID", seller.legal_registration_id)                       # BT-30
    _cbc(legal, "CompanyLegalForm", seller.additional_legal_info)                       # BT-33
    _contact(party, seller.contact)                                                      # BG-6


def _buyer(root: etree._Element, buyer: Buyer) -> None:
    """BG-7 as cac:AccountingCustomerParty."""
    party = _el(_el(root, CAC, "AccountingCustomerParty"), CAC, "Party")
    if buyer.electronic_address is not None:                                             # BT-49
        _el(party, CBC, "EndpointID", buyer.electronic_address.value,
            schemeID=buyer.electronic_address.scheme_id)
    if buyer.identifier is not None:                                                     # BT-46
        _party_identification(party, buyer.identifier)
    if buyer.trading_name is not None:                                                   # BT-45
        _el(_el(party, CAC, "PartyName"), CBC, "Name", buyer.trading_name)
    _postal_address(party, "PostalAddress", buyer.address)                              # BG-8
    _party_tax_scheme(party, buyer.vat_id, VAT_SCHEME)                                   # BT-48
    legal = _el(party, CAC, "PartyLegalEntity")
    _cbc(legal, "RegistrationName", buyer.name)                                         # BT-44
    _identifier(legal, "CompanyID", buyer.legal_registration_id)                        # BT-47
    _contact(party, buyer.contact)                                                       # BG-9


def _payee(doc: _Document, payee: Payee) -> None:
    """BG-10 as cac:PayeeParty, carrying BT-90 (SEPA creditor identifier) when there is a direct debit."""
    party = _el(doc.root, CAC, "PayeeParty")
    if payee.identifier is not None:                                                     # BT-60
        _party_identification(party, payee.identifier)
    for creditor_id in doc.creditor_ids:                                                 # BT-90
        _party_identification(party, Identifier(value=creditor_id, scheme_id=SEPA_SCHEME))
    _el(_el(party, CAC, "PartyName"), CBC, "Name", payee.name)                           # BT-59
    if payee.legal_registration_id is not None:                                          # BT-61
        _identifier(_el(party, CAC, "PartyLegalEntity"), "CompanyID", payee.legal_registration_id)


def _tax_representative(root: etree._Element, representative: TaxRepresentative) -> None:
    """BG-11 as cac:TaxRepresentativeParty: BT-62 name, BG-12 address, BT-63 VAT identifier."""
    party = _el(root, CAC, "TaxRepresentativeParty")
    _el(_el(party, CAC, "PartyName"), CBC, "Name", representative.name)
    _postal_address(party, "PostalAddress", representative.address)
    _party_tax_scheme(party, representative.vat_id, VAT_SCHEME)


def _delivery(root: etree._Element, delivery: Delivery) -> None:
    """BG-13: BT-72 date, BT-71 location identifier, BG-15 address, BT-70 deliver-to party name."""
    element = _el(root, CAC, "Delivery")
    _cbc(element, "ActualDeliveryDate", delivery.actual_delivery_date)
    if delivery.location_id is not None or delivery.address is not None:
        location = _el(element, CAC, "DeliveryLocation")
        _identifier(location, "ID", delivery.location_id)
        if delivery.address is not None:
            _postal_address(location, "Address", delivery.address)
    if delivery.party_name is not None:
        _el(_el(_el(element, CAC, "DeliveryParty"), CAC, "PartyName"), CBC, "Name", delivery.party_name)


# --------------------------------------------------------------------------------------------- payment


def _payment_instructions(doc: _Document, invoice: Invoice) -> None:
    """BG-16 as cac:PaymentMeans, one per credit transfer account (UBL holds one account per PaymentMeans);
    in a CreditNote each also carries BT-9 as cbc:PaymentDueDate, the only place UBL has for it there."""
    due_date = invoice.due_date if doc.credit_note else None
    if due_date is not None and not invoice.payment_instructions:
        raise DocumentWriteError("BT-9 Payment due date: a UBL CreditNote carries it in cac:PaymentMeans, so the credit "
                         "note needs a payment instruction (BG-16) to keep it")
    for instructions in invoice.payment_instructions:
        transfers = instructions.credit_transfers or (None,)
        for index, transfer in enumerate(transfers):
            means = _el(doc.root, CAC, "PaymentMeans")
            _el(means, CBC, "PaymentMeansCode", instructions.means_code, name=instructions.means_text)  # BT-81/82
            _cbc(means, "PaymentDueDate", due_date)                                                     # BT-9
            _cbc(means, "PaymentID", instructions.remittance_information)                              # BT-83
            if index == 0:
                _payment_card(means, instructions)                                                      # BG-18
            if transfer is not None:                                                                     # BG-17
                account = _el(means, CAC, "PayeeFinancialAccount")
                _cbc(account, "ID", transfer.account_id)
                _cbc(account, "Name", transfer.account_name)
                if transfer.service_provider_id is not None:
                    _el(_el(account, CAC, "FinancialInstitutionBranch"), CBC, "ID", transfer.service_provider_id)
            if index == 0:
                _direct_debit(means, instructions)                                                      # BG-19


def _payment_card(means: etree._Element, instructions: PaymentInstructions) -> None:
    """BG-18; UBL requires a card network (cbc:NetworkID) that EN 16931 does not have: written as 'NA'."""
    card = instructions.card
    if card is not None:
        account = _el(means, CAC, "CardAccount")
        _cbc(account, "PrimaryAccountNumberID", card.primary_account_number)
        _cbc(account, "NetworkID", NETWORK_ID_UNKNOWN)
        _cbc(account, "HolderName", card.holder_name)


def _direct_debit(means: etree._Element, instructions: PaymentInstructions) -> None:
    """BG-19: BT-89 mandate and BT-91 debited account (BT-90 lives on the seller or payee party)."""
    debit = instructions.direct_debit
    if debit is not None and (debit.mandate_reference is not None or debit.debited_account_id is not None):
        mandate = _el(means, CAC, "PaymentMandate")
        _cbc(mandate, "ID", debit.mandate_reference)
        if debit.debited_account_id is not None:
            _el(_el(mandate, CAC, "PayerFinancialAccount"), CBC, "ID", debit.debited_account_id)


def _payment_terms(root: etree._Element, invoice: Invoice) -> None:
    """BT-20 as cac:PaymentTerms/cbc:Note (XRechnung's #SKONTO# lines travel inside it as written)."""
    _sub(root, CAC, "PaymentTerms", children=[(CBC, "Note", invoice.payment_terms)],
         when=invoice.payment_terms is not None)


def _third_party_payments(doc: _Document, invoice: Invoice) -> None:
    """BG-DEX-09 (XRechnung extension) as cac:PrepaidPayment, which only the UBL Invoice has."""
    if invoice.third_party_payments and doc.credit_note:
        raise DocumentWriteError("BG-DEX-09 Third party payment: a UBL CreditNote has no cac:PrepaidPayment to carry it")
    for payment in invoice.third_party_payments:
        element = _el(doc.root, CAC, "PrepaidPayment")
        _cbc(element, "ID", payment.payment_type)                                       # BT-DEX-001
        _amount(element, "PaidAmount", payment.amount, doc.currency)                   # BT-DEX-002
        _cbc(element, "InstructionID", payment.description)                            # BT-DEX-003


# --------------------------------------------------------------------------------------------- allowances, charges


def _document_allowance_charge(doc: _Document, root: etree._Element,
                               item: DocumentAllowance | DocumentCharge, *, charge: bool) -> None:
    """BG-20 (BT-92..98) / BG-21 (BT-99..105) as cac:AllowanceCharge with its VAT category."""
    element = _allowance_charge_head(root, charge, item.reason_code, item.reason, item.percentage)
    _amount(element, "Amount", item.amount, doc.currency)
    _amount(element, "BaseAmount", item.base_amount, doc.currency)
    _tax_category(element, "TaxCategory", item.vat_category, item.vat_rate)


def _allowance_charge_head(parent: etree._Element, charge: bool, reason_code: str | None, reason: str | None,
                           percentage: Decimal | None) -> etree._Element:
    element = _el(parent, CAC, "AllowanceCharge")
    _cbc(element, "ChargeIndicator", "true" if charge else "false")
    _cbc(element, "AllowanceChargeReasonCode", reason_code)
    _cbc(element, "AllowanceChargeReason", reason)
    _cbc(element, "MultiplierFactorNumeric", percentage)
    return element


# --------------------------------------------------------------------------------------------- totals, VAT


def _tax_totals(doc: _Document, invoice: Invoice) -> None:
    """BT-110 with the BG-23 breakdown, then BT-111 in the VAT accounting currency (BT-6) on its own.

    UBL cannot hold a breakdown without a total, so a missing BT-110 is written as the sum of BT-117
    (which BR-CO-14 demands it to be)."""
    totals = invoice.totals
    if invoice.vat_breakdown or totals.tax_amount is not None:
        tax_amount = totals.tax_amount
        if tax_amount is None:
            tax_amount = sum((vat.tax_amount for vat in invoice.vat_breakdown), Decimal(0))
        element = _el(doc.root, CAC, "TaxTotal")
        _amount(element, "TaxAmount", tax_amount, doc.currency)
        for vat in invoice.vat_breakdown:
            _vat_breakdown(doc, element, vat)
    if totals.tax_amount_in_tax_currency is not None:
        element = _el(doc.root, CAC, "TaxTotal")
        _amount(element, "TaxAmount", totals.tax_amount_in_tax_currency,
                invoice.tax_currency_code or invoice.currency_code)


def _vat_breakdown(doc: _Document, tax_total: etree._Element, vat: VatBreakdown) -> None:
    """BG-23: BT-116 .. BT-121."""
    element = _el(tax_total, CAC, "TaxSubtotal")
    _amount(element, "TaxableAmount", vat.taxable_amount, doc.currency)
    _amount(element, "TaxAmount", vat.tax_amount, doc.currency)
    _tax_category(element, "TaxCategory", vat.category, vat.rate, vat.exemption_reason_code, vat.exemption_reason)


def _document_totals(doc: _Document, invoice: Invoice) -> None:
    """BG-22 as cac:LegalMonetaryTotal (BT-110/111 are in cac:TaxTotal)."""
    totals = invoice.totals
    element = _el(doc.root, CAC, "LegalMonetaryTotal")
    _amount(element, "LineExtensionAmount", totals.line_net_total, doc.currency)        # BT-106
    _amount(element, "TaxExclusiveAmount", totals.tax_exclusive_amount, doc.currency)   # BT-109
    _amount(element, "TaxInclusiveAmount", totals.tax_inclusive_amount, doc.currency)   # BT-112
    _amount(element, "AllowanceTotalAmount", totals.allowance_total, doc.currency)      # BT-107
    _amount(element, "ChargeTotalAmount", totals.charge_total, doc.currency)            # BT-108
    _amount(element, "PrepaidAmount", totals.prepaid_amount, doc.currency)              # BT-113
    _amount(element, "PayableRoundingAmount", totals.rounding_amount, doc.currency)     # BT-114
    _amount(element, "PayableAmount", totals.payable_amount, doc.currency)              # BT-115


# --------------------------------------------------------------------------------------------- lines


def _line(doc: _Document, line: InvoiceLine) -> None:
    """BG-25 as cac:InvoiceLine / cac:CreditNoteLine."""
    element = _el(doc.root, CAC, doc.line_tag)
    _cbc(element, "ID", line.id)                                                         # BT-126
    _cbc(element, "Note", line.note)                                                     # BT-127
    _cbc(element, doc.quantity_tag, line.quantity, unitCode=line.unit_code)             # BT-129, BT-130
    _amount(element, "LineExtensionAmount", line.net_amount, doc.currency)              # BT-131
    _cbc(element, "AccountingCost", line.buyer_accounting_reference)                    # BT-133
    _period(element, line.period)                                                        # BG-26
    if line.order_line_reference is not None:                                            # BT-132
        _el(_el(element, CAC, "OrderLineReference"), CBC, "LineID", line.order_line_reference)
    if line.object_identifier is not None:                                               # BT-128
        reference = _el(element, CAC, "DocumentReference")
        _identifier(reference, "ID", line.object_identifier)
        _cbc(reference, "DocumentTypeCode", OBJECT_IDENTIFIER_DOCUMENT_TYPE)
    for allowance in line.allowances:                                                    # BG-27
        _line_allowance_charge(doc, element, allowance, charge=False)
    for charge in line.charges:                                                          # BG-28
        _line_allowance_charge(doc, element, charge, charge=True)
    _item(element, line)                                                                 # BG-31, BG-30
    _price(doc, element, line.price)                                                     # BG-29


def _line_allowance_charge(doc: _Document, parent: etree._Element, item: LineAllowance | LineCharge, *,
                           charge: bool) -> None:
    """BG-27 (BT-136..140) / BG-28 (BT-141..145)."""
    element = _allowance_charge_head(parent, charge, item.reason_code, item.reason, item.percentage)
    _amount(element, "Amount", item.amount, doc.currency)
    _amount(element, "BaseAmount", item.base_amount, doc.currency)


def _item(parent: etree._Element, line: InvoiceLine) -> None:
    """BG-31 item information with BG-30 (cac:ClassifiedTaxCategory) and BG-32 attributes."""
    item: Item = line.item
    element = _el(parent, CAC, "Item")
    _cbc(element, "Description", item.description)                                      # BT-154
    _cbc(element, "Name", item.name)                                                     # BT-153
    for tag, value in (("BuyersItemIdentification", item.buyers_id),                    # BT-156
                       ("SellersItemIdentification", item.sellers_id)):                 # BT-155
        if value is not None:
            _el(_el(element, CAC, tag), CBC, "ID", value)
    if item.standard_id is not None:                                                     # BT-157
        _identifier(_el(element, CAC, "StandardItemIdentification"), "ID", item.standard_id)
    if item.origin_country is not None:                                                  # BT-159
        _el(_el(element, CAC, "OriginCountry"), CBC, "IdentificationCode", item.origin_country)
    for classification in item.classifications:                                          # BT-158
        _el(_el(element, CAC, "CommodityClassification"), CBC, "ItemClassificationCode", classification.code,
            listID=classification.list_id, listVersionID=classification.list_version)
    _tax_category(element, "ClassifiedTaxCategory", line.vat.category, line.vat.rate)   # BG-30
    for attribute in item.attributes:                                                    # BG-32
        _sub(element, CAC, "AdditionalItemProperty",
             children=[(CBC, "Name", attribute.name), (CBC, "Value", attribute.value)])


def _price(doc: _Document, parent: etree._Element, price: PriceDetails) -> None:
    """BG-29: BT-146 net price, BT-149/150 base quantity, BT-147/148 as the price's allowance.

    UBL's price allowance needs an amount; a gross price without a discount is written with the
    discount it implies (gross - net)."""
    element = _el(parent, CAC, "Price")
    _amount(element, "PriceAmount", price.net_price, doc.currency)
    if price.base_quantity is not None:
        _cbc(element, "BaseQuantity", price.base_quantity, unitCode=price.base_quantity_unit_code)
    if price.discount is not None or price.gross_price is not None:
        discount = price.discount
        if discount is None:
            discount = price.gross_price - price.net_price  # type: ignore[operator]
        allowance = _el(element, CAC, "AllowanceCharge")
        _cbc(allowance, "ChargeIndicator", "false")
        _amount(allowance, "Amount", discount, doc.currency)
        _amount(allowance, "BaseAmount", price.gross_price, doc.currency)
