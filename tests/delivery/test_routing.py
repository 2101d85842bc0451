"""Routing: the channel order per recipient and document kind, with the legal limits applied."""
from __future__ import annotations

from datetime import date

import pytest

from erechnung.config.channels import Portal
from erechnung.delivery.routing import route
from erechnung.model.recipients import Recipient

UUID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
DAY = date(2026, 11, 23)  # the planned posting day of the notices (its consent model decides)


def citizen(**kw) -> Recipient:
    data = dict(customer_number="K-1", name="Anna Muster", street="Hauptstr. 1", post_code="12345",
                city="Musterstadt")
    data.update(kw)
    return Recipient(**data)


def company(**kw) -> Recipient:
    return citizen(kind="company", name="Muster GmbH", **kw)


def public_body(**kw) -> Recipient:
    return citizen(kind="public_body", name="Landkreis Muster", **kw)


def test_citizen_invoice_default_order_bundid_email_print():
    r = citizen(email="anna@example.org", bundid_postbox=UUID, consents=frozenset({"email_invoices"}))
    assert route(r, "invoice").channels == ("bundid", "email", "print")


def test_citizen_gets_invoices_by_email_only_with_consent():
    planned = route(citizen(email="anna@example.org"), "invoice")
    assert planned.channels == ("print",)
    assert "nur mit ihrer Einwilligung (email_invoices)" in dict((s.channel, s.reason)
                                                                 for s in planned.skipped)["email"]


def test_notice_is_never_sent_as_plain_email():
    r = citizen(email="anna@example.org", channels=("email", "print"),
                consents=frozenset({"email_invoices", "notice_retrieval"}))
    planned = route(r, "notice", posting_day=DAY)
    assert "email" not in planned.channels and planned.channels == ("print",)
    assert "ein Bescheid wird nie als einfacher E-Mail-Anhang versandt" in planned.explain()


def test_notice_in_a_postbox_keeps_the_email_as_notification_only():
    r = citizen(email="anna@example.org", bundid_postbox=UUID, consents=frozenset({"notice_retrieval"}))
    planned = route(r, "notice", posting_day=DAY)
    assert planned.channels == ("bundid", "print")
    assert planned.hops[0].notify_email == "anna@example.org" and planned.hops[0].legal_basis == "ozg_9"
    assert planned.hops[1].legal_basis == "vwvfg_41_2" and planned.hops[1].notify_email is None


def test_a_notice_is_not_routed_without_its_posting_day():
    """The consent model in force on the posting day decides (tests/delivery/test_consent.py); routing never
    falls back to today's."""
    with pytest.raises(ValueError, match="posting_day"):
        route(citizen(bundid_postbox=UUID), "notice")


def test_levy_notices_follow_the_ao():
    r = citizen(bundid_postbox=UUID, consents=frozenset({"notice_retrieval"}))
    planned = route(r, "notice", posting_day=DAY, notice_group="levy")
    assert [h.legal_basis for h in planned.hops] == ["ao_122a", "ao_122_2"]


def test_company_notice_elster_then_print_invoice_peppol_email_print():
    """A business: Peppol if registered, else e-mail (issue 13); its notices in ELSTER."""
    r = company(email="rechnung@muster.de", elster_account="EL-123", peppol_id="9930:DE123456789",
                consents=frozenset({"notice_retrieval"}))
    assert route(r, "notice", posting_day=DAY).channels == ("elster", "print")
    assert route(r, "invoice").channels == ("peppol", "email", "print")
    assert route(r, "credit_note").channels == ("peppol", "email", "print")
    own_order = company(email="rechnung@muster.de", peppol_id="9930:DE123456789", channels=("email", "print"))
    assert route(own_order, "invoice").channels == ("email", "peppol", "print")
    preferring = company(elster_account="EL-123", channels=("elster", "print"))
    assert route(preferring, "invoice").channels == ("print",)
    assert "das elster-Postfach nimmt Bescheide an, keine Rechnungen" in route(preferring, "invoice").explain()


def test_public_body_invoice_peppol_email_with_leitweg_id_print():
    r = public_body(email="eingang@kreis.de", leitweg_id="991-33333TEST-33")
    planned = route(r, "invoice")
    assert planned.channels == ("peppol", "email", "print")
    assert planned.hops[0].address == "0204:991-33333TEST-33"
    assert route(r, "notice", posting_day=DAY).channels == ("print",)
    without = route(public_body(email="eingang@kreis.de"), "invoice")
    assert without.channels == ("print",) and "Leitweg-ID" in without.explain()


def test_preferences_come_first_and_print_is_always_last():
    r = citizen(email="anna@example.org", bundid_postbox=UUID, channels=("print", "email", "bundid"),
                consents=frozenset({"email_invoices"}))
    assert route(r, "invoice").channels == ("email", "bundid", "print")


