"""The canonical EN 16931 model (see ``invoice.py``) and its code lists."""
from .codes import VatCategory
from .invoice import (
    Attachment, Buyer, Classification, Contact, CreditTransfer, Delivery, DirectDebit, DocumentAllowance,
    DocumentCharge, DocumentTotals, ElectronicAddress, Identifier, Invoice, InvoiceLine, Item, ItemAttribute,
    LineAllowance, LineCharge, LineVat, Note, Payee, PaymentCard, PaymentInstructions, Period, PostalAddress,
    PrecedingInvoice, PriceDetails, ProcessControl, Seller, SupportingDocument, TaxRepresentative, ThirdPartyPayment,
    VatBreakdown,
)
from .terms import Frozen, terms_of

__all__ = [
    "Attachment", "Buyer", "Classification", "Contact", "CreditTransfer", "Delivery", "DirectDebit",
    "DocumentAllowance", "DocumentCharge", "DocumentTotals", "ElectronicAddress", "Frozen", "Identifier",
    "Invoice", "InvoiceLine", "Item", "ItemAttribute", "LineAllowance", "LineCharge", "LineVat", "Note", "Payee",
    "PaymentCard", "PaymentInstructions", "Period", "PostalAddress", "PrecedingInvoice", "PriceDetails",
    "ProcessControl", "Seller", "SupportingDocument", "TaxRepresentative", "ThirdPartyPayment",
    "VatBreakdown", "VatCategory", "terms_of",
]
