"""User story: inside the administration network a notice goes straight into the citizen's BundID postbox
(ZBP REST v6): mutual TLS, a signed message, and the citizen's retrieval reported back."""
from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import replace

import httpx
import pytest

from mailbox_connectors import crypto
from mailbox_connectors.base import EventState, PermanentFailure, TemporaryFailure
from mailbox_connectors.bundid import BundIdSettings, ZbpDirectConnector, ZbpSettings

from .conftest import CONFIRMATIONS, make_delivery

pytestmark = pytest.mark.xdist_group("delivery_postbox_zbp")


@pytest.fixture(scope="module")
def zbp_settings(zbp, tmp_path_factory) -> ZbpSettings:
    folder = tmp_path_factory.mktemp("bpki")
    cert, key = zbp.issue_client("Stadt Musterstadt Stadtkasse").write(folder, "stadtkasse")
    return ZbpSettings(base_url=zbp.base_url, client_cert=cert, client_key=key, tls_ca=zbp.ca.root_path, timeout=5)


@pytest.fixture
def direct(zbp_settings, zbp):
    settings = BundIdSettings(sender="Stadt Musterstadt, Stadtkasse", service="Grundsteuer", stork_qaa_level=3,
                              retrieval_confirmation_address=CONFIRMATIONS,
                              confirmations_maildir=zbp.confirmation_maildir)
    connector = ZbpDirectConnector(zbp_settings, settings)
    yield connector
    connector.close()


def test_a_signed_message_is_put_into_the_postbox_and_counts_as_delivered(direct, zbp):
    mailbox = zbp.add_mailbox()
    delivery = make_delivery(mailbox)
    receipt = direct.send(delivery)
    stored = zbp.messages[receipt.channel_message_id]
    assert stored.via == "rest" and stored.author == "Stadt Musterstadt Stadtkasse"
    assert stored.message["mailboxUuid"] == mailbox and stored.message["reference"] == delivery.delivery_id
    assert stored.message["stork_qaa_level"] == 3 and stored.files == {"bescheid.pdf": delivery.content}
    (event,) = [e for e in direct.collect_events() if e.delivery_id == delivery.delivery_id]
    assert event.state is EventState.DELIVERED and b"PUT /v6/mailbox/messages -> 200" in event.evidence


def test_the_citizens_retrieval_becomes_a_retrieved_event(direct, zbp):
    delivery = make_delivery(zbp.add_mailbox())
    receipt = direct.send(delivery)
    assert [e.state for e in direct.collect_events() if e.delivery_id == delivery.delivery_id] == [
        EventState.DELIVERED]
    assert zbp.confirm_retrieval(receipt.channel_message_id)
    events = [e for e in direct.collect_events() if e.delivery_id == delivery.delivery_id]
    assert [e.state for e in events] == [EventState.DELIVERED, EventState.RETRIEVED]
    retrieved = events[1]
    assert retrieved.evidence_type == "message/rfc822" and b"X-ZBP-Message-Id" in retrieved.evidence
    assert retrieved.event_id == f"zbp-retrieved:{receipt.channel_message_id}"


def test_the_zbp_verifies_the_signature_and_refuses_a_wrong_one(direct, zbp):
    direct._author.sign = lambda content: crypto.sign_content(direct._author.key, content + " ")  # not this content
    with pytest.raises(PermanentFailure) as caught:
        direct.send(make_delivery(zbp.add_mailbox()))
    assert caught.value.code == "HTTP 400" and "sha512sum is not a valid RSA-SHA512 signature" in caught.value.reason


def test_the_zbp_checks_the_signature_over_exactly_the_content_string(zbp, zbp_settings):
    """Done by hand: the signature is over the string as sent, not over a re-serialised message."""
    issued = zbp.issue_client("Stadt Musterstadt Stadtkasse")
    mailbox = zbp.add_mailbox()
    message = {"mailboxUuid": mailbox, "sender": "Stadt", "title": "T", "content": "Hallo"}
    content = json.dumps(message, indent=2)  # whitespace is part of what is signed
    token = crypto.author_token(issued.key, issued.cert, now=__import__("time").time())
    ctx = zbp.ca.client_context(issued)
    with httpx.Client(verify=ctx) as http:
        def put(signature: str) -> httpx.Response:
            part = json.dumps({"content": content, "sha512sum": signature}).encode()
            return http.put(zbp.messages_url, files=[("json", (None, part, "application/json"))],
                            headers={"Authorization": f"Bearer {token}"})
        good = put(crypto.sign_content(issued.key, content))
        compact = put(crypto.sign_content(issued.key, json.dumps(message)))
        garbage = put(base64.b64encode(b"x" * 256).decode())
    assert good.status_code == 200
    assert compact.status_code == 400 and garbage.status_code == 400


