"""Write the model as a UN/CEFACT CrossIndustryInvoice D16B, the way XRechnung 3.0.2 uses it.

The functions below follow the CII schema's sequence from top to bottom (element order decides XSD
validity), one small function per business group; ``cii_reader`` mirrors them. Amounts and quantities are
written exactly as the model holds them (plain decimal notation, never through float); dates as
``udt:DateTimeString format="102"`` (CCYYMMDD).

Where CII has one place for what the model keeps per payment instruction (BT-83 remittance information,
BT-89 mandate, BT-90 creditor id), the writer takes the first value; BT-7 and BT-8, which CII keeps in a VAT
breakdown, go into the first one; BT-8 is mapped from UNTDID 2005 to the UNTDID 2475 code CII uses.
"""
from __future__ import annotations

import base64
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import TypeVar

from lxml import etree

from ..errors import DocumentWriteError
from ..model import (
    Buyer, Classification, Contact, CreditTransfer, Delivery, DocumentAllowance, DocumentCharge, DocumentTotals,
    ElectronicAddress, Identifier, Invoice, InvoiceLine, Item, LineAllowance, LineCharge, Payee,
    PaymentInstructions, Period, PostalAddress, PrecedingInvoice, PriceDetails, Seller, SupportingDocument,
    TaxRepresentative, VatBreakdown,
)
from .cii_names import (
    DATE_FORMAT, INVOICED_OBJECT, NSMAP, QDT, RAM, RSM, SUPPORTING_DOCUMENT, TAX_POINT_DATE_CODE_TO_CII,
    TENDER_OR_LOT, UDT, VAT,
)

T = TypeVar("T")


class CiiWriteError(DocumentWriteError):
    """The invoice holds something the CII D16B syntax cannot carry."""


def write_cii(invoice: Invoice) -> bytes:
    """The invoice as CII D16B XML (UTF-8, with XML declaration).

    Raises ``CiiWriteError`` for what CII cannot carry: more than one preceding invoice (BG-3) and third
    party payments (BG-DEX-09, which XRechnung binds to UBL only).
    """
    if invoice.third_party_payments:
        raise CiiWriteError("the invoice has third party payments (BG-DEX-09), which XRechnung defines for UBL "
                            "only; send it as UBL")
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NSMAP)
    _exchanged_document_context(root, invoice)
    _exchanged_document(root, invoice)
    _supply_chain_trade_transaction(root, invoice)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# --------------------------------------------------------------------------------------------- building blocks


def _rsm(parent: etree._Element, name: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{RSM}}}{name}")


def _ram(parent: etree._Element, name: str, text: str | None = None, **attributes: str | None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{RAM}}}{name}")
    for key, value in attributes.items():
        if value is not None:
            element.set(key, value)
    if text is not None:
        element.text = text
    return element


def _number(value: Decimal) -> str:
    """The decimal as given, in plain notation (``1E+2`` would not be an xsd:decimal)."""
    return format(value, "f")


def _yyyymmdd(value: date) -> str:
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def _date_time(parent: etree._Element, name: str, value: date) -> None:
    """``ram:<name>/udt:DateTimeString[@format=102]``."""
    etree.SubElement(_ram(parent, name), f"{{{UDT}}}DateTimeString", format=DATE_FORMAT).text = _yyyymmdd(value)


def _indicator(parent: etree._Element, is_charge: bool) -> None:
    etree.SubElement(_ram(parent, "ChargeIndicator"), f"{{{UDT}}}Indicator").text = "true" if is_charge else "false"


def _id_or_global_id(parent: etree._Element, identifier: Identifier) -> None:
    """An identifier without scheme is ``ram:ID``; with a scheme (ISO 6523 ICD) ``ram:GlobalID/@schemeID``."""
    if identifier.scheme_id is None:
        _ram(parent, "ID", identifier.value)
    else:
        _ram(parent, "GlobalID", identifier.value, schemeID=identifier.scheme_id)


def _party_identifiers(parent: etree._Element, identifiers: tuple[Identifier, ...]) -> None:
    """All ``ram:ID`` before all ``ram:GlobalID``, as the schema's sequence wants."""
    for identifier in identifiers:
        if identifier.scheme_id is None:
            _id_or_global_id(parent, identifier)
    for identifier in identifiers:
        if identifier.scheme_id is not None:
            _id_or_global_id(parent, identifier)


