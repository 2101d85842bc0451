"""What the AS4 tests share: a Peppol test PKI, the two access points, an invoice, and ``rebuild`` (an attacker or a
broken sender: take a built message apart, change it, sign and encrypt it again or not)."""
from __future__ import annotations

import datetime as _dt
import gzip
from collections.abc import Callable

from lxml import etree

from mailbox_connectors.peppol import mime, wss
from mailbox_connectors.peppol.as4 import As4Identity, OutboundMessage, build_user_message
from mailbox_connectors.sandboxes.peppol_pki import PeppolTestPKI


INVOICE = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:'
           b'Invoice-2" xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">'
           b"<cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
           b"</cbc:CustomizationID><cbc:ID>RE-2026-0001</cbc:ID><cbc:Note>Gr\xc3\xbc\xc3\x9fe &amp; Dank</cbc:Note>"
           + b"<!-- padding -->" * 200 + b"</Invoice>\n")
DOCTYPE = ("busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:"
           "2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0::2.1")
PROCESS = "cenbii-procid-ubl::urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
SENDER = "9930:de123456789"
RECEIVER = "0204:991-12345-67"


def now() -> _dt.datetime:
    """The wall clock, for exchanges with the sandbox (whose certificates are issued around now)."""
    return _dt.datetime.now(_dt.timezone.utc)


def pki() -> PeppolTestPKI:
    return PeppolTestPKI("as4-tests")


def identity(p: PeppolTestPKI, seat: str) -> As4Identity:
    return As4Identity.of(p.issue_ap(seat))


def trust(p: PeppolTestPKI) -> list:
    return [p.root.cert, p.ap_ca.cert, p.smp_ca.cert]


def build(sender_ap: As4Identity, receiver_cert, *, message_id: str = "msg-1@erechnung", at=None,
          payload: bytes = INVOICE, receiver: str = RECEIVER) -> OutboundMessage:
    return build_user_message(payload=payload, message_id=message_id, conversation_id="conv-1", sender=SENDER,
                              receiver=receiver, document_type=DOCTYPE, process=PROCESS, sender_ap=sender_ap,
                              receiver_cert=receiver_cert, at=at or now())


def rebuild(message: OutboundMessage, receiver: As4Identity, *, signer: As4Identity | None = None,
            change_envelope: Callable[[etree._Element], None] | None = None,
            change_sbd: Callable[[bytes], bytes] | None = None, resign: bool = False,
            encrypt_for=None) -> OutboundMessage:
    """``message`` taken apart with the receiver's key, changed, and put together again: encrypted anew for
    ``encrypt_for`` (default the receiver) and, with ``resign``, signed anew by ``signer`` (a sender that made
    the change itself); without ``resign`` the original signature stays (a change on the way)."""
    parts = mime.parse(message.content_type, message.body)
    envelope = etree.fromstring(parts[0].data)
    attachments = {p.content_id: wss.Attachment(p.content_id, p.data, p.content_type) for p in parts[1:]}
    plain = wss.decrypt(envelope, attachments, key=receiver.key, cert=receiver.cert)
    security = wss.security_header(envelope)
    for element in list(security):
        if element.tag in (f"{{{wss.XENC}}}EncryptedKey", f"{{{wss.XENC}}}EncryptedData"):
            security.remove(element)
    (cid, att), = plain.items()
    data = att.data
    if change_sbd is not None:
        data = gzip.compress(change_sbd(gzip.decompress(data)), mtime=0)
    if change_envelope is not None:
        change_envelope(envelope)
    if resign:
        for element in list(security):
            security.remove(element)
        ids = [envelope.find(f".//{{{wss.SOAP}}}Header/*").get(f"{{{wss.WSU}}}Id"),
               envelope.find(f"{{{wss.SOAP}}}Body").get(f"{{{wss.WSU}}}Id")]
        signer = signer or receiver
        wss.sign(envelope, cert_der=signer.cert_der, key=signer.key, element_ids=ids,
                 attachments=[wss.Attachment(cid, data, att.mime_type)])
    (encrypted,) = wss.encrypt(envelope, [wss.Attachment(cid, data, att.mime_type)],
                               receiver_cert=encrypt_for or receiver.cert)
    content_type, body = mime.build([mime.Part(parts[0].content_id, parts[0].content_type,
                                               etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")),
                                     mime.Part(cid, encrypted.mime_type, encrypted.data)])
    return OutboundMessage(content_type, body, message.message_id, message.conversation_id, message.instance_id,
                           message.references, message.sent_at)
