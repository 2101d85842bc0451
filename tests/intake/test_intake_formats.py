"""Batch files into records: CSV in the encodings departments export, JSON, JSON Lines, XLSX, finished documents;
a broken file is one batch-level error, never a traceback."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from erechnung.intake import detect_encoding, document_bytes, read_batch

BATCHES = Path(__file__).resolve().parents[2] / "examples" / "batches"

HEADER = "Name;Leistung;Betrag\r\n"


def test_windows_1252_csv_with_german_numbers_reads_umlauts_and_euro(sample):
    data, name = sample("standesamt")
    batch = read_batch(data, name, format="csv", encoding="auto", delimiter="auto")
    assert batch.ok and batch.encoding == "windows-1252" and batch.delimiter == ";"
    first = batch.records[0]
    assert first.row == 2  # the header is line 1, as the clerk sees it in the editor
    assert first.fields["Name"] == "Jürgen Größmann"
    assert first.fields["Leistung"] == "Geburtsurkunde (je Stück 12 €)"
    assert first.fields["Einzelpreis"] == "12,00"
    assert "Eheurkunde – zusätzliche Ausfertigung" in [r.fields["Leistung"] for r in batch.records]
    assert batch.records[-1].fields["Name"] == "Familie Çelik"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "windows-1252", "iso-8859-15"])
def test_every_supported_encoding_is_detected_and_reads_the_euro_sign(encoding):
    text = HEADER + "Jörg Weiß;Gebühr 12 €;12,00\r\n"
    data = text.encode(encoding)
    assert detect_encoding(data) == {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig"}.get(encoding, encoding)
    batch = read_batch(data, "x.csv")
    assert batch.records[0].fields == {"Name": "Jörg Weiß", "Leistung": "Gebühr 12 €", "Betrag": "12,00"}


def test_declared_encoding_that_does_not_fit_is_one_batch_error_naming_the_line():
    data = (HEADER + "Jörg;x;1\r\n").encode("windows-1252")
    batch = read_batch(data, "x.csv", encoding="utf-8")
    assert not batch.ok and batch.records == () and len(batch.errors) == 1
    error = batch.errors[0]
    assert error.row is None and "Zeile 2" in error.problem and "windows-1252" in error.fix


def test_comma_delimiter_is_detected_and_quoted_values_keep_their_commas():
    data = b'Name,Betrag\r\n"M\xc3\xbcller, Hans","1,234.50"\r\n'
    batch = read_batch(data, "x.csv")
    assert batch.delimiter == "," and batch.records[0].fields == {"Name": "Müller, Hans", "Betrag": "1,234.50"}


def test_a_row_with_more_fields_than_the_header_carries_its_problem_and_the_rest_is_read():
    data = (HEADER + "A;Urkunde;12,00\r\nB;Urkunde;12;50\r\nC;Urkunde;1,00\r\n").encode()
    batch = read_batch(data, "x.csv")
    assert batch.ok and [r.fields["Name"] for r in batch.records] == ["A", "B", "C"]
    (problem,) = batch.records[1].problems
    assert problem.row == 3 and "4 Felder" in problem.problem and "Anführungszeichen" in problem.fix


def test_empty_lines_and_trailing_delimiters_from_excel_are_ignored():
    data = b"Name;Betrag;\r\nA;1;\r\n;;\r\n\r\nB;2;\r\n"
    batch = read_batch(data, "x.csv")
    assert [(r.row, r.fields) for r in batch.records] == [(2, {"Name": "A", "Betrag": "1"}),
                                                          (5, {"Name": "B", "Betrag": "2"})]


@pytest.mark.parametrize("data, words", [
    (b"", "leer"),
    (b"Name;Name\r\na;b\r\n", "zweimal"),
    (b"PK\x03\x04rest-of-a-zip", "Excel"),
    (b"\xd0\xcf\x11\xe0old-excel", ".xlsx"),
    ("Name;Betrag\r\n".encode("utf-16"), "Nullbytes"),
])
def test_broken_csv_is_one_batch_error_with_a_reason(data, words):
    batch = read_batch(data, "x.csv")
    assert not batch.ok and len(batch.errors) == 1
    assert words in batch.errors[0].problem + batch.errors[0].fix


def test_json_list_or_records_object_with_nested_objects_and_typed_numbers():
    items = [{"kunde": "K-1", "menge": 2, "preis": 12.5, "zeitraum": {"von": "2026-11-01"}, "leer": None}]
    for doc in (items, {"records": items}):
        batch = read_batch(json.dumps(doc).encode(), "x.json")
        record = batch.records[0]
        assert record.fields == {"kunde": "K-1", "menge": "2", "preis": "12.5", "zeitraum.von": "2026-11-01",
                                 "leer": ""}
        assert record.native == {"menge", "preis"}


@pytest.mark.parametrize("data, words", [(b'[{"a": 1}', "kein gültiges JSON"), (b'{"rows": []}', "records"),
                                         (b"\xff\xfe", "UTF-8")])
def test_broken_json_is_one_batch_error(data, words):
    batch = read_batch(data, "x.json")
    assert not batch.ok and words in batch.errors[0].problem + batch.errors[0].fix


def test_jsonl_broken_line_is_a_row_problem_and_the_other_lines_are_read(sample):
    data, name = sample("ordnungsamt")
    lines = data.decode().splitlines()
    broken = "\n".join([lines[0], lines[1][:40], "", "[1, 2]", lines[2]]).encode()
    batch = read_batch(broken, name, format="jsonl")
    assert batch.ok and [r.row for r in batch.records] == [1, 2, 4, 5]
    assert "kein gültiges JSON" in batch.records[1].problems[0].problem
    assert "kein Objekt" in batch.records[2].problems[0].problem
    assert batch.records[3].fields["vorgang"] == "SN-2026-0413"


def test_xlsx_first_sheet_header_row_and_cells_as_excel_gives_them(sample):
    data, name = sample("steueramt")
    batch = read_batch(data, name, format=("xlsx", "csv"))
    assert batch.ok and batch.format == "xlsx" and len(batch.records) == 5
    first = batch.records[0]
    assert first.row == 2 and first.fields["Hund"] == "Bello"
    assert first.fields["Bescheiddatum"] == "2026-01-12" and first.fields["Jahr"] == "2026"
    assert {"Bescheiddatum", "Jahr", "Monate"} <= first.native and "Hund" not in first.native
    assert batch.records[2].fields["Hund"] == "Karabaş"


def test_truncated_xlsx_is_one_batch_error(sample):
    data, name = sample("steueramt")
    batch = read_batch(data[: len(data) // 2], name, format="xlsx")
    assert not batch.ok and batch.records == () and "XLSX" in batch.errors[0].problem


def test_file_ending_chooses_among_the_departments_formats_and_others_are_refused():
    batch = read_batch(b"a;b\r\n1;2\r\n", "liste.csv", format=("xlsx", "csv"))
    assert batch.ok and batch.format == "csv"
    refused = read_batch(b"%PDF-1.4", "liste.pdf", format=("xlsx", "csv"))
    assert not refused.ok and ".xlsx oder .csv" in refused.errors[0].fix


def test_finished_ubl_and_cii_are_one_record_each_passed_through_as_bytes():
    for path in sorted((BATCHES / "stadtbibliothek").glob("*.xml")):
        batch = read_batch(path.read_bytes(), path.name, format=("xml", "pdf"))
        (record,) = batch.records
        assert record.raw == path.read_bytes() and document_bytes(record) == path.read_bytes()
        assert record.fields["syntax"] == ("ubl" if "ubl" in path.name else "cii")


def test_zugferd_pdf_is_one_record_with_its_embedded_xml_and_a_plain_pdf_is_refused():
    from facturx import generate_from_binary
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(100, 750, "Rechnung BIB-2026-0032")
    page.save()
    xml = (BATCHES / "stadtbibliothek" / "BIB-2026-0032_cii.xml").read_bytes()
    pdf = generate_from_binary(buffer.getvalue(), xml, flavor="factur-x", level="en16931", check_xsd=False)
    (record,) = read_batch(pdf, "rechnung.pdf", format=("xml", "pdf")).records
    assert document_bytes(record) == xml and record.raw == pdf
    plain = read_batch(buffer.getvalue(), "scan.pdf", format="pdf")
    assert not plain.ok and "keine eingebettete" in plain.errors[0].problem
    broken = read_batch(pdf[: len(pdf) // 3], "rechnung.pdf", format="pdf")
    assert not broken.ok and "beschädigt" in broken.errors[0].problem


@pytest.mark.parametrize("data", [b"<html><body>no invoice</body></html>", b"<a><b></a>", b"not xml at all"])
def test_xml_that_is_no_invoice_is_one_batch_error(data):
    batch = read_batch(data, "x.xml", format="xml")
    assert not batch.ok and "UBL" in batch.errors[0].problem