def _legal_organization(parent: etree._Element, registration: Identifier | None, trading_name: str | None) -> None:
    """BT-30/BT-47/BT-61 legal registration id and BT-28/BT-45 trading name."""
    if registration is None and trading_name is None:
        return
    organization = _ram(parent, "SpecifiedLegalOrganization")
    if registration is not None:
        _ram(organization, "ID", registration.value, schemeID=registration.scheme_id)
    if trading_name is not None:
        _ram(organization, "TradingBusinessName", trading_name)


def _contact(parent: etree._Element, contact: Contact | None) -> None:
    """BG-6 / BG-9."""
    if contact is None:
        return
    element = _ram(parent, "DefinedTradeContact")
    if contact.name is not None:
        _ram(element, "PersonName", contact.name)
    if contact.telephone is not None:
        _ram(_ram(element, "TelephoneUniversalCommunication"), "CompleteNumber", contact.telephone)
    if contact.email is not None:
        _ram(_ram(element, "EmailURIUniversalCommunication"), "URIID", contact.email)


def _postal_address(parent: etree._Element, address: PostalAddress | None) -> None:
    """BG-5 / BG-8 / BG-12 / BG-15."""
    if address is None:
        return
    element = _ram(parent, "PostalTradeAddress")
    for name, value in (("PostcodeCode", address.post_code), ("LineOne", address.line1),
                        ("LineTwo", address.line2), ("LineThree", address.line3), ("CityName", address.city),
                        ("CountryID", address.country_code),
                        ("CountrySubDivisionName", address.country_subdivision)):
        if value is not None:
            _ram(element, name, value)


def _electronic_address(parent: etree._Element, address: ElectronicAddress | None) -> None:
    """BT-34 / BT-49."""
    if address is not None:
        _ram(_ram(parent, "URIUniversalCommunication"), "URIID", address.value, schemeID=address.scheme_id)


def _tax_registrations(parent: etree._Element, vat_id: str | None, tax_number: str | None = None) -> None:
    """VAT identifier (scheme VA: BT-31, BT-48, BT-63) and tax number (scheme FC: BT-32)."""
    for scheme, value in (("VA", vat_id), ("FC", tax_number)):
        if value is not None:
            _ram(_ram(parent, "SpecifiedTaxRegistration"), "ID", value, schemeID=scheme)


def _period(parent: etree._Element, period: Period | None) -> None:
    """BG-14 / BG-26 as ``ram:BillingSpecifiedPeriod``."""
    if period is None:
        return
    element = _ram(parent, "BillingSpecifiedPeriod")
    if period.start is not None:
        _date_time(element, "StartDateTime", period.start)
    if period.end is not None:
        _date_time(element, "EndDateTime", period.end)


def _referenced_document(parent: etree._Element, name: str, issuer_assigned_id: str | None) -> None:
    if issuer_assigned_id is not None:
        _ram(_ram(parent, name), "IssuerAssignedID", issuer_assigned_id)


# --------------------------------------------------------------------------------------------- header


def _exchanged_document_context(root: etree._Element, invoice: Invoice) -> None:
    """BG-2 PROCESS CONTROL: BT-23 business process, BT-24 specification identifier."""
    context = _rsm(root, "ExchangedDocumentContext")
    if invoice.process.business_process is not None:
        _ram(_ram(context, "BusinessProcessSpecifiedDocumentContextParameter"), "ID",
             invoice.process.business_process)
    _ram(_ram(context, "GuidelineSpecifiedDocumentContextParameter"), "ID", invoice.process.specification)


def _exchanged_document(root: etree._Element, invoice: Invoice) -> None:
    """BT-1 number, BT-3 type code, BT-2 issue date, BG-1 notes."""
    document = _rsm(root, "ExchangedDocument")
    _ram(document, "ID", invoice.number)
    _ram(document, "TypeCode", invoice.type_code)
    _date_time(document, "IssueDateTime", invoice.issue_date)
    for note in invoice.notes:
        element = _ram(document, "IncludedNote")
        _ram(element, "Content", note.text)
        if note.subject_code is not None:
            _ram(element, "SubjectCode", note.subject_code)


def _supply_chain_trade_transaction(root: etree._Element, invoice: Invoice) -> None:
    transaction = _rsm(root, "SupplyChainTradeTransaction")
    for line in invoice.lines:
        _line(transaction, line)
    _header_trade_agreement(transaction, invoice)
    _header_trade_delivery(transaction, invoice)
    _header_trade_settlement(transaction, invoice)


