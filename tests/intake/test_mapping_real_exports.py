"""What real exports of other municipalities' specialist systems need from the mapping language (issue 11):
each test builds such an export, maps it with a profile written for it and checks the documents that result;
a wrong profile key gives a German error naming the key."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from erechnung.intake import ConfigError, map_batch, parse_profile, read_batch

TODAY = date(2026, 11, 6)

BASE = """
group_by = "Beleg"
[columns]
number = "Beleg"
lines.name = "Leistung"
lines.quantity = "Menge"
lines.unit_price = "Preis"
buyer.post_code = "PLZ"
buyer.city = "Ort"
buyer.email = "Mail"
[constants]
lines.vat_category = "O"
vat_exemption_reason = "Nicht steuerbar (§ 2b UStG)"
"""


def _map(config, register, profile_toml: str, data: bytes, name: str, *, department: str = "standesamt",
         **read) -> object:
    profile = parse_profile(profile_toml, "test.toml")
    dep = config.department(department)
    batch = read_batch(data, name, **({"format": "csv", "encoding": "utf-8", "delimiter": ";"} | read))
    return map_batch(batch, dep, config, profile, register, today=TODAY)


def _problems(profile_toml: str) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        parse_profile(profile_toml, "test.toml")
    return {p.key: p.problem for p in info.value.problems}


# ------------------------------------------------------------------------------------------------ templates


def test_template_combines_first_and_last_name_and_street_and_house_number(config, register):
    profile = BASE.replace("[constants]", 'buyer.name = "{Vorname} {Nachname}"\n'
                           'buyer.street = "{Straße} {Hausnr}"\n[constants]')
    data = ("Beleg;Vorname;Nachname;Straße;Hausnr;PLZ;Ort;Mail;Leistung;Menge;Preis\n"
            "B-1;Erika;Mustermann;Hauptstraße;5a;12345;Musterstadt;erika@example.org;Urkunde;2;12,00\n"
            "B-2;;Meier GmbH;Ring;;12345;Musterstadt;info@meier.example;Urkunde;1;12,00\n").encode()
    result = _map(config, register, profile, data, "export.csv")
    assert not result.quarantined, result.errors
    names = {d.key: (d.recipient.name, d.recipient.street) for d in result.drafts}
    assert names == {"B-1": ("Erika Mustermann", "Hauptstraße 5a"), "B-2": ("Meier GmbH", "Ring")}


def test_template_with_a_column_missing_in_the_file_names_that_column(config, register):
    profile = BASE.replace("[constants]", 'buyer.name = "{Vorname} {Nachname}"\nbuyer.street = "Straße"\n'
                           "[constants]")
    data = ("Beleg;Vorname;Straße;PLZ;Ort;Mail;Leistung;Menge;Preis\n"
            "B-1;Erika;Hauptstraße 5;12345;Musterstadt;e@example.org;Urkunde;2;12,00\n").encode()
    result = _map(config, register, profile, data, "export.csv")
    assert not result.drafts and "'Nachname'" in result.errors[0].problem


def test_a_broken_template_is_a_german_profile_error():
    profile = BASE.replace("[constants]", 'buyer.name = "{Vorname} {Nachname"\nbuyer.street = "Straße"\n'
                           "[constants]")
    assert "keine gültige Vorlage" in _problems(profile)["columns.buyer.name"]
