"""AS4 over real HTTPS: the sender's message to the receiving AP sandbox with httpx, the signed receipt back, the
MLS answer in the sender's inbox folder, and the network's failure modes as the channel's failures."""
from __future__ import annotations

import time

import httpx
import pytest

from mailbox_connectors.base import PermanentFailure, TemporaryFailure
from mailbox_connectors.peppol import as4
from mailbox_connectors.peppol.mls import parse_mls
from mailbox_connectors.sandboxes.peppol_ap import PeppolApSandbox
from mailbox_connectors.sandboxes.peppol_pki import AP_CA, PeppolTestPKI

from .as4_support import INVOICE, RECEIVER, build, identity, now, pki, trust


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    p = pki()
    sandbox = PeppolApSandbox(p, seat="PDE000002", mls_outbox=tmp_path_factory.mktemp("mls-inbox"))
    with sandbox:
        yield p, identity(p, "PDE000001"), sandbox


@pytest.fixture
def ap(network):
    p, sender, sandbox = network
    sandbox.reset()
    return p, sender, sandbox


@pytest.fixture
def client(network):
    _, _, sandbox = network
    with httpx.Client(verify=sandbox.tls_ca.client_context(), timeout=httpx.Timeout(5, connect=2)) as c:
        yield c


def send(client, sandbox, p, message, *, receiver_cert=None):
    return as4.exchange(client, sandbox.base_url, message, receiver_cert=receiver_cert or sandbox.ap.cert,
                        trust_roots=trust(p), at=now(), ap_ca_cn=AP_CA, delivery_id="dlv-1")


def test_message_goes_through_and_comes_back_with_a_signed_receipt_and_an_mls(ap, client):
    p, sender, sandbox = ap
    message = build(sender, sandbox.ap.cert, message_id="https-1@erechnung")
    receipt = send(client, sandbox, p, message)
    assert receipt.ref_to_message_id == "https-1@erechnung" and receipt.receiver_seat == "PDE000002"
    got = sandbox.received["https-1@erechnung"]
    assert got.payload.split(b"?>", 1)[1].strip() == INVOICE.split(b"?>", 1)[1].strip()
    assert got.envelope.instance_id == message.instance_id
    mls = parse_mls((sandbox.mls_outbox / f"mls-{message.instance_id}.xml").read_bytes())
    assert (mls.code, mls.refers_to_instance_id, mls.sender_seat, mls.receiver_seat) == (
        "AP", message.instance_id, "PDE000002", "PDE000001")


def test_the_same_message_id_twice_is_answered_twice_but_stored_once(ap, client):
    p, sender, sandbox = ap
    first = send(client, sandbox, p, build(sender, sandbox.ap.cert, message_id="dup-1@erechnung"))
    again = send(client, sandbox, p, build(sender, sandbox.ap.cert, message_id="dup-1@erechnung"))
    assert first.ref_to_message_id == again.ref_to_message_id == "dup-1@erechnung"
    assert sandbox.answered["dup-1@erechnung"] == 2
    assert list(sandbox.received).count("dup-1@erechnung") == 1
    assert len(list(sandbox.mls_outbox.glob("mls-*.xml"))) == len(sandbox.received)


def test_receiver_not_serviced_is_permanent(ap, client):
    p, sender, sandbox = ap
    sandbox.not_serviced(RECEIVER)
    with pytest.raises(PermanentFailure) as caught:
        send(client, sandbox, p, build(sender, sandbox.ap.cert, message_id="ns-1@erechnung"))
    assert caught.value.code == "EBMS:0004 PEPPOL:NOT_SERVICED" and caught.value.channel == "peppol"
    assert b"PEPPOL:NOT_SERVICED" in caught.value.evidence
    assert "ns-1@erechnung" not in sandbox.received


def test_an_ebms_error_in_an_http_500_answer_is_read_as_the_error(ap, client):
    p, sender, sandbox = ap
    sandbox.not_serviced(RECEIVER)
    sandbox.error_status = 500
    try:
        with pytest.raises(PermanentFailure) as caught:
            send(client, sandbox, p, build(sender, sandbox.ap.cert, message_id="ns-500@erechnung"))
    finally:
        sandbox.error_status = 200
    assert caught.value.code == "EBMS:0004 PEPPOL:NOT_SERVICED"