# --------------------------------------------------------------------------------------------- lines


def _line(transaction: etree._Element, line: InvoiceLine) -> None:
    """BG-25 INVOICE LINE."""
    item = _ram(transaction, "IncludedSupplyChainTradeLineItem")
    document = _ram(item, "AssociatedDocumentLineDocument")
    _ram(document, "LineID", line.id)
    if line.note is not None:
        _ram(_ram(document, "IncludedNote"), "Content", line.note)
    _trade_product(item, line.item)
    _line_trade_agreement(item, line)
    _ram(_ram(item, "SpecifiedLineTradeDelivery"), "BilledQuantity", _number(line.quantity), unitCode=line.unit_code)
    _line_trade_settlement(item, line)


def _trade_product(item: etree._Element, product: Item) -> None:
    """BG-31 ITEM INFORMATION with BG-32 attributes."""
    element = _ram(item, "SpecifiedTradeProduct")
    if product.standard_id is not None:
        _ram(element, "GlobalID", product.standard_id.value, schemeID=product.standard_id.scheme_id)
    if product.sellers_id is not None:
        _ram(element, "SellerAssignedID", product.sellers_id)
    if product.buyers_id is not None:
        _ram(element, "BuyerAssignedID", product.buyers_id)
    _ram(element, "Name", product.name)
    if product.description is not None:
        _ram(element, "Description", product.description)
    for attribute in product.attributes:
        characteristic = _ram(element, "ApplicableProductCharacteristic")
        _ram(characteristic, "Description", attribute.name)
        _ram(characteristic, "Value", attribute.value)
    for classification in product.classifications:
        _classification(element, classification)
    if product.origin_country is not None:
        _ram(_ram(element, "OriginTradeCountry"), "ID", product.origin_country)


def _classification(product: etree._Element, classification: Classification) -> None:
    """BT-158 with BT-158-1 scheme and BT-158-2 version."""
    _ram(_ram(product, "DesignatedProductClassification"), "ClassCode", classification.code,
         listID=classification.list_id, listVersionID=classification.list_version)


def _line_trade_agreement(item: etree._Element, line: InvoiceLine) -> None:
    """BT-132 order line reference and BG-29 PRICE DETAILS."""
    agreement = _ram(item, "SpecifiedLineTradeAgreement")
    if line.order_line_reference is not None:
        _ram(_ram(agreement, "BuyerOrderReferencedDocument"), "LineID", line.order_line_reference)
    _gross_price(agreement, line.price)
    net = _ram(agreement, "NetPriceProductTradePrice")
    _ram(net, "ChargeAmount", _number(line.price.net_price))
    _basis_quantity(net, line.price)


def _gross_price(agreement: etree._Element, price: PriceDetails) -> None:
    """BT-148 gross price with BT-147 discount as its one allowance (a discount needs a gross price)."""
    if price.gross_price is None:
        return
    gross = _ram(agreement, "GrossPriceProductTradePrice")
    _ram(gross, "ChargeAmount", _number(price.gross_price))
    _basis_quantity(gross, price)
    if price.discount is not None:
        allowance = _ram(gross, "AppliedTradeAllowanceCharge")
        _indicator(allowance, is_charge=False)
        _ram(allowance, "ActualAmount", _number(price.discount))


def _basis_quantity(price_element: etree._Element, price: PriceDetails) -> None:
    """BT-149/BT-150, written on gross and net price alike (BR-TMP-3 wants them identical)."""
    if price.base_quantity is not None:
        _ram(price_element, "BasisQuantity", _number(price.base_quantity), unitCode=price.base_quantity_unit_code)


