"""The Peppol channel end to end against the sandbox network on loopback: the SML's DNS, a signed SMP, a receiving
access point over HTTPS. Each user story of issue 13's Peppol part, and each failure mode of the real network, as
the delivery service sees it: a receipt with the verified signed Receipt as evidence, or a TemporaryFailure
(same channel later) or PermanentFailure (the next hop of the route)."""
from __future__ import annotations

import datetime as _dt

import pytest
from lxml import etree

from erechnung.model.delivery import DeliveryFormat
from erechnung.model.documents import DocumentKind
from mailbox_connectors._journal import Journal
from mailbox_connectors.base import Delivery, EventState, PermanentFailure, TemporaryFailure
from mailbox_connectors.peppol.connector import PeppolConnector, PeppolSettings, message_ids
from mailbox_connectors.peppol.trust import CertificateRejected
from mailbox_connectors.sandboxes.peppol_ap import PeppolApSandbox
from mailbox_connectors.sandboxes.peppol_directory import PeppolDirectorySandbox
from mailbox_connectors.sandboxes.peppol_pki import AP_CA, SMP_CA, PeppolTestPKI
from mailbox_connectors.sandboxes.pki import TestCA

from .as4_support import INVOICE

LANDKREIS = "0204:05999-KREIS01-90"
SCHULE = "0204:05999002-SCHULE-36"
CREDIT_NOTE = (INVOICE.replace(b"Invoice-2", b"CreditNote-2").replace(b"<Invoice", b"<CreditNote")
               .replace(b"</Invoice>", b"</CreditNote>"))


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    """One PKI, the SML+SMP and the receiving AP, sharing one TLS root; the Landkreis registered."""
    pki, tls = PeppolTestPKI("channel-test"), TestCA("peppol channel test TLS")
    mls = tmp_path_factory.mktemp("mls")
    with PeppolDirectorySandbox(pki, ca=tls) as directory, \
            PeppolApSandbox(pki, seat="PDE000002", mls_outbox=mls, tls_ca=tls) as ap:
        yield pki, tls, directory, ap, mls


@pytest.fixture
def registered(network):
    pki, tls, directory, ap, mls = network
    directory.register(LANDKREIS, endpoint_url=ap.base_url, ap_cert=ap.ap.cert)
    directory.register("0204:991-33333TEST-33", endpoint_url=ap.base_url, ap_cert=ap.ap.cert)
    yield network
    directory.unregister(LANDKREIS)
    directory.unregister(SCHULE)
    directory.reset()  # faults, DNS faults
    ap.reset()  # faults, not serviced, MLS rejections


def connector(network, tmp_path, *, pki=None, journal=None, timeout=5.0, **kw) -> PeppolConnector:
    net_pki, tls, directory, ap, mls = network
    issued = (pki or net_pki).issue_ap("PDE000001", org="Stadt Musterstadt")
    crt, key = issued.write(tmp_path, "ap")
    trust = tmp_path / "trust.pem"
    trust.write_bytes(net_pki.ca_pem)
    tls_file = tmp_path / "tls.pem"
    tls_file.write_bytes(tls.root_pem)
    settings = PeppolSettings.from_files(
        ap_cert=crt, ap_key=key, trust=trust, sender_id="9930:DE123456789", ap_seat="PDE000001",
        sml_zone=directory.zone, nameservers=tuple(directory.nameservers), ap_ca_name=AP_CA, smp_ca_name=SMP_CA,
        tls_ca=tls_file, mls_inbox=mls, timeout=timeout, **kw)
    return PeppolConnector(settings, journal=journal or Journal())


def _c14n(xml: bytes) -> bytes:
    return etree.tostring(etree.fromstring(xml), method="c14n")


def invoice(delivery_id: str = "musterstadt-1-peppol-1", content: bytes = INVOICE, to: str = LANDKREIS) -> Delivery:
    return Delivery(delivery_id, DocumentKind.INVOICE, DeliveryFormat.XRECHNUNG, content, "RE-1.xml",
                    "application/xml", to, "Rechnung RE-1")


def test_an_invoice_reaches_the_public_body_with_the_access_points_signed_receipt_as_proof(registered, tmp_path):
    _, _, _, ap, _ = registered
    with connector(registered, tmp_path) as c:
        receipt = c.send(invoice())
    message_id, _ = message_ids("musterstadt-1-peppol-1", "PDE000001")
    assert receipt.channel == "peppol" and receipt.channel_message_id == message_id
    assert _c14n(ap.received[message_id].payload) == _c14n(INVOICE)  # the SBDH carries it (declaration aside)
    assert b"-> signed receipt" in receipt.evidence and b"NonRepudiationInformation" in receipt.evidence
    assert ap.received[message_id].receiver == "iso6523-actorid-upis::0204:05999-kreis01-90"


def test_a_credit_note_travels_with_its_own_document_type(registered, tmp_path):
    _, _, _, ap, _ = registered
    with connector(registered, tmp_path) as c:
        receipt = c.send(invoice("musterstadt-2-peppol-1", CREDIT_NOTE))
    assert "CreditNote-2::CreditNote##" in ap.received[receipt.channel_message_id].document_type


def test_a_repeated_send_carries_the_same_message_id_and_the_receiver_keeps_one(registered, tmp_path):
    """A worker that died after the POST and before recording the receipt sends again: same MessageId."""
    _, _, _, ap, _ = registered
    with connector(registered, tmp_path) as first, connector(registered, tmp_path) as after_crash:
        a = first.send(invoice("musterstadt-3-peppol-1"))
        b = after_crash.send(invoice("musterstadt-3-peppol-1"))
    assert a.channel_message_id == b.channel_message_id
    assert ap.answered[a.channel_message_id] == 2 and a.channel_message_id in ap.received


