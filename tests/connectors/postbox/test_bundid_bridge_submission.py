"""User story: a notice reaches the citizen's BundID postbox through the FIT-Connect bridge, end-to-end
encrypted, and the municipality learns from a verified event token that it arrived (or why not)."""
from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import timedelta

import pytest

from mailbox_connectors import crypto
from mailbox_connectors.base import EventState, PermanentFailure
from mailbox_connectors.bundid import BRIDGE_SERVICE, BundIdBridgeConnector
from mailbox_connectors.sandboxes.fitconnect import EVENT
from mailbox_connectors.sandboxes.pki import TestCA, rsa_key

from .conftest import fit_settings, make_delivery, pdfa, wait_for

pytestmark = pytest.mark.xdist_group("delivery_postbox_bridge")


def _delivered(events, delivery_id):
    return [e for e in events if e.delivery_id == delivery_id and e.state is EventState.DELIVERED]


def test_submission_decrypts_at_the_bridge_and_the_accept_verifies_at_the_client(bridge, fit, zbp):
    mailbox = zbp.add_mailbox()
    delivery = make_delivery(mailbox, content=pdfa("Grundsteuerbescheid"))
    receipt = bridge.send(delivery)

    fit.wait_processed(receipt.channel_message_id)
    received = fit.received(receipt.channel_message_id)
    assert received.state == "accepted", received.problems
    # the sandbox, holding the destination's private key, decrypted exactly what was sent
    assert list(received.attachment_plaintexts.values()) == [delivery.content]
    assert received.metadata["publicServiceType"]["identifier"] == BRIDGE_SERVICE
    assert received.metadata["additionalReferenceInfo"]["senderReference"] == delivery.delivery_id
    envelope = json.loads(received.data)
    assert set(envelope) == {"content", "sha512sum", "authorToken", "authorCertificate"}
    message = json.loads(envelope["content"])
    assert message["mailboxUuid"] == mailbox and message["title"] == delivery.subject
    assert message["attachments"] == [{"filename": "bescheid.pdf", "contentLength": delivery.size,
                                       "sha512sum": hashlib.sha512(delivery.content).hexdigest()}]
    # the bridge handed it into the postbox
    stored = [m for m in zbp.messages.values() if m.message["reference"] == delivery.delivery_id]
    assert len(stored) == 1 and stored[0].via == "fit-connect bridge"
    assert stored[0].files == {"bescheid.pdf": delivery.content}

    events = wait_for(bridge.collect_events, lambda ev: _delivered(ev, delivery.delivery_id))
    (event,) = _delivered(events, delivery.delivery_id)
    assert event.evidence_type == "application/jwt"
    header, claims = crypto.unverified_header(event.evidence.decode()), json.loads(
        crypto.b64url_decode(event.evidence.decode().split(".")[1]))
    assert header["alg"] == "PS512" and header["typ"] == "secevent+jwt"
    assert claims["sub"] == f"submission:{receipt.channel_message_id}"
    assert claims["txn"].startswith("case:") and claims["iss"] == fit.bridge_destination_id
    tags = claims["events"][EVENT + "accept-submission"]["authenticationTags"]
    assert tags == bridge.journal.get(delivery.delivery_id)["tags"]


def test_the_accept_token_verifies_with_the_destinations_published_key_only(bridge, fit, zbp):
    delivery = make_delivery(zbp.add_mailbox())
    bridge.send(delivery)
    (event,) = _delivered(wait_for(bridge.collect_events, lambda ev: _delivered(ev, delivery.delivery_id)),
                          delivery.delivery_id)
    dest = fit.destinations[fit.bridge_destination_id]
    key = crypto.verified_jwk(dest.signing_public, [fit.ca.cert], use="verify")
    crypto.verify_set(key, event.evidence.decode())
    other = crypto.jwk_from_key(rsa_key("test:other-signer", 4096).public_key(), kid="x" * 8, alg="PS512",
                                key_ops=["verify"])
    with pytest.raises(crypto.CryptoError):
        crypto.verify_set(other, event.evidence.decode())


