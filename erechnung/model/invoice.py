"""The EN 16931 semantic model of an invoice, as XRechnung 3.0.2 uses it.

One frozen class per business group (BG-), one field per business term (BT-); amounts, quantities, rates
and percentages are ``Decimal``; repeating groups are tuples. UBL and CII are two syntaxes of this one
model: ``erechnung.syntax`` holds a reader and a writer for each.

Where one class serves several groups (a postal address is BG-5, BG-8, BG-12 and BG-15), its fields name
every term they stand for, seller's first.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import model_validator

from .codes import CREDIT_NOTE_TYPE_CODES, VatCategory
from .terms import Frozen, bg, bt

# --------------------------------------------------------------------------------------------- building blocks


class Identifier(Frozen):
    """An identifier with its optional scheme (BT-29/BT-29-1 and the like)."""

    value: str = bt("BT-29/BT-46/BT-60/BT-71/BT-157", "Identifier")
    scheme_id: str | None = bt("BT-29-1/BT-46-1/BT-60-1/BT-71-1/BT-157-1", "Identifier scheme identifier", None)


class ElectronicAddress(Frozen):
    """BT-34/BT-49 electronic address with its mandatory scheme (CEF EAS code list, BR-62/BR-63)."""

    value: str = bt("BT-34/BT-49", "Electronic address")
    scheme_id: str = bt("BT-34-1/BT-49-1", "Electronic address scheme identifier")


class PostalAddress(Frozen):
    """BG-5 seller, BG-8 buyer, BG-12 tax representative and BG-15 deliver-to postal address."""

    line1: str | None = bt("BT-35/BT-50/BT-64/BT-75", "Address line 1", None)
    line2: str | None = bt("BT-36/BT-51/BT-65/BT-76", "Address line 2", None)
    line3: str | None = bt("BT-162/BT-163/BT-164/BT-165", "Address line 3", None)
    city: str | None = bt("BT-37/BT-52/BT-66/BT-77", "City", None)
    post_code: str | None = bt("BT-38/BT-53/BT-67/BT-78", "Post code", None)
    country_subdivision: str | None = bt("BT-39/BT-54/BT-68/BT-79", "Country subdivision", None)
    country_code: str = bt("BT-40/BT-55/BT-69/BT-80", "Country code")


class Contact(Frozen):
    """BG-6 seller contact / BG-9 buyer contact."""

    name: str | None = bt("BT-41/BT-56", "Contact point", None)
    telephone: str | None = bt("BT-42/BT-57", "Contact telephone number", None)
    email: str | None = bt("BT-43/BT-58", "Contact email address", None)


class Period(Frozen):
    """BG-14 invoicing period / BG-26 invoice line period."""

    start: date | None = bt("BT-73/BT-134", "Period start date", None)
    end: date | None = bt("BT-74/BT-135", "Period end date", None)


# --------------------------------------------------------------------------------------------- document header


class Note(Frozen):
    """BG-1 INVOICE NOTE."""

    text: str = bt("BT-22", "Invoice note")
    subject_code: str | None = bt("BT-21", "Invoice note subject code", None)


class ProcessControl(Frozen):
    """BG-2 PROCESS CONTROL."""

    business_process: str | None = bt("BT-23", "Business process type", None)
    specification: str = bt("BT-24", "Specification identifier")


class PrecedingInvoice(Frozen):
    """BG-3 PRECEDING INVOICE REFERENCE."""

    number: str = bt("BT-25", "Preceding Invoice reference")
    issue_date: date | None = bt("BT-26", "Preceding Invoice issue date", None)


# --------------------------------------------------------------------------------------------- parties


class Seller(Frozen):
    """BG-4 SELLER."""

    name: str = bt("BT-27", "Seller name")
    trading_name: str | None = bt("BT-28", "Seller trading name", None)
    identifiers: tuple[Identifier, ...] = bt("BT-29", "Seller identifier", ())
    legal_registration_id: Identifier | None = bt("BT-30", "Seller legal registration identifier", None)
    vat_id: str | None = bt("BT-31", "Seller VAT identifier", None)
    tax_registration_id: str | None = bt("BT-32", "Seller tax registration identifier", None)
    additional_legal_info: str | None = bt("BT-33", "Seller additional legal information", None)
    electronic_address: ElectronicAddress | None = bt("BT-34", "Seller electronic address", None)
    address: PostalAddress = bg("BG-5", "SELLER POSTAL ADDRESS")
    contact: Contact | None = bg("BG-6", "SELLER CONTACT", None)


class Buyer(Frozen):
    """BG-7 BUYER."""

    name: str = bt("BT-44", "Buyer name")
    trading_name: str | None = bt("BT-45", "Buyer trading name", None)
    identifier: Identifier | None = bt("BT-46", "Buyer identifier", None)
    legal_registration_id: Identifier | None = bt("BT-47", "Buyer legal registration identifier", None)
    vat_id: str | None = bt("BT-48", "Buyer VAT identifier", None)
    electronic_address: ElectronicAddress | None = bt("BT-49", "Buyer electronic address", None)
    address: PostalAddress = bg("BG-8", "BUYER POSTAL ADDRESS")
    contact: Contact | None = bg("BG-9", "BUYER CONTACT", None)


class Payee(Frozen):
    """BG-10 PAYEE."""

    name: str = bt("BT-59", "Payee name")
    identifier: Identifier | None = bt("BT-60", "Payee identifier", None)
    legal_registration_id: Identifier | None = bt("BT-61", "Payee legal registration identifier", None)


class TaxRepresentative(Frozen):
    """BG-11 SELLER TAX REPRESENTATIVE PARTY."""

    name: str = bt("BT-62", "Seller tax representative name")
    vat_id: str = bt("BT-63", "Seller tax representative VAT identifier")
    address: PostalAddress = bg("BG-12", "SELLER TAX REPRESENTATIVE POSTAL ADDRESS")


class Delivery(Frozen):
    """BG-13 DELIVERY INFORMATION (the invoicing period BG-14 is kept on the invoice itself)."""

    party_name: str | None = bt("BT-70", "Deliver to party name", None)
    location_id: Identifier | None = bt("BT-71", "Deliver to location identifier", None)
    actual_delivery_date: date | None = bt("BT-72", "Actual delivery date", None)
    address: PostalAddress | None = bg("BG-15", "DELIVER TO ADDRESS", None)


# --------------------------------------------------------------------------------------------- payment


class CreditTransfer(Frozen):
    """BG-17 CREDIT TRANSFER."""

    account_id: str = bt("BT-84", "Payment account identifier")
    account_name: str | None = bt("BT-85", "Payment account name", None)
    service_provider_id: str | None = bt("BT-86", "Payment service provider identifier", None)


class PaymentCard(Frozen):
    """BG-18 PAYMENT CARD INFORMATION."""

    primary_account_number: str = bt("BT-87", "Payment card primary account number")
    holder_name: str | None = bt("BT-88", "Payment card holder name", None)


class DirectDebit(Frozen):
    """BG-19 DIRECT DEBIT."""

    mandate_reference: str | None = bt("BT-89", "Mandate reference identifier", None)
    creditor_id: str | None = bt("BT-90", "Bank assigned creditor identifier", None)
    debited_account_id: str | None = bt("BT-91", "Debited account identifier", None)


class PaymentInstructions(Frozen):
    """BG-16 PAYMENT INSTRUCTIONS."""

    means_code: str = bt("BT-81", "Payment means type code")
    means_text: str | None = bt("BT-82", "Payment means text", None)
    remittance_information: str | None = bt("BT-83", "Remittance information", None)
    credit_transfers: tuple[CreditTransfer, ...] = bg("BG-17", "CREDIT TRANSFER", ())
    card: PaymentCard | None = bg("BG-18", "PAYMENT CARD INFORMATION", None)
    direct_debit: DirectDebit | None = bg("BG-19", "DIRECT DEBIT", None)


class ThirdPartyPayment(Frozen):
    """BG-DEX-09 THIRD PARTY PAYMENT (XRechnung extension): an amount a third party was paid, part of BT-115."""

    payment_type: str = bt("BT-DEX-001", "Third party payment type")
    amount: Decimal = bt("BT-DEX-002", "Third party payment amount")
    description: str = bt("BT-DEX-003", "Third party payment description")


# --------------------------------------------------------------------------------------------- allowances, charges


class DocumentAllowance(Frozen):
    """BG-20 DOCUMENT LEVEL ALLOWANCES."""

    amount: Decimal = bt("BT-92", "Document level allowance amount")
    base_amount: Decimal | None = bt("BT-93", "Document level allowance base amount", None)
    percentage: Decimal | None = bt("BT-94", "Document level allowance percentage", None)
    vat_category: VatCategory = bt("BT-95", "Document level allowance VAT category code")
    vat_rate: Decimal | None = bt("BT-96", "Document level allowance VAT rate", None)
    reason: str | None = bt("BT-97", "Document level allowance reason", None)
    reason_code: str | None = bt("BT-98", "Document level allowance reason code", None)


class DocumentCharge(Frozen):
    """BG-21 DOCUMENT LEVEL CHARGES."""

    amount: Decimal = bt("BT-99", "Document level charge amount")
    base_amount: Decimal | None = bt("BT-100", "Document level charge base amount", None)
    percentage: Decimal | None = bt("BT-101", "Document level charge percentage", None)
    vat_category: VatCategory = bt("BT-102", "Document level charge VAT category code")
    vat_rate: Decimal | None = bt("BT-103", "Document level charge VAT rate", None)
    reason: str | None = bt("BT-104", "Document level charge reason", None)
    reason_code: str | None = bt("BT-105", "Document level charge reason code", None)


class LineAllowance(Frozen):
    """BG-27 INVOICE LINE ALLOWANCES."""

    amount: Decimal = bt("BT-136", "Invoice line allowance amount")
    base_amount: Decimal | None = bt("BT-137", "Invoice line allowance base amount", None)
    percentage: Decimal | None = bt("BT-138", "Invoice line allowance percentage", None)
    reason: str | None = bt("BT-139", "Invoice line allowance reason", None)
    reason_code: str | None = bt("BT-140", "Invoice line allowance reason code", None)


class LineCharge(Frozen):
    """BG-28 INVOICE LINE CHARGES."""

    amount: Decimal = bt("BT-141", "Invoice line charge amount")
    base_amount: Decimal | None = bt("BT-142", "Invoice line charge base amount", None)
    percentage: Decimal | None = bt("BT-143", "Invoice line charge percentage", None)
    reason: str | None = bt("BT-144", "Invoice line charge reason", None)
    reason_code: str | None = bt("BT-145", "Invoice line charge reason code", None)


# --------------------------------------------------------------------------------------------- totals, VAT


class DocumentTotals(Frozen):
    """BG-22 DOCUMENT TOTALS (derived by ``erechnung.calculator``, BR-CO-10..16)."""

    line_net_total: Decimal = bt("BT-106", "Sum of Invoice line net amount")
    allowance_total: Decimal | None = bt("BT-107", "Sum of allowances on document level", None)
    charge_total: Decimal | None = bt("BT-108", "Sum of charges on document level", None)
    tax_exclusive_amount: Decimal = bt("BT-109", "Invoice total amount without VAT")
    tax_amount: Decimal | None = bt("BT-110", "Invoice total VAT amount", None)
    tax_amount_in_tax_currency: Decimal | None = bt("BT-111", "Invoice total VAT amount in accounting currency", None)
    tax_inclusive_amount: Decimal = bt("BT-112", "Invoice total amount with VAT")
    prepaid_amount: Decimal | None = bt("BT-113", "Paid amount", None)
    rounding_amount: Decimal | None = bt("BT-114", "Rounding amount", None)
    payable_amount: Decimal = bt("BT-115", "Amount due for payment")


class VatBreakdown(Frozen):
    """BG-23 VAT BREAKDOWN (one per category and rate, BR-CO-17 and BR-S/Z/E/AE/K/G/O/L/M-08/09)."""

    taxable_amount: Decimal = bt("BT-116", "VAT category taxable amount")
    tax_amount: Decimal = bt("BT-117", "VAT category tax amount")
    category: VatCategory = bt("BT-118", "VAT category code")
    rate: Decimal | None = bt("BT-119", "VAT category rate", None)
    exemption_reason: str | None = bt("BT-120", "VAT exemption reason text", None)
    exemption_reason_code: str | None = bt("BT-121", "VAT exemption reason code", None)


# --------------------------------------------------------------------------------------------- documents


class Attachment(Frozen):
    """BT-125 Attached document (embedded binary object) with BT-125-1 MIME code and BT-125-2 filename."""

    content: bytes = bt("BT-125", "Attached document")
    mime_code: str = bt("BT-125-1", "Attached document Mime code")
    filename: str = bt("BT-125-2", "Attached document Filename")


class SupportingDocument(Frozen):
    """BG-24 ADDITIONAL SUPPORTING DOCUMENTS."""

    reference: str = bt("BT-122", "Supporting document reference")
    description: str | None = bt("BT-123", "Supporting document description", None)
    external_location: str | None = bt("BT-124", "External document location", None)
    attachment: Attachment | None = bt("BT-125", "Attached document", None)


# --------------------------------------------------------------------------------------------- lines


class PriceDetails(Frozen):
    """BG-29 PRICE DETAILS."""

    net_price: Decimal = bt("BT-146", "Item net price")
    discount: Decimal | None = bt("BT-147", "Item price discount", None)
    gross_price: Decimal | None = bt("BT-148", "Item gross price", None)
    base_quantity: Decimal | None = bt("BT-149", "Item price base quantity", None)
    base_quantity_unit_code: str | None = bt("BT-150", "Item price base quantity unit of measure code", None)

    @model_validator(mode="after")
    def _one_form_of_discount_and_gross_price(self) -> PriceDetails:
        """BT-146 = BT-148 - BT-147 (PEPPOL-EN16931-R046), so with the net price either of the other two gives
        the third. UBL cannot state a gross price without a discount (its price allowance needs an amount), CII
        cannot state a discount without a gross price (it is an allowance on the gross price). So that one price
        has one model whatever syntax it came in: a discount without a gross price gets BT-148 = BT-146 + BT-147,
        and a zero discount is no discount."""
        if self.discount is not None and self.gross_price is None:
            object.__setattr__(self, "gross_price", self.net_price + self.discount)  # frozen: set once, here
        if self.discount is not None and self.discount == 0:
            object.__setattr__(self, "discount", None)
        return self


class LineVat(Frozen):
    """BG-30 LINE VAT INFORMATION."""

    category: VatCategory = bt("BT-151", "Invoiced item VAT category code")
    rate: Decimal | None = bt("BT-152", "Invoiced item VAT rate", None)


class Classification(Frozen):
    """BT-158 Item classification identifier with BT-158-1 scheme and BT-158-2 scheme version."""

    code: str = bt("BT-158", "Item classification identifier")
    list_id: str | None = bt("BT-158-1", "Scheme identifier", None)
    list_version: str | None = bt("BT-158-2", "Scheme version identifier", None)


class ItemAttribute(Frozen):
    """BG-32 ITEM ATTRIBUTES."""

    name: str = bt("BT-160", "Item attribute name")
    value: str = bt("BT-161", "Item attribute value")


class Item(Frozen):
    """BG-31 ITEM INFORMATION."""

    name: str = bt("BT-153", "Item name")
    description: str | None = bt("BT-154", "Item description", None)
    sellers_id: str | None = bt("BT-155", "Item Seller's identifier", None)
    buyers_id: str | None = bt("BT-156", "Item Buyer's identifier", None)
    standard_id: Identifier | None = bt("BT-157", "Item standard identifier", None)
    classifications: tuple[Classification, ...] = bt("BT-158", "Item classification identifier", ())
    origin_country: str | None = bt("BT-159", "Item country of origin", None)
    attributes: tuple[ItemAttribute, ...] = bg("BG-32", "ITEM ATTRIBUTES", ())


class InvoiceLine(Frozen):
    """BG-25 INVOICE LINE."""

    id: str = bt("BT-126", "Invoice line identifier")
    note: str | None = bt("BT-127", "Invoice line note", None)
    object_identifier: Identifier | None = bt("BT-128", "Invoice line object identifier", None)
    quantity: Decimal = bt("BT-129", "Invoiced quantity")
    unit_code: str = bt("BT-130", "Invoiced quantity unit of measure code")
    net_amount: Decimal = bt("BT-131", "Invoice line net amount")
    order_line_reference: str | None = bt("BT-132", "Referenced purchase order line reference", None)
    buyer_accounting_reference: str | None = bt("BT-133", "Invoice line Buyer accounting reference", None)
    period: Period | None = bg("BG-26", "INVOICE LINE PERIOD", None)
    allowances: tuple[LineAllowance, ...] = bg("BG-27", "INVOICE LINE ALLOWANCES", ())
    charges: tuple[LineCharge, ...] = bg("BG-28", "INVOICE LINE CHARGES", ())
    price: PriceDetails = bg("BG-29", "PRICE DETAILS")
    vat: LineVat = bg("BG-30", "LINE VAT INFORMATION")
    item: Item = bg("BG-31", "ITEM INFORMATION")


class Invoice(Frozen):
    """The invoice (or credit note: BT-3 decides) of EN 16931-1:2017 as used by XRechnung 3.0.2."""

    number: str = bt("BT-1", "Invoice number")
    issue_date: date = bt("BT-2", "Invoice issue date")
    type_code: str = bt("BT-3", "Invoice type code")
    currency_code: str = bt("BT-5", "Invoice currency code")
    tax_currency_code: str | None = bt("BT-6", "VAT accounting currency code", None)
    tax_point_date: date | None = bt("BT-7", "Value added tax point date", None)
    tax_point_date_code: str | None = bt("BT-8", "Value added tax point date code", None)
    # BT-8 holds EN 16931's UNTDID 2005 code (3, 35, 432), as UBL writes it; CII's UNTDID 2475 code (5, 29, 72)
    # is mapped by the CII reader and writer, so one meaning has one value whatever the syntax.
    due_date: date | None = bt("BT-9", "Payment due date", None)
    buyer_reference: str | None = bt("BT-10", "Buyer reference (Leitweg-ID)", None)
    project_reference: str | None = bt("BT-11", "Project reference", None)
    contract_reference: str | None = bt("BT-12", "Contract reference", None)
    purchase_order_reference: str | None = bt("BT-13", "Purchase order reference", None)
    sales_order_reference: str | None = bt("BT-14", "Sales order reference", None)
    receiving_advice_reference: str | None = bt("BT-15", "Receiving advice reference", None)
    despatch_advice_reference: str | None = bt("BT-16", "Despatch advice reference", None)
    tender_or_lot_reference: str | None = bt("BT-17", "Tender or lot reference", None)
    invoiced_object_identifier: Identifier | None = bt("BT-18", "Invoiced object identifier", None)
    buyer_accounting_reference: str | None = bt("BT-19", "Buyer accounting reference", None)
    payment_terms: str | None = bt("BT-20", "Payment terms", None)
    notes: tuple[Note, ...] = bg("BG-1", "INVOICE NOTE", ())
    process: ProcessControl = bg("BG-2", "PROCESS CONTROL")
    preceding_invoices: tuple[PrecedingInvoice, ...] = bg("BG-3", "PRECEDING INVOICE REFERENCE", ())
    seller: Seller = bg("BG-4", "SELLER")
    buyer: Buyer = bg("BG-7", "BUYER")
    payee: Payee | None = bg("BG-10", "PAYEE", None)
    tax_representative: TaxRepresentative | None = bg("BG-11", "SELLER TAX REPRESENTATIVE PARTY", None)
    delivery: Delivery | None = bg("BG-13", "DELIVERY INFORMATION", None)
    invoicing_period: Period | None = bg("BG-14", "INVOICING PERIOD", None)
    payment_instructions: tuple[PaymentInstructions, ...] = bg(
        "BG-16", "PAYMENT INSTRUCTIONS", (),
        # EN 16931 has one BG-16; CII may repeat SpecifiedTradeSettlementPaymentMeans (one per account),
        # so the model keeps every occurrence to stay lossless.
    )
    third_party_payments: tuple[ThirdPartyPayment, ...] = bg(
        "BG-DEX-09", "THIRD PARTY PAYMENT", (),
        # XRechnung extension only; BR-DEX-09 adds their amounts to the amount due (BT-115).
    )
    allowances: tuple[DocumentAllowance, ...] = bg("BG-20", "DOCUMENT LEVEL ALLOWANCES", ())
    charges: tuple[DocumentCharge, ...] = bg("BG-21", "DOCUMENT LEVEL CHARGES", ())
    totals: DocumentTotals = bg("BG-22", "DOCUMENT TOTALS")
    vat_breakdown: tuple[VatBreakdown, ...] = bg("BG-23", "VAT BREAKDOWN")
    supporting_documents: tuple[SupportingDocument, ...] = bg("BG-24", "ADDITIONAL SUPPORTING DOCUMENTS", ())
    lines: tuple[InvoiceLine, ...] = bg("BG-25", "INVOICE LINE")

    @model_validator(mode="after")
    def _no_vat_is_a_vat_total_of_zero(self) -> Invoice:
        """BT-110 left out where the VAT breakdown has no VAT at all is BT-110 = 0: CII may leave it out, UBL
        cannot (cac:TaxTotal/cbc:TaxAmount is mandatory and holds BG-23), and BR-CO-14, BR-CO-15 and
        PEPPOL-EN16931-R053/R055 treat both alike (R055 only while BT-111 is not negative). A missing BT-110
        beside VAT in the breakdown stays missing: there BR-CO-15 of CII tells the two apart."""
        totals = self.totals
        if totals.tax_amount is None and self.vat_breakdown and (totals.tax_amount_in_tax_currency or 0) >= 0:
            vat = sum((breakdown.tax_amount for breakdown in self.vat_breakdown), Decimal(0))
            if vat == 0:
                object.__setattr__(self, "totals", totals.model_copy(update={"tax_amount": vat}))  # frozen: once
        return self

    @property
    def is_credit_note(self) -> bool:
        """True when BT-3 is a credit note type code (UBL then uses the CreditNote document)."""
        return self.type_code in CREDIT_NOTE_TYPE_CODES
