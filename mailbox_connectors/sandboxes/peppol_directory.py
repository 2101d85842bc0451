"""Peppol's directory for the sandbox: an SML (a DNS server on loopback answering U-NAPTR records, SML 1.3.0) and
an SMP (HTTPS, Peppol SMP 1.x: ServiceGroup and signed ServiceMetadata), with failure modes on command.

    pki = PeppolTestPKI()
    directory = PeppolDirectorySandbox(pki).start()
    directory.register("0204:991-33333TEST-33", endpoint_url="https://127.0.0.1:8443/as4", ap_cert=ap.cert)
    discovery = directory.discovery()          # a Discovery pointed at this DNS server, trusting this PKI
    discovery.endpoint(ParticipantId.parse("0204:991-33333TEST-33"), XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)

DNS: UDP and TCP on 127.0.0.1 (one free port, ``dns_port``), the records of registered participants
(``<b32 hash>.iso6523-actorid-upis.<zone>  NAPTR 100 10 "U" "Meta:SMP" "!^.*$!<base_url>/!" .``) with ``dns_ttl``;
NXDOMAIN for other names in the zone, REFUSED outside it. SMP: ``GET /{participant}`` and
``GET /{participant}/services/{doctype}`` (percent-encoded full ids), signed with the SMP certificate that
``pki.issue_smp(smp_seat)`` gives (enveloped XML-DSig, RSA-SHA256, C14N 1.0, as the SMP 1.4.0 signature profile);
signed answers are made once per change.

Failure modes: ``dns_fault("servfail" | "timeout" | None)``, ``dns_truncate()`` (UDP answers truncated: TCP
needed), the SMP's HTTP faults (``faults.fail(503)``, ``faults.stall(s)``, ``faults.drop()``, from ``_http.py``),
``bad_signature(p)`` (changed after signing), ``foreign_smp_cert(p)`` (signed by a look-alike SMP certificate
outside the trusted PKI), ``expire(p)`` (ServiceExpirationDate in the past), ``doc_types(p, [...])`` (serve other
document types only), ``redirect(p, other_sandbox)`` (a Redirect to another SMP sandbox, signed as SMP 1.x says).
"""
from __future__ import annotations

import base64
import datetime as _dt
import socket
import socketserver
import struct
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote, unquote

import dnslib
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from signxml import XMLSigner
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod

from ..peppol.discovery import Discovery, sml_name
from ..peppol.identifiers import (
    AS4_V2, BILLING_PROCESS, PARTICIPANT_SCHEME, XRECHNUNG_UBL_CREDIT_NOTE, XRECHNUNG_UBL_INVOICE, ParticipantId,
    split_identifier,
)
from ..peppol.trust import load_certificates
from ._http import Request, Response, SandboxServer
from .peppol_pki import AP_CA, SMP_CA, PeppolTestPKI
from .pki import Issued, TestCA

__all__ = ["PeppolDirectorySandbox", "Registration"]

_SMP_NS = "http://busdox.org/serviceMetadata/publishing/1.0/"
_ID_NS = "http://busdox.org/transport/identifiers/1.0/"
_WSA_NS = "http://www.w3.org/2005/08/addressing"
_NSMAP = {"smp": _SMP_NS, "id": _ID_NS, "wsa": _WSA_NS}


@dataclass
class Registration:
    participant: ParticipantId
    endpoint_url: str
    ap_cert: x509.Certificate = field(repr=False)
    document_types: tuple[str, ...]
    process: str
    activation: _dt.datetime
    expiration: _dt.datetime
    tamper: bool = False
    foreign: bool = False
    redirect_to: PeppolDirectorySandbox | None = field(default=None, repr=False)


# ---- DNS -------------------------------------------------------------------------------------------------------
class _UDPHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        reply = self.server.sandbox._dns_answer(data, udp=True)  # type: ignore[attr-defined]
        if reply is not None:
            sock.sendto(reply, self.client_address)


class _TCPHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.settimeout(5)
        try:
            head = _recv_exact(conn, 2)
            data = _recv_exact(conn, struct.unpack("!H", head)[0])
        except (OSError, ValueError):
            return
        reply = self.server.sandbox._dns_answer(data)  # type: ignore[attr-defined]
        if reply is not None:
            conn.sendall(struct.pack("!H", len(reply)) + reply)


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise ValueError("connection closed")
        buf += chunk
    return buf


class _UDP(socketserver.ThreadingUDPServer):
    daemon_threads = True
    allow_reuse_address = False


