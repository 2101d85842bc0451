"""Cross-syntax conversion is faithful: every accepted XRechnung case (UBL Invoice, UBL CreditNote, CII) written
as UBL and as CII is accepted by the validator, and reading the output gives the model read from the case.

Where the two syntaxes cannot say the same thing, the test says so case by case: ``LIMITS`` names the case,
the target syntax, why, and exactly how it shows (the only rules that reject the output, the only model
differences after reading it back, or the writer's refusal). A case in ``LIMITS`` is accepted in its own
syntax (the official verdict) and, in the other target, is held to the full requirement like every case.
Test ids are the case paths as OBSERVED_KOSIT_EMULATION.tsv writes them, then the target syntax.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

import pytest

from erechnung import artifacts
from erechnung.model import DocumentTotals, Invoice, PriceDetails, VatBreakdown, VatCategory
from erechnung.syntax import Syntax, read_invoice, write_invoice
from erechnung.syntax.cii_writer import CiiWriteError

TARGETS: tuple[Syntax, ...] = ("ubl", "cii")


def _accepted_xrechnung_cases() -> dict[str, str]:
    """Path (as the TSV writes it) -> scenario of every case accepted in an "EN16931 XRechnung ..." scenario."""
    with (artifacts.cases_dir() / "OBSERVED_KOSIT_EMULATION.tsv").open(encoding="utf-8", newline="") as fh:
        return {row["path"]: row["scenario"] for row in csv.DictReader(fh, delimiter="\t")
                if row["observed_verdict"] == "accept" and row["scenario"].startswith("EN16931 XRechnung")}


SCENARIOS = _accepted_xrechnung_cases()
CASES = list(SCENARIOS)


@lru_cache(maxsize=None)
def _model(path: str) -> Invoice:
    return read_invoice((artifacts.cases_dir() / path.removeprefix("cases/")).read_bytes())


def _differences(expected: Any, actual: Any, where: str = "") -> list[str]:
    """Where two model dumps differ, as dotted paths (``totals.tax_amount: None became Decimal('0.00')``)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return [d for key in sorted(expected.keys() | actual.keys())
                for d in _differences(expected.get(key), actual.get(key), f"{where}.{key}" if where else key)]
    if isinstance(expected, (list, tuple)) and isinstance(actual, (list, tuple)) and len(expected) == len(actual):
        return [d for i, (e, a) in enumerate(zip(expected, actual)) for d in _differences(e, a, f"{where}[{i}]")]
    return [] if expected == actual else [f"{where}: {expected!r} became {actual!r}"]


# --------------------------------------------------------------------------------------------- syntax limits


@dataclass(frozen=True)
class Limit:
    """What one syntax cannot hold of a case the other accepts, and how exactly that shows."""

    reason: str
    rejected_by: frozenset[str] = frozenset()  # the validator's error codes on the output: exactly these
    differences: tuple[str, ...] = ()          # model differences after reading the output back: exactly these
    refused: str | None = None                 # the writer refuses with a CiiWriteError naming this term


EXEMPT_BREAKDOWN_WITHOUT_EXEMPT_ITEM = Limit(
    rejected_by=frozenset({"BR-E-01"}),
    reason="a VAT breakdown 'Exempt' (BT-118 = E) with no exempt line, allowance or charge: UBL's BR-E-01 counts "
           "the breakdown's own cac:TaxCategory as the E item and wants exactly one E cac:TaxSubtotal; CII's "
           "BR-E-01 wants, for an E breakdown, an E line (BT-151) or document allowance/charge (BT-95/BT-102)")
STANDARD_TAXABLE_AMOUNT_OFF_BY_CENTS = Limit(
    rejected_by=frozenset({"BR-E-01", "BR-S-08"}),
    reason=EXEMPT_BREAKDOWN_WITHOUT_EXEMPT_ITEM.reason + "; and the 19 % breakdown's taxable amount (BT-116) "
           "is 0.03 off lines - allowances + charges: UBL's BR-S-08 allows a difference under 1, CII's wants "
           "the rounded sum exactly")
GRAND_TOTAL_WITHOUT_VAT = Limit(
    rejected_by=frozenset({"BR-CO-15"}),
    reason="BT-112 = BT-109 although there is VAT: CII's BR-CO-15 accepts GrandTotalAmount = TaxBasisTotalAmount "
           "as an alternative, UBL's BR-CO-15 has only BT-112 = BT-109 + BT-110")
