"""Issue 15: SEPA mandates in the recipient register CSV (SEPA-Mandat, Mandatsdatum, IBAN, BIC), checked per
row like every other column, and carried to the direct debits."""
from __future__ import annotations

from datetime import date

from erechnung.intake import import_recipients_csv
from erechnung.payments.debits import mandates_of

HEAD = "Kundennummer;Name;Straße;PLZ;Ort;SEPA-Mandat;Mandatsdatum;IBAN;BIC\n"


def test_mandate_columns_are_imported():
    data = (HEAD + "K-1;Erika Mustermann;Weg 1;12345;Ort;M-2026-000001;03.11.2025;DE89 3704 0044 0532 0130 00;"
            "cobadeffxxx\nK-2;Max Beispiel;Weg 2;12345;Ort;;;;\n").encode()
    imported = import_recipients_csv(data, "r.csv")
    assert imported.errors == ()
    erika = imported.register.get("K-1")
    assert (erika.sepa_mandate_id, erika.sepa_mandate_date, erika.iban, erika.bic) == (
        "M-2026-000001", date(2025, 11, 3), "DE89370400440532013000", "COBADEFFXXX")
    assert imported.register.get("K-2").sepa_mandate_id is None
    assert set(mandates_of(imported.register)) == {"K-1"}


def test_bad_mandate_rows_are_left_out_with_column_and_fix():
    data = (HEAD + "K-1;A;Weg 1;12345;Ort;M 2026 Ü;03.11.2025;DE89370400440532013000;\n"
            "K-2;B;Weg 2;12345;Ort;M-2;;;\n"
            "K-3;C;Weg 3;12345;Ort;M-3;31.02.2025;DE89370400440532013001;\n").encode()
    imported = import_recipients_csv(data, "r.csv")
    assert len(imported.register) == 0
    problems = {(e.row, e.column): e.problem for e in imported.errors}
    assert "Mandatsreferenz" in problems[(2, "SEPA-Mandat")]
    assert "Mandatsdatum fehlt" in problems[(3, "Mandatsdatum")] and "IBAN fehlt" in problems[(3, "IBAN")]
    assert (4, "Mandatsdatum") in problems and "Prüfziffer" in problems[(4, "IBAN")]