class _TCP(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


# ---- the sandbox -----------------------------------------------------------------------------------------------
class PeppolDirectorySandbox(SandboxServer):
    """SML (DNS) and SMP (HTTPS) of a sandboxed Peppol network; ``start()``/``stop()`` run both."""

    name = "peppol-directory-sandbox"

    def __init__(self, pki: PeppolTestPKI, *, zone: str = "sml.peppol.sandbox", smp_seat: str = "PDE000900",
                 dns_ttl: int = 60, ca: TestCA | None = None, port: int = 0) -> None:
        self.ca = ca or TestCA("Peppol SMP sandbox TLS root")
        super().__init__(ssl_context=self.ca.server_context(), port=port)
        self.pki, self.zone, self.smp_seat, self.dns_ttl = pki, zone.strip(".").lower(), smp_seat, dns_ttl
        self.smp_cert: Issued = pki.issue_smp(smp_seat)
        self._foreign_pki: PeppolTestPKI | None = None
        self._registrations: dict[str, Registration] = {}
        self._by_name: dict[str, str] = {}  # SML DNS name -> participant
        self._signed: dict[tuple[str, str], bytes] = {}  # (participant, doctype) -> signed answer
        self._lock = threading.Lock()
        self._dns_fault: str | None = None
        self._dns_truncate = False
        self.dns_queries: list[str] = []  # every name asked (to see the cache work)
        self._udp: _UDP | None = None
        self._tcp: _TCP | None = None

    # ---- lifecycle ---------------------------------------------------------------------------------------------
    def start(self) -> PeppolDirectorySandbox:
        super().start()
        if self._udp is None:
            for _ in range(20):  # a free port for UDP, and the same number free for TCP
                udp = _UDP(("127.0.0.1", 0), _UDPHandler)
                try:
                    tcp = _TCP(("127.0.0.1", udp.server_address[1]), _TCPHandler)
                except OSError:
                    udp.server_close()
                    continue
                break
            else:
                raise RuntimeError("no free port for the sandbox's DNS server")
            udp.sandbox = tcp.sandbox = self  # type: ignore[attr-defined]
            self._udp, self._tcp = udp, tcp
            for server, kind in ((udp, "udp"), (tcp, "tcp")):
                threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                 name=f"{self.name}-dns-{kind}", daemon=True).start()
        return self

    def stop(self) -> None:
        for server in (self._udp, self._tcp):
            if server is not None:
                server.shutdown()
                server.server_close()
        self._udp = self._tcp = None
        super().stop()

    @property
    def dns_port(self) -> int:
        if self._udp is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._udp.server_address[1]

    @property
    def nameservers(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", self.dns_port)]

    @property
    def tls_ca_pem(self) -> bytes:
        """The SMP's TLS trust anchor (not Peppol's PKI: SMP TLS certificates come from public CAs)."""
        return self.ca.root_pem

    @property
    def smp_ca_name(self) -> str:
        return SMP_CA

    @property
    def ap_ca_name(self) -> str:
        return AP_CA

    def discovery(self, **kwargs: Any) -> Discovery:
        """A :class:`~mailbox_connectors.peppol.discovery.Discovery` for this sandbox (zone, DNS server, the PKI's
        root and CAs as trust anchors, the test CA names, the SMP's TLS root); ``kwargs`` override."""
        settings: dict[str, Any] = {"nameservers": self.nameservers, "trust_roots": load_certificates(self.pki.ca_pem),
                                    "smp_ca": SMP_CA, "ap_ca": AP_CA, "smp_tls_ca": self.ca.root_path,
                                    "timeout": 2}
        settings.update(kwargs)
        return Discovery(self.zone, **settings)

    def reset(self) -> None:
        super().reset()
        self._dns_fault = None
        self._dns_truncate = False

    # ---- registrations ----------------------------------------------------------------------------------------
    def register(self, participant: str | ParticipantId, *, endpoint_url: str, ap_cert: x509.Certificate,
                 document_types: Sequence[str] = (XRECHNUNG_UBL_INVOICE, XRECHNUNG_UBL_CREDIT_NOTE),
                 process: str = BILLING_PROCESS, activation: _dt.datetime | None = None,
                 expiration: _dt.datetime | None = None) -> ParticipantId:
        """Put a participant into the SML and the SMP (replacing an earlier registration)."""
        pid = participant if isinstance(participant, ParticipantId) else ParticipantId.parse(participant)
        now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
        reg = Registration(pid, endpoint_url, ap_cert, tuple(document_types), process,
                           activation or now - _dt.timedelta(days=1), expiration or now + _dt.timedelta(days=365))
        with self._lock:
            self._registrations[str(pid)] = reg
            self._by_name[sml_name(pid, self.zone)] = str(pid)
            self._forget(pid)
        return pid

    def unregister(self, participant: str | ParticipantId) -> None:
        pid = self._pid(participant)
        with self._lock:
            self._registrations.pop(str(pid), None)
            self._by_name.pop(sml_name(pid, self.zone), None)
            self._forget(pid)

    def bad_signature(self, participant: str | ParticipantId) -> None:
        """Its ServiceMetadata is changed after signing (the endpoint URL): the signature no longer holds."""
        self._change(participant, tamper=True)

    def foreign_smp_cert(self, participant: str | ParticipantId) -> None:
        """Its ServiceMetadata is signed by a look-alike SMP certificate outside the trusted Peppol PKI."""
        self._change(participant, foreign=True)

    def expire(self, participant: str | ParticipantId) -> None:
        """Its endpoint's ServiceExpirationDate lies a day in the past."""
        self._change(participant, expiration=_dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
                     - _dt.timedelta(days=1))

    def doc_types(self, participant: str | ParticipantId, document_types: Iterable[str]) -> None:
        """Serve only these document types for it."""
        self._change(participant, document_types=tuple(document_types))

    def redirect(self, participant: str | ParticipantId, target: PeppolDirectorySandbox) -> None:
        """Answer for it with a Redirect to ``target`` (where it must be registered too)."""
        self._change(participant, redirect_to=target)

    def _change(self, participant: str | ParticipantId, **changes: Any) -> None:
        pid = self._pid(participant)
        with self._lock:
            self._registrations[str(pid)] = replace(self._registrations[str(pid)], **changes)
            self._forget(pid)

    @staticmethod
    def _pid(participant: str | ParticipantId) -> ParticipantId:
        return participant if isinstance(participant, ParticipantId) else ParticipantId.parse(participant)

    def _forget(self, pid: ParticipantId) -> None:
        for key in [k for k in self._signed if k[0] == str(pid)]:
            del self._signed[key]

    # ---- DNS ---------------------------------------------------------------------------------------------------
    def dns_fault(self, kind: str | None) -> None:
        """``"servfail"``: answer SERVFAIL; ``"timeout"``: answer nothing; None: answer again."""
        if kind not in (None, "servfail", "timeout"):
            raise ValueError("dns_fault takes 'servfail', 'timeout' or None")
        self._dns_fault = kind


    def dns_truncate(self, on: bool = True) -> None:
        """Answer over UDP only with the TC bit (the client must ask again over TCP, RFC 7766)."""
        self._dns_truncate = on

    def _dns_answer(self, data: bytes, *, udp: bool = False) -> bytes | None:
        try:
            request = dnslib.DNSRecord.parse(data)
        except Exception:  # noqa: BLE001 - not DNS: no answer
            return None
        qname = str(request.q.qname).rstrip(".").lower()
        with self._lock:
            self.dns_queries.append(qname)
        fault = self._dns_fault
        if fault == "timeout":
            return None
        reply = request.reply()
        reply.header.aa = 1
        if udp and self._dns_truncate:
            reply.header.tc = 1
            return reply.pack()
        if fault == "servfail":
            reply.header.rcode = dnslib.RCODE.SERVFAIL
            return reply.pack()
        if qname != self.zone and not qname.endswith("." + self.zone):
            reply.header.rcode = dnslib.RCODE.REFUSED
            return reply.pack()
        with self._lock:
            key = self._by_name.get(qname)
            reg = self._registrations.get(key) if key else None
        if reg is None:
            reply.header.rcode = dnslib.RCODE.NXDOMAIN
            reply.add_auth(dnslib.RR(self.zone + ".", dnslib.QTYPE.SOA, ttl=self.dns_ttl, rdata=dnslib.SOA(
                f"ns.{self.zone}.", f"hostmaster.{self.zone}.", (1, 3600, 600, 86400, self.dns_ttl))))
            return reply.pack()
        if request.q.qtype in (dnslib.QTYPE.NAPTR, dnslib.QTYPE.ANY):
            smp = self.base_url  # the SML names this SMP (a redirect is the SMP's business)
            reply.add_answer(dnslib.RR(request.q.qname, dnslib.QTYPE.NAPTR, ttl=self.dns_ttl, rdata=dnslib.NAPTR(
                100, 10, b"U", b"Meta:SMP", f"!^.*$!{smp}/!".encode(), dnslib.DNSLabel("."))))
        return reply.pack()

    # ---- SMP ---------------------------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if request.method != "GET":
            return Response(405, b"", {"Allow": "GET"})
        path = request.path.lstrip("/")
        first, sep, rest = path.partition("/services/")
        try:
            pid = ParticipantId.parse(unquote(first))
        except Exception:  # noqa: BLE001 - an id that cannot be one is not known here
            return Response(404, b"", {})
        with self._lock:
            reg = self._registrations.get(str(pid))
        if reg is None:
            return Response(404, b"", {})
        if not sep:
            return self._xml(self._service_group(reg))
        doctype = unquote(rest)
        if doctype not in reg.document_types:
            return Response(404, b"", {})
        key = (str(pid), doctype)
        with self._lock:
            body = self._signed.get(key)
        if body is None:
            body = self._service_metadata(reg, doctype)
            with self._lock:
                self._signed[key] = body
        return self._xml(body)

    @staticmethod
    def _xml(body: bytes) -> Response:
        return Response(200, body, {"Content-Type": "text/xml; charset=UTF-8"})

    def _service_group(self, reg: Registration) -> bytes:
        root = etree.Element(f"{{{_SMP_NS}}}ServiceGroup", nsmap=_NSMAP)
        pid = etree.SubElement(root, f"{{{_ID_NS}}}ParticipantIdentifier", scheme=PARTICIPANT_SCHEME)
        pid.text = str(reg.participant)
        refs = etree.SubElement(root, f"{{{_SMP_NS}}}ServiceMetadataReferenceCollection")
        for doctype in reg.document_types:
            etree.SubElement(refs, f"{{{_SMP_NS}}}ServiceMetadataReference", href=(
                f"{self.base_url}/{quote(reg.participant.uri, safe='')}/services/{quote(doctype, safe='')}"))
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def _service_metadata(self, reg: Registration, doctype: str) -> bytes:
        signed_root = etree.Element(f"{{{_SMP_NS}}}SignedServiceMetadata", nsmap=_NSMAP)
        meta = etree.SubElement(signed_root, f"{{{_SMP_NS}}}ServiceMetadata")
        if reg.redirect_to is not None:
            target = reg.redirect_to
            redirect = etree.SubElement(meta, f"{{{_SMP_NS}}}Redirect", href=(
                f"{target.base_url}/{quote(reg.participant.uri, safe='')}/services/{quote(doctype, safe='')}"))
            etree.SubElement(redirect, f"{{{_SMP_NS}}}CertificateUID").text = target.smp_cert.common_name
        else:
            info = etree.SubElement(meta, f"{{{_SMP_NS}}}ServiceInformation")
            etree.SubElement(info, f"{{{_ID_NS}}}ParticipantIdentifier",
                             scheme=PARTICIPANT_SCHEME).text = str(reg.participant)
            doc_scheme, doc_value = split_identifier(doctype)
            etree.SubElement(info, f"{{{_ID_NS}}}DocumentIdentifier", scheme=doc_scheme).text = doc_value
            process = etree.SubElement(etree.SubElement(info, f"{{{_SMP_NS}}}ProcessList"), f"{{{_SMP_NS}}}Process")
            proc_scheme, proc_value = split_identifier(reg.process)
            etree.SubElement(process, f"{{{_ID_NS}}}ProcessIdentifier", scheme=proc_scheme).text = proc_value
            endpoint = etree.SubElement(etree.SubElement(process, f"{{{_SMP_NS}}}ServiceEndpointList"),
                                        f"{{{_SMP_NS}}}Endpoint", transportProfile=AS4_V2)
            ref = etree.SubElement(endpoint, f"{{{_WSA_NS}}}EndpointReference")
            etree.SubElement(ref, f"{{{_WSA_NS}}}Address").text = reg.endpoint_url
            etree.SubElement(endpoint, f"{{{_SMP_NS}}}RequireBusinessLevelSignature").text = "false"
            etree.SubElement(endpoint, f"{{{_SMP_NS}}}ServiceActivationDate").text = _xs(reg.activation)
            etree.SubElement(endpoint, f"{{{_SMP_NS}}}ServiceExpirationDate").text = _xs(reg.expiration)
            etree.SubElement(endpoint, f"{{{_SMP_NS}}}Certificate").text = base64.b64encode(
                reg.ap_cert.public_bytes(Encoding.DER)).decode("ascii")
            etree.SubElement(endpoint, f"{{{_SMP_NS}}}ServiceDescription").text = "Peppol sandbox access point"
            etree.SubElement(endpoint, f"{{{_SMP_NS}}}TechnicalContactUrl").text = "mailto:peppol@sandbox.invalid"
        signer = self.smp_cert
        if reg.foreign:
            if self._foreign_pki is None:
                self._foreign_pki = PeppolTestPKI(self.pki.label, foreign=True)
            signer = self._foreign_pki.issue_smp(self.smp_seat)
        signed = XMLSigner(signature_algorithm=SignatureMethod.RSA_SHA256, digest_algorithm=DigestAlgorithm.SHA256,
                           c14n_algorithm=CanonicalizationMethod.CANONICAL_XML_1_0).sign(
            signed_root, key=signer.key, cert=[signer.cert])
        body = etree.tostring(signed, xml_declaration=True, encoding="UTF-8")
        if reg.tamper:
            body = body.replace(reg.endpoint_url.encode(), b"https://evil.invalid/as4") if reg.redirect_to is None \
                else body.replace(b"<smp:CertificateUID>", b"<smp:CertificateUID>X")
        return body


def _xs(at: _dt.datetime) -> str:
    return at.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
