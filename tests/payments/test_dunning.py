"""Dunning arithmetic against worked examples (issue 15): the months of Säumnis and the Säumniszuschlag per § 240
AO, the Mahngebühr per Land table, the stages, and the items that are never dunned. Every test passes ``on``."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from erechnung.model.receivables import ItemState, OpenItem
from erechnung.payments.dunning import (DunningRuleError, DunningRules, add_months, dunning_plan, mahngebuehr,
                                        months_of_saeumnis, saeumniszuschlag)

RULES = DunningRules.load()


def item(amount="1234.56", due=date(2026, 2, 15), item_id=1, **kw) -> OpenItem:
    return OpenItem(item_id=item_id, document_id=item_id, number=f"GB-2026-{item_id:04d}", kassenzeichen="5.1234.5",
                    department="steueramt", debtor_ref="K-1", amount=Decimal(amount), due_date=due,
                    account_iban="DE02120300000000202051", **kw)


# ---------------------------------------------------------------------------------------- § 240 AO


def test_worked_example_1234_56_due_15_02_on_20_05():
    # due 15.02.2026, nothing paid; Säumnis months: 16.02.-15.03., 16.03.-15.04., 16.04.-15.05., 16.05.-15.06.
    # (the 4th started on 16.05.): 1 % of 1.200 EUR (1.234,56 rounded down to 50) x 4 = 48 EUR
    s = saeumniszuschlag(RULES.surcharge, Decimal("1234.56"), date(2026, 2, 15), date(2026, 5, 20))
    assert (s.base, s.months, s.amount) == (Decimal("1200"), 4, Decimal("48.00"))


@pytest.mark.parametrize("on, months", [
    (date(2026, 2, 15), 0),   # the due date itself: no Säumnis
    (date(2026, 2, 16), 1),   # the first day of Säumnis starts month 1
    (date(2026, 3, 15), 1),   # the last day of month 1
    (date(2026, 3, 16), 2),
    (date(2026, 5, 15), 3),
    (date(2026, 5, 16), 4),
])
def test_months_counted_from_the_day_after_the_due_date(on, months):
    assert months_of_saeumnis(date(2026, 2, 15), on) == months


def test_month_end_due_dates_follow_188_bgb():
    # due 31.01.2026: month 1 ends 28.02. (§ 188 Abs. 3 BGB), month 2 ends 31.03. (counted from the due date)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert months_of_saeumnis(date(2026, 1, 31), date(2026, 2, 28)) == 1
    assert months_of_saeumnis(date(2026, 1, 31), date(2026, 3, 1)) == 2
    assert months_of_saeumnis(date(2026, 1, 31), date(2026, 3, 31)) == 2
    assert months_of_saeumnis(date(2026, 1, 31), date(2026, 4, 1)) == 3
    assert months_of_saeumnis(date(2026, 11, 15), date(2027, 1, 10)) == 2  # over the turn of the year


def test_schonfrist_three_days():
    due = date(2026, 2, 15)
    for day in (16, 17, 18):
        assert saeumniszuschlag(RULES.surcharge, Decimal("1000"), due, date(2026, 2, day)).amount == 0
    s = saeumniszuschlag(RULES.surcharge, Decimal("1000"), due, date(2026, 2, 19))  # 4 days late: month 1 counts
    assert (s.months, s.amount) == (1, Decimal("10.00"))


def test_base_rounds_down_to_50_and_under_50_gives_nothing():
    due, on = date(2026, 2, 15), date(2026, 4, 1)  # 2 months started
    assert saeumniszuschlag(RULES.surcharge, Decimal("149.99"), due, on).amount == Decimal("2.00")  # 100 x 1 % x 2
    assert saeumniszuschlag(RULES.surcharge, Decimal("150.00"), due, on).amount == Decimal("3.00")
    assert saeumniszuschlag(RULES.surcharge, Decimal("49.99"), due, on).amount == 0


# ---------------------------------------------------------------------------------------- Mahngebühren


@pytest.mark.parametrize("amount, fee", [
    ("100.00", "4.00"),      # 0.5 % = 0.50 -> at least 4 EUR
    ("800.00", "4.00"),      # 0.5 % = 4.00
    ("1234.56", "6.17"),     # 0.5 % = 6.1728 -> 6.17
    ("15000.00", "75.00"),   # 0.5 % = 75
    ("40000.00", "75.00"),   # at most 75 EUR
])
def test_bw_fee_half_a_percent_min_4_max_75(amount, fee):
    assert mahngebuehr(RULES.fee_rule("BW"), Decimal(amount)) == Decimal(fee)
    assert RULES.fee_rule("BW").confirmed


@pytest.mark.parametrize("amount, fee", [("100", "5.00"), ("1234.56", "7.00"), ("40000", "150.00")])
def test_default_federal_fee_rounds_up_to_full_euro(amount, fee):
    # § 19 Abs. 2 VwVG: 0.5 %, at least 5, at most 150 EUR, rounded up to full euro; 1.234,56 -> 6,17 -> 7
    rule = RULES.fee_rule("SN")  # no Saxon table here: the default
    assert rule.land == "default" and mahngebuehr(rule, Decimal(amount)) == Decimal(fee)


def test_hesse_table_by_brackets_and_marked_unconfirmed():
    rule = RULES.fee_rule("HE")
    assert rule.kind == "table" and not rule.confirmed
    fees = [mahngebuehr(rule, Decimal(a)) for a in ("50.00", "50.01", "250", "1500", "5000", "5000.01")]
    assert fees == [Decimal(x) for x in ("6.00", "10.00", "10.00", "20.00", "35.00", "50.00")]


def test_unknown_land_is_refused():
    with pytest.raises(DunningRuleError, match="not a German Land code"):
        RULES.fee_rule("XX")


# ---------------------------------------------------------------------------------------- the plan


def test_plan_worked_example_second_stage_with_surcharge():
    it = item(taxes_or_levies=True)
    [step] = dunning_plan([it], on=date(2026, 5, 20), land="BW", rules=RULES, levels={1: 1})
    assert (step.level, step.stage) == (2, "1. Mahnung")
    assert (step.fee, step.surcharge, step.surcharge_months, step.surcharge_base) == (
        Decimal("6.17"), Decimal("48.00"), 4, Decimal("1200"))
    assert step.total_due == Decimal("1234.56") + Decimal("6.17") + Decimal("48.00")
    assert "Säumniszuschlag 48,00 EUR" in step.why and "LVwVGKO" in step.why
    assert step.inputs()["rules_sha256"] == RULES.sha256


def test_reminder_has_no_fee_and_waits_its_days():
    it = item(amount="80.00", due=date(2026, 3, 1))
    assert dunning_plan([it], on=date(2026, 3, 7), land="BW", rules=RULES, levels={}) == []  # 6 days
    [step] = dunning_plan([it], on=date(2026, 3, 8), land="BW", rules=RULES, levels={})  # 7 days
    assert (step.level, step.stage, step.fee, step.surcharge) == (1, "Zahlungserinnerung", 0, 0)
    assert step.total_due == Decimal("80.00") and step.fee_confirmed


def test_no_surcharge_for_non_tax_items_and_none_after_the_last_stage():
    it = item(taxes_or_levies=False)
    [step] = dunning_plan([it], on=date(2026, 5, 20), land="BW", rules=RULES, levels={1: 2})
    assert (step.level, step.surcharge, step.surcharge_months) == (3, 0, 0)
    assert dunning_plan([it], on=date(2026, 5, 20), land="BW", rules=RULES, levels={1: 3}) == []


def test_unconfirmed_land_values_say_so():
    [step] = dunning_plan([item()], on=date(2026, 5, 20), land="HE", rules=RULES, levels={1: 1})
    assert not step.fee_confirmed and "zu bestätigen" in step.why


def test_disputed_deferred_paid_and_not_yet_due_items_are_not_dunned():
    on = date(2026, 5, 20)
    items = [
        item(item_id=1, disputed=True),
        item(item_id=2, deferred_until=date(2026, 6, 30)),
        item(item_id=3, deferred_until=on),  # Stundung to this very day
        item(item_id=4, paid=Decimal("1234.56"), state=ItemState.PAID),
        item(item_id=5, state=ItemState.WRITTEN_OFF),
        item(item_id=6, due=date(2026, 5, 20)),
        item(item_id=7),  # the one that is dunned
    ]
    assert [s.item.item_id for s in dunning_plan(items, on=on, land="BW", rules=RULES, levels={})] == [7]


def test_after_a_stundung_the_stages_and_the_saeumnis_count_from_its_end():
    it = item(taxes_or_levies=True, deferred_until=date(2026, 4, 30))
    assert dunning_plan([it], on=date(2026, 5, 6), land="BW", rules=RULES, levels={}) == []  # 6 days after
    [step] = dunning_plan([it], on=date(2026, 5, 7), land="BW", rules=RULES, levels={})
    assert step.due_date == date(2026, 4, 30) and step.surcharge_months == 1 and step.surcharge == Decimal("12.00")
    assert "Stundung bis 30.04.2026" in step.why


def test_partial_payment_dunns_the_open_rest():
    it = item(amount="1000.00", paid=Decimal("400.00"), taxes_or_levies=True, state=ItemState.PARTIALLY_PAID)
    [step] = dunning_plan([it], on=date(2026, 3, 20), land="BW", rules=RULES, levels={1: 1})
    assert (step.open_amount, step.surcharge_base, step.surcharge, step.fee) == (
        Decimal("600.00"), Decimal("600"), Decimal("12.00"), Decimal("4.00"))  # 2 months started on 20.03.


@pytest.mark.parametrize("text, message", [
    ('version="x"\n[surcharge]\n[[stages]]\nlevel=2\nname="a"\ndays_after_due=3\n', "without gaps"),
    ('[surcharge]\n[[stages]]\nlevel=1\nname="a"\ndays_after_due=3\n[fees.XY]\nkind="percent"\npercent=1\n',
     "not a German Land code"),
    ('[surcharge]\n[[stages]]\nlevel=1\nname="a"\ndays_after_due=3\n[fees.BW]\nkind="table"\n'
     'brackets=[{up_to=10, fee=1}]\n', "last bracket"),
    ('[[stages]]\nlevel=1\nname="a"\ndays_after_due=3\n', "no \\[surcharge\\]"),
    ('[surcharge]\nrate=1\n[[stages]]\nlevel=1\nname="a"\ndays_after_due=3\n', "unknown key"),
])
def test_bad_configuration_is_refused_with_where_and_why(text, message):
    with pytest.raises(DunningRuleError, match=message):
        DunningRules.from_text(text, "test.toml")
