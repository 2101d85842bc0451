"""The arithmetic of EN 16931: line net amounts, document totals (BG-22) and the VAT breakdown (BG-23).

One function per rule, named after it: ``br_co_10`` derives the Sum of Invoice line net amount (BT-106) the way
BR-CO-10 states it, and so on; the rules EN 16931 states once per VAT category are one function each, given the
rule id: ``br_x_08("BR-S-08", ...)`` the taxable amount of a standard rated breakdown (``VAT_CATEGORY_RULES``).
Two entry points use them:

``complete(draft)``
    derives BT-131 (or checks the given ones), BG-22 and BG-23 from lines, allowances and charges, so that a
    document built from department data is arithmetically right by construction. Contradictory input raises
    ``CalculationError`` naming the term and the rule.
``check(invoice)``
    reports which BR-CO-10..18 and BR-S/Z/E/AE/IC/G/O/AF/AG-08/09/10 rules an existing invoice violates, with
    exactly the tolerance of the official CEN Schematron 1.3.15 (which differs between UBL and CII, see
    ``*_holds``), so that a clerk learns about it before validation.

Rounding
    Derived amounts are rounded commercially: half away from zero (``ROUND_HALF_UP``), so that a credit line
    mirrors its debit line to the cent, to two decimals or the currency's smaller minor unit (JPY: 0). The
    Schematron's own ``round()`` (XPath ``fn:round``) rounds halves towards positive infinity; the checks mirror
    it with ``xpath_round``. All arithmetic is ``Decimal``, never float (see CII-BR-CO-10-RoundingIssue.xml).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Literal, NamedTuple

from .errors import CalculationError
from .model import (
    DocumentAllowance, DocumentCharge, DocumentTotals, Invoice, InvoiceLine, LineAllowance, LineCharge,
    LineVat, PriceDetails, VatBreakdown, VatCategory,
)
from .model.codes import EXEMPTION_REASON_CATEGORIES, ZERO_RATE_CATEGORIES

Syntax = Literal["ubl", "cii"]
SYNTAXES: tuple[Syntax, ...] = ("ubl", "cii")

ZERO = Decimal("0")
ONE = Decimal("1")
HUNDRED = Decimal("100")

#: Categories whose breakdown is one per category AND rate (BR-S-08, BR-AF-08, BR-AG-08); every other
#: category has one breakdown whatever the lines' rates (BR-Z-08, BR-E-08, BR-AE-08, BR-IC-08, BR-G-08, BR-O-08).
PER_RATE_CATEGORIES = frozenset({VatCategory.STANDARD, VatCategory.CANARY_ISLANDS, VatCategory.CEUTA_MELILLA})

#: Categories whose breakdown must not carry an exemption reason (BR-S-10, BR-Z-10, BR-AF-10, BR-AG-10).
NO_EXEMPTION_REASON_CATEGORIES = frozenset({VatCategory.STANDARD, VatCategory.ZERO, VatCategory.CANARY_ISLANDS,
                                            VatCategory.CEUTA_MELILLA})

#: The rule prefix of each category's rules (K is "IC", L is "AF", M is "AG").
RULE_PREFIX: dict[VatCategory, str] = {
    VatCategory.STANDARD: "BR-S", VatCategory.ZERO: "BR-Z", VatCategory.EXEMPT: "BR-E",
    VatCategory.REVERSE_CHARGE: "BR-AE", VatCategory.INTRA_COMMUNITY: "BR-IC", VatCategory.EXPORT: "BR-G",
    VatCategory.NOT_SUBJECT: "BR-O", VatCategory.CANARY_ISLANDS: "BR-AF", VatCategory.CEUTA_MELILLA: "BR-AG",
}

CATEGORY_NAMES: dict[VatCategory, str] = {
    VatCategory.STANDARD: "Standard rated", VatCategory.ZERO: "Zero rated", VatCategory.EXEMPT: "Exempt from VAT",
    VatCategory.REVERSE_CHARGE: "Reverse charge", VatCategory.INTRA_COMMUNITY: "Intra-community supply",
    VatCategory.EXPORT: "Export outside the EU", VatCategory.NOT_SUBJECT: "Not subject to VAT",
    VatCategory.CANARY_ISLANDS: "IGIC", VatCategory.CEUTA_MELILLA: "IPSI",
}

#: ISO 4217 currencies whose minor unit is not 2 (all others have 2). EN 16931 allows at most 2 decimals for
#: every amount (BR-DEC-*), so 3- and 4-decimal currencies are still rounded to 2.
_MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
                     "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}


# ============================================================================================== rounding


def minor_unit(currency: str) -> int:
    """Decimals of an amount in ``currency``: its ISO 4217 minor unit, at most 2 (BR-DEC-*)."""
    return min(_MINOR_UNITS.get(currency.upper(), 2), 2)


def quantum(currency: str = "EUR") -> Decimal:
    """The smallest amount of ``currency`` an invoice can state (``Decimal('0.01')`` for EUR)."""
    return ONE.scaleb(-minor_unit(currency))


def round_amount(value: Decimal, currency: str = "EUR") -> Decimal:
    """``value`` rounded commercially (half away from zero) to the currency's decimals."""
    return value.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def xpath_round(value: Decimal) -> Decimal:
    """XPath 2.0 ``fn:round``: the nearest integer, halves towards positive infinity (``round(-2.5) = -2``)."""
    return (value + Decimal("0.5")).to_integral_value(rounding=ROUND_FLOOR)


def xpath_round2(value: Decimal) -> Decimal:
    """The Schematron's ``round(x * 10 * 10) div 100``: two decimals, halves towards positive infinity."""
    return xpath_round(value * HUNDRED) / HUNDRED


def _decimal(value: Any, term: str, where: str) -> Decimal:
    """``value`` as a finite Decimal (never via float), or a CalculationError naming the term."""
    if isinstance(value, float):
        raise CalculationError(f"{term} ({where}): {value!r} is a float; pass a Decimal, an int or a string "
                               f"such as '12.30' so that no binary rounding creeps in")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise CalculationError(f"{term} ({where}): {value!r} is not a number") from None
    if not number.is_finite():
        raise CalculationError(f"{term} ({where}): {value!r} is not a finite number")
    return number


