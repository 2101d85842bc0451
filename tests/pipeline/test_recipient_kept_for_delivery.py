"""User story: every document the pipeline hands over can be delivered, because the recipient it was made for is
kept beside it in the state database, whether the record named a customer number of the register, carried the
recipient's data itself, or was a finished XRechnung passed through as delivered."""
from __future__ import annotations

from sqlalchemy import select

from erechnung.model.recipients import Recipient, RecipientKind


def _documents_and_recipients(db_url):
    from erechnung.state import make_engine, transaction
    from erechnung.state.schema import Document
    from erechnung.state.schema import Recipient as Row

    engine = make_engine(db_url)
    try:
        with transaction(engine) as s:
            docs = [(d.id, d.department, d.number, d.recipient_ref) for d in s.scalars(select(Document))]
            rows = {(r.department, r.ref): Recipient.model_validate(r.data) for r in s.scalars(select(Row))}
    finally:
        engine.dispose()
    return docs, rows


def test_every_handed_over_document_has_its_recipient_in_the_state_database(db_url, make_site, tmp_path):
    site = make_site(tmp_path / "site", db_url)
    site.run()
    docs, recipients = _documents_and_recipients(db_url)
    assert docs
    for _, department, number, ref in docs:
        assert ref and (department, ref) in recipients, (department, number, ref)

    by_number = {n: recipients[(d, r)] for _, d, n, r in docs}
    # a Standesamt record without a customer number carried the recipient's name and address itself
    inline = by_number["STA-2026-0101"]
    assert inline.customer_number == "standesamt:STA-2026-0101" and inline.name == "Jürgen Größmann"
    # a record that named a customer number: the register's entry, with its channels and consents
    erika = by_number["STA-2026-0102"]
    assert erika.customer_number == "K-10001" and erika.bundid_postbox and erika.consents


def test_a_finished_xrechnung_goes_to_the_register_entry_its_leitweg_id_or_customer_number_names(make_site,
                                                                                               tmp_path):
    db = f"sqlite:///{tmp_path / 'state.sqlite3'}"
    site = make_site(tmp_path / "site", db)
    site.run()
    docs, recipients = _documents_and_recipients(db)
    library = {n: recipients[(d, r)] for _, d, n, r in docs if d == "stadtbibliothek"}
    assert library["BIB-2026-0031"].customer_number == "K-30001"  # BT-10 is the Landkreis' Leitweg-ID
    assert library["BIB-2026-0031"].kind is RecipientKind.PUBLIC_BODY
    assert library["BIB-2026-0032"].customer_number == "K-20002"  # BT-10 is the customer number


def test_a_finished_invoice_to_someone_not_in_the_register_is_addressed_from_its_buyer():
    from erechnung.intake.recipients import recipient_of_invoice
    from erechnung.model.recipients import RecipientRegister
    from erechnung.model.invoice import Buyer, ElectronicAddress, PostalAddress

    class Invoice:  # the two things the function reads of an invoice
        buyer_reference = "Bestellung 4711"
        buyer = Buyer(name="Kita Sonnenschein e. V.", address=PostalAddress(
            line1="Am Park 3", post_code="12345", city="Musterstadt", country_code="DE"),
            electronic_address=ElectronicAddress(value="buchhaltung@kita.example", scheme_id="EM"))

    ref, who = recipient_of_invoice(Invoice(), RecipientRegister(), "stadtbibliothek:abc:1")
    assert ref == who.customer_number == "stadtbibliothek:abc:1"
    assert who.email == "buchhaltung@kita.example" and who.kind is RecipientKind.COMPANY
    assert [c.value for c in who.channels] == ["email", "print"]
    assert (who.street, who.post_code, who.city) == ("Am Park 3", "12345", "Musterstadt")
