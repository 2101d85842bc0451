"""The recipient register: customer number -> who, where, which channels, which consents; imported from CSV."""
from __future__ import annotations

import pytest

from erechnung.intake import import_recipients_csv
from erechnung.model.delivery import Channel
from erechnung.model.recipients import Consent, Recipient, RecipientKind, RecipientRegister

HEADER = "Kundennummer;Art;Name;Straße;PLZ;Ort;E-Mail;BundID-Postfach;Leitweg-ID;Kanäle;Einwilligungen\r\n"


def test_register_from_csv_looks_up_by_customer_number(register):
    erika = register.get("K-10001")
    assert erika.kind is RecipientKind.CITIZEN and erika.name == "Erika Mustermann"
    assert erika.channels == (Channel.BUNDID, Channel.EMAIL, Channel.PRINT)
    assert erika.consents == {Consent.EMAIL_INVOICES, Consent.NOTICE_RETRIEVAL}
    assert erika.bundid_postbox == "90e4305e-dddf-5bff-b01c-8f7e4972dafb"
    assert erika.electronic_address == ("erika.mustermann@example.org", "EM")
    kreis = register.get("K-30001")
    assert kreis.kind is RecipientKind.PUBLIC_BODY and kreis.electronic_address == ("05999-KREIS01-90", "0204")
    assert register.get("K-99999") is None and "K-10002" in register and len(register) == 10
    druckerei = register.get("K-20003")  # a company with an ELSTER business account for its tax notices
    assert druckerei.kind is RecipientKind.COMPANY and druckerei.elster_account == "2718281828"
    assert druckerei.channels == (Channel.ELSTER, Channel.EMAIL, Channel.PRINT)
    assert Consent.NOTICE_RETRIEVAL in druckerei.consents


def test_bad_recipient_rows_are_reported_with_row_column_value_and_fix_and_the_rest_is_imported():
    data = (HEADER
            + "K-1;Bürger;Anna A;Weg 1;12345;Stadt;anna@example.org;;;email;email_invoices\r\n"
            + "K-2;Bürger;;Weg 2;1234;Stadt;;;;print;\r\n"
            + "K-3;Behörde;Amt;Weg 3;12345;Stadt;;;991-01234-39;peppol;\r\n"
            + "K-4;Bürger;Bernd B;Weg 4;12345;Stadt;;;;email;\r\n"
            + "K-5;Verein;Club;Weg 5;12345;Stadt;;not-a-uuid;;brieftaube;\r\n"
            + "K-1;Bürger;Anna Zwei;Weg 6;12345;Stadt;;;;print;\r\n").encode("utf-8")
    imported = import_recipients_csv(data, "empfaenger.csv")
    assert [r.customer_number for r in imported.register] == ["K-1"]
    found = {(e.row, e.column): (e.value, e.problem) for e in imported.errors}
    assert found[(3, "Name")] == ("", "der Name fehlt")
    assert "4 Ziffern" in found[(3, "PLZ")][1]
    assert "erwartet 38" in found[(4, "Leitweg-ID")][1]
    assert found[(5, "Kanäle")] == ("email", "der Kanal email ist gewählt, aber E-Mail fehlt")
    assert "'verein'" in found[(6, "Art")][1] and found[(6, "BundID-Postfach")][1] == "keine UUID"
    assert "'brieftaube'" in found[(6, "Kanäle")][1]
    assert found[(7, "Kundennummer")] == ("K-1", "die Kundennummer steht schon in Zeile 2")
    assert all(e.batch == "empfaenger.csv" and e.fix for e in imported.errors)


def test_unknown_column_is_one_error():
    imported = import_recipients_csv(b"Kundennummer;Lieblingsfarbe\r\nK-1;blau\r\n", "x.csv")
    (error,) = imported.errors
    assert error.column == "Lieblingsfarbe" and "Kundennummer" in error.fix and len(imported.register) == 0


def test_every_channel_needs_its_address():
    with pytest.raises(ValueError, match="channel bundid needs bundid_postbox"):
        Recipient(customer_number="1", name="A", street="W 1", post_code="12345", city="S",
                  channels=(Channel.BUNDID,))


def test_register_is_frozen_and_with_replaces_by_customer_number(register):
    erika = register.get("K-10001")
    moved = erika.model_copy(update={"city": "Neustadt"})
    newer = register.with_(moved)
    assert newer.get("K-10001").city == "Neustadt" and register.get("K-10001").city == "Musterstadt"
    with pytest.raises(ValueError, match="twice"):
        RecipientRegister((erika, erika))
    with pytest.raises(Exception):
        erika.name = "x"  # type: ignore[misc]
