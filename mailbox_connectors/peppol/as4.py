"""The Peppol AS4 message (Peppol AS4 profile 2.0; OASIS ebMS3 core and the AS4 profile of it): a sender builds
the UserMessage and reads the synchronous answer; a receiving access point (the sandbox) reads the UserMessage
and answers with a signed Receipt or an ebMS Error.

The UserMessage is SOAP 1.2 in MIME multipart/related (profile section 3.4), the payload the SBDH-wrapped business
document, gzip-compressed (AS4 compression feature, ``CompressionType application/gzip``), signed and encrypted as
:mod:`.wss` says::

    eb:Messaging/eb:UserMessage
      MessageInfo     Timestamp, MessageId
      PartyInfo       From/To: PartyId type="urn:fdc:peppol.eu:2017:identifiers:ap" (the APs' seat ids, the CN
                      of their certificates), Role .../initiator and .../responder
      CollaborationInfo  AgreementRef urn:fdc:peppol.eu:2017:agreements:tia:ap_provider,
                      Service type="cenbii-procid-ubl" (the process id), Action (the document type id with its
                      scheme), ConversationId
      MessageProperties  originalSender, finalRecipient (type iso6523-actorid-upis)
      PayloadInfo     PartInfo href="cid:..." MimeType application/xml, CompressionType application/gzip

The Receipt (ebMS3 core 5.2.3.3, AS4 profile 3.2: non-repudiation of receipt) is a SignalMessage whose
``eb:Receipt`` holds ``ebbp:NonRepudiationInformation``: the ``ds:Reference`` elements of the UserMessage's
signature, so the receipt proves which digests arrived; it is signed by the receiver AP (Messaging and Body).

A message id sent again is answered again (receipt or error) but not delivered twice (the receiver's duplicate
elimination): a sender may resend after a timeout without the document arriving twice.
"""
from __future__ import annotations

import datetime as _dt
import gzip
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from erechnung.model.delivery import Channel

from ..base import PermanentFailure, TemporaryFailure
from . import mime, sbdh, wss
from ._xml import XmlRefused, parse
from .errors import ERRORS, NOT_SERVICED, As4Error
from .trust import CertificateRejected, check_certificate, common_name

__all__ = ["As4Error", "As4Identity", "As4Receipt", "InboundMessage", "OutboundMessage", "build_user_message",
           "error_response", "exchange", "failure_for", "parse_response", "receipt_for", "receive_user_message",
           "NOT_SERVICED"]

EB = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/"
EBBP = "http://docs.oasis-open.org/ebxml-bp/ebbp-signals-2.0"
AP_PARTY_TYPE = "urn:fdc:peppol.eu:2017:identifiers:ap"
AGREEMENT = "urn:fdc:peppol.eu:2017:agreements:tia:ap_provider"
INITIATOR = EB + "initiator"
RESPONDER = EB + "responder"
CHANNEL = Channel.PEPPOL
SOAP_TYPE = "application/soap+xml"
MAX_RESPONSE = 2 * 1024 * 1024
_NS = {**wss.NS, "eb": EB, "ebbp": EBBP}


def _e(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{_NS[prefix]}}}{local}"


def _x(value: str) -> str:
    return escape(value, {'"': "&quot;"})


