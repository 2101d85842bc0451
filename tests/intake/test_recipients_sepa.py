"""Issue 15: SEPA mandates in the recipient register CSV (SEPA-Mandat, Mandatsdatum, IBAN, BIC), checked per
row like every other column, and carried to the direct debits."""
from __future__ import annotations

from datetime import date

import pytest

from erechnung.intake import CounterNumbers, build_all, import_recipients_csv, map_batch, read_batch
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


def _with_mandates(register):
    from erechnung.model.recipients import RecipientRegister

    return RecipientRegister(tuple(r.model_copy(update={
        "sepa_mandate_id": f"M-{r.customer_number}", "sepa_mandate_date": date(2024, 1, 2),
        "iban": "DE89370400440532013000"}) for r in register))


@pytest.mark.parametrize("department", ["standesamt", "abfallwirtschaft"])
def test_documents_of_recipients_with_a_mandate_are_collected_by_direct_debit(department, config, profiles,
                                                                               register, sample):
    dep = config.department(department)
    data, name = sample(department)
    batch = read_batch(data, name, format=dep.format, encoding=dep.encoding, delimiter=dep.delimiter)
    mapped = map_batch(batch, dep, config, profiles[department], _with_mandates(register), today=date(2026, 11, 6))
    built = build_all(mapped.drafts, config, numbers=CounterNumbers())
    assert not built.quarantined
    collected = 0
    for draft, document in built.documents:
        from_register = draft.recipient_ref is not None
        if draft.kind == "notice":
            dd = document.payment.direct_debit if document.payment else None
            if from_register and document.payment_due:
                assert (dd.mandate_reference, dd.creditor_id) == (f"M-{draft.recipient_ref}", "DE98ZZZ09999999999")
                collected += 1
            else:
                assert dd is None
        else:
            [pay] = document.payment_instructions
            if from_register and not draft.invoice.get("direct_debit"):
                assert pay.means_code == "59" and pay.direct_debit.mandate_reference == f"M-{draft.recipient_ref}"
                assert pay.direct_debit.debited_account_id == "DE89370400440532013000"
                collected += 1
    assert collected


def test_without_mandates_the_same_documents_ask_for_a_transfer(config, profiles, register, sample):
    dep = config.department("abfallwirtschaft")
    data, name = sample("abfallwirtschaft")
    batch = read_batch(data, name, format=dep.format, encoding=dep.encoding, delimiter=dep.delimiter)
    built = build_all(map_batch(batch, dep, config, profiles["abfallwirtschaft"], register,
                                today=date(2026, 11, 6)).drafts, config, numbers=CounterNumbers())
    assert all(d.payment.direct_debit is None for _, d in built.documents if d.payment)
