"""Peppol discovery against its sandbox: a real DNS server (UDP and TCP) and a real HTTPS SMP on loopback, with
the Peppol-shaped test PKI. Each test registers participants of its own (fresh German VAT ids), so that one
sandbox serves the module."""
from __future__ import annotations

import itertools
import secrets
import shutil
import ssl
import subprocess
from datetime import datetime, timedelta, timezone

import dns.message
import dns.query
import httpx
import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from mailbox_connectors.base import PermanentFailure, TemporaryFailure
from mailbox_connectors.peppol.discovery import (
    DiscoveryUnavailable, DocumentTypeNotServed, ParticipantNotFound, ServiceNotActive, UntrustedMetadata, sml_name,
)
from mailbox_connectors.peppol.identifiers import (
    BILLING_PROCESS, XRECHNUNG_UBL_CREDIT_NOTE, XRECHNUNG_UBL_INVOICE, ParticipantId,
)
from mailbox_connectors.sandboxes._http import Response
from mailbox_connectors.sandboxes.peppol_directory import PeppolDirectorySandbox
from mailbox_connectors.sandboxes.peppol_pki import PeppolTestPKI

CII_INVOICE = ("busdox-docid-qns::urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100::CrossIndustryInvoice"
               "##urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0::D16B")
_seq = itertools.count(1)


@pytest.fixture(scope="module")
def pki() -> PeppolTestPKI:
    return PeppolTestPKI()


@pytest.fixture(scope="module")
def ap(pki):
    return pki.issue_ap("PDE000001")


@pytest.fixture(scope="module")
def directory(pki):
    sandbox = PeppolDirectorySandbox(pki).start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(autouse=True)
def _reset(directory):
    directory.reset()
    yield
    directory.reset()


class Clock:
    """A settable clock, starting at the real time (the test PKI's certificates are valid around now)."""

    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def new_participant() -> str:
    return f"9930:DE{secrets.randbelow(10**8):08d}{next(_seq) % 10}"


def url(n: int) -> str:
    return f"https://ap{n}.sandbox.invalid/as4"


def test_finds_the_endpoint_and_certificate(directory, ap):
    pid = directory.register(new_participant(), endpoint_url=url(1), ap_cert=ap.cert)
    with directory.discovery() as discovery:
        found = discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
        credit = discovery.endpoint(pid, XRECHNUNG_UBL_CREDIT_NOTE, BILLING_PROCESS)
    assert found.url == credit.url == url(1)
    assert found.certificate == ap.cert
    assert found.transport_profile == "peppol-transport-as4-v2_0"
    assert found.participant == pid and found.document_type == XRECHNUNG_UBL_INVOICE
    assert found.process == BILLING_PROCESS
    assert found.smp_url == directory.base_url
    assert found.service_expiration is not None and found.service_expiration > datetime.now(timezone.utc)
    assert found.metadata_url.startswith(directory.base_url + "/iso6523-actorid-upis%3A%3A9930%3Ade")