def _stated_amount(value: Any, currency: str, term: str, where: str) -> Decimal:
    """An amount the sender states (not derived): at most the currency's decimals (BR-DEC-*), never rounded."""
    number = _decimal(value, term, where)
    if number != number.quantize(quantum(currency), rounding=ROUND_HALF_UP):
        raise CalculationError(f"{term} ({where}): {number} has more than {minor_unit(currency)} decimals; "
                               f"round it before, the calculator does not change stated amounts (BR-DEC)")
    return number


# ============================================================================================== BT-131


def bt_131(quantity: Decimal, price: PriceDetails, allowances: Iterable[LineAllowance] = (),
           charges: Iterable[LineCharge] = (), currency: str = "EUR") -> Decimal:
    """BT-131 Invoice line net amount.

    EN 16931-1 BT-131: "The total amount of the Invoice line. The amount is 'net' without VAT, i.e. inclusive of
    line level allowances and charges as well as other relevant taxes." Computed as Invoiced quantity (BT-129)
    x Item net price (BT-146) / Item price base quantity (BT-149, default 1) + Σ Invoice line charge amount
    (BT-141) - Σ Invoice line allowance amount (BT-136), rounded half away from zero to the currency's decimals.
    (The CEN Schematron has no rule for it; the XRechnung testsuite's 03.04a even deviates by a cent.)
    """
    base = price.base_quantity if price.base_quantity is not None else ONE
    if base == 0:
        raise CalculationError("BT-149 Item price base quantity is 0; leave it empty or state a positive number")
    gross = quantity * price.net_price / base
    return round_amount(gross + sum((c.amount for c in charges), ZERO) - sum((a.amount for a in allowances), ZERO),
                        currency)


# ============================================================================================== BG-22 (BR-CO-10..16)


def br_co_10(line_net_amounts: Iterable[Decimal]) -> Decimal:
    """BR-CO-10: Sum of Invoice line net amount (BT-106) = Σ Invoice line net amount (BT-131)."""
    return sum(line_net_amounts, ZERO)


def br_co_11(allowance_amounts: Iterable[Decimal]) -> Decimal | None:
    """BR-CO-11: Sum of allowances on document level (BT-107) = Σ Document level allowance amount (BT-92).

    ``None`` (BT-107 absent) when there is no document level allowance.
    """
    amounts = list(allowance_amounts)
    return sum(amounts, ZERO) if amounts else None


def br_co_12(charge_amounts: Iterable[Decimal]) -> Decimal | None:
    """BR-CO-12: Sum of charges on document level (BT-108) = Σ Document level charge amount (BT-99).

    ``None`` (BT-108 absent) when there is no document level charge.
    """
    amounts = list(charge_amounts)
    return sum(amounts, ZERO) if amounts else None


def br_co_13(line_net_total: Decimal, allowance_total: Decimal | None, charge_total: Decimal | None) -> Decimal:
    """BR-CO-13: Invoice total amount without VAT (BT-109) = Σ Invoice line net amount (BT-131)
    - Sum of allowances on document level (BT-107) + Sum of charges on document level (BT-108)."""
    return line_net_total - (allowance_total or ZERO) + (charge_total or ZERO)


def br_co_14(breakdown_tax_amounts: Iterable[Decimal]) -> Decimal:
    """BR-CO-14: Invoice total VAT amount (BT-110) = Σ VAT category tax amount (BT-117)."""
    return sum(breakdown_tax_amounts, ZERO)


def br_co_15(tax_exclusive: Decimal, tax_amount: Decimal) -> Decimal:
    """BR-CO-15: Invoice total amount with VAT (BT-112) = Invoice total amount without VAT (BT-109)
    + Invoice total VAT amount (BT-110)."""
    return tax_exclusive + tax_amount


def br_co_16(tax_inclusive: Decimal, prepaid: Decimal | None = None, rounding: Decimal | None = None) -> Decimal:
    """BR-CO-16: Amount due for payment (BT-115) = Invoice total amount with VAT (BT-112) - Paid amount (BT-113)
    + Rounding amount (BT-114)."""
    return tax_inclusive - (prepaid or ZERO) + (rounding or ZERO)


def br_dex_09(tax_inclusive: Decimal, prepaid: Decimal | None, rounding: Decimal | None,
              third_party_amounts: Iterable[Decimal]) -> Decimal:
    """BR-DEX-09 (XRechnung extension, in place of BR-CO-16 when third party payments BG-DEX-09 exist): Amount due
    for payment (BT-115) = Invoice total amount with VAT (BT-112) - Paid amount (BT-113) + Rounding amount
    (BT-114) + Σ Third party payment amount (BT-DEX-002)."""
    return br_co_16(tax_inclusive, prepaid, rounding) + sum(third_party_amounts, ZERO)


def br_co_17(taxable: Decimal, rate: Decimal | None, currency: str = "EUR") -> Decimal:
    """BR-CO-17: VAT category tax amount (BT-117) = VAT category taxable amount (BT-116) x (VAT category rate
    (BT-119) / 100), rounded to two decimals.

    Rounded half away from zero, so that a negative taxable amount gives the negative of the positive one's tax
    (BIS3_Invoice_negativ.XML: -625743.54 x 25 % = -156435.885 -> -156435.89). No rate means no tax.
    """
    if rate is None:
        return round_amount(ZERO, currency)
    return round_amount(taxable * rate / HUNDRED, currency)


# ============================================================================================== BG-23 (BR-x-08/09)


class _Taxed(NamedTuple):
    """One contribution to a VAT category's taxable amount: a line, allowance (negative) or charge."""

    amount: Decimal
    category: VatCategory | None
    rate: Decimal | None


def _contributions(lines: Iterable[InvoiceLine], allowances: Iterable[DocumentAllowance],
                   charges: Iterable[DocumentCharge]) -> tuple[list[_Taxed], list[_Taxed], list[_Taxed]]:
    return ([_Taxed(ln.net_amount, ln.vat.category, ln.vat.rate) for ln in lines],
            [_Taxed(a.amount, a.vat_category, a.vat_rate) for a in allowances],
            [_Taxed(c.amount, c.vat_category, c.vat_rate) for c in charges])


def _same_rate(a: Decimal | None, b: Decimal | None) -> bool:
    return a is not None and b is not None and a == b


def _taxable(lines: Sequence[InvoiceLine], allowances: Sequence[DocumentAllowance],
             charges: Sequence[DocumentCharge], category: VatCategory, rate: Decimal | None = None,
             per_rate: bool = False) -> Decimal:
    """Σ lines + Σ charges - Σ allowances of ``category`` (and of ``rate`` when ``per_rate``)."""
    ln, al, ch = _contributions(lines, allowances, charges)

    def total(items: list[_Taxed]) -> Decimal:
        return sum((i.amount for i in items if i.category == category
                    and (not per_rate or _same_rate(i.rate, rate))), ZERO)
    return total(ln) + total(ch) - total(al)


