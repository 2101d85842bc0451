"""A citizen without an e-mail address still gets the invoice (issue 11): on paper, as a PDF/A letter with the
EN 16931 data embedded in the profile that allows it without the buyer's electronic address (BT-49), instead of
a quarantine. (A business without one is still held back: tests/intake/test_bt49_only_for_xrechnung.py.)"""
from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import select

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _standesamt_without_email() -> tuple[bytes, str]:
    sample = sorted((EXAMPLES / "batches" / "standesamt").iterdir())[0]
    text = sample.read_bytes().decode("windows-1252")
    assert ";j.groessmann@example.org;" in text
    return text.replace(";j.groessmann@example.org;", ";;").encode("windows-1252"), sample.name


def _stored(db_url):
    from erechnung.model.recipients import Recipient
    from erechnung.state import make_engine, transaction
    from erechnung.state.schema import Document
    from erechnung.state.schema import Recipient as Row

    engine = make_engine(db_url)
    try:
        with transaction(engine) as s:
            docs = {d.number: (d.format, d.state, d.verdict, d.sha256, d.recipient_ref)
                    for d in s.scalars(select(Document))}
            recipients = {r.ref: Recipient.model_validate(r.data) for r in s.scalars(select(Row))}
    finally:
        engine.dispose()
    return docs, recipients


def test_a_citizen_without_email_gets_a_zugferd_letter_routed_to_print(make_site, tmp_path):
    from erechnung.delivery.routing import route
    from erechnung.documents.hybrid import extract_invoice_xml
    from erechnung.syntax import read_invoice

    db_url = f"sqlite:///{tmp_path / 'state.sqlite3'}"
    site = make_site(tmp_path / "site", db_url, drop=False)
    data, name = _standesamt_without_email()
    site.drop("standesamt", name, data)
    summary = site.run()
    assert not any("BT-49" in e for r in summary.rejected for e in r.errors)
    docs, recipients = _stored(db_url)
    fmt, state, verdict, sha, ref = docs["STA-2026-0101"]
    assert (fmt, state, verdict) == ("zugferd", "handed_over", "accept")
    recipient = recipients[ref]
    assert recipient.email is None and not recipient.receives_xrechnung
    assert [h.channel for h in route(recipient, "invoice", document_format="zugferd").hops] == ["print"]
    pdf = (tmp_path / "site" / "archive" / "sha256" / sha[:2] / sha[2:4] / sha).read_bytes()  # content-addressed
    assert hashlib.sha256(pdf).hexdigest() == sha
    _, xml, profile = extract_invoice_xml(pdf)
    invoice = read_invoice(xml)
    assert profile == "EN16931" and invoice.buyer.electronic_address is None
    assert invoice.buyer.name == "Jürgen Größmann" and invoice.totals.payable_amount == 36
