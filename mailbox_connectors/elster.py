"""ELSTER business postbox ("Mein Unternehmenskonto") through ELSTER-Transfer's local REST interface.

ELSTER-Transfer runs on the authority's own server; this adapter posts a provision order
(``POST /rest/bereitstellungsauftrag/v3``) and reads answers (``GET /rest/eingang/antworten``). There is no
public spec: the message shape is the sandbox's (``sandboxes/elster.py``), built on channels.md section 3.

* Documents go as PDF/A only: a document whose XMP metadata claim no PDF/A part (``pdfaid:part``), or that is
  no PDF at all, is refused with PermanentFailure before anything is sent. (Full PDF/A conformance is the
  document checks' business: ``erechnung.documents.checks``.)
* ``Delivery.address`` is the company's ELSTER account id (10 digits); ``auftragsReferenz`` is the delivery id,
  so that ELSTER-Transfer answers a repeated order with the first acknowledgement.
* The acknowledgement means the document was provided: the receipt, and a ``delivered`` event. ELSTER has no
  retrieval callback, so there is never a ``retrieved`` event; an error answer later on -> ``failed``.
* Unavailable (connection refused, 503, other 5xx, 429, timeouts) -> TemporaryFailure; refusals (4xx) ->
  PermanentFailure with the reason.
"""
from __future__ import annotations

import base64
import io
import json
import logging
import re
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pikepdf

from ._journal import Journal
from erechnung.model.delivery import Channel

from .base import (Capabilities, Delivery, EventState, MailboxConnector, PermanentFailure, Receipt, StatusEvent,
                   TemporaryFailure, since_filter)
from .registry import entry
from .fitconnect_client import problem_detail, retry_after, tls_refused

__all__ = ["ElsterConnector", "ElsterSettings", "pdfa_part"]

log = logging.getLogger(__name__)

CHANNEL = Channel.ELSTER
_ACCOUNT = re.compile(r"^\d{10}$")


@dataclass(frozen=True)
class ElsterSettings:
    base_url: str  # ELSTER-Transfer's local REST base, e.g. https://elster-transfer.intern:8443
    api_token: str | None = field(default=None, repr=False)  # ELSTER-Transfer's local API token
    tls_ca: Path | None = None  # PEM CA file for its TLS certificate; None: the system's trust store
    timeout: float = 60.0
    connect_timeout: float = 10.0
    max_bytes: int | None = None


def pdfa_part(data: bytes) -> str | None:
    """The PDF/A part and conformance the document claims (``"3B"``), or None (no PDF/A claim, or no PDF)."""
    if not data.startswith(b"%PDF-"):
        return None
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            status = pdf.open_metadata().pdfa_status
    except (pikepdf.PdfError, ValueError, KeyError):
        return None
    return status or None