def test_a_leitweg_id_in_any_case_is_found(directory, ap):
    directory.register("0204:991-33333TEST-33", endpoint_url=url(2), ap_cert=ap.cert)
    with directory.discovery() as discovery:
        found = discovery.endpoint(ParticipantId.parse("iso6523-actorid-upis::0204:991-33333test-33"),
                                   XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
    assert found.url == url(2)


def test_unknown_participant_is_a_permanent_failure(directory):
    pid = ParticipantId.parse(new_participant())
    with directory.discovery() as discovery, pytest.raises(ParticipantNotFound) as caught:
        discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
    err = caught.value
    assert isinstance(err, PermanentFailure) and err.channel == "peppol" and err.code == "SML NXDOMAIN"
    assert f"{pid} ist nicht in Peppol registriert" in str(err) and "anderen Kanal" in str(err)


def test_document_type_not_served(directory, ap):
    pid = directory.register(new_participant(), endpoint_url=url(3), ap_cert=ap.cert)
    directory.doc_types(pid, [CII_INVOICE])
    with directory.discovery() as discovery:
        with pytest.raises(DocumentTypeNotServed) as caught:
            discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
        assert caught.value.code == "SMP 404" and "empfängt aber diese Dokumentart nicht" in str(caught.value)
        assert discovery.capabilities(pid) == [CII_INVOICE]
        assert discovery.endpoint(pid, CII_INVOICE, BILLING_PROCESS).url == url(3)


def test_process_not_served(directory, ap):
    pid = directory.register(new_participant(), endpoint_url=url(4), ap_cert=ap.cert,
                             process="cenbii-procid-ubl::urn:fdc:peppol.eu:2017:poacc:selfbilling:01:1.0")
    with directory.discovery() as discovery, pytest.raises(DocumentTypeNotServed) as caught:
        discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
    assert caught.value.code == "process not served"


def test_signature_changed_after_signing_is_refused(directory, ap):
    pid = directory.register(new_participant(), endpoint_url=url(5), ap_cert=ap.cert)
    directory.bad_signature(pid)
    with directory.discovery() as discovery, pytest.raises(UntrustedMetadata) as caught:
        discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
    assert isinstance(caught.value, PermanentFailure) and caught.value.code == "SMP signature"
    assert "ungültige Signatur" in str(caught.value)


def test_smp_certificate_outside_the_peppol_pki_is_refused(directory, ap):
    pid = directory.register(new_participant(), endpoint_url=url(6), ap_cert=ap.cert)
    directory.foreign_smp_cert(pid)
    with directory.discovery() as discovery, pytest.raises(UntrustedMetadata) as caught:
        discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
    assert caught.value.code == "SMP certificate"
    assert "nicht unter einer vertrauenswürdigen Peppol-Wurzel ausgestellt" in str(caught.value)


def test_smp_signed_by_an_ap_certificate_is_refused(pki, ap):
    """The SMP CA and the AP CA are kept apart: an AP's certificate cannot sign SMP answers."""
    sandbox = PeppolDirectorySandbox(pki, smp_seat="PDE000777")
    sandbox.smp_cert = pki.issue_ap("PDE000777")
    with sandbox.start():
        pid = sandbox.register(new_participant(), endpoint_url=url(7), ap_cert=ap.cert)
        with sandbox.discovery() as discovery, pytest.raises(UntrustedMetadata) as caught:
            discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
    assert caught.value.code == "SMP certificate" and "PEPPOL SERVICE METADATA PUBLISHER TEST CA" in str(caught.value)


@pytest.mark.parametrize("which", ["foreign", "smp"])
def test_access_point_certificate_outside_the_ap_ca_is_refused(directory, pki, which):
    cert = (PeppolTestPKI(foreign=True).issue_ap("PDE000001") if which == "foreign"
            else pki.issue_smp("PDE000002")).cert
    pid = directory.register(new_participant(), endpoint_url=url(8), ap_cert=cert)
    with directory.discovery() as discovery, pytest.raises(UntrustedMetadata) as caught:
        discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
    assert caught.value.code == "AP certificate"


def test_expired_service_is_refused(directory, ap):
    pid = directory.register(new_participant(), endpoint_url=url(9), ap_cert=ap.cert)
    directory.expire(pid)
    with directory.discovery() as discovery, pytest.raises(ServiceNotActive) as caught:
        discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
    assert caught.value.code == "service expired" and "Peppol-Registrierung zu erneuern" in str(caught.value)


def test_service_dates_are_read_against_the_injected_clock(directory, ap):
    clock = Clock()
    starts = clock.now.replace(microsecond=0) + timedelta(hours=2)
    pid = directory.register(new_participant(), endpoint_url=url(10), ap_cert=ap.cert, activation=starts,
                             expiration=starts + timedelta(days=1))
    with directory.discovery(clock=clock) as discovery:
        with pytest.raises(ServiceNotActive) as caught:
            discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
        assert caught.value.code == "service not active"
        clock.advance(3 * 3600)  # active now, and still cached: no new SMP answer needed
        assert discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS).url == url(10)
        clock.advance(24 * 3600)
        with pytest.raises(ServiceNotActive):
            discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)


@pytest.mark.parametrize("kind, code", [("servfail", "DNS SERVFAIL"), ("timeout", "DNS timeout")])
def test_dns_failures_are_temporary(directory, ap, kind, code):
    pid = directory.register(new_participant(), endpoint_url=url(11), ap_cert=ap.cert)
    directory.dns_fault(kind)
    with directory.discovery(timeout=0.5) as discovery:
        with pytest.raises(DiscoveryUnavailable) as caught:
            discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
        assert isinstance(caught.value, TemporaryFailure) and caught.value.code == code
        directory.dns_fault(None)  # not cached: the next try goes through
        assert discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS).url == url(11)


def test_smp_unavailable_is_temporary(directory, ap):
    pid = directory.register(new_participant(), endpoint_url=url(12), ap_cert=ap.cert)
    with directory.discovery(timeout=0.5) as discovery:
        directory.faults.fail(503, retry_after=7)
        with pytest.raises(DiscoveryUnavailable) as caught:
            discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
        assert caught.value.code == "SMP 503" and caught.value.retry_after == 7
        directory.faults.throttle(3)
        with pytest.raises(DiscoveryUnavailable) as caught:
            discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
        assert caught.value.code == "SMP 429"
        directory.faults.stall(2)
        with pytest.raises(DiscoveryUnavailable) as caught:
            discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
        assert caught.value.code == "SMP timeout"
        directory.faults.drop()
        with pytest.raises(DiscoveryUnavailable) as caught:
            discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
        assert caught.value.code == "SMP connection"
        assert discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS).url == url(12)


