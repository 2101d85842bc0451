"""The AS4 message without the network: built by the sender, read by the receiving AP, answered with a receipt the
sender accepts; and every way a message can be wrong gives the ebMS error code the Peppol AS4 profile expects."""
from __future__ import annotations

import datetime as _dt
import gzip

import pytest
from lxml import etree

from mailbox_connectors.base import PermanentFailure, TemporaryFailure
from mailbox_connectors.peppol import as4, mime, sbdh, wss
from mailbox_connectors.peppol.as4 import As4Error
from mailbox_connectors.peppol.errors import NOT_SERVICED
from mailbox_connectors.sandboxes.peppol_pki import AP_CA, PeppolTestPKI

from .as4_support import (DOCTYPE, INVOICE, PROCESS, RECEIVER, SENDER, build, identity, now, pki, rebuild,
                          trust)

EB = as4.EB


@pytest.fixture(scope="module")
def net():
    p = pki()
    return p, identity(p, "PDE000001"), identity(p, "PDE000002")


def receive(message, receiver, p, **kw):
    return as4.receive_user_message(message.content_type, message.body, ap=receiver, trust_roots=trust(p),
                                    at=now(), ap_ca_cn=AP_CA, **kw)


def test_round_trip_gives_the_document_byte_for_byte_and_a_receipt_naming_the_signed_digests(net):
    p, sender, receiver = net
    message = build(sender, receiver.cert, message_id="rt-1@erechnung")
    inbound = receive(message, receiver, p)
    assert inbound.payload.split(b"?>", 1)[1].strip() == INVOICE.split(b"?>", 1)[1].strip()
    assert inbound.sender == f"iso6523-actorid-upis::{SENDER}"
    assert inbound.receiver == f"iso6523-actorid-upis::{RECEIVER}"
    assert (inbound.document_type, inbound.process) == (DOCTYPE, PROCESS)
    assert (inbound.from_seat, inbound.to_seat, inbound.message_id) == ("PDE000001", "PDE000002", "rt-1@erechnung")
    assert inbound.envelope.instance_id == message.instance_id
    assert {r.uri for r in inbound.references} == {r.uri for r in message.references}
    assert len(message.references) == 3  # eb:Messaging, Body, the attachment
    content_type, body = as4.receipt_for(inbound, receiver, now())
    receipt = as4.parse_response(content_type, body, sent=message, receiver_cert=receiver.cert,
                                 trust_roots=trust(p), at=now(), ap_ca_cn=AP_CA)
    assert receipt.ref_to_message_id == "rt-1@erechnung" and receipt.receiver_seat == "PDE000002"
    assert receipt.evidence == body


def test_the_wire_format_is_the_profiles(net):
    _, sender, receiver = net
    message = build(sender, receiver.cert)
    assert message.content_type.startswith("multipart/related;")
    assert 'type="application/soap+xml"' in message.content_type
    parts = mime.parse(message.content_type, message.body)
    envelope = etree.fromstring(parts[0].data)
    user = envelope.find(f".//{{{EB}}}UserMessage")
    ns = {"eb": EB}
    assert user.findtext("eb:CollaborationInfo/eb:AgreementRef", namespaces=ns) == as4.AGREEMENT
    assert user.find("eb:CollaborationInfo/eb:Service", ns).get("type") == "cenbii-procid-ubl"
    assert user.findtext("eb:CollaborationInfo/eb:Action", namespaces=ns) == DOCTYPE
    assert [p.get("type") for p in user.iterfind("eb:PartyInfo/*/eb:PartyId", ns)] == [as4.AP_PARTY_TYPE] * 2
    props = {p.get("name"): p.text for p in user.iterfind(".//eb:PartProperties/eb:Property", ns)}
    assert props == {"MimeType": "application/xml", "CompressionType": "application/gzip"}
    methods = {m.get("Algorithm") for m in envelope.iter(f"{{{wss.XENC}}}EncryptionMethod")}
    assert methods == {wss.AES128_GCM, wss.RSA_OAEP}
    assert envelope.find(f".//{{{wss.DS}}}SignatureMethod").get("Algorithm") == wss.RSA_SHA256
    # the attachment on the wire is ciphertext, not gzip
    assert parts[1].content_type == "application/octet-stream" and not parts[1].data.startswith(b"\x1f\x8b")


def test_attachment_changed_on_the_way_and_encrypted_again_is_ebms_0101(net):
    p, sender, receiver = net
    message = build(sender, receiver.cert)
    forged = rebuild(message, receiver, change_sbd=lambda sbd: sbd.replace(b"RE-2026-0001", b"RE-2026-6666"))
    with pytest.raises(As4Error) as caught:
        receive(forged, receiver, p)
    assert caught.value.code == "EBMS:0101" and "changed" in caught.value.reason
    assert caught.value.ref_to_message_id == message.message_id


