"""Values as departments write them: German and international numbers, dates, IBAN, Leitweg-ID, post codes."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from erechnung.intake import RecordError
from erechnung.intake import values as v
from erechnung.model import identifiers as ids


@pytest.mark.parametrize("text, expected", [
    ("1.234,56", "1234.56"), ("1234,56", "1234.56"), ("-12,00", "-12.00"), ("12,00-", "-12.00"),
    ("12,50 €", "12.50"), ("EUR 3,5", "3.5"), ("1.234.567", "1234567"), ("0,5", "0.5"), ("1.234", "1234"),
])
def test_german_numbers_with_thousands_points_and_sap_trailing_minus_become_decimals(text, expected):
    value = v.parse_decimal(text, decimal_separator=",")
    assert value == Decimal(expected) and isinstance(value, Decimal)


@pytest.mark.parametrize("text, expected", [("1234.56", "1234.56"), ("1,234.56", "1234.56"), ("-0.5", "-0.5")])
def test_international_numbers_with_a_declared_decimal_point(text, expected):
    assert v.parse_decimal(text, decimal_separator=".") == Decimal(expected)


@pytest.mark.parametrize("text, expected", [("1.234,56", "1234.56"), ("1,234.56", "1234.56"), ("1234.5", "1234.5"),
                                            ("12,5", "12.5"), ("1.234.567,8", "1234567.8")])
def test_auto_decimal_separator_reads_unambiguous_numbers(text, expected):
    assert v.parse_decimal(text) == Decimal(expected)


@pytest.mark.parametrize("text", ["1.234", "1,234"])
def test_auto_refuses_a_single_separator_before_three_digits_as_ambiguous(text):
    with pytest.raises(RecordError) as err:
        v.parse_decimal(text)
    assert "mehrdeutig" in err.value.problem and "decimal_separator" in err.value.fix


def test_auto_with_german_reads_the_ambiguous_forms_the_german_way():
    assert v.parse_decimal("1.234", german=True) == Decimal("1234")
    assert v.parse_decimal("1,234", german=True) == Decimal("1.234")


@pytest.mark.parametrize("text", ["12,3,4", "1,2.3", "abc", "", "1..2", "12-3", "--1", "1.23,4.5"])
def test_what_is_not_a_number_is_refused_with_a_fix(text):
    with pytest.raises(RecordError) as err:
        v.parse_decimal(text, decimal_separator=",")
    assert err.value.problem.startswith("keine Zahl") and "1.234,56" in err.value.fix


def test_dates_in_german_iso_and_two_digit_form_and_as_excel_serials():
    assert v.parse_date("31.12.2026", ["DD.MM.YYYY"]) == date(2026, 12, 31)
    assert v.parse_date("1.2.2026", ["DD.MM.YYYY"]) == date(2026, 2, 1)
    assert v.parse_date("31.12.26", ["DD.MM.YY"]) == date(2026, 12, 31)
    assert v.parse_date("2026-12-31", ["DD.MM.YYYY"]) == date(2026, 12, 31)  # ISO is always understood
    assert v.parse_date("46387", ["EXCEL"]) == date(2026, 12, 31)


def test_a_day_that_does_not_exist_is_named():
    with pytest.raises(RecordError) as err:
        v.parse_date("31.02.2026", ["DD.MM.YYYY"])
    assert err.value.problem == "den 31. Februar 2026 gibt es nicht (Februar 2026 hat 28 Tage)"


def test_two_digit_years_are_refused_unless_the_profile_allows_them():
    with pytest.raises(RecordError) as err:
        v.parse_date("31.12.26", ["DD.MM.YYYY"])
    assert "TT.MM.JJJJ" in err.value.fix


def test_excel_serial_in_a_text_column_says_how_to_fix_it():
    with pytest.raises(RecordError) as err:
        v.parse_date("46387", ["DD.MM.YYYY"])
    assert "Excel" in err.value.problem and "EXCEL" in err.value.fix


def test_iban_is_normalized_and_its_check_digits_verified():
    assert ids.parse_iban("de02 1203 0000 0000 2020 51") == "DE02120300000000202051"
    with pytest.raises(RecordError, match="Prüfziffer"):
        ids.parse_iban("DE02120300000000202052")
    with pytest.raises(RecordError, match="22 Stellen"):
        ids.parse_iban("DE0212030000000020205")


def test_leitweg_id_format_and_mod_97_10_check_digits():
    assert ids.parse_leitweg_id("04011000-12345-03") == "04011000-12345-03"
    assert ids.parse_leitweg_id("991-33333test-33") == "991-33333TEST-33"
    assert ids.parse_leitweg_id("04011000-1234512345-06") == "04011000-1234512345-06"
    assert ids.leitweg_check_digits("05999001", "RECHNUNG") == "11"
    with pytest.raises(RecordError) as err:
        ids.parse_leitweg_id("04011000-12345-34")
    assert "erwartet 03" in err.value.problem
    with pytest.raises(RecordError, match="keine Leitweg-ID"):
        ids.parse_leitweg_id("04011000_12345")


def test_german_post_code_with_lost_leading_zero_says_what_happened():
    assert ids.parse_post_code("01067") == "01067"
    with pytest.raises(RecordError) as err:
        ids.parse_post_code("1067")
    assert "4 Ziffern" in err.value.problem and "01067" in err.value.fix and "führende 0" in err.value.fix
    assert ids.parse_post_code("1010", "AT") == "1010"


def test_email_creditor_id_municipality_key():
    assert ids.parse_email(" a.b@example.org ") == "a.b@example.org"
    for bad in ("a b@example.org", "ab@", "@example.org", "a@b"):
        with pytest.raises(RecordError):
            ids.parse_email(bad)
    assert ids.parse_creditor_id("DE98ZZZ09999999999") == "DE98ZZZ09999999999"
    with pytest.raises(RecordError):
        ids.parse_creditor_id("DE97ZZZ09999999999")
    with pytest.raises(RecordError):
        ids.parse_municipality_key("0599900")


def test_errors_carry_their_location_once_the_mapper_adds_it():
    with pytest.raises(RecordError) as err:
        v.parse_decimal("12,3,4", decimal_separator=",")
    located = err.value.at(batch="x.csv", row=17, column="Betrag")
    assert (located.row, located.column, located.value) == (17, "Betrag", "12,3,4")
    assert str(located).startswith("x.csv, Zeile 17, Spalte 'Betrag', Wert '12,3,4': keine Zahl")
