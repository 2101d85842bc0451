"""From the facts to the assessment: one function per notice kind, each naming the rule it implements.

``assess(draft)`` turns a ``NoticeDraft`` into a complete ``Notice``: the items with their amounts (rounded half
up to cents), the total, what is left to pay, the due dates, and the texts from configuration.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

from ..documents import german as de
from .config import NoticeConfig, load_config
from .model import (
    CENT, AssessmentItem, DogTaxAssessment, FeeAssessment, Instalment, Notice, NoticeDraft, NoticeError, NoticeKind,
    Period, PropertyTaxAssessment, TradeTaxAssessment, cents,
)

ZERO = Decimal("0")


# ============================================================================================== fees


def fee_items(facts: FeeAssessment) -> tuple[AssessmentItem, ...]:
    """Fee schedule (Gebührentarif): each position is quantity × rate (× months / 12 for a share of a year)."""
    return tuple(_item(f.description, f.quantity, f.unit, f.rate, f.rate_unit or f"€ je {f.unit}", months=f.months)
                 for f in facts.items)


def _item(description: str, basis: Decimal, basis_unit: str, rate: Decimal, rate_unit: str, *,
          percent: bool = False, months: int | None = None) -> AssessmentItem:
    draft = AssessmentItem(description=description, basis=basis, basis_unit=basis_unit, rate=rate,
                           rate_unit=rate_unit, rate_is_percent=percent, months=months, amount=ZERO)
    return draft.model_copy(update={"amount": draft.expected_amount()})


# ============================================================================================== dog tax


def dog_tax_rate(position: int, tiers: Sequence[Decimal]) -> Decimal:
    """Tiered dog tax (Hundesteuersatzung): the annual rate of the ``position``-th dog (1-based); the last tier
    applies to every further dog."""
    if position < 1:
        raise ValueError("dogs are counted from 1")
    return tiers[min(position, len(tiers)) - 1]


def dog_tax_items(facts: DogTaxAssessment) -> tuple[AssessmentItem, ...]:
    """Dog tax by number of dogs and tiers: the dogs are counted in the order given (order of registration); a
    dangerous dog pays the statute's rate for dangerous dogs instead of its tier but still counts; a dog kept
    for part of the year pays months / 12 of its rate."""
    items = []
    for position, dog in enumerate(facts.dogs, start=1):
        if dog.dangerous:
            if facts.dangerous_rate is None:
                raise NoticeError(f"{dog.name} is a dangerous dog, but no rate for dangerous dogs is given",
                                  field="assessment.dangerous_rate", fix="give the statute's rate")
            rate, what = facts.dangerous_rate, f"{position}. Hund ({dog.name}, gefährlicher Hund)"
        else:
            rate, what = dog_tax_rate(position, facts.tiers), f"{position}. Hund ({dog.name})"
        months = dog.months if dog.months != 12 else None
        if months:
            what += f", {months} Monate"
        items.append(_item(f"Hundesteuer {facts.year}: {what}", Decimal(1), "Hund", rate, "€ je Hund und Jahr",
                           months=months))
    return tuple(items)


# ============================================================================================== property tax


def grstg_25(messbetrag: Decimal, hebesatz: Decimal) -> Decimal:
    """§ 25 GrStG with § 13: annual property tax = Messbetrag × Hebesatz / 100, rounded half up to cents."""
    return cents(messbetrag * hebesatz / 100)


def property_tax_items(facts: PropertyTaxAssessment) -> tuple[AssessmentItem, ...]:
    return (_item(f"Grundsteuer {facts.tax_type} {facts.year}, {facts.property}", facts.messbetrag,
                  "€ Messbetrag", facts.hebesatz, "% Hebesatz", percent=True),)


def _split(amount: Decimal, parts: int) -> list[Decimal]:
    """``amount`` in ``parts`` equal cent amounts; the cent remainder goes on the first part."""
    share = (amount / parts).quantize(CENT, rounding=ROUND_DOWN)
    return [amount - share * (parts - 1)] + [share] * (parts - 1)


def grstg_28(annual: Decimal, year: int, *, small_amount_rule: bool = True,
             annual_payment: bool = False) -> tuple[Instalment, ...]:
    """§ 28 GrStG due dates of the annual property tax.

    Abs. 1: a quarter each on 15 February, 15 May, 15 August and 15 November. Abs. 2 (where the municipality
    has so provided): up to 15 € all on 15 August; up to 30 € half each on 15 February and 15 November.
    Abs. 3 (on the taxpayer's application): the whole year on 1 July. The cent remainder of a split falls
    on the first instalment.
    """
    if annual <= 0:
        return ()
    if annual_payment:
        return (Instalment(due_date=date(year, 7, 1), amount=annual),)
    if small_amount_rule and annual <= 15:
        return (Instalment(due_date=date(year, 8, 15), amount=annual),)
    if small_amount_rule and annual <= 30:
        dates = [date(year, 2, 15), date(year, 11, 15)]
    else:
        dates = [date(year, 2, 15), date(year, 5, 15), date(year, 8, 15), date(year, 11, 15)]
    return tuple(Instalment(due_date=d, amount=a) for d, a in zip(dates, _split(annual, len(dates))))


def settle_paid(instalments: Sequence[Instalment], paid: Decimal) -> tuple[Instalment, ...]:
    """What remains due after ``paid`` was credited to the earliest instalments (§ 225 AO order: oldest first)."""
    left, remaining = paid, []
    for inst in sorted(instalments, key=lambda i: i.due_date):
        take = min(left, inst.amount)
        left -= take
        if inst.amount - take > 0:
            remaining.append(inst.model_copy(update={"amount": inst.amount - take}))
    return tuple(remaining)


# ============================================================================================== trade tax

#: § 19 Abs. 5 Satz 2 GewStG: a prepayment is only set when it comes to at least this much.
GEWSTG_19_MINIMUM = Decimal("50")


def gewstg_16(messbetrag: Decimal, hebesatz: Decimal) -> Decimal:
    """§ 16 Abs. 1 GewStG: the trade tax is the Messbetrag × the municipality's Hebesatz / 100, in cents."""
    return cents(messbetrag * hebesatz / 100)


def gewstg_19_quarter(messbetrag: Decimal, hebesatz: Decimal) -> Decimal:
    """§ 19 Abs. 2, Abs. 5 Satz 1 GewStG: one prepayment is a quarter of the tax (Messbetrag × Hebesatz / 100),
    rounded down to whole euro; NoticeError below the 50 € of § 19 Abs. 5 Satz 2 (no prepayment is set then)."""
    quarter = (gewstg_16(messbetrag, hebesatz) / 4).quantize(Decimal("1"), rounding=ROUND_DOWN).quantize(CENT)
    if quarter < GEWSTG_19_MINIMUM:
        raise NoticeError(f"a quarter of the trade tax is {quarter} €; prepayments under 50 € are not set "
                          "(§ 19 Abs. 5 Satz 2 GewStG)", field="assessment.prepayments",
                          fix="issue no prepayment notice for this business (the tax is settled by the assessment)")
    return quarter


def trade_tax_items(facts: TradeTaxAssessment) -> tuple[AssessmentItem, ...]:
    """The assessment of the year: Messbetrag × Hebesatz (§ 16 GewStG); the prepayments of the year: four
    prepayments of a quarter of that each, in whole euro (§ 19 Abs. 2, 5 GewStG)."""
    what = (f"{facts.business}, Messbetrag {de.money(facts.messbetrag)} × Hebesatz {de.percent(facts.hebesatz)} "
            f"= {de.money(gewstg_16(facts.messbetrag, facts.hebesatz))}")
    if facts.prepayments:
        quarter = gewstg_19_quarter(facts.messbetrag, facts.hebesatz)
        return (_item(f"Gewerbesteuer-Vorauszahlungen {facts.year} ({what}, je ein Viertel, auf volle Euro "
                      "abgerundet)", Decimal(4), "Vorauszahlungen", quarter, "€ je Vorauszahlung"),)
    return (_item(f"Gewerbesteuer {facts.year}, {facts.business}", facts.messbetrag, "€ Messbetrag",
                  facts.hebesatz, "% Hebesatz", percent=True),)


def gewstg_19(quarter: Decimal, year: int) -> tuple[Instalment, ...]:
    """§ 19 Abs. 1 Satz 1 GewStG: the prepayments fall due on 15 February, 15 May, 15 August and 15 November."""
    return tuple(Instalment(due_date=date(year, month, 15), amount=quarter) for month in (2, 5, 8, 11))


# ============================================================================================== the notice


def assess(draft: NoticeDraft, config: NoticeConfig | None = None) -> Notice:
    """The complete notice of ``draft``: items, total, balance, due dates, appeal instructions and notes."""
    config = config or load_config()
    facts = draft.assessment
    period = None
    if isinstance(facts, PropertyTaxAssessment):
        items = property_tax_items(facts)
        period = Period(start=date(facts.year, 1, 1), end=date(facts.year, 12, 31))
    elif isinstance(facts, TradeTaxAssessment):
        items = trade_tax_items(facts)
        period = Period(start=date(facts.year, 1, 1), end=date(facts.year, 12, 31))
    elif isinstance(facts, DogTaxAssessment):
        items = dog_tax_items(facts)
        period = Period(start=date(facts.year, 1, 1), end=date(facts.year, 12, 31))
    else:
        items = fee_items(facts)
    total = sum((i.amount for i in items), ZERO)
    balance = total - draft.already_paid
    instalments: tuple[Instalment, ...] = ()
    if balance > 0:
        if isinstance(facts, PropertyTaxAssessment):
            if draft.due_date is not None:
                raise NoticeError("property tax falls due by § 28 GrStG, not on a date of the draft",
                                  field="due_date", fix="leave due_date out")
            instalments = settle_paid(grstg_28(total, facts.year, small_amount_rule=facts.small_amount_rule,
                                               annual_payment=facts.annual_payment), draft.already_paid)
        elif isinstance(facts, TradeTaxAssessment) and facts.prepayments:
            if draft.due_date is not None:
                raise NoticeError("trade tax prepayments fall due by § 19 Abs. 1 GewStG, not on a date of the draft",
                                  field="due_date", fix="leave due_date out")
            instalments = settle_paid(gewstg_19(items[0].rate, facts.year), draft.already_paid)
        else:  # fees, dog tax; the trade tax's Abschlusszahlung: a month after notification (§ 20 Abs. 2 GewStG)
            due = draft.due_date or draft.issue_date + timedelta(days=config.due_days)
            instalments = (Instalment(due_date=due, amount=balance),)
        if draft.payment is None:
            raise NoticeError(f"{balance} € are to be paid, but the notice names no Kassenzeichen and account",
                              field="payment", fix="give payment.kassenzeichen and payment.accounts")
    kind: NoticeKind = draft.kind
    header = draft.model_dump(exclude={"assessment", "due_date"})
    return Notice.model_validate({
        **header, "period": period, "items": items, "total": total, "balance": balance,
        "instalments": instalments, "appeal_instructions": config.appeal(kind, draft.authority),
        "automation_note": config.automation_note(kind, draft.authority) if draft.automated else None,
        "remarks": config.remarks(kind, draft.authority),
    })
