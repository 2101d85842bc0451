"""Consent as the law has it (issue 17): the consent model of a notice's legal basis in force on the planned
posting day (``consent.toml``) against what the register records (consents and objections with their day and
source). The recipients come from a real register CSV import; the routes from the real planner on SQLite and
PostgreSQL, whose first event explains each left-out channel with its paragraph."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from erechnung.delivery.consent import ConsentModel, ConsentRuleError, ConsentRules
from erechnung.delivery.plan import plan_deliveries
from erechnung.delivery.routing import route
from erechnung.intake import import_recipients_csv
from erechnung.model.recipients import Consent, OptOut
from erechnung.state import session_factory, transaction
from erechnung.state import repository as repo
from erechnung.state.delivery_schema import Delivery, DeliveryEvent

from .fakes import FakeConnector
from .world import DEPARTMENT, add_documents, config

UUID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
HEADER = ("Kundennummer;Art;Name;Straße;PLZ;Ort;BundID-Postfach;ELSTER-Konto;Einwilligungen;Einwilligungsdatum;"
          "Einwilligungsquelle;Widerspruch;Widerspruchsdatum;Widerspruchsquelle\r\n")


def register(*rows: str):
    """The register of a CSV with ``rows`` (after HEADER), imported as a department's clerk hands it in."""
    imported = import_recipients_csv((HEADER + "".join(r + "\r\n" for r in rows)).encode(), "empfaenger.csv")
    assert imported.errors == ()
    return imported.register


def at(day: date) -> datetime:
    """A planning time on ``day`` (09:00 UTC: the same day in Berlin)."""
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=timezone.utc)


def first_route(engine, who, posting_day: date, **cfg) -> tuple[str, str | None, str]:
    """Plan one notice to ``who`` on ``posting_day`` with the real planner: (first channel, its legal basis,
    the first event's reason, which explains the route)."""
    [doc] = add_documents(engine, 1, kind="notice", who=who, prefix="BS-2026-")
    conns = {n: FakeConnector(n) for n in ("bundid", "elster", "print")}
    plan_deliveries(session_factory(engine), config(**cfg), now=at(posting_day), connectors=conns)
    with transaction(engine) as s:
        d = s.execute(select(Delivery).where(Delivery.document_id == doc)).scalar_one()
        reason = s.execute(select(DeliveryEvent.reason).where(DeliveryEvent.delivery_id == d.id)
                           .order_by(DeliveryEvent.seq)).scalars().first()
        return d.channel, d.legal_basis, reason


# ------------------------------------------------------------------------------------------ § 9 OZG (BundID)

def test_section_9_ozg_presumes_consent_a_bundid_postbox_without_any_consent_gets_the_notice(engine):
    """§ 9 Abs. 1 S. 2 OZG: the consent is deemed given unless the user opted out; no Einwilligungen needed."""
    who = register(f"K-1;Bürger;Anna Muster;Hauptstr. 1;12345;Musterstadt;{UUID};;;;;;;").get("K-1")
    assert who.consents == frozenset() and who.opt_outs == frozenset()
    channel, basis, reason = first_route(engine, who, date(2026, 12, 7))
    assert (channel, basis) == ("bundid", "ozg_9")
    assert reason == "Weg: bundid -> print"


def test_section_9_ozg_an_objection_sends_the_notice_by_post_and_the_route_names_the_paragraph(engine):
    who = register(f"K-1;Bürger;Anna Muster;Hauptstr. 1;12345;Musterstadt;{UUID};;;;;bundid;15.10.2026;"
                   "Onlinedienst Hundesteuer").get("K-1")
    assert who.opt_outs == {OptOut.BUNDID} and who.opt_out_source == "Onlinedienst Hundesteuer"
    channel, basis, reason = first_route(engine, who, date(2026, 12, 7))
    assert (channel, basis) == ("print", "vwvfg_41_2")
    assert reason.startswith("Weg: print; ausgelassen: bundid (§ 9 Abs. 1 S. 2 OZG: Einwilligung vermutet, aber")
    assert "widersprochen (15.10.2026)" in reason


def test_an_objection_dated_after_the_posting_day_does_not_count_for_that_notice(engine):
    who = register(f"K-1;Bürger;Anna Muster;Hauptstr. 1;12345;Musterstadt;{UUID};;;;;alle;2027-02-01;Brief"
                   ).get("K-1")
    assert first_route(engine, who, date(2027, 1, 29))[0] == "bundid"
    assert first_route(engine, who, date(2027, 2, 1))[0] == "print"  # on the day itself: the safe side


def test_bayern_asks_for_consent_to_the_postbox_art_24_baydig_instead_of_section_9_ozg(engine):
    who = register(f"K-1;Bürger;Anna Muster;Hauptstr. 1;12345;Musterstadt;{UUID};;;;;;;").get("K-1")
    channel, _, reason = first_route(engine, who, date(2026, 12, 7), land="BY")
    assert channel == "print" and "bundid (Art. 24 BayDiG setzt die Einwilligung des Empfängers voraus" in reason