#: BR-x-08 and BR-x-09, one pair per VAT category (the rule ids' prefixes are ``RULE_PREFIX``): the rule id and the
#: category it is stated for. ``br_x_08`` and ``br_x_09`` apply them.
VAT_CATEGORY_RULES: dict[str, VatCategory] = {
    f"{prefix}-{number}": category for category, prefix in RULE_PREFIX.items() for number in ("08", "09")}


def _rule_category(rule: str, number: str) -> VatCategory:
    category = VAT_CATEGORY_RULES.get(rule.upper()) if rule.upper().endswith(f"-{number}") else None
    if category is None:
        raise ValueError(f"{rule!r} is no BR-x-{number} rule: use one of "
                         + ", ".join(r for r in VAT_CATEGORY_RULES if r.endswith(f"-{number}")))
    return category


def br_x_08(rule: str, lines: Sequence[InvoiceLine], allowances: Sequence[DocumentAllowance],
            charges: Sequence[DocumentCharge], rate: Decimal | None = None) -> Decimal:
    """BR-S-08, BR-Z-08, BR-E-08, BR-AE-08, BR-IC-08, BR-G-08, BR-O-08, BR-AF-08, BR-AG-08 (``rule``), the VAT
    category taxable amount (BT-116) in a VAT breakdown (BG-23) of the rule's category (``VAT_CATEGORY_RULES``).

    Every one of them: BT-116 shall equal the sum of Invoice line net amounts (BT-131) plus the sum of document
    level charge amounts (BT-99) minus the sum of document level allowance amounts (BT-92) where the VAT category
    code (BT-151, BT-102, BT-95) is the breakdown's (BT-118). For "Standard rated", "IGIC" (code L) and "IPSI"
    (code M), the BR-S/AF/AG-08 say so "for each different value of VAT category rate (BT-119)": only the items
    whose VAT rate (BT-152, BT-103, BT-96) equals ``rate`` count."""
    category = _rule_category(rule, "08")
    return _taxable(lines, allowances, charges, category, rate, per_rate=category in PER_RATE_CATEGORIES)


def br_x_09(rule: str, taxable: Decimal, rate: Decimal | None = None, currency: str = "EUR") -> Decimal:
    """BR-S-09, BR-AF-09, BR-AG-09 and BR-Z-09, BR-E-09, BR-AE-09, BR-IC-09, BR-G-09, BR-O-09 (``rule``), the VAT
    category tax amount (BT-117) in a VAT breakdown (BG-23) of the rule's category (``VAT_CATEGORY_RULES``).

    "Standard rated", "IGIC" and "IPSI": BT-117 shall equal the VAT category taxable amount (BT-116) multiplied by
    the VAT category rate (BT-119) (as ``br_co_17``). Every other category ("Zero rated", "Exempt from VAT",
    "Reverse charge", "Intra-community supply", "Export outside the EU", "Not subject to VAT"): BT-117 shall
    equal 0 (zero)."""
    if _rule_category(rule, "09") in PER_RATE_CATEGORIES:
        return br_co_17(taxable, rate, currency)
    return round_amount(ZERO, currency)


class Exemption(NamedTuple):
    """A VAT exemption reason for a breakdown: text (BT-120), code (BT-121, VATEX), or both."""

    text: str | None = None
    code: str | None = None


#: BT-119 of a "Not subject to VAT" breakdown. EN 16931 lets it be absent (BR-48), but XRechnung's BR-DE-14
#: requires a rate in every breakdown; the XRechnung testsuite (01.04a) writes 0. Lines, allowances and charges
#: of category O still carry no rate (BR-O-05..07).
NOT_SUBJECT_BREAKDOWN_RATE = Decimal("0")


def vat_breakdown(lines: Sequence[InvoiceLine], allowances: Sequence[DocumentAllowance] = (),
                  charges: Sequence[DocumentCharge] = (), currency: str = "EUR",
                  exemption_reasons: Mapping[VatCategory | str, str | Exemption] | None = None,
                  ) -> tuple[VatBreakdown, ...]:
    """BG-23: one breakdown per VAT category, and per rate for S, L and M (BR-CO-17, BR-x-08, BR-x-09, BR-x-10).

    Groups appear in the order their first line, allowance or charge appears. Taxable amounts come from the
    category's -08 rule, tax amounts from its -09 rule (BR-CO-17 for S, L, M; zero for the others).
    Exemption reasons are required for E, AE, K, G and O (BR-E/AE/IC/G/O-10) and refused for S, Z, L and M
    (BR-S/Z/AF/AG-10).
    """
    reasons = _exemption_reasons(exemption_reasons)
    groups: dict[tuple[VatCategory, Decimal | None], None] = {}
    for item in _contributions(lines, allowances, charges):
        for taxed in item:
            category = VatCategory(taxed.category)
            groups.setdefault((category, taxed.rate if category in PER_RATE_CATEGORIES else None), None)
    used = {category for category, _ in groups}
    for category in reasons:
        if category not in used:
            raise CalculationError(f"BT-120/BT-121: an exemption reason is given for VAT category {category.value} "
                                   f"({CATEGORY_NAMES[category]}), but no line, allowance or charge has it")
    result = []
    for category, rate in groups:
        prefix = RULE_PREFIX[category]
        if category in PER_RATE_CATEGORIES:
            if rate is None:
                raise CalculationError(f"BT-152/BT-96/BT-103: an item of category {category.value} "
                                       f"({CATEGORY_NAMES[category]}) has no VAT rate ({prefix}-05/06/07)")
            breakdown_rate: Decimal | None = rate
        else:
            breakdown_rate = NOT_SUBJECT_BREAKDOWN_RATE if category is VatCategory.NOT_SUBJECT else ZERO
        taxable = br_x_08(f"{prefix}-08", lines, allowances, charges, rate)
        tax = br_x_09(f"{prefix}-09", taxable, rate, currency)
        exemption = reasons.get(category)
        if category in EXEMPTION_REASON_CATEGORIES and exemption is None:
            raise CalculationError(
                f"BT-120/BT-121: the VAT breakdown of category {category.value} ({CATEGORY_NAMES[category]}) needs a "
                f"VAT exemption reason text (BT-120) or code (BT-121) ({prefix}-10); pass exemption_reasons="
                f"{{'{category.value}': 'reason text'}}")
        if category in NO_EXEMPTION_REASON_CATEGORIES and exemption is not None:
            raise CalculationError(
                f"BT-120/BT-121: a VAT breakdown of category {category.value} ({CATEGORY_NAMES[category]}) must not "
                f"have a VAT exemption reason ({prefix}-10); remove it or use an exempt category (E, AE, K, G, O)")
        result.append(VatBreakdown(
            taxable_amount=round_amount(taxable, currency), tax_amount=tax, category=category, rate=breakdown_rate,
            exemption_reason=exemption.text if exemption else None,
            exemption_reason_code=exemption.code if exemption else None))
    return tuple(result)


