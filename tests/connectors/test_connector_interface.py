"""The one interface every channel implements: what a delivery, a receipt and an event must hold, and how a
channel's capabilities refuse what it cannot carry (with a sentence a clerk understands)."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest

from erechnung.model.delivery import DeliveryFormat
from erechnung.model.documents import DocumentKind
from mailbox_connectors.base import (
    Capabilities, Delivery, DeliveryError, NoticeHandling, PermanentFailure, Receipt, StatusEvent, TemporaryFailure,
    since_filter,
)


def delivery(**overrides) -> Delivery:
    values = dict(delivery_id="dlv-1", kind="invoice", format="xrechnung", content=b"<Invoice/>",
                  filename="RE-1.xml", media_type="application/xml", address="erika@example.org",
                  subject="Rechnung RE-1 für Erika Mustermann", body="Guten Tag Frau Mustermann")
    values.update(overrides)
    return Delivery(**values)


def test_delivery_carries_its_sha256_and_hides_content_and_personal_data_in_repr():
    d = delivery()
    assert d.sha256 == hashlib.sha256(b"<Invoice/>").hexdigest()
    assert d.size == len(b"<Invoice/>")
    assert d.kind is DocumentKind.INVOICE and d.format is DeliveryFormat.XRECHNUNG
    text = repr(d)
    assert "Invoice/" not in text and "erika" not in text and "Mustermann" not in text and "dlv-1" in text
    with pytest.raises(ValueError, match="sha256 passt nicht zum Inhalt"):
        delivery(sha256="0" * 64)
    assert delivery(sha256=d.sha256.upper()).sha256 == d.sha256  # checked, kept in lower case
    with pytest.raises(ValueError, match="keine Empfängeradresse"):
        delivery(address=" ")
    with pytest.raises(ValueError):
        delivery(delivery_id="")


def test_state_formats_map_to_delivery_formats():
    assert DeliveryFormat.of("ubl") is DeliveryFormat.of("cii") is DeliveryFormat.XRECHNUNG
    assert DeliveryFormat.of("zugferd") is DeliveryFormat.ZUGFERD
    assert DeliveryFormat.of("notice_pdf") is DeliveryFormat.PDFA
    with pytest.raises(ValueError):
        DeliveryFormat.of("passthrough")


def test_capabilities_refuse_with_a_reason_the_clerk_understands():
    peppol = Capabilities("peppol", frozenset({DocumentKind.INVOICE}), frozenset({DeliveryFormat.XRECHNUNG}),
                          max_bytes=1000, notices=NoticeHandling.NONE)
    notice = delivery(kind="notice", format="pdfa", media_type="application/pdf")
    assert peppol.refusal(notice) == "der Kanal peppol stellt keine Bescheide zu"
    assert "stellt keine Dokumente der Art credit_note zu" in peppol.refusal(delivery(kind="credit_note"))
    assert "nimmt das Format zugferd nicht an (nur xrechnung)" in peppol.refusal(delivery(format="zugferd"))
    assert "nimmt höchstens 1 kB" in peppol.refusal(delivery(content=b"x" * 2000))
    assert peppol.refusal(delivery()) is None
    email_like = Capabilities("email", frozenset({DocumentKind.INVOICE}), frozenset({DeliveryFormat.XRECHNUNG}),
                              max_bytes=10, notices=NoticeHandling.NOTIFY_ONLY)
    assert email_like.refusal(notice) is None  # only notified: neither its format nor its size matter


def test_receipts_and_events_are_in_utc_and_digest_their_evidence():
    with pytest.raises(ValueError, match="time zone"):
        Receipt("dlv-1", "email", "<m@x>", datetime(2026, 3, 1, 12, 0))
    r = Receipt("dlv-1", "email", "<m@x>", datetime(2026, 3, 1, 13, 0, tzinfo=timezone.utc), evidence=b"250 OK")
    assert r.accepted_at.tzinfo is timezone.utc and len(r.evidence_sha256) == 64
    early = StatusEvent("e1", "dlv-1", "email", "delayed", datetime(2026, 3, 1, 13, 0, tzinfo=timezone.utc), b"a")
    same = StatusEvent("e0", "dlv-1", "email", "delivered", datetime(2026, 3, 1, 13, 0, tzinfo=timezone.utc), b"b")
    assert [e.event_id for e in since_filter([early, same], None)] == ["e1", "e0"]  # reported order kept
    assert since_filter([early], datetime(2026, 3, 1, 13, 0, 1, tzinfo=timezone.utc)) == []


def test_failures_say_what_to_do_and_which_way_to_go():
    temporary = TemporaryFailure("greylisted; try again later", channel="email", delivery_id="dlv-1",
                                 code="451 4.7.1", retry_after=300)
    permanent = PermanentFailure("mailbox unknown; deliver by another channel", channel="email", code="550 5.1.1")
    assert isinstance(temporary, DeliveryError) and isinstance(permanent, DeliveryError)
    assert str(temporary) == "email, Zustellung dlv-1: greylisted; try again later (451 4.7.1)"
    assert temporary.retry_after == 300 and permanent.evidence == b""
