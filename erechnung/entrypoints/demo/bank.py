"""``make demo``, part 4: the bank answers. A camt.053.001.08 end-of-day statement of the Stadtkasse's account
(``payments.demo_statement``, valid against the official XSD), made from the demo's open items: the first ones paid
in full naming their Kassenzeichen, one partly, one with a mistyped Kassenzeichen (two characters swapped), and a
transfer nobody can place; the rest stays open for the dunning run.
"""
from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from ...model.receivables import OpenItem
from ...payments.demo_statement import DemoPayment

__all__ = ["demo_payments"]

PAID_IN_FULL = 4


def _mistyped(kassenzeichen: str) -> str:
    """The Kassenzeichen with its last two differing characters swapped, as a hurried payer types it."""
    chars = list(kassenzeichen)
    for i in range(len(chars) - 1, 0, -1):
        if chars[i] != chars[i - 1] and chars[i].isdigit() and chars[i - 1].isdigit():
            chars[i], chars[i - 1] = chars[i - 1], chars[i]
            return "".join(chars)
    return kassenzeichen + "7"


def demo_payments(items: Sequence[OpenItem]) -> list[DemoPayment]:
    """The demo's story, from the open items not collected by direct debit, oldest due date first."""
    payers = sorted((i for i in items if i.mandate_id is None and i.open > 0),
                    key=lambda i: (i.due_date, i.kassenzeichen))
    payments = [DemoPayment(item.open, item.debtor_name or "Zahler", "DE89370400440532013000",
                            f"Kassenzeichen {item.kassenzeichen}") for item in payers[:PAID_IN_FULL]]
    if len(payers) > PAID_IN_FULL:
        partly = payers[PAID_IN_FULL]
        payments.append(DemoPayment((partly.open / 2).quantize(Decimal("0.01")), partly.debtor_name or "Zahler",
                                    "DE02120300000000202051", f"KZ {partly.kassenzeichen} Teilzahlung"))
    if len(payers) > PAID_IN_FULL + 1:
        typo = payers[PAID_IN_FULL + 1]
        payments.append(DemoPayment(typo.open, typo.debtor_name or "Zahler", "DE75512108001245126199",
                                    f"Kassenzeichen {_mistyped(typo.kassenzeichen)}"))
    payments.append(DemoPayment(Decimal("87.30"), "Unbekannt GmbH", "DE44500105175407324931",
                                "Rechnung 4711 vom 03.11."))
    return payments