def test_send_is_idempotent_per_delivery_id(bridge, fit, zbp):
    delivery = make_delivery(zbp.add_mailbox())
    before = len(fit.submissions)
    first, second = bridge.send(delivery), bridge.send(delivery)
    assert first == second and first.evidence == second.evidence
    assert len(fit.submissions) == before + 1


def test_a_forged_or_tampered_event_token_is_refused(bridge, fit, zbp):
    fit.accept_delay = 3600  # the real accept does not come during this test
    delivery = make_delivery(zbp.add_mailbox())
    receipt = bridge.send(delivery)
    record = bridge.journal.get(delivery.delivery_id)
    dest = fit.destinations[fit.bridge_destination_id]
    claims = {"iss": fit.bridge_destination_id, "iat": int(time.time()), "jti": str(uuid.uuid4()),
              "sub": f"submission:{receipt.channel_message_id}", "txn": f"case:{record['case_id']}",
              "events": {EVENT + "accept-submission": {"authenticationTags": record["tags"]}}}
    # signed by an attacker's key under the destination's kid
    forger = crypto.jwk_from_key(rsa_key("test:forger", 4096), kid=dest.signing_public["kid"], alg="PS512",
                                 key_ops=["sign"])
    fit.inject_event(record["case_id"], crypto.sign_set(forger, claims))
    # a genuine token whose claims were changed afterwards (a reject turned into an accept)
    genuine = fit.sign_as_destination(fit.bridge_destination_id, {
        **claims, "jti": str(uuid.uuid4()), "events": {EVENT + "reject-submission": {"problems": []}}})
    head, _, signature = genuine.split(".")
    tampered = ".".join([head, crypto.b64url(json.dumps(claims).encode()), signature])
    fit.inject_event(record["case_id"], tampered)
    # signed by the delivery service instead of the destination: an accept must come from the receiver
    fit.inject_event(record["case_id"], crypto.sign_set(fit.service_signing, {**claims, "iss": fit.base_url + "/"}))

    refused_before = len(bridge.client.refused_events)
    events = bridge.collect_events()
    assert not [e for e in events if e.delivery_id == delivery.delivery_id]
    assert len(bridge.client.refused_events) == refused_before + 3

    # the real accept still counts once it comes
    fit.inject_event(record["case_id"], fit.sign_as_destination(fit.bridge_destination_id, claims))
    assert _delivered(bridge.collect_events(), delivery.delivery_id)


def test_an_accept_naming_other_authentication_tags_is_a_failed_delivery(bridge, fit, zbp):
    fit.accept_delay = 3600
    delivery = make_delivery(zbp.add_mailbox())
    receipt = bridge.send(delivery)
    record = bridge.journal.get(delivery.delivery_id)
    wrong = {**record["tags"], "metadata": crypto.b64url(b"0123456789abcdef")}
    fit.inject_event(record["case_id"], fit.sign_as_destination(fit.bridge_destination_id, {
        "iss": fit.bridge_destination_id, "iat": int(time.time()), "jti": str(uuid.uuid4()),
        "sub": f"submission:{receipt.channel_message_id}", "txn": f"case:{record['case_id']}",
        "events": {EVENT + "accept-submission": {"authenticationTags": wrong}}}))
    (event,) = [e for e in bridge.collect_events() if e.delivery_id == delivery.delivery_id]
    assert event.state is EventState.FAILED and "Authentication Tags weichen ab" in event.reason


def test_a_reject_submission_event_is_a_failed_delivery_with_the_reason(bridge, fit, zbp):
    fit.reject_next("Das Postfach ist gesperrt")
    delivery = make_delivery(zbp.add_mailbox())
    receipt = bridge.send(delivery)  # sending itself worked: the rejection comes later, as event
    fit.wait_processed(receipt.channel_message_id)
    events = wait_for(bridge.collect_events, lambda ev: any(e.delivery_id == delivery.delivery_id for e in ev))
    (event,) = [e for e in events if e.delivery_id == delivery.delivery_id]
    assert event.state is EventState.FAILED
    assert "Das Postfach ist gesperrt" in event.reason and event.evidence_type == "application/jwt"


