"""Issue 14, finance: a dead letter is retried, sent on paper or marked delivered by hand from the console; each
decision is an event in the delivery audit trail with who, when and the note, and ``audit verify`` (run from
the console) still holds. A note or a recipient name with markup stays text."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from .conftest import csrf_of

pytestmark = pytest.mark.xdist_group("console")


def _dead_letter(site, document_id: int, reason: str) -> int:
    """Make the document's last delivery fail for good (as the delivery worker does after the last channel):
    its failure event and a dead letter. Returns the failed delivery's sequence."""
    from erechnung.delivery.audit import append_event
    from erechnung.state import transaction
    from erechnung.state.deliveries.dead_letters import add_dead_letter
    from erechnung.state.delivery_schema import Delivery

    now = datetime.now(timezone.utc)
    engine = site.engine()
    with transaction(engine) as s:
        d = s.execute(select(Delivery).where(Delivery.document_id == document_id)
                      .order_by(Delivery.sequence.desc()).limit(1)).scalar_one()
        append_event(s, d, from_state=d.state, to_state="failed", at=now, source="worker", reason=reason)
        d.state, d.finished_at = "failed", now
        assert add_dead_letter(s, document_id, d.id, reason, now)
        sequence = d.sequence
    engine.dispose()
    return sequence


def _deliveries(site, document_id: int):
    from erechnung.state import transaction
    from erechnung.state.delivery_schema import DeadLetter, Delivery, DeliveryEvent

    engine = site.engine()
    with transaction(engine) as s:
        ds = [(d.sequence, d.channel, d.state) for d in s.execute(
            select(Delivery).where(Delivery.document_id == document_id).order_by(Delivery.sequence)).scalars()]
        events = [(e.to_state, e.source, e.reason, e.detail) for e in s.execute(
            select(DeliveryEvent).where(DeliveryEvent.document_id == document_id)
            .order_by(DeliveryEvent.seq)).scalars()]
        dead = s.execute(select(DeadLetter).where(DeadLetter.document_id == document_id)).scalar_one_or_none()
        resolved = (dead.resolved_at, dead.resolution) if dead else None
    engine.dispose()
    return ds, events, resolved


def _act(client, document_id: int, action: str, note: str = ""):
    page = client.get("/zustellung")
    return client.post(f"/zustellung/{document_id}/aktion",
                       data={"csrf": csrf_of(page.text), "aktion": action, "notiz": note}, follow_redirects=True)


def _audit_ok(client_for) -> str:
    auditor = client_for("pruefung")
    page = auditor.post("/pruefung", data={"csrf": csrf_of(auditor.get("/pruefung").text), "pruefung": "audit"})
    assert page.status_code == 200
    return page.text


def test_finance_retries_a_dead_letter(site, client_for):
    sequence = _dead_letter(site, 2, "Druckdienstleister meldet: Anschrift unzustellbar")
    client = client_for("kasse")
    overview = client.get("/zustellung").text
    assert "Druckdienstleister meldet: Anschrift unzustellbar" in overview and "Erneut zustellen" in overview
    r = _act(client, 2, "retry", "Anschrift beim Bürgerbüro bestätigt")
    assert r.status_code == 200 and "Dokument 2: erneut zustellen" in r.text
    ds, events, resolved = _deliveries(site, 2)
    assert ds[-1] == (sequence + 1, ds[-2][1], "queued"), ds  # the same channel once more
    assert resolved[0] is not None and "kasse" in resolved[1] and "Bürgerbüro" in resolved[1]
    finance = [e for e in events if e[1] == "finance"]
    assert finance and finance[-1][3]["by"] == "kasse" and finance[-1][3]["action"] == "retry"
    assert "Anschrift beim Bürgerbüro bestätigt" in finance[-1][3]["note"]
    # the new delivery's first event says who queued it; the failed one keeps its state, with the decision
    assert events[-2][0] == "queued" and "erneut zustellen durch kasse" in events[-2][2]
    assert events[-1][0] == "failed" and events[-1][3]["next_delivery"].endswith(f"-{sequence + 1}")
    overview = client.get("/zustellung").text
    assert "Druckdienstleister" not in overview  # no longer open, and the failed delivery is not listed either
    assert "Fehlgeschlagen oder abgelaufen, noch ohne nächsten Kanal (0)" in overview
    # an auditor reads the decision on the document page and the trail still verifies
    auditor = client_for("pruefung")
    assert "erneut zustellen durch kasse" in auditor.get("/dokumente/2").text
    assert 'id="ergebnis-audit" class="ok">In Ordnung' in _audit_ok(client_for)