def test_header_changed_on_the_way_is_ebms_0101(net):
    p, sender, receiver = net

    def redirect(envelope):
        prop = envelope.find(f".//{{{EB}}}Property[@name='finalRecipient']")
        prop.text = "0204:991-99999-99"
    with pytest.raises(As4Error) as caught:
        receive(rebuild(build(sender, receiver.cert), receiver, change_envelope=redirect), receiver, p)
    assert caught.value.code == "EBMS:0101"


def test_ciphertext_changed_on_the_way_is_a_decryption_failure(net):
    p, sender, receiver = net
    message = build(sender, receiver.cert)
    cipher = mime.parse(message.content_type, message.body)[1].data
    flipped = cipher[:100] + bytes([cipher[100] ^ 1]) + cipher[101:]
    tampered = message.body.replace(cipher, flipped)
    with pytest.raises(As4Error) as caught:
        as4.receive_user_message(message.content_type, tampered, ap=receiver, trust_roots=trust(p), at=now())
    assert caught.value.code == "EBMS:0102"


def test_message_encrypted_for_another_access_point_is_ebms_0102(net):
    p, sender, receiver = net
    other = identity(p, "PDE000077")
    message = build(sender, other.cert)
    with pytest.raises(As4Error) as caught:
        receive(message, receiver, p)
    # addressed (To PartyId) to the other AP as well: both checks refuse it; encrypted for the other cert but
    # addressed to us, the key transport refuses it
    assert caught.value.code in ("EBMS:0010", "EBMS:0102")
    readdressed = rebuild(message, other, resign=True, signer=sender, encrypt_for=other.cert, change_envelope=lambda e:
                          setattr(e.find(f".//{{{EB}}}To/{{{EB}}}PartyId"), "text", "PDE000002"))
    with pytest.raises(As4Error) as caught:
        receive(readdressed, receiver, p)
    assert caught.value.code == "EBMS:0102" and "another certificate" in caught.value.reason


def test_sender_certificate_of_a_foreign_pki_is_refused(net):
    p, _, receiver = net
    foreign = identity(PeppolTestPKI("as4-tests", foreign=True), "PDE000001")
    with pytest.raises(As4Error) as caught:
        receive(build(foreign, receiver.cert), receiver, p)
    assert caught.value.code == "EBMS:0101" and "vertrauenswürdigen Peppol-Wurzel" in caught.value.reason


def test_sender_signing_with_an_smp_certificate_is_refused(net):
    p, _, receiver = net
    smp = as4.As4Identity.of(p.issue_smp("PDE000001"))
    with pytest.raises(As4Error) as caught:
        receive(build(smp, receiver.cert), receiver, p)
    assert caught.value.code == "EBMS:0101" and AP_CA in caught.value.reason


def test_signed_by_one_ap_while_claiming_another_is_refused(net):
    p, sender, receiver = net
    impostor = identity(p, "PDE000099")
    message = rebuild(build(sender, receiver.cert), receiver, resign=True, signer=impostor)
    with pytest.raises(As4Error) as caught:
        receive(message, receiver, p)
    assert caught.value.code == "EBMS:0101" and "PDE000099" in caught.value.reason


def test_signature_wrapping_with_a_second_element_of_the_same_id_is_refused(net):
    p, sender, receiver = net

    def wrap(envelope):
        messaging = envelope.find(f".//{{{EB}}}Messaging")
        copy = etree.fromstring(etree.tostring(messaging))
        body = envelope.find(f"{{{wss.SOAP}}}Body")
        body.append(copy)
    with pytest.raises(As4Error) as caught:
        receive(rebuild(build(sender, receiver.cert), receiver, change_envelope=wrap), receiver, p)
    assert caught.value.code == "EBMS:0101" and "used by two elements" in caught.value.reason


def test_sbdh_that_disagrees_with_the_header_is_ebms_0003(net):
    p, sender, receiver = net
    message = rebuild(build(sender, receiver.cert), receiver, resign=True, signer=sender,
                      change_sbd=lambda sbd: sbd.replace(RECEIVER.encode(), b"0204:991-00000-00"))
    with pytest.raises(As4Error) as caught:
        receive(message, receiver, p)
    assert caught.value.code == "EBMS:0003" and "finalRecipient" in caught.value.reason