def test_the_journal_answers_a_send_it_already_made(registered, tmp_path):
    journal = Journal(tmp_path / "peppol.jsonl")
    with connector(registered, tmp_path, journal=journal) as c:
        first = c.send(invoice("musterstadt-4-peppol-1"))
    with connector(registered, tmp_path, journal=Journal(tmp_path / "peppol.jsonl")) as c:
        assert c.send(invoice("musterstadt-4-peppol-1")) == first


def test_a_participant_not_in_the_sml_is_no_peppol_recipient(registered, tmp_path):
    with connector(registered, tmp_path) as c, pytest.raises(PermanentFailure) as err:
        c.send(invoice(to=SCHULE))
    assert err.value.code == "SML NXDOMAIN" and "nicht in Peppol registriert" in err.value.reason


def test_a_participant_whose_smp_does_not_serve_the_document_type_is_no_recipient_for_it(registered, tmp_path):
    _, _, directory, _, _ = registered
    directory.doc_types(LANDKREIS, ["busdox-docid-qns::urn:example:other##x::1"])
    with connector(registered, tmp_path) as c, pytest.raises(PermanentFailure) as err:
        c.send(invoice())
    assert "SMP" in err.value.code or "served" in err.value.code


def test_peppol_not_serviced_from_the_receiving_access_point_is_permanent(registered, tmp_path):
    _, _, _, ap, _ = registered
    ap.not_serviced("0204:05999-KREIS01-90")
    with connector(registered, tmp_path) as c, pytest.raises(PermanentFailure) as err:
        c.send(invoice("musterstadt-5-peppol-1"))
    assert "PEPPOL:NOT_SERVICED" in err.value.code


def test_smp_metadata_signed_outside_the_peppol_pki_is_refused(registered, tmp_path):
    _, _, directory, _, _ = registered
    directory.foreign_smp_cert(LANDKREIS)
    with connector(registered, tmp_path) as c, pytest.raises(PermanentFailure) as err:
        c.send(invoice("musterstadt-6-peppol-1"))
    assert err.value.code == "SMP certificate"


def test_an_unavailable_access_point_is_tried_again_later(registered, tmp_path):
    _, _, _, ap, _ = registered
    ap.faults.fail(503, times=1)
    with connector(registered, tmp_path) as c:
        with pytest.raises(TemporaryFailure) as err:
            c.send(invoice("musterstadt-7-peppol-1"))
        assert err.value.code == "HTTP 503"
        assert c.send(invoice("musterstadt-7-peppol-1")).channel == "peppol"  # the retry goes through


def test_a_silent_access_point_times_out_as_a_temporary_failure(registered, tmp_path):
    _, _, _, ap, _ = registered
    ap.faults.stall(3.0, times=1)
    with connector(registered, tmp_path, timeout=0.5) as c, pytest.raises(TemporaryFailure) as err:
        c.send(invoice("musterstadt-8-peppol-1"))
    assert err.value.code == "timeout"


def test_dns_servfail_is_temporary(registered, tmp_path):
    _, _, directory, _, _ = registered
    directory.dns_fault("servfail")
    with connector(registered, tmp_path) as c, pytest.raises(TemporaryFailure) as err:
        c.send(invoice("musterstadt-9-peppol-1"))
    assert err.value.code == "DNS SERVFAIL"


def test_message_level_status_answers_become_tracking_events(registered, tmp_path):
    """MLS AP -> retrieved (the receipt made it delivered); MLS RE -> failed with the receiver's reason (then the
    route's next channel)."""
    _, _, _, ap, _ = registered
    ap.reject_mls("0204:05999-KREIS01-90", "Bestellnummer unbekannt")
    with connector(registered, tmp_path) as c:
        c.send(invoice("musterstadt-10-peppol-1"))
        c.send(invoice("musterstadt-10b-peppol-1", to="0204:991-33333TEST-33"))
        events = {e.delivery_id: e for e in c.collect_events() if e.state is not EventState.DELIVERED}
        states = {(e.delivery_id, e.state) for e in c.collect_events()}
    assert ("musterstadt-10b-peppol-1", EventState.DELIVERED) in states  # the signed receipt
    assert ("musterstadt-10b-peppol-1", EventState.RETRIEVED) in states  # MLS AP: the receiver's system took it
    assert "MLS AP" in events["musterstadt-10b-peppol-1"].reason
    rejected = events["musterstadt-10-peppol-1"]
    assert rejected.state is EventState.FAILED and "Bestellnummer unbekannt" in rejected.reason
    assert rejected.evidence.startswith(b"<?xml") or b"ApplicationResponse" in rejected.evidence
    assert [e for e in c.collect_events(since=rejected.at + _dt.timedelta(seconds=1))
            if e.delivery_id == rejected.delivery_id] == []


def test_our_access_point_certificate_must_be_one_of_the_network(network, tmp_path):
    with pytest.raises(CertificateRejected, match="nicht unter einer vertrauenswürdigen Peppol-Wurzel ausgestellt"):
        connector(network, tmp_path, pki=PeppolTestPKI("channel-test", foreign=True))


def test_a_notice_or_a_pdf_is_not_for_peppol(registered, tmp_path):
    pdf = Delivery("musterstadt-11-peppol-1", DocumentKind.INVOICE, DeliveryFormat.ZUGFERD, b"%PDF-1.7", "a.pdf",
                   "application/pdf", LANDKREIS, "Rechnung")
    with connector(registered, tmp_path) as c, pytest.raises(PermanentFailure, match="Format zugferd"):
        c.send(pdf)
