"""ELSTER-Transfer sandbox: the local REST interface through which an authority puts documents into a company's
ELSTER business postbox ("Mein Unternehmenskonto").

No public spec of ELSTER-Transfer's REST interface exists: this sandbox follows the outline in
``shared/docs/channels.md`` section 3 (provision order ``/rest/bereitstellungsauftrag/v3``, replies
``/rest/eingang/antworten``, documents as PDF/A, an acknowledgement and no retrieval callback) and fills in
the rest with plain JSON of its own, which the adapter ``mailbox_connectors/elster.py`` speaks:

``POST /rest/bereitstellungsauftrag/v3`` (``Authorization: Bearer <local API token>``)::

    {"auftragsReferenz": "<the sender's id, idempotency key>", "empfaenger": {"accountId": "<10 digits>"},
     "betreff": "...", "nachricht": "...",
     "dokumente": [{"dateiname": "x.pdf", "mimeType": "application/pdf", "inhalt": "<base64>", "sha256": "<hex>"}]}

-> ``201 {"auftragsId", "auftragsReferenz", "status": "BEREITGESTELLT", "bereitgestelltAm"}`` (the
acknowledgement); the same ``auftragsReferenz`` again -> ``200`` with the first answer. Refusals: 400 (fields),
404 (unknown account), 422 (a document that is not PDF/A, hash differs). ``GET /rest/eingang/antworten?seit=ISO``
-> ``{"antworten": [{"antwortId", "auftragsId", "auftragsReferenz", "art": "FEHLER" | "NACHRICHT", "zeitpunkt",
"text"}]}``.

Failure modes on command: ``faults.fail(503)`` (unavailable), other 5xx, ``faults.stall()``, ``faults.drop()``,
4xx rejections with ``faults.fail(422)``, ``fail_provision(auftrags_id, text)`` (a later error answer) and
``stop()`` (ELSTER-Transfer not running: connection refused).
"""
from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hashlib
import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from ._http import Request, Response, SandboxServer
from .pki import TestCA

__all__ = ["ElsterSandbox", "looks_like_pdfa"]

_ACCOUNT = re.compile(r"^\d{10}$")
_PDFAID = re.compile(rb"pdfaid:part(?:\s[^>]*)?>\s*[1-4]|pdfaid:part\s*=\s*[\"'][1-4]")


def looks_like_pdfa(data: bytes) -> bool:
    """A PDF whose XMP metadata claim PDF/A (``pdfaid:part`` 1-4); PDF/A keeps its XMP uncompressed."""
    return data.startswith(b"%PDF-") and _PDFAID.search(data) is not None


@dataclass
class ProvisionOrder:
    auftrags_id: str
    reference: str
    account_id: str
    subject: str
    documents: dict[str, bytes] = field(repr=False)
    provided_at: str
    answer: dict[str, Any] = field(repr=False, default_factory=dict)