def _exemption_reasons(given: Mapping[VatCategory | str, str | Exemption] | None) -> dict[VatCategory, Exemption]:
    result = {}
    for key, value in (given or {}).items():
        try:
            category = VatCategory(key)
        except ValueError:
            raise CalculationError(f"BT-118: {key!r} is not a VAT category code (S, Z, E, AE, K, G, O, L, M)") from None
        exemption = Exemption(text=value) if isinstance(value, str) else Exemption(*value)
        if not (exemption.text or exemption.code):
            raise CalculationError(f"BT-120/BT-121: the exemption reason for category {category.value} is empty")
        result[category] = exemption
    return result


# ============================================================================================== complete()


def _fields(obj: Any) -> dict[str, Any]:
    """A model instance's (or a mapping's) fields as a fresh dict."""
    if isinstance(obj, Mapping):
        return dict(obj)
    return {name: getattr(obj, name) for name in type(obj).model_fields}


def _vat_rate(category: VatCategory, rate: Any, term: str, where: str) -> Decimal | None:
    """The rate a line, allowance or charge of ``category`` must carry (BR-x-05/06/07), or CalculationError."""
    prefix = RULE_PREFIX[category]
    number = None if rate is None or rate == "" else _decimal(rate, term, where)
    if category is VatCategory.STANDARD:
        if number is None or number <= 0:
            raise CalculationError(f"{term} ({where}): a standard rated (S) item needs a VAT rate above 0, "
                                   f"got {number} ({prefix}-05/06/07); use Z, E or O for untaxed items")
        return number
    if category in ZERO_RATE_CATEGORIES:
        if number not in (None, ZERO):
            raise CalculationError(f"{term} ({where}): category {category.value} ({CATEGORY_NAMES[category]}) has "
                                   f"VAT rate 0, got {number} ({prefix}-05/06/07)")
        return ZERO
    if category is VatCategory.NOT_SUBJECT:
        if number not in (None, ZERO):
            raise CalculationError(f"{term} ({where}): an item not subject to VAT (O) has no VAT rate, got {number} "
                                   f"(BR-O-05/06/07)")
        return None
    if number is None or number < 0:   # L, M
        raise CalculationError(f"{term} ({where}): category {category.value} ({CATEGORY_NAMES[category]}) needs a "
                               f"VAT rate of 0 or more, got {number} ({prefix}-05/06/07)")
    return number


def _category(value: Any, term: str, where: str) -> VatCategory:
    try:
        return VatCategory(value)
    except ValueError:
        raise CalculationError(f"{term} ({where}): {value!r} is not a VAT category code "
                               f"(S, Z, E, AE, K, G, O, L, M)") from None


def _line(draft: Any, index: int, currency: str) -> InvoiceLine:
    fields = _fields(draft)
    where = f"line {fields.get('id') or index + 1}"
    price = fields.get("price")
    if price is None:
        raise CalculationError(f"BG-29 ({where}): the line has no price details (Item net price BT-146)")
    price = price if isinstance(price, PriceDetails) else PriceDetails.model_validate(price)
    if price.net_price < 0:
        raise CalculationError(f"BT-146 ({where}): the item net price {price.net_price} is negative (BR-27); "
                               f"state a negative quantity or a line allowance instead")
    quantity = _decimal(fields.get("quantity"), "BT-129", where)
    allowances = tuple(a if isinstance(a, LineAllowance) else LineAllowance.model_validate(a)
                       for a in fields.get("allowances") or ())
    charges = tuple(c if isinstance(c, LineCharge) else LineCharge.model_validate(c)
                    for c in fields.get("charges") or ())
    for item, term in [(a, "BT-136") for a in allowances] + [(c, "BT-141") for c in charges]:
        _stated_amount(item.amount, currency, term, where)
    net = bt_131(quantity, price, allowances, charges, currency)
    given = fields.get("net_amount")
    if given is not None and _decimal(given, "BT-131", where) != net:
        raise CalculationError(
            f"BT-131 ({where}): the given line net amount {given} contradicts quantity x price / base quantity "
            f"+ charges - allowances = {quantity} x {price.net_price} / {price.base_quantity or 1} "
            f"+ {sum((c.amount for c in charges), ZERO)} - {sum((a.amount for a in allowances), ZERO)} = {net}")
    vat = fields.get("vat")
    if vat is None:
        raise CalculationError(f"BG-30 ({where}): the line has no VAT category (BT-151)")
    vat_fields = _fields(vat)
    category = _category(vat_fields.get("category"), "BT-151", where)
    fields.update(quantity=quantity, price=price, allowances=allowances, charges=charges, net_amount=net,
                  vat=LineVat(category=category, rate=_vat_rate(category, vat_fields.get("rate"), "BT-152", where)))
    return InvoiceLine.model_validate(fields)


def _document_level(draft: Any, index: int, model: type, currency: str) -> Any:
    fields = _fields(draft)
    charge = model is DocumentCharge
    where = f"document level {'charge' if charge else 'allowance'} {index + 1}"
    amount_term, category_term, rate_term = ("BT-99", "BT-102", "BT-103") if charge else ("BT-92", "BT-95", "BT-96")
    fields["amount"] = _stated_amount(fields.get("amount"), currency, amount_term, where)
    category = _category(fields.get("vat_category"), category_term, where)
    fields.update(vat_category=category, vat_rate=_vat_rate(category, fields.get("vat_rate"), rate_term, where))
    return model.model_validate(fields)