def test_mtls_without_a_client_certificate_is_refused(zbp, zbp_settings):
    settings = BundIdSettings(sender="Stadt Musterstadt")
    no_cert = httpx.Client(verify=zbp.ca.client_context(), timeout=5)
    connector = ZbpDirectConnector(zbp_settings, settings, http=no_cert)
    failures = zbp.handshake_failures
    with pytest.raises(PermanentFailure) as caught:
        connector.send(make_delivery(zbp.add_mailbox()))
    connector.close()
    assert caught.value.code == "TLS" and "BPKI-Client-Zertifikat" in caught.value.reason
    # the server counts the failed handshake in its own thread, which may still be on it when the client raised
    deadline = time.monotonic() + 5
    while zbp.handshake_failures <= failures and time.monotonic() < deadline:
        time.sleep(0.02)
    assert zbp.handshake_failures > failures


def test_a_client_certificate_from_another_ca_is_refused(zbp, zbp_settings, tmp_path):
    from mailbox_connectors.sandboxes.pki import TestCA

    cert, key = TestCA("not the BPKI").issue_client("Stadt Musterstadt Stadtkasse").write(tmp_path, "foreign")
    connector = ZbpDirectConnector(replace(zbp_settings, client_cert=cert, client_key=key),
                                   BundIdSettings(sender="Stadt Musterstadt"))
    with pytest.raises(PermanentFailure) as caught:
        connector.send(make_delivery(zbp.add_mailbox()))
    connector.close()
    assert caught.value.code == "TLS"


def test_tls_is_verified_the_zbps_certificate_must_chain_to_the_configured_ca(zbp, zbp_settings):
    from mailbox_connectors.sandboxes.pki import TestCA

    stranger = TestCA("stranger")
    connector = ZbpDirectConnector(replace(zbp_settings, tls_ca=stranger.root_path),
                                   BundIdSettings(sender="Stadt Musterstadt"))
    with pytest.raises(PermanentFailure) as caught:
        connector.send(make_delivery(zbp.add_mailbox()))
    connector.close()
    assert caught.value.code == "TLS"


@pytest.mark.parametrize(("field", "value", "words"), [
    ("subject", "T" * 1025, "title der Postfachnachricht hat 1025 Zeichen; das ZBP nimmt 1-1024: den Betreff kürzen"),
    ("sender", "S" * 256, "sender der Postfachnachricht hat 256 Zeichen; das ZBP nimmt 1-255"),
    ("body", "ä" * 500_001, "der Nachrichtentext hat 1000002 Byte; das ZBP nimmt höchstens 1 MB"),
    ("address", "not-a-uuid", "mailboxUuid) ist keine UUID"),
    ("retrieval_confirmation_address", "a" * 321, "retrievalConfirmationAddress der Postfachnachricht hat 321 Zeichen"),
])
def test_field_limits_are_checked_before_anything_is_sent(direct, zbp, field, value, words):
    if field in ("sender", "retrieval_confirmation_address"):
        direct.settings = replace(direct.settings, **{field: value})
        delivery = make_delivery(zbp.add_mailbox())
    elif field == "address":
        delivery = make_delivery(value)
    else:
        delivery = make_delivery(zbp.add_mailbox(), **{field: value})
    sent_before = len(zbp.requests)
    with pytest.raises(PermanentFailure) as caught:
        direct.send(delivery)
    assert words in caught.value.reason
    assert len(zbp.requests) == sent_before


def test_an_unknown_postbox_is_a_permanent_failure(direct):
    with pytest.raises(PermanentFailure) as caught:
        direct.send(make_delivery(str(uuid.uuid4())))
    assert caught.value.code == "HTTP 404" and "Postfach" in caught.value.reason


@pytest.mark.parametrize("status", [400, 403, 413])
def test_a_rejection_is_a_permanent_failure(direct, zbp, status):
    zbp.faults.fail(status)
    with pytest.raises(PermanentFailure) as caught:
        direct.send(make_delivery(zbp.add_mailbox()))
    assert caught.value.code == f"HTTP {status}"


@pytest.mark.parametrize("status", [500, 503])
def test_a_server_error_is_a_temporary_failure(direct, zbp, status):
    zbp.faults.fail(status)
    with pytest.raises(TemporaryFailure) as caught:
        direct.send(make_delivery(zbp.add_mailbox()))
    assert caught.value.code == f"HTTP {status}"


def test_throttling_is_a_temporary_failure_with_retry_after(direct, zbp):
    zbp.faults.throttle(retry_after=30)
    with pytest.raises(TemporaryFailure) as caught:
        direct.send(make_delivery(zbp.add_mailbox()))
    assert caught.value.retry_after == 30


def test_a_stalled_zbp_is_a_temporary_failure(zbp, zbp_settings):
    connector = ZbpDirectConnector(replace(zbp_settings, timeout=0.5), BundIdSettings(sender="Stadt Musterstadt"))
    zbp.faults.stall(5)
    with pytest.raises(TemporaryFailure) as caught:
        connector.send(make_delivery(zbp.add_mailbox()))
    connector.close()
    assert caught.value.code == "timeout"


def test_a_delivery_sent_twice_is_put_once(direct, zbp):
    delivery = make_delivery(zbp.add_mailbox())
    first, second = direct.send(delivery), direct.send(delivery)
    assert first == second
    assert [m.message.get("reference") for m in zbp.messages.values()].count(delivery.delivery_id) == 1