def test_smp_tls_not_trusted_is_permanent(directory, ap, tmp_path):
    pid = directory.register(new_participant(), endpoint_url=url(13), ap_cert=ap.cert)
    other = tmp_path / "other.pem"
    other.write_bytes(PeppolTestPKI("tls-other").root_pem)
    with directory.discovery(smp_tls_ca=other) as discovery, pytest.raises(UntrustedMetadata) as caught:
        discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
    assert caught.value.code == "SMP TLS"


def test_answers_are_cached_by_ttl(directory, ap):
    clock = Clock()
    pid = directory.register(new_participant(), endpoint_url=url(14), ap_cert=ap.cert)
    name = sml_name(pid, directory.zone)
    smp_path = "/" + pid.uri.replace(":", "%3A")

    def dns_asked() -> int:
        return directory.dns_queries.count(name)

    def smp_asked() -> int:
        return len(directory.requests_to("GET", smp_path))

    with directory.discovery(clock=clock, smp_ttl=3600) as discovery:
        discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
        assert (dns_asked(), smp_asked()) == (1, 1)
        discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
        assert (dns_asked(), smp_asked()) == (1, 1)  # neither DNS nor the SMP asked again
        clock.advance(directory.dns_ttl + 1)  # the DNS record's TTL is over, the SMP answer is still fresh
        discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
        assert (dns_asked(), smp_asked()) == (2, 1)
        clock.advance(3600)
        directory.register(pid, endpoint_url=url(15), ap_cert=ap.cert)  # moved: seen once the cache expired
        assert discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS).url == url(15)
        assert (dns_asked(), smp_asked()) == (3, 2)


def test_negative_answers_are_cached_shorter(directory, ap):
    clock = Clock()
    pid = ParticipantId.parse(new_participant())
    with directory.discovery(clock=clock, negative_ttl=120) as discovery:
        with pytest.raises(ParticipantNotFound):
            discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
        directory.register(pid, endpoint_url=url(16), ap_cert=ap.cert)
        with pytest.raises(ParticipantNotFound):  # still the cached NXDOMAIN
            discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
        assert directory.dns_queries.count(sml_name(pid, directory.zone)) == 1
        clock.advance(121)
        assert discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS).url == url(16)


def test_redirect_to_another_smp_is_followed_once(pki, directory, ap):
    with PeppolDirectorySandbox(pki, smp_seat="PDE000901", ca=directory.ca) as other:
        pid = directory.register(new_participant(), endpoint_url=url(17), ap_cert=ap.cert)
        other.register(pid, endpoint_url=url(18), ap_cert=ap.cert)
        directory.redirect(pid, other)
        with directory.discovery() as discovery:
            found = discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
            assert found.url == url(18) and found.smp_url == directory.base_url
            assert found.metadata_url.startswith(other.base_url)
        other.redirect(pid, directory)  # a second hop
        with directory.discovery() as discovery, pytest.raises(UntrustedMetadata) as caught:
            discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
        assert caught.value.code == "SMP redirect" and "mehr als einmal" in str(caught.value)


def test_redirect_answered_by_another_smp_than_named_is_refused(pki, directory, ap):
    with PeppolDirectorySandbox(pki, smp_seat="PDE000902", ca=directory.ca) as other:
        pid = directory.register(new_participant(), endpoint_url=url(22), ap_cert=ap.cert)
        other.register(pid, endpoint_url=url(23), ap_cert=ap.cert)
        directory.redirect(pid, other)
        with directory.discovery() as discovery:  # the redirect is signed now, naming PDE000902
            assert discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS).url == url(23)
        other.smp_cert = pki.issue_smp("PDE000903")  # the target signs as another SMP than the redirect names
        other.register(pid, endpoint_url=url(23), ap_cert=ap.cert)
        with directory.discovery() as discovery, pytest.raises(UntrustedMetadata) as caught:
            discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
        assert caught.value.code == "SMP redirect" and "PDE000903" in str(caught.value)


def test_dns_answers_over_tcp_as_over_udp(directory, ap):
    pid = directory.register(new_participant(), endpoint_url=url(19), ap_cert=ap.cert)
    query = dns.message.make_query(sml_name(pid, directory.zone), "NAPTR")
    for ask in (dns.query.udp, dns.query.tcp):
        answer = ask(query, "127.0.0.1", port=directory.dns_port, timeout=2)
        (record,) = answer.answer[0]
        assert record.service == b"Meta:SMP" and record.flags == b"U"
        assert record.regexp.decode() == f"!^.*$!{directory.base_url}/!"


