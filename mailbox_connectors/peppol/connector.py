"""The Peppol channel: an XRechnung (UBL or CII) to a Peppol participant, through our own access point (C2) to the
receiver's (C3), as the Peppol AS4 profile says.

``send``:

1. ``Delivery.address`` is the participant id (``0204:<Leitweg-ID>``, ``9930:<USt-IdNr.>``, ...;
   ``identifiers.ParticipantId``); the document type id is read from the document itself (root element and
   ``CustomizationID``, BT-24), the process is Peppol's billing process;
2. discovery (SML by DNS, the SMP's signed ServiceMetadata, ``discovery.Discovery``, cached) gives the receiver's
   AS4 endpoint and AP certificate, or says the participant is not registered / does not take this document type:
   a ``PermanentFailure``, so that the next hop of the route (the portal, the e-mail) takes over;
3. the AS4 UserMessage (SBDH, ebMS3, signed and encrypted, ``as4``) is posted to the endpoint; its MessageId and the
   SBDH InstanceIdentifier derive from the delivery id, so a repeated send carries the same ids and the receiver
   drops the duplicate (Peppol AS4 profile 2.0, duplicate detection);
4. the synchronous answer is the receiver's signed Receipt (non-repudiation of receipt: it names the digests we
   signed): verified, it is the proof of delivery and the ``Receipt``'s evidence. An ebMS Error is mapped to
   ``TemporaryFailure`` / ``PermanentFailure`` by its code (``errors.ERRORS``), as are HTTP 5xx, timeouts and lost
   connections (temporary) and a refused TLS certificate (permanent).

``collect_events`` reports each verified receipt as the ``delivered`` event (in the receiver's access point; its
evidence is the signed Receipt), and reads the Message Level Status answers (``mls``; UBL ApplicationResponse) that arrived in the
configured inbox: ``AP`` (accepted) and ``AB`` (acknowledged) say the receiver's own system took the invoice
from its access point: a ``retrieved`` event (the receipt already made the delivery ``delivered``); ``RE``
(rejected) is ``failed`` with the receiver's reasons, so that finance reads them and the route's next channel
takes over. The journal keeps, per delivery, the ids sent, so that an MLS names its
delivery again after a restart.
"""
from __future__ import annotations

import hashlib
import logging
import re
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from erechnung.model.delivery import Channel

from .._journal import Journal
from ..base import (Capabilities, Delivery, EventState, MailboxConnector, PermanentFailure, Receipt, StatusEvent,
                    TemporaryFailure, since_filter)
from ..registry import entry
from . import as4
from .discovery import Discovery
from .doctype import document_type_of
from .identifiers import BILLING_PROCESS, InvalidParticipant, ParticipantId
from .mls import parse_mls
from .trust import CertificateRejected, check_certificate, common_name, load_certificates

__all__ = ["PeppolConnector", "PeppolSettings", "message_ids"]

log = logging.getLogger(__name__)

CHANNEL = Channel.PEPPOL
_MESSAGE_NS = uuid.UUID("6c1e8a52-3f0b-4c55-9d1e-5b2a0f6e9a13")  # our namespace for the ids of a delivery
#: An MLS file larger than this is no MLS (they are a few kB)
MAX_MLS_BYTES = 256 * 1024