def _line_trade_settlement(item: etree._Element, line: InvoiceLine) -> None:
    """BG-30 line VAT, BG-26 period, BG-27/28, BT-131, BT-128, BT-133."""
    settlement = _ram(item, "SpecifiedLineTradeSettlement")
    tax = _ram(settlement, "ApplicableTradeTax")
    _ram(tax, "TypeCode", VAT)
    _ram(tax, "CategoryCode", line.vat.category.value)
    if line.vat.rate is not None:
        _ram(tax, "RateApplicablePercent", _number(line.vat.rate))
    _period(settlement, line.period)
    for allowance in line.allowances:
        _line_allowance_charge(settlement, allowance, is_charge=False)
    for charge in line.charges:
        _line_allowance_charge(settlement, charge, is_charge=True)
    _ram(_ram(settlement, "SpecifiedTradeSettlementLineMonetarySummation"), "LineTotalAmount",
         _number(line.net_amount))
    if line.object_identifier is not None:
        document = _ram(settlement, "AdditionalReferencedDocument")
        _ram(document, "IssuerAssignedID", line.object_identifier.value)
        _ram(document, "TypeCode", INVOICED_OBJECT)
        if line.object_identifier.scheme_id is not None:
            _ram(document, "ReferenceTypeCode", line.object_identifier.scheme_id)
    if line.buyer_accounting_reference is not None:
        _ram(_ram(settlement, "ReceivableSpecifiedTradeAccountingAccount"), "ID", line.buyer_accounting_reference)


def _line_allowance_charge(settlement: etree._Element, entry: LineAllowance | LineCharge, is_charge: bool) -> None:
    """BG-27 line allowance / BG-28 line charge."""
    element = _ram(settlement, "SpecifiedTradeAllowanceCharge")
    _allowance_charge_amounts(element, entry, is_charge)


def _allowance_charge_amounts(element: etree._Element,
                              entry: LineAllowance | LineCharge | DocumentAllowance | DocumentCharge,
                              is_charge: bool) -> None:
    _indicator(element, is_charge)
    if entry.percentage is not None:
        _ram(element, "CalculationPercent", _number(entry.percentage))
    if entry.base_amount is not None:
        _ram(element, "BasisAmount", _number(entry.base_amount))
    _ram(element, "ActualAmount", _number(entry.amount))
    if entry.reason_code is not None:
        _ram(element, "ReasonCode", entry.reason_code)
    if entry.reason is not None:
        _ram(element, "Reason", entry.reason)


# --------------------------------------------------------------------------------------------- agreement


def _header_trade_agreement(transaction: etree._Element, invoice: Invoice) -> None:
    """BT-10, BG-4, BG-7, BG-11, BT-14, BT-13, BT-12, BG-24, BT-17, BT-18, BT-11."""
    agreement = _ram(transaction, "ApplicableHeaderTradeAgreement")
    if invoice.buyer_reference is not None:
        _ram(agreement, "BuyerReference", invoice.buyer_reference)
    _seller(agreement, invoice.seller)
    _buyer(agreement, invoice.buyer)
    _tax_representative(agreement, invoice.tax_representative)
    _referenced_document(agreement, "SellerOrderReferencedDocument", invoice.sales_order_reference)
    _referenced_document(agreement, "BuyerOrderReferencedDocument", invoice.purchase_order_reference)
    _referenced_document(agreement, "ContractReferencedDocument", invoice.contract_reference)
    for document in invoice.supporting_documents:
        _supporting_document(agreement, document)
    if invoice.tender_or_lot_reference is not None:
        element = _ram(agreement, "AdditionalReferencedDocument")
        _ram(element, "IssuerAssignedID", invoice.tender_or_lot_reference)
        _ram(element, "TypeCode", TENDER_OR_LOT)
    if invoice.invoiced_object_identifier is not None:
        element = _ram(agreement, "AdditionalReferencedDocument")
        _ram(element, "IssuerAssignedID", invoice.invoiced_object_identifier.value)
        _ram(element, "TypeCode", INVOICED_OBJECT)
        if invoice.invoiced_object_identifier.scheme_id is not None:
            _ram(element, "ReferenceTypeCode", invoice.invoiced_object_identifier.scheme_id)
    if invoice.project_reference is not None:
        project = _ram(agreement, "SpecifiedProcuringProject")
        _ram(project, "ID", invoice.project_reference)
        _ram(project, "Name", "Project reference")  # mandatory in CII; EN 16931 has no term for it


def _seller(agreement: etree._Element, seller: Seller) -> None:
    """BG-4 SELLER."""
    party = _ram(agreement, "SellerTradeParty")
    _party_identifiers(party, seller.identifiers)
    _ram(party, "Name", seller.name)
    if seller.additional_legal_info is not None:
        _ram(party, "Description", seller.additional_legal_info)
    _legal_organization(party, seller.legal_registration_id, seller.trading_name)
    _contact(party, seller.contact)
    _postal_address(party, seller.address)
    _electronic_address(party, seller.electronic_address)
    _tax_registrations(party, seller.vat_id, seller.tax_registration_id)


