"""Peppol discovery: where does a participant receive a document type, and with which certificate.

1. SML (Peppol SML 1.3.0, on OASIS BDXL 1.0 / U-NAPTR, RFC 4848): the participant's DNS name is
   ``B32(SHA-256(lower("<ICD>:<id>")))`` without ``=`` padding (lower-case, DNS is case-blind), then
   ``.iso6523-actorid-upis.`` and the SML zone (PFUOI POLICY 7). Its NAPTR record with flags ``U`` and service
   ``Meta:SMP`` carries the SMP's base URL in the regexp ``!^.*$!https://smp.example/!``.
2. SMP (Peppol SMP 1.4.0, busdox ``publishing/1.0`` namespace): ``GET {smp}/{participant}/services/{doctype}``, both
   percent-encoded in full (``iso6523-actorid-upis::0204:...``), gives a ``SignedServiceMetadata``: the
   ServiceMetadata with an enveloped XML-DSig (RSA-SHA256, SHA-256 digests) by the SMP's certificate in
   ``KeyInfo/X509Data``, which must be issued by the Peppol SMP CA. A ``Redirect`` (one hop only) points to another
   SMP whose answer must be signed by the certificate named in ``CertificateUID``.
3. In the ServiceMetadata: the ``Process`` with the requested process id, its ``Endpoint`` with transport profile
   ``peppol-transport-as4-v2_0``, active at the clock's time (ServiceActivationDate/ServiceExpirationDate), and
   its ``Certificate`` (base64 DER), which must be issued by the Peppol AP CA.

Answers are cached (SML by the record's DNS TTL, SMP for ``smp_ttl``; "not found" answers for ``negative_ttl``)
so that a batch of deliveries to one recipient makes one lookup. Errors are the channel's: ``PermanentFailure``
(not registered, document type not served, untrusted or broken answers: take the next channel) or
``TemporaryFailure`` (DNS or SMP unavailable: try again later), with ``code`` naming what failed.
"""
from __future__ import annotations

import base64
import hashlib
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver
import httpx
from cryptography import x509
from lxml import etree
from signxml import InvalidInput, SignatureConfiguration, XMLVerifier
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidSignature

from erechnung.model.delivery import Channel

from ..base import PermanentFailure, TemporaryFailure
from ..fitconnect_client import tls_refused
from .identifiers import AS4_V2, PARTICIPANT_SCHEME, ParticipantId, split_identifier
from .trust import CertificateRejected, check_certificate, common_name

__all__ = [
    "DiscoveryFailure", "DiscoveryUnavailable", "DocumentTypeNotServed", "Endpoint", "Discovery",
    "ParticipantNotFound", "PROD_AP_CA", "PROD_SMP_CA", "ServiceNotActive", "TEST_AP_CA", "TEST_SMP_CA",
    "UntrustedMetadata", "sml_name",
]

CHANNEL = Channel.PEPPOL

#: The issuing CAs' common names (Peppol PKI G2): production and the test network.
PROD_SMP_CA = "PEPPOL SERVICE METADATA PUBLISHER CA - G2"
PROD_AP_CA = "PEPPOL ACCESS POINT CA - G2"
TEST_SMP_CA = "PEPPOL SERVICE METADATA PUBLISHER TEST CA - G2"
TEST_AP_CA = "PEPPOL ACCESS POINT TEST CA - G2"

NS = {"smp": "http://busdox.org/serviceMetadata/publishing/1.0/",
      "id": "http://busdox.org/transport/identifiers/1.0/",
      "wsa": "http://www.w3.org/2005/08/addressing",
      "ds": "http://www.w3.org/2000/09/xmldsig#"}
_SMP = "{%s}" % NS["smp"]

MAX_SMP_BYTES = 1024 * 1024  # a ServiceMetadata is a few kB; an SMP answering more is broken or hostile
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                          huge_tree=False, remove_comments=True, remove_pis=True)
#: SMP 1.4.0, signature profile: RSA-SHA256 signatures over SHA-256 digests (SHA-1 refused).
_SIG_CONFIG = SignatureConfiguration(
    location="./", require_x509=True,
    signature_methods=frozenset({SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA384,
                                 SignatureMethod.RSA_SHA512}),
    digest_algorithms=frozenset({DigestAlgorithm.SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512}))