def test_mark_delivered_with_a_note_is_in_the_audit_trail_and_stays_text(site, client_for):
    _dead_letter(site, 5, "kein Kanal mehr")
    client = client_for("kasse")
    note = 'Am Schalter übergeben <img src=x onerror="alert(1)"><script>alert(2)</script>'
    r = _act(client, 5, "mark_delivered", note)
    assert r.status_code == 200 and "von Hand als zugestellt vermerkt" in r.text
    ds, events, resolved = _deliveries(site, 5)
    assert ds[-1][2] == "delivered"
    last = events[-1]
    assert last[0] == "delivered" and last[1] == "finance" and last[3] == {
        "action": "mark_delivered", "by": "kasse", "note": note}
    page = client_for("pruefung").get("/dokumente/5").text
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page and "<script>" not in page
    assert "<img src=x" not in page and "&lt;img src=x" in page
    assert 'id="ergebnis-audit" class="ok">In Ordnung' in _audit_ok(client_for)


def test_a_note_is_required_to_mark_delivered_and_a_running_delivery_waits(site, client_for):
    client = client_for("kasse")
    r = _act(client, 6, "mark_delivered", "")
    assert "geben Sie eine Notiz an" in r.text
    assert _deliveries(site, 6)[0][-1][2] == "delivered"  # unchanged (it was delivered by ELSTER)


def test_send_on_paper_queues_a_letter(site, client_for):
    _dead_letter(site, 20, "Brief kam zurück")
    client = client_for("admin")
    r = _act(client, 20, "send_on_paper", "neue Anschrift im Register")
    assert "auf Papier versenden" in r.text
    ds, events, _ = _deliveries(site, 20)
    assert ds[-1][1:] == ("print", "queued")
    assert any(e[1] == "finance" and e[3]["by"] == "admin" for e in events)


def test_an_auditor_cannot_act(site, client_for):
    auditor = client_for("pruefung")
    page = auditor.get("/zustellung")
    assert "Erneut zustellen" not in page.text
    r = auditor.post("/zustellung/1/aktion", data={"csrf": csrf_of(page.text), "aktion": "retry"})
    assert r.status_code == 403


def test_a_recipient_name_with_markup_stays_text(site, client_for):
    from erechnung.state import transaction
    from erechnung.state.schema import Document, Recipient

    engine = site.engine()
    with transaction(engine) as s:
        doc = s.get(Document, 8)
        rec = s.execute(select(Recipient).where(Recipient.department == doc.department,
                                                Recipient.ref == doc.recipient_ref)).scalar_one()
        rec.name = '<script>alert("x")</script><b onmouseover=alert(1)>Evil</b>'
    engine.dispose()
    client = client_for("pruefung")
    for page in (client.get("/dokumente/8").text, client.get("/dokumente?empfaenger=Evil").text):
        assert "&lt;script&gt;alert(" in page and "<script>" not in page and "<b onmouseover" not in page


def test_a_retried_document_that_fails_again_is_a_dead_letter_again(site, client_for):
    _dead_letter(site, 22, "erster Fehlschlag")
    client = client_for("kasse")
    assert "Dokument 22: erneut zustellen" in _act(client, 22, "retry").text
    _dead_letter(site, 22, "zweiter Fehlschlag")  # the retried delivery failed as well: open again
    page = client.get("/zustellung").text
    assert "zweiter Fehlschlag" in page and "erster Fehlschlag" not in page
    assert 'id="ergebnis-audit" class="ok">In Ordnung' in _audit_ok(client_for)
