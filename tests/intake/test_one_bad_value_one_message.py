"""One bad value gives one message (issue 11): ``12,5O`` is "keine Zahl" and not also "der Einzelpreis fehlt";
a row with one field too many is reported once, not with messages about every value it shifted."""
from __future__ import annotations

from datetime import date

from erechnung.intake import map_batch, read_batch

TODAY = date(2026, 11, 6)


def _mapped(department, config, profiles, register, data: bytes, name: str):
    dep = config.department(department)
    batch = read_batch(data, name, format=dep.format, encoding=dep.encoding, delimiter=dep.delimiter)
    return map_batch(batch, dep, config, profiles[department], register, today=TODAY)


def _messages(result, key):
    (quarantined,) = [q for q in result.quarantined if q.key == key]
    return [(e.row, e.column, e.value, e.problem) for e in quarantined.errors]


def test_a_fee_rate_that_is_no_number_is_not_also_missing(config, profiles, register, sample):
    data, name = sample("abfallwirtschaft")
    text = data.decode("utf-8")
    bad = text.replace("356.40", "356.4O").replace("Leerung\",1,Behälter,198.00", "Leerung\",x,Behälter,198.00")
    result = _mapped("abfallwirtschaft", config, profiles, register, bad.encode("utf-8"), name)
    assert _messages(result, "5.0300.100004.1") == [(4, "Gebuehrensatz", "356.4O", "keine Zahl")]
    assert _messages(result, "5.0300.100001.4") == [(2, "Anzahl", "x", "keine Zahl")]


def test_a_unit_price_that_is_no_number_is_not_also_missing(config, profiles, register, sample):
    data, name = sample("standesamt")
    text = data.decode("windows-1252").replace("Eheregister;1;12,00", "Eheregister;1;12,5O")
    result = _mapped("standesamt", config, profiles, register, text.encode("windows-1252"), name)
    assert _messages(result, "STA-2026-0101") == [(3, "Einzelpreis", "12,5O", "keine Zahl")]


def test_a_row_with_one_field_too_many_gives_one_message_and_the_other_rows_are_still_checked(
        config, profiles, register, sample):
    data, name = sample("standesamt")
    text = data.decode("windows-1252")
    bad = text.replace("Anmeldung der Eheschließung (mit Auslandsbezug);", "Anmeldung der Eheschließung; mit "
                       "Auslandsbezug;").replace("Urkundengebühr;1;12,00-", "Urkundengebühr;x;12,00-")
    result = _mapped("standesamt", config, profiles, register, bad.encode("windows-1252"), name)
    (shifted, quantity) = _messages(result, "STA-2026-0108")
    assert shifted[0] == 11 and shifted[3] == "die Zeile hat 14 Felder, die Kopfzeile 13"
    assert quantity == (12, "Menge", "x", "keine Zahl")  # the document's other row is still checked
    assert "STA-2026-0102" in [d.key for d in result.drafts]