def _refuse_mixing_not_subject(lines: Sequence[InvoiceLine], allowances: Sequence[DocumentAllowance],
                               charges: Sequence[DocumentCharge]) -> None:
    """BR-O-11..14: an invoice with "Not subject to VAT" has no other VAT category anywhere."""
    categories = {ln.vat.category for ln in lines} | {a.vat_category for a in allowances} \
        | {c.vat_category for c in charges}
    if VatCategory.NOT_SUBJECT in categories and len(categories) > 1:
        others = ", ".join(sorted(c.value for c in categories - {VatCategory.NOT_SUBJECT}))
        raise CalculationError(f"BT-151/BT-95/BT-102: an invoice with items not subject to VAT (O) must not have "
                               f"other VAT categories ({others}) (BR-O-11..14); send them on a separate invoice")


def complete(draft: Invoice | Mapping[str, Any], *, prepaid_amount: Any = None, rounding_amount: Any = None,
             exemption_reasons: Mapping[VatCategory | str, str | Exemption] | None = None,
             tax_amount_in_tax_currency: Any = None) -> Invoice:
    """The invoice with BT-131 of every line, BG-22 and BG-23 derived from lines, allowances and charges.

    ``draft`` is an ``Invoice`` (recomputed; its lines' BT-131 are checked) or a mapping of ``Invoice`` field
    names in which ``totals`` and ``vat_breakdown`` may be missing and each line (an ``InvoiceLine`` or a mapping
    of its fields) may lack ``net_amount``. Nested groups may be model instances or mappings.

    Keyword arguments win over what the draft's totals and breakdown hold: Paid amount (BT-113), Rounding amount
    (BT-114), exemption reasons per VAT category (BT-120/BT-121; required for E, AE, K, G, O) and, when a VAT
    accounting currency (BT-6) differs from BT-5, the total VAT in that currency (BT-111).

    VAT rates are normalised: Z, E, AE, K and G items get rate 0, O items no rate; contradictions (an S item
    without a positive rate, an E item at 19 %, O mixed with other categories, a given BT-131 that is not
    quantity x price, more decimals than the currency has) raise ``CalculationError``.
    """
    fields = _fields(draft)
    currency = fields.get("currency_code")
    if not currency:
        raise CalculationError("BT-5: the invoice currency code is missing")
    old_totals = fields.get("totals")
    old_totals = _fields(old_totals) if old_totals is not None else {}
    old_breakdown = [_fields(b) for b in fields.get("vat_breakdown") or ()]

    lines = tuple(_line(line, i, currency) for i, line in enumerate(fields.get("lines") or ()))
    if not lines:
        raise CalculationError("BG-25: the invoice has no line (BR-16)")
    allowances = tuple(_document_level(a, i, DocumentAllowance, currency)
                       for i, a in enumerate(fields.get("allowances") or ()))
    charges = tuple(_document_level(c, i, DocumentCharge, currency) for i, c in enumerate(fields.get("charges") or ()))
    _refuse_mixing_not_subject(lines, allowances, charges)

    reasons: dict[VatCategory | str, str | Exemption] = {}
    used = {ln.vat.category for ln in lines} | {a.vat_category for a in allowances} | {c.vat_category for c in charges}
    for old in old_breakdown:   # keep the reasons an existing breakdown states (its amounts are derived anew)
        category = VatCategory(old["category"])
        if category in used and category in EXEMPTION_REASON_CATEGORIES and (
                old.get("exemption_reason") or old.get("exemption_reason_code")):
            reasons[category] = Exemption(old.get("exemption_reason"), old.get("exemption_reason_code"))
    reasons.update(exemption_reasons or {})
    breakdown = vat_breakdown(lines, allowances, charges, currency, reasons)

    prepaid = prepaid_amount if prepaid_amount is not None else old_totals.get("prepaid_amount")
    rounding = rounding_amount if rounding_amount is not None else old_totals.get("rounding_amount")
    prepaid = None if prepaid is None else _stated_amount(prepaid, currency, "BT-113", "Paid amount")
    rounding = None if rounding is None else _stated_amount(rounding, currency, "BT-114", "Rounding amount")

    line_net_total = br_co_10(ln.net_amount for ln in lines)
    allowance_total = br_co_11(a.amount for a in allowances)
    charge_total = br_co_12(c.amount for c in charges)
    tax_exclusive = br_co_13(line_net_total, allowance_total, charge_total)
    tax_amount = br_co_14(b.tax_amount for b in breakdown)
    tax_inclusive = br_co_15(tax_exclusive, tax_amount)
    third_party = [_stated_amount(_fields(p).get("amount"), currency, "BT-DEX-002", "third party payment")
                   for p in fields.get("third_party_payments") or ()]
    payable = (br_dex_09(tax_inclusive, prepaid, rounding, third_party) if third_party
               else br_co_16(tax_inclusive, prepaid, rounding))

    tax_currency = fields.get("tax_currency_code")
    in_tax_currency = (tax_amount_in_tax_currency if tax_amount_in_tax_currency is not None
                       else old_totals.get("tax_amount_in_tax_currency"))
    if tax_currency is None:
        in_tax_currency = None
    elif tax_currency == currency:
        raise CalculationError(f"BT-6: the VAT accounting currency equals the invoice currency {currency}; leave "
                               f"BT-6 empty (two VAT totals in one currency break BR-CO-15)")
    elif in_tax_currency is None:
        raise CalculationError(f"BT-111: the VAT accounting currency is {tax_currency} (BT-6), so the total VAT in "
                               f"it is required (BR-53); pass tax_amount_in_tax_currency")
    else:
        in_tax_currency = _stated_amount(in_tax_currency, tax_currency, "BT-111", "VAT in accounting currency")

    fields.update(
        lines=lines, allowances=allowances, charges=charges, vat_breakdown=breakdown,
        totals=DocumentTotals(
            line_net_total=line_net_total, allowance_total=allowance_total, charge_total=charge_total,
            tax_exclusive_amount=tax_exclusive, tax_amount=tax_amount, tax_amount_in_tax_currency=in_tax_currency,
            tax_inclusive_amount=tax_inclusive, prepaid_amount=prepaid, rounding_amount=rounding,
            payable_amount=payable))
    return Invoice.model_validate(fields)


# ============================================================================================== check()


@dataclass(frozen=True)
class Finding:
    """A calculation rule an invoice violates, in words a clerk can act on.

    ``syntaxes`` says in which syntax the official Schematron rejects it (the rules' tolerances differ).
    """

    rule: str
    term: str
    location: str
    message: str
    expected: Decimal | None = None
    actual: Decimal | None = None
    syntaxes: tuple[Syntax, ...] = SYNTAXES

    def __str__(self) -> str:
        return f"[{self.rule}] {self.location}, {self.term}: {self.message}"


