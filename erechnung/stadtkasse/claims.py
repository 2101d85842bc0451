"""What a handed-over document claims, as open items (no I/O): read from the document's invoice model (an
invoice, a credit note, or the XRechnung claim a notice embeds; ``erechnung.notices.claim`` maps a notice).

* amount: BT-115 (amount due); a notice's instalments are its BT-20 instalment plan ("Fällig in Teilbeträgen:
  15.02.2027 12,50 EUR; ..."), one item each, numbered 1..n; else one item, instalment 0;
* due date: BT-9, else the issue date (BT-2);
* Kassenzeichen: BT-83 (remittance information), else the document number (BT-1);
* the municipality's account: BT-84 of the first credit transfer; debtor IBAN and mandate: BG-19 (BT-91, BT-89);
* a credit note (BT-3 381) names the invoice it reduces in BT-25; an Änderungsbescheid the notice it amends.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

from ..model.documents import DocumentKind
from ..model.invoice import Invoice
from ..model.receivables import OpenItem

CREDIT_NOTE_CODES = frozenset({"381", "396", "532"})
_INSTALMENT = re.compile(r"(\d{2}\.\d{2}\.\d{4})\s+([0-9.]+,\d{2})\s*EUR")
_PLAN = "Fällig in Teilbeträgen:"


def instalment_plan(payment_terms: str | None) -> list[tuple[date, Decimal]]:
    """The (due date, amount) pairs of a BT-20 instalment plan as ``notices.claim`` writes it; [] if none."""
    if not payment_terms or _PLAN not in payment_terms:
        return []
    plan = payment_terms.split(_PLAN, 1)[1]
    return [(datetime.strptime(d, "%d.%m.%Y").date(), Decimal(a.replace(".", "").replace(",", ".")))
            for d, a in _INSTALMENT.findall(plan)]


def is_credit_note(invoice: Invoice, kind: str) -> bool:
    return kind == DocumentKind.CREDIT_NOTE or invoice.type_code in CREDIT_NOTE_CODES


def preceding_number(invoice: Invoice) -> str | None:
    """The document this one reduces or amends (BT-25), or None."""
    return invoice.preceding_invoices[0].number if invoice.preceding_invoices else None


def claims(invoice: Invoice, *, document_id: int, kind: str, department: str, debtor_ref: str | None,
           number: str | None = None, default_account: str = "") -> list[OpenItem]:
    """The open items the document claims ([] when nothing is to be paid). ``default_account``: the account the
    department is paid to, for a document naming none (a direct debit invoice)."""
    amount = invoice.totals.payable_amount
    if amount <= 0:
        return []
    pay = invoice.payment_instructions[0] if invoice.payment_instructions else None
    kassenzeichen = (pay.remittance_information if pay and pay.remittance_information else None) \
        or number or invoice.number
    account = pay.credit_transfers[0].account_id if pay and pay.credit_transfers else default_account
    debit = pay.direct_debit if pay else None
    common = dict(document_id=document_id, number=number or invoice.number, kassenzeichen=kassenzeichen[:200],
                  department=department, debtor_ref=debtor_ref or invoice.buyer_reference or "",
                  debtor_name=invoice.buyer.name[:300], account_iban=account.replace(" ", ""),
                  debtor_iban=debit.debited_account_id if debit else None,
                  mandate_id=debit.mandate_reference if debit else None,
                  taxes_or_levies=kind == DocumentKind.NOTICE)
    plan = instalment_plan(invoice.payment_terms)
    if len(plan) > 1 and sum(a for _, a in plan) == amount:
        return [OpenItem(instalment=i, amount=a, due_date=d, **common) for i, (d, a) in enumerate(plan, start=1)]
    return [OpenItem(instalment=0, amount=amount, due_date=invoice.due_date or invoice.issue_date, **common)]