def test_payload_that_is_no_gzip_is_ebms_0303(net):
    p, sender, receiver = net
    message = build(sender, receiver.cert)
    parts = mime.parse(message.content_type, message.body)
    envelope = etree.fromstring(parts[0].data)
    atts = {q.content_id: wss.Attachment(q.content_id, q.data, q.content_type) for q in parts[1:]}
    (cid, plain), = wss.decrypt(envelope, atts, key=receiver.key, cert=receiver.cert).items()
    # a sender that signs and encrypts uncompressed data while announcing gzip
    raw = rebuild(message, receiver, resign=True, signer=sender, change_sbd=lambda sbd: sbd)
    assert plain.data.startswith(b"\x1f\x8b")
    parts = mime.parse(raw.content_type, raw.body)
    envelope = etree.fromstring(parts[0].data)
    security = wss.security_header(envelope)
    for element in list(security):
        security.remove(element)
    ids = [envelope.find(f".//{{{EB}}}Messaging").get(f"{{{wss.WSU}}}Id"),
           envelope.find(f"{{{wss.SOAP}}}Body").get(f"{{{wss.WSU}}}Id")]
    plain_sbd = gzip.decompress(plain.data)
    wss.sign(envelope, cert_der=sender.cert_der, key=sender.key, element_ids=ids,
             attachments=[wss.Attachment(cid, plain_sbd, "application/gzip")])
    (enc,) = wss.encrypt(envelope, [wss.Attachment(cid, plain_sbd, "application/gzip")], receiver_cert=receiver.cert)
    ct, body = mime.build([mime.Part(parts[0].content_id, parts[0].content_type, etree.tostring(envelope)),
                           mime.Part(cid, enc.mime_type, enc.data)])
    with pytest.raises(As4Error) as caught:
        as4.receive_user_message(ct, body, ap=receiver, trust_roots=trust(p), at=now())
    assert caught.value.code == "EBMS:0303"


def test_oversized_and_broken_mime_are_refused(net):
    p, sender, receiver = net
    message = build(sender, receiver.cert)
    with pytest.raises(As4Error) as caught:
        as4.receive_user_message(message.content_type, message.body, ap=receiver, trust_roots=trust(p), at=now(),
                                 max_bytes=1000)
    assert caught.value.code == "EBMS:0004"
    with pytest.raises(As4Error) as caught:
        as4.receive_user_message(message.content_type, message.body[:len(message.body) // 2], ap=receiver,
                                 trust_roots=trust(p), at=now())
    assert caught.value.code == "EBMS:0007"
    with pytest.raises(As4Error) as caught:
        as4.receive_user_message("application/soap+xml", message.body, ap=receiver, trust_roots=trust(p), at=now())
    assert caught.value.code == "EBMS:0007"


def test_doctype_in_the_soap_part_is_refused(net):
    p, sender, receiver = net
    evil = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b'<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>&e;</env:Body>'
            b"</env:Envelope>")
    ct, body = mime.build([mime.Part("root@x", "application/soap+xml", evil)])
    with pytest.raises(As4Error) as caught:
        as4.receive_user_message(ct, body, ap=receiver, trust_roots=trust(p), at=now())
    assert caught.value.code == "EBMS:0009"


# ---- the sender's side of the answer --------------------------------------------------------------------------
def test_ebms_errors_map_to_temporary_and_permanent_failures(net):
    _, sender, receiver = net
    message = build(sender, receiver.cert)
    cases = {("EBMS:0004", NOT_SERVICED): PermanentFailure, ("EBMS:0005", ""): TemporaryFailure,
             ("EBMS:0006", ""): TemporaryFailure, ("EBMS:0101", ""): PermanentFailure,
             ("EBMS:0102", ""): PermanentFailure, ("EBMS:0103", ""): PermanentFailure,
             ("EBMS:0303", ""): PermanentFailure}
    for (code, detail), kind in cases.items():
        ct, body = as4.error_response(code, "refused", at=now(), seat="PDE000002",
                                      ref_to_message_id=message.message_id, detail=detail)
        with pytest.raises(kind) as caught:
            as4.parse_response(ct, body, sent=message, receiver_cert=receiver.cert, trust_roots=[], at=now())
        assert caught.value.channel == "peppol" and caught.value.code.startswith(code)
        assert caught.value.evidence == body
        if detail:
            assert NOT_SERVICED in caught.value.code and "SMP" in caught.value.reason


def test_receipt_signed_by_another_access_point_is_invalid(net):
    p, sender, receiver = net
    message = build(sender, receiver.cert)
    inbound = receive(message, receiver, p)
    other = identity(p, "PDE000077")
    ct, body = as4.receipt_for(inbound, other, now())
    with pytest.raises(PermanentFailure) as caught:
        as4.parse_response(ct, body, sent=message, receiver_cert=receiver.cert, trust_roots=trust(p), at=now())
    assert caught.value.code == "EBMS:0302"


