"""Issue 11, "The department is told everything, once, correctly": a CSV line with one field more than the
header (a value with an unquoted separator, ``12,50`` in a comma-separated file) has every value after it one
column too far right. It is one error for that line, even when what it pushed out landed in an empty column
(before, ``…,1,12,50,`` below ``…,Preis,Bemerkung`` was billed at 12,00 with the note "50"), and nothing else
is said about it. Empty fields that end every line (Excel, exporters ending lines with a separator) and lines
with fewer fields are read as before."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from erechnung.intake import map_batch, parse_profile, read_batch

TODAY = date(2026, 11, 6)

PROFILE = """
group_by = "Beleg"
[formats]
decimal_separator = ","
[columns]
number = "Beleg"
buyer.name = "Name"
buyer.street = "Strasse"
buyer.post_code = "PLZ"
buyer.city = "Ort"
buyer.email = "Mail"
lines.name = "Leistung"
lines.quantity = "Menge"
lines.unit_price = "Preis"
lines.note = "Bemerkung"
[constants]
lines.vat_category = "O"
vat_exemption_reason = "Nicht steuerbar (§ 2b UStG)"
"""
HEADER = "Beleg,Name,Strasse,PLZ,Ort,Mail,Leistung,Menge,Preis,Bemerkung"
PERSON = "Erika Mustermann,Ring 1,12345,Musterstadt,erika@example.org"


def _map(config, register, text: str, profile: str = PROFILE):
    batch = read_batch(text.encode(), "gebuehren.csv", format="csv", encoding="utf-8", delimiter="auto")
    return batch, map_batch(batch, config.department("standesamt"), config, parse_profile(profile, "g.toml"),
                            register, today=TODAY)


def _errors(result):
    return [(e.row, e.column, e.value, e.problem) for e in result.errors]


def test_an_unquoted_decimal_comma_pushing_into_the_empty_last_column_is_one_error_for_its_row(config, register):
    text = (f'{HEADER}\r\nB-1,{PERSON},Urkunde,1,"12,50",\r\nB-2,{PERSON},Urkunde,1,12,50,\r\n'
            f'B-3,{PERSON},Urkunde,2,"7,00",Eilt\r\n')
    batch, result = _map(config, register, text)
    assert _errors(result) == [(3, None, f"B-2,{PERSON},Urkunde,1,12,50,",
                                "die Zeile hat 11 Felder, die Kopfzeile 10")]
    (error,) = result.errors
    assert "Anführungszeichen" in error.fix and "entfernen Sie das ','" in error.fix
    prices = {d.number: [(l["unit_price"], l["note"]) for l in d.invoice["lines"]] for d in result.drafts}
    assert prices == {"B-1": [(Decimal("12.50"), None)], "B-3": [(Decimal("7.00"), "Eilt")]}


def test_a_row_pushing_a_value_into_the_unnamed_columns_excel_adds_is_one_error_for_that_row(config, register):
    header = HEADER.replace(",", ";") + ";;"  # Excel: every line ends with separators up to the widest one
    person = PERSON.replace(",", ";")
    text = (f"{header}\r\nB-1;{person};Urkunde;1;12,50;;;\r\nB-2;{person};Urkunde; beglaubigt;1;12,50;;;\r\n"
            f"B-3;{person};Urkunde;1;7,00;;;;\r\nB-4;{person};Urkunde;1;8,00;;;\r\n")
    batch, result = _map(config, register, text)
    assert batch.ok  # before, the value in an unnamed column refused the whole file
    assert [(e.row, e.problem) for e in result.errors] == [(3, "die Zeile hat 11 Felder, die Kopfzeile 10"),
                                                           (4, "die Zeile hat 11 Felder, die Kopfzeile 10")]
    assert [d.number for d in result.drafts] == ["B-1", "B-4"]


def test_a_row_with_a_field_too_many_and_no_group_value_gets_only_its_reading_problem(config, register):
    text = f'{HEADER}\r\n,{PERSON},Urkunde,1,12,50,\r\nB-2,{PERSON},Urkunde,1,"12,50",\r\n'
    batch, result = _map(config, register, text)
    assert [(e.row, e.problem) for e in result.errors] == [(2, "die Zeile hat 11 Felder, die Kopfzeile 10")]


def test_empty_fields_ending_every_line_from_excel_or_the_exporter_are_no_extra_fields():
    excel = "Name;Betrag;;\r\nA;1;;\r\nB;2;;\r\n"
    exporter = "Name;Betrag\r\nA;1;\r\nB;2;\r\nC;3;\r\n"  # the header line without the data lines' last ';'
    for text in (excel, exporter):
        batch = read_batch(text.encode(), "x.csv")
        assert batch.ok and not batch.errors, text
        assert [r.fields["Betrag"] for r in batch.records] == ["1", "2", "3"][:len(batch.records)]
    pushed = read_batch((exporter + "D;4;5;\r\n").encode(), "x.csv")  # one more than the exporter's lines
    assert [(e.row, e.problem) for e in pushed.errors] == [(5, "die Zeile hat 3 Felder, die Kopfzeile 2")]
    alone = read_batch(b"Name;Betrag;Bemerkung\r\nA;12;50;\r\n", "x.csv")  # one line proves no habit
    assert [(e.row, e.problem) for e in alone.errors] == [(2, "die Zeile hat 4 Felder, die Kopfzeile 3")]


def test_a_row_with_fewer_fields_reads_the_missing_ones_empty_and_says_what_is_missing(config, register):
    text = f"{HEADER}\r\nB-1,{PERSON},Urkunde,1\r\nB-2,{PERSON},Urkunde,1,\"7,00\"\r\n"
    batch, result = _map(config, register, text)
    assert not batch.errors and batch.records[0].fields["Preis"] == batch.records[0].fields["Bemerkung"] == ""
    assert _errors(result) == [(2, "Preis", "", "der Einzelpreis fehlt")]
    assert [d.number for d in result.drafts] == ["B-2"]


def test_a_column_without_a_name_between_named_ones_still_refuses_the_file():
    batch = read_batch(b"Name;;Betrag\r\nA;x;1\r\n", "x.csv")
    assert not batch.ok and "Spalte 2 hat keinen Namen" in batch.errors[0].problem