class ElsterConnector(MailboxConnector):
    def __init__(self, settings: ElsterSettings, *, journal: Journal | None = None,
                 http: httpx.Client | None = None) -> None:
        self.settings = settings
        self.journal = journal or Journal()
        if http is None:
            ctx = ssl.create_default_context(cafile=str(settings.tls_ca) if settings.tls_ca else None)
            http = httpx.Client(verify=ctx, timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout))
        self.http = http
        self._base = settings.base_url.rstrip("/")
        self._capabilities = entry(CHANNEL).accepts.capabilities(CHANNEL, settings.max_bytes)

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.api_token}"} if self.settings.api_token else {}

    def _permanent(self, reason: str, delivery: Delivery, code: str, evidence: bytes = b"") -> PermanentFailure:
        return PermanentFailure(reason, channel=CHANNEL, delivery_id=delivery.delivery_id, code=code,
                                evidence=evidence)

    def _temporary(self, reason: str, delivery_id: str | None, code: str, *, after: float | None = None,
                   evidence: bytes = b"") -> TemporaryFailure:
        return TemporaryFailure(reason, channel=CHANNEL, delivery_id=delivery_id, code=code, retry_after=after,
                                evidence=evidence)

    def _call(self, method: str, path: str, delivery_id: str | None, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.request(method, self._base + path, headers=self._headers(), **kwargs)
        except httpx.TimeoutException:
            raise self._temporary(f"ELSTER-Transfer hat nicht innerhalb von {self.settings.timeout:g} s geantwortet; "
                                  "später erneut versuchen", delivery_id, "timeout") from None
        except httpx.TransportError as exc:
            if tls_refused(exc):
                raise PermanentFailure("dem TLS-Zertifikat von ELSTER-Transfer wird nicht vertraut; die ELSTER-"
                                       "Einstellungen (tls_ca) prüfen", channel=CHANNEL, delivery_id=delivery_id,
                                       code="TLS") from None
            raise self._temporary("ELSTER-Transfer ist nicht erreichbar: läuft der Dienst auf seinem Server? "
                                  "Später erneut versuchen", delivery_id, "connection") from None

    def send(self, delivery: Delivery) -> Receipt:
        self.check(delivery)
        account = delivery.address.strip()
        if not _ACCOUNT.match(account):
            raise self._permanent("die ELSTER-Kontonummer des Empfängers muss 10 Ziffern haben; die ELSTER-Adresse "
                                  "des Empfängers prüfen", delivery, "address")
        if delivery.media_type != "application/pdf" or pdfa_part(delivery.content) is None:
            raise self._permanent(f"ELSTER nimmt Dokumente nur als PDF/A an; {delivery.filename} ist kein PDF/A "
                                  "(keine PDF/A-Kennung in seinen Metadaten): als PDF/A erzeugen und erneut senden",
                                  delivery, "format")
        done = self.journal.get(delivery.delivery_id)
        if done and done.get("channel_message_id"):
            return _receipt(done)
        order = {"auftragsReferenz": delivery.delivery_id, "empfaenger": {"accountId": account},
                 "betreff": delivery.subject[:255], "nachricht": delivery.body,
                 "dokumente": [{"dateiname": delivery.filename, "mimeType": "application/pdf",
                                "inhalt": base64.b64encode(delivery.content).decode("ascii"),
                                "sha256": delivery.sha256}]}
        response = self._call("POST", "/rest/bereitstellungsauftrag/v3", delivery.delivery_id, json=order)
        at = datetime.now(timezone.utc)
        evidence = (f"{at.isoformat(timespec='milliseconds')} POST /rest/bereitstellungsauftrag/v3 "
                    f"(document {delivery.filename} sha256={delivery.sha256}) -> {response.status_code}\n  "
                    f"{response.text[:2000]}\n").encode()
        status, code = response.status_code, f"HTTP {response.status_code}"
        if status in (200, 201):
            answer = response.json()
            auftrags_id = str(answer.get("auftragsId") or "")
            if not auftrags_id:
                raise self._temporary("ELSTER-Transfer hat ohne Auftragsnummer quittiert; später erneut versuchen",
                                      delivery.delivery_id, code, evidence=evidence)
            provided = str(answer.get("bereitgestelltAm") or at.isoformat())
            record = self.journal.update(delivery.delivery_id, channel=CHANNEL, channel_message_id=auftrags_id,
                                         accepted_at=at.isoformat(), evidence=evidence.decode(),
                                         delivered={"at": provided, "status": answer.get("status", "")})
            log.info("elster: delivery %s provided as order %s", delivery.delivery_id, auftrags_id)
            return _receipt(record)
        detail = problem_detail(response)
        if status == 429 or status >= 500:
            after = retry_after(response)
            what = ("ist nicht verfügbar" if status == 503
                    else ("ist ausgelastet" if status == 429 else "hatte einen Serverfehler"))
            raise self._temporary(f"ELSTER-Transfer {what}; später erneut versuchen", delivery.delivery_id, code,
                                  after=after, evidence=evidence)
        if status == 401:
            raise self._permanent("ELSTER-Transfer hat unser API-Token abgelehnt; die ELSTER-Einstellungen prüfen",
                                  delivery, code, evidence)
        if status == 404:
            raise self._permanent("ELSTER kennt kein Konto mit dieser Nummer: die ELSTER-Kontonummer des "
                                  "Unternehmens prüfen",
                                  delivery, code, evidence)
        raise self._permanent(f"ELSTER-Transfer hat den Bereitstellungsauftrag abgelehnt: "
                              f"{detail or response.reason_phrase}",
                              delivery, code, evidence)

    def collect_events(self, since: datetime | None = None) -> list[StatusEvent]:
        records = {r["delivery_id"]: r for r in self.journal.records() if r.get("channel_message_id")}
        events = [StatusEvent(event_id=f"elster-provided:{r['channel_message_id']}", delivery_id=r["delivery_id"],
                              channel=CHANNEL, state=EventState.DELIVERED,
                              at=datetime.fromisoformat(r["delivered"]["at"]), evidence=r["evidence"].encode())
                  for r in records.values() if r.get("delivered")]
        if records:
            response = self._call("GET", "/rest/eingang/antworten", None)
            if response.status_code != 200:
                raise self._temporary(f"ELSTER-Transfer hat seine Antworten nicht aufgelistet (HTTP "
                                      f"{response.status_code}); später erneut versuchen", None,
                                      f"HTTP {response.status_code}")
            by_order = {r["channel_message_id"]: r for r in records.values()}
            for answer in response.json().get("antworten", []):
                record = by_order.get(answer.get("auftragsId"))
                if record is None or answer.get("art") != "FEHLER":
                    continue  # replies of the company are no delivery status
                events.append(StatusEvent(
                    event_id=f"elster-answer:{answer['antwortId']}", delivery_id=record["delivery_id"],
                    channel=CHANNEL, state=EventState.FAILED, at=datetime.fromisoformat(answer["zeitpunkt"]),
                    evidence=_json_bytes(answer), evidence_type="application/json",
                    reason="ELSTER meldet, dass die Bereitstellung gescheitert ist: "
                    + str(answer.get("text") or "ohne Angabe eines Grundes")))
        return since_filter(events, since)

    def close(self) -> None:
        self.http.close()


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True).encode("utf-8")


def _receipt(record: dict[str, Any]) -> Receipt:
    return Receipt(delivery_id=record["delivery_id"], channel=CHANNEL, channel_message_id=record["channel_message_id"],
                   accepted_at=datetime.fromisoformat(record["accepted_at"]), evidence=record["evidence"].encode(),
                   evidence_type="text/plain")

