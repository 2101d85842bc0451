"""From records to documents by a department's mapping profile: grouping, recipients, kinds, numbers, notices,
and quarantine of every document with a problem in any of its rows, while the rest of the batch goes on."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from erechnung.config import ConfigError
from erechnung.intake import CounterNumbers, build, build_all, map_batch, parse_profile, read_batch

TODAY = date(2026, 11, 6)


def _mapped(department, config, profiles, register, data: bytes, name: str, profile=None):
    dep = config.department(department)
    batch = read_batch(data, name, format=dep.format, encoding=dep.encoding, delimiter=dep.delimiter)
    return map_batch(batch, dep, config, profile or profiles[department], register, today=TODAY)


@pytest.fixture(scope="module")
def standesamt(config, profiles, register, sample):
    return _mapped("standesamt", config, profiles, register, *sample("standesamt"))


def _draft(result, key):
    return next(d for d in result.drafts if d.key == key)


def test_rows_with_the_same_invoice_number_become_one_invoice_with_several_lines(standesamt, config):
    draft = _draft(standesamt, "STA-2026-0101")
    assert draft.rows == (2, 3) and draft.kind == "invoice" and draft.recipient_ref is None
    invoice = build(draft, config)
    assert invoice.number == "STA-2026-0101" and invoice.issue_date == date(2026, 11, 2)
    assert [(l.id, l.item.name, l.quantity, l.price.net_price) for l in invoice.lines] == [
        ("1", "Geburtsurkunde (je Stück 12 €)", Decimal("2"), Decimal("12.00")),
        ("2", "Beglaubigter Ausdruck aus dem Eheregister", Decimal("1"), Decimal("12.00"))]
    assert invoice.totals.payable_amount == Decimal("36.00") and invoice.due_date == date(2026, 11, 16)
    assert invoice.buyer.name == "Jürgen Größmann" and invoice.buyer.electronic_address.value == \
        "j.groessmann@example.org"
    assert invoice.seller.legal_registration_id.value == "05999001"  # the AGS as BT-30
    assert invoice.seller.contact.name == "Standesamt Musterstadt"
    assert invoice.payment_instructions[0].credit_transfers[0].account_id == "DE02120300000000202051"
    assert invoice.vat_breakdown[0].exemption_reason == "Nicht steuerbar: hoheitliche Tätigkeit (§ 2b UStG)"


def test_broken_row_is_quarantined_with_row_column_value_and_fix_and_the_rest_goes_on(standesamt):
    reasons = {(e.row, e.column, e.value, e.problem) for e in standesamt.errors}
    assert reasons == {
        (6, "Einzelpreis", "12,3,4", "keine Zahl"),
        (7, "Rechnungsdatum", "31.02.2026", "den 31. Februar 2026 gibt es nicht (Februar 2026 hat 28 Tage)"),
        (8, "Name", "", "der Name fehlt"),
        (9, "Kundennummer", "K-99999", "unbekannte Kundennummer: nicht im Empfängerverzeichnis"),
        (10, "Lastschrift-IBAN", "DE02120300000000202052", "die Prüfziffer der IBAN stimmt nicht (Tippfehler?)"),
    }
    assert all(e.batch == "2026-11-04_standesamt.csv" and e.fix for e in standesamt.errors)
    assert [q.key for q in standesamt.quarantined] == [f"STA-2026-010{i}" for i in range(3, 8)]
    assert [d.key for d in standesamt.drafts] == ["STA-2026-0101", "STA-2026-0102", "STA-2026-0108",
                                                  "STA-2026-0109", "STA-2026-0110"]


def test_a_document_with_one_bad_row_is_quarantined_whole_with_every_reason(config, profiles, register, sample):
    data, name = sample("standesamt")
    text = data.decode("windows-1252").replace(
        "Beglaubigter Ausdruck aus dem Eheregister;1;12,00", "Beglaubigter Ausdruck aus dem Eheregister;x;12,0,0")
    result = _mapped("standesamt", config, profiles, register, text.encode("windows-1252"), name)
    quarantined = next(q for q in result.quarantined if q.key == "STA-2026-0101")
    assert quarantined.rows == (2, 3) and [r.row for r in quarantined.records] == [2, 3]
    assert {(e.row, e.column) for e in quarantined.errors} == {(3, "Menge"), (3, "Einzelpreis")}
    assert "STA-2026-0102" in [d.key for d in result.drafts]


def test_recipient_from_the_register_by_customer_number(standesamt, config):
    draft = _draft(standesamt, "STA-2026-0102")
    assert draft.recipient_ref == "K-10001" and draft.recipient.name == "Erika Mustermann"
    invoice = build(draft, config)
    assert invoice.buyer.identifier.value == "K-10001" and invoice.buyer_reference == "K-10001"
    assert invoice.buyer.address.line1 == "Am Beispielweg 3a"


def test_sap_trailing_minus_becomes_a_negative_quantity_and_direct_debit_a_sepa_mandate(standesamt, config):
    invoice = build(_draft(standesamt, "STA-2026-0108"), config)
    assert invoice.issue_date == date(2026, 11, 3)  # 03.11.26: two-digit year allowed by the profile
    refund = invoice.lines[1]
    assert refund.quantity == Decimal("-1") and refund.price.net_price == Decimal("12.00")  # prices never < 0
    assert invoice.totals.payable_amount == Decimal("1068.00")
    (means,) = invoice.payment_instructions
    assert means.means_code == "59" and means.credit_transfers == ()
    assert means.direct_debit.debited_account_id == "DE89370400440532013000"
    assert means.direct_debit.mandate_reference == "STA-M-0108"
    assert means.direct_debit.creditor_id == "DE98ZZZ09999999999"


def test_negative_total_becomes_a_credit_note_with_positive_amounts(standesamt, config):
    draft = _draft(standesamt, "STA-2026-0109")
    assert draft.kind == "credit_note"
    note = build(draft, config)
    assert note.type_code == "381" and note.is_credit_note
    assert note.lines[0].quantity == Decimal("1") and note.totals.payable_amount == Decimal("12.00")


def test_kind_chosen_by_a_column_value_and_numbers_from_the_department_range(config, profiles, register, sample):
    result = _mapped("ordnungsamt", config, profiles, register, *sample("ordnungsamt"))
    assert not result.quarantined
    kinds = {d.key: d.kind for d in result.drafts}
    assert kinds == {"SN-2026-0412": "invoice", "SN-2026-0413": "invoice", "VH-2026-0007": "invoice",
                     "SN-2026-0398": "credit_note", "VH-2026-0009": "invoice"}
    numbers = CounterNumbers()
    built = build_all(result.drafts, config, numbers=numbers)
    assert [doc.number for _, doc in built.documents] == [f"OA-2026-00000{i}" for i in range(1, 6)]
    first = built.documents[0][1]
    assert first.payment_instructions[0].remittance_information == "OA-2026-000001"  # Kassenzeichen = number
    assert first.invoicing_period.start == date(2026, 11, 1) and first.purchase_order_reference == "32.1-SN-0412"
    kreis = built.documents[2][1]
    assert kreis.buyer_reference == "05999-KREIS01-90" and kreis.buyer.electronic_address.scheme_id == "0204"
    assert kreis.lines[0].quantity == Decimal("38.5") and kreis.totals.tax_amount == Decimal("456.46")


def test_unknown_kind_value_and_differing_document_values_are_reported(config, profiles, register, sample):
    data, name = sample("ordnungsamt")
    lines = data.decode().splitlines()
    lines[0] = lines[0].replace('"art": "rechnung"', '"art": "mahnung"')
    lines[2] = lines[2].replace('"kunde": "K-20002"', '"kunde": "K-20001"')
    result = _mapped("ordnungsamt", config, profiles, register, "\n".join(lines).encode(), name)
    found = {(q.key, e.row, e.column): e for q in result.quarantined for e in q.errors}
    assert found[("SN-2026-0412", 1, "art")].problem == "unbekannte Belegart"
    differ = found[("SN-2026-0413", 3, "kunde")]
    assert differ.value == "K-20001" and "weicht ab von Zeile 2 ('K-20002')" in differ.problem
    assert [d.key for d in result.drafts] == ["VH-2026-0007", "SN-2026-0398", "VH-2026-0009"]


def test_a_refused_document_uses_up_no_number(config, profiles, register, sample):
    result = _mapped("ordnungsamt", config, profiles, register, *sample("ordnungsamt"))
    bad = result.drafts[0].model_copy(update={"invoice": {**result.drafts[0].invoice, "due_date": None,
                                                          "issue_date": None}})
    numbers = CounterNumbers()
    built = build_all([bad, result.drafts[1]], config, numbers=numbers)
    assert len(built.quarantined) == 1 and built.quarantined[0].rows == (1,)
    assert "lässt sich nicht erstellen" in built.quarantined[0].errors[0].problem
    assert [doc.number for _, doc in built.documents] == ["OA-2026-000001"]


def test_missing_column_in_the_file_is_one_error_for_the_whole_batch(config, profiles, register):
    data = "Rechnungsnummer;Rechnungsdatum;Name\r\nSTA-1;01.11.2026;A\r\n".encode("windows-1252")
    result = _mapped("standesamt", config, profiles, register, data, "kurz.csv")
    (quarantined,) = result.quarantined
    (error,) = quarantined.errors
    assert error.row is None and "'Kundennummer'" in error.problem and "standesamt.toml" in error.fix
    assert quarantined.rows == (2,) and result.drafts == ()


def test_empty_group_key_quarantines_the_row_alone(config, profiles, register, sample):
    data, name = sample("standesamt")
    text = data.decode("windows-1252").replace("STA-2026-0110;", ";")
    result = _mapped("standesamt", config, profiles, register, text.encode("windows-1252"), name)
    alone = next(q for q in result.quarantined if q.rows == (14,))
    assert alone.errors[0].column == "Rechnungsnummer" and "leer" in alone.errors[0].problem


def test_dog_tax_notices_from_the_xlsx_with_tiers_dangerous_dogs_and_months(config, profiles, register, sample):
    result = _mapped("steueramt", config, profiles, register, *sample("steueramt"))
    assert not result.quarantined and [d.kind for d in result.drafts] == ["notice"] * 4
    built = build_all(result.drafts, config, numbers=CounterNumbers())
    assert not built.quarantined
    notices = {d.key: n for d, n in built.documents}
    two_dogs = notices["5.0200.100001.7"]
    assert two_dogs.number == "HST-2026-00001" and two_dogs.subject == "die Hundesteuer 2026"
    assert [i.amount for i in two_dogs.items] == [Decimal("96.00"), Decimal("132.00")]
    assert two_dogs.payment.kassenzeichen == "5.0200.100001.7" and two_dogs.file_number == "22.1-HSt-0042"
    assert two_dogs.authority.office == "Steueramt" and two_dogs.authority.municipality_key == "05999001"
    assert two_dogs.official.name == "Tobias Muster" and two_dogs.automation_note
    assert two_dogs.payment.accounts[0].iban == "DE02500105170137075030"  # the department's account
    assert notices["5.0200.100003.3"].total == Decimal("72.00")  # 9 months of 96 €
    assert notices["5.0200.100004.0"].total == Decimal("600.00")  # a dangerous dog
    assert notices["5.0200.100001.7"].addressee.salutation == "Sehr geehrte Frau Mustermann,"


def test_waste_fee_notices_from_a_utf8_comma_csv_with_placeholders(config, profiles, register, sample):
    result = _mapped("abfallwirtschaft", config, profiles, register, *sample("abfallwirtschaft"))
    built = build_all(result.drafts, config)
    assert not result.quarantined and not built.quarantined
    notices = {d.key: n for d, n in built.documents}
    first = notices["5.0300.100001.4"]
    assert first.kind.value == "abfallgebuehrenbescheid" and first.file_number == "70.2-5.0300.100001.4"
    assert first.reasons == ("Grundstück Am Beispielweg 3a, Flur 4, Flurstück 117",)
    assert first.total == Decimal("282.00") and first.instalments[0].due_date == date(2026, 2, 15)
    assert notices["5.0300.100004.1"].total == Decimal("419.40")  # 356,40 + 9/12 of 84,00
    assert notices["5.0300.200001.9"].total == Decimal("2824.00")  # 2 x 1,412.00 with a thousands comma


def test_trade_tax_prepayment_notices_from_a_semicolon_csv_with_messbetrag_and_hebesatz(config, profiles, register,
                                                                                     sample):
    result = _mapped("gewerbesteuer", config, profiles, register, *sample("gewerbesteuer"))
    built = build_all(result.drafts, config)
    assert not result.quarantined and not built.quarantined
    notices = {d.key: n for d, n in built.documents}
    assert len(notices) == 3 and {n.kind.value for n in notices.values()} == {"gewerbesteuerbescheid"}
    loewe = notices["5.0400.200011.3"]
    assert loewe.subject == "die Vorauszahlungen auf die Gewerbesteuer 2026" and loewe.issue_date == date(2026, 1, 12)
    assert loewe.file_number == "22.3-GewSt-5.0400.200011.3" and loewe.addressee.customer_number == "K-20001"
    assert "Steuernummer 333/5123/0417" in " ".join(loewe.legal_basis)
    assert loewe.total == Decimal("5348.00")  # 4 x 1,337 € (1,126.30 x 475 % = 5,349.93; a quarter in whole euro)
    assert [i.due_date for i in loewe.instalments] == [date(2026, m, 15) for m in (2, 5, 8, 11)]
    assert loewe.payment.accounts[0].iban == "DE02500105170137075030" and loewe.official.name == "Sabine Beispiel"
    assert notices["5.0400.200027.8"].total == Decimal("22856.00")  # a thousands point in the Messbetrag
    assert notices["5.0400.200035.1"].total == Decimal("3476.00")


def test_notice_the_calculator_refuses_is_quarantined_with_its_reason(config, profiles, register, sample):
    profile = profiles["steueramt"].model_copy(update={"constants": {
        k: v for k, v in profiles["steueramt"].constants.items() if k != "assessment.dangerous_rate"}})
    result = _mapped("steueramt", config, profiles, register, *sample("steueramt"), profile=profile)
    built = build_all(result.drafts, config, numbers=CounterNumbers())
    (refused,) = built.quarantined
    assert refused.key == "5.0200.100004.0" and refused.rows == (5,)
    assert "dangerous" in refused.errors[0].problem and len(built.documents) == 3


def test_profile_mistakes_are_all_reported_with_their_key():
    with pytest.raises(ConfigError) as err:
        parse_profile("""
