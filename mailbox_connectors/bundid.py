"""BundID citizen postbox ("Zentrales Bürgerpostfach", ZBP): two adapters behind the connector interface.

* :class:`BundIdBridgeConnector` (internet-facing): an ordinary FIT-Connect submission to the bridge's
  destination, service ``urn:schema-fitko-de:fit-connect:id.bund.de:message_v6``; the data is the JSON envelope
  ``{content, sha512sum, authorToken, authorCertificate}``, the document goes as announced, encrypted
  attachment. Status from verified Security Event Tokens: accept-submission -> delivered, reject -> failed.
* :class:`ZbpDirectConnector` (inside NdB / Verbindungsnetz): ``PUT {base}/v6/mailbox/messages`` as
  ``multipart/form-data`` (part ``json`` = ``{content, sha512sum}``, part ``files`` = the document) with the
  BPKI client certificate (mTLS) and ``Authorization: Bearer <author token>``; 2xx -> delivered.

Both build the same ZBP v6 message (:func:`zbp_message`): ``mailboxUuid`` = ``Delivery.address``, ``title`` =
the subject, ``content`` = the body, ``reference`` = the delivery id, the document as attachment with its hex
SHA-512 and length; the field limits of channels.md are checked before anything is sent, and a value out of
bounds is a PermanentFailure that says which field to fix. ``sha512sum`` is the base64 RSA-SHA512 signature over
exactly the content string, made with the author (BPKI) key; the author token is an RS512 JWT
``{iat, exp: iat+30 min, signer: CN, roles: ["THIRD_PARTY"]}``, reused while it has more than 5 minutes left.

A citizen's retrieval is reported by the ZBP to ``retrievalConfirmationAddress``; with
``BundIdSettings.confirmations_maildir`` (the Maildir behind that address) ``collect_events`` turns those
confirmations into ``retrieved`` events.
"""
from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import json
import logging
import mailbox
import re
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from . import crypto
from ._httpclient import HttpClient
from ._journal import Journal
from erechnung.model.delivery import Channel

from .base import (Capabilities, Delivery, EventState, MailboxConnector, PermanentFailure, Receipt, StatusEvent,
                   TemporaryFailure, since_filter)
from .registry import entry
from .fitconnect_client import (FitConnectClient, FitConnectSettings, OutgoingAttachment, OutgoingSubmission,
                                collect_submission_events, problem_detail, retry_after, tls_refused)

__all__ = ["AuthorIdentity", "BRIDGE_SERVICE", "BundIdBridgeConnector", "BundIdSettings", "ZbpDirectConnector",
           "ZbpSettings", "zbp_message"]

log = logging.getLogger(__name__)

CHANNEL = Channel.BUNDID
BRIDGE_SERVICE = "urn:schema-fitko-de:fit-connect:id.bund.de:message_v6"
CONTENT_LIMIT = 1_000_000  # bytes of the UTF-8 message content ("reported limited to 1 MB")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TOKEN_REUSE_MARGIN = 5 * 60


@dataclass(frozen=True)
class BundIdSettings:
    """What every postbox message of the municipality says about its sender."""

    sender: str  # 1-255: "Stadt Musterstadt, Kämmerei"
    service: str | None = None  # 1-255: the administrative service, e.g. "Grundsteuer"
    stork_qaa_level: int | None = None  # 1-4: the trust level the citizen's account must have
    retrieval_confirmation_address: str | None = None  # <= 320
    reply_address: str | None = None  # <= 320
    sender_url: str | None = None  # <= 255
    confirmations_maildir: Path | None = None  # the inbox behind retrieval_confirmation_address
    max_bytes: int | None = None  # largest document the adapter hands over (None: no limit of its own)


@dataclass(frozen=True)
class AuthorIdentity:
    """The municipality's BPKI certificate and key: signs ``sha512sum`` and the author token."""

    cert_pem: bytes
    key_pem: bytes = field(repr=False)

    @classmethod
    def from_files(cls, cert: Path, key: Path) -> AuthorIdentity:
        return cls(cert.read_bytes(), key.read_bytes())


