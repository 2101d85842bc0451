"""Open research in legal.toml (confirmed = false) never silently gives a date: until the municipality confirms
the rule ([delivery.legal] confirmed = ["HE:vwvfg_41_2"]) no date is computed under it (a typed error in German:
what, which paragraph, why uncertain, how to confirm) and planning leaves the channel out; the loader refuses a
rule without paragraph, sentence or source."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from erechnung.config.channels import DeliverySection
from erechnung.delivery.config import DeliveryConfig, delivery_config
from erechnung.delivery.notification import (LegalRuleError, LegalRules, UnconfirmedLegalRule,
                                             compute_notification_date, retrieval_deadline)
from erechnung.delivery.routing import route
from erechnung.model.recipients import Recipient

BERLIN = ZoneInfo("Europe/Berlin")
RULES = LegalRules.load()
POSTED = datetime(2026, 3, 2, 10, tzinfo=BERLIN)


def test_an_unconfirmed_land_rule_gives_no_date_but_says_what_why_and_how_to_confirm():
    with pytest.raises(UnconfirmedLegalRule) as caught:
        compute_notification_date(RULES, "vwvfg_41_2", "HE", notification_sent_at=POSTED)
    text = str(caught.value)
    assert "§ 41 Abs. 2 HVwVfG" in text and "Hessen" in text  # what and which paragraph
    assert "nicht gefunden" in text  # why it is uncertain (the open point)
    assert '[delivery.legal] confirmed = ["HE:vwvfg_41_2"]' in text  # how to confirm
    assert "wolterskluwer" in text  # where to check it
    assert isinstance(caught.value, LegalRuleError)


def test_the_confirmed_rule_gives_the_date_and_records_the_confirmation():
    result = compute_notification_date(RULES.confirming("HE", ["HE:vwvfg_41_2"]), "vwvfg_41_2", "HE",
                                       notification_sent_at=POSTED)
    assert result.date == date(2026, 3, 6)  # Mon 2 Mar + 4 days
    assert result.inputs()["confirmed_by_configuration"] == "HE:vwvfg_41_2"
    assert "bestätigt in der Konfiguration (HE:vwvfg_41_2)" in result.explanation


def test_a_retrieval_deadline_under_an_unconfirmed_rule_is_refused_too():
    with pytest.raises(UnconfirmedLegalRule):
        retrieval_deadline(RULES, "vwvfg_41_2a", "HE", POSTED)


def test_only_the_open_period_needs_confirmation():
    # BW: 3rd day up to 2024 (text of 2021 seen); from 2025 the amendment is open
    old = compute_notification_date(RULES, "vwvfg_41_2", "BW", notification_sent_at=datetime(2024, 6, 3, tzinfo=BERLIN))
    assert old.date == date(2024, 6, 6) and old.confirmed_by_configuration is None
    with pytest.raises(UnconfirmedLegalRule, match="BW:vwvfg_41_2"):
        compute_notification_date(RULES, "vwvfg_41_2", "BW", notification_sent_at=POSTED)


@pytest.mark.parametrize("land, codes, problem", [
    ("HE", ["vwvfg_41_2"], "Landeskürzel und Regel"),
    ("HE", ["XX:vwvfg_41_2"], "Landeskürzel und Regel"),
    ("HE", ["HE:vwvfg_41_9"], "keine Regel von legal.toml"),
])
def test_a_wrong_confirmation_is_refused(land, codes, problem):
    with pytest.raises(LegalRuleError, match=problem):
        RULES.confirming(land, codes)


def test_confirmations_are_read_from_the_delivery_section_and_checked_at_load():
    section = DeliverySection.model_validate({"land": "HE", "legal": {"confirmed": ["HE:vwvfg_41_2"]}})
    cfg = delivery_config(section)
    assert ("HE", "vwvfg_41_2") in cfg.rules.confirmed and cfg.confirmed == ("HE:vwvfg_41_2",)
    # a configuration copied from a Hessian municipality confirms nothing in North Rhine-Westphalia
    copied = delivery_config(DeliverySection.model_validate({"land": "NW", "legal": {"confirmed": ["HE:vwvfg_41_2"]}}))
    assert copied.rules.confirmed == frozenset()
    with pytest.raises(UnconfirmedLegalRule):
        compute_notification_date(copied.rules.confirming("NW", ["HE:vwvfg_41_2"]), "vwvfg_41_2", "HE",
                                  notification_sent_at=POSTED)
    with pytest.raises(ValidationError, match="Landeskürzel"):
        DeliverySection.model_validate({"land": "HE", "legal": {"confirmed": ["vwvfg_41_2"]}})


def _citizen() -> Recipient:
    return Recipient(customer_number="K-1", name="Anna Muster", street="Hauptstr. 1", post_code="35037",
                     city="Marburg")


def test_planning_leaves_out_a_channel_whose_land_rule_is_unconfirmed():
    planned = route(_citizen(), "notice", rules=RULES, land="HE", posting_day=date(2026, 3, 2))
    assert planned.hops == () and "HE:vwvfg_41_2" in planned.explain()
    cfg = DeliveryConfig(land="HE", confirmed=("HE:vwvfg_41_2",))
    ok = route(_citizen(), "notice", rules=cfg.rules, land="HE", posting_day=date(2026, 3, 2))
    assert ok.channels == ("print",) and ok.hops[0].legal_basis == "vwvfg_41_2"
    # a Land whose rule is settled needs nothing
    assert route(_citizen(), "notice", rules=RULES, land="NI", posting_day=date(2026, 3, 2)).channels == ("print",)


CITED = 'title = "§ 1"\nbasis = "S. 1"\nsource = "https://example.org"\n'


@pytest.mark.parametrize("text, problem", [
    ('[rules.x]\nstart = "retrieval"\ndays = 1\ntitle = "§ 1"\nsource = "s"\n', "without basis"),
    ('[rules.x]\nstart = "retrieval"\ndays = 1\ntitle = "§ 1"\nbasis = "b"\n', "without source"),
    ('[rules.x]\nstart = "retrieval"\ndays = 1\n' + CITED + '[rules.x.land.HE]\ntitle = "§ 1 HE"\ndays = 2\n',
     "give basis, source"),
    ('[rules.x]\nstart = "retrieval"\ndays = 1\n' + CITED + '[rules.x.land.HE]\n' + CITED + 'confirmed = false\n',
     "needs an open_point"),
    ('[rules.x]\nstart = "retrieval"\n' + CITED + 'periods = [{ from = 2025-01-01, days = 1, typo = 2 }]\n',
     "unknown key"),
])
def test_the_loader_refuses_a_rule_without_its_basis_or_source(text, problem):
    with pytest.raises(LegalRuleError, match=problem):
        LegalRules.from_text(text)