@dataclass(frozen=True)
class PeppolSettings:
    sender_id: str  # the participant we send as: 9930:<USt-IdNr.> or 0204:<Leitweg-ID>
    ap_seat: str  # CN of our AP certificate (PDE000123)
    ap_cert: x509.Certificate = field(repr=False)
    ap_key: rsa.RSAPrivateKey = field(repr=False)
    trust: tuple[x509.Certificate, ...] = field(repr=False)  # the Peppol root and its AP and SMP CAs
    sml_zone: str
    nameservers: tuple[tuple[str, int], ...] = ()
    ap_ca_name: str = "PEPPOL ACCESS POINT CA - G2"
    smp_ca_name: str = "PEPPOL SERVICE METADATA PUBLISHER CA - G2"
    tls_ca: Path | None = None
    mls_inbox: Path | None = None
    smp_cache_seconds: float = 3600
    timeout: float = 30.0
    connect_timeout: float = 10.0
    max_bytes: int | None = None

    @classmethod
    def from_files(cls, *, ap_cert: Path, ap_key: Path, trust: Path, **kw: Any) -> PeppolSettings:
        """Settings with the AP certificate (first of the PEM file), its key and the trust store read from files."""
        cert = x509.load_pem_x509_certificates(ap_cert.read_bytes())[0]
        key = serialization.load_pem_private_key(ap_key.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{ap_key}: the access point's key must be an RSA key (Peppol AS4 signs with RSA-SHA256)")
        return cls(ap_cert=cert, ap_key=key, trust=tuple(load_certificates(trust.read_bytes())), **kw)

    @property
    def roots(self) -> tuple[x509.Certificate, ...]:
        return tuple(c for c in self.trust if c.subject == c.issuer)


def message_ids(delivery_id: str, seat: str) -> tuple[str, str]:
    """(ebMS MessageId, SBDH InstanceIdentifier) of a delivery: the same for every send of it, so that the
    receiving AP recognises a repeated message as the duplicate it is."""
    instance = uuid.uuid5(_MESSAGE_NS, delivery_id)
    domain = re.sub(r"[^A-Za-z0-9.-]", "-", seat.lower()) or "erechnung"
    return f"{instance}@{domain}.erechnung", str(instance)


class PeppolConnector(MailboxConnector):
    def __init__(self, settings: PeppolSettings, *, journal: Journal | None = None,
                 discovery: Discovery | None = None, http: httpx.Client | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.journal = journal or Journal()
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        if http is None:
            ctx = ssl.create_default_context(cafile=str(settings.tls_ca) if settings.tls_ca else None)
            http = httpx.Client(verify=ctx, timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout))
        self.http = http
        self.discovery = discovery or Discovery(
            settings.sml_zone, nameservers=list(settings.nameservers) or None, trust_roots=list(settings.trust),
            smp_ca=settings.smp_ca_name, ap_ca=settings.ap_ca_name, smp_tls_ca=settings.tls_ca,
            timeout=settings.timeout, clock=self.clock, smp_ttl=settings.smp_cache_seconds)
        self._capabilities = entry(CHANNEL).accepts.capabilities(CHANNEL, settings.max_bytes)
        self._identity = as4.As4Identity(settings.ap_cert, settings.ap_key)
        self._sender = ParticipantId.parse(settings.sender_id)
        check_certificate(settings.ap_cert, roots=settings.roots, intermediates=settings.trust, at=self.clock(),
                          issuer_cn=settings.ap_ca_name, what="das Zertifikat unseres Access Point (ap_cert)")
        if common_name(settings.ap_cert) != settings.ap_seat:
            raise CertificateRejected(f"our access point's certificate is issued to {common_name(settings.ap_cert)!r}, "
                                      f"not to the seat {settings.ap_seat!r} the configuration names (ap_seat)")

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def _permanent(self, reason: str, delivery_id: str, code: str, evidence: bytes = b"") -> PermanentFailure:
        return PermanentFailure(reason, channel=CHANNEL, delivery_id=delivery_id, code=code, evidence=evidence)

    def _temporary(self, reason: str, delivery_id: str, code: str, evidence: bytes = b"") -> TemporaryFailure:
        return TemporaryFailure(reason, channel=CHANNEL, delivery_id=delivery_id, code=code, evidence=evidence)

    def send(self, delivery: Delivery) -> Receipt:
        self.check(delivery)
        did = delivery.delivery_id
        done = self.journal.get(did)
        if done and done.get("channel_message_id"):
            return _receipt(done)
        try:
            receiver = ParticipantId.parse(delivery.address)
        except InvalidParticipant as exc:
            raise self._permanent(f"die Peppol-ID des Empfängers ist ungültig: {exc}", did, "participant") from None
        try:
            document_type = document_type_of(delivery.content)
        except ValueError as exc:
            raise self._permanent(f"{delivery.filename} kann nicht über Peppol gehen: {exc}", did,
                                  "document type") from None
        endpoint = self.discovery.endpoint(receiver, document_type, BILLING_PROCESS)  # Permanent/TemporaryFailure
        message_id, instance_id = message_ids(did, self.settings.ap_seat)
        at = self.clock()
        receiver_seat = common_name(endpoint.certificate)
        self.journal.update(did, channel=CHANNEL, message_id=message_id, instance_id=instance_id,
                            endpoint=endpoint.url, receiver_ap=receiver_seat, receiver=str(receiver),
                            document_type=document_type)
        out = as4.build_user_message(
            payload=delivery.content, message_id=message_id, instance_id=instance_id, conversation_id=did,
            sender=self._sender.uri, receiver=receiver.uri, document_type=document_type, process=BILLING_PROCESS,
            sender_ap=self._identity, receiver_cert=endpoint.certificate, at=at)
        receipt = as4.exchange(self.http, endpoint.url, out, receiver_cert=endpoint.certificate,
                               trust_roots=self.settings.trust, at=self.clock(), ap_ca_cn=self.settings.ap_ca_name,
                               delivery_id=did)  # raises TemporaryFailure / PermanentFailure by the ebMS code
        head = (f"{at.isoformat(timespec='milliseconds')} POST {endpoint.url} AS4 UserMessage {message_id} "
                f"(SBDH {instance_id}, {document_type}, document sha256={delivery.sha256}) -> signed receipt "
                f"{receipt.message_id} of {receipt.receiver_seat}, verified\n").encode()
        evidence = head + receipt.evidence
        record = self.journal.update(did, channel_message_id=message_id, accepted_at=receipt.timestamp.isoformat(),
                                     evidence_sha256=hashlib.sha256(evidence).hexdigest(),
                                     evidence=evidence.decode("utf-8", "replace"))
        log.info("peppol: delivery %s received by %s as %s", did, receiver_seat, message_id)
        return _receipt(record)

    def collect_events(self, since: datetime | None = None) -> list[StatusEvent]:
        records = [r for r in self.journal.records() if r.get("channel_message_id")]
        events = [StatusEvent(event_id=f"peppol-receipt:{r['channel_message_id']}", delivery_id=r["delivery_id"],
                              channel=CHANNEL, state=EventState.DELIVERED,
                              at=datetime.fromisoformat(r["accepted_at"]), evidence=r["evidence"].encode(),
                              reason=f"im Access Point des Empfängers {r.get('receiver_ap', '')} "
                                     "(signierte AS4-Empfangsbestätigung)")
                  for r in records]
        inbox = self.settings.mls_inbox
        if inbox is None or not inbox.is_dir():
            return since_filter(events, since)
        by_instance = {r["instance_id"]: r for r in records if r.get("instance_id")}
        for path in sorted(inbox.iterdir()):
            if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_MLS_BYTES:
                continue
            data = path.read_bytes()
            try:
                answer = parse_mls(data)
            except ValueError as exc:
                log.warning("peppol: %s is no Message Level Status: %s", path.name, exc)
                continue
            record = by_instance.get(answer.refers_to_instance_id)
            if record is None:
                continue  # an MLS for a message of another sender of this AP
            rejected = answer.code == "RE"
            reason = ("der Empfänger hat die Rechnung abgelehnt (Peppol MLS RE): "
                      + "; ".join(f"{r.description} ({r.code})" for r in answer.reasons)
                      if rejected
                      else f"das System des Empfängers hat die Rechnung übernommen (Peppol MLS {answer.code})")
            events.append(StatusEvent(
                event_id=f"peppol-mls:{hashlib.sha256(data).hexdigest()[:32]}", delivery_id=record["delivery_id"],
                channel=CHANNEL, state=EventState.FAILED if rejected else EventState.RETRIEVED,
                # an MLS names whole seconds: never before the receipt it follows (the order events apply in)
                at=max(answer.issued_at, datetime.fromisoformat(record["accepted_at"])),
                evidence=data, evidence_type="application/xml", reason=reason))
        return since_filter(events, since)

    def close(self) -> None:
        self.http.close()
        self.discovery.close()


def _receipt(record: dict[str, Any]) -> Receipt:
    return Receipt(delivery_id=record["delivery_id"], channel=CHANNEL, channel_message_id=record["channel_message_id"],
                   accepted_at=datetime.fromisoformat(record["accepted_at"]), evidence=record["evidence"].encode(),
                   evidence_type="text/plain")