def _buyer(agreement: etree._Element, buyer: Buyer) -> None:
    """BG-7 BUYER."""
    party = _ram(agreement, "BuyerTradeParty")
    if buyer.identifier is not None:
        _id_or_global_id(party, buyer.identifier)
    _ram(party, "Name", buyer.name)
    _legal_organization(party, buyer.legal_registration_id, buyer.trading_name)
    _contact(party, buyer.contact)
    _postal_address(party, buyer.address)
    _electronic_address(party, buyer.electronic_address)
    _tax_registrations(party, buyer.vat_id)


def _tax_representative(agreement: etree._Element, representative: TaxRepresentative | None) -> None:
    """BG-11 SELLER TAX REPRESENTATIVE PARTY."""
    if representative is None:
        return
    party = _ram(agreement, "SellerTaxRepresentativeTradeParty")
    _ram(party, "Name", representative.name)
    _postal_address(party, representative.address)
    _tax_registrations(party, representative.vat_id)


def _supporting_document(agreement: etree._Element, document: SupportingDocument) -> None:
    """BG-24 ADDITIONAL SUPPORTING DOCUMENTS (TypeCode 916)."""
    element = _ram(agreement, "AdditionalReferencedDocument")
    _ram(element, "IssuerAssignedID", document.reference)
    if document.external_location is not None:
        _ram(element, "URIID", document.external_location)
    _ram(element, "TypeCode", SUPPORTING_DOCUMENT)
    if document.description is not None:
        _ram(element, "Name", document.description)
    if document.attachment is not None:
        _ram(element, "AttachmentBinaryObject", base64.b64encode(document.attachment.content).decode("ascii"),
             mimeCode=document.attachment.mime_code, filename=document.attachment.filename)


# --------------------------------------------------------------------------------------------- delivery


def _header_trade_delivery(transaction: etree._Element, invoice: Invoice) -> None:
    """BG-13 DELIVERY INFORMATION, BT-16 despatch advice, BT-15 receiving advice (the element is mandatory)."""
    delivery = _ram(transaction, "ApplicableHeaderTradeDelivery")
    _ship_to(delivery, invoice.delivery)
    if invoice.delivery is not None and invoice.delivery.actual_delivery_date is not None:
        _date_time(_ram(delivery, "ActualDeliverySupplyChainEvent"), "OccurrenceDateTime",
                   invoice.delivery.actual_delivery_date)
    _referenced_document(delivery, "DespatchAdviceReferencedDocument", invoice.despatch_advice_reference)
    _referenced_document(delivery, "ReceivingAdviceReferencedDocument", invoice.receiving_advice_reference)


def _ship_to(delivery: etree._Element, information: Delivery | None) -> None:
    """BT-71 location, BT-70 party name, BG-15 deliver-to address."""
    if information is None or (information.location_id is None and information.party_name is None
                               and information.address is None):
        return
    party = _ram(delivery, "ShipToTradeParty")
    if information.location_id is not None:
        _id_or_global_id(party, information.location_id)
    if information.party_name is not None:
        _ram(party, "Name", information.party_name)
    _postal_address(party, information.address)


# --------------------------------------------------------------------------------------------- settlement


def _header_trade_settlement(transaction: etree._Element, invoice: Invoice) -> None:
    """BG-16..BG-23, BG-3, BT-5/6/9/19/20/83/89/90."""
    settlement = _ram(transaction, "ApplicableHeaderTradeSettlement")
    instructions = invoice.payment_instructions
    creditor_id = _first(i.direct_debit.creditor_id for i in instructions if i.direct_debit is not None)
    if creditor_id is not None:
        _ram(settlement, "CreditorReferenceID", creditor_id)
    remittance = _first(i.remittance_information for i in instructions)
    if remittance is not None:
        _ram(settlement, "PaymentReference", remittance)
    if invoice.tax_currency_code is not None:
        _ram(settlement, "TaxCurrencyCode", invoice.tax_currency_code)
    _ram(settlement, "InvoiceCurrencyCode", invoice.currency_code)
    _payee(settlement, invoice.payee)
    for instruction in instructions:
        _payment_means(settlement, instruction)
    for position, breakdown in enumerate(invoice.vat_breakdown):
        _vat_breakdown(settlement, breakdown, invoice if position == 0 else None)
    _period(settlement, invoice.invoicing_period)
    for allowance in invoice.allowances:
        _document_allowance_charge(settlement, allowance, is_charge=False)
    for charge in invoice.charges:
        _document_allowance_charge(settlement, charge, is_charge=True)
    _payment_terms(settlement, invoice)
    _monetary_summation(settlement, invoice.totals, invoice)
    _preceding_invoice(settlement, invoice.preceding_invoices)
    if invoice.buyer_accounting_reference is not None:
        _ram(_ram(settlement, "ReceivableSpecifiedTradeAccountingAccount"), "ID", invoice.buyer_accounting_reference)


