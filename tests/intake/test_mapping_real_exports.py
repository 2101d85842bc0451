"""What real exports of other municipalities' specialist systems need from the mapping language (issue 11):
each test builds such an export, maps it with a profile written for it and checks the documents that result;
a wrong profile key gives a German error naming the key."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from erechnung.config import ConfigError
from erechnung.intake import build, map_batch, parse_profile, read_batch

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


# ------------------------------------------------------------------------------------------------ value tables

TAXED = BASE.replace('lines.vat_category = "O"\nvat_exemption_reason = "Nicht steuerbar (§ 2b UStG)"\n',
                     'lines.vat_category = "S"\n').replace("[constants]", 'buyer.name = "Name"\n'
                                                            'buyer.street = "Straße"\n[constants]')


def test_value_tables_turn_the_export_s_words_into_unit_codes_and_vat_rates(config, register):
    profile = TAXED.replace("[constants]", 'lines.unit_code = "Einheit"\nlines.vat_rate = "Steuer"\n[constants]') + """
[values]
lines.unit_code = { Stk = "C62", Std = "HUR", "m³" = "MTQ" }
lines.vat_rate = { voll = 19, "ermäßigt" = 7 }
"""
    data = ("Beleg;Name;Straße;PLZ;Ort;Mail;Leistung;Menge;Einheit;Preis;Steuer\n"
            "B-1;Sportverein;Ring 1;12345;Musterstadt;sv@example.org;Hallenmiete;3;Std;20,00;voll\n"
            "B-1;Sportverein;Ring 1;12345;Musterstadt;sv@example.org;Broschüre;2;stk;5,00;Ermäßigt\n"
            "B-1;Sportverein;Ring 1;12345;Musterstadt;sv@example.org;Wasser;1;C62;2,00;voll\n"
            "B-2;Kita e.V.;Weg 2;12345;Musterstadt;kita@example.org;Hallenmiete;1;Stck;20,00;voll\n").encode()
    result = _map(config, register, profile, data, "export.csv")
    (draft,) = result.drafts
    assert [(l["unit_code"], l["vat_rate"]) for l in draft.invoice["lines"]] == [
        ("HUR", Decimal(19)), ("C62", Decimal(7)), ("C62", Decimal(19))]
    (bad,) = result.quarantined
    assert bad.key == "B-2" and bad.errors[0].column == "Einheit" and bad.errors[0].value == "Stck"
    assert "Wertetabelle" in bad.errors[0].problem and "Stk, Std" in bad.errors[0].fix


def test_value_table_for_yes_no_words_and_the_recipient_s_salutation(config, register):
    profile = TAXED.replace("[constants]", 'buyer.salutation = "Anrede"\n[constants]') + """
[values]
buyer.salutation = { H = "Herr", F = "Frau" }
"""
    data = ("Beleg;Anrede;Name;Straße;PLZ;Ort;Mail;Leistung;Menge;Preis\n"
            "B-1;F;Erika Mustermann;Ring 1;12345;Musterstadt;e@example.org;Miete;1;20,00\n").encode()
    result = _map(config, register, profile.replace('"S"', '"S"\nlines.vat_rate = 19'), data, "export.csv")
    assert result.drafts[0].recipient.salutation == "Frau", result.errors


def test_wrong_value_tables_are_german_profile_errors():
    profile = TAXED.replace("[constants]", 'lines.vat_rate = "Steuer"\n[constants]') + """
[values]
lines.vat_rate = { voll = "neunzehn" }
lines.unitcode = { Stk = "C62" }
lines.unit_code = { Stk = "C62" }
"""
    problems = _problems(profile)
    assert problems["values.lines.vat_rate.voll"] == "keine Zahl"
    assert problems["values.lines.unitcode"] == "ist kein bekanntes Feld"
    assert problems["values.lines.unit_code"] == "das Feld hat keine Spalte unter [columns]"


# ------------------------------------------------------------------------------------------------ summary rows


def test_summary_rows_at_the_end_of_the_export_are_no_records(config, register):
    profile = TAXED.replace('"S"', '"S"\nlines.vat_rate = 19') + """
