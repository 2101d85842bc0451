"""The payment a notice demands, as a structured claim: an XRechnung (CII) built with ``erechnung.builder``.

The notice is the legally binding document; the claim only lets the addressee's software pay it. Taxes and
fees a municipality assesses as a public authority are not subject to VAT (§ 2b UStG): every line is VAT
category ``O`` with the configured exemption reason, so no VAT identifier may appear (BR-O-02) and the
municipality is identified by its Amtlicher Gemeindeschlüssel as BT-30 instead (BR-CO-26).

Mapping: BT-1 the notice's number (else the Kassenzeichen), BT-2 the date of the notice, BT-9 the first due
date, BT-20 the instalment plan when there are several, BT-10 the addressee's customer number (else the
Aktenzeichen: a citizen has no Leitweg-ID, and BR-DE-15 requires a buyer reference), BT-83 the Kassenzeichen,
BT-113 what was already paid, BG-14 the assessment period, BG-1 notes naming the notice and its legal basis.
An item is quantity × rate where the rate is a plain unit price; a Hebesatz or a share of a year is stated as
quantity 1 at the assessed amount, the basis written into the item's description.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..builder import BuildError, build_invoice, customer, item_line, municipality
from ..model import Invoice
from ..model.amounts import de_amount
from ..syntax import write_invoice
from .config import NoticeConfig, load_config
from .model import AssessmentItem, Notice, NoticeError

#: UN/ECE Recommendation 20 codes for the units fee schedules use; anything else is "one" (C62).
UNIT_CODES = {
    "tag": "DAY", "tage": "DAY", "monat": "MON", "monate": "MON", "jahr": "ANN", "jahre": "ANN",
    "stunde": "HUR", "stunden": "HUR", "m²": "MTK", "qm": "MTK", "m³": "MTQ", "m": "MTR", "lfd. m": "MTR",
    "l": "LTR", "liter": "LTR", "kg": "KGM", "t": "TNE", "stück": "H87", "stk.": "H87",
}


_euro = de_amount  # 1.234,56


def _line(item: AssessmentItem) -> dict:
    if not item.rate_is_percent and item.months is None:
        return item_line(item.description, item.basis, item.rate, vat_category="O",
                         unit_code=UNIT_CODES.get(item.basis_unit.strip().lower(), "C62"))
    basis = f"{item.basis.normalize():f}".replace(".", ",")
    rate = f"{item.rate.normalize():f}".replace(".", ",")
    how = f"{basis} {item.basis_unit} × {rate} {item.rate_unit}"
    if item.months is not None:
        how += f" × {item.months}/12"
    return item_line(item.description, 1, item.amount, vat_category="O", description=how)


def _payment_means(notice: Notice, account: Any) -> dict[str, Any]:
    """Credit transfer to the treasury's account (58), or the SEPA direct debit under the addressee's mandate (59:
    BT-89 mandate reference, BT-90 creditor id, BT-91 debited account) where the notice carries one."""
    dd = notice.payment.direct_debit  # type: ignore[union-attr]
    if dd is None:
        return {"iban": account.iban, "bic": account.bic, "account_name": account.account_holder}
    from ..model import DirectDebit, PaymentInstructions

    return {"iban": None, "payment_means_code": "59", "payment_instructions": (PaymentInstructions(
        means_code="59", remittance_information=notice.payment.kassenzeichen,  # type: ignore[union-attr]
        direct_debit=DirectDebit(mandate_reference=dd.mandate_reference, creditor_id=dd.creditor_id,
                                 debited_account_id=dd.debited_iban)),)}


def claim_invoice(notice: Notice, config: NoticeConfig | None = None) -> Invoice | None:
    """The XRechnung of what ``notice`` demands, or None when it demands nothing (refund, zero assessment)."""
    if not notice.payment_due:
        return None
    config = config or load_config()
    a, o, who = notice.authority, notice.official, notice.addressee
    if not who.electronic_address:
        raise NoticeError("the embedded XRechnung needs the addressee's electronic address (BT-49)",
                          field="addressee.electronic_address",
                          fix="give the addressee's e-mail address, or render without the structured claim")
    account = notice.payment.accounts[0]  # type: ignore[union-attr]  # payment_due implies payment
    instalments = notice.instalments
    terms = None
    if len(instalments) > 1:
        terms = "Fällig in Teilbeträgen: " + "; ".join(
            f"{i.due_date:%d.%m.%Y} {_euro(i.amount)} EUR" for i in instalments)
    try:
        seller = municipality(
            a.name, street=a.address.street, post_code=a.address.post_code, city=a.address.city,
            country_code=a.address.country_code, contact_name=f"{a.office}, {o.name}",
            contact_phone=o.phone or a.phone or "", contact_email=o.email or a.email or "",
            electronic_address=a.electronic_address, legal_registration_id=a.municipality_key)
        buyer = customer(who.name, street=who.address.street, post_code=who.address.post_code,
                         city=who.address.city, country_code=who.address.country_code,
                         electronic_address=who.electronic_address)
        invoice = build_invoice(
            number=notice.reference, issue_date=notice.issue_date, seller=seller, buyer=buyer,
            leitweg_id=who.customer_number or notice.file_number,
            kassenzeichen=notice.payment.kassenzeichen,  # type: ignore[union-attr]
            **_payment_means(notice, account),
            due_date=instalments[0].due_date, payment_terms=terms,
            invoicing_period=(notice.period.start, notice.period.end) if notice.period else None,
            lines=[_line(i) for i in notice.items],
            prepaid_amount=notice.already_paid if notice.already_paid else None,
            exemption_reasons={"O": config.vat_exemption_reason},
            preceding_invoices=[(notice.amends.number, notice.amends.issue_date)] if notice.amends else [],
            notes=[f"{config.texts(notice.kind).title}: Bescheid über {notice.subject} vom "
                   f"{notice.issue_date:%d.%m.%Y}, Aktenzeichen {notice.file_number}. Maßgeblich ist der Bescheid; "
                   f"diese Datei gibt nur die Zahlungsforderung wieder.",
                   "Rechtsgrundlagen: " + "; ".join(notice.legal_basis)])
    except BuildError as exc:
        raise NoticeError(f"the structured claim cannot be built: {exc}", field="authority/addressee") from exc
    if invoice.totals.payable_amount != notice.balance:  # the claim must say what the notice says
        raise NoticeError(f"the claim's amount due {invoice.totals.payable_amount} differs from the notice's "
                          f"{notice.balance}", field="items")
    return invoice


def claim_xml(notice: Notice, config: NoticeConfig | None = None) -> bytes | None:
    """The claim as XRechnung CII bytes, or None when the notice demands no payment."""
    invoice = claim_invoice(notice, config)
    return None if invoice is None else write_invoice(invoice, "cii")