group_by = "Nr"
[formats]
decimal_separator = ";"
dates = ["TT.MM.JJJJ"]
[columns]
lines.quantity = "Menge"
lines.unit_prize = "Preis"
buyer.customer_number = "Kunde"
[constants]
lines.vat_category = "X"
due_days = "vierzehn"
""", "amt.toml")
    problems = {p.key: p for p in err.value.problems}
    assert "meinten Sie lines.unit_price?" in problems["columns.lines.unit_prize"].fix
    assert problems["formats.decimal_separator"].problem == "ist kein erlaubter Wert"
    assert "kein Datumsformat" in problems["formats.dates"].problem


def test_profile_required_fields_and_constant_types(tmp_path):
    with pytest.raises(ConfigError) as err:
        parse_profile("""
[columns]
lines.quantity = "Menge"
buyer.customer_number = "Kunde"
[constants]
lines.vat_category = "X"
due_days = "vierzehn"
subject = "Bescheid {jahr}"
""", "amt.toml")
    problems = {p.key: p for p in err.value.problems}
    assert problems["constants.lines.vat_category"].problem == "'X' ist nicht erlaubt als die Umsatzsteuerkategorie"
    assert problems["constants.due_days"].problem == "keine ganze Zahl"
    assert problems["columns.lines.name"].problem == "fehlt für Rechnungen"
    assert problems["columns.lines.unit_price"].problem == "fehlt für Rechnungen"
    assert problems["constants"].value == "{jahr}"


def test_load_profiles_reports_a_number_needed_but_neither_column_nor_range(config):
    from erechnung.intake.mapping import load_profiles

    ordnungsamt = config.department("ordnungsamt").model_copy(update={"number_range": None})
    broken = config.model_copy(update={"departments": {**config.departments, "ordnungsamt": ordnungsamt}})
    with pytest.raises(ConfigError) as err:
        load_profiles(broken)
    (problem,) = err.value.problems
    assert problem.key == "departments.ordnungsamt.number_range"