def test_the_bridge_rejects_a_message_for_an_unknown_postbox(bridge, fit, zbp):
    fit.zbp_mailboxes = set(zbp.mailboxes)
    try:
        delivery = make_delivery(str(uuid.uuid4()))
        receipt = bridge.send(delivery)
        fit.wait_processed(receipt.channel_message_id)
    finally:
        fit.zbp_mailboxes = None
    events = wait_for(bridge.collect_events, lambda ev: any(e.delivery_id == delivery.delivery_id for e in ev))
    (event,) = [e for e in events if e.delivery_id == delivery.delivery_id]
    assert event.state is EventState.FAILED and "mailboxUuid" in event.reason


def test_the_14_day_auto_reject_of_the_service_is_a_failed_delivery(bridge, fit, zbp):
    fit.accept_delay = 3600
    delivery = make_delivery(zbp.add_mailbox())
    receipt = bridge.send(delivery)
    fit.reject(receipt.channel_message_id, "Die Einreichung wurde 14 Tage nicht abgeholt")
    (event,) = [e for e in bridge.collect_events() if e.delivery_id == delivery.delivery_id]
    assert event.state is EventState.FAILED and "14 Tage" in event.reason


def test_a_delayed_accept_shows_up_when_it_comes(bridge, fit, zbp):
    fit.accept_delay = 5.0  # long enough that a loaded machine does not let it pass before the first look
    delivery = make_delivery(zbp.add_mailbox())
    receipt = bridge.send(delivery)
    assert not _delivered(bridge.collect_events(), delivery.delivery_id)
    fit.wait_processed(receipt.channel_message_id)
    assert _delivered(bridge.collect_events(), delivery.delivery_id)


def test_event_ids_are_stable_and_since_keeps_only_later_events(bridge, fit, zbp):
    delivery = make_delivery(zbp.add_mailbox())
    bridge.send(delivery)
    first = wait_for(bridge.collect_events, lambda ev: _delivered(ev, delivery.delivery_id))
    again = bridge.collect_events()
    assert [e.event_id for e in first] == [e.event_id for e in again]
    (event,) = _delivered(again, delivery.delivery_id)
    assert event in bridge.collect_events(since=event.at)
    later = event.at + timedelta(days=366)  # a year on (replace(year=+1) has no 29 February to go to)
    assert bridge.collect_events(since=later) == []


def test_a_destination_key_not_chaining_to_our_root_is_never_used(fit, author, bundid_settings, zbp):
    stranger = TestCA("someone else's root")
    connector = BundIdBridgeConnector(fit_settings(fit, trust_roots=stranger.root_pem), bundid_settings, author,
                                      bridge_destination_id=fit.bridge_destination_id)
    before = len(fit.submissions)
    with pytest.raises(PermanentFailure) as caught:
        connector.send(make_delivery(zbp.add_mailbox()))
    connector.close()
    assert "ist nicht vertrauenswürdig" in caught.value.reason and "not issued by a trusted root" in caught.value.reason
    assert len(fit.submissions) == before  # nothing was sent


def test_an_xrechnung_xml_is_refused_by_the_postbox_capabilities(bridge, zbp):
    from erechnung.model.delivery import DeliveryFormat
    from erechnung.model.documents import DocumentKind

    delivery = make_delivery(zbp.add_mailbox(), kind=DocumentKind.INVOICE, fmt=DeliveryFormat.XRECHNUNG,
                             content=b"<Invoice/>", filename="rechnung.xml", media_type="application/xml")
    with pytest.raises(PermanentFailure, match="nimmt das Format xrechnung nicht an"):
        bridge.send(delivery)

