"""FIT-Connect replies: a document that answers an application goes back into the application's case.

An online service submitted an application to our destination and opened a case (``caseId``); the answer (a
notice, an invoice) is a new submission in that case to the destination the online service named for replies,
through the same flow and client as the BundID bridge (:mod:`.fitconnect_client`). ``Delivery.address`` is the
case id; the case itself (reply destination, service, and the application's ``replyChannel``) comes from
``cases``, the record of received applications.

The applicant's reply channel is respected: the reply's metadata carry the application's ``replyChannel``
unchanged (schema 1.0.0: exactly one of eMail, deMail, fink, elster), so the online service forwards the answer
the way the applicant chose; where the reply destination publishes the reply channels it supports and the
applicant's is not among them, nothing is sent (PermanentFailure: take another channel).

The document goes as encrypted attachment (purpose ``report``), the subject and body as JSON data
``{"title", "text", "reference"}`` under ``data_schema_uri``. Status: accept-submission -> delivered,
reject-submission -> failed, from verified Security Event Tokens.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ._httpclient import HttpClient
from ._journal import Journal
from erechnung.model.delivery import DeliveryFormat
from erechnung.model.documents import DocumentKind

from .base import (Capabilities, Delivery, MailboxConnector, NoticeHandling, PermanentFailure, Receipt, StatusEvent,
                   since_filter)
from .fitconnect_client import (FitConnectClient, FitConnectSettings, OutgoingAttachment, OutgoingSubmission,
                                collect_submission_events)

__all__ = ["FitConnectReplyConnector", "REPLY_SCHEMA", "ReplyCase"]

log = logging.getLogger(__name__)

CHANNEL = "fit_connect"
REPLY_SCHEMA = "urn:erechnung:fit-connect:reply:1.0.0"
REPLY_CHANNELS = ("eMail", "deMail", "fink", "elster")


@dataclass(frozen=True)
class ReplyCase:
    """A received application's case, as far as a reply needs it."""

    case_id: str
    destination_id: str  # where replies in this case go (the online service's destination)
    service_identifier: str  # the application's service (LeiKa URN)
    service_name: str
    reply_channel: dict[str, Any] | None = None  # the application's metadata.replyChannel


class FitConnectReplyConnector(MailboxConnector):
    def __init__(self, settings: FitConnectSettings,
                 cases: Mapping[str, ReplyCase] | Callable[[str], ReplyCase | None], *,
                 data_schema_uri: str = REPLY_SCHEMA, journal: Journal | None = None,
                 http: HttpClient | None = None) -> None:
        self.client = FitConnectClient(settings, channel=CHANNEL, http=http)
        self._cases = cases
        self.data_schema_uri = data_schema_uri
        self.journal = journal or Journal()
        self._capabilities = Capabilities(channel=CHANNEL, kinds=frozenset(DocumentKind),
                                          formats=frozenset(DeliveryFormat), max_bytes=None,
                                          notices=NoticeHandling.CARRY)

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def _case(self, case_id: str) -> ReplyCase | None:
        if callable(self._cases):
            return self._cases(case_id)
        return self._cases.get(case_id)

    def _refuse(self, reason: str, delivery: Delivery, code: str = "case") -> PermanentFailure:
        return PermanentFailure(reason, channel=CHANNEL, delivery_id=delivery.delivery_id, code=code)

    def _check_reply_channel(self, case: ReplyCase, delivery: Delivery) -> None:
        chosen = case.reply_channel
        if chosen is None:
            return
        if len(chosen) != 1 or next(iter(chosen)) not in REPLY_CHANNELS:
            raise self._refuse(f"der Antwortkanal des Antrags ist keiner von {', '.join(REPLY_CHANNELS)}",
                               delivery, "replyChannel")
        offered = self.client.destination(case.destination_id, delivery_id=delivery.delivery_id).get("replyChannels")
        kind = next(iter(chosen))
        if offered and kind not in offered:
            raise self._refuse(f"der Antragsteller hat den Antwortkanal {kind} gewählt, den der Zustellpunkt des "
                               f"Onlinedienstes nicht anbietet ({', '.join(sorted(offered))}); auf anderem Weg senden",
                               delivery, "replyChannel")

    def send(self, delivery: Delivery) -> Receipt:
        self.check(delivery)
        done = self.journal.get(delivery.delivery_id)
        if done and done.get("channel_message_id"):
            return _receipt(done)
        case = self._case(delivery.address.strip())
        if case is None:
            raise self._refuse("kein FIT-Connect-Vorgang mit dieser Kennung bekannt: eine Antwort braucht den Vorgang "
                               "des Antrags, auf den sie antwortet", delivery)
        self._check_reply_channel(case, delivery)
        data = json.dumps({"title": delivery.subject, "text": delivery.body, "reference": delivery.delivery_id},
                          ensure_ascii=False).encode("utf-8")
        outgoing = OutgoingSubmission(
            destination_id=case.destination_id, service_identifier=case.service_identifier,
            service_name=case.service_name,
            attachments=(OutgoingAttachment(delivery.content, delivery.filename, delivery.media_type,
                                            purpose="report", description=delivery.subject[:200] or None),),
            data=data, data_schema_uri=self.data_schema_uri, case_id=case.case_id,
            reply_channel=case.reply_channel, sender_reference=delivery.delivery_id)
        sent = self.client.submit(outgoing, delivery_id=delivery.delivery_id)
        record = self.journal.update(
            delivery.delivery_id, channel=CHANNEL, channel_message_id=sent.submission_id,
            submission_id=sent.submission_id, case_id=sent.case_id, destination_id=sent.destination_id,
            tags=sent.tags, accepted_at=sent.submitted_at.isoformat(), evidence=sent.evidence.decode())
        log.info("fit_connect: delivery %s sent as reply %s in case %s", delivery.delivery_id, sent.submission_id,
                 sent.case_id)
        return _receipt(record)

    def collect_events(self, since: datetime | None = None) -> list[StatusEvent]:
        return since_filter(collect_submission_events(self.client, self.journal), since)

    def close(self) -> None:
        self.client.close()


def _receipt(record: dict[str, Any]) -> Receipt:
    return Receipt(delivery_id=record["delivery_id"], channel=CHANNEL, channel_message_id=record["channel_message_id"],
                   accepted_at=datetime.fromisoformat(record["accepted_at"]), evidence=record["evidence"].encode(),
                   evidence_type="text/plain")