# ------------------------------------------------------------------------------------------ § 122a AO (ELSTER)

COMPANY = "K-2;Unternehmen;Muster GmbH;Gewerbering 1;12345;Musterstadt;;2718281828;"


def test_section_122a_ao_needs_consent_until_2026_12_31_and_presumes_it_from_2027_01_01(engine):
    """BEG IV made § 122a AO an opt-out model, deferred to 2027-01-01 (BGBl. 2025 I Nr. 353); the posting
    day decides, not the day of planning's clock."""
    who = register(COMPANY + ";;;;;").get("K-2")
    channel, _, reason = first_route(engine, who, date(2026, 12, 31), notice_group="levy")
    assert channel == "print"
    assert "elster (§ 122a AO i. d. F. BEG IV, Abs. 1 S. 2 aufgeschoben setzt die Einwilligung" in reason
    assert first_route(engine, who, date(2027, 1, 4), notice_group="levy")[:2] == ("elster", "ao_122a")


def test_section_122a_ao_from_2027_an_application_for_post_keeps_the_notice_on_paper(engine):
    who = register(COMPANY + ";;;elster;20.01.2027;Antrag vom 18.01.2027").get("K-2")
    channel, basis, reason = first_route(engine, who, date(2027, 2, 1), notice_group="levy")
    assert (channel, basis) == ("print", "ao_122_2")
    assert "elster (§ 122a Abs. 1 S. 2, Abs. 2 AO: Einwilligung vermutet" in reason


def test_a_consent_recorded_after_the_posting_day_does_not_count(engine):
    who = register(COMPANY + "abruf;10.12.2026;Formular Steueramt;;;").get("K-2")
    assert who.consent_date == date(2026, 12, 10) and who.consents == {Consent.NOTICE_RETRIEVAL}
    channel, _, reason = first_route(engine, who, date(2026, 12, 1), notice_group="levy")
    assert channel == "print" and "sie ist vom 10.12.2026, nach dem Versandtag 01.12.2026" in reason
    assert first_route(engine, who, date(2026, 12, 10), notice_group="levy")[0] == "elster"


def test_an_explicit_consent_withdrawn_by_an_objection_no_longer_counts_and_a_newer_consent_does(engine):
    withdrawn = register(COMPANY + "abruf;01.03.2026;Formular;alle;01.06.2026;Schreiben").get("K-2")
    channel, _, reason = first_route(engine, withdrawn, date(2026, 7, 1), notice_group="levy")
    assert channel == "print" and "widersprochen (01.06.2026)" in reason
    assert first_route(engine, withdrawn, date(2026, 5, 1), notice_group="levy")[0] == "elster"
    renewed = register(COMPANY + "abruf;01.09.2026;Formular;alle;01.06.2026;Schreiben").get("K-2")
    assert first_route(engine, renewed, date(2026, 10, 1), notice_group="levy")[0] == "elster"


def test_an_undated_consent_of_an_older_register_still_counts():
    """A register from before issue 17 has Einwilligungen without a day: they stood there before planning."""
    who = register(COMPANY + "abruf;;;;;").get("K-2")
    planned = route(who, "notice", notice_group="levy", posting_day=date(2026, 6, 1))
    assert planned.channels == ("elster", "print")


def test_invoices_are_not_touched_by_objections_to_electronic_notices():
    who = register(f"K-1;Bürger;Anna Muster;Hauptstr. 1;12345;Musterstadt;{UUID};;;;;alle;01.01.2026;Brief"
                   ).get("K-1")
    assert route(who, "invoice").channels == ("bundid", "print")
    assert route(who, "notice", posting_day=date(2026, 6, 1)).channels == ("print",)


def test_consents_and_objections_are_kept_in_the_state_register_with_day_and_source(engine):
    who = register(COMPANY + "abruf;01.03.2026;Formular;bundid elster;01.06.2026;Schreiben").get("K-2")
    with transaction(engine) as s:
        repo.save_recipients(s, DEPARTMENT, [who])
    with transaction(engine) as s:
        stored = repo.load_register(s, DEPARTMENT).get("K-2")
    assert stored == who and stored.opt_outs == {OptOut.BUNDID, OptOut.ELSTER}
    assert (stored.consent_date, stored.consent_source) == (date(2026, 3, 1), "Formular")


# ------------------------------------------------------------------------------------------ register errors

