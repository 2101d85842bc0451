"""Build a complete XRechnung 3.0.2 invoice from plain data: the municipality as seller, a buyer, lines.

Code and the intake mapping of the departments' exports call, in this order::

    seller = municipality("Stadt Musterstadt", street=..., post_code=..., city=..., tax_number=...,
                          contact_name=..., contact_phone=..., contact_email=..., electronic_address=...)
    buyer = customer("Firma X", post_code=..., city=..., electronic_address=...)
    invoice = build_invoice(number="R-2025-1", issue_date=date(2025, 3, 1), seller=seller, buyer=buyer,
                            leitweg_id="04011000-1234512345-35", iban="DE02120300000000202051",
                            kassenzeichen="5.0001.123456.7", due_date=date(2025, 3, 31),
                            lines=[item_line("Sondernutzung", 1, "120.00", vat_category="O")],
                            exemption_reasons={"O": "Nicht steuerbar (hoheitliche Tätigkeit)"})

``build_invoice`` sets BT-24 (XRechnung 3.0) and BT-23 (Peppol billing), the payment instructions (SEPA credit
transfer, Kassenzeichen as remittance information) and runs ``erechnung.calculator.complete`` so that every
amount is derived. What XRechnung requires of the master data (BR-DE-*) is checked here with a ``BuildError``
that names the business term, before any XML is written.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .calculator import Exemption, complete, quantum
from .errors import ErechnungError
from .model import (
    Buyer, Contact, CreditTransfer, Delivery, DocumentAllowance, DocumentCharge, ElectronicAddress, Identifier,
    Invoice, Item, LineAllowance, LineCharge, LineVat, Note, PaymentInstructions, Period, PostalAddress,
    PrecedingInvoice, PriceDetails, ProcessControl, Seller, VatCategory,
)
from .model.codes import (
    CREDIT_TRANSFER_MEANS, PEPPOL_BILLING_PROCESS, XRECHNUNG_3_0, XRECHNUNG_INVOICE_TYPE_CODES,
)

#: VAT categories that need the seller's VAT identifier or tax number (BR-DE-16).
_TAX_ID_CATEGORIES = frozenset(VatCategory) - {VatCategory.NOT_SUBJECT}


class BuildError(ErechnungError, ValueError):
    """Master or document data cannot make a valid XRechnung; the message names the business term and rule."""


# ============================================================================================== parties


def municipality(name: str, *, street: str, post_code: str, city: str, contact_name: str, contact_phone: str,
                 contact_email: str, electronic_address: str, electronic_address_scheme: str = "EM",
                 vat_id: str | None = None, tax_number: str | None = None, country_code: str = "DE",
                 identifier: str | None = None, identifier_scheme: str | None = None,
                 legal_registration_id: str | None = None, trading_name: str | None = None) -> Seller:
    """BG-4 the municipality as seller, with everything XRechnung requires of it.

    BT-27 name, BG-5 address (BT-35, BT-38 and BT-37 required by BR-DE-3/4), BG-6 contact (BT-41/42/43 required
    by BR-DE-2/5/6/7), BT-34 electronic address (required, with its EAS scheme), BT-31 VAT identifier
    (``DE123456789``) and/or BT-32 tax number (``Steuernummer``; at least one is needed for taxed items, BR-DE-16).
    BT-29 seller identifier (e.g. the Amtlicher Gemeindeschlüssel or a GLN with scheme ``0088``) or BT-30 lets
    the buyer identify the municipality when no VAT identifier may be shown (BR-CO-26 with BR-O-02).
    """
    _required(name=("BT-27", name), post_code=("BT-38", post_code), city=("BT-37", city),
              contact_name=("BT-41", contact_name), contact_phone=("BT-42", contact_phone),
              contact_email=("BT-43", contact_email), electronic_address=("BT-34", electronic_address))
    return Seller(
        name=name, trading_name=trading_name, vat_id=vat_id or None, tax_registration_id=tax_number or None,
        identifiers=(Identifier(value=identifier, scheme_id=identifier_scheme),) if identifier else (),
        legal_registration_id=Identifier(value=legal_registration_id) if legal_registration_id else None,
        electronic_address=ElectronicAddress(value=electronic_address, scheme_id=electronic_address_scheme),
        address=PostalAddress(line1=street or None, post_code=post_code, city=city, country_code=country_code),
        contact=Contact(name=contact_name, telephone=contact_phone, email=contact_email))


def customer(name: str, *, post_code: str, city: str, electronic_address: str | None,
             electronic_address_scheme: str = "EM", street: str | None = None, country_code: str = "DE",
             vat_id: str | None = None, identifier: str | None = None, contact_name: str | None = None,
             contact_phone: str | None = None, contact_email: str | None = None) -> Buyer:
    """BG-7 the buyer: BT-44 name, BG-8 address (BT-53, BT-52 required by BR-DE-8/9), BT-49 electronic address
    (required by XRechnung, with its EAS scheme: ``EM`` e-mail, ``0204`` Leitweg-ID, ``9930`` German VAT id, ...;
    an explicit None: an invoice not meant as XRechnung, e.g. a citizen's letter, where EN 16931 makes it optional)."""
    _required(name=("BT-44", name), post_code=("BT-53", post_code), city=("BT-52", city))
    if electronic_address is not None:
        _required(electronic_address=("BT-49", electronic_address))
    contact = (Contact(name=contact_name, telephone=contact_phone, email=contact_email)
               if contact_name or contact_phone or contact_email else None)
    return Buyer(
        name=name, vat_id=vat_id or None, identifier=Identifier(value=identifier) if identifier else None,
        electronic_address=ElectronicAddress(value=electronic_address, scheme_id=electronic_address_scheme)
        if electronic_address is not None else None,
        address=PostalAddress(line1=street or None, post_code=post_code, city=city, country_code=country_code),
        contact=contact)


def _required(**terms: tuple[str, Any]) -> None:
    for field, (term, value) in terms.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            raise BuildError(f"{term} ({field}) is required by XRechnung and is empty")


# ============================================================================================== allowances, charges


def _percent_amount(amount: Any, percentage: Any, base_amount: Any, what: str) -> tuple[Decimal, Decimal | None,
                                                                                         Decimal | None]:
    """The amount, or base x percentage / 100 rounded half up to cents when only those are given."""
    pct = None if percentage is None else Decimal(str(percentage))
    base = None if base_amount is None else Decimal(str(base_amount))
    if amount is not None:
        return Decimal(str(amount)), base, pct
    if pct is None or base is None:
        raise BuildError(f"{what}: give the amount, or the base amount and the percentage")
    return (base * pct / 100).quantize(quantum(), rounding=ROUND_HALF_UP), base, pct


def _reason(reason: str | None, reason_code: str | None, rule: str, what: str) -> None:
    if not (reason or reason_code):
        raise BuildError(f"{what}: a reason text or reason code is required ({rule})")


def line_allowance(amount: Any = None, reason: str | None = None, *, reason_code: str | None = None,
                   percentage: Any = None, base_amount: Any = None) -> LineAllowance:
    """BG-27 an invoice line allowance (BT-136 amount, or BT-137 base x BT-138 percentage; BT-139/BT-140)."""
    _reason(reason, reason_code, "BR-42", "BG-27 line allowance")
    value, base, pct = _percent_amount(amount, percentage, base_amount, "BG-27 line allowance")
    return LineAllowance(amount=value, base_amount=base, percentage=pct, reason=reason, reason_code=reason_code)


def line_charge(amount: Any = None, reason: str | None = None, *, reason_code: str | None = None,
                percentage: Any = None, base_amount: Any = None) -> LineCharge:
    """BG-28 an invoice line charge (BT-141 amount, or BT-142 base x BT-143 percentage; BT-144/BT-145)."""
    _reason(reason, reason_code, "BR-44", "BG-28 line charge")
    value, base, pct = _percent_amount(amount, percentage, base_amount, "BG-28 line charge")
    return LineCharge(amount=value, base_amount=base, percentage=pct, reason=reason, reason_code=reason_code)


def document_allowance(amount: Any = None, reason: str | None = None, *, vat_category: str = "S",
                       vat_rate: Any = None, reason_code: str | None = None, percentage: Any = None,
                       base_amount: Any = None) -> DocumentAllowance:
    """BG-20 a document level allowance with its VAT category and rate (BT-92..BT-98)."""
    _reason(reason, reason_code, "BR-33", "BG-20 document level allowance")
    value, base, pct = _percent_amount(amount, percentage, base_amount, "BG-20 document level allowance")
    return DocumentAllowance(amount=value, base_amount=base, percentage=pct, vat_category=VatCategory(vat_category),
                             vat_rate=None if vat_rate is None else Decimal(str(vat_rate)), reason=reason,
                             reason_code=reason_code)


def document_charge(amount: Any = None, reason: str | None = None, *, vat_category: str = "S",
                    vat_rate: Any = None, reason_code: str | None = None, percentage: Any = None,
                    base_amount: Any = None) -> DocumentCharge:
    """BG-21 a document level charge with its VAT category and rate (BT-99..BT-105)."""
    _reason(reason, reason_code, "BR-38", "BG-21 document level charge")
    value, base, pct = _percent_amount(amount, percentage, base_amount, "BG-21 document level charge")
    return DocumentCharge(amount=value, base_amount=base, percentage=pct, vat_category=VatCategory(vat_category),
                          vat_rate=None if vat_rate is None else Decimal(str(vat_rate)), reason=reason,
                          reason_code=reason_code)


# ============================================================================================== lines


def item_line(name: str, quantity: Any, unit_price: Any, *, vat_category: str = "S", vat_rate: Any = None,
              unit_code: str = "C62", line_id: str | None = None, description: str | None = None,
              base_quantity: Any = None, allowances: Iterable[LineAllowance] = (),
              charges: Iterable[LineCharge] = (), period: tuple[date | None, date | None] | None = None,
              note: str | None = None, sellers_id: str | None = None, order_line_reference: str | None = None,
              buyer_accounting_reference: str | None = None) -> dict[str, Any]:
    """A line draft (BG-25 without BT-131, which the calculator derives): BT-153 item name, BT-129 quantity in
    BT-130 unit (UN/ECE Rec 20: ``C62`` one, ``H87`` piece, ``HUR`` hour, ``MTQ`` m³, ...), BT-146 net price
    per BT-149 base quantity, BG-30 VAT category/rate, BG-27/BG-28 line allowances and charges, BG-26 period."""
    _required(name=("BT-153", name))
    return {
        "id": line_id, "note": note, "quantity": Decimal(str(quantity)), "unit_code": unit_code,
        "order_line_reference": order_line_reference, "buyer_accounting_reference": buyer_accounting_reference,
        "period": Period(start=period[0], end=period[1]) if period else None,
        "allowances": tuple(allowances), "charges": tuple(charges),
        "price": PriceDetails(net_price=Decimal(str(unit_price)),
                              base_quantity=None if base_quantity is None else Decimal(str(base_quantity)),
                              base_quantity_unit_code=unit_code if base_quantity is not None else None),
        "vat": LineVat(category=VatCategory(vat_category), rate=None if vat_rate is None else Decimal(str(vat_rate))),
        "item": Item(name=name, description=description, sellers_id=sellers_id),
    }


# ============================================================================================== the invoice


def normalize_iban(value: str) -> str:
    """An IBAN without spaces, upper case, its ISO 13616 check digits verified (BR-DE-19 expects a valid one)."""
    compact = "".join(value.split()).upper()
    if len(compact) < 15 or not compact[:2].isalpha() or not compact[2:4].isdigit() or not compact.isalnum():
        raise BuildError(f"BT-84 payment account identifier {value!r} is not an IBAN")
    digits = "".join(str(int(ch, 36)) for ch in compact[4:] + compact[:4])
    if int(digits) % 97 != 1:
        raise BuildError(f"BT-84 payment account identifier {value!r}: the IBAN check digits are wrong (BR-DE-19)")
    return compact


def build_invoice(*, number: str, issue_date: date, seller: Seller, buyer: Buyer, leitweg_id: str,
                  lines: Sequence[Mapping[str, Any]], iban: str | None = None,
                  bic: str | None = None, account_name: str | None = None, kassenzeichen: str | None = None,
                  payment_means_code: str = "58", due_date: date | None = None, payment_terms: str | None = None,
                  type_code: str = "380", currency_code: str = "EUR",
                  allowances: Iterable[DocumentAllowance] = (), charges: Iterable[DocumentCharge] = (),
                  prepaid_amount: Any = None, rounding_amount: Any = None,
                  exemption_reasons: Mapping[VatCategory | str, str | Exemption] | None = None,
                  notes: Iterable[str | Note] = (), preceding_invoices: Iterable[tuple[str, date | None]] = (),
                  invoicing_period: tuple[date | None, date | None] | None = None,
                  delivery_date: date | None = None, **other: Any) -> Invoice:
    """A complete XRechnung 3.0.2 invoice (or credit note, BT-3 ``381``) with every amount derived.

    ``leitweg_id`` becomes BT-10 (BR-DE-15); ``iban`` (and ``bic``, ``account_name``) the SEPA credit transfer
    BG-17 under payment means ``58`` (BG-16, BR-DE-1, BR-DE-23), ``kassenzeichen`` the remittance information
    BT-83. ``due_date`` (BT-9) or ``payment_terms`` (BT-20) is required when an amount is due (BR-CO-25).
    ``preceding_invoices`` are (number, issue date) pairs (BG-3; a credit note should name its invoice).
    ``other`` passes further ``Invoice`` fields through (``project_reference``, ``purchase_order_reference``, ...).

    Items not subject to VAT (category O, e.g. fees of a public authority acting as such, § 2b UStG) must not be
    invoiced together with a VAT identifier (BR-O-02): the seller's and buyer's BT-31/BT-48 are left out then.
    """
    account = iban
    if not leitweg_id or not leitweg_id.strip():
        raise BuildError("BT-10 buyer reference (Leitweg-ID) is required by XRechnung (BR-DE-15)")
    if type_code not in XRECHNUNG_INVOICE_TYPE_CODES:
        raise BuildError(f"BT-3 invoice type code {type_code!r} is not one XRechnung allows "
                         f"({', '.join(sorted(XRECHNUNG_INVOICE_TYPE_CODES))}) (BR-DE-17)")
    if payment_means_code in CREDIT_TRANSFER_MEANS and not account:
        raise BuildError("BT-84: a credit transfer needs the municipality's IBAN (BR-61, BR-DE-23-a)")
    categories = {VatCategory(_category_of(line)) for line in lines} \
        | {a.vat_category for a in allowances} | {c.vat_category for c in charges}
    if VatCategory.NOT_SUBJECT in categories:
        seller = seller.model_copy(update={"vat_id": None})
        buyer = buyer.model_copy(update={"vat_id": None})
        if not (seller.identifiers or seller.legal_registration_id):
            raise BuildError("BT-29/BT-30: an invoice not subject to VAT must not show the VAT identifier (BR-O-02), "
                             "so the municipality needs a seller identifier (BT-29, e.g. its Amtlicher "
                             "Gemeindeschlüssel) or legal registration identifier (BT-30) instead (BR-CO-26)")
    elif categories & _TAX_ID_CATEGORIES and not (seller.vat_id or seller.tax_registration_id):
        raise BuildError("BT-31/BT-32: invoicing taxed items needs the municipality's VAT identifier or tax number "
                         "(BR-DE-16)")
    numbered = [dict(line, id=line.get("id") or str(i + 1)) for i, line in enumerate(lines)]
    draft: dict[str, Any] = {
        "number": number, "issue_date": issue_date, "type_code": type_code, "currency_code": currency_code,
        "due_date": due_date, "buyer_reference": leitweg_id.strip(), "payment_terms": payment_terms,
        "notes": tuple(n if isinstance(n, Note) else Note(text=n) for n in notes),
        "process": ProcessControl(business_process=PEPPOL_BILLING_PROCESS, specification=XRECHNUNG_3_0),
        "preceding_invoices": tuple(PrecedingInvoice(number=n, issue_date=d) for n, d in preceding_invoices),
        "seller": seller, "buyer": buyer,
        "delivery": Delivery(actual_delivery_date=delivery_date) if delivery_date else None,
        "invoicing_period": Period(start=invoicing_period[0], end=invoicing_period[1]) if invoicing_period else None,
        "payment_instructions": (PaymentInstructions(
            means_code=payment_means_code, remittance_information=kassenzeichen,
            credit_transfers=(CreditTransfer(account_id=normalize_iban(account), account_name=account_name,
                                             service_provider_id=bic),) if account else ()),),
        "allowances": tuple(allowances), "charges": tuple(charges), "lines": numbered,
        **other,
    }
    invoice = complete(draft, prepaid_amount=prepaid_amount, rounding_amount=rounding_amount,
                       exemption_reasons=exemption_reasons)
    if invoice.totals.payable_amount > 0 and invoice.due_date is None and not invoice.payment_terms:
        raise BuildError(f"BT-9/BT-20: {invoice.totals.payable_amount} {currency_code} are due, so a payment due "
                         f"date or payment terms are required (BR-CO-25)")
    return invoice


def _category_of(line: Mapping[str, Any]) -> str:
    vat = line.get("vat")
    return vat.category if isinstance(vat, LineVat) else (vat or {}).get("category")