NO_VAT_TOTAL_BESIDE_VAT = Limit(
    rejected_by=GRAND_TOTAL_WITHOUT_VAT.rejected_by,
    differences=("totals.tax_amount: None became Decimal('22.04')",),
    reason=GRAND_TOTAL_WITHOUT_VAT.reason + "; and BT-110 is left out beside VAT in the breakdown, which UBL "
           "cannot do (cac:TaxTotal/cbc:TaxAmount is mandatory and holds BG-23): the writer states the sum of "
           "BT-117 (BR-CO-14)")
THIRD_PARTY_PAYMENTS = Limit(
    refused="BG-DEX-09",
    reason="BG-DEX-09 is an XRechnung extension bound to UBL cac:PrepaidPayment only: BR-DEX-09..14 are in "
           "XRechnung-UBL-validation.sch alone, CII has no element for it and its BR-CO-16 no room for the amount")
PRECEDING_INVOICES = Limit(
    refused="BG-3",
    reason="more than one preceding invoice: CII D16B HeaderTradeSettlementType has InvoiceReferencedDocument "
           "minOccurs=0 and no maxOccurs, so at most one (CrossIndustryInvoice_ReusableAggregate..._100pD16B.xsd)")

UBL_TEMPLATES = "cases/xrechnung-schematron/test/instances/ubl-inv/"
CII_TEMPLATES = "cases/xrechnung-schematron/test/instances/cii/"
LIMITS: dict[tuple[str, Syntax], Limit] = {
    **{(UBL_TEMPLATES + name, "cii"): EXEMPT_BREAKDOWN_WITHOUT_EXEMPT_ITEM for name in (
        "ubl-inv-br-de-1-test.xml", "ubl-inv-br-de-2-test.xml", "ubl-inv-br-de-3-test.xml",
        "ubl-inv-br-de-4-test.xml", "ubl-inv-br-de-6-test.xml", "ubl-inv-br-de-7-test.xml",
        "ubl-inv-br-de-8-test.xml", "ubl-inv-br-de-10-test.xml", "ubl-inv-br-de-27-test.xml",
        "ubl-inv-br-de-cvd-01-test.xml", "ubl-inv-br-de-cvd-02-test.xml",
        "ubl-inv-peppol-en16931-r001.xml", "ubl-inv-peppol-en16931-r005.xml", "ubl-inv-peppol-en16931-r008.xml",
        "ubl-inv-peppol-en16931-r020.xml", "ubl-inv-peppol-en16931-r040.xml", "ubl-inv-peppol-en16931-r041.xml",
        "ubl-inv-peppol-en16931-r042.xml", "ubl-inv-peppol-en16931-r044.xml", "ubl-inv-peppol-en16931-r046-1.xml",
        "ubl-inv-peppol-en16931-r055-1.xml", "ubl-inv-peppol-en16931-r055-without-bt6.xml",
        "ubl-inv-peppol-en16931-r061-1.xml", "ubl-inv-peppol-en16931-r061-2.xml",
        "ubl-inv-peppol-en16931-r110.xml", "ubl-inv-peppol-en16931-r111.xml", "ubl-inv-peppol-en16931-r130.xml")},
    (UBL_TEMPLATES + "ubl-inv-peppol-en16931-r040-allowance.xml", "cii"): STANDARD_TAXABLE_AMOUNT_OFF_BY_CENTS,
    (UBL_TEMPLATES + "ubl-inv-peppol-en16931-r040-charge.xml", "cii"): STANDARD_TAXABLE_AMOUNT_OFF_BY_CENTS,
    **{(CII_TEMPLATES + name, "ubl"): GRAND_TOTAL_WITHOUT_VAT for name in (
        "cii-peppol-en16931-r008.xml", "cii-peppol-en16931-r010.xml", "cii-peppol-en16931-r020.xml")},
    ("cases/validator-configuration-xrechnung/src/test/cen-unit-test/cii-br-53-test-1.xml", "ubl"):
        NO_VAT_TOTAL_BESIDE_VAT,
    **{(path, "cii"): THIRD_PARTY_PAYMENTS for path in (
        "cases/validator-configuration-xrechnung/src/test/instances/ubl-br-dex-09-prepaidpayment.xml",
        UBL_TEMPLATES + "ubl-inv-br-dex-09-test.xml", UBL_TEMPLATES + "ubl-inv-br-dex-09-test-3.xml",
        UBL_TEMPLATES + "ubl-inv-br-dex-09-test-4.xml", UBL_TEMPLATES + "ubl-inv-br-dex-14-test.xml",
        "cases/xrechnung-testsuite/src/test/business-cases/extension/05.01a-INVOICE_ubl.xml")},
    **{(path, "cii"): PRECEDING_INVOICES for path in (
        UBL_TEMPLATES + "ubl-inv-br-tmp-2-test.xml",
        "cases/xrechnung-testsuite/src/test/technical-cases/cius/01.01_comprehensive_test_ubl.xml")},
}