def _eq(a: Decimal | None, b: Decimal | None) -> bool:
    """XPath general comparison: false when either side is an empty sequence."""
    return a is not None and b is not None and a == b


def br_co_10_holds(line_net_total: Decimal | None, line_net_amounts: Iterable[Decimal]) -> bool:
    """BR-CO-10 as the Schematron tests it (UBL and CII alike): ``BT-106 = round(Σ BT-131 * 100) div 100``."""
    return _eq(line_net_total, xpath_round2(sum(line_net_amounts, ZERO)))


def _document_sum_holds(total: Decimal | None, amounts: Iterable[Decimal]) -> bool:
    items = list(amounts)
    if total is None:
        return not items
    return total == xpath_round2(sum(items, ZERO))


def br_co_11_holds(allowance_total: Decimal | None, allowance_amounts: Iterable[Decimal]) -> bool:
    """BR-CO-11: ``BT-107 = round(Σ BT-92 * 100) div 100``, or neither BT-107 nor an allowance exists."""
    return _document_sum_holds(allowance_total, allowance_amounts)


def br_co_12_holds(charge_total: Decimal | None, charge_amounts: Iterable[Decimal]) -> bool:
    """BR-CO-12: ``BT-108 = round(Σ BT-99 * 100) div 100``, or neither BT-108 nor a charge exists."""
    return _document_sum_holds(charge_total, charge_amounts)


def br_co_13_holds(tax_exclusive: Decimal | None, line_net_total: Decimal | None,
                   allowance_total: Decimal | None, charge_total: Decimal | None, syntax: Syntax = "ubl") -> bool:
    """BR-CO-13: ``BT-109 = round((BT-106 - BT-107 + BT-108) * 100) div 100`` with absent BT-107/BT-108 left
    out; when both are absent UBL compares ``BT-109 = BT-106`` unrounded, CII still rounds."""
    if line_net_total is None:
        return False
    if syntax == "ubl" and allowance_total is None and charge_total is None:
        return _eq(tax_exclusive, line_net_total)
    return _eq(tax_exclusive, xpath_round2(line_net_total - (allowance_total or ZERO) + (charge_total or ZERO)))


def br_co_14_holds(tax_amount: Decimal | None, breakdown_tax_amounts: Iterable[Decimal], syntax: Syntax) -> bool:
    """BR-CO-14: ``BT-110 = round(Σ BT-117 * 100) div 100``. UBL passes a TaxTotal without TaxSubtotal; CII
    compares the document currency's TaxTotalAmount whatever the breakdowns (Σ of none is 0)."""
    amounts = list(breakdown_tax_amounts)
    if tax_amount is None:
        return True   # no TaxTotal (UBL) / TaxTotalAmount (CII): the rule has no context; BR-CO-15 fails instead
    if syntax == "ubl" and not amounts:
        return True
    return tax_amount == xpath_round2(sum(amounts, ZERO))


def br_co_15_holds(tax_inclusive: Decimal | None, tax_exclusive: Decimal | None, tax_amount: Decimal | None,
                   syntax: Syntax, tax_amounts_in_document_currency: int = 1) -> bool:
    """BR-CO-15: exactly one BT-110 in the document currency and ``BT-112 = round((BT-109 + BT-110) * 100)
    div 100``. CII also accepts ``BT-112 = BT-109`` (its second alternative)."""
    count_ok = tax_amount is not None and tax_amounts_in_document_currency == 1
    holds = count_ok and tax_exclusive is not None and _eq(tax_inclusive, xpath_round2(tax_exclusive + tax_amount))
    if syntax == "cii":
        holds = holds or _eq(tax_inclusive, tax_exclusive)
    return holds


def br_co_16_holds(payable: Decimal | None, tax_inclusive: Decimal | None, prepaid: Decimal | None,
                   rounding: Decimal | None, syntax: Syntax) -> bool:
    """BR-CO-16. UBL: ``BT-115 = round((BT-112 - BT-113) * 100) div 100``; with a rounding amount
    ``round((BT-115 - BT-114) * 100) div 100 = round((BT-112 - BT-113) * 100) div 100`` (absent BT-113 left out,
    and BT-115 = BT-112 unrounded when neither exists). CII: ``BT-115 = BT-112 - BT-113 + BT-114`` exactly."""
    if payable is None or tax_inclusive is None:
        return False
    if syntax == "cii":
        return payable == tax_inclusive - (prepaid or ZERO) + (rounding or ZERO)
    due = tax_inclusive if prepaid is None else xpath_round2(tax_inclusive - prepaid)
    if rounding is None:
        return payable == due
    return xpath_round2(payable - rounding) == due


def br_dex_09_holds(payable: Decimal | None, tax_inclusive: Decimal | None, prepaid: Decimal | None,
                    rounding: Decimal | None, third_party_amounts: Iterable[Decimal]) -> bool:
    """BR-DEX-09 as the XRechnung Schematron (UBL) tests it: ``round((BT-115 - BT-114) * 100) div 100 =
    round((BT-112 - BT-113 + Σ BT-DEX-002) * 100) div 100``, absent amounts counting 0."""
    if payable is None or tax_inclusive is None:
        return False
    return xpath_round2(payable - (rounding or ZERO)) == xpath_round2(
        tax_inclusive - (prepaid or ZERO) + sum(third_party_amounts, ZERO))


def _rate_tolerance_holds(taxable: Decimal, tax: Decimal, rate: Decimal, strict: bool) -> bool:
    """|BT-117| - 1 < round(|BT-116| x BT-119 / 100, 2) < |BT-117| + 1 (``<=`` when not strict)."""
    expected = xpath_round2(abs(taxable) * (rate / HUNDRED))
    low, high = abs(tax) - ONE, abs(tax) + ONE
    return (low < expected < high) if strict else (low <= expected <= high)


def br_co_17_holds(taxable: Decimal | None, tax: Decimal | None, rate: Decimal | None, syntax: Syntax) -> bool:
    """BR-CO-17 as the Schematron tests it: with a rate that rounds to 0 (or no rate), ``round(BT-117) = 0``
    (so |BT-117| < 0.5 passes); otherwise BT-117 within ±1 of round(|BT-116| x BT-119 / 100, 2), compared in
    magnitude only, with strict bounds in UBL and inclusive bounds in CII."""
    if tax is None:
        return False
    if rate is None or xpath_round(rate) == 0:
        return xpath_round(tax) == 0
    if taxable is None:
        return False
    return _rate_tolerance_holds(taxable, tax, rate, strict=(syntax == "ubl"))


