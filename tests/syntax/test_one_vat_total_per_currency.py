"""BT-110 once in the invoice currency, BT-111 once in the VAT accounting currency: more has no single
meaning, so both readers refuse such a document with a message naming the terms (the official cases below
are rejected by KoSIT too)."""
from __future__ import annotations

import pytest

from erechnung import artifacts
from erechnung.errors import DocumentReadError
from erechnung.syntax import read_invoice

TWICE = [
    "validator-configuration-xrechnung/src/test/cen-unit-test/ubl-br-co-15-no-multiple-bt-110-allowed-test.xml",
    "xrechnung-schematron/test/instances/cii/cii-peppol-en16931-r053-2-negative-test.xml",
    "xrechnung-schematron/test/instances/cii/cii-peppol-en16931-r054-2-negative-test.xml",
]


@pytest.mark.parametrize("path", TWICE)
def test_a_vat_total_stated_twice_or_in_a_third_currency_is_refused(path):
    with pytest.raises(DocumentReadError) as caught:
        read_invoice((artifacts.cases_dir() / path).read_bytes())
    assert caught.value.term == "BT-110/BT-111"
    assert "VAT" in str(caught.value)