[[skip]]
matches = "Summe|Gesamt"
[[skip]]
column = "Leistung"
matches = "Zwischensumme"
"""
    data = ("Beleg;Name;Straße;PLZ;Ort;Mail;Leistung;Menge;Preis\n"
            "B-1;Sportverein;Ring 1;12345;Musterstadt;sv@example.org;Hallenmiete;3;20,00\n"
            ";;;;;;Zwischensumme;;60,00\n"
            "B-2;Kita e.V.;Weg 2;12345;Musterstadt;kita@example.org;Hallenmiete;1;20,00\n"
            "Summe;;;;;;;;80,00\n"
            "GESAMT (2 Belege);;;;;;;;80,00\n").encode()
    result = _map(config, register, profile, data, "export.csv")
    assert not result.quarantined, result.errors
    assert [d.key for d in result.drafts] == ["B-1", "B-2"] and result.skipped == (3, 5, 6)


def test_a_summary_row_the_profile_does_not_name_is_still_quarantined(config, register):
    data = ("Beleg;Name;Straße;PLZ;Ort;Mail;Leistung;Menge;Preis\n"
            "B-1;Sportverein;Ring 1;12345;Musterstadt;sv@example.org;Hallenmiete;3;20,00\n"
            "Summe;;;;;;;;60,00\n").encode()
    result = _map(config, register, TAXED.replace('"S"', '"S"\nlines.vat_rate = 19'), data, "export.csv")
    assert [q.rows for q in result.quarantined] == [(3,)] and not result.skipped


def test_a_wrong_skip_rule_is_a_german_profile_error():
    problems = _problems(TAXED + '[[skip]]\nmatches = "Summe("\n[[skip]]\nspalte = "Name"\nmatches = "x"\n')
    assert "kein gültiger regulärer Ausdruck" in problems["skip[0].matches"]
    assert problems["skip[1].spalte"] == "ist kein bekannter Schlüssel"


# ------------------------------------------------------------------------------------------------ sheets, title rows

SHEETS = TAXED.replace('"S"', '"S"\nlines.vat_rate = 19')
HEADER = ["Beleg", "Name", "Straße", "PLZ", "Ort", "Mail", "Leistung", "Menge", "Preis"]


def _workbook() -> bytes:
    import io

    import openpyxl

    book = openpyxl.Workbook()
    cover = book.active
    cover.title = "Deckblatt"
    cover.append(["Export Gebührenverfahren", "erstellt 02.11.2026"])
    fees = book.create_sheet("Gebühren")
    fees.append(["Gebührenliste November 2026"])
    fees.append([])
    fees.append(HEADER)
    fees.append(["B-1", "Sportverein", "Ring 1", "12345", "Musterstadt", "sv@example.org", "Hallenmiete", 3, 20])
    fees.append(["B-2", "Kita e.V.", "Weg 2", "12345", "Musterstadt", "kita@example.org", "Hallenmiete", 1, 20.5])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_sheet_chosen_by_name_with_the_header_below_title_rows(config, register):
    profile = SHEETS + '[reader]\nsheet = "Gebühren"\nheader_row = 3\n'
    result = _map(config, register, profile, _workbook(), "export.xlsx", format="xlsx",
                  options=parse_profile(profile).reader)
    assert not result.quarantined, result.errors
    assert [(d.key, d.rows, d.invoice["lines"][0]["unit_price"]) for d in result.drafts] == [
        ("B-1", (4,), Decimal(20)), ("B-2", (5,), Decimal("20.5"))]


def test_xlsx_sheet_by_number_and_a_sheet_that_is_not_there(config, register):
    by_number = parse_profile(SHEETS + '[reader]\nsheet = 2\nheader_row = 3\n').reader
    batch = read_batch(_workbook(), "export.xlsx", format="xlsx", options=by_number)
    assert [r.row for r in batch.records] == [4, 5] and batch.columns == tuple(HEADER)
    missing = parse_profile(SHEETS + '[reader]\nsheet = "Gebuehren"\n').reader
    (error,) = read_batch(_workbook(), "export.xlsx", format="xlsx", options=missing).errors
    assert "kein Tabellenblatt 'Gebuehren'" in error.problem and "'Deckblatt', 'Gebühren'" in error.fix


def test_csv_with_title_lines_above_the_header(config, register):
    data = ("Gebührenliste Standesamt;;;;;;;;\nStand: 02.11.2026;;;;;;;;\n" + ";".join(HEADER) + "\n"
            "B-1;Sportverein;Ring 1;12345;Musterstadt;sv@example.org;Hallenmiete;3;20,00\n").encode()
    profile = SHEETS + "[reader]\nheader_row = 3\n"
    result = _map(config, register, profile, data, "export.csv", options=parse_profile(profile).reader)
    assert [(d.key, d.rows) for d in result.drafts] == [("B-1", (4,))], result.errors


def test_a_wrong_reader_key_is_a_german_profile_error():
    problems = _problems(SHEETS + "[reader]\nheaderrow = 3\n")
    assert problems["reader.headerrow"] == "ist kein bekannter Schlüssel"


# ------------------------------------------------------------------------------------------------ amount columns

KITA = """
group_by = "Beleg"
[columns]
number = "Beleg"
buyer.name = "{Vorname} {Nachname}"
buyer.street = "Straße"
buyer.post_code = "PLZ"
buyer.city = "Ort"
buyer.email = "Mail"
[constants]
lines.vat_category = "E"
vat_exemption_reason = "Steuerfrei nach § 4 Nr. 25 UStG"
[[amounts]]
column = "Betreuung"
name = "Betreuungsbeitrag {Monat} ({Kind})"
[[amounts]]
column = "Verpflegung"
name = "Verpflegung {Monat}"
[[amounts]]
column = "Material"
name = "Bastelgeld"
line = { vat_category = "S", vat_rate = 19 }
"""


def test_one_row_with_care_meals_and_materials_becomes_one_line_per_amount(config, register):
    data = ("Beleg;Vorname;Nachname;Straße;PLZ;Ort;Mail;Kind;Monat;Betreuung;Verpflegung;Material\n"
            "K-1;Erika;Mustermann;Ring 1;12345;Musterstadt;e@example.org;Lena;11/2026;180,00;45,50;0,00\n"
            "K-1;Erika;Mustermann;Ring 1;12345;Musterstadt;e@example.org;Paul;11/2026;90,00;;12,00\n"
            "K-2;Max;Meier;Weg 2;12345;Musterstadt;m@example.org;Tom;11/2026;180,00;vierzig;\n").encode()
    result = _map(config, register, KITA, data, "kita.csv")
    (draft,) = result.drafts
    assert [(l["name"], l["quantity"], l["unit_price"], l["vat_category"]) for l in draft.invoice["lines"]] == [
        ("Betreuungsbeitrag 11/2026 (Lena)", Decimal(1), Decimal("180.00"), "E"),
        ("Verpflegung 11/2026", Decimal(1), Decimal("45.50"), "E"),
        ("Betreuungsbeitrag 11/2026 (Paul)", Decimal(1), Decimal("90.00"), "E"),
        ("Bastelgeld", Decimal(1), Decimal("12.00"), "S")]
    assert draft.invoice["lines"][3]["vat_rate"] == Decimal(19)
    assert build(draft, config).totals.payable_amount == Decimal("329.78")  # 315,50 exempt + 12,00 + 19 %
    (bad,) = result.quarantined
    assert bad.key == "K-2" and (bad.errors[0].column, bad.errors[0].value) == ("Verpflegung", "vierzig")


def test_a_wrong_amount_column_entry_is_a_german_profile_error():
    problems = _problems(KITA + '[[amounts]]\ncolumn = "Ausflug"\nname = "Ausflug"\nline = { mwst = 7 }\n')
    assert problems["amounts[3].line.mwst"] == "ist kein Feld einer Position"
    problems = _problems(KITA + '[[amounts]]\nspalte = "X"\nname = "X"\n')
    assert "amounts[3].column" in problems and problems["amounts[3].spalte"] == "ist kein bekannter Schlüssel"


# ------------------------------------------------------------------------------------------------ nested JSON

NESTED = """
[reader]
records = "export.vorgaenge"
positions = "positionen"
[columns]
number = "belegnr"
buyer.name = "kunde.name"
buyer.street = "kunde.anschrift.strasse"
buyer.post_code = "kunde.anschrift.plz"
buyer.city = "kunde.anschrift.ort"
buyer.email = "kunde.mail"
lines.name = "positionen.text"
lines.quantity = "positionen.menge"
lines.unit_price = "positionen.preis"
[constants]
lines.vat_category = "O"
vat_exemption_reason = "Nicht steuerbar (§ 2b UStG)"
"""


def _vorgang(number: str, positions: list) -> dict:
    return {"belegnr": number, "kunde": {"name": "Sportverein", "mail": "sv@example.org",
                                         "anschrift": {"strasse": "Ring 1", "plz": "12345", "ort": "Musterstadt"}},
            "positionen": positions}


def test_records_under_a_key_path_with_nested_positions_become_one_document_each(config, register):
    import json

    export = {"kopf": {"verfahren": "Gebühren 4.2", "erstellt": "2026-11-02"}, "export": {"vorgaenge": [
        _vorgang("G-1", [{"text": "Hallenmiete", "menge": 3, "preis": 20.0},
                         {"text": "Reinigung", "menge": 1, "preis": "15,50"}]),
        _vorgang("G-2", [{"text": "Hallenmiete", "menge": 1, "preis": 20}]),
        _vorgang("G-3", [{"text": "Hallenmiete", "menge": "drei", "preis": 20}])]}}
    data = json.dumps(export).encode()
    result = _map(config, register, NESTED, data, "export.json", format="json",
                  options=parse_profile(NESTED).reader)
    lines = {d.key: [(l["name"], l["quantity"], l["unit_price"]) for l in d.invoice["lines"]] for d in result.drafts}
    assert lines == {"Zeile 1": [("Hallenmiete", Decimal(3), Decimal(20)), ("Reinigung", Decimal(1), Decimal("15.50"))],
                     "Zeile 2": [("Hallenmiete", Decimal(1), Decimal(20))]}
    assert [d.number for d in result.drafts] == ["G-1", "G-2"]
    (bad,) = result.quarantined
    assert bad.rows == (3,) and (bad.errors[0].column, bad.errors[0].value) == ("positionen.menge", "drei")


def test_a_key_path_that_holds_no_list_refuses_the_file_in_german(config, register):
    import json

    options = parse_profile(NESTED.replace('"export.vorgaenge"', '"export.vorgänge"')).reader
    (error,) = read_batch(json.dumps({"export": {"vorgaenge": []}}).encode(), "e.json", format="json",
                          options=options).errors
    assert "unter 'export.vorgänge' (reader.records) steht keine Liste" in error.problem


def test_nested_positions_stay_within_the_cell_limit(config, register):
    import json

    from erechnung.config.limits import IntakeLimits

    many = [_vorgang("G-1", [{"text": "x", "menge": 1, "preis": 1}] * 400)]
    batch = read_batch(json.dumps(many).encode(), "e.json", format="json", limits=IntakeLimits(max_cells=2000),
                       options=parse_profile(NESTED.replace('records = "export.vorgaenge"\n', "")).reader)
    assert not batch.ok and "limits.max_cells" in batch.errors[0].problem


# ------------------------------------------------------------------------------------------------ exemption per line

VHS = BASE.replace('lines.vat_category = "O"\nvat_exemption_reason = "Nicht steuerbar (§ 2b UStG)"\n', "").replace(
    "[constants]", 'buyer.name = "Name"\nbuyer.street = "Straße"\nlines.vat_category = "Kat"\n'
                   'lines.vat_exemption_reason = "Grund"\nlines.vat_rate = "Satz"\n[constants]')


def test_each_line_brings_its_own_exemption_reason_per_vat_category(config, register):
    data = ("Beleg;Name;Straße;PLZ;Ort;Mail;Leistung;Menge;Preis;Satz;Kat;Grund\n"
            "V-1;Erika M.;Ring 1;12345;Musterstadt;e@example.org;"
            "Sprachkurs;1;120,00;0;E;Steuerfrei nach § 4 Nr. 22a UStG\n"
            "V-1;Erika M.;Ring 1;12345;Musterstadt;e@example.org;"
            "Kursbuch;1;20,00;0;E;Steuerfrei nach § 4 Nr. 22a UStG\n"
            "V-1;Erika M.;Ring 1;12345;Musterstadt;e@example.org;Getränke Pause;1;5,00;19;S;\n"
            "V-2;Max M.;Weg 2;12345;Musterstadt;m@example.org;"
            "Kurs;1;80,00;0;E;§ 4 Nr. 22a UStG\n"
            "V-2;Max M.;Weg 2;12345;Musterstadt;m@example.org;"
            "Ausflug;1;10,00;0;E;§ 4 Nr. 23 UStG\n").encode()
    result = _map(config, register, VHS, data, "vhs.csv")
    (draft,) = result.drafts
    assert draft.invoice["exemption_reasons"] == {"E": "Steuerfrei nach § 4 Nr. 22a UStG"}
    invoice = build(draft, config)
    assert {(b.category.value, b.exemption_reason) for b in invoice.vat_breakdown} == {
        ("E", "Steuerfrei nach § 4 Nr. 22a UStG"), ("S", None)}
    (bad,) = result.quarantined
    assert bad.key == "V-2" and bad.errors[0].row == 6 and bad.errors[0].column == "Grund"
    assert "BT-120" in bad.errors[0].fix


# ------------------------------------------------------------------------------------------------ fixed width

FIXED = """
group_by = "Kassenzeichen"
[reader]
record_type = { at = [1, 1], data = ["D"], ignore = ["K", "S"] }
[reader.fields]
Satzart = [1, 1]
Kassenzeichen = [2, 13]
Name = [14, 38]
Strasse = [39, 63]
PLZ = [64, 68]
Ort = [69, 88]
Mail = [89, 113]
Leistung = [114, 138]
Betrag = [139, 147]
Vorzeichen = [148, 148]
[formats]
implied_decimals = { "lines.unit_price" = 2 }
[columns]
number = "Kassenzeichen"
buyer.name = "Name"
buyer.street = "Strasse"
buyer.post_code = "PLZ"
buyer.city = "Ort"
buyer.email = "Mail"
lines.name = "Leistung"
lines.unit_price = "{Betrag}{Vorzeichen}"
[constants]
lines.vat_category = "O"
vat_exemption_reason = "Nicht steuerbar (§ 2b UStG)"
"""


def _fixed_line(kz: str, name: str, what: str, cents: int, sign: str = " ") -> str:
    return (f"D{kz:<12}{name:<25}{'Ring 1':<25}{'12345'}{'Musterstadt':<20}{'kasse@example.org':<25}"
            f"{what:<25}{cents:09d}{sign}")


def test_fixed_width_export_with_cents_trailing_sign_header_and_trailer(config, register):
    text = "\n".join([
        "K" + "GEBUEHREN 20261102 VERFAHREN OKV 3.1".ljust(147),
        _fixed_line("5.0100.0001", "Sportverein Musterstadt", "Hallenmiete", 6000),
        _fixed_line("5.0100.0001", "Sportverein Musterstadt", "Reinigung", 1550),
        _fixed_line("5.0100.0002", "Kita Sonnenschein e.V.", "Hallenmiete", 2000),
        _fixed_line("5.0100.0002", "Kita Sonnenschein e.V.", "Erstattung Mai", 500, "-"),
        "X" + "UNBEKANNT".ljust(147),
        "S" + "000000004 000009050".ljust(147)]) + "\n"
    profile = parse_profile(FIXED)
    batch = read_batch(text.encode("windows-1252"), "okv.dat", format="fixed", options=profile.reader)
    dep = config.department("standesamt")
    result = map_batch(batch, dep, config, profile, register, today=TODAY)
    prices = {d.key: [(l["name"], l["quantity"], l["unit_price"]) for l in d.invoice["lines"]] for d in result.drafts}
    assert prices == {"5.0100.0001": [("Hallenmiete", Decimal(1), Decimal("60.00")),
                                      ("Reinigung", Decimal(1), Decimal("15.50"))],
                      "5.0100.0002": [("Hallenmiete", Decimal(1), Decimal("20.00")),
                                      ("Erstattung Mai", Decimal(-1), Decimal("5.00"))]}
    assert [d.recipient.name for d in result.drafts] == ["Sportverein Musterstadt", "Kita Sonnenschein e.V."]
    (unknown,) = result.quarantined
    assert unknown.rows == (6,) and "unbekannte Satzart 'X'" in unknown.errors[0].problem


def test_fixed_width_without_positions_and_wrong_positions_are_german_errors(config):
    (error,) = read_batch(b"D123\n", "okv.dat", format="fixed").errors
    assert "Feldpositionen" in error.problem
    problems = _problems(FIXED.replace("PLZ = [64, 68]", "PLZ = [68, 64]"))
    assert "kein Bereich von Zeichenpositionen" in problems["reader.fields"]
    problems = _problems(FIXED.replace('"lines.unit_price" = 2', '"lines.name" = 2'))
    assert "Zahlenfeld" in problems["formats.implied_decimals.lines.name"]


@pytest.mark.parametrize("format", ["fixed", "xml-records"])
def test_a_department_may_deliver_fixed_width_text_and_xml_records(tmp_path, format):
    from erechnung.config.app import MAPPED_FORMATS, Department

    dep = Department.model_validate({"id": "kasse", "name": "Stadtkasse", "drop_zone": str(tmp_path),
                                     "format": format})
    assert dep.format == (format,) and format in MAPPED_FORMATS


# ------------------------------------------------------------------------------------------------ XML, own schema

XML_PROFILE = """
group_by = "Kassenzeichen"
[reader]
namespaces = { g = "urn:example:okv:gebuehren:2" }
records = "/g:Export/g:Vorgaenge/g:Vorgang"
positions = "g:Positionen/g:Position"
[reader.paths]
Kassenzeichen = "../../@kassenzeichen"
Name = "../../g:Schuldner/g:Name"
Strasse = "concat(../../g:Schuldner/g:Anschrift/g:Strasse, ' ', ../../g:Schuldner/g:Anschrift/g:Hausnummer)"
PLZ = "../../g:Schuldner/g:Anschrift/g:PLZ"
Ort = "../../g:Schuldner/g:Anschrift/g:Ort"
Mail = "../../g:Schuldner/g:Mail"
Leistung = "g:Text"
Menge = "g:Menge"
Betrag = "g:Betrag/@wert"
[columns]
number = "Kassenzeichen"
buyer.name = "Name"
buyer.street = "Strasse"
buyer.post_code = "PLZ"
buyer.city = "Ort"
buyer.email = "Mail"
lines.name = "Leistung"
lines.quantity = "Menge"
lines.unit_price = "Betrag"
[formats]
decimal_separator = "."
[constants]
lines.vat_category = "O"
vat_exemption_reason = "Nicht steuerbar (§ 2b UStG)"
"""


def _vorgang_xml(kz: str, name: str, positions: str) -> str:
    return (f'<g:Vorgang kassenzeichen="{kz}"><g:Schuldner><g:Name>{name}</g:Name><g:Anschrift>'
            "<g:Strasse>Ring</g:Strasse><g:Hausnummer>1</g:Hausnummer><g:PLZ>12345</g:PLZ><g:Ort>Musterstadt</g:Ort>"
            f"</g:Anschrift><g:Mail>sv@example.org</g:Mail></g:Schuldner><g:Positionen>{positions}</g:Positionen>"
            "</g:Vorgang>")


def _position(text: str, quantity: str, amount: str) -> str:
    return f'<g:Position><g:Text>{text}</g:Text><g:Menge>{quantity}</g:Menge><g:Betrag wert="{amount}"/></g:Position>'


def test_xml_in_its_own_schema_records_and_fields_by_path_with_namespaces(config, register):
    xml = ('<?xml version="1.0" encoding="UTF-8"?><g:Export xmlns:g="urn:example:okv:gebuehren:2">'
           "<g:Kopf><g:Erstellt>2026-11-02</g:Erstellt></g:Kopf><g:Vorgaenge>"
           + _vorgang_xml("5.0100.0001", "Sportverein", _position("Hallenmiete", "3", "20.00")
                          + _position("Reinigung", "1", "15.50"))
           + _vorgang_xml("5.0100.0002", "Kita e.V.", _position("Hallenmiete", "zwei", "20.00"))
           + "</g:Vorgaenge></g:Export>").encode()
    profile = parse_profile(XML_PROFILE)
    batch = read_batch(xml, "okv.xml", format="xml-records", options=profile.reader)
    result = map_batch(batch, config.department("standesamt"), config, profile, register, today=TODAY)
    (draft,) = result.drafts
    assert draft.number == "5.0100.0001" and draft.recipient.street == "Ring 1"
    assert [(l["name"], l["quantity"], l["unit_price"]) for l in draft.invoice["lines"]] == [
        ("Hallenmiete", Decimal(3), Decimal("20.00")), ("Reinigung", Decimal(1), Decimal("15.50"))]
    (bad,) = result.quarantined
    assert bad.rows == (2,) and (bad.errors[0].column, bad.errors[0].value) == ("Menge", "zwei")


def test_xml_records_refuse_doctype_bad_paths_and_stay_within_depth(config):
    from erechnung.config.limits import IntakeLimits

    options = parse_profile(XML_PROFILE).reader
    evil = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><g:Export xmlns:g="urn:example:okv:gebuehren:2"/>'
    (error,) = read_batch(evil, "okv.xml", format="xml-records", options=options).errors
    assert "kein lesbares XML" in error.problem
    wrong = parse_profile(XML_PROFILE.replace('records = "/g:Export', 'records = "/x:Export')).reader
    (error,) = read_batch(b'<Export/>', "okv.xml", format="xml-records", options=wrong).errors
    assert "ungültig" in error.problem
    deep = b"<a>" * 50 + b"</a>" * 50
    (error,) = read_batch(deep, "okv.xml", format="xml-records", options=options,
                          limits=IntakeLimits(max_xml_depth=20)).errors
    assert "limits.max_xml_depth" in error.problem