def _category_taxable_holds(category: VatCategory, breakdown: VatBreakdown, lines: Sequence[InvoiceLine],
                            allowances: Sequence[DocumentAllowance], charges: Sequence[DocumentCharge],
                            syntax: Syntax) -> bool:
    """BR-x-08 as the Schematron tests it for ``category``.

    S, L, M (per rate): UBL needs a line, allowance or charge of that category and rate and the taxable amount
    within ±1 (strict) of the unrounded sum; CII needs the taxable amount to equal exactly the sum of the rounded
    line, charge and allowance sums. A breakdown without rate passes vacuously (``every $rate in ()``).
    Z, E, AE, K, G (whatever the rate): UBL exact, CII within ±1 (strict) of the rounded sums.
    O: exact in both.
    """
    taxable = breakdown.taxable_amount
    if category in PER_RATE_CATEGORIES:
        rate = breakdown.rate
        if rate is None:
            return True
        ln, al, ch = _contributions(lines, allowances, charges)

        def of(items: list[_Taxed]) -> list[Decimal]:
            return [i.amount for i in items if i.category == category and _same_rate(i.rate, rate)]
        line_sum, allowance_sum, charge_sum = sum(of(ln), ZERO), sum(of(al), ZERO), sum(of(ch), ZERO)
        if taxable is None:
            return False
        if syntax == "cii":
            return taxable == xpath_round2(line_sum) + xpath_round2(charge_sum) - xpath_round2(allowance_sum)
        document_level = bool(of(al) or of(ch))
        within = (lambda total: taxable - ONE < total < taxable + ONE)
        # The UBL rule has an Invoice and a CreditNote branch; the branch of the other document kind sums no
        # lines, so an allowance or charge alone can satisfy it.
        return ((bool(of(ln)) or document_level) and within(line_sum + charge_sum - allowance_sum)) or (
            document_level and within(charge_sum - allowance_sum))
    if taxable is None or not lines:
        return False
    line_sum = sum((ln.net_amount for ln in lines if ln.vat.category == category), ZERO)
    allowance_sum = sum((a.amount for a in allowances if a.vat_category == category), ZERO)
    charge_sum = sum((c.amount for c in charges if c.vat_category == category), ZERO)
    if syntax == "ubl":
        return taxable == line_sum + charge_sum - allowance_sum
    rounded = xpath_round2(line_sum) + xpath_round2(charge_sum) - xpath_round2(allowance_sum)
    if category is VatCategory.NOT_SUBJECT:
        return taxable == rounded
    return taxable - ONE < rounded < taxable + ONE


def _category_tax_holds(category: VatCategory, breakdown: VatBreakdown, syntax: Syntax) -> bool:
    """BR-x-09: S, L, M (UBL; CII leaves L and M to BR-CO-17): BT-117 within ±1 (strict) of
    round(|BT-116| x BT-119 / 100, 2), failing without a rate; every other category: BT-117 = 0 exactly."""
    tax = breakdown.tax_amount
    if tax is None:
        return False
    if category in PER_RATE_CATEGORIES:
        if syntax == "cii" and category is not VatCategory.STANDARD:
            return True
        if breakdown.rate is None or breakdown.taxable_amount is None:
            return False
        return _rate_tolerance_holds(breakdown.taxable_amount, tax, breakdown.rate, strict=True)
    return tax == 0


def _exemption_holds(category: VatCategory, breakdown: VatBreakdown) -> bool:
    """BR-x-10: E, AE, K, G, O need BT-120 or BT-121; S, Z, L, M must have neither."""
    has_reason = bool(breakdown.exemption_reason or breakdown.exemption_reason_code)
    if category in EXEMPTION_REASON_CATEGORIES:
        return has_reason
    return not has_reason


def _money(value: Decimal | None) -> str:
    return "(absent)" if value is None else f"{value}"


def _breakdown_location(index: int, breakdown: VatBreakdown) -> str:
    category = getattr(breakdown.category, "value", breakdown.category)
    rate = "" if breakdown.rate is None else f" {breakdown.rate} %"
    return f"BG-23 VAT breakdown {index + 1} ({category}{rate})"


