"""ZBP sandbox: the BundID "Zentrales Bürgerpostfach" REST v6 on loopback, for the direct (NdB) route.

No public spec of the ZBP is at hand: this sandbox follows the outline in ``shared/docs/channels.md`` section 1
and says so. ``PUT /v6/mailbox/messages``, ``multipart/form-data``: part ``json`` =
``{"content": "<message JSON string>", "sha512sum": "<base64 RSA-SHA512 signature over exactly that string>"}``,
parts ``files`` = the attachments. It requires

* mTLS: a client certificate from the BPKI test CA (``bpki``), else the TLS handshake fails;
* ``Authorization: Bearer <JWT>``: the RS512 author token signed by the client certificate's key, current,
  ``signer`` = the certificate's CN, role ``THIRD_PARTY`` (401 otherwise);
* a valid ``sha512sum`` signature by the same key over exactly ``content`` (400 otherwise);
* the message fields within the limits of channels.md (:func:`check_message`; 400) and a known
  ``mailboxUuid`` (404);
* every announced attachment present as a ``files`` part with the same filename, hex SHA-512 and length (400).

It answers ``200 {"messageId": ...}`` and stores the message. ``confirm_retrieval(message_id)`` plays the
citizen opening it: the ZBP mails a retrieval confirmation to ``retrievalConfirmationAddress``; the sandbox
puts that mail into the Maildir ``confirmation_maildir`` (the inbox behind that address), where the adapter's
``collect_events`` finds it. Failure modes: ``faults.fail(503)`` / ``.throttle()`` / ``.stall()`` / ``.drop()``
and 4xx rejections with ``faults.fail(404)`` etc. (see :class:`._http.Faults`).
"""
from __future__ import annotations

import datetime as _dt
import email.message
import email.parser
import email.policy
import email.utils
import hashlib
import io
import json
import mailbox
import re
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from .. import crypto
from ._http import Request, Response, SandboxServer
from .pki import Issued, TestCA

__all__ = ["CONTENT_LIMIT", "StoredMessage", "ZbpSandbox", "check_message"]

CONTENT_LIMIT = 1_000_000  # "content is reported limited to 1 MB": bytes of the UTF-8 content
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HEX512 = re.compile(r"^[0-9a-fA-F]{128}$")
# field: (required, min length, max length)
_TEXT_FIELDS = {"sender": (True, 1, 255), "title": (True, 1, 1024), "service": (False, 1, 255),
                "retrievalConfirmationAddress": (False, 0, 320), "replyAddress": (False, 0, 320),
                "reference": (False, 0, 255), "senderUrl": (False, 0, 255), "applicationId": (False, 1, 255)}
#: How a message served against acknowledgement begins (§ 5 Abs. 4 VwZG), title and content.
EB_MARKING = "Zustellung gegen Empfangsbekenntnis"
_FIELDS = {"mailboxUuid", "stork_qaa_level", "content", "attachments", *_TEXT_FIELDS}