class _Author:
    """The loaded identity (parsed once); author tokens are reused until 5 minutes before they expire."""

    def __init__(self, identity: AuthorIdentity) -> None:
        self.cert = x509.load_pem_x509_certificate(identity.cert_pem)
        key = serialization.load_pem_private_key(identity.key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the author key must be an RSA key (RS512, RSA-SHA512)")
        self.key = key
        self.cert_b64 = base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode("ascii")
        self._token: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def token(self, *, renew: bool = False) -> str:
        with self._lock:
            now = time.time()
            if renew or self._token is None or self._token[1] - _TOKEN_REUSE_MARGIN < now:
                self._token = (crypto.author_token(self.key, self.cert, now=now),
                               now + crypto.AUTHOR_TOKEN_LIFETIME)
            return self._token[0]

    def sign(self, content: str) -> str:
        return crypto.sign_content(self.key, content)


def _refuse(reason: str, delivery: Delivery) -> PermanentFailure:
    return PermanentFailure(reason, channel=CHANNEL, delivery_id=delivery.delivery_id, code="message")


def zbp_message(delivery: Delivery, settings: BundIdSettings) -> tuple[str, dict[str, Any]]:
    """The ZBP v6 message for ``delivery`` and its content string (exactly what ``sha512sum`` signs)."""
    if not _UUID.match(delivery.address.strip()):
        raise _refuse("die BundID-Postfachkennung des Empfängers (mailboxUuid) ist keine UUID; die Postfachadresse "
                      "des Empfängers prüfen", delivery)
    text = delivery.body or (f"Sie haben ein Dokument erhalten: {delivery.subject}. "
                             f"Es liegt dieser Nachricht als Anhang bei ({delivery.filename}).")
    message: dict[str, Any] = {"mailboxUuid": delivery.address.strip().lower(), "sender": settings.sender,
                               "title": delivery.subject, "content": text, "reference": delivery.delivery_id}
    optional = {"service": settings.service, "stork_qaa_level": settings.stork_qaa_level,
                "retrievalConfirmationAddress": settings.retrieval_confirmation_address,
                "replyAddress": settings.reply_address, "senderUrl": settings.sender_url}
    message.update({k: v for k, v in optional.items() if v is not None})
    message["attachments"] = [{"filename": delivery.filename, "sha512sum": hashlib.sha512(delivery.content).hexdigest(),
                               "contentLength": delivery.size}]
    limits = {"title": (1, 1024, "den Betreff"), "sender": (1, 255, "den Absendernamen in den BundID-Einstellungen"),
              "service": (1, 255, "den Namen der Leistung in den BundID-Einstellungen"),
              "retrievalConfirmationAddress": (1, 320,
                                               "die Adresse für Abrufbestätigungen in den BundID-Einstellungen"),
              "replyAddress": (1, 320, "die Antwortadresse in den BundID-Einstellungen"),
              "senderUrl": (1, 255, "die Absender-URL in den BundID-Einstellungen"),
              "reference": (1, 255, "die Zustellungskennung")}
    for name, (low, high, what) in limits.items():
        value = message.get(name)
        if value is not None and not low <= len(value) <= high:
            raise _refuse(f"das Feld {name} der Postfachnachricht hat {len(value)} Zeichen; das ZBP nimmt "
                          f"{low}-{high}: {what} kürzen", delivery)
    qaa = message.get("stork_qaa_level")
    if qaa is not None and qaa not in (1, 2, 3, 4):
        raise _refuse("stork_qaa_level muss 1-4 sein (BundID-Einstellungen)", delivery)
    if len(text.encode("utf-8")) > CONTENT_LIMIT:
        raise _refuse(f"der Nachrichtentext hat {len(text.encode('utf-8'))} Byte; das ZBP nimmt höchstens 1 MB: "
                      "den Text kürzen (das Dokument geht als Anhang)", delivery)
    if not delivery.filename.strip():
        raise _refuse("das Dokument hat keinen Dateinamen", delivery)
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")), message


def _capabilities(settings: BundIdSettings) -> Capabilities:
    return entry(CHANNEL).accepts.capabilities(CHANNEL, settings.max_bytes)


def _receipt(record: dict[str, Any]) -> Receipt:
    return Receipt(delivery_id=record["delivery_id"], channel=CHANNEL, channel_message_id=record["channel_message_id"],
                   accepted_at=datetime.fromisoformat(record["accepted_at"]), evidence=record["evidence"].encode(),
                   evidence_type="text/plain")


def retrieval_events(maildir: Path | None, journal: Journal, address: str | None) -> list[StatusEvent]:
    """``retrieved`` events from the ZBP's retrieval confirmations in ``maildir`` (for deliveries in ``journal``)."""
    if maildir is None or not maildir.exists():
        return []
    ours = {r["delivery_id"] for r in journal.records() if r.get("channel_message_id")}
    events = []
    box = mailbox.Maildir(str(maildir), factory=None, create=False)
    for key in box.iterkeys():
        try:
            raw = box.get_bytes(key)
        except (KeyError, OSError):
            continue
        mail = email.message_from_bytes(raw, policy=email.policy.default)
        if address and address.lower() not in str(mail.get("To", "")).lower():
            continue
        try:
            part = next(p for p in mail.walk()
                        if p.get_content_type() in ("application/json", "text/json", "text/plain"))
            body = json.loads(part.get_payload(decode=True))
            delivery_id, message_id = body["reference"], body["messageId"]
            if body.get("type") == ACKNOWLEDGEMENT:
                event = _acknowledgement_event(body, raw)
            else:
                event = StatusEvent(event_id=f"zbp-retrieved:{message_id}", delivery_id=delivery_id,
                                    channel=CHANNEL, state=EventState.RETRIEVED,
                                    at=datetime.fromisoformat(body["retrievedAt"]), evidence=raw,
                                    evidence_type="message/rfc822")
        except (StopIteration, AttributeError, KeyError, TypeError, ValueError):
            log.warning("bundid: a mail in the retrieval-confirmation inbox is not a ZBP confirmation")
            continue
        if delivery_id in ours:
            events.append(event)
    return events


#: The ``type`` of a returned Empfangsbekenntnis in the confirmations inbox (the sandbox's; see its docstring).
ACKNOWLEDGEMENT = "empfangsbekenntnis"


def _acknowledgement_event(body: dict[str, Any], raw: bytes) -> StatusEvent:
    """The returned Empfangsbekenntnis of a message served against acknowledgement (§ 5 Abs. 7 Satz 1 VwZG): an
    ``acknowledged`` event at the date the recipient put on it; the whole mail (with the signed EB) is the
    evidence. An EB without date or signature is no proof (ValueError: not taken)."""
    at = datetime.fromisoformat(body["acknowledgedAt"])
    signer = str(body.get("signedBy") or "").strip()
    if at.tzinfo is None or not signer:
        raise ValueError("an Empfangsbekenntnis needs a date with time zone and the recipient's signature")
    return StatusEvent(event_id=f"zbp-eb:{body['messageId']}", delivery_id=body["reference"], channel=CHANNEL,
                       state=EventState.ACKNOWLEDGED, at=at, evidence=raw, evidence_type="message/rfc822",
                       reason=f"Empfangsbekenntnis zurück: Empfang am {at.date().isoformat()} bestätigt, "
                              f"unterschrieben von {signer}")


class BundIdBridgeConnector(MailboxConnector):
    """The citizen postbox through the FIT-Connect bridge."""

    def __init__(self, fit: FitConnectSettings, settings: BundIdSettings, author: AuthorIdentity, *,
                 bridge_destination_id: str, bridge_schema_uri: str = BRIDGE_SERVICE,
                 journal: Journal | None = None, http: HttpClient | None = None) -> None:
        self.settings = settings
        self.bridge_destination_id = bridge_destination_id
        self.bridge_schema_uri = bridge_schema_uri
        self.client = FitConnectClient(fit, channel=CHANNEL, http=http)
        self.journal = journal or Journal()
        self._author = _Author(author)
        self._capabilities = _capabilities(settings)

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def envelope(self, content: str) -> bytes:
        """The bridge's data: ``{content, sha512sum, authorToken, authorCertificate}``."""
        return json.dumps({"content": content, "sha512sum": self._author.sign(content),
                           "authorToken": self._author.token(), "authorCertificate": self._author.cert_b64},
                          separators=(",", ":")).encode("utf-8")

    def send(self, delivery: Delivery) -> Receipt:
        self.check(delivery)
        done = self.journal.get(delivery.delivery_id)
        if done and done.get("channel_message_id"):
            return _receipt(done)  # sent before: the same delivery is not submitted twice
        content, _ = zbp_message(delivery, self.settings)
        outgoing = OutgoingSubmission(
            destination_id=self.bridge_destination_id, service_identifier=BRIDGE_SERVICE,
            service_name="Nachricht an das Zentrale Bürgerpostfach",
            attachments=(OutgoingAttachment(delivery.content, delivery.filename, delivery.media_type),),
            data=self.envelope(content), data_schema_uri=self.bridge_schema_uri,
            sender_reference=delivery.delivery_id)
        sent = self.client.submit(outgoing, delivery_id=delivery.delivery_id)
        record = self.journal.update(
            delivery.delivery_id, channel=CHANNEL, channel_message_id=sent.submission_id,
            submission_id=sent.submission_id, case_id=sent.case_id, destination_id=sent.destination_id,
            tags=sent.tags, accepted_at=sent.submitted_at.isoformat(), evidence=sent.evidence.decode())
        log.info("bundid: delivery %s submitted to the ZBP bridge as %s", delivery.delivery_id, sent.submission_id)
        return _receipt(record)

    def collect_events(self, since: datetime | None = None) -> list[StatusEvent]:
        events = collect_submission_events(self.client, self.journal)
        events += retrieval_events(self.settings.confirmations_maildir, self.journal,
                                   self.settings.retrieval_confirmation_address)
        return since_filter(events, since)

    def close(self) -> None:
        self.client.close()


@dataclass(frozen=True)
class ZbpSettings:
    base_url: str  # the ZBP REST base (without /v6)
    client_cert: Path  # PEM: the BPKI certificate (mTLS, and author certificate for the signatures)
    client_key: Path = field(repr=False)  # PEM: its private key
    tls_ca: Path | None = None  # PEM CA file for the ZBP's TLS certificate; None: the system's trust store
    timeout: float = 30.0
    connect_timeout: float = 10.0


class ZbpDirectConnector(MailboxConnector):
    """The citizen postbox over ZBP REST v6 (mTLS + Bearer author token)."""

    def __init__(self, zbp: ZbpSettings, settings: BundIdSettings, *, journal: Journal | None = None,
                 http: httpx.Client | None = None) -> None:
        self.zbp = zbp
        self.settings = settings
        self.journal = journal or Journal()
        self._author = _Author(AuthorIdentity.from_files(zbp.client_cert, zbp.client_key))
        if http is None:
            ctx = ssl.create_default_context(cafile=str(zbp.tls_ca) if zbp.tls_ca else None)
            ctx.load_cert_chain(zbp.client_cert, zbp.client_key)
            http = httpx.Client(verify=ctx, timeout=httpx.Timeout(zbp.timeout, connect=zbp.connect_timeout))
        self.http = http
        self._url = zbp.base_url.rstrip("/") + "/v6/mailbox/messages"
        self._capabilities = _capabilities(settings)

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def _temporary(self, reason: str, delivery: Delivery, code: str, *, after: float | None = None,
                   evidence: bytes = b"") -> TemporaryFailure:
        return TemporaryFailure(reason, channel=CHANNEL, delivery_id=delivery.delivery_id, code=code,
                                retry_after=after, evidence=evidence)

    def _permanent(self, reason: str, delivery: Delivery, code: str, evidence: bytes = b"") -> PermanentFailure:
        return PermanentFailure(reason, channel=CHANNEL, delivery_id=delivery.delivery_id, code=code,
                                evidence=evidence)

    def send(self, delivery: Delivery) -> Receipt:
        self.check(delivery)
        done = self.journal.get(delivery.delivery_id)
        if done and done.get("channel_message_id"):
            return _receipt(done)
        content, _ = zbp_message(delivery, self.settings)
        part = json.dumps({"content": content, "sha512sum": self._author.sign(content)},
                          separators=(",", ":")).encode("utf-8")
        files = [("json", (None, part, "application/json")),
                 ("files", (delivery.filename, delivery.content, delivery.media_type))]
        lines = [f"json part sha256={hashlib.sha256(part).hexdigest()}; file {delivery.filename} "
                 f"sha512={hashlib.sha512(delivery.content).hexdigest()} length={delivery.size}"]
        for attempt in (1, 2):
            headers = {"Authorization": "Bearer " + self._author.token(renew=attempt == 2)}
            try:
                response = self.http.put(self._url, files=files, headers=headers)
            except httpx.TimeoutException:
                raise self._temporary(f"das ZBP hat nicht innerhalb von {self.zbp.timeout:g} s geantwortet; später "
                                      "erneut versuchen",
                                      delivery, "timeout") from None
            except httpx.TransportError as exc:
                if tls_refused(exc):
                    raise self._permanent("das ZBP hat die TLS-Verbindung abgelehnt: unser BPKI-Client-Zertifikat "
                                          "wurde nicht angenommen oder dem Zertifikat des ZBP wird nicht vertraut; "
                                          "die ZBP-Einstellungen prüfen",
                                          delivery, "TLS") from None
                raise self._temporary(f"das ZBP ist nicht erreichbar ({type(exc).__name__}); später erneut versuchen",
                                      delivery, "connection") from None
            at = datetime.now(timezone.utc)
            lines.append(f"{at.isoformat(timespec='milliseconds')} PUT {response.request.url.path} -> "
                         f"{response.status_code}")
            lines.append("  " + response.text[:2000])
            evidence = ("\n".join(lines) + "\n").encode()
            if response.status_code == 401 and attempt == 1:
                log.info("bundid: the ZBP refused the author token; signing a new one")
                continue
            break
        status, code = response.status_code, f"HTTP {response.status_code}"
        if 200 <= status < 300:
            try:
                message_id = str(response.json().get("messageId") or delivery.delivery_id)
            except ValueError:
                message_id = delivery.delivery_id
            record = self.journal.update(
                delivery.delivery_id, channel=CHANNEL, channel_message_id=message_id, accepted_at=at.isoformat(),
                evidence=evidence.decode(), delivered={"at": at.isoformat(), "message_id": message_id})
            log.info("bundid: delivery %s put into the postbox as ZBP message %s", delivery.delivery_id, message_id)
            return _receipt(record)
        detail = problem_detail(response)
        if status == 429:
            after = retry_after(response)
            raise self._temporary("das ZBP drosselt unsere Anfragen" + (
                f"; in {after:g} s erneut versuchen" if after is not None else ""), delivery, code, after=after,
                evidence=evidence)
        if status >= 500:
            raise self._temporary("das ZBP ist nicht verfügbar (Serverfehler); später erneut versuchen", delivery, code,
                                  after=retry_after(response), evidence=evidence)
        if status == 401:
            raise self._permanent(f"das ZBP hat unser Autoren-Token abgelehnt: {detail}; das BPKI-Zertifikat prüfen",
                                  delivery, code, evidence)
        if status == 404:
            raise self._permanent("das ZBP kennt kein Postfach mit dieser mailboxUuid: die BundID-Postfachadresse "
                                  "ist falsch oder das Postfach wurde geschlossen", delivery, code, evidence)
        raise self._permanent(f"das ZBP hat die Nachricht abgelehnt: {detail or response.reason_phrase}", delivery,
                              code, evidence)

    def collect_events(self, since: datetime | None = None) -> list[StatusEvent]:
        events = []
        for record in self.journal.records():
            delivered = record.get("delivered")
            if delivered:
                events.append(StatusEvent(event_id=f"zbp-delivered:{delivered['message_id']}",
                                          delivery_id=record["delivery_id"], channel=CHANNEL,
                                          state=EventState.DELIVERED, at=datetime.fromisoformat(delivered["at"]),
                                          evidence=record["evidence"].encode(), evidence_type="text/plain"))
        events += retrieval_events(self.settings.confirmations_maildir, self.journal,
                                   self.settings.retrieval_confirmation_address)
        return since_filter(events, since)

    def close(self) -> None:
        self.http.close()

