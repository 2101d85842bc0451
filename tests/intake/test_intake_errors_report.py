"""The error report the department reads: CSV for Excel and a German HTML page, one row per problem."""
from __future__ import annotations

import csv
import io
from datetime import datetime

from erechnung.intake import RecordError, error_report_csv, error_report_html
from erechnung.model.clock import BERLIN

ERRORS = [
    RecordError(batch="b.csv", row=17, column="Betrag", value="12,3,4", problem="keine Zahl",
                fix="schreiben Sie die Zahl wie 1.234,56 oder 1234,56"),
    RecordError(batch="b.csv", row=3, column="Name", value="<script>alert(1)</script>", problem="Größe & Maß",
                fix="prüfen"),
    RecordError(batch="kaputt.xlsx", problem="die XLSX-Datei ist unvollständig", fix="erneut speichern"),
    RecordError(batch="b.csv", row=4, column="Formel", value="=HYPERLINK(\"x\")", problem="p", fix="f"),
]


def test_csv_report_opens_in_excel_with_umlauts_one_row_per_problem():
    data = error_report_csv(ERRORS)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Datei", "Zeile", "Spalte", "Wert", "Problem", "Was tun"]
    assert rows[1] == ["b.csv", "3", "Name", "<script>alert(1)</script>", "Größe & Maß", "prüfen"]
    assert rows[3] == ["b.csv", "17", "Betrag", "12,3,4", "keine Zahl",
                       "schreiben Sie die Zahl wie 1.234,56 oder 1234,56"]
    assert rows[2][3] == "'=HYPERLINK(\"x\")"  # never a formula in Excel
    assert rows[4][:2] == ["kaputt.xlsx", ""] and len(rows) == 5


def test_html_report_is_german_and_escapes_every_value():
    page = error_report_html(ERRORS, department="Standesamt", created=datetime(2026, 11, 6, 9, 30, tzinfo=BERLIN)).decode()
    assert '<html lang="de">' in page and "Fehlerbericht – Standesamt" in page
    assert "<th>Was tun</th>" in page and "4 Probleme in 2 Dateien" in page and "06.11.2026 09:30 MEZ" in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Größe &amp; Maß" in page and "ganze Datei" in page
    assert page.count("<tr>") + page.count('<tr class="datei">') == 5


def test_an_empty_report_says_all_went_through():
    assert "Keine Probleme" in error_report_html([]).decode()
    assert error_report_csv([]).decode("utf-8-sig").strip() == "Datei;Zeile;Spalte;Wert;Problem;Was tun"
