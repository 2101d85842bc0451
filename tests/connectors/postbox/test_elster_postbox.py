"""User story: a notice to a company goes into its ELSTER business postbox through the authority's
ELSTER-Transfer, as PDF/A only; the acknowledgement counts as delivered, and there is no retrieval callback."""
from __future__ import annotations

from dataclasses import replace

import pytest

from erechnung.model.delivery import DeliveryFormat
from erechnung.model.documents import DocumentKind
from mailbox_connectors.base import EventState, PermanentFailure, TemporaryFailure
from mailbox_connectors.elster import ElsterConnector, ElsterSettings, pdfa_part
from mailbox_connectors.sandboxes.elster import ElsterSandbox
from mailbox_connectors.sandboxes.pki import TestCA

from .conftest import make_delivery, pdfa, plain_pdf

pytestmark = pytest.mark.xdist_group("delivery_postbox_elster")


def _settings(elster: ElsterSandbox, **overrides) -> ElsterSettings:
    return replace(ElsterSettings(base_url=elster.base_url, api_token=elster.api_token, tls_ca=elster.ca.root_path,
                                  timeout=5), **overrides)


@pytest.fixture
def connector(elster):
    conn = ElsterConnector(_settings(elster))
    yield conn
    conn.close()


def test_a_pdfa_notice_is_provided_and_the_acknowledgement_counts_as_delivered(connector, elster):
    account = elster.add_account()
    delivery = make_delivery(account, content=pdfa("Gewerbesteuerbescheid"))
    receipt = connector.send(delivery)
    order = elster.orders[receipt.channel_message_id]
    assert order.account_id == account and order.reference == delivery.delivery_id
    assert order.documents == {"bescheid.pdf": delivery.content}
    events = [e for e in connector.collect_events() if e.delivery_id == delivery.delivery_id]
    assert [e.state for e in events] == [EventState.DELIVERED]
    assert b"BEREITGESTELLT" in events[0].evidence


@pytest.mark.parametrize(("content", "fmt", "media_type"), [
    (plain_pdf(), DeliveryFormat.PDFA, "application/pdf"),  # a PDF without a PDF/A claim
    (b"Sehr geehrte Damen und Herren", DeliveryFormat.PDFA, "application/pdf"),  # no PDF at all
    (pdfa(), DeliveryFormat.PDFA, "application/octet-stream"),
])
def test_a_document_that_is_not_pdfa_is_refused_before_sending(connector, elster, content, fmt, media_type):
    sent_before = len(elster.requests)
    with pytest.raises(PermanentFailure) as caught:
        connector.send(make_delivery(elster.add_account(), content=content, fmt=fmt, media_type=media_type))
    assert "nur als PDF/A" in caught.value.reason and caught.value.code == "format"
    assert len(elster.requests) == sent_before


def test_an_xrechnung_xml_is_refused_by_the_capabilities(connector, elster):
    delivery = make_delivery(elster.add_account(), kind=DocumentKind.INVOICE, fmt=DeliveryFormat.XRECHNUNG,
                             content=b"<Invoice/>", filename="r.xml", media_type="application/xml")
    with pytest.raises(PermanentFailure, match="nimmt das Format xrechnung nicht an"):
        connector.send(delivery)


def test_the_sandbox_itself_refuses_a_document_without_pdfa_claim(elster):
    import base64
    import hashlib

    import httpx

    account = elster.add_account()
    data = plain_pdf()
    with httpx.Client(verify=elster.ca.client_context()) as http:
        answer = http.post(elster.orders_url, headers={"Authorization": f"Bearer {elster.api_token}"}, json={
            "auftragsReferenz": "x-1", "empfaenger": {"accountId": account}, "betreff": "Bescheid",
            "dokumente": [{"dateiname": "a.pdf", "mimeType": "application/pdf",
                           "inhalt": base64.b64encode(data).decode(), "sha256": hashlib.sha256(data).hexdigest()}]})
    assert answer.status_code == 422 and "not a PDF/A" in answer.json()["detail"]