def test_bad_consent_and_objection_values_are_row_errors_with_column_value_and_fix():
    rows = [COMPANY + "abruf;31.02.2026;;;;",  # no 31 February
            COMPANY.replace("K-2", "K-3") + "abruf;45000;;;;",  # an Excel day number
            COMPANY.replace("K-2", "K-4") + ";;;elster;2026/13/01;",  # no date
            COMPANY.replace("K-2", "K-5") + ";01.03.2026;Formular;;;",  # a day without a consent
            COMPANY.replace("K-2", "K-6") + ";;;immer;;",  # not a kind of objection
            COMPANY.replace("K-2", "K-7") + ";;;;;Brief"]  # a source without an objection
    imported = import_recipients_csv((HEADER + "".join(r + "\r\n" for r in rows)).encode(), "empfaenger.csv")
    assert len(imported.register) == 0
    found = {(e.row, e.column): e for e in imported.errors}
    assert set(found) == {(2, "Einwilligungsdatum"), (3, "Einwilligungsdatum"), (4, "Widerspruchsdatum"),
                          (5, "Einwilligungsdatum"), (5, "Einwilligungsquelle"), (6, "Widerspruch"),
                          (7, "Widerspruchsquelle")}
    assert "31. Februar 2026 gibt es nicht" in found[(2, "Einwilligungsdatum")].problem
    assert "Excel-Tageszahl" in found[(3, "Einwilligungsdatum")].problem
    assert found[(4, "Widerspruchsdatum")].value == "2026/13/01"
    assert "TT.MM.JJJJ" in found[(4, "Widerspruchsdatum")].fix
    assert found[(5, "Einwilligungsdatum")].problem == ("Einwilligungsdatum ist angegeben, aber eine Einwilligung "
                                                        "nicht (Einwilligungen ist leer)")
    assert "'immer'" in found[(6, "Widerspruch")].problem and "bundid" in found[(6, "Widerspruch")].fix
    assert all(e.batch == "empfaenger.csv" and e.fix for e in imported.errors)


# ------------------------------------------------------------------------------------------ consent.toml

def test_the_shipped_rules_switch_section_122a_ao_to_the_opt_out_model_on_2027_01_01():
    rules = ConsentRules.load()
    assert rules.in_force("ao_122a", date(2026, 12, 31))[0].model is ConsentModel.EXPLICIT
    after, rule_of = rules.in_force("ao_122a", date(2027, 1, 1))
    assert (after.model, after.since, rule_of) == (ConsentModel.PRESUMED, date(2027, 1, 1), "default")
    assert rules.in_force("ozg_9", date(2024, 7, 23))[0].model is ConsentModel.EXPLICIT
    assert rules.in_force("ozg_9", date(2024, 7, 24))[0].paragraph == "§ 9 Abs. 1 S. 2 OZG"
    for basis in ("vwvfg_41_2", "ao_122_2"):
        assert rules.in_force(basis, date(2027, 6, 1))[0].model is ConsentModel.NONE
    every = [p for periods in (*rules.bases.values(), *rules.lands.values()) for p in periods]
    assert every and all(p.source and p.paragraph and p.text for p in every)


def test_an_unknown_legal_basis_needs_explicit_consent_and_says_why():
    rules = ConsentRules.load()
    period, rule_of = rules.in_force("kag_xy_99", date(2027, 6, 1))
    assert period.model is ConsentModel.EXPLICIT and rule_of == "consent.toml [default]"
    assert rules.in_force("ao_122a", date(2016, 12, 31))[1] == "consent.toml [default]"  # before § 122a AO


BASE = '[default]\nmodel = "explicit"\nparagraph = "p"\ntext = "t"\nsource = "s"\n'


@pytest.mark.parametrize("toml, where, problem", [
    (BASE + '[[bases.x.periods]]\nfrom = 2027-01-01\nmodel = "maybe"\nparagraph = "p"\ntext = "t"\nsource = "s"\n',
     "[bases.x].periods[1]", "model 'maybe' ist unbekannt"),
    (BASE + '[[bases.x.periods]]\nfrom = "2027-01-01"\nmodel = "none"\nparagraph = "p"\ntext = "t"\nsource = "s"\n',
     "[bases.x].periods[1]", "from ist kein Datum"),
    (BASE + '[[bases.x.periods]]\nfrom = 2027-01-01\nmodel = "none"\nparagraph = "p"\ntext = "t"\n',
     "[bases.x].periods[1]", "source fehlt"),
    (BASE + '[[bases.x.land.XX.periods]]\nfrom = 2027-01-01\nmodel = "none"\nparagraph = "p"\ntext = "t"\n'
            'source = "s"\n[[bases.x.periods]]\nfrom = 2027-01-01\nmodel = "none"\nparagraph = "p"\ntext = "t"\n'
            'source = "s"\n', "[bases.x.land.XX]", "'XX' ist kein Länderkürzel"),
    ('[[bases.x.periods]]\nfrom = 2027-01-01\nmodel = "none"\nparagraph = "p"\ntext = "t"\nsource = "s"\n',
     "[default]", "fehlt"),
    (BASE + "[bases.x]\nperiods = []\n", "[bases.x]", "keine Zeiträume"),
    ('requires = "yes"\n' + BASE, "oberste Ebene", "unbekannte Schlüssel requires"),
])
def test_a_wrong_consent_toml_is_refused_with_its_place(toml, where, problem):
    with pytest.raises(ConsentRuleError) as caught:
        ConsentRules.from_text(toml, "consent.toml")
    assert caught.value.where == where and problem in caught.value.problem and caught.value.fix
