"""The booking export's layout (docs/receivables-export.md) and the instalment plan read from BT-20."""
from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

from erechnung.stadtkasse.claims import instalment_plan
from erechnung.stadtkasse.export import COLUMNS, Booking, booking_csv


def _booking(kind: str, amount: str, name: str = "Erika Mustermann") -> Booking:
    return Booking(kind=kind, kassenzeichen="5.0400.200011.3", number="5.0400.200011.3", instalment=2,
                   department="gewerbesteuer", debtor_ref="K-20001", debtor_name=name, amount=Decimal(amount),
                   due_date=date(2027, 5, 15), account_iban="DE02500105170137075030", mandate_id=None,
                   document_id=4)


def test_layout_decimal_comma_and_checksum_line():
    data = booking_csv([_booking("SOLL", "1337.00"), _booking("MINDERUNG", "-12.5"),
                        _booking("SOLL", "1234567.89", name='Müller; "Bau" GmbH')])
    assert data.startswith("Buchungsart;Kassenzeichen".encode("utf-8")) and b"\r\n" in data
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=";"))
    assert rows[0] == list(COLUMNS)
    assert rows[1] == ["SOLL", "5.0400.200011.3", "5.0400.200011.3", "2", "gewerbesteuer", "K-20001",
                       "Erika Mustermann", "1337,00", "15.05.2027", "DE02500105170137075030", "", "4"]
    assert rows[2][7] == "-12,50" and rows[3][6] == 'Müller; "Bau" GmbH' and rows[3][7] == "1234567,89"
    assert rows[-1] == ["SUMME", "3", "1235892,39"]


def test_an_empty_export_still_has_its_checksum_line():
    assert booking_csv([]).decode("utf-8").splitlines()[-1] == "SUMME;0;0,00"


def test_a_name_that_looks_like_a_formula_is_defused():
    rows = list(csv.reader(io.StringIO(booking_csv([_booking("SOLL", "1", name="=HYPERLINK(1)")]).decode()),
                           delimiter=";"))
    assert rows[1][6] == "'=HYPERLINK(1)"


def test_instalment_plan_from_payment_terms():
    terms = "Fällig in Teilbeträgen: 15.02.2027 1.337,00 EUR; 15.05.2027 1.337,00 EUR; 15.08.2027 0,50 EUR"
    assert instalment_plan(terms) == [(date(2027, 2, 15), Decimal("1337.00")), (date(2027, 5, 15), Decimal("1337.00")),
                                      (date(2027, 8, 15), Decimal("0.50"))]
    assert instalment_plan("Zahlbar innerhalb von 14 Tagen") == [] and instalment_plan(None) == []