class ElsterSandbox(SandboxServer):
    name = "elster-transfer-sandbox"

    def __init__(self, *, ca: TestCA | None = None, api_token: str | None = None, port: int = 0) -> None:
        self.ca = ca or TestCA("ELSTER-Transfer sandbox root")
        super().__init__(ssl_context=self.ca.server_context(), port=port)
        self.api_token = api_token or secrets.token_urlsafe(24)
        self.accounts: set[str] = set()
        self.orders: dict[str, ProvisionOrder] = {}
        self.answers: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    @property
    def orders_url(self) -> str:
        return self.base_url + "/rest/bereitstellungsauftrag/v3"

    def add_account(self, account: str | None = None) -> str:
        """A company's ELSTER account (10 digits; a new one, or the one the recipient register names)."""
        account = account or f"{secrets.randbelow(10**10):010d}"
        with self._lock:
            self.accounts.add(account)
        return account

    def fail_provision(self, auftrags_id: str, text: str = "Bereitstellung fehlgeschlagen") -> None:
        """A later error answer for a provision order (e.g. the account was closed meanwhile)."""
        self._answer(auftrags_id, "FEHLER", text)

    def add_reply(self, auftrags_id: str, text: str) -> None:
        """A company's reply to a provided document."""
        self._answer(auftrags_id, "NACHRICHT", text)

    def _answer(self, auftrags_id: str, art: str, text: str) -> None:
        with self._lock:
            order = self.orders[auftrags_id]
            self.answers.append({"antwortId": str(uuid.uuid4()), "auftragsId": auftrags_id,
                                 "auftragsReferenz": order.reference, "art": art, "text": text,
                                 "zeitpunkt": _dt.datetime.now(_dt.timezone.utc).isoformat()})

    # ---- HTTP --------------------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        scheme, _, token = request.header("authorization").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip(), self.api_token):
            return Response.problem(401, "Unauthorized", "the local API token is missing or wrong",
                                    headers={"WWW-Authenticate": 'Bearer realm="elster-transfer"'})
        if request.path == "/rest/bereitstellungsauftrag/v3":
            if request.method != "POST":
                return Response.problem(405, "Method Not Allowed", "use POST", headers={"Allow": "POST"})
            return self._provision(request)
        if request.path == "/rest/eingang/antworten":
            if request.method != "GET":
                return Response.problem(405, "Method Not Allowed", "use GET", headers={"Allow": "GET"})
            since = parse_qs(request.query).get("seit", [""])[0]
            with self._lock:
                answers = [a for a in self.answers if not since or a["zeitpunkt"] >= since]
            return Response.json(200, {"antworten": answers})
        return Response.problem(404, "Not Found", "no such resource")

    def _provision(self, request: Request) -> Response:
        if request.media_type != "application/json":
            return Response.problem(415, "Unsupported Media Type", "send application/json")
        try:
            order = request.json()
        except ValueError:
            return Response.problem(400, "Bad Request", "the body is not JSON")
        problems = []
        if not isinstance(order, dict):
            return Response.problem(400, "Bad Request", "the body must be a JSON object")
        unknown = set(order) - {"auftragsReferenz", "empfaenger", "betreff", "nachricht", "dokumente"}
        if unknown:
            problems.append(f"unknown fields {sorted(unknown)}")
        reference = order.get("auftragsReferenz")
        if not isinstance(reference, str) or not 1 <= len(reference) <= 100:
            problems.append("auftragsReferenz must be 1-100 characters")
        recipient = order.get("empfaenger")
        account = recipient.get("accountId") if isinstance(recipient, dict) else None
        if not isinstance(account, str) or not _ACCOUNT.match(account):
            problems.append("empfaenger.accountId must be 10 digits")
        subject = order.get("betreff")
        if not isinstance(subject, str) or not 1 <= len(subject) <= 255:
            problems.append("betreff must be 1-255 characters")
        if not isinstance(order.get("nachricht", ""), str):
            problems.append("nachricht must be text")
        documents = order.get("dokumente")
        if not isinstance(documents, list) or not documents:
            problems.append("dokumente must list at least one document")
            documents = []
        if problems:
            return Response.problem(400, "Bad Request", "; ".join(problems))
        with self._lock:
            for earlier in self.orders.values():
                if earlier.reference == reference:
                    return Response.json(200, earlier.answer)  # the same order again: the first acknowledgement
        files: dict[str, bytes] = {}
        for i, doc in enumerate(documents):
            if not isinstance(doc, dict) or set(doc) != {"dateiname", "mimeType", "inhalt", "sha256"}:
                return Response.problem(400, "Bad Request", f"dokumente[{i}] must hold dateiname, mimeType, inhalt, "
                                        "sha256")
            try:
                data = base64.b64decode(doc["inhalt"], validate=True)
            except (binascii.Error, TypeError, ValueError):
                return Response.problem(400, "Bad Request", f"dokumente[{i}].inhalt is not base64")
            if hashlib.sha256(data).hexdigest() != str(doc["sha256"]).lower():
                return Response.problem(422, "Unprocessable Entity", f"dokumente[{i}]: sha256 differs")
            if doc["mimeType"] != "application/pdf" or not looks_like_pdfa(data):
                return Response.problem(422, "Unprocessable Entity",
                                        f"dokumente[{i}] ({doc['dateiname']}) is not a PDF/A document")
            files[str(doc["dateiname"])] = data
        if account not in self.accounts:
            return Response.problem(404, "Not Found", "no ELSTER account with this accountId")
        auftrags_id = str(uuid.uuid4())
        at = _dt.datetime.now(_dt.timezone.utc).isoformat()
        answer = {"auftragsId": auftrags_id, "auftragsReferenz": reference, "status": "BEREITGESTELLT",
                  "bereitgestelltAm": at}
        with self._lock:
            self.orders[auftrags_id] = ProvisionOrder(auftrags_id, reference, account, subject, files, at, answer)
        return Response.json(201, answer)