def _stamp(at: _dt.datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("at must carry a time zone")
    return at.astimezone(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class As4Identity:
    """An access point's certificate and key (the sandbox's ``ap``, the sender's from its configuration)."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey = field(repr=False)
    cert_der: bytes = field(init=False, repr=False)
    seat: str = field(init=False)  # the common name: the AP's seat id (PDE000001)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cert_der", self.cert.public_bytes(Encoding.DER))
        object.__setattr__(self, "seat", common_name(self.cert))

    @classmethod
    def of(cls, issued: object) -> As4Identity:
        """From anything with ``cert`` and ``key`` (``sandboxes.pki.Issued``)."""
        return cls(issued.cert, issued.key)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class OutboundMessage:
    """A UserMessage ready to POST: ``content_type`` and ``body`` go on the wire; the rest is for the receipt."""

    content_type: str
    body: bytes = field(repr=False)
    message_id: str
    conversation_id: str
    instance_id: str  # the SBDH InstanceIdentifier (what an MLS answer refers to)
    references: tuple[wss.SignedReference, ...] = field(repr=False)
    sent_at: _dt.datetime


@dataclass(frozen=True)
class As4Receipt:
    message_id: str  # the receipt's own id
    ref_to_message_id: str
    timestamp: _dt.datetime
    receiver_seat: str
    evidence: bytes = field(repr=False)  # the signed receipt as received (SOAP XML)


@dataclass(frozen=True)
class InboundMessage:
    message_id: str
    conversation_id: str
    timestamp: _dt.datetime
    from_seat: str
    to_seat: str
    sender: str  # originalSender, with scheme: iso6523-actorid-upis::9930:de1
    receiver: str  # finalRecipient
    document_type: str  # busdox-docid-qns::...
    process: str  # cenbii-procid-ubl::...
    envelope: sbdh.Envelope
    payload: bytes = field(repr=False)  # the business document
    sbd: bytes = field(repr=False)  # the SBDH as decompressed
    sender_cert: x509.Certificate = field(repr=False)
    references: tuple[wss.SignedReference, ...] = field(repr=False)


# ---- sending ------------------------------------------------------------------------------------------------
def build_user_message(*, payload: bytes, message_id: str, conversation_id: str, sender: str, receiver: str,
                       document_type: str, process: str, sender_ap: As4Identity, receiver_cert: x509.Certificate,
                       at: _dt.datetime, instance_id: str | None = None) -> OutboundMessage:
    """The UserMessage carrying ``payload`` (a UBL document) from participant ``sender`` to ``receiver``,
    signed by ``sender_ap`` and encrypted for ``receiver_cert`` (the AP certificate the SMP published)."""
    sbd, env = sbdh.wrap(payload, sender=sender, receiver=receiver, document_type=document_type, process=process,
                         at=at, instance_id=instance_id)
    compressed = gzip.compress(sbd, compresslevel=6, mtime=0)
    local = message_id.partition("@")[0] or "payload"
    cid = f"{uuid.uuid4()}@erechnung"
    messaging_id, body_id = wss.new_id("id"), wss.new_id("id")
    header = (
        f'<env:Envelope xmlns:env="{wss.SOAP}" xmlns:wsu="{wss.WSU}"><env:Header>'
        f'<eb:Messaging xmlns:eb="{EB}" env:mustUnderstand="true" wsu:Id="{messaging_id}"><eb:UserMessage>'
        f"<eb:MessageInfo><eb:Timestamp>{_stamp(at)}</eb:Timestamp><eb:MessageId>{_x(message_id)}</eb:MessageId>"
        "</eb:MessageInfo><eb:PartyInfo>"
        f'<eb:From><eb:PartyId type="{AP_PARTY_TYPE}">{_x(sender_ap.seat)}</eb:PartyId>'
        f"<eb:Role>{INITIATOR}</eb:Role></eb:From>"
        f'<eb:To><eb:PartyId type="{AP_PARTY_TYPE}">{_x(common_name(receiver_cert))}</eb:PartyId>'
        f"<eb:Role>{RESPONDER}</eb:Role></eb:To></eb:PartyInfo>"
        f"<eb:CollaborationInfo><eb:AgreementRef>{AGREEMENT}</eb:AgreementRef>"
        f'<eb:Service type="{_x(env.process.scheme)}">{_x(env.process.value)}</eb:Service>'
        f"<eb:Action>{_x(str(env.document_type))}</eb:Action>"
        f"<eb:ConversationId>{_x(conversation_id)}</eb:ConversationId></eb:CollaborationInfo>"
        "<eb:MessageProperties>"
        f'<eb:Property name="originalSender" type="{_x(env.sender.scheme)}">{_x(env.sender.value)}</eb:Property>'
        f'<eb:Property name="finalRecipient" type="{_x(env.receiver.scheme)}">{_x(env.receiver.value)}'
        "</eb:Property></eb:MessageProperties>"
        f'<eb:PayloadInfo><eb:PartInfo href="cid:{_x(cid)}"><eb:PartProperties>'
        '<eb:Property name="MimeType">application/xml</eb:Property>'
        '<eb:Property name="CompressionType">application/gzip</eb:Property>'
        "</eb:PartProperties></eb:PartInfo></eb:PayloadInfo>"
        "</eb:UserMessage></eb:Messaging></env:Header>"
        f'<env:Body wsu:Id="{body_id}"/></env:Envelope>')
    envelope = etree.fromstring(header.encode("utf-8"))
    attachment = wss.Attachment(cid, compressed, "application/gzip")
    references = wss.sign(envelope, cert_der=sender_ap.cert_der, key=sender_ap.key,
                          element_ids=(messaging_id, body_id), attachments=(attachment,))
    (encrypted,) = wss.encrypt(envelope, [attachment], receiver_cert=receiver_cert)
    soap = etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
    content_type, body = mime.build([
        mime.Part(f"root.{local}@erechnung", f"{SOAP_TYPE}; charset=UTF-8", soap),
        mime.Part(cid, encrypted.mime_type, encrypted.data)])
    return OutboundMessage(content_type, body, message_id, conversation_id, env.instance_id, references, at)


def split_trust(trust: Sequence[x509.Certificate]) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
    """A trust store's self-signed roots and its issuing CAs."""
    roots = [c for c in trust if c.subject == c.issuer]
    return roots, [c for c in trust if c.subject != c.issuer]


def _check_ap_cert(cert: x509.Certificate, trust: Sequence[x509.Certificate], at: _dt.datetime,
                   ap_ca_cn: str | None, what: str) -> None:
    roots, intermediates = split_trust(trust)
    check_certificate(cert, roots=roots, intermediates=intermediates, at=at, issuer_cn=ap_ca_cn, what=what)


def failure_for(code: str, description: str = "", detail: str = "", *, delivery_id: str | None = None,
                evidence: bytes = b"") -> TemporaryFailure | PermanentFailure:
    """The channel error for an ebMS error code the receiving AP answered (the table in :mod:`.errors`)."""
    known = ERRORS.get(code)
    if detail == NOT_SERVICED:
        reason = ("der empfangende Access Point bedient diesen Empfänger für diese Dokumentart nicht "
                  "(PEPPOL:NOT_SERVICED): der SMP-Eintrag ist veraltet; einen anderen Kanal nehmen oder beim Empfänger "
                  "nachfragen")
        return PermanentFailure(reason, channel=CHANNEL, delivery_id=delivery_id, code=f"{code} {detail}",
                                evidence=evidence)
    reason = known.clerk if known else f"der empfangende Access Point hat mit dem unbekannten Fehler {code} geantwortet"
    said = "; ".join(s for s in (description, detail) if s)
    if said:
        reason += f" (seine Angabe: {said[:300]})"
    if known is not None and known.temporary:
        return TemporaryFailure(reason + "; die Nachricht wird erneut gesendet", channel=CHANNEL,
                                delivery_id=delivery_id, code=code, evidence=evidence)
    return PermanentFailure(reason, channel=CHANNEL, delivery_id=delivery_id, code=code, evidence=evidence)


def _soap_part(content_type: str, body: bytes, *, max_bytes: int) -> etree._Element:
    kind = mime.media_type(content_type)
    if kind == "multipart/related":
        body = mime.parse(content_type, body)[0].data
    elif kind not in (SOAP_TYPE, "application/xml", "text/xml"):
        raise As4Error("EBMS:0007", f"the answer is {kind or 'of no media type'}, not SOAP")
    try:
        return parse(body, max_bytes=max_bytes, what="the SOAP envelope")
    except XmlRefused as exc:
        raise As4Error("EBMS:0009", str(exc)) from None


def _messaging(envelope: etree._Element) -> etree._Element:
    if envelope.tag != _e("soap:Envelope"):
        raise As4Error("EBMS:0009", "the message is no SOAP 1.2 envelope")
    found = envelope.findall("soap:Header/eb:Messaging", _NS)
    if len(found) != 1:
        raise As4Error("EBMS:0009", f"the SOAP header has {len(found)} eb:Messaging elements, not one")
    return found[0]


def _text(parent: etree._Element, path: str, what: str, code: str = "EBMS:0009") -> str:
    found = parent.findall(path, _NS)
    if len(found) != 1 or not (found[0].text or "").strip():
        raise As4Error(code, f"the message header has no single {what}")
    return found[0].text.strip()


def _time(text: str, what: str) -> _dt.datetime:
    try:
        value = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise As4Error("EBMS:0009", f"the {what} '{text[:40]}' is no date and time") from None
    return value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)


def parse_response(content_type: str, body: bytes, *, sent: OutboundMessage, receiver_cert: x509.Certificate,
                   trust_roots: Sequence[x509.Certificate], at: _dt.datetime, ap_ca_cn: str | None = None,
                   delivery_id: str | None = None) -> As4Receipt:
    """The receiving AP's synchronous answer to ``sent``: a Receipt signed by ``receiver_cert`` (which must chain
    to the AP CA under ``trust_roots``) that names the digests ``sent`` signed; an ebMS Error raises the
    channel's TemporaryFailure or PermanentFailure (:func:`failure_for`)."""
    evidence = body[:MAX_RESPONSE]
    try:
        envelope = _soap_part(content_type, body, max_bytes=MAX_RESPONSE)
        messaging = _messaging(envelope)
    except As4Error as exc:
        raise TemporaryFailure(f"die Antwort des empfangenden Access Point ist kein AS4-Signal: {exc.reason}",
                               channel=CHANNEL, delivery_id=delivery_id, code=exc.code, evidence=evidence) from None
    signals = messaging.findall("eb:SignalMessage", _NS)
    if len(signals) != 1:
        raise TemporaryFailure("der empfangende Access Point hat ohne Empfangsbestätigung oder Fehlersignal "
                               "geantwortet",
                               channel=CHANNEL, delivery_id=delivery_id, code="EBMS:0301", evidence=evidence)
    signal = signals[0]
    errors = signal.findall("eb:Error", _NS)
    if errors:
        error = errors[0]
        raise failure_for(error.get("errorCode", ""), error.findtext("eb:Description", "", _NS).strip()
                          or error.get("shortDescription", ""), error.findtext("eb:ErrorDetail", "", _NS).strip(),
                          delivery_id=delivery_id, evidence=evidence)

    def invalid(reason: str) -> PermanentFailure:
        return PermanentFailure(f"die Empfangsbestätigung des empfangenden Access Point ist ungültig: {reason}",
                                channel=CHANNEL,
                                delivery_id=delivery_id, code="EBMS:0302", evidence=evidence)

    receipt = signal.find("eb:Receipt", _NS)
    if receipt is None:
        raise TemporaryFailure("der empfangende Access Point hat weder mit Empfangsbestätigung noch mit Fehler "
                               "geantwortet",
                               channel=CHANNEL, delivery_id=delivery_id, code="EBMS:0301", evidence=evidence)
    try:
        ref_to = _text(signal, "eb:MessageInfo/eb:RefToMessageId", "RefToMessageId")
        receipt_id = _text(signal, "eb:MessageInfo/eb:MessageId", "MessageId")
        stamp = _time(_text(signal, "eb:MessageInfo/eb:Timestamp", "Timestamp"), "receipt's timestamp")
    except As4Error as exc:
        raise invalid(exc.reason) from None
    if ref_to != sent.message_id:
        raise invalid(f"sie antwortet auf die Nachricht {ref_to[:100]}, nicht auf {sent.message_id}")
    try:
        verified = wss.verify(envelope, cert=receiver_cert)
        wss.require_signed(verified, (messaging, envelope.find("soap:Body", _NS)), ())
    except As4Error as exc:
        raise invalid(exc.reason) from None
    try:
        _check_ap_cert(receiver_cert, trust_roots, at, ap_ca_cn, "das Zertifikat des empfangenden Access Point")
    except CertificateRejected as exc:
        raise invalid(str(exc)) from None
    confirmed = {(r.get("URI"), "".join((r.findtext("ds:DigestValue", "", _NS)).split()))
                 for r in receipt.iterfind("ebbp:NonRepudiationInformation/ebbp:MessagePartNRInformation/"
                                           "ds:Reference", _NS)}
    missing = [r.uri for r in sent.references if (r.uri, r.digest) not in confirmed]
    if missing:
        raise invalid(f"sie bestätigt die signierten Teile {', '.join(missing)} nicht mit den gesendeten Prüfsummen")
    return As4Receipt(receipt_id, ref_to, stamp, common_name(receiver_cert), body)


def exchange(client: httpx.Client, url: str, message: OutboundMessage, *, receiver_cert: x509.Certificate,
             trust_roots: Sequence[x509.Certificate], at: _dt.datetime, ap_ca_cn: str | None = None,
             delivery_id: str | None = None) -> As4Receipt:
    """POST ``message`` to the receiving AP's endpoint ``url`` and read the answer (:func:`parse_response`).

    No answer (timeout, connection refused or lost) and HTTP 5xx/429 without an AS4 signal are temporary; other
    HTTP errors without a signal are permanent. Sending the same message again is safe: the receiver drops
    the duplicate and answers it again."""
    try:
        response = client.post(url, content=message.body, headers={"Content-Type": message.content_type})
    except httpx.TimeoutException:
        raise TemporaryFailure("der empfangende Access Point hat nicht rechtzeitig geantwortet; die Nachricht wird "
                               "erneut gesendet (ein Duplikat verwirft der Empfänger)", channel=CHANNEL,
                               delivery_id=delivery_id, code="timeout") from None
    except httpx.TransportError as exc:
        raise TemporaryFailure(f"der empfangende Access Point ist nicht erreichbar ({type(exc).__name__}); die "
                               "Nachricht wird erneut gesendet", channel=CHANNEL, delivery_id=delivery_id,
                               code="connection") from None
    kind = mime.media_type(response.headers.get("content-type", ""))
    if kind in (SOAP_TYPE, "multipart/related") and response.content:
        return parse_response(response.headers["content-type"], response.content, sent=message,
                              receiver_cert=receiver_cert, trust_roots=trust_roots, at=at, ap_ca_cn=ap_ca_cn,
                              delivery_id=delivery_id)
    status = response.status_code
    evidence = f"HTTP {status}\r\n".encode() + response.content[:4096]
    if status >= 500 or status == 429:
        retry = response.headers.get("retry-after", "")
        raise TemporaryFailure(f"der empfangende Access Point ist nicht verfügbar (HTTP {status}); die Nachricht "
                               "wird erneut gesendet", channel=CHANNEL, delivery_id=delivery_id, code=f"HTTP {status}",
                               evidence=evidence, retry_after=float(retry) if retry.isdigit() else None)
    raise PermanentFailure(f"der empfangende Access Point hat die Nachricht mit HTTP {status} ohne AS4-Antwort "
                           "abgelehnt; die Endpunkt-URL im SMP-Eintrag prüfen", channel=CHANNEL,
                           delivery_id=delivery_id, code=f"HTTP {status}", evidence=evidence)


# ---- receiving ----------------------------------------------------------------------------------------------
def _gunzip(data: bytes, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error:
        raise As4Error("EBMS:0303", "the payload is not gzip-compressed data") from None
    if len(out) > max_bytes:
        raise As4Error("EBMS:0303", f"the payload decompresses to more than {max_bytes} bytes")
    if not inflater.eof:
        raise As4Error("EBMS:0303", "the compressed payload is cut off")
    return out


def _property(parent: etree._Element, name: str) -> etree._Element:
    found = [p for p in parent.iterfind("eb:Property", _NS) if p.get("name") == name]
    if len(found) != 1:
        raise As4Error("EBMS:0009", f"the message has {len(found)} '{name}' properties, not one")
    return found[0]


def receive_user_message(content_type: str, body: bytes, *, ap: As4Identity,
                         trust_roots: Sequence[x509.Certificate], at: _dt.datetime, max_bytes: int = 50 * 1024 * 1024,
                         ap_ca_cn: str | None = None) -> InboundMessage:
    """Read, decrypt and verify a UserMessage addressed to ``ap``; raises :class:`As4Error` (with
    ``ref_to_message_id`` once the message id is known) for anything wrong."""
    if len(body) > max_bytes:
        raise As4Error("EBMS:0004", f"the message has {len(body)} bytes, more than the {max_bytes} accepted")
    if mime.media_type(content_type) != "multipart/related":
        raise As4Error("EBMS:0007", "a Peppol AS4 message must be MIME multipart/related")
    parts = mime.parse(content_type, body)
    if mime.media_type(parts[0].content_type) != SOAP_TYPE:
        raise As4Error("EBMS:0007", "the first MIME part is not the SOAP 1.2 envelope")
    try:
        envelope = parse(parts[0].data, max_bytes=max_bytes, what="the SOAP envelope")
    except XmlRefused as exc:
        raise As4Error("EBMS:0009", str(exc)) from None
    messaging = _messaging(envelope)
    users = messaging.findall("eb:UserMessage", _NS)
    if len(users) != 1:
        raise As4Error("EBMS:0009", "the message holds no single UserMessage")
    user = users[0]
    message_id = _text(user, "eb:MessageInfo/eb:MessageId", "MessageId")
    try:
        return _receive(envelope, messaging, user, message_id, parts, ap, trust_roots, at, max_bytes, ap_ca_cn)
    except As4Error as exc:
        exc.ref_to_message_id = message_id
        raise


def _receive(envelope: etree._Element, messaging: etree._Element, user: etree._Element, message_id: str,
             parts: list[mime.Part], ap: As4Identity, trust_roots: Sequence[x509.Certificate], at: _dt.datetime,
             max_bytes: int, ap_ca_cn: str | None) -> InboundMessage:
    stamp = _time(_text(user, "eb:MessageInfo/eb:Timestamp", "Timestamp"), "message timestamp")
    party = {}
    for side, role in (("From", INITIATOR), ("To", RESPONDER)):
        ids = user.findall(f"eb:PartyInfo/eb:{side}/eb:PartyId", _NS)
        if len(ids) != 1 or ids[0].get("type") != AP_PARTY_TYPE:
            raise As4Error("EBMS:0010", f"the {side} party must be one PartyId of type {AP_PARTY_TYPE}")
        if _text(user, f"eb:PartyInfo/eb:{side}/eb:Role", f"{side} role") != role:
            raise As4Error("EBMS:0010", f"the {side} role must be {role}")
        party[side] = (ids[0].text or "").strip()
    if party["To"] != ap.seat:
        raise As4Error("EBMS:0010", f"the message is addressed to access point {party['To'][:40]}, not to {ap.seat}")
    collab = "eb:CollaborationInfo/"
    if _text(user, collab + "eb:AgreementRef", "AgreementRef") != AGREEMENT:
        raise As4Error("EBMS:0010", f"the AgreementRef must be {AGREEMENT}")
    service = user.find(collab + "eb:Service", _NS)
    process = sbdh.PeppolId(service.get("type", "") if service is not None else "",
                            _text(user, collab + "eb:Service", "Service"))
    if not process.scheme:
        raise As4Error("EBMS:0010", "the Service has no type (the process identifier scheme)")
    document_type = sbdh.PeppolId.parse(_text(user, collab + "eb:Action", "Action"), sbdh.DOCTYPE_SCHEME)
    conversation_id = _text(user, collab + "eb:ConversationId", "ConversationId")
    props = user.find("eb:MessageProperties", _NS)
    if props is None:
        raise As4Error("EBMS:0009", "the message has no MessageProperties")
    ends = {}
    for name in ("originalSender", "finalRecipient"):
        prop = _property(props, name)
        if not prop.get("type") or not (prop.text or "").strip():
            raise As4Error("EBMS:0009", f"the {name} property needs a type and a value")
        ends[name] = sbdh.PeppolId(prop.get("type"), prop.text.strip())
    part_infos = user.findall("eb:PayloadInfo/eb:PartInfo", _NS)
    if len(part_infos) != 1:
        raise As4Error("EBMS:0003", f"a Peppol message carries one payload, this one {len(part_infos)}")
    part_info = part_infos[0]
    href = part_info.get("href") or ""
    if not href.startswith("cid:"):
        raise As4Error("EBMS:0011", "the payload must be a MIME attachment (href cid:)")
    cid = href[4:]
    attachments = {p.content_id: wss.Attachment(p.content_id, p.data, p.content_type) for p in parts[1:]}
    if cid not in attachments or len(attachments) != 1:
        raise As4Error("EBMS:0007", f"the MIME parts do not match the PayloadInfo (expected the one part <{cid}>)")
    part_props = part_info.find("eb:PartProperties", _NS)
    if part_props is None:
        raise As4Error("EBMS:0009", "the PartInfo has no PartProperties")
    if (_property(part_props, "CompressionType").text or "").strip() != "application/gzip":
        raise As4Error("EBMS:0303", "the payload must be compressed with application/gzip")
    plain = wss.decrypt(envelope, attachments, key=ap.key, cert=ap.cert)
    if cid not in plain:
        raise As4Error("EBMS:0103", "the payload is not encrypted (the Peppol AS4 profile requires it)")
    verified = wss.verify(envelope, plain)
    wss.require_signed(verified, (messaging, envelope.find("soap:Body", _NS)), (cid,))
    try:
        _check_ap_cert(verified.cert, trust_roots, at, ap_ca_cn, "das Zertifikat des sendenden Access Point")
    except CertificateRejected as exc:
        raise As4Error("EBMS:0101", str(exc)) from None
    if common_name(verified.cert) != party["From"]:
        raise As4Error("EBMS:0101", f"the message claims to come from {party['From'][:40]} but is signed by "
                                    f"{common_name(verified.cert)}")
    sbd = _gunzip(plain[cid].data, max_bytes)
    try:
        payload, env = sbdh.unwrap(sbd, max_bytes=max_bytes)
    except sbdh.EnvelopeError as exc:
        raise As4Error("EBMS:0004", f"the SBDH envelope is broken: {exc}") from None
    for what, header_value, envelope_value in (
            ("originalSender", ends["originalSender"], env.sender),
            ("finalRecipient", ends["finalRecipient"], env.receiver),
            ("Service (process)", process, env.process), ("Action (document type)", document_type, env.document_type)):
        if header_value != envelope_value:
            raise As4Error("EBMS:0003", f"the {what} of the message header ({header_value}) differs from the "
                                        f"SBDH's ({envelope_value})")
    return InboundMessage(message_id, conversation_id, stamp, party["From"], party["To"], str(env.sender),
                          str(env.receiver), str(env.document_type), str(env.process), env, payload, sbd,
                          verified.cert, verified.references)


def _signal(at: _dt.datetime, ref_to: str | None, seat: str, inner: str) -> tuple[str, str, str]:
    messaging_id, body_id = wss.new_id("id"), wss.new_id("id")
    ref = f"<eb:RefToMessageId>{_x(ref_to)}</eb:RefToMessageId>" if ref_to else ""
    xml = (f'<env:Envelope xmlns:env="{wss.SOAP}" xmlns:wsu="{wss.WSU}"><env:Header>'
           f'<eb:Messaging xmlns:eb="{EB}" env:mustUnderstand="true" wsu:Id="{messaging_id}"><eb:SignalMessage>'
           f"<eb:MessageInfo><eb:Timestamp>{_stamp(at)}</eb:Timestamp>"
           f"<eb:MessageId>{uuid.uuid4()}@{_x(seat)}</eb:MessageId>{ref}</eb:MessageInfo>{inner}"
           f'</eb:SignalMessage></eb:Messaging></env:Header><env:Body wsu:Id="{body_id}"/></env:Envelope>')
    return xml, messaging_id, body_id


def receipt_for(inbound: InboundMessage, ap: As4Identity, at: _dt.datetime) -> tuple[str, bytes]:
    """The signed Receipt for ``inbound`` (non-repudiation of receipt: its signed references repeated)."""
    refs = "".join(f"<ebbp:MessagePartNRInformation>{r.xml.decode('utf-8')}</ebbp:MessagePartNRInformation>"
                   for r in inbound.references)
    inner = (f'<eb:Receipt><ebbp:NonRepudiationInformation xmlns:ebbp="{EBBP}">{refs}'
             "</ebbp:NonRepudiationInformation></eb:Receipt>")
    xml, messaging_id, body_id = _signal(at, inbound.message_id, ap.seat, inner)
    envelope = etree.fromstring(xml.encode("utf-8"))
    wss.sign(envelope, cert_der=ap.cert_der, key=ap.key, element_ids=(messaging_id, body_id))
    return f"{SOAP_TYPE}; charset=UTF-8", etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def error_response(code: str, description: str, *, at: _dt.datetime, seat: str, ref_to_message_id: str | None = None,
                   detail: str = "") -> tuple[str, bytes]:
    """An ebMS Error signal (severity failure) answering ``ref_to_message_id``."""
    known = ERRORS[code]
    ref = f' refToMessageInError="{_x(ref_to_message_id)}"' if ref_to_message_id else ""
    inner = (f'<eb:Error category="{known.category}" errorCode="{code}" origin="ebMS" severity="failure" '
             f'shortDescription="{known.short}"{ref}><eb:Description xml:lang="en">{_x(description)}'
             f"</eb:Description>{f'<eb:ErrorDetail>{_x(detail)}</eb:ErrorDetail>' if detail else ''}</eb:Error>")
    xml, _, _ = _signal(at, ref_to_message_id, seat, inner)
    return f"{SOAP_TYPE}; charset=UTF-8", ('<?xml version="1.0" encoding="UTF-8"?>\n' + xml).encode("utf-8")
