"""The assessment rules of each notice kind, and the model that keeps a notice consistent with itself."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from erechnung.notices import Notice, NoticeDraft, NoticeError, NoticeKind, assess
from erechnung.notices.calculator import (dog_tax_rate, grstg_25, grstg_28, gewstg_16, gewstg_19_quarter,
                                          settle_paid)
from erechnung.notices.model import law_of

D = Decimal


def _with(draft: NoticeDraft, **assessment) -> NoticeDraft:
    data = draft.model_dump(mode="json")
    data["assessment"].update(assessment)
    return NoticeDraft.model_validate(data)


def test_property_tax_is_messbetrag_times_hebesatz_over_100_rounded_to_cents():
    assert grstg_25(D("123.47"), D("495")) == D("611.18")  # 611.1765
    assert grstg_25(D("100.01"), D("250")) == D("250.03")  # 250.025 rounds half up


def test_property_tax_instalments_fall_due_on_15_feb_may_aug_nov():
    plan = grstg_28(D("611.18"), 2026)
    assert [i.due_date for i in plan] == [date(2026, 2, 15), date(2026, 5, 15), date(2026, 8, 15),
                                          date(2026, 11, 15)]
    assert [i.amount for i in plan] == [D("152.81"), D("152.79"), D("152.79"), D("152.79")]


def test_property_tax_cent_remainder_falls_on_the_first_instalment():
    for annual in (D("100.01"), D("100.02"), D("100.03"), D("611.18"), D("30.03")):
        plan = grstg_28(annual, 2026)
        assert sum(i.amount for i in plan) == annual
        assert plan[0].amount >= plan[-1].amount and len({i.amount for i in plan[1:]}) == 1
        assert plan[0].amount - plan[-1].amount < D("0.01") * len(plan)


def test_property_tax_small_amounts_fall_due_by_28_2_grstg():
    assert [(i.due_date, i.amount) for i in grstg_28(D("15.00"), 2026)] == [(date(2026, 8, 15), D("15.00"))]
    assert [(i.due_date, i.amount) for i in grstg_28(D("29.99"), 2026)] == [(date(2026, 2, 15), D("15.00")),
                                                                           (date(2026, 11, 15), D("14.99"))]
    assert len(grstg_28(D("15.00"), 2026, small_amount_rule=False)) == 4


def test_property_tax_on_application_all_on_1_july_28_3_grstg():
    assert [(i.due_date, i.amount) for i in grstg_28(D("611.18"), 2026, annual_payment=True)] == [
        (date(2026, 7, 1), D("611.18"))]


def test_payments_made_settle_the_earliest_instalments_first():
    plan = settle_paid(grstg_28(D("400.00"), 2026), D("150.00"))
    assert [(i.due_date.month, i.amount) for i in plan] == [(5, D("50.00")), (8, D("100.00")), (11, D("100.00"))]


def test_property_tax_sample_notice(sample_drafts):
    notice = assess(sample_drafts["grundsteuerbescheid"])
    assert notice.total == notice.balance == D("611.18")
    (item,) = notice.items
    assert (item.basis, item.rate, item.rate_is_percent) == (D("123.47"), D("495"), True)
    assert [i.amount for i in notice.instalments] == [D("152.81"), D("152.79"), D("152.79"), D("152.79")]
    assert notice.period.start == date(2026, 1, 1) and notice.period.end == date(2026, 12, 31)


def test_trade_tax_is_messbetrag_times_hebesatz_and_a_prepayment_a_quarter_in_whole_euro():
    assert gewstg_16(D("1126.30"), D("475")) == D("5349.93")  # 5349.925 rounds half up (§ 16 Abs. 1 GewStG)
    assert gewstg_19_quarter(D("1126.30"), D("475")) == D("1337.00")  # 1337.48 rounded down (§ 19 Abs. 5 GewStG)
    assert gewstg_19_quarter(D("42.11"), D("475")) == D("50.00")  # 200.02 / 4 = 50.005: just enough
    with pytest.raises(NoticeError, match="§ 19 Abs. 5"):
        gewstg_19_quarter(D("42.10"), D("475"))  # 199.98 / 4 = 49.99: no prepayment is set


def test_trade_tax_sample_prepayments_fall_due_on_15_feb_may_aug_nov(sample_drafts):
    notice = assess(sample_drafts["gewerbesteuerbescheid"])
    (item,) = notice.items
    assert (item.basis, item.rate, item.amount) == (D("4"), D("1337.00"), D("5348.00"))
    assert "1.126,30" in item.description and "475" in item.description
    assert notice.total == notice.balance == D("5348.00")
    assert [(i.due_date, i.amount) for i in notice.instalments] == [
        (date(2026, m, 15), D("1337.00")) for m in (2, 5, 8, 11)]
    assert notice.period.start == date(2026, 1, 1) and notice.period.end == date(2026, 12, 31)
    assert "§ 351 Abs. 2 AO" in notice.appeal_instructions and "Gewerbesteuermessbescheid" in notice.appeal_instructions
    data = sample_drafts["gewerbesteuerbescheid"].model_dump(mode="json")
    data["due_date"] = "2026-03-01"
    with pytest.raises(NoticeError, match="§ 19 Abs. 1 GewStG"):
        assess(NoticeDraft.model_validate(data))


def test_trade_tax_assessment_credits_the_prepayments_and_the_rest_is_due_once(sample_drafts):
    data = sample_drafts["gewerbesteuerbescheid"].model_dump(mode="json")
    data["assessment"]["prepayments"] = False
    data["already_paid"] = "5000.00"
    notice = assess(NoticeDraft.model_validate(data))
    (item,) = notice.items
    assert (item.basis, item.rate, item.rate_is_percent, item.amount) == (D("1126.30"), D("475"), True, D("5349.93"))
    assert notice.balance == D("349.93")
    assert [(i.due_date, i.amount) for i in notice.instalments] == [(date(2026, 2, 11), D("349.93"))]
    data["already_paid"] = "5400.00"  # more prepaid than the tax: refunded (§ 20 Abs. 3 GewStG), nothing due
    notice = assess(NoticeDraft.model_validate(data))
    assert notice.balance == D("-50.07") and notice.instalments == ()


def test_dog_tax_by_number_of_dogs_and_tiers():
    tiers = (D("96"), D("132"), D("168"))
    assert [dog_tax_rate(n, tiers) for n in (1, 2, 3, 4, 7)] == [D("96"), D("132"), D("168"), D("168"), D("168")]


def test_dog_tax_sample_two_dogs(sample_drafts):
    notice = assess(sample_drafts["hundesteuerbescheid"])
    assert [i.amount for i in notice.items] == [D("96.00"), D("132.00")]
    assert notice.total == D("228.00")
    assert [(i.due_date, i.amount) for i in notice.instalments] == [(date(2026, 2, 16), D("228.00"))]


def test_dog_tax_dangerous_dog_and_part_of_the_year(sample_drafts):
    notice = assess(_with(sample_drafts["hundesteuerbescheid"], dogs=[
        {"name": "Rex", "dangerous": True}, {"name": "Luna", "months": 5}, {"name": "Flocke"}]))
    # Rex counts as the first dog but pays the rate for dangerous dogs; Luna pays 5/12 of the 2nd tier.
    assert [i.amount for i in notice.items] == [D("600.00"), D("55.00"), D("168.00")]
    assert "gefährlicher Hund" in notice.items[0].description and "5 Monate" in notice.items[1].description


def test_dangerous_dog_without_a_rate_is_an_error_that_names_the_field(sample_drafts):
    with pytest.raises(NoticeError, match="dangerous_rate"):
        assess(_with(sample_drafts["hundesteuerbescheid"], dangerous_rate=None,
                     dogs=[{"name": "Rex", "dangerous": True}]))


def test_fee_notice_is_items_times_rates(sample_drafts):
    notice = assess(sample_drafts["gebuehrenbescheid-sondernutzung"])
    assert [(i.basis, i.rate, i.amount) for i in notice.items] == [(D("168"), D("0.35"), D("58.80")),
                                                                   (D("1"), D("45.00"), D("45.00"))]
    assert notice.total == D("103.80")
    assert notice.instalments[0].due_date == date(2026, 4, 10)


def test_one_off_due_date_defaults_to_the_configured_days_after_issue(sample_drafts):
    data = sample_drafts["gebuehrenbescheid-sondernutzung"].model_dump(mode="json")
    data["due_date"] = None
    notice = assess(NoticeDraft.model_validate(data))
    assert notice.instalments[0].due_date == date(2026, 4, 8)  # 9 March + 30 days


def test_refund_or_zero_assessment_has_no_due_dates(sample_drafts):
    data = sample_drafts["hundesteuerbescheid"].model_dump(mode="json")
    data["already_paid"] = "300.00"
    notice = assess(NoticeDraft.model_validate(data))
    assert notice.balance == D("-72.00") and not notice.payment_due and notice.instalments == ()


def test_draft_facts_must_fit_the_notice_kind(sample_drafts):
    data = sample_drafts["hundesteuerbescheid"].model_dump(mode="json")
    data["kind"] = NoticeKind.PROPERTY_TAX.value
    with pytest.raises(ValidationError):
        NoticeDraft.model_validate(data)


def test_a_notice_cannot_disagree_with_its_own_sums(sample_drafts):
    notice = assess(sample_drafts["hundesteuerbescheid"])
    data = notice.model_dump()
    with pytest.raises(ValidationError, match="sum of the items"):
        Notice.model_validate({**data, "total": D("229.00"), "balance": D("229.00")})
    with pytest.raises(ValidationError, match="instalments add up"):
        Notice.model_validate({**data, "instalments": [{"due_date": date(2026, 2, 16), "amount": D("200")}]})
    wrong_item = {**data["items"][0], "amount": D("95.99")}
    with pytest.raises(ValidationError, match="basis × rate"):
        Notice.model_validate({**data, "items": [wrong_item, data["items"][1]]})


def test_amounts_are_decimals_rounded_to_cents(sample_drafts):
    for draft in sample_drafts.values():
        notice = assess(draft)
        for amount in [notice.total, notice.balance, *(i.amount for i in notice.items),
                       *(i.amount for i in notice.instalments)]:
            assert isinstance(amount, Decimal) and amount == amount.quantize(D("0.01"))


def test_every_notice_field_names_the_norm_it_stands_for():
    for name in Notice.model_fields:
        assert law_of(Notice, name), name
    assert "§ 37 Abs. 3" in law_of(Notice, "authority")
    assert "Rechtsbehelfsbelehrung" in Notice.model_fields["appeal_instructions"].description


def test_notice_is_frozen(sample_drafts):
    notice = assess(sample_drafts["hundesteuerbescheid"])
    with pytest.raises(ValidationError):
        notice.total = D("0")  # type: ignore[misc]


def test_notice_round_trips_through_json(sample_drafts):
    for draft in sample_drafts.values():
        notice = assess(draft)
        assert Notice.model_validate_json(notice.model_dump_json()) == notice