def check(invoice: Invoice, syntax: Syntax | None = None) -> list[Finding]:
    """The BR-CO-10..18 and BR-x-08/09/10 rules ``invoice`` violates, with the official Schematron's tolerance.

    ``syntax`` "ubl" or "cii" applies that syntax's variant of each rule; ``None`` (default) reports a rule
    when either syntax's Schematron would reject it (``Finding.syntaxes`` says which).
    """
    syntaxes: tuple[Syntax, ...] = SYNTAXES if syntax is None else (syntax,)
    findings: list[Finding] = []
    totals = invoice.totals
    lines, allowances, charges = tuple(invoice.lines), tuple(invoice.allowances), tuple(invoice.charges)
    breakdowns = tuple(invoice.vat_breakdown or ())

    def report(rule: str, term: str, location: str, message: str, holds: Any,
               expected: Decimal | None = None, actual: Decimal | None = None) -> None:
        failing = tuple(s for s in syntaxes if not holds(s))
        if failing:
            findings.append(Finding(rule, term, location, message, expected, actual, failing))

    if totals is not None:
        t = totals
        line_sum = br_co_10(ln.net_amount for ln in lines)
        report("BR-CO-10", "BT-106", "BG-22 Document totals",
               f"Sum of Invoice line net amount is {_money(t.line_net_total)}, but the {len(lines)} line net amounts "
               f"(BT-131) add up to {line_sum}",
               lambda s: br_co_10_holds(t.line_net_total, (ln.net_amount for ln in lines)),
               line_sum, t.line_net_total)
        allowance_sum = br_co_11(a.amount for a in allowances)
        report("BR-CO-11", "BT-107", "BG-22 Document totals",
               f"Sum of allowances on document level is {_money(t.allowance_total)}, but the document level "
               f"allowances (BT-92) add up to {_money(allowance_sum)}",
               lambda s: br_co_11_holds(t.allowance_total, (a.amount for a in allowances)),
               allowance_sum, t.allowance_total)
        charge_sum = br_co_12(c.amount for c in charges)
        report("BR-CO-12", "BT-108", "BG-22 Document totals",
               f"Sum of charges on document level is {_money(t.charge_total)}, but the document level charges "
               f"(BT-99) add up to {_money(charge_sum)}",
               lambda s: br_co_12_holds(t.charge_total, (c.amount for c in charges)),
               charge_sum, t.charge_total)
        exclusive = None if t.line_net_total is None else br_co_13(t.line_net_total, t.allowance_total, t.charge_total)
        report("BR-CO-13", "BT-109", "BG-22 Document totals",
               f"Invoice total amount without VAT is {_money(t.tax_exclusive_amount)}, but BT-106 - BT-107 + BT-108 "
               f"= {_money(exclusive)}",
               lambda s: br_co_13_holds(t.tax_exclusive_amount, t.line_net_total, t.allowance_total, t.charge_total,
                                        s),
               exclusive, t.tax_exclusive_amount)
        tax_sum = br_co_14(b.tax_amount for b in breakdowns if b.tax_amount is not None)
        report("BR-CO-14", "BT-110", "BG-22 Document totals",
               f"Invoice total VAT amount is {_money(t.tax_amount)}, but the VAT breakdowns' tax amounts (BT-117) "
               f"add up to {tax_sum}",
               lambda s: br_co_14_holds(t.tax_amount, (b.tax_amount for b in breakdowns
                                                       if b.tax_amount is not None), s),
               tax_sum, t.tax_amount)
        same_currency_totals = 1 + (t.tax_amount_in_tax_currency is not None
                                    and invoice.tax_currency_code == invoice.currency_code)
        inclusive = (None if t.tax_exclusive_amount is None or t.tax_amount is None
                     else br_co_15(t.tax_exclusive_amount, t.tax_amount))
        report("BR-CO-15", "BT-112", "BG-22 Document totals",
               f"Invoice total amount with VAT is {_money(t.tax_inclusive_amount)}, but BT-109 + BT-110 = "
               f"{_money(inclusive)}" + (" (and the VAT total must be stated once in the invoice currency)"
                                         if t.tax_amount is None or same_currency_totals > 1 else ""),
               lambda s: br_co_15_holds(t.tax_inclusive_amount, t.tax_exclusive_amount, t.tax_amount, s,
                                        same_currency_totals),
               inclusive, t.tax_inclusive_amount)
        third_party = [p.amount for p in getattr(invoice, "third_party_payments", None) or ()]
        if third_party:   # XRechnung extension: BR-DEX-09 replaces BR-CO-16 (downgraded there by scenarios.xml)
            payable = (None if t.tax_inclusive_amount is None
                       else br_dex_09(t.tax_inclusive_amount, t.prepaid_amount, t.rounding_amount, third_party))
            report("BR-DEX-09", "BT-115", "BG-22 Document totals",
                   f"Amount due for payment is {_money(t.payable_amount)}, but BT-112 - BT-113 + BT-114 + third party "
                   f"payments (BT-DEX-002) = {_money(payable)}",
                   lambda s: s == "cii" or br_dex_09_holds(t.payable_amount, t.tax_inclusive_amount, t.prepaid_amount,
                                                            t.rounding_amount, third_party),
                   payable, t.payable_amount)
        else:
            payable = None if t.tax_inclusive_amount is None else br_co_16(t.tax_inclusive_amount, t.prepaid_amount,
                                                                            t.rounding_amount)
            report("BR-CO-16", "BT-115", "BG-22 Document totals",
                   f"Amount due for payment is {_money(t.payable_amount)}, but BT-112 - BT-113 + BT-114 = "
                   f"{_money(payable)}",
                   lambda s: br_co_16_holds(t.payable_amount, t.tax_inclusive_amount, t.prepaid_amount,
                                            t.rounding_amount, s),
                   payable, t.payable_amount)

    if not breakdowns:
        report("BR-CO-18", "BG-23", "BG-23 VAT breakdown", "the invoice has no VAT breakdown; it needs at least one",
               lambda s: False)

    for index, b in enumerate(breakdowns):
        where = _breakdown_location(index, b)
        expected_tax = (None if b.taxable_amount is None
                        else br_co_17(b.taxable_amount, b.rate, invoice.currency_code or "EUR"))
        report("BR-CO-17", "BT-117", where,
               f"VAT category tax amount is {_money(b.tax_amount)}, but taxable amount {_money(b.taxable_amount)} x "
               f"rate {_money(b.rate)} % = {_money(expected_tax)} (the official check allows less than 1.00 "
               f"difference)",
               lambda s, b=b: br_co_17_holds(b.taxable_amount, b.tax_amount, b.rate, s), expected_tax, b.tax_amount)
        try:
            category = VatCategory(b.category)
        except ValueError:
            continue
        prefix, name = RULE_PREFIX[category], CATEGORY_NAMES[category]
        if category in PER_RATE_CATEGORIES:
            expected_taxable = (None if b.rate is None
                                else br_x_08(f"{prefix}-08", lines, allowances, charges, b.rate))
            what = f"{name} at {_money(b.rate)} %"
        else:
            expected_taxable = br_x_08(f"{prefix}-08", lines, allowances, charges)
            what = name
        report(f"{prefix}-08", "BT-116", where,
               f"VAT category taxable amount is {_money(b.taxable_amount)}, but lines + charges - allowances "
               f"{what} = {_money(expected_taxable)}",
               lambda s, b=b, c=category: _category_taxable_holds(c, b, lines, allowances, charges, s),
               expected_taxable, b.taxable_amount)
        if category in PER_RATE_CATEGORIES:
            message = (f"VAT category tax amount is {_money(b.tax_amount)}, but taxable amount x rate = "
                       f"{_money(expected_tax)}")
        else:
            expected_tax = ZERO
            message = f"VAT category tax amount is {_money(b.tax_amount)}, but {name} has no VAT: it must be 0"
        report(f"{prefix}-09", "BT-117", where, message,
               lambda s, b=b, c=category: _category_tax_holds(c, b, s), expected_tax, b.tax_amount)
        if category in EXEMPTION_REASON_CATEGORIES:
            message = (f"{name} needs a VAT exemption reason text (BT-120) or code (BT-121), for example "
                       f"'{'Nicht steuerbar' if category is VatCategory.NOT_SUBJECT else name}'")
        else:
            message = f"{name} must not have a VAT exemption reason (BT-120) or code (BT-121)"
        report(f"{prefix}-10", "BT-120", where, message, lambda s, b=b, c=category: _exemption_holds(c, b))
    return findings