def _first(values: Iterable[T | None]) -> T | None:
    return next((value for value in values if value is not None), None)


def _payee(settlement: etree._Element, payee: Payee | None) -> None:
    """BG-10 PAYEE."""
    if payee is None:
        return
    party = _ram(settlement, "PayeeTradeParty")
    if payee.identifier is not None:
        _id_or_global_id(party, payee.identifier)
    _ram(party, "Name", payee.name)
    _legal_organization(party, payee.legal_registration_id, None)


def _payment_means(settlement: etree._Element, instruction: PaymentInstructions) -> None:
    """BG-16 PAYMENT INSTRUCTIONS: one ``SpecifiedTradeSettlementPaymentMeans`` per credit transfer account
    (BG-17), the card (BG-18) and debited account (BT-91) on the first of them."""
    transfers: tuple[CreditTransfer | None, ...] = instruction.credit_transfers or (None,)
    for position, transfer in enumerate(transfers):
        means = _ram(settlement, "SpecifiedTradeSettlementPaymentMeans")
        _ram(means, "TypeCode", instruction.means_code)
        if instruction.means_text is not None:
            _ram(means, "Information", instruction.means_text)
        if position == 0 and instruction.card is not None:
            card = _ram(means, "ApplicableTradeSettlementFinancialCard")
            _ram(card, "ID", instruction.card.primary_account_number)
            if instruction.card.holder_name is not None:
                _ram(card, "CardholderName", instruction.card.holder_name)
        debited = instruction.direct_debit.debited_account_id if instruction.direct_debit else None
        if position == 0 and debited is not None:
            _ram(_ram(means, "PayerPartyDebtorFinancialAccount"), "IBANID", debited)
        if transfer is not None:
            _credit_transfer(means, transfer, instruction.means_code)


def _credit_transfer(means: etree._Element, transfer: CreditTransfer, means_code: str) -> None:
    """BG-17: BT-84 as IBAN for SEPA (58) or when it looks like one, else as proprietary id; BT-85; BT-86."""
    account = _ram(means, "PayeePartyCreditorFinancialAccount")
    is_iban = means_code == "58" or _looks_like_iban(transfer.account_id)
    if is_iban:
        _ram(account, "IBANID", transfer.account_id)
    if transfer.account_name is not None:
        _ram(account, "AccountName", transfer.account_name)
    if not is_iban:
        _ram(account, "ProprietaryID", transfer.account_id)
    if transfer.service_provider_id is not None:
        _ram(_ram(means, "PayeeSpecifiedCreditorFinancialInstitution"), "BICID", transfer.service_provider_id)


def _looks_like_iban(account: str) -> bool:
    compact = account.replace(" ", "")
    return (15 <= len(compact) <= 34 and compact[:2].isalpha() and compact[:2].isupper()
            and compact[2:4].isdigit() and compact[4:].isalnum())


def _vat_breakdown(settlement: etree._Element, breakdown: VatBreakdown, invoice: Invoice | None) -> None:
    """BG-23 VAT BREAKDOWN; the first breakdown also carries BT-7 tax point date and BT-8 its code (``invoice``),
    as CII has no other place for them and wants them once (CII-SR-461, CII-SR-462)."""
    tax = _ram(settlement, "ApplicableTradeTax")
    _ram(tax, "CalculatedAmount", _number(breakdown.tax_amount))
    _ram(tax, "TypeCode", VAT)
    if breakdown.exemption_reason is not None:
        _ram(tax, "ExemptionReason", breakdown.exemption_reason)
    _ram(tax, "BasisAmount", _number(breakdown.taxable_amount))
    _ram(tax, "CategoryCode", breakdown.category.value)
    if breakdown.exemption_reason_code is not None:
        _ram(tax, "ExemptionReasonCode", breakdown.exemption_reason_code)
    if invoice is not None and invoice.tax_point_date is not None:
        date_element = _ram(tax, "TaxPointDate")
        etree.SubElement(date_element, f"{{{UDT}}}DateString", format=DATE_FORMAT).text = \
            _yyyymmdd(invoice.tax_point_date)
    if invoice is not None and invoice.tax_point_date_code is not None:
        code = invoice.tax_point_date_code
        _ram(tax, "DueDateTypeCode", TAX_POINT_DATE_CODE_TO_CII.get(code.strip(), code))
    if breakdown.rate is not None:
        _ram(tax, "RateApplicablePercent", _number(breakdown.rate))