def sml_name(participant: ParticipantId | str, zone: str) -> str:
    """The DNS name of a participant in an SML zone (SML 1.3.0, discovery; PFUOI 4.4 POLICY 7):
    ``b32(sha256(lower("0204:..."))).iso6523-actorid-upis.<zone>``, Base32 without ``=``, lower-case."""
    value = str(participant).lower()
    digest = base64.b32encode(hashlib.sha256(value.encode("utf-8")).digest()).decode("ascii").rstrip("=").lower()
    return f"{digest}.{PARTICIPANT_SCHEME}.{zone.strip('.')}"


# ---- errors ----------------------------------------------------------------------------------------------------
class DiscoveryFailure(PermanentFailure):
    """Discovery says no: take the next channel of the recipient."""

    def __init__(self, reason: str, *, code: str, participant: ParticipantId | None = None) -> None:
        super().__init__(reason, channel=CHANNEL, code=code)
        self.participant = participant


class ParticipantNotFound(DiscoveryFailure):
    """The recipient is not registered in Peppol (no SML record, or the SMP does not know it)."""


class DocumentTypeNotServed(DiscoveryFailure):
    """The recipient is in Peppol but does not receive this document type / process / transport profile."""


class ServiceNotActive(DiscoveryFailure):
    """The recipient's endpoint is expired or not yet active."""


class UntrustedMetadata(DiscoveryFailure):
    """The SMP's answer is not signed by a trusted Peppol SMP, or names an access point outside Peppol's PKI, or
    is broken."""


class DiscoveryUnavailable(TemporaryFailure):
    """DNS or the SMP did not answer: try again later."""

    def __init__(self, reason: str, *, code: str, retry_after: float | None = None) -> None:
        super().__init__(reason, channel=CHANNEL, code=code, retry_after=retry_after)


# ---- results ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Endpoint:
    """Where and to whom an AS4 message for ``participant`` / ``document_type`` / ``process`` goes."""

    url: str
    certificate: x509.Certificate = field(repr=False)
    transport_profile: str
    participant: ParticipantId
    document_type: str
    process: str
    service_expiration: datetime | None
    smp_url: str  # the SMP's base URL from the SML
    service_activation: datetime | None = None
    metadata_url: str = ""  # the signed ServiceMetadata's URL (the redirect's target after a redirect)
    technical_contact: str = ""


@dataclass(frozen=True)
class _EndpointInfo:
    url: str
    certificate: x509.Certificate
    transport_profile: str
    activation: datetime | None
    expiration: datetime | None
    contact: str


@dataclass(frozen=True)
class _Metadata:
    processes: dict[tuple[str, str], tuple[_EndpointInfo, ...]]  # (process scheme lower, value) -> endpoints
    metadata_url: str


@dataclass
class _Entry:
    expires: datetime
    value: Any  # the answer, or the DiscoveryFailure to raise again