def test_pdfa_part_reads_the_claim():
    assert pdfa_part(pdfa()) == "3B"
    assert pdfa_part(plain_pdf()) is None and pdfa_part(b"%PDF-broken") is None


def test_an_unknown_account_is_a_permanent_failure(connector):
    with pytest.raises(PermanentFailure) as caught:
        connector.send(make_delivery("0000000001"))
    assert caught.value.code == "HTTP 404" and "ELSTER-Kontonummer des Unternehmens" in caught.value.reason


def test_an_account_id_that_is_not_10_digits_is_refused(connector):
    with pytest.raises(PermanentFailure, match="10 Ziffern"):
        connector.send(make_delivery("DE123"))


def test_elster_transfer_unavailable_is_a_temporary_failure(connector, elster):
    elster.faults.fail(503)
    with pytest.raises(TemporaryFailure) as caught:
        connector.send(make_delivery(elster.add_account()))
    assert caught.value.code == "HTTP 503" and "nicht verfügbar" in caught.value.reason


def test_a_server_error_is_a_temporary_failure(connector, elster):
    elster.faults.fail(500)
    with pytest.raises(TemporaryFailure):
        connector.send(make_delivery(elster.add_account()))


def test_elster_transfer_not_running_is_a_temporary_failure():
    sandbox = ElsterSandbox().start()
    settings = _settings(sandbox)
    account = sandbox.add_account()
    sandbox.stop()  # the port is closed now: connection refused
    conn = ElsterConnector(settings)
    with pytest.raises(TemporaryFailure) as caught:
        conn.send(make_delivery(account))
    conn.close()
    assert caught.value.code == "connection" and "läuft der Dienst auf seinem Server" in caught.value.reason


def test_a_stalled_elster_transfer_is_a_temporary_failure(elster):
    conn = ElsterConnector(_settings(elster, timeout=0.5))
    elster.faults.stall(5)
    with pytest.raises(TemporaryFailure) as caught:
        conn.send(make_delivery(elster.add_account()))
    conn.close()
    assert caught.value.code == "timeout"


def test_a_rejection_is_a_permanent_failure(connector, elster):
    elster.faults.fail(422)
    with pytest.raises(PermanentFailure) as caught:
        connector.send(make_delivery(elster.add_account()))
    assert caught.value.code == "HTTP 422"


def test_a_wrong_api_token_is_a_permanent_failure(elster):
    conn = ElsterConnector(_settings(elster, api_token="wrong"))
    with pytest.raises(PermanentFailure, match="API-Token"):
        conn.send(make_delivery(elster.add_account()))
    conn.close()


def test_a_later_error_answer_is_a_failed_event_and_replies_are_no_status(connector, elster):
    delivery = make_delivery(elster.add_account())
    receipt = connector.send(delivery)
    elster.add_reply(receipt.channel_message_id, "Vielen Dank")
    elster.fail_provision(receipt.channel_message_id, "Konto wurde aufgelöst")
    events = [e for e in connector.collect_events() if e.delivery_id == delivery.delivery_id]
    assert [e.state for e in events] == [EventState.DELIVERED, EventState.FAILED]
    assert "Konto wurde aufgelöst" in events[1].reason
    assert EventState.RETRIEVED not in {e.state for e in events}  # ELSTER has no retrieval callback


def test_the_same_order_again_is_acknowledged_once(connector, elster):
    delivery = make_delivery(elster.add_account())
    first = connector.send(delivery)
    fresh = ElsterConnector(_settings(elster))  # a restarted worker without the journal
    second = fresh.send(delivery)
    fresh.close()
    assert first.channel_message_id == second.channel_message_id
    assert [o.reference for o in elster.orders.values()].count(delivery.delivery_id) == 1


def test_tls_is_verified_against_the_configured_ca(elster):
    stranger = TestCA("stranger")
    conn = ElsterConnector(_settings(elster, tls_ca=stranger.root_path))
    with pytest.raises(PermanentFailure) as caught:
        conn.send(make_delivery(elster.add_account()))
    conn.close()
    assert caught.value.code == "TLS"