def _eb_document(stored: StoredMessage, at: _dt.datetime, signed_by: str) -> bytes:
    """A one-page PDF "Empfangsbekenntnis" (what the citizen signs), for a sandbox acknowledgement."""
    import pikepdf

    text = (f"Empfangsbekenntnis. Erhalten am {at.date().isoformat()}: {stored.message.get('title', '')}. "
            f"Unterschrift: {signed_by}").encode("latin-1", "replace").replace(b"(", b"[").replace(b")", b"]")
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(595, 842))
    page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica)))
    page.Contents = pdf.make_stream(b"BT /F1 9 Tf 40 800 Td (" + text + b") Tj ET")
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def check_message(message: Any) -> list[str]:
    """What is wrong with a ZBP v6 message (empty when nothing is), by the field list of channels.md."""
    if not isinstance(message, dict):
        return ["the message is not a JSON object"]
    problems = [f"unknown field {name}" for name in sorted(set(message) - _FIELDS)]
    mailbox_uuid = message.get("mailboxUuid")
    if not isinstance(mailbox_uuid, str) or not _UUID.match(mailbox_uuid):
        problems.append("mailboxUuid must be a UUID")
    qaa = message.get("stork_qaa_level")
    if qaa is not None and (not isinstance(qaa, int) or isinstance(qaa, bool) or not 1 <= qaa <= 4):
        problems.append("stork_qaa_level must be 1-4")
    for name, (required, low, high) in _TEXT_FIELDS.items():
        value = message.get(name)
        if value is None:
            if required:
                problems.append(f"{name} is required")
        elif not isinstance(value, str) or not low <= len(value) <= high:
            problems.append(f"{name} must be text of {low}-{high} characters")
    content = message.get("content")
    if not isinstance(content, str):
        problems.append("content is required")
    elif len(content.encode("utf-8")) > CONTENT_LIMIT:
        problems.append(f"content has more than {CONTENT_LIMIT} bytes")
    attachments = message.get("attachments", [])
    if not isinstance(attachments, list):
        problems.append("attachments must be a list")
        attachments = []
    names = set()
    for i, att in enumerate(attachments):
        if not isinstance(att, dict) or set(att) != {"filename", "sha512sum", "contentLength"}:
            problems.append(f"attachments[{i}] must hold exactly filename, sha512sum, contentLength")
            continue
        if not isinstance(att["filename"], str) or not att["filename"] or att["filename"] in names:
            problems.append(f"attachments[{i}].filename must be a unique non-empty name")
        names.add(att["filename"])
        if not isinstance(att["sha512sum"], str) or not _HEX512.match(att["sha512sum"]):
            problems.append(f"attachments[{i}].sha512sum must be the hex SHA-512 of the file")
        if not isinstance(att["contentLength"], int) or att["contentLength"] < 0:
            problems.append(f"attachments[{i}].contentLength must be the file's length in bytes")
    return problems


@dataclass
class StoredMessage:
    message_id: str
    message: dict[str, Any]
    files: dict[str, bytes] = field(repr=False)
    author: str
    received_at: float
    via: str  # "rest" or "fit-connect bridge"
    retrieved_at: float | None = None