def test_mls_rejection_arrives_in_the_inbox(ap, client):
    p, sender, sandbox = ap
    sandbox.reject_mls(RECEIVER, "BR-DE-15: Leitweg-ID fehlt")
    message = build(sender, sandbox.ap.cert, message_id="re-1@erechnung")
    send(client, sandbox, p, message)  # the receipt comes; the rejection is business level
    mls = parse_mls((sandbox.mls_outbox / f"mls-{message.instance_id}.xml").read_bytes())
    assert mls.code == "RE" and not mls.accepted
    assert [(r.code, r.description) for r in mls.reasons] == [("BV", "BR-DE-15: Leitweg-ID fehlt")]


def test_foreign_sender_certificate_is_refused_with_ebms_0101(ap, client):
    p, _, sandbox = ap
    foreign = identity(PeppolTestPKI("as4-tests", foreign=True), "PDE000001")
    with pytest.raises(PermanentFailure) as caught:
        send(client, sandbox, p, build(foreign, sandbox.ap.cert, message_id="foreign-1@erechnung"))
    assert caught.value.code == "EBMS:0101" and "vertrauenswürdigen Peppol-Wurzel" in caught.value.reason
    assert "foreign-1@erechnung" not in sandbox.received


def test_encrypted_for_the_wrong_certificate_is_refused_with_ebms_0102(ap, client):
    p, sender, sandbox = ap
    # an outdated SMP entry: a certificate of the same seat with another key
    stale = identity(PeppolTestPKI("as4-stale"), "PDE000002")
    message = build(sender, stale.cert, message_id="stale-1@erechnung")
    with pytest.raises(PermanentFailure) as caught:
        send(client, sandbox, p, message, receiver_cert=stale.cert)
    assert caught.value.code == "EBMS:0102" and "stale-1@erechnung" not in sandbox.received


def test_receipt_not_signed_by_the_certificate_the_smp_named_is_invalid(ap, client):
    p, sender, sandbox = ap
    other = identity(p, "PDE000077")
    message = build(sender, sandbox.ap.cert, message_id="wrongsig-1@erechnung")
    with pytest.raises(PermanentFailure) as caught:
        send(client, sandbox, p, message, receiver_cert=other.cert)
    assert caught.value.code == "EBMS:0302"


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_are_temporary(ap, client, status):
    p, sender, sandbox = ap
    sandbox.faults.fail(status, retry_after=7 if status in (503, 429) else None)
    with pytest.raises(TemporaryFailure) as caught:
        send(client, sandbox, p, build(sender, sandbox.ap.cert, message_id=f"5xx-{status}@erechnung"))
    assert caught.value.code == f"HTTP {status}"
    if status in (503, 429):
        assert caught.value.retry_after == 7


def test_a_stalled_and_a_dropped_connection_are_temporary_and_the_resend_goes_through(ap, network):
    p, sender, sandbox = ap
    message = build(sender, sandbox.ap.cert, message_id="stall-1@erechnung")
    with httpx.Client(verify=sandbox.tls_ca.client_context(), timeout=httpx.Timeout(0.5, connect=2)) as impatient:
        sandbox.faults.stall(3)
        with pytest.raises(TemporaryFailure) as caught:
            send(impatient, sandbox, p, message)
        assert caught.value.code == "timeout"
        sandbox.faults.drop()
        with pytest.raises(TemporaryFailure) as caught:
            send(impatient, sandbox, p, message)
        assert caught.value.code == "connection"
        receipt = send(impatient, sandbox, p, message)
    assert receipt.ref_to_message_id == "stall-1@erechnung"


def test_a_refusal_without_an_as4_answer_is_permanent(ap, client):
    p, sender, sandbox = ap
    sandbox.faults.fail(404)
    with pytest.raises(PermanentFailure) as caught:
        send(client, sandbox, p, build(sender, sandbox.ap.cert, message_id="404-1@erechnung"))
    assert caught.value.code == "HTTP 404"


def test_how_long_one_message_takes(ap, client, capsys):
    """Not a timed assert: prints what build + HTTPS exchange + receipt check cost on this machine."""
    p, sender, sandbox = ap
    send(client, sandbox, p, build(sender, sandbox.ap.cert, message_id="warm@erechnung"))
    rounds = 30
    t_build = t_total = 0.0
    for i in range(rounds):
        start = time.perf_counter()
        message = build(sender, sandbox.ap.cert, message_id=f"bench-{i}@erechnung")
        built = time.perf_counter()
        send(client, sandbox, p, message)
        t_build += built - start
        t_total += time.perf_counter() - start
    with capsys.disabled():
        print(f"\nAS4 per message: build {t_build / rounds * 1000:.1f} ms, build + HTTPS exchange with the sandbox "
              f"(receive, receipt, MLS file) + receipt check {t_total / rounds * 1000:.1f} ms")
