"""User story: a notice served electronically against acknowledgement (§ 5 Abs. 4 VwZG) reaches the BundID postbox
through the FIT-Connect bridge marked "Zustellung gegen Empfangsbekenntnis"; the citizen's dated and signed
Empfangsbekenntnis comes back (§ 5 Abs. 7 Satz 1 VwZG) and the adapter reports it as an ``acknowledged`` event at
the date the citizen put on it, the whole returned mail (with the EB document) as evidence."""
from __future__ import annotations

import email
import email.policy
from datetime import datetime, timedelta, timezone

import pytest

from mailbox_connectors.base import EventState, ServiceOrder

from .conftest import make_delivery, pdfa

pytestmark = pytest.mark.xdist_group("delivery_postbox_bridge")

ORDER = ServiceOrder(form="zustellung_eb", title="Elektronische Zustellung gegen Empfangsbekenntnis",
                     paragraph="§ 5 Abs. 4 VwZG", marking="Zustellung gegen Empfangsbekenntnis",
                     proof="empfangsbekenntnis", reference="32.1-2026/0017", sender="Stadt Musterstadt",
                     addressee=("Anna Muster", "Hauptstr. 1", "12345 Musterstadt"))


def served(mailbox: str):
    return make_delivery(mailbox, content=pdfa("Widerspruchsbescheid"),
                         subject="Zustellung gegen Empfangsbekenntnis: Bescheid 17",
                         body="Zustellung gegen Empfangsbekenntnis\n\nAbsendende Behörde: Stadt Musterstadt")


def stored_message(zbp, delivery_id: str):
    (stored,) = [m for m in zbp.messages.values() if m.message["reference"] == delivery_id]
    return stored


def test_the_returned_empfangsbekenntnis_is_an_acknowledged_event_at_its_date(bridge, fit, zbp):
    delivery = served(zbp.add_mailbox())
    assert ServiceOrder.from_json(ORDER.to_json()) == ORDER
    receipt = bridge.send(delivery)
    fit.wait_processed(receipt.channel_message_id)
    stored = stored_message(zbp, delivery.delivery_id)
    assert stored.message["title"].startswith("Zustellung gegen Empfangsbekenntnis")
    signed_on = (datetime.now(timezone.utc) + timedelta(days=1)).astimezone()
    assert zbp.acknowledge(stored.message_id, signed_on, "Anna Muster")
    (event,) = [e for e in bridge.collect_events() if e.state is EventState.ACKNOWLEDGED]
    assert event.delivery_id == delivery.delivery_id and event.at == signed_on
    assert event.event_id == f"zbp-eb:{stored.message_id}" and "Anna Muster" in event.reason
    mail = email.message_from_bytes(event.evidence, policy=email.policy.default)
    (document,) = [p for p in mail.iter_attachments() if p.get_filename() == "empfangsbekenntnis.pdf"]
    assert document.get_content().startswith(b"%PDF-")
    assert [e.event_id for e in bridge.collect_events() if e.state is EventState.ACKNOWLEDGED] == [event.event_id]


def test_an_ordinary_postbox_message_cannot_be_acknowledged(bridge, fit, zbp):
    delivery = make_delivery(zbp.add_mailbox(), content=pdfa("Grundsteuerbescheid"))
    receipt = bridge.send(delivery)
    fit.wait_processed(receipt.channel_message_id)
    with pytest.raises(ValueError, match="not marked"):
        zbp.acknowledge(stored_message(zbp, delivery.delivery_id).message_id, datetime.now(timezone.utc), "A. Muster")