class ZbpSandbox(SandboxServer):
    name = "zbp-sandbox"

    def __init__(self, *, ca: TestCA | None = None, bpki: TestCA | None = None,
                 confirmation_maildir: Path | None = None, port: int = 0) -> None:
        self.ca = ca or TestCA("ZBP sandbox root")
        self.bpki = bpki or self.ca
        super().__init__(ssl_context=self.ca.server_context(client_ca=self.bpki), port=port)
        self._tmp = None
        if confirmation_maildir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="zbp-confirmations-")
            confirmation_maildir = Path(self._tmp.name) / "Maildir"
        self.confirmation_maildir = confirmation_maildir
        mailbox.Maildir(str(confirmation_maildir), create=True)
        self.mailboxes: set[str] = set()
        self.messages: dict[str, StoredMessage] = {}
        self.states: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    @property
    def messages_url(self) -> str:
        return self.base_url + "/v6/mailbox/messages"

    def add_mailbox(self, mailbox_uuid: str | None = None) -> str:
        """A citizen's postbox (a new one, or the one the recipient register names); returns its ``mailboxUuid``."""
        mailbox_uuid = mailbox_uuid or str(uuid.uuid4())
        with self._lock:
            self.mailboxes.add(mailbox_uuid)
        return mailbox_uuid

    def issue_client(self, cn: str = "Stadt Musterstadt Kasse", **kwargs: Any) -> Issued:
        """A BPKI client certificate (mTLS and signatures) from the CA the sandbox trusts."""
        return self.bpki.issue_client(cn, **kwargs)

    # ---- the citizen -------------------------------------------------------------------------------------
    def confirm_retrieval(self, message_id: str, at: _dt.datetime | None = None) -> bool:
        """The citizen opened the message: the ZBP mails the retrieval confirmation (True when it had an address)."""
        with self._lock:
            stored = self.messages[message_id]
            when = at or _dt.datetime.now(_dt.timezone.utc)
            stored.retrieved_at = when.timestamp()
        return self._mail_back(stored, message_id, "Abrufbestätigung", when,
                               {"messageId": message_id, "mailboxUuid": stored.message["mailboxUuid"],
                                "reference": stored.message.get("reference"), "retrievedAt": when.isoformat()})

    def acknowledge(self, message_id: str, at: _dt.datetime, signed_by: str, *,
                    document: bytes | None = None) -> bool:
        """The citizen returns the Empfangsbekenntnis of a message served against acknowledgement (§ 5 Abs. 7
        Satz 1 VwZG: dated and signed): the sandbox mails it, like a retrieval confirmation, to the message's
        ``retrievalConfirmationAddress`` as JSON ``{"type": "empfangsbekenntnis", messageId, mailboxUuid,
        reference, acknowledgedAt, signedBy}`` with the signed EB document attached (``document``, else a small
        PDF the sandbox writes). The real ZBP has no published return path for an EB: this one is the sandbox's.
        Refused (ValueError) for a message that is not marked "Zustellung gegen Empfangsbekenntnis" (§ 5 Abs. 4
        VwZG): there is nothing to acknowledge. True when the message had a confirmation address."""
        with self._lock:
            stored = self.messages[message_id]
        if not str(stored.message.get("title", "")).startswith(EB_MARKING) \
                or not str(stored.message.get("content", "")).startswith(EB_MARKING):
            raise ValueError(f"message {message_id} is not marked {EB_MARKING!r}: no acknowledgement to return")
        body = {"type": "empfangsbekenntnis", "messageId": message_id,
                "mailboxUuid": stored.message["mailboxUuid"], "reference": stored.message.get("reference"),
                "acknowledgedAt": at.isoformat(), "signedBy": signed_by}
        return self._mail_back(stored, message_id, "Empfangsbekenntnis", at, body,
                               pdf=lambda: document or _eb_document(stored, at, signed_by))

    def _mail_back(self, stored: Any, message_id: str, subject: str, when: _dt.datetime, body: dict[str, Any], *,
                   pdf: Any = None) -> bool:
        """Mail what the citizen did (``body`` as JSON, ``pdf()`` attached) to the message's
        ``retrievalConfirmationAddress``; False when it has none."""
        address = stored.message.get("retrievalConfirmationAddress")
        if not address:
            return False
        mail = email.message.EmailMessage()
        mail["From"] = "ZBP Sandbox <noreply@zbp-sandbox.invalid>"
        mail["To"] = address
        mail["Subject"] = f"{subject}: {stored.message.get('title', '')}"[:200]
        mail["Date"] = email.utils.format_datetime(when)
        mail["Message-ID"] = f"<{uuid.uuid4()}@zbp-sandbox.invalid>"
        mail["X-ZBP-Message-Id"] = message_id
        mail.set_content(json.dumps(body).encode(), maintype="application", subtype="json", cte="7bit")
        if pdf is not None:
            mail.add_attachment(pdf(), maintype="application", subtype="pdf", filename="empfangsbekenntnis.pdf")
        mailbox.Maildir(str(self.confirmation_maildir), create=True).add(mail)
        return True

    # ---- the bridge --------------------------------------------------------------------------------------
    def deliver_bridged(self, message: dict[str, Any], files: dict[str, bytes], author: str) -> str:
        """A message that came through the FIT-Connect bridge (already verified there)."""
        return self._store(message, files, author, "fit-connect bridge")

    def _store(self, message: dict[str, Any], files: dict[str, bytes], author: str, via: str) -> str:
        message_id = str(uuid.uuid4())
        with self._lock:
            self.messages[message_id] = StoredMessage(message_id, message, files, author, time.time(), via)
        return message_id

    # ---- HTTP --------------------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if request.path == "/v6/mailbox/messages":
            if request.method != "PUT":
                return Response.problem(405, "Method Not Allowed", "use PUT", headers={"Allow": "PUT"})
            return self._put_message(request)
        if request.path == "/v6/mailbox/applications/states":
            if request.method != "POST":
                return Response.problem(405, "Method Not Allowed", "use POST", headers={"Allow": "POST"})
            return self._application_state(request)
        return Response.problem(404, "Not Found", "no such resource")

    def _client(self, request: Request) -> tuple[x509.Certificate, Response | None]:
        cert = x509.load_der_x509_certificate(request.client_cert_der or b"")
        scheme, _, token = request.header("authorization").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return cert, Response.problem(401, "Unauthorized", "Authorization: Bearer <JWT> is required",
                                          headers={"WWW-Authenticate": 'Bearer realm="zbp"'})
        try:
            crypto.verify_author_token(token.strip(), cert, now=time.time())
        except crypto.CryptoError as exc:
            return cert, Response.problem(401, "Unauthorized", str(exc),
                                          headers={"WWW-Authenticate": 'Bearer realm="zbp", error="invalid_token"'})
        return cert, None

    def _application_state(self, request: Request) -> Response:
        _, refused = self._client(request)
        if refused is not None:
            return refused
        try:
            body = request.json()
        except ValueError:
            return Response.problem(400, "Bad Request", "the body is not JSON")
        states = {"INITIATED", "SUBMITTED", "RECEIVED", "PROCESSING", "ACTION_REQUIRED", "COMPLETED"}
        if not isinstance(body, dict) or body.get("status") not in states or not body.get("applicationId"):
            return Response.problem(400, "Bad Request", f"applicationId and status ({', '.join(sorted(states))}) "
                                    "are required")
        with self._lock:
            self.states.append(body)
        return Response(204)

    def _put_message(self, request: Request) -> Response:
        if request.client_cert_der is None:  # cannot happen with CERT_REQUIRED; kept as a second line
            return Response.problem(403, "Forbidden", "a BPKI client certificate is required")
        cert, refused = self._client(request)
        if refused is not None:
            return refused
        if request.media_type != "multipart/form-data":
            return Response.problem(415, "Unsupported Media Type", "send multipart/form-data")
        parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + request.header("content-type").encode("latin-1") + b"\r\n\r\n" + request.body)
        if not parsed.is_multipart():
            return Response.problem(400, "Bad Request", "the multipart body cannot be read")
        json_parts, files = [], {}
        for part in parsed.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if name == "json":
                json_parts.append(payload)
            elif name == "files":
                filename = part.get_filename()
                if not filename or filename in files:
                    return Response.problem(400, "Bad Request", "every file part needs its own filename")
                files[filename] = payload
            else:
                return Response.problem(400, "Bad Request", f"unexpected part {name!r}")
        if len(json_parts) != 1:
            return Response.problem(400, "Bad Request", "exactly one part 'json' is required")
        try:
            envelope = json.loads(json_parts[0])
        except ValueError:
            return Response.problem(400, "Bad Request", "the json part is not JSON")
        if not isinstance(envelope, dict) or set(envelope) != {"content", "sha512sum"} or not all(
                isinstance(v, str) for v in envelope.values()):
            return Response.problem(400, "Bad Request", "the json part must hold exactly content and sha512sum")
        public_key = cert.public_key()
        if not isinstance(public_key, rsa.RSAPublicKey) or not crypto.verify_content(
                public_key, envelope["content"], envelope["sha512sum"]):
            return Response.problem(400, "Bad Request", "sha512sum is not a valid RSA-SHA512 signature of content "
                                    "by the client certificate")
        try:
            message = json.loads(envelope["content"])
        except ValueError:
            return Response.problem(400, "Bad Request", "content is not a JSON message")
        problems = check_message(message)
        if problems:
            return Response.problem(400, "Bad Request", "; ".join(problems))
        declared = {a["filename"]: a for a in message.get("attachments", [])}
        if set(declared) != set(files):
            return Response.problem(400, "Bad Request", "the file parts differ from the message's attachments")
        for filename, data in files.items():
            att = declared[filename]
            if hashlib.sha512(data).hexdigest() != att["sha512sum"].lower() or len(data) != att["contentLength"]:
                return Response.problem(400, "Bad Request", f"attachment {filename!r}: hash or length differs")
        with self._lock:
            known = message["mailboxUuid"] in self.mailboxes
        if not known:
            return Response.problem(404, "Not Found", "no postbox with this mailboxUuid")
        message_id = self._store(message, files, crypto.common_name(cert), "rest")
        return Response.json(200, {"messageId": message_id})

    def stop(self) -> None:
        super().stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
