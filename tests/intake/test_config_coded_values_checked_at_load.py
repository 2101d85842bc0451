"""Every coded value of the configuration is checked when it is loaded (issue 10): ``land = "XX"`` used to pass
the check and crash the delivery after the notice had been sent. The Land is checked against the table of the
German Länder, the notice group against the groups of legal.toml; the message names the key, the value, what
is wrong and what is allowed."""
from __future__ import annotations

import pytest

from erechnung.delivery.notification import LANDS, LegalRuleError
from erechnung.delivery.config import DeliveryConfig
from erechnung.config import ConfigError, parse_config

from .conftest import EXAMPLES

TEXT = (EXAMPLES / "config.toml").read_text(encoding="utf-8")


def _problems(text: str) -> dict[str, object]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "config.toml")
    return {p.key: p for p in caught.value.problems}


def test_a_land_that_is_no_german_land_is_refused_at_load():
    problems = _problems(TEXT.replace('land = "NW"', 'land = "XX"'))
    p = problems["delivery.land"]
    assert p.value == "'XX'" and p.problem == "ist kein Kürzel eines deutschen Landes"
    assert all(code in p.fix for code in LANDS) and str(p).startswith("config.toml: delivery.land = 'XX'")
    for code in LANDS:  # and every Land of the table is taken
        assert parse_config(TEXT.replace('land = "NW"', f'land = "{code}"')).delivery.land == code


def test_a_land_in_small_letters_is_refused_with_the_code_meant():
    p = _problems(TEXT.replace('land = "NW"', 'land = "nw"'))["delivery.land"]
    assert p.fix.startswith("meinten Sie 'NW'?")


def test_a_notice_group_legal_toml_does_not_know_is_refused_at_load():
    p = _problems(TEXT.replace('notice_group = "default"', 'notice_group = "abgaben"'))["delivery.notice_group"]
    assert "legal.toml" in p.problem and p.fix == "erlaubt: default, levy"


def test_the_delivery_service_refuses_a_land_that_is_no_land_code():
    with pytest.raises(LegalRuleError, match="'XX' is not the code of a German Land"):
        DeliveryConfig(land="XX")


def test_a_country_code_outside_iso_3166_is_refused_at_load_by_the_bundles_list():
    """BR-CL-14: the municipality's country code is checked against the code list of the installed bundle's
    EN 16931 rules (the list the validator applies; it has 1A for Kosovo), not only by its shape."""
    text = TEXT.replace('[municipality.address]\n', '[municipality.address]\ncountry_code = "XX"\n', 1)
    p = _problems(text)["municipality.address.country_code"]
    assert "BR-CL-14" in p.problem and "XX" in p.problem
    kosovo = TEXT.replace('[municipality.address]\n', '[municipality.address]\ncountry_code = "1A"\n', 1)
    assert parse_config(kosovo).municipality.address.country_code == "1A"