def test_channel_size_limits_and_available_connectors():
    r = citizen(email="anna@example.org", bundid_postbox=UUID, consents=frozenset({"email_invoices"}))
    planned = route(r, "invoice", size=2_000_000, limits={"bundid": 1_000_000, "email": 10_000_000})
    assert planned.channels == ("email", "print")
    assert "das Dokument hat 2 MB; bundid nimmt höchstens 1 MB" in planned.explain()
    only = route(r, "invoice", available={"email", "print"})
    assert only.channels == ("email", "print") and "für bundid ist kein Connector konfiguriert" in only.explain()


def test_print_goes_to_the_postal_address_block():
    planned = route(citizen(salutation="Frau", supplement="c/o Beispiel"), "invoice")
    assert planned.hops[-1].address == "Frau\nAnna Muster\nc/o Beispiel\nHauptstr. 1\n12345 Musterstadt"
    assert planned.hops[-1].address_ref == "print:K-1"


def test_a_channel_that_cannot_take_the_format_is_left_out_with_the_reason():
    """An XRechnung (XML) to a public body without Peppol cannot become a letter: no channel, and finance reads
    why, instead of a print delivery that can only fail."""
    takes = {"print": frozenset({"pdfa", "zugferd"}), "email": frozenset({"xrechnung", "zugferd", "pdfa"})}
    planned = route(public_body(leitweg_id="05999-KREIS01-90"), "invoice", available={"email", "print"},
                    formats=takes, document_format="xrechnung")
    assert planned.channels == ()
    reasons = dict((s.channel, s.reason) for s in planned.skipped)
    assert "xrechnung" in reasons["print"] and "peppol" in reasons
    letter = route(public_body(leitweg_id="05999-KREIS01-90"), "invoice", available={"print"}, formats=takes,
                   document_format="zugferd")
    assert letter.channels == ("print",)


def test_a_german_company_is_looked_up_in_peppol_by_its_vat_id():
    """9930 is the scheme of the German USt-IdNr.; the Peppol adapter finds out whether it is registered."""
    planned = route(company(email="rechnung@muster.de", vat_id="DE 123456789"), "invoice")
    assert planned.channels == ("peppol", "email", "print")
    assert planned.hops[0].address == "9930:DE123456789"
    foreign = route(company(email="invoice@muster.at", vat_id="ATU12345678"), "invoice")
    assert foreign.channels == ("email", "print")


def test_a_company_without_elster_gets_its_notice_in_its_bundid_organisation_postbox():
    r = company(bundid_postbox=UUID, consents=frozenset({"notice_retrieval"}))
    assert route(r, "notice", posting_day=DAY).channels == ("bundid", "print")
    with_elster = company(bundid_postbox=UUID, elster_account="1234567890", consents=frozenset({"notice_retrieval"}))
    assert route(with_elster, "notice", posting_day=DAY).channels == ("elster", "bundid", "print")


PORTALS = [Portal(name="ZRE", email="xrechnung@zre.example", leitweg_prefixes=["991-"]),
           Portal(name="Landesportal", email="eingang@portal.land.example", recipients=["K-7"], max_bytes=1_000_000)]


def test_public_body_without_peppol_receives_through_its_portal_before_its_own_email():
    """Public body: Peppol if its SMP serves the document type, else its portal, else e-mail (issue 13)."""
    r = public_body(email="eingang@kreis.de", leitweg_id="991-33333TEST-33", channels=("email", "print"))
    planned = route(r, "invoice", portals=PORTALS)
    assert planned.channels == ("email", "peppol", "email", "print")  # its own preference first, portal after peppol
    default = route(public_body(email="eingang@kreis.de", leitweg_id="991-33333TEST-33"), "invoice", portals=PORTALS)
    assert default.channels == ("peppol", "email", "email", "print")
    portal = default.hops[1]
    assert (portal.address_ref, portal.address) == ("portal:ZRE", "xrechnung@zre.example")
    assert default.hops[2].address == "eingang@kreis.de"
    assert default.explain().startswith("peppol -> Portal ZRE (email) -> email -> print")


def test_a_portal_serves_by_customer_number_and_keeps_its_size_limit():
    r = public_body(customer_number="K-7", leitweg_id="05999-KREIS01-90")
    small = route(r, "invoice", portals=PORTALS, size=500_000)
    assert small.hops[1].address_ref == "portal:Landesportal"
    large = route(r, "invoice", portals=PORTALS, size=2_000_000)
    assert "portal:Landesportal" not in [h.address_ref for h in large.hops]
    assert "das Portal Landesportal nimmt höchstens 1 MB je E-Mail" in large.explain()


def test_no_portal_serves_the_body_and_the_planner_says_so():
    planned = route(public_body(leitweg_id="05999-KREIS01-90"), "invoice", portals=PORTALS)
    assert "portal (kein Rechnungsportal des Verzeichnisses" in planned.explain()
    unsent = route(public_body(leitweg_id="991-1-1"), "invoice", portals=PORTALS, available={"peppol", "print"})
    assert "nimmt Rechnungen per E-Mail an, und für email ist kein Connector konfiguriert" in unsent.explain()
