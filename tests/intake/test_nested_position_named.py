"""Issue 11, "The department is told everything, once, correctly": a bad value in a nested position (the third
entry of ``positionen`` in record 7 of a JSON export, the second ``<Position>`` of an XML record) is reported
with its record AND its position, so that the clerk finds it; a bad value of the record around the positions
is reported once, not once per position."""
from __future__ import annotations

import json
from datetime import date

import pytest

from erechnung.intake import map_batch, parse_profile, read_batch

TODAY = date(2026, 11, 6)

JSON_PROFILE = """
[reader]
records = "export.vorgaenge"
positions = "positionen"
[formats]
decimal_separator = "."
dates = ["YYYY-MM-DD"]
[columns]
number = "belegnr"
issue_date = "datum"
buyer.name = "kunde.name"
buyer.street = "kunde.strasse"
buyer.post_code = "kunde.plz"
buyer.city = "kunde.ort"
buyer.email = "kunde.mail"
lines.name = "{positionen.text}"
lines.quantity = "positionen.menge"
lines.unit_price = "positionen.preis"
lines.amount = "positionen.betrag"
lines.unit_code = "positionen.einheit"
lines.vat_category = "positionen.kat"
lines.vat_rate = "positionen.satz"
lines.period_start = "positionen.von"
[values]
lines.unit_code = { Stk = "C62", Jahr = "ANN" }
[constants]
vat_exemption_reason = "Nicht steuerbar (§ 2b UStG)"
"""


def _position(**changes) -> dict:
    return {"text": "Grabpflege", "menge": 1, "preis": 20.0, "betrag": 20.0, "einheit": "Stk", "kat": "O",
            "satz": None, "von": "2026-11-01", **changes}


def _vorgang(number: int, positions: list[dict], **changes) -> dict:
    return {"belegnr": f"FH-{number}", "datum": "2026-11-06",
            "kunde": {"name": "Erika Mustermann", "strasse": "Ring 1", "plz": "12345", "ort": "Musterstadt",
                      "mail": "erika@example.org"}, "positionen": positions, **changes}


def _map_json(config, register, vorgaenge: list[dict], profile_toml: str = JSON_PROFILE):
    profile = parse_profile(profile_toml, "friedhof.toml")
    data = json.dumps({"kopf": {"system": "FriedhofPro"}, "export": {"vorgaenge": vorgaenge}}).encode()
    batch = read_batch(data, "friedhof.json", format="json", options=profile.reader)
    return map_batch(batch, config.department("standesamt"), config, profile, register, today=TODAY)


def _export_with_seventh(config, register, **bad):
    """Seven records of three positions each; the third position of record 7 has ``bad``'s values."""
    vorgaenge = [_vorgang(n, [_position(), _position(text="Gießkanne"), _position(text="Kranz")])
                 for n in range(1, 8)]
    vorgaenge[6]["positionen"][2].update(bad)
    return _map_json(config, register, vorgaenge)


def _errors(result):
    return [(e.row, e.column, e.value, e.problem) for e in result.errors]


@pytest.mark.parametrize("bad, column, value, problem", [
    ({"menge": "zwei"}, "positionen.menge", "zwei", "Position 3: keine Zahl"),
    ({"preis": "12,50"}, "positionen.preis", "12,50", "Position 3: keine Zahl"),
    ({"betrag": 99}, "positionen.betrag", "99", "Position 3: der Betrag ist nicht Menge × Einzelpreis = 20,00"),
    ({"von": "31.11.2026"}, "positionen.von", "31.11.2026", "Position 3: kein Datum"),
    ({"einheit": "Kiste"}, "positionen.einheit", "Kiste",
     "Position 3: 'Kiste' steht nicht in der Wertetabelle für der Einheitencode (UN/ECE Rec 20, z. B. C62)"),
    ({"kat": "X"}, "positionen.kat", "X", "Position 3: 'X' ist nicht erlaubt als die Umsatzsteuerkategorie"),
    ({"kat": "S", "satz": "neunzehn"}, "positionen.satz", "neunzehn", "Position 3: keine Zahl"),
    ({"kat": "S"}, "positionen.satz", "", "Position 3: Umsatzsteuersatz fehlt für Kategorie S"),
    ({"text": ""}, "{positionen.text}", "", "Position 3: die Bezeichnung der Position fehlt"),
])
def test_a_bad_value_in_the_third_position_of_record_seven_names_record_and_position(
        config, register, bad, column, value, problem):
    result = _export_with_seventh(config, register, **bad)
    assert _errors(result) == [(7, column, value, problem)]
    assert len(result.drafts) == 6 and [q.rows for q in result.quarantined] == [(7, 7, 7)]