def _document_allowance_charge(settlement: etree._Element, entry: DocumentAllowance | DocumentCharge,
                               is_charge: bool) -> None:
    """BG-20 document allowance / BG-21 document charge with its VAT category."""
    element = _ram(settlement, "SpecifiedTradeAllowanceCharge")
    _allowance_charge_amounts(element, entry, is_charge)
    tax = _ram(element, "CategoryTradeTax")
    _ram(tax, "TypeCode", VAT)
    _ram(tax, "CategoryCode", entry.vat_category.value)
    if entry.vat_rate is not None:
        _ram(tax, "RateApplicablePercent", _number(entry.vat_rate))


def _payment_terms(settlement: etree._Element, invoice: Invoice) -> None:
    """BT-20 payment terms, BT-9 due date, BT-89 mandate reference."""
    mandate = _first(i.direct_debit.mandate_reference for i in invoice.payment_instructions
                     if i.direct_debit is not None)
    if invoice.payment_terms is None and invoice.due_date is None and mandate is None:
        return
    terms = _ram(settlement, "SpecifiedTradePaymentTerms")
    if invoice.payment_terms is not None:
        _ram(terms, "Description", invoice.payment_terms)
    if invoice.due_date is not None:
        _date_time(terms, "DueDateDateTime", invoice.due_date)
    if mandate is not None:
        _ram(terms, "DirectDebitMandateID", mandate)


def _monetary_summation(settlement: etree._Element, totals: DocumentTotals, invoice: Invoice) -> None:
    """BG-22 DOCUMENT TOTALS; BT-110 in the invoice currency and BT-111 in the VAT accounting currency."""
    summation = _ram(settlement, "SpecifiedTradeSettlementHeaderMonetarySummation")
    _ram(summation, "LineTotalAmount", _number(totals.line_net_total))
    if totals.charge_total is not None:
        _ram(summation, "ChargeTotalAmount", _number(totals.charge_total))
    if totals.allowance_total is not None:
        _ram(summation, "AllowanceTotalAmount", _number(totals.allowance_total))
    _ram(summation, "TaxBasisTotalAmount", _number(totals.tax_exclusive_amount))
    if totals.tax_amount is not None:
        _ram(summation, "TaxTotalAmount", _number(totals.tax_amount), currencyID=invoice.currency_code)
    if totals.tax_amount_in_tax_currency is not None:
        _ram(summation, "TaxTotalAmount", _number(totals.tax_amount_in_tax_currency),
             currencyID=invoice.tax_currency_code or invoice.currency_code)
    if totals.rounding_amount is not None:
        _ram(summation, "RoundingAmount", _number(totals.rounding_amount))
    _ram(summation, "GrandTotalAmount", _number(totals.tax_inclusive_amount))
    if totals.prepaid_amount is not None:
        _ram(summation, "TotalPrepaidAmount", _number(totals.prepaid_amount))
    _ram(summation, "DuePayableAmount", _number(totals.payable_amount))


def _preceding_invoice(settlement: etree._Element, preceding: tuple[PrecedingInvoice, ...]) -> None:
    """BG-3: CII D16B has room for one ``InvoiceReferencedDocument`` only."""
    if len(preceding) > 1:
        raise CiiWriteError(f"the invoice refers to {len(preceding)} preceding invoices (BG-3), but CII D16B "
                            "can carry only one; send it as UBL or refer to one preceding invoice")
    for reference in preceding:
        element = _ram(settlement, "InvoiceReferencedDocument")
        _ram(element, "IssuerAssignedID", reference.number)
        if reference.issue_date is not None:
            etree.SubElement(_ram(element, "FormattedIssueDateTime"), f"{{{QDT}}}DateTimeString",
                             format=DATE_FORMAT).text = _yyyymmdd(reference.issue_date)