def test_the_cases_cover_every_syntax_and_the_limits_name_only_them():
    assert len(CASES) >= 200, f"too few accepted XRechnung cases under {artifacts.cases_dir()} (make artifacts?)"
    assert {scenario[scenario.rindex("("):] for scenario in SCENARIOS.values()} == {
        "(UBL Invoice)", "(UBL CreditNote)", "(CII)"}
    assert not {path for path, _ in LIMITS} - set(CASES), "LIMITS names a case that is not an accepted one"


# --------------------------------------------------------------------------------------------- every case x target


@pytest.mark.xdist_group("validator")
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("case", [pytest.param(path, id=path) for path in CASES])
def test_conversion_is_accepted_and_reads_back_as_the_same_model(case: str, target: Syntax, validator):
    model = _model(case)
    limit = LIMITS.get((case, target))
    if limit is not None and limit.refused is not None:
        with pytest.raises(CiiWriteError, match=limit.refused):
            write_invoice(model, target)
        return
    written = write_invoice(model, target)
    result = validator.validate(written, case)
    codes = {message.code for message in result.errors}
    if limit is None:
        assert result.verdict == "accept", f"{case} as {target}: {result.reason} in {result.scenario}: " + "; ".join(
            f"{m.code} {m.text[:160]}" for m in result.errors[:5])
    else:
        assert (result.verdict, codes) == ("reject", limit.rejected_by), \
            f"{case} as {target}: expected only {sorted(limit.rejected_by)} ({limit.reason}), got {sorted(codes)}"
    differences = _differences(model.model_dump(), read_invoice(written).model_dump())
    expected = list(limit.differences) if limit is not None else []
    assert differences == expected, f"{case} via {target}:\n" + "\n".join(differences)


# --------------------------------------------------------------------------------------------- one model, one form


def test_a_discount_without_gross_price_has_the_gross_price_it_implies():
    """UBL may state BT-147 alone; CII holds a discount only on a gross price (BT-146 = BT-148 - BT-147)."""
    price = PriceDetails(net_price=Decimal("158.125"), discount=Decimal("1.25"))
    assert (price.gross_price, price.discount) == (Decimal("159.375"), Decimal("1.25"))


def test_a_zero_price_discount_is_no_discount():
    """CII may state BT-148 alone; UBL's price allowance always states an amount, 0 where there is no discount."""
    assert PriceDetails(net_price=Decimal("9.90"), gross_price=Decimal("9.90"), discount=Decimal("0.00")) \
        == PriceDetails(net_price=Decimal("9.90"), gross_price=Decimal("9.90"))


def _totals_and_breakdown(vat: str, tax_amount: str | None) -> Invoice:
    invoice = _model(CASES[0])
    breakdown = VatBreakdown(taxable_amount=Decimal("100.00"), tax_amount=Decimal(vat),
                             category=VatCategory.STANDARD if Decimal(vat) else VatCategory.ZERO,
                             rate=Decimal("19") if Decimal(vat) else Decimal("0"))
    totals = DocumentTotals(line_net_total=Decimal("100.00"), tax_exclusive_amount=Decimal("100.00"),
                            tax_amount=None if tax_amount is None else Decimal(tax_amount),
                            tax_inclusive_amount=Decimal("100.00") + Decimal(vat), payable_amount=Decimal("1"))
    return Invoice.model_validate({**invoice.model_dump(), "totals": totals.model_dump(),
                                   "vat_breakdown": (breakdown.model_dump(),)})


def test_no_vat_total_beside_a_breakdown_without_vat_is_a_vat_total_of_zero():
    """CII may leave BT-110 out; UBL must state it, and with no VAT every rule treats 0 and 'left out' alike."""
    assert _totals_and_breakdown("0.00", None).totals.tax_amount == Decimal("0.00")
    assert _totals_and_breakdown("0.00", None) == _totals_and_breakdown("0.00", "0.00")


def test_no_vat_total_beside_vat_stays_left_out():
    """There CII's BR-CO-15 tells 'left out' from a stated total, so the model keeps the difference."""
    assert _totals_and_breakdown("19.00", None).totals.tax_amount is None
