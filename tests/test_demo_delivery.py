"""User story (make demo): the documents the pipeline handed over are delivered through the local sandboxes;
a notice meets a closed BundID postbox and falls back to a letter; the Gewerbesteuerbescheide of companies with
an ELSTER account are provided in their ELSTER business postbox, the others go by letter; `erechnung status`
shows every delivery's history; running the demo again sends nothing twice and the audit trail holds."""
from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

pytestmark = pytest.mark.xdist_group("delivery_demo")


def _status(db: str, *args: str) -> list[dict]:
    from erechnung.entrypoints.cli.delivery import run_status

    out = io.StringIO()
    assert run_status(db, as_json=True, out=out, **dict(a.split("=") for a in args)) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _mails(root) -> int:
    return sum(1 for p in (root / "sandbox/smtp/mailboxes").glob("*/*/*") if p.parent.name in ("new", "cur"))


def test_demo_delivers_through_the_sandboxes_with_one_fallback_and_nothing_twice(tmp_path, capsys):
    from erechnung.entrypoints.cli.delivery import run_audit_verify, run_status
    from erechnung.entrypoints.demo.pipeline import main

    root = tmp_path / "out" / "pipeline"
    db = f"sqlite:///{root / 'erechnung.sqlite3'}"
    out = io.StringIO()
    assert main(root, console=Console(file=out, width=160)) == 0, out.getvalue()
    text = out.getvalue()
    assert "erechnung delivery demo" in text and "Ausweichkanal" in text

    records = _status(db)
    by_doc: dict[int, list[dict]] = {}
    for r in records:
        by_doc.setdefault(r["document_id"], []).append(r)
    # every handed-over document got a delivery or a dead letter with its reason
    from erechnung.state import make_engine, transaction
    from erechnung.state.schema import Document

    engine = make_engine(db)
    with transaction(engine) as s:
        handed = {d.id for d in s.query(Document).filter(Document.state == "handed_over")}
    engine.dispose()
    out = io.StringIO()
    run_status(db, out=out)
    assert handed == set(by_doc) and not _dead_documents(db), (handed, by_doc.keys())  # issue 13: no dead letters

    # Peppol: the Landkreis's invoices reached its access point; the signed AS4 receipt is the delivery's evidence,
    # the receiver's Message Level Status (AP) follows as "retrieved"
    peppol = [r for r in records if r["channel"] == "peppol" and r["state"] != "fell_back"]
    assert len(peppol) == 2 and all(r["address_ref"] == "peppol:0204:05999-KREIS01-90" for r in peppol), peppol
    for r in peppol:
        assert [e["to"] for e in r["events"]] == ["queued", "sending", "sent", "delivered", "retrieved"], r["events"]
        assert all(e["evidence_sha256"] for e in r["events"][2:]) and r["delivered_at"], r
    assert "Peppol-Nachrichten 2" in " ".join(text.split()) and "(signierte AS4-Empfangsbestätigung)" in text
    # the Amtsgericht is in no SMP: Peppol refused at once (not registered), its invoice went to the Land's portal
    not_in_peppol = [r for r in records if r["channel"] == "peppol" and r["state"] == "fell_back"]
    assert len(not_in_peppol) == 1 and "SML NXDOMAIN" in not_in_peppol[0]["last_error"]
    portal = [r for r in by_doc[not_in_peppol[0]["document_id"]] if r["sequence"] == 2]
    assert portal[0]["channel"] == "email" and portal[0]["address_ref"].startswith("portal:"), portal
    assert portal[0]["state"] == "delivered" and "(an Rechnungsportale 1)" in " ".join(text.split())

    # the fallback: the first BundID message was rejected by the postbox, the notice went on by letter
    fell = [r for r in records if r["state"] == "fell_back" and r["channel"] == "bundid"]
    assert len(fell) == 1
    after = [r for r in by_doc[fell[0]["document_id"]] if r["sequence"] == 2]
    assert after and after[0]["channel"] == "print" and after[0]["state"] == "sent"
    assert after[0]["notification_date"], "a letter's notification date (§ 41 Abs. 2 VwVfG) is computed"
    assert [e["to"] for e in fell[0]["events"]] == ["queued", "sending", "sent", "failed", "fell_back"]
    assert any(e["evidence_type"] == "application/jwt" for e in fell[0]["events"]), "the reject token is evidence"

    # email deliveries reached the sandbox MTA once each and were confirmed by its delivery reports
    emails = [r for r in records if r["channel"] == "email"]
    assert emails and all(r["state"] == "delivered" for r in emails)
    assert _mails(root) == len(emails)
    # the citizen opened her postbox: retrieved, and the notice there is notified
    assert any(r["channel"] == "bundid" and r["state"] in ("retrieved", "deemed_notified") for r in records)

    # the Gewerbesteuerbescheide: provided through ELSTER-Transfer to the companies with an ELSTER account
    # (K-20001, K-20003), acknowledged and tracked as delivered with the acknowledgement as evidence, notified
    # by § 122a AO; the company without one (K-20002) gets a letter
    trade = [r for r in records if r["department"] == "gewerbesteuer"]
    assert len({r["document_id"] for r in trade}) == 3, trade
    provided = [r for r in trade if r["channel"] == "elster"]
    assert sorted(r["address_ref"] for r in provided) == ["elster:2718281828", "elster:3141592653"]
    for r in provided:
        assert r["kind"] == "notice" and r["state"] == "delivered" and r["legal_basis"] == "ao_122a", r
        assert [e["to"] for e in r["events"]] == ["queued", "sending", "sent", "delivered"], r["events"]
        assert r["events"][-1]["evidence_type"], "the ELSTER acknowledgement is kept as evidence"
        assert r["channel_message_id"] and r["delivered_at"] and r["notification_date"], r
    assert [r["channel"] for r in trade if r["channel"] != "elster"] == ["print"]
    elster = [r for r in records if r["channel"] == "elster"]
    assert f"ELSTER-Bereitstellungen {len(elster)}" in text, "every ELSTER delivery reached the sandbox"
    assert f"erechnung status --document {provided[0]['document_id']}" in text and "elster: delivered" in text

    # a document's full history on the command line
    out = io.StringIO()
    assert run_status(db, document=fell[0]["document_id"], out=out) == 0
    assert "sent → failed" in out.getvalue() and "failed → fell_back" in out.getvalue()

    # issue 15: the bank's statement paid four items in full and one partly; a mistyped Kassenzeichen and an unknown
    # transfer wait on the clarification list; a dunning dry run lists what stays open
    flat = " ".join(text.split())
    assert "7 Umsätze gelesen: 7 neu" in flat and "5 automatisch zugeordnet" in flat and "2 zur Klärung" in flat
    assert "bezahlt 4" in flat and "teilweise bezahlt 1" in flat and "Unbekannt GmbH" in flat
    assert "Mahnlauf (Probe zum" in flat and "würden gemahnt (Probelauf, nichts gespeichert)" in flat
    listed = (root / "kasse" / "klaerungsliste.csv").read_bytes().decode("utf-8-sig").splitlines()
    assert len(listed) == 3 and "Unbekannt GmbH" in listed[2]  # the header, the mistyped one, the unknown one
    assert "Unbekannt GmbH" in (root / "kasse" / "klaerungsliste.html").read_text(encoding="utf-8")

    # the demo again: nothing planned, nothing sent, no new events; the chain holds
    events = sum(len(r["events"]) for r in records)
    out = io.StringIO()
    assert main(root, console=Console(file=out, width=160)) == 0, out.getvalue()
    again = _status(db)
    assert [(r["delivery_id"], r["state"]) for r in again] == [(r["delivery_id"], r["state"]) for r in records]
    assert sum(len(r["events"]) for r in again) == events
    assert _mails(root) == len(emails)
    assert "versandt 0" in out.getvalue() and "ELSTER-Bereitstellungen 0" in out.getvalue()
    assert "Peppol-Nachrichten 0" in " ".join(out.getvalue().split())
    assert "7 bereits eingelesen (nicht erneut gebucht); 0 automatisch" in " ".join(out.getvalue().split())
    assert run_audit_verify(db, out=io.StringIO()) == 0

    # the commands the demo prints find the database through the configuration
    from erechnung.entrypoints.cli import main as cli

    capsys.readouterr()
    assert cli(["status", "--config", str(root / "config.toml"), "--json"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(records)
    assert cli(["audit", "verify", "--config", str(root / "config.toml")]) == 0
    assert capsys.readouterr().out.startswith("OK:")


def _dead_documents(db: str) -> set[int]:
    from sqlalchemy import select

    from erechnung.state import make_engine, transaction
    from erechnung.state.delivery_schema import DeadLetter

    engine = make_engine(db)
    try:
        with transaction(engine) as s:
            return set(s.scalars(select(DeadLetter.document_id)))
    finally:
        engine.dispose()