def test_receipt_for_other_digests_or_another_message_is_invalid(net):
    p, sender, receiver = net
    first = build(sender, receiver.cert, message_id="a@x")
    second = build(sender, receiver.cert, message_id="a@x")  # same id, other attachment key and timestamp ids
    ct, body = as4.receipt_for(receive(first, receiver, p), receiver, now())
    with pytest.raises(PermanentFailure) as caught:
        as4.parse_response(ct, body, sent=second, receiver_cert=receiver.cert, trust_roots=trust(p), at=now())
    assert caught.value.code == "EBMS:0302" and "bestätigt die signierten Teile" in caught.value.reason
    third = build(sender, receiver.cert, message_id="b@x")
    with pytest.raises(PermanentFailure) as caught:
        as4.parse_response(ct, body, sent=third, receiver_cert=receiver.cert, trust_roots=trust(p), at=now())
    assert "antwortet auf die Nachricht a@x" in caught.value.reason


def test_receipt_changed_after_signing_is_invalid(net):
    p, sender, receiver = net
    message = build(sender, receiver.cert)
    ct, body = as4.receipt_for(receive(message, receiver, p), receiver, now())
    forged = body.replace(b"<eb:Timestamp>", b"<eb:Timestamp>1", 1)
    with pytest.raises(PermanentFailure):
        as4.parse_response(ct, forged, sent=message, receiver_cert=receiver.cert, trust_roots=trust(p), at=now())


def test_receipt_from_an_expired_receiver_certificate_is_invalid(net):
    p, sender, receiver = net
    message = build(sender, receiver.cert)
    ct, body = as4.receipt_for(receive(message, receiver, p), receiver, now())
    later = now() + _dt.timedelta(days=3650)
    with pytest.raises(PermanentFailure) as caught:
        as4.parse_response(ct, body, sent=message, receiver_cert=receiver.cert, trust_roots=trust(p), at=later)
    assert "abgelaufen" in caught.value.reason


def test_an_answer_that_is_no_soap_is_temporary(net):
    _, sender, receiver = net
    message = build(sender, receiver.cert)
    with pytest.raises(TemporaryFailure):
        as4.parse_response("text/html", b"<html>proxy error</html>", sent=message, receiver_cert=receiver.cert,
                           trust_roots=[], at=now())


# ---- SBDH ---------------------------------------------------------------------------------------------------
def test_sbdh_round_trip_and_refusals():
    sbd, env = sbdh.wrap(INVOICE, sender=SENDER, receiver=RECEIVER, document_type=DOCTYPE, process=PROCESS, at=now())
    payload, read = sbdh.unwrap(sbd)
    assert read == env and env.type == "Invoice" and env.standard.endswith(":Invoice-2")
    assert etree.tostring(etree.fromstring(payload), method="c14n") == \
        etree.tostring(etree.fromstring(INVOICE), method="c14n")
    assert b"<TypeVersion>2.1</TypeVersion>" in sbd and b"<Type>COUNTRY_C1</Type>" in sbd
    with pytest.raises(sbdh.EnvelopeError, match="announces"):
        sbdh.unwrap(sbd.replace(b"<Type>Invoice</Type>", b"<Type>CreditNote</Type>"))
    with pytest.raises(sbdh.EnvelopeError, match="without a namespace"):
        sbdh.wrap(b'<x:Invoice xmlns:x="urn:x"><ID/></x:Invoice>', sender=SENDER, receiver=RECEIVER,
                  document_type=DOCTYPE, process=PROCESS, at=now())
    with pytest.raises(sbdh.EnvelopeError, match="Authority"):
        sbdh.unwrap(sbd.replace(b'Authority="iso6523-actorid-upis"', b'Authority="x"', 1))


def test_a_message_without_encryption_or_without_signature_is_refused(net):
    p, sender, receiver = net
    message = build(sender, receiver.cert)
    parts = mime.parse(message.content_type, message.body)
    envelope = etree.fromstring(parts[0].data)
    atts = {q.content_id: wss.Attachment(q.content_id, q.data, q.content_type) for q in parts[1:]}
    (cid, plain), = wss.decrypt(envelope, atts, key=receiver.key, cert=receiver.cert).items()
    security = wss.security_header(envelope)
    for element in list(security):
        if element.tag in (f"{{{wss.XENC}}}EncryptedKey", f"{{{wss.XENC}}}EncryptedData"):
            security.remove(element)
    ct, body = mime.build([mime.Part(parts[0].content_id, parts[0].content_type, etree.tostring(envelope)),
                           mime.Part(cid, "application/gzip", plain.data)])
    with pytest.raises(As4Error) as caught:
        as4.receive_user_message(ct, body, ap=receiver, trust_roots=trust(p), at=now())
    assert caught.value.code == "EBMS:0103" and "not encrypted" in caught.value.reason
    unsigned = rebuild(message, receiver, change_envelope=lambda e: wss.security_header(e).remove(
        e.find(f".//{{{wss.DS}}}Signature")))
    with pytest.raises(As4Error) as caught:
        receive(unsigned, receiver, p)
    assert caught.value.code == "EBMS:0101" and "0 signatures" in caught.value.reason
