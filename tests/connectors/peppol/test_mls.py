"""Peppol Message Level Status: what the sandbox writes, the sender reads; and what is no MLS is refused."""
from __future__ import annotations

import datetime as _dt

import pytest

from mailbox_connectors.peppol.mls import MlsError, MlsReason, build_mls, parse_mls

AT = _dt.datetime(2026, 3, 1, 9, 30, 15, tzinfo=_dt.timezone.utc)  # a fixed moment, compared only with itself


def test_acceptance_and_rejection_round_trip():
    accepted = parse_mls(build_mls(refers_to_instance_id="sbdh-1", code="AP", sender_seat="PDE000002",
                                   receiver_seat="PDE000001", at=AT, mls_id="mls-1"))
    assert (accepted.mls_id, accepted.refers_to_instance_id, accepted.code, accepted.reasons) == (
        "mls-1", "sbdh-1", "AP", ())
    assert accepted.accepted and accepted.issued_at == AT
    assert (accepted.sender_seat, accepted.receiver_seat) == ("PDE000002", "PDE000001")
    rejected = parse_mls(build_mls(refers_to_instance_id="sbdh-2", code="RE", sender_seat="PDE000002",
                                   receiver_seat="PDE000001", at=AT, description="abgelehnt",
                                   reasons=(MlsReason("BV", "BR-DE-15 <Leitweg-ID> fehlt & mehr"),
                                            MlsReason("FD", "Empfänger unbekannt"))))
    assert not rejected.accepted and rejected.description == "abgelehnt"
    assert rejected.reasons == (MlsReason("BV", "BR-DE-15 <Leitweg-ID> fehlt & mehr"),
                                MlsReason("FD", "Empfänger unbekannt"))


def test_building_refuses_what_mls_does_not_allow():
    with pytest.raises(ValueError, match="response code"):
        build_mls(refers_to_instance_id="x", code="OK", sender_seat="a", receiver_seat="b", at=AT)
    with pytest.raises(ValueError, match="needs at least one reason"):
        build_mls(refers_to_instance_id="x", code="RE", sender_seat="a", receiver_seat="b", at=AT)


@pytest.mark.parametrize("change, message", [
    (lambda x: x.replace(b"urn:peppol:edec:mls:1.0", b"urn:other"), "no MLS"),
    (lambda x: x.replace(b">AP<", b">XX<"), "none of AP, AB, RE"),
    (lambda x: x.replace(b"<cbc:ID>sbdh-1</cbc:ID>", b""), "DocumentReference"),
    (lambda x: b"<!DOCTYPE x []>" + x.split(b"?>", 1)[1], "DOCTYPE"),
    (lambda x: x[:50], "not well-formed"),
])
def test_reading_refuses_what_is_no_mls(change, message):
    good = build_mls(refers_to_instance_id="sbdh-1", code="AP", sender_seat="PDE000002", receiver_seat="PDE000001",
                     at=AT)
    with pytest.raises(MlsError, match=message):
        parse_mls(change(good))