@pytest.mark.skipif(shutil.which("xmlsec1") is None, reason="xmlsec1 is not installed")
def test_the_sandbox_signature_verifies_with_xmlsec1(directory, pki, ap, tmp_path):
    """The sandbox signs as SMP 1.x says: an independent verifier (xmlsec1) accepts the signed ServiceMetadata
    under the test root, and refuses it once changed."""
    pid = directory.register(new_participant(), endpoint_url=url(20), ap_cert=ap.cert)
    with directory.discovery() as discovery:
        metadata_url = discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS).metadata_url
    body = httpx.get(metadata_url, verify=ssl.create_default_context(cafile=str(directory.ca.root_path))).content
    (tmp_path / "root.pem").write_bytes(pki.root.cert.public_bytes(Encoding.PEM))
    (tmp_path / "smp-ca.pem").write_bytes(pki.smp_ca.cert.public_bytes(Encoding.PEM))
    for name, data, ok in (("signed.xml", body, True),
                           ("changed.xml", body.replace(url(20).encode(), url(21).encode()), False)):
        (tmp_path / name).write_bytes(data)
        result = subprocess.run(["xmlsec1", "--verify", "--trusted-pem", str(tmp_path / "root.pem"),
                                 "--untrusted-pem", str(tmp_path / "smp-ca.pem"), str(tmp_path / name)],
                                capture_output=True, text=True, timeout=30)
        assert (result.returncode == 0) is ok, result.stderr[-400:]


def test_nxdomain_is_cached_no_longer_than_the_zone_says(directory, ap):
    clock = Clock()
    pid = ParticipantId.parse(new_participant())
    with directory.discovery(clock=clock, negative_ttl=3600) as discovery:
        with pytest.raises(ParticipantNotFound):
            discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
        directory.register(pid, endpoint_url=url(24), ap_cert=ap.cert)
        clock.advance(directory.dns_ttl + 1)  # the SOA's negative TTL (RFC 2308), shorter than negative_ttl
        assert discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS).url == url(24)


def test_truncated_udp_answer_is_asked_again_over_tcp(directory, ap):
    pid = directory.register(new_participant(), endpoint_url=url(25), ap_cert=ap.cert)
    directory.dns_truncate()
    with directory.discovery() as discovery:
        assert discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS).url == url(25)
    assert directory.dns_queries.count(sml_name(pid, directory.zone)) == 2  # UDP (truncated), then TCP


def test_smp_answer_is_bounded_in_size(directory, ap):
    pid = directory.register(new_participant(), endpoint_url=url(26), ap_cert=ap.cert)
    with directory.discovery(max_bytes=1000) as discovery, pytest.raises(UntrustedMetadata) as caught:
        discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
    assert caught.value.code == "SMP size"


class _OddSmp(PeppolDirectorySandbox):
    """An SMP that answers every ServiceMetadata request with ``body``."""

    body = b""

    def handle(self, request):
        if "/services/" in request.path:
            return Response(200, self.body, {"Content-Type": "text/xml"})
        return super().handle(request)


@pytest.mark.parametrize("body", [
    b"<not xml",
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>',
    b'<smp:ServiceMetadata xmlns:smp="http://busdox.org/serviceMetadata/publishing/1.0/"/>',  # unsigned
])
def test_broken_or_unsigned_smp_answers_are_refused(pki, ap, body):
    with _OddSmp(pki, smp_seat="PDE000904") as odd:
        odd.body = body
        pid = odd.register(new_participant(), endpoint_url=url(27), ap_cert=ap.cert)
        with odd.discovery() as discovery, pytest.raises(UntrustedMetadata) as caught:
            discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
    assert caught.value.code == "SMP answer"


def test_a_signed_answer_for_another_participant_is_refused(pki, directory, ap):
    """A genuine signed answer replayed for another participant (the SMP's signature covers the identifiers)."""
    other = directory.register(new_participant(), endpoint_url=url(28), ap_cert=ap.cert)
    with directory.discovery() as discovery:
        metadata_url = discovery.endpoint(other, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS).metadata_url
    replay = httpx.get(metadata_url, verify=ssl.create_default_context(cafile=str(directory.ca.root_path))).content
    with _OddSmp(pki, ca=directory.ca) as odd:
        odd.body = replay
        pid = odd.register(new_participant(), endpoint_url=url(29), ap_cert=ap.cert)
        with odd.discovery() as discovery, pytest.raises(UntrustedMetadata) as caught:
            discovery.endpoint(pid, XRECHNUNG_UBL_INVOICE, BILLING_PROCESS)
    assert caught.value.code == "SMP answer" and "anderen Teilnehmer" in str(caught.value)
