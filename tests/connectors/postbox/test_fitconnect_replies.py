"""User story: the answer to an online application (a notice, an invoice) goes back into the application's
FIT-Connect case, and the reply channel the applicant chose is respected."""
from __future__ import annotations

import uuid

import pytest

from mailbox_connectors.base import EventState, PermanentFailure
from mailbox_connectors.fitconnect import REPLY_SCHEMA, FitConnectReplyConnector, ReplyCase
from mailbox_connectors.fitconnect_client import OutgoingAttachment, OutgoingSubmission

from .conftest import fit_settings, make_delivery, wait_for

pytestmark = pytest.mark.xdist_group("delivery_postbox_replies")

SERVICE = "urn:de:fim:leika:leistung:99108008000000"  # a LeiKa service (Gewerbeanmeldung)
EMAIL = {"eMail": {"address": "antragstellerin@example.org"}}


@pytest.fixture(scope="module")
def online_service(fit) -> str:
    """The online service's destination for replies; it forwards answers by eMail or ELSTER."""
    return fit.add_destination([{"identifier": SERVICE, "regions": ["DE"],
                                 "submissionSchemas": [{"schemaUri": REPLY_SCHEMA, "mimeType": "application/json"}]}],
                               reply_channels={"eMail": {}, "elster": {}})


@pytest.fixture
def cases() -> dict[str, ReplyCase]:
    return {}


@pytest.fixture
def replies(fit, cases):
    connector = FitConnectReplyConnector(fit_settings(fit), cases)
    yield connector
    connector.close()


def _case(fit, cases, online_service, reply_channel) -> ReplyCase:
    case_id = fit.open_case(online_service, reply_channel=reply_channel)
    case = ReplyCase(case_id, online_service, SERVICE, "Gewerbeanmeldung", reply_channel)
    cases[case_id] = case
    return case


def test_a_reply_goes_into_the_applications_case_with_the_chosen_reply_channel(fit, replies, cases, online_service):
    case = _case(fit, cases, online_service, EMAIL)
    delivery = make_delivery(case.case_id, subject="Gewerbeanmeldung: Bescheid", body="Anbei Ihr Bescheid.")
    receipt = replies.send(delivery)
    fit.wait_processed(receipt.channel_message_id)
    sub = fit.received(receipt.channel_message_id)
    assert sub.state == "accepted", sub.problems
    assert sub.case_id == case.case_id and sub.destination_id == online_service
    assert sub.metadata["replyChannel"] == EMAIL
    assert sub.metadata["contentStructure"]["attachments"][0]["purpose"] == "report"
    assert list(sub.attachment_plaintexts.values()) == [delivery.content]
    events = wait_for(replies.collect_events, lambda ev: any(e.delivery_id == delivery.delivery_id for e in ev))
    assert [e.state for e in events if e.delivery_id == delivery.delivery_id] == [EventState.DELIVERED]


def test_a_reply_without_a_chosen_channel_carries_none(fit, replies, cases, online_service):
    case = _case(fit, cases, online_service, None)
    receipt = replies.send(make_delivery(case.case_id))
    fit.wait_processed(receipt.channel_message_id)
    sub = fit.received(receipt.channel_message_id)
    assert sub.state == "accepted" and "replyChannel" not in sub.metadata


def test_a_reply_that_ignores_the_chosen_channel_is_rejected_by_the_receiver(fit, replies, cases, online_service):
    case = _case(fit, cases, online_service, EMAIL)
    outgoing = OutgoingSubmission(online_service, SERVICE, "Gewerbeanmeldung",
                                  (OutgoingAttachment(b"%PDF-1.7", "a.pdf", "application/pdf", "report"),),
                                  data=b"{}", data_schema_uri=REPLY_SCHEMA, case_id=case.case_id,
                                  reply_channel={"deMail": {"address": "x@example.de-mail.de"}})
    sent = replies.client.submit(outgoing)
    fit.wait_processed(sent.submission_id)
    sub = fit.received(sent.submission_id)
    assert sub.state == "rejected" and "reply channel" in sub.problems[0]["detail"]


def test_a_channel_the_online_service_does_not_offer_is_refused_before_sending(fit, replies, cases, online_service):
    case = _case(fit, cases, online_service, {"fink": {"finkPostfachRef": "hh/by/12345"}})
    before = len(fit.submissions)
    with pytest.raises(PermanentFailure) as caught:
        replies.send(make_delivery(case.case_id))
    assert "Antwortkanal fink" in caught.value.reason and len(fit.submissions) == before


def test_an_invalid_reply_channel_is_refused_naming_the_field(fit, replies, cases, online_service):
    case = _case(fit, cases, online_service, {"elster": {"accountId": "12345"}})  # not 10 digits
    with pytest.raises(PermanentFailure) as caught:
        replies.send(make_delivery(case.case_id))
    assert "replyChannel/elster/accountId" in caught.value.reason


def test_a_reply_to_an_unknown_case_is_refused(replies):
    with pytest.raises(PermanentFailure, match="kein FIT-Connect-Vorgang mit dieser Kennung bekannt"):
        replies.send(make_delivery(str(uuid.uuid4())))


def test_cases_can_come_from_a_lookup_function(fit, online_service):
    case_id = fit.open_case(online_service)
    lookup = {case_id: ReplyCase(case_id, online_service, SERVICE, "Gewerbeanmeldung")}.get
    connector = FitConnectReplyConnector(fit_settings(fit), lookup)
    try:
        receipt = connector.send(make_delivery(case_id))
    finally:
        connector.close()
    assert fit.received(receipt.channel_message_id).case_id == case_id
