"""The FIT-Connect sandbox with its receiving system (decrypt, check, bridge, sign accept-submission) in
processes of its own, as the benchmark runs it: the same checks and the same verified outcome as in-process."""
from __future__ import annotations

import hashlib

import pytest

from mailbox_connectors.base import EventState
from mailbox_connectors.bundid import BundIdBridgeConnector
from mailbox_connectors.sandboxes.fitconnect import FitConnectSandbox

from .conftest import fit_settings, make_delivery, pdfa, wait_for

pytestmark = pytest.mark.xdist_group("delivery_postbox_subscriber_processes")


@pytest.fixture(scope="module")
def fit_processes(zbp):
    sandbox = FitConnectSandbox(bridge_to=zbp, subscribers=2, subscriber_processes=True).start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def bridge_processes(fit_processes, bundid_settings):
    issued = fit_processes.issue_author("Stadt Musterstadt Stadtkasse")
    from mailbox_connectors.bundid import AuthorIdentity

    connector = BundIdBridgeConnector(fit_settings(fit_processes), bundid_settings,
                                      AuthorIdentity(issued.cert_pem, issued.key_pem),
                                      bridge_destination_id=fit_processes.bridge_destination_id)
    yield connector
    connector.close()


def test_subscriber_processes_decrypt_bridge_and_sign_what_the_client_verifies(bridge_processes, fit_processes, zbp):
    mailboxes = [zbp.add_mailbox() for _ in range(4)]
    deliveries = [make_delivery(m, content=pdfa(f"Bescheid {i}")) for i, m in enumerate(mailboxes)]
    receipts = [bridge_processes.send(d) for d in deliveries]
    for receipt in receipts:
        fit_processes.wait_processed(receipt.channel_message_id)
    for delivery, receipt in zip(deliveries, receipts):
        received = fit_processes.received(receipt.channel_message_id)
        assert received.state == "accepted", received.problems
        assert list(received.attachment_plaintexts.values()) == [delivery.content]
        stored = [m for m in zbp.messages.values() if m.message["reference"] == delivery.delivery_id]
        assert len(stored) == 1 and stored[0].files == {"bescheid.pdf": delivery.content}
        assert stored[0].message["attachments"][0]["sha512sum"] == hashlib.sha512(delivery.content).hexdigest()
    wanted = {d.delivery_id for d in deliveries}
    events = wait_for(bridge_processes.collect_events,
                      lambda ev: wanted <= {e.delivery_id for e in ev if e.state is EventState.DELIVERED})
    assert wanted <= {e.delivery_id for e in events if e.state is EventState.DELIVERED}
    assert not bridge_processes.client.refused_events


def test_a_refusal_in_a_subscriber_process_is_a_signed_reject_with_its_reason(bridge_processes, fit_processes, zbp):
    fit_processes.zbp_mailboxes = set(zbp.mailboxes)
    try:
        unknown = "0b8f3c1e-9a7d-4e2b-8c5f-1d2e3f4a5b6c"
        delivery = make_delivery(unknown)
        receipt = bridge_processes.send(delivery)
        fit_processes.wait_processed(receipt.channel_message_id)
        received = fit_processes.received(receipt.channel_message_id)
        assert received.state == "rejected" and "mailboxUuid" in received.problems[0]["detail"]
        events = wait_for(bridge_processes.collect_events,
                          lambda ev: any(e.delivery_id == delivery.delivery_id for e in ev))
        (event,) = [e for e in events if e.delivery_id == delivery.delivery_id]
        assert event.state is EventState.FAILED and "mailboxUuid" in event.reason
    finally:
        fit_processes.zbp_mailboxes = None