# ---- the resolver ----------------------------------------------------------------------------------------------
class Discovery:
    """SML + SMP lookups for one Peppol network (zone and trust anchors); thread-safe, cached.

    ``trust_roots``: the anchors (Peppol root, and the issuing CAs where the SMP's and APs' signatures do not
    carry them); ``smp_ca``/``ap_ca``: the common names the direct issuers must have (None: any CA under the
    roots). ``clock`` gives the time for validity checks and the caches (UTC-aware)."""

    def __init__(self, sml_zone: str, *, nameservers: Sequence[tuple[str, int]] | None = None,
                 trust_roots: Sequence[x509.Certificate], smp_ca: str | None = PROD_SMP_CA,
                 ap_ca: str | None = PROD_AP_CA, smp_tls_ca: Path | None = None, timeout: float = 10,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc), smp_ttl: float = 3600,
                 negative_ttl: float = 300, max_ttl: float = 86400, max_bytes: int = MAX_SMP_BYTES) -> None:
        if not trust_roots:
            raise ValueError("discovery needs the Peppol trust anchors (trust_roots)")
        self.zone = sml_zone.strip(".")
        self.trust_roots = tuple(trust_roots)
        self.smp_ca, self.ap_ca = smp_ca, ap_ca
        self.timeout, self.clock = timeout, clock
        self.smp_ttl = min(smp_ttl, max_ttl)
        self.negative_ttl, self.max_ttl, self.max_bytes = negative_ttl, max_ttl, max_bytes
        self._resolver = dns.resolver.Resolver(configure=nameservers is None)
        if nameservers is not None:
            self._resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port) for host, port in nameservers]
        self._resolver.timeout = self._resolver.lifetime = timeout
        tls = ssl.create_default_context(cafile=str(smp_tls_ca) if smp_tls_ca else None)
        self._http = httpx.Client(verify=tls, timeout=timeout, follow_redirects=False, trust_env=False)
        self._lock = threading.Lock()
        self._sml: dict[str, _Entry] = {}
        self._smp: dict[tuple[str, str], _Entry] = {}
        self._checked: dict[x509.Certificate, tuple[datetime, datetime]] = {}  # certificate -> window checked for
        self._last_retry_after = threading.local()  # the last answer's Retry-After, per thread

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Discovery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def clear_cache(self) -> None:
        with self._lock:
            self._sml.clear()
            self._smp.clear()

    def _now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the discovery clock must give times with a time zone")
        return now.astimezone(timezone.utc)

    # ---- public ------------------------------------------------------------------------------------------------
    def endpoint(self, participant: ParticipantId, document_type: str, process: str) -> Endpoint:
        """The AS4 v2 endpoint of ``participant`` for ``document_type`` in ``process`` (full ids, ``scheme::``)."""
        now = self._now()
        smp_url = self.smp_of(participant)
        meta = self._metadata(participant, document_type, smp_url, now)
        proc_scheme, proc_value = split_identifier(process)
        endpoints = meta.processes.get((proc_scheme.lower(), proc_value))
        if endpoints is None:
            raise DocumentTypeNotServed(
                f"der Empfänger {participant} empfängt diese Dokumentart in Peppol, aber nicht im Prozess "
                f"{proc_value}; beim Empfänger erfragen, welchen Peppol-Prozess er unterstützt, oder über einen "
                f"anderen Kanal zustellen",
                code="process not served", participant=participant)
        chosen = next((e for e in endpoints if e.transport_profile == AS4_V2), None)
        if chosen is None:
            profiles = ", ".join(sorted({e.transport_profile for e in endpoints})) or "keine"
            raise DocumentTypeNotServed(
                f"der Empfänger {participant} hat keinen Peppol-AS4-v2-Endpunkt für diese Dokumentart (sein SMP nennt "
                f"{profiles}); über einen anderen Kanal zustellen", code="no AS4 endpoint", participant=participant)
        if chosen.activation is not None and now < chosen.activation:
            raise ServiceNotActive(
                f"der Peppol-Endpunkt des Empfängers {participant} ist erst ab "
                f"{chosen.activation:%Y-%m-%d %H:%M} UTC aktiv; später oder über einen anderen Kanal zustellen",
                code="service not active", participant=participant)
        if chosen.expiration is not None and now >= chosen.expiration:
            raise ServiceNotActive(
                f"der Peppol-Endpunkt des Empfängers {participant} ist am {chosen.expiration:%Y-%m-%d %H:%M} UTC "
                "abgelaufen (sein SMP-Eintrag ist veraltet); den Empfänger bitten, seine Peppol-Registrierung zu "
                "erneuern, oder über einen anderen Kanal zustellen", code="service expired", participant=participant)
        self._check_cert(chosen.certificate, now, self.ap_ca, "das Zertifikat des Access Point des Empfängers",
                         participant, "AP certificate")
        return Endpoint(chosen.url, chosen.certificate, chosen.transport_profile, participant, document_type,
                        process, chosen.expiration, smp_url, chosen.activation, meta.metadata_url, chosen.contact)

    def smp_of(self, participant: ParticipantId) -> str:
        """The participant's SMP base URL (without a trailing ``/``), from the SML."""
        now = self._now()
        key = str(participant)
        with self._lock:
            hit = self._sml.get(key)
        if hit is not None and now < hit.expires:
            return self._answer(hit)
        try:
            url, ttl = self._naptr(participant)
        except ParticipantNotFound as exc:
            self._store(self._sml, key, exc, now, min(self.negative_ttl, getattr(exc, "ttl", self.negative_ttl)))
            raise
        self._store(self._sml, key, url, now, min(ttl, self.max_ttl))
        return url

    def capabilities(self, participant: ParticipantId) -> list[str]:
        """The document type ids (full form) the participant's SMP lists in its ServiceGroup (not signed in SMP
        1.x: a hint for planning, not a promise; :meth:`endpoint` checks the signed answer)."""
        smp_url = self.smp_of(participant)
        url = f"{smp_url}/{quote(participant.uri, safe='')}"
        status, body = self._get(url, participant)
        if status == 404:
            raise ParticipantNotFound(
                f"der Empfänger {participant} steht in der Peppol-SML, aber sein SMP kennt ihn nicht; den Empfänger "
                "bitten, seine Peppol-Registrierung zu prüfen, oder über einen anderen Kanal zustellen", code="SMP 404",
                participant=participant)
        self._status_ok(status, participant)
        root = self._parse(body, participant)
        types = []
        for ref in root.iterfind(".//smp:ServiceMetadataReference", NS):
            href = ref.get("href", "")
            _, sep, tail = href.partition("/services/")
            if sep:
                types.append(unquote(tail))
        return types

    # ---- cache -------------------------------------------------------------------------------------------------
    def _store(self, cache: dict, key: Any, value: Any, now: datetime, ttl: float) -> None:
        if ttl <= 0:
            return
        with self._lock:
            cache[key] = _Entry(now + timedelta(seconds=ttl), value)

    @staticmethod
    def _answer(entry: _Entry) -> Any:
        if isinstance(entry.value, DiscoveryFailure):
            raise entry.value.with_traceback(None)
        return entry.value

    # ---- SML ---------------------------------------------------------------------------------------------------
    def _naptr(self, participant: ParticipantId) -> tuple[str, float]:
        name = sml_name(participant, self.zone)
        try:
            answer = self._resolver.resolve(name, "NAPTR", raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN as nx:
            missing = ParticipantNotFound(
                f"der Empfänger {participant} ist nicht in Peppol registriert (kein Eintrag in der SML {self.zone}); "
                "die Peppol-ID im Empfängerverzeichnis prüfen oder über einen anderen Kanal zustellen",
                code="SML NXDOMAIN", participant=participant)
            missing.ttl = _negative_ttl(nx)  # type: ignore[attr-defined]
            raise missing from None
        except dns.exception.Timeout:
            raise DiscoveryUnavailable(f"die Peppol-SML (DNS) hat nicht innerhalb von {self.timeout:g} s "
                                       "geantwortet; später erneut versuchen", code="DNS timeout") from None
        except dns.resolver.NoNameservers:
            raise DiscoveryUnavailable("die DNS-Server der Peppol-SML haben nicht geantwortet (SERVFAIL); später "
                                       "erneut versuchen",
                                       code="DNS SERVFAIL") from None
        except dns.exception.DNSException as exc:
            raise DiscoveryUnavailable(f"die Abfrage der Peppol-SML ist gescheitert ({type(exc).__name__}); später "
                                       "erneut versuchen",
                                       code="DNS error") from None
        records = []
        if answer.rrset is not None:
            for rr in answer.rrset:
                if rr.flags.upper() == b"U" and rr.service.lower() == b"meta:smp":
                    records.append((rr.order, rr.preference, rr.regexp.decode("utf-8", "replace")))
        if not records:
            raise ParticipantNotFound(
                f"der Empfänger {participant} hat einen DNS-Eintrag in der SML {self.zone}, aber keinen SMP (kein "
                "U-NAPTR-Eintrag 'Meta:SMP'); den Empfänger bitten, seine Peppol-Registrierung zu prüfen, oder über "
                "einen anderen Kanal zustellen",
                code="SML no NAPTR", participant=participant)
        records.sort()
        url = _naptr_url(records[0][2])
        if url is None:
            raise UntrustedMetadata(
                f"der SML-Eintrag für {participant} nennt keine https-URL eines SMP (U-NAPTR-Regexp "
                f"{records[0][2]!r}); dem Peppol-Anbieter des Empfängers melden", code="SML bad NAPTR",
                participant=participant)
        return url, float(answer.rrset.ttl)  # type: ignore[union-attr]

    # ---- SMP ---------------------------------------------------------------------------------------------------
    def _metadata(self, participant: ParticipantId, document_type: str, smp_url: str, now: datetime) -> _Metadata:
        key = (str(participant), document_type)
        with self._lock:
            hit = self._smp.get(key)
        if hit is not None and now < hit.expires:
            return self._answer(hit)
        try:
            meta = self._fetch_metadata(participant, document_type, smp_url, now)
        except (ParticipantNotFound, DocumentTypeNotServed) as exc:
            self._store(self._smp, key, exc, now, self.negative_ttl)
            raise
        self._store(self._smp, key, meta, now, self.smp_ttl)
        return meta

    def _fetch_metadata(self, participant: ParticipantId, document_type: str, smp_url: str,
                        now: datetime) -> _Metadata:
        url = f"{smp_url}/{quote(participant.uri, safe='')}/services/{quote(document_type, safe='')}"
        meta = self._signed(url, participant, document_type, now, None)
        redirect = meta.find("smp:Redirect", NS)
        if redirect is not None:
            target = redirect.get("href", "")
            uid = (redirect.findtext("smp:CertificateUID", "", NS) or "").strip()
            if not target.lower().startswith("https://"):
                raise UntrustedMetadata(f"der SMP von {participant} leitet auf {target!r} um, keine https-URL",
                                        code="SMP redirect", participant=participant)
            url = target
            meta = self._signed(url, participant, document_type, now, uid)
            if meta.find("smp:Redirect", NS) is not None:
                raise UntrustedMetadata(f"der SMP von {participant} leitet mehr als einmal um (SMP 1.x erlaubt eine "
                                        "Umleitung); dem Peppol-Anbieter des Empfängers melden",
                                        code="SMP redirect", participant=participant)
        return _Metadata(self._processes(meta, participant, document_type), url)

    def _signed(self, url: str, participant: ParticipantId, document_type: str, now: datetime,
                expected_uid: str | None) -> etree._Element:
        """GET a SignedServiceMetadata, verify its signature and signer, return the (signed) ServiceMetadata."""
        status, body = self._get(url, participant)
        if status == 404:
            raise DocumentTypeNotServed(
                f"der Empfänger {participant} ist in Peppol, empfängt aber diese Dokumentart nicht "
                f"({split_identifier(document_type)[1][:120]}); beim Empfänger erfragen, welche Formate er empfängt, "
                "oder über einen anderen Kanal zustellen", code="SMP 404", participant=participant)
        self._status_ok(status, participant)
        root = self._parse(body, participant)
        if root.tag != f"{_SMP}SignedServiceMetadata":
            raise UntrustedMetadata(f"der SMP von {participant} hat nicht mit SignedServiceMetadata geantwortet",
                                    code="SMP answer", participant=participant)
        cert_text = root.findtext("ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate", None, NS)
        if not cert_text:
            raise UntrustedMetadata(f"die SMP-Antwort für {participant} ist nicht mit einem Zertifikat signiert",
                                    code="SMP signature", participant=participant)
        try:
            signer = x509.load_der_x509_certificate(base64.b64decode("".join(cert_text.split())))
        except ValueError:
            raise UntrustedMetadata(f"die SMP-Antwort für {participant} trägt ein unlesbares Zertifikat",
                                    code="SMP signature", participant=participant) from None
        self._check_cert(signer, now, self.smp_ca, "das Signaturzertifikat des SMP", participant,
                         "SMP certificate")
        if expected_uid is not None and expected_uid not in _uids(signer):
            raise UntrustedMetadata(f"die Antwort des Umleitungsziels für {participant} ist von "
                                    f"{common_name(signer)} signiert, nicht von dem SMP, den die Umleitung nennt "
                                    f"({expected_uid})",
                                    code="SMP redirect", participant=participant)
        try:
            result = XMLVerifier().verify(root, x509_cert=signer, expect_config=_SIG_CONFIG)
        except (InvalidSignature, InvalidInput, ValueError) as exc:
            raise UntrustedMetadata(
                f"die SMP-Antwort für {participant} hat eine ungültige Signatur ({str(exc)[:120]}): sie wurde nach "
                "dem Signieren verändert oder ist gefälscht; nicht dorthin zustellen, dem Peppol-Anbieter des "
                "Empfängers melden",
                code="SMP signature", participant=participant) from None
        signed = result.signed_xml  # only what the signature covers is read from here on
        meta = signed.find("smp:ServiceMetadata", NS) if signed is not None else None
        if meta is None:
            raise UntrustedMetadata(f"die SMP-Antwort für {participant} enthält keine signierten ServiceMetadata",
                                    code="SMP answer", participant=participant)
        return meta

    def _processes(self, meta: etree._Element, participant: ParticipantId,
                   document_type: str) -> dict[tuple[str, str], tuple[_EndpointInfo, ...]]:
        info = meta.find("smp:ServiceInformation", NS)
        if info is None:
            raise UntrustedMetadata(f"die SMP-Antwort für {participant} enthält keine ServiceInformation",
                                    code="SMP answer", participant=participant)
        pid = info.find("id:ParticipantIdentifier", NS)
        doc = info.find("id:DocumentIdentifier", NS)
        doc_scheme, doc_value = split_identifier(document_type)
        if pid is None or (pid.get("scheme", "").lower() != PARTICIPANT_SCHEME
                           or (pid.text or "").strip().lower() != str(participant)):
            raise UntrustedMetadata(f"der SMP hat für einen anderen Teilnehmer als {participant} geantwortet",
                                    code="SMP answer", participant=participant)
        if doc is None or doc.get("scheme", "") != doc_scheme or (doc.text or "").strip() != doc_value:
            raise UntrustedMetadata(f"der SMP hat für {participant} zu einer anderen Dokumentart geantwortet",
                                    code="SMP answer", participant=participant)
        out: dict[tuple[str, str], tuple[_EndpointInfo, ...]] = {}
        for proc in info.iterfind("smp:ProcessList/smp:Process", NS):
            pident = proc.find("id:ProcessIdentifier", NS)
            if pident is None:
                continue
            key = (pident.get("scheme", "").lower(), (pident.text or "").strip())
            endpoints = []
            for ep in proc.iterfind("smp:ServiceEndpointList/smp:Endpoint", NS):
                endpoints.append(self._endpoint_info(ep, participant))
            out[key] = out.get(key, ()) + tuple(endpoints)
        return out

    @staticmethod
    def _endpoint_info(ep: etree._Element, participant: ParticipantId) -> _EndpointInfo:
        def bad(what: str) -> UntrustedMetadata:
            return UntrustedMetadata(f"der SMP-Endpunkt für {participant} hat {what}", code="SMP answer",
                                     participant=participant)

        address = (ep.findtext("wsa:EndpointReference/wsa:Address", "", NS) or "").strip()
        cert_text = ep.findtext("smp:Certificate", "", NS) or ""
        try:
            cert = x509.load_der_x509_certificate(base64.b64decode("".join(cert_text.split()), validate=True))
        except ValueError:
            raise bad("kein lesbares Zertifikat") from None
        if urlsplit(address).scheme not in ("https", "http") or not urlsplit(address).netloc:
            raise bad(f"keine brauchbare Adresse ({address[:80]!r})")
        return _EndpointInfo(address, cert, ep.get("transportProfile", ""),
                             _when(ep.findtext("smp:ServiceActivationDate", None, NS), bad),
                             _when(ep.findtext("smp:ServiceExpirationDate", None, NS), bad),
                             (ep.findtext("smp:TechnicalContactUrl", "", NS) or "").strip())

    # ---- helpers -----------------------------------------------------------------------------------------------
    def _check_cert(self, cert: x509.Certificate, now: datetime, issuer_cn: str | None, what: str,
                    participant: ParticipantId, code: str) -> None:
        """trust.check_certificate, once per certificate: the chain's validity window is remembered."""
        window = self._checked.get(cert)
        if window is not None and window[0] <= now <= window[1]:
            return
        try:
            chain = check_certificate(cert, roots=self.trust_roots, at=now, issuer_cn=issuer_cn, what=what)
        except CertificateRejected as exc:
            raise UntrustedMetadata(f"{exc} (Empfänger {participant}); nicht dorthin zustellen, dem Peppol-Anbieter "
                                    "des Empfängers melden", code=code, participant=participant) from None
        window = (max(c.not_valid_before_utc for c in chain), min(c.not_valid_after_utc for c in chain))
        with self._lock:
            if len(self._checked) > 10000:
                self._checked.clear()
            self._checked[cert] = window

    def _get(self, url: str, participant: ParticipantId) -> tuple[int, bytes]:
        host = urlsplit(url).netloc
        try:
            with self._http.stream("GET", url, headers={"Accept": "application/xml, text/xml"}) as response:
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > self.max_bytes:
                    raise UntrustedMetadata(f"der SMP {host} hat mehr als {self.max_bytes} Byte geantwortet",
                                            code="SMP size", participant=participant)
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise UntrustedMetadata(f"der SMP {host} hat mehr als {self.max_bytes} Byte geantwortet",
                                                code="SMP size", participant=participant)
                    chunks.append(chunk)
                after = response.headers.get("retry-after", "")
                self._last_retry_after.value = float(after) if after.isdigit() else None
                return response.status_code, b"".join(chunks)
        except httpx.TimeoutException:
            raise DiscoveryUnavailable(f"der SMP {host} hat nicht innerhalb von {self.timeout:g} s geantwortet; "
                                       "später erneut versuchen",
                                       code="SMP timeout") from None
        except httpx.TransportError as exc:
            if tls_refused(exc):
                raise UntrustedMetadata(f"dem TLS-Zertifikat des SMP {host} wird nicht vertraut; die Peppol-"
                                        "Einstellungen (smp_tls_ca) prüfen oder dem Peppol-Anbieter des Empfängers "
                                        "melden",
                                        code="SMP TLS", participant=participant) from None
            raise DiscoveryUnavailable(f"der SMP {host} ist nicht erreichbar ({type(exc).__name__}); später erneut "
                                       "versuchen",
                                       code="SMP connection") from None

    def _status_ok(self, status: int, participant: ParticipantId) -> None:
        if status == 200:
            return
        if status == 429 or status >= 500:
            raise DiscoveryUnavailable(f"der SMP des Empfängers ist nicht verfügbar (HTTP {status}); später erneut "
                                       "versuchen",
                                       code=f"SMP {status}", retry_after=getattr(self._last_retry_after, "value", None))
        raise UntrustedMetadata(f"der SMP hat die Abfrage für {participant} abgelehnt (HTTP {status}); dem "
                                "Peppol-Anbieter des Empfängers melden", code=f"SMP {status}", participant=participant)

    @staticmethod
    def _parse(body: bytes, participant: ParticipantId) -> etree._Element:
        try:
            root = etree.fromstring(body, _PARSER)
        except etree.XMLSyntaxError:
            root = None
        if root is None or root.getroottree().docinfo.doctype:
            raise UntrustedMetadata(f"die SMP-Antwort für {participant} ist kein wohlgeformtes XML (oder hat einen "
                                    "DOCTYPE)",
                                    code="SMP answer", participant=participant)
        return root


def _negative_ttl(nx: dns.resolver.NXDOMAIN) -> float:
    """How long an NXDOMAIN may be cached: the SOA in its authority section, min(TTL, MINIMUM) (RFC 2308 § 5)."""
    try:
        for response in nx.responses().values():
            for rrset in response.authority:
                if rrset.rdtype == dns.rdatatype.SOA:
                    return float(min(rrset.ttl, rrset[0].minimum))
    except (AttributeError, KeyError, IndexError):
        pass
    return float("inf")


def _naptr_url(regexp: str) -> str | None:
    """The URL of a U-NAPTR regexp ``!^.*$!https://smp.example/!`` (RFC 4848 § 2: the ERE must match the whole
    name, the replacement is the URI); None when it is not one."""
    if len(regexp) < 3:
        return None
    delim = regexp[0]
    parts = regexp[1:].split(delim)
    if len(parts) != 3 or parts[0] != "^.*$" or parts[2] not in ("", "i"):
        return None
    url = parts[1].rstrip("/")
    split = urlsplit(url)
    if split.scheme != "https" or not split.netloc or split.query or split.fragment:
        return None
    return url


def _when(text: str | None, bad: Callable[[str], Exception]) -> datetime | None:
    if text is None or not text.strip():
        return None
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise bad(f"ein unlesbares Datum ({text.strip()[:40]!r})") from None
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)


def _uids(cert: x509.Certificate) -> set[str]:
    """What an SMP ``Redirect/CertificateUID`` may name of the target's certificate: its subject (RFC 4514), its
    common name, or its subject serial number."""
    names = {cert.subject.rfc4514_string(), common_name(cert)}
    names.update(str(a.value) for a in cert.subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER))
    return names