def test_a_bad_value_of_the_record_around_its_positions_is_reported_once_without_a_position(config, register):
    vorgaenge = [_vorgang(1, [_position(), _position(), _position()], datum="06.11.2026"),
                 _vorgang(2, [_position(), _position()], kunde={"name": "Meier", "strasse": "Ring 2", "plz": "1234",
                                                                "ort": "Musterstadt", "mail": "m@example.org"})]
    result = _map_json(config, register, vorgaenge)
    errors = _errors(result)
    assert errors[0] == (1, "datum", "06.11.2026", "kein Datum")
    assert [e[:3] for e in errors[1:]] == [(2, "kunde.plz", "1234")]
    assert not any("Position" in e[3] for e in errors)


def test_a_document_value_that_differs_between_positions_names_both_positions(config, register):
    profile = JSON_PROFILE.replace('issue_date = "datum"', 'issue_date = "positionen.datum"')
    vorgaenge = [_vorgang(1, [_position(datum="2026-11-01"), _position(datum="2026-11-02")])]
    result = _map_json(config, register, vorgaenge, profile)
    ((row, column, value, problem),) = _errors(result)
    assert (row, column, value) == (1, "positionen.datum", "2026-11-02")
    assert problem.startswith("Position 2: weicht ab von Position 1 ('2026-11-01')")


# ------------------------------------------------------------------------------------------------ XML records

XML_PROFILE = """
[reader]
namespaces = { h = "urn:example:hundesteuer:1" }
records = "/h:Hundesteuer/h:Halter"
positions = "h:Hunde/h:Hund"
[reader.paths]
Kassenzeichen = "../../@kassenzeichen"
Datum = "../../h:Bescheiddatum"
Name = "../../h:Name"
Anschrift = "concat(../../h:Strasse, ' ', ../../h:Hausnummer)"
Hund = "concat(h:Name, ', ', h:Rasse)"
Menge = "h:Anzahl"
Satz = "h:Satz/@wert"
[formats]
decimal_separator = ","
dates = ["YYYY-MM-DD"]
[columns]
number = "Kassenzeichen"
issue_date = "Datum"
buyer.name = "Name"
buyer.street = "Anschrift"
lines.name = "Hund"
lines.quantity = "Menge"
lines.unit_price = "Satz"
[constants]
buyer.post_code = "12345"
buyer.city = "Musterstadt"
buyer.email = "halter@example.org"
lines.vat_category = "O"
vat_exemption_reason = "Nicht steuerbar (§ 2b UStG)"
"""


def _halter(number: int, dogs: list[tuple[str, str]], date_: str = "2026-01-15") -> str:
    hunde = "".join(f"<h:Hund><h:Name>Hund {i}</h:Name><h:Rasse>Dackel</h:Rasse><h:Anzahl>{quantity}</h:Anzahl>"
                    f'<h:Satz wert="{rate}"/></h:Hund>' for i, (quantity, rate) in enumerate(dogs, start=1))
    return (f'<h:Halter kassenzeichen="HS-{number}"><h:Name>Halter {number}</h:Name><h:Strasse>Ring</h:Strasse>'
            f"<h:Hausnummer>{number}</h:Hausnummer><h:Bescheiddatum>{date_}</h:Bescheiddatum>"
            f"<h:Hunde>{hunde}</h:Hunde></h:Halter>")


def _map_xml(config, register, halter: list[str]):
    profile = parse_profile(XML_PROFILE, "hundesteuer.toml")
    data = ('<?xml version="1.0" encoding="UTF-8"?><h:Hundesteuer xmlns:h="urn:example:hundesteuer:1">'
            + "".join(halter) + "</h:Hundesteuer>").encode()
    batch = read_batch(data, "hst.xml", format="xml-records", options=profile.reader)
    return batch, map_batch(batch, config.department("standesamt"), config, profile, register, today=TODAY)


def test_xml_a_bad_value_in_a_position_names_it_and_a_bad_value_of_the_record_is_said_once(config, register):
    batch, result = _map_xml(config, register, [
        _halter(1, [("1", "60,00"), ("1", "90,00")]),
        _halter(2, [("1", "60,00"), ("eins", "90,00"), ("1", "12O,00")]),
        _halter(3, [("1", "60,00"), ("1", "90,00")], date_="15.01.2026")])
    assert {r.position for r in batch.records if r.row == 2} == {1, 2, 3}
    assert batch.records[0].position_columns == {"Hund", "Menge", "Satz"}
    assert _errors(result) == [(2, "Menge", "eins", "Position 2: keine Zahl"),
                               (2, "Satz", "12O,00", "Position 3: keine Zahl"),
                               (3, "Datum", "15.01.2026", "kein Datum")]
    assert [d.number for d in result.drafts] == ["HS-1"]
