"""FIT-Connect sandbox: the Submission API 1.1.3 (``/v1`` paths) on loopback, with an OAuth2 token endpoint, a
destination that acts as the BundID (ZBP) bridge, and failure modes on command.

Faithful to the staged OpenAPI ``fitconnect-submission-api-1.1.3.yaml`` (read from
``shared/specs/fit-connect``): EVERY request is checked against it first (:mod:`.openapi_check`: path, method,
parameters, Bearer token present, content type, body schema); a request that does not conform gets 400 (415
for a content type, 401 without a token) with the reason as RFC 7807 problem details. The token endpoint
(``POST /token``, not part of that API) follows RFC 6749 client credentials with ``client_secret_post`` only.

What it does, as the delivery service and as the receiving system (subscriber) of its destinations:

* destinations publish an RSA-4096 encryption JWK (``key_ops ["wrapKey"]``, ``alg RSA-OAEP-256``) and a PS512
  signature JWK, each with an ``x5c`` chain from the sandbox's test CA (``sandbox.ca``);
* ``POST /v1/submissions`` -> ``PUT .../attachments/{id}`` (JWE) -> ``PUT /v1/submissions/{id}``; on submit the
  case's event log gets a ``submit-submission`` SET signed by the delivery service (``/.well-known/jwks.json``);
* then the subscriber (after ``accept_delay`` seconds; ``subscribers`` worker threads, or with
  ``subscriber_processes=True`` as many processes of its own, as the receiving system runs on its own machine in
  real FIT-Connect, whose Submission API never decrypts) decrypts everything with the destination's private
  key, checks the metadata against ``fitconnect-metadata.schema.v1.0.0.json``, the SHA-512 hashes, the announced attachments, the case's reply channel, and for the bridge destination the ZBP
  envelope ``{content, sha512sum, authorToken, authorCertificate}`` (author certificate chain, RS512 author
  token, RSA-SHA512 signature over ``content``, the message's ZBP field limits and attachment hashes); it logs
  ``accept-submission`` (with the JWE authentication tags it received) or ``reject-submission`` (with
  problems), both signed with the destination's signature key (``iss`` = the destination id).

Failure modes on command: ``sandbox.faults.fail(503)`` / ``.throttle(retry_after=5)`` / ``.stall(seconds)`` /
``.drop()`` (see :class:`._http.Faults`), ``expire_tokens()``, ``reject_next(detail)``, ``reject(submission_id,
detail)`` (e.g. the 14-day auto-reject), ``accept_delay``, ``inject_event(case_id, token)`` (forged SETs).
"""
from __future__ import annotations

import argparse
import hashlib
import heapq
import json
import logging
import multiprocessing
import secrets
import signal
import sys
import threading
import time
import uuid
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from jwcrypto import jwk

from .. import crypto
from ._http import Request, Response, SandboxServer
from .openapi_check import SPEC_DIR, NotConforming, submission_api
from .pki import Issued, TestCA, rsa_key
from .zbp import check_message

__all__ = ["BRIDGE_SERVICE", "EVENT", "FitConnectSandbox", "PROBLEM"]

log = logging.getLogger(__name__)

BRIDGE_SERVICE = "urn:schema-fitko-de:fit-connect:id.bund.de:message_v6"
BRIDGE_SCHEMA = BRIDGE_SERVICE  # the data schema the bridge destination lists for its service
EVENT = "https://schema.fitko.de/fit-connect/events/"
PROBLEM = "https://schema.fitko.de/fit-connect/events/problems/"

_METADATA_VALIDATOR = Draft202012Validator(
    json.loads((SPEC_DIR / "fitconnect-metadata.schema.v1.0.0.json").read_text(encoding="utf-8")),
    format_checker=Draft202012Validator.FORMAT_CHECKER)


class BridgeTarget(Protocol):
    """Where the bridge hands an accepted ZBP message (the ZBP sandbox implements it)."""

    def deliver_bridged(self, message: dict[str, Any], files: dict[str, bytes], author: str) -> str: ...


class _Reject(Exception):
    def __init__(self, problem: str, title: str, detail: str) -> None:
        super().__init__(detail)
        self.problem, self.title, self.detail = problem, title, detail


@dataclass
class SandboxDestination:
    destination_id: str
    services: list[dict[str, Any]]
    encryption_private: jwk.JWK = field(repr=False)
    encryption_public: dict[str, Any] = field(repr=False)
    signing_private: jwk.JWK = field(repr=False)
    signing_public: dict[str, Any] = field(repr=False)
    bridge: bool = False
    reply_channels: dict[str, Any] | None = None
    _exported: tuple[str, str] | None = field(default=None, repr=False)

    @property
    def encryption_kid(self) -> str:
        return self.encryption_public["kid"]

    def exported(self) -> tuple[str, str]:
        """The private encryption and signature JWKs as JSON, for subscriber processes (made once)."""
        if self._exported is None:
            self._exported = (self.encryption_private.export_private(), self.signing_private.export_private())
        return self._exported

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {"destinationId": self.destination_id, "status": "active", "services": self.services,
                               "encryptionKid": self.encryption_kid, "metadataVersions": ["1.0.0"]}
        if self.reply_channels:
            out["replyChannels"] = self.reply_channels
        return out


@dataclass
class SandboxCase:
    case_id: str
    destination_id: str | None = None  # where replies in this case go
    reply_channel: dict[str, Any] | None = None  # the replyChannel of the application that opened the case
    events: list[str] = field(default_factory=list, repr=False)


@dataclass
class SandboxSubmission:
    submission_id: str
    case_id: str
    destination_id: str
    service_type: dict[str, Any]
    announced: list[str]
    attachments: dict[str, str] = field(default_factory=dict, repr=False)  # id -> JWE
    encrypted_metadata: str = field(default="", repr=False)
    encrypted_data: str | None = field(default=None, repr=False)
    state: str = "created"  # created, submitted, accepted, rejected
    problems: list[dict[str, str]] = field(default_factory=list)
    metadata: dict[str, Any] | None = None  # decrypted, after processing
    data: bytes | None = field(default=None, repr=False)
    attachment_plaintexts: dict[str, bytes] = field(default_factory=dict, repr=False)
    bridged_message_id: str | None = None


class FitConnectSandbox(SandboxServer):
    name = "fit-connect-sandbox"

    def __init__(self, *, ca: TestCA | None = None, client_id: str = "erechnung-sender",
                 client_secret: str | None = None, token_ttl: float = 3600.0,
                 author_roots: list[Any] | None = None, bridge_to: BridgeTarget | None = None,
                 zbp_mailboxes: set[str] | None = None, keep_payloads: bool = True, key_label: str = "fitconnect",
                 port: int = 0, subscribers: int = 1, subscriber_processes: bool = False) -> None:
        self.ca = ca or TestCA("FIT-Connect sandbox root")
        super().__init__(ssl_context=self.ca.server_context(), port=port)
        self.checker = submission_api()
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        self.token_ttl = token_ttl
        self.author_roots = author_roots if author_roots is not None else [self.ca.cert]
        self.bridge_to = bridge_to
        self.zbp_mailboxes = zbp_mailboxes  # None: every mailboxUuid is known
        self.keep_payloads = keep_payloads
        self.accept_delay = 0.0
        self.tokens_issued = 0
        self._key_label = key_label
        self._tokens: dict[str, float] = {}
        self._lock = threading.RLock()
        self._rejects: deque[str] = deque()
        self._queue: list[tuple[float, int, str]] = []
        self._queue_cond = threading.Condition()
        self._seq = 0
        self.subscribers = max(1, subscribers)
        self.subscriber_processes = subscriber_processes
        self._workers: list[threading.Thread] = []
        self._pool: ProcessPoolExecutor | None = None
        self._idle = threading.Event()
        self._idle.set()
        self.destinations: dict[str, SandboxDestination] = {}
        self.submissions: dict[str, SandboxSubmission] = {}
        self.cases: dict[str, SandboxCase] = {}
        self.bridge_messages: list[dict[str, Any]] = []
        service_key = rsa_key(f"{key_label}:service-signature", 4096)
        kid = str(uuid.UUID(int=int.from_bytes(hashlib.sha256(f"{key_label}:service".encode()).digest()[:16], "big")))
        issued = self.ca.issue_for_key("FIT-Connect sandbox delivery service", service_key, wrap=False)
        self.service_signing = crypto.jwk_from_key(service_key, kid=kid, alg=crypto.SET_ALG, key_ops=["sign"])
        self.service_public = crypto.jwk_from_key(service_key.public_key(), kid=kid, alg=crypto.SET_ALG,
                                                  key_ops=["verify"], x5c=issued.x5c()).export_public(as_dict=True)
        self.bridge_destination_id = self.add_destination(
            [{"identifier": BRIDGE_SERVICE, "regions": ["DE"],
              "submissionSchemas": [{"schemaUri": BRIDGE_SCHEMA, "mimeType": "application/json"}]}], bridge=True)

    # ---- set-up ------------------------------------------------------------------------------------------
    @property
    def token_url(self) -> str:
        return self.base_url + "/token"

    @property
    def root_pem(self) -> bytes:
        return self.ca.root_pem

    def issue_author(self, cn: str = "Stadt Musterstadt Kasse", **kwargs: Any) -> Issued:
        """An author (BPKI) certificate from the sandbox CA, which the bridge trusts by default."""
        return self.ca.issue_client(cn, **kwargs)

    def add_destination(self, services: list[dict[str, Any]], *, bridge: bool = False,
                        reply_channels: dict[str, Any] | None = None) -> str:
        n = len(self.destinations)
        destination_id = str(uuid.uuid4())
        enc_key = rsa_key(f"{self._key_label}:dest{n}:encryption", 4096)
        sig_key = rsa_key(f"{self._key_label}:dest{n}:signature", 4096)
        enc_kid, sig_kid = str(uuid.uuid4()), str(uuid.uuid4())
        enc_cert = self.ca.issue_for_key(f"destination {destination_id} encryption", enc_key, wrap=True)
        sig_cert = self.ca.issue_for_key(f"destination {destination_id} signature", sig_key, wrap=False)
        dest = SandboxDestination(
            destination_id, services,
            crypto.jwk_from_key(enc_key, kid=enc_kid, alg=crypto.JWE_ALG, key_ops=["unwrapKey"]),
            crypto.jwk_from_key(enc_key.public_key(), kid=enc_kid, alg=crypto.JWE_ALG, key_ops=["wrapKey"],
                                x5c=enc_cert.x5c()).export_public(as_dict=True),
            crypto.jwk_from_key(sig_key, kid=sig_kid, alg=crypto.SET_ALG, key_ops=["sign"]),
            crypto.jwk_from_key(sig_key.public_key(), kid=sig_kid, alg=crypto.SET_ALG, key_ops=["verify"],
                                x5c=sig_cert.x5c()).export_public(as_dict=True),
            bridge, reply_channels)
        with self._lock:
            self.destinations[destination_id] = dest
        return destination_id

    def open_case(self, destination_id: str, *, reply_channel: dict[str, Any] | None = None) -> str:
        """A case opened by an application from an online service; replies go to ``destination_id``."""
        case_id = str(uuid.uuid4())
        with self._lock:
            self.cases[case_id] = SandboxCase(case_id, destination_id, reply_channel)
        return case_id

    # ---- commands ----------------------------------------------------------------------------------------
    def expire_tokens(self) -> None:
        """Every access token issued so far is expired from now on."""
        with self._lock:
            for token in self._tokens:
                self._tokens[token] = 0.0

    def reject_next(self, detail: str = "rejected by the receiving system", *, times: int = 1) -> None:
        """The next ``times`` submissions are rejected by the subscriber (reject-submission event)."""
        with self._lock:
            self._rejects.extend([detail] * times)

    def reject(self, submission_id: str, detail: str = "not fetched within 14 days") -> None:
        """Reject a submitted submission that is not processed yet (e.g. the 14-day auto-reject)."""
        with self._lock:
            sub = self.submissions[submission_id]
            if sub.state != "submitted":
                raise ValueError(f"submission {submission_id} is {sub.state}")
            self._finish_reject(sub, _Reject(PROBLEM + "technical-error", "Submission rejected", detail),
                                signer="service")

    def reset(self) -> None:
        """Forget commanded failure modes, planned rejections and the accept delay."""
        super().reset()
        with self._lock:
            self._rejects.clear()
        self.accept_delay = 0.0

    def inject_event(self, case_id: str, token: str) -> None:
        """Append any token to a case's event log (to show that the client refuses forged SETs)."""
        with self._lock:
            self.cases[case_id].events.append(token)

    def sign_as_destination(self, destination_id: str, claims: dict[str, Any]) -> str:
        return crypto.sign_set(self.destinations[destination_id].signing_private, claims)

    def wait_processed(self, submission_id: str | None = None, timeout: float = 30.0) -> None:
        """Wait until the subscriber has accepted or rejected ``submission_id`` (or everything submitted)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                if submission_id is not None:
                    if self.submissions[submission_id].state in ("accepted", "rejected"):
                        return
                elif not any(s.state == "submitted" for s in self.submissions.values()):
                    return
            time.sleep(0.01)
        raise TimeoutError("the sandbox did not process the submission in time")

    def received(self, submission_id: str) -> SandboxSubmission:
        with self._lock:
            return self.submissions[submission_id]

    # ---- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> FitConnectSandbox:
        super().start()
        if self.subscriber_processes and self._pool is None:
            # the receiving system's own processes (as on its own machine): spawned, not forked from a process
            # that runs server threads; started now, so that the first submission does not wait for them
            self._pool = ProcessPoolExecutor(self.subscribers, mp_context=multiprocessing.get_context("spawn"))
            list(self._pool.map(_warm, range(self.subscribers)))
        if not self._workers:
            self._workers = [threading.Thread(target=self._work, name=f"{self.name}-subscriber-{i}", daemon=True)
                             for i in range(self.subscribers)]
            for worker in self._workers:
                worker.start()
        return self

    def stop(self) -> None:
        super().stop()
        with self._queue_cond:
            self._queue_cond.notify_all()
        for worker in self._workers:
            worker.join(timeout=5)
        self._workers = []
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    # ---- HTTP --------------------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if request.path == "/token":
            return self._token(request)
        try:
            op = self.checker.check(request.method, request.path, query=request.query, headers=request.headers,
                                    body=request.body)
        except NotConforming as exc:
            log.info("%s: request does not conform to the OpenAPI: %s", self.name, exc.reason)
            headers = {"WWW-Authenticate": 'Bearer realm="fit-connect"'} if exc.status == 401 else None
            return Response.problem(exc.status, "Request does not conform to the Submission API", exc.reason,
                                    headers=headers)
        if op.operation_id not in ("get-jwks.json", "get-info", "get-destination-key"):
            refused = self._authorize(request)
            if refused is not None:
                return refused
        handler = getattr(self, "_op_" + op.operation_id.replace("-", "_").replace(".", "_"), None)
        if handler is None:
            return Response.problem(501, "Not Implemented", f"{op.operation_id} is not offered by the sandbox")
        return handler(op)

    def _token(self, request: Request) -> Response:
        def error(status: int, code: str, description: str) -> Response:
            headers = {"Cache-Control": "no-store"}
            if status == 401:
                headers["WWW-Authenticate"] = 'Basic realm="fit-connect"'  # RFC 6749 5.2
            return Response.json(status, {"error": code, "error_description": description}, headers=headers)

        if request.method != "POST":
            return error(400, "invalid_request", "use POST")
        if request.media_type != "application/x-www-form-urlencoded":
            return error(400, "invalid_request", "the body must be application/x-www-form-urlencoded")
        if request.header("authorization"):
            return error(401, "invalid_client", "only client_secret_post is allowed (credentials in the form body)")
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "client_credentials":
            return error(400, "unsupported_grant_type", "only client_credentials is supported")
        if not form.get("client_id") or not form.get("client_secret"):
            return error(400, "invalid_request", "client_id and client_secret are required")
        if not (secrets.compare_digest(form["client_id"], self.client_id)
                and secrets.compare_digest(form["client_secret"], self.client_secret)):
            return error(401, "invalid_client", "unknown client or wrong secret")
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = time.time() + self.token_ttl
            self.tokens_issued += 1
        return Response.json(200, {"access_token": token, "token_type": "Bearer", "expires_in": int(self.token_ttl),
                                   "scope": form.get("scope") or "send:region:DE"},
                             headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _authorize(self, request: Request) -> Response | None:
        token = request.header("authorization").partition(" ")[2].strip()
        with self._lock:
            expiry = self._tokens.get(token)
        if expiry is not None and expiry > time.time():
            return None
        description = "The access token expired" if expiry is not None else "Unknown access token"
        challenge = f'Bearer realm="fit-connect", error="invalid_token", error_description="{description}"'
        return Response.problem(401, "Unauthorized", description, headers={"WWW-Authenticate": challenge})

    # destinations and keys
    def _op_get_destination_info(self, op: Any) -> Response:
        dest = self.destinations.get(op.params["destinationId"])
        if dest is None:
            return Response.problem(404, "Not Found", "no such destination")
        return Response.json(200, dest.public(), headers={"Cache-Control": "no-cache"})

    def _op_get_destination_key(self, op: Any) -> Response:
        dest = self.destinations.get(op.params["destinationId"])
        for key in (dest.encryption_public, dest.signing_public) if dest else ():
            if key["kid"] == op.params["keyId"]:
                return Response.json(200, key, headers={"Cache-Control": "no-cache"})
        return Response.problem(404, "Not Found", "no such key")

    def _op_get_jwks_json(self, op: Any) -> Response:
        return Response.json(200, {"keys": [self.service_public]})

    def _op_get_info(self, op: Any) -> Response:
        return Response.json(200, {"version": {"major": 1, "minor": 1, "patch": 3}})

    # submissions
    def _op_create_submission(self, op: Any) -> Response:
        body = op.body
        dest = self.destinations.get(body["destinationId"])
        if dest is None:
            return Response.problem(404, "Destination not found", "no such destination")
        identifier = body["serviceType"]["identifier"]
        if not any(s["identifier"] == identifier for s in dest.services):
            return Response.problem(422, "Unprocessable Entity", f"the destination does not offer {identifier}")
        announced = body["announcedAttachments"]
        if len(set(announced)) != len(announced):
            return Response.problem(400, "Bad Request", "announcedAttachments lists an id twice")
        with self._lock:
            case_id = body.get("caseId")
            if case_id is not None:
                case_id = case_id.lower()
                if case_id not in self.cases:
                    return Response.problem(404, "Case not found", "no such case")
            else:
                case_id = str(uuid.uuid4())
                self.cases[case_id] = SandboxCase(case_id)
            sub = SandboxSubmission(str(uuid.uuid4()), case_id, dest.destination_id, body["serviceType"],
                                    [a.lower() for a in announced])
            self.submissions[sub.submission_id] = sub
        return Response.json(201, {"destinationId": dest.destination_id, "submissionId": sub.submission_id,
                                   "caseId": case_id})

    def _op_add_submission_attachment(self, op: Any) -> Response:
        with self._lock:
            sub = self.submissions.get(op.params["submissionId"].lower())
            if sub is None:
                return Response.problem(404, "Not Found", "no such submission")
            aid = op.params["attachmentId"].lower()
            if aid not in sub.announced:
                return Response.problem(422, "Unprocessable Entity", "attachment not announced")
            if sub.state != "created":
                return Response.problem(422, "Unprocessable Entity", f"the submission is already {sub.state}")
            if op.body.count(".") != 4:
                return Response.problem(400, "Bad Request", "the attachment is not a JWE compact serialization")
            sub.attachments[aid] = op.body
        return Response(204)

    def _op_submit_submission(self, op: Any) -> Response:
        with self._lock:
            sub = self.submissions.get(op.params["submissionId"].lower())
            if sub is None:
                return Response.problem(404, "Submission not found", "no such submission")
            if sub.state != "created":
                return Response.problem(422, "Unprocessable Entity", f"the submission is already {sub.state}")
            missing = [a for a in sub.announced if a not in sub.attachments]
            if missing:
                return Response.problem(422, "Unprocessable Entity",
                                        f"announced attachments not uploaded: {', '.join(missing)}")
            sub.encrypted_metadata = op.body["encryptedMetadata"]
            sub.encrypted_data = op.body.get("encryptedData")
            sub.state = "submitted"
            self._log_event(sub, "submit-submission", {}, signer="service")
        self._enqueue(sub.submission_id)
        return Response.json(202, {"destinationId": sub.destination_id, "submissionId": sub.submission_id,
                                   "caseId": sub.case_id, "attachments": list(sub.attachments),
                                   "serviceType": sub.service_type})

    def _op_get_case_events(self, op: Any) -> Response:
        with self._lock:
            case = self.cases.get(op.params["caseId"].lower())
            if case is None:
                return Response.problem(404, "Case not found", "no such case")
            events = list(case.events)
        offset, limit = op.query.get("offset", 0), op.query.get("limit", 100)
        page = events[offset:offset + limit]
        return Response.json(200, {"count": len(page), "offset": offset, "totalCount": len(events),
                                   "eventLog": page})

    # ---- events ------------------------------------------------------------------------------------------
    def _log_event(self, sub: SandboxSubmission, event: str, payload: dict[str, Any], *, signer: str) -> None:
        if signer == "service":
            key, iss = self.service_signing, self.base_url + "/"
        else:
            key, iss = self.destinations[sub.destination_id].signing_private, sub.destination_id
        claims = {"iss": iss, "iat": int(time.time()), "jti": str(uuid.uuid4()),
                  "sub": f"submission:{sub.submission_id}", "txn": f"case:{sub.case_id}",
                  "events": {EVENT + event: payload}}
        token = crypto.sign_set(key, claims)
        with self._lock:
            self.cases[sub.case_id].events.append(token)

    # ---- the subscriber ----------------------------------------------------------------------------------
    def _enqueue(self, submission_id: str) -> None:
        with self._queue_cond:
            self._seq += 1
            self._idle.clear()
            heapq.heappush(self._queue, (time.monotonic() + self.accept_delay, self._seq, submission_id))
            self._queue_cond.notify()

    def _work(self) -> None:
        while not self._stopping.is_set():
            with self._queue_cond:
                if not self._queue:
                    self._idle.set()
                    self._queue_cond.wait(0.5)
                    continue
                due, _, submission_id = self._queue[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._queue_cond.wait(min(wait, 0.5))
                    continue
                heapq.heappop(self._queue)
            try:
                self._process(submission_id)
            except Exception:  # noqa: BLE001 - keep the subscriber alive, the submission stays submitted
                log.exception("%s: processing %s failed", self.name, submission_id)

    def _job(self, sub: SandboxSubmission) -> _Job:
        """What the receiving system gets of a submission (in process mode: keys as JWK JSON, roots as DER)."""
        dest = self.destinations[sub.destination_id]
        case = self.cases[sub.case_id]
        remote = self._pool is not None
        return _Job(sub.submission_id, sub.case_id, sub.destination_id, sub.service_type, dict(sub.attachments),
                    sub.encrypted_metadata, sub.encrypted_data, dest.services, dest.bridge, dest.encryption_kid,
                    case.reply_channel, dest.exported()[0] if remote else dest.encryption_private,
                    dest.exported()[1] if remote else dest.signing_private,
                    self._roots_der() if remote else tuple(self.author_roots),
                    None if self.zbp_mailboxes is None else frozenset(self.zbp_mailboxes),
                    self.keep_payloads, self.bridge_to is not None)

    def _roots_der(self) -> tuple[bytes, ...]:
        return tuple(r.public_bytes(serialization.Encoding.DER) for r in self.author_roots)

    def _process(self, submission_id: str) -> None:
        with self._lock:
            sub = self.submissions[submission_id]
            if sub.state != "submitted":
                return
            planned = self._rejects.popleft() if self._rejects else None
            job = self._job(sub) if planned is None else None
        if planned is not None:
            self._finish_reject(sub, _Reject(PROBLEM + "technical-error", "Submission rejected", planned))
            return
        pool = self._pool
        outcome = receive(job) if pool is None else pool.submit(receive, job).result()
        with self._lock:
            if sub.state != "submitted":
                return  # rejected on command meanwhile (e.g. the 14-day auto-reject)
            sub.metadata, sub.data = outcome.metadata, outcome.data
            sub.attachment_plaintexts = dict(outcome.attachment_plaintexts)
        if outcome.rejected is not None:
            problem, title, detail = outcome.rejected
            self._finish_reject(sub, _Reject(problem, title, detail), token=outcome.token)
            return
        if outcome.bridged is not None:
            message, files, author = outcome.bridged
            record = {"submissionId": sub.submission_id, "message": message, "files": sorted(files),
                      "author": author}
            if self.bridge_to is not None:
                sub.bridged_message_id = self.bridge_to.deliver_bridged(message, files, author)
                record["zbpMessageId"] = sub.bridged_message_id
            with self._lock:
                self.bridge_messages.append(record)
        with self._lock:
            if sub.state != "submitted":
                return
            sub.state = "accepted"
            self.cases[sub.case_id].events.append(outcome.token)
            self._drop_payloads(sub)

    def _finish_reject(self, sub: SandboxSubmission, rej: _Reject, *, signer: str = "destination",
                       token: str | None = None) -> None:
        problem = {"type": rej.problem, "title": rej.title, "detail": rej.detail,
                   "instance": f"submission:{sub.submission_id}"}
        with self._lock:
            if sub.state == "rejected":
                return
            sub.state = "rejected"
            sub.problems.append(problem)
            if token is not None:
                self.cases[sub.case_id].events.append(token)
            else:
                self._log_event(sub, "reject-submission", {"problems": [problem]}, signer=signer)
            self._drop_payloads(sub)
        log.info("%s: rejected submission %s: %s", self.name, sub.submission_id, rej.detail)

    def _drop_payloads(self, sub: SandboxSubmission) -> None:
        if not self.keep_payloads:
            sub.attachments = {k: "" for k in sub.attachments}
            sub.encrypted_metadata, sub.encrypted_data = "", None
            sub.data, sub.attachment_plaintexts = None, {}


# ---- the receiving system (subscriber): a pure function of what it received, so it can run in other processes
@dataclass(frozen=True)
class _Job:
    submission_id: str
    case_id: str
    destination_id: str
    service_type: dict[str, Any]
    attachments: dict[str, str] = field(repr=False)  # id -> JWE
    encrypted_metadata: str = field(repr=False)
    encrypted_data: str | None = field(repr=False)
    services: list[dict[str, Any]]
    bridge: bool
    encryption_kid: str
    reply_channel: dict[str, Any] | None  # the case's, as asked for by the application that opened it
    encryption_key: jwk.JWK | str = field(repr=False)  # the private JWK, or its JSON (process mode)
    signing_key: jwk.JWK | str = field(repr=False)
    author_roots: tuple[Any, ...] = field(repr=False)  # certificates, or their DER (process mode)
    zbp_mailboxes: frozenset[str] | None = field(repr=False)
    keep_payloads: bool = True
    want_files: bool = True  # the bridge hands the files on


@dataclass
class _Outcome:
    token: str = field(repr=False)  # the accept- or reject-submission SET, signed by the destination
    tags: dict[str, Any] | None = None
    rejected: tuple[str, str, str] | None = None  # problem type, title, detail
    metadata: dict[str, Any] | None = None
    data: bytes | None = field(default=None, repr=False)
    attachment_plaintexts: dict[str, bytes] = field(default_factory=dict, repr=False)
    bridged: tuple[dict[str, Any], dict[str, bytes], str] | None = field(default=None, repr=False)


_WORKER_CACHE: dict[Any, Any] = {}  # per process: JWKs by their JSON, root certificates by their DER


def _cached(ref: Any, make: Any) -> Any:
    value = _WORKER_CACHE.get(ref)
    if value is None:
        value = _WORKER_CACHE[ref] = make(ref)
    return value


def _warm(_: int) -> None:
    """Run in each subscriber process at start: the imports are done, the first submission waits for nothing."""
    time.sleep(0.05)  # long enough that every process of the pool gets one


def _key_of(ref: jwk.JWK | str) -> jwk.JWK:
    return ref if isinstance(ref, jwk.JWK) else _cached(ref, jwk.JWK.from_json)


def _roots_of(roots: tuple[Any, ...]) -> list[Any]:
    if all(isinstance(r, bytes) for r in roots):
        return _cached(roots, lambda rs: [x509.load_der_x509_certificate(r) for r in rs])
    return list(roots)


def receive(job: _Job) -> _Outcome:
    """The receiving system's whole check of one submission, and its signed accept- or reject-submission."""
    out = _Outcome(token="")
    try:
        tags = _check(job, out)
    except _Reject as rej:
        out.rejected = (rej.problem, rej.title, rej.detail)
        problem = {"type": rej.problem, "title": rej.title, "detail": rej.detail,
                   "instance": f"submission:{job.submission_id}"}
        out.token = _destination_event(job, "reject-submission", {"problems": [problem]})
        return out
    out.tags = tags
    out.token = _destination_event(job, "accept-submission", {"authenticationTags": tags})
    return out


def _destination_event(job: _Job, event: str, payload: dict[str, Any]) -> str:
    claims = {"iss": job.destination_id, "iat": int(time.time()), "jti": str(uuid.uuid4()),
              "sub": f"submission:{job.submission_id}", "txn": f"case:{job.case_id}",
              "events": {EVENT + event: payload}}
    return crypto.sign_set(_key_of(job.signing_key), claims)


def _decrypt(job: _Job, token: str, what: str) -> bytes:
    try:
        header = crypto.unverified_header(token)
    except crypto.CryptoError:
        raise _Reject(PROBLEM + "encryption-issue", "Encryption issue", f"{what}: not a JWE") from None
    if header.get("kid") != job.encryption_kid:
        raise _Reject(PROBLEM + "encryption-issue", "Encryption issue",
                      f"{what}: encrypted to key {header.get('kid')!r}, not the destination's key")
    try:
        return crypto.decrypt(_key_of(job.encryption_key), token)[1]
    except crypto.CryptoError as exc:
        raise _Reject(PROBLEM + "encryption-issue", "Encryption issue", f"{what}: {exc}") from None


def _check(job: _Job, out: _Outcome) -> dict[str, Any]:
    raw = _decrypt(job, job.encrypted_metadata, "metadata")
    try:
        metadata = json.loads(raw)
    except ValueError:
        raise _Reject(PROBLEM + "syntax-violation", "Syntax violation", "metadata is not JSON") from None
    error = best_match(_METADATA_VALIDATOR.iter_errors(metadata))
    if error is not None:
        at = "/".join(str(p) for p in error.absolute_path)
        raise _Reject(PROBLEM + "schema-violation", "Schema violation", f"metadata {at}: {error.message}")
    out.metadata = metadata
    structure = metadata["contentStructure"]
    described = {a["attachmentId"].lower(): a for a in structure["attachments"]}
    if set(described) != set(job.attachments):
        raise _Reject(PROBLEM + "incorrect-attachment-count", "Attachment mismatch",
                      "metadata describes other attachments than were uploaded")
    plaintexts: dict[str, bytes] = {}
    for aid, token in job.attachments.items():
        plain = _decrypt(job, token, f"attachment {aid}")
        if hashlib.sha512(plain).hexdigest() != described[aid]["hash"]["content"]:
            raise _Reject(PROBLEM + "hash-mismatch", "Hash mismatch", f"attachment {aid}: SHA-512 differs")
        plaintexts[aid] = plain
        if job.keep_payloads:
            out.attachment_plaintexts[aid] = plain
    data_info = structure.get("data")
    if (data_info is None) != (job.encrypted_data is None):
        raise _Reject(PROBLEM + "missing-data", "Data mismatch", "data and metadata's contentStructure.data "
                      "must both be present or both absent")
    data: bytes | None = None
    if job.encrypted_data is not None and data_info is not None:
        data = _decrypt(job, job.encrypted_data, "data")
        if hashlib.sha512(data).hexdigest() != data_info["hash"]["content"]:
            raise _Reject(PROBLEM + "hash-mismatch", "Hash mismatch", "data: SHA-512 differs")
        schemas = [s for svc in job.services if svc["identifier"] == job.service_type["identifier"]
                   for s in svc["submissionSchemas"]]
        if data_info["submissionSchema"] not in schemas:
            raise _Reject(PROBLEM + "unsupported-schema", "Unsupported schema",
                          f"data schema {data_info['submissionSchema'].get('schemaUri')} not offered")
        if job.keep_payloads or job.bridge:
            out.data = data
    service = metadata.get("publicServiceType")
    if service and service.get("identifier") != job.service_type["identifier"]:
        raise _Reject(PROBLEM + "service-mismatch", "Service mismatch",
                      "metadata names another service than the submission")
    if job.reply_channel is not None and metadata.get("replyChannel") != job.reply_channel:
        raise _Reject(PROBLEM + "invalid-reference", "Reply channel not respected",
                      f"the application asked for reply channel {sorted(job.reply_channel)}; "
                      f"the reply names {sorted(metadata.get('replyChannel') or {})}")
    if job.bridge:
        out.bridged = _bridge(job, data, plaintexts)
        if not job.keep_payloads:
            out.data = None
    tags: dict[str, Any] = {"metadata": crypto.auth_tag(job.encrypted_metadata),
                            "attachments": {aid: crypto.auth_tag(t) for aid, t in job.attachments.items()}}
    if job.encrypted_data is not None:
        tags["data"] = crypto.auth_tag(job.encrypted_data)
    return tags


def _bridge(job: _Job, data: bytes | None, plaintexts: dict[str, bytes]
            ) -> tuple[dict[str, Any], dict[str, bytes], str]:
    """Act as the BundID bridge: unpack and verify the ZBP envelope; returns the message, its files, the author."""
    def refuse(detail: str) -> _Reject:
        return _Reject(PROBLEM + "syntax-violation", "ZBP envelope refused", detail)

    try:
        envelope = json.loads(data or b"")
    except ValueError:
        raise refuse("data is not the JSON envelope") from None
    if not isinstance(envelope, dict) or set(envelope) != {"content", "sha512sum", "authorToken",
                                                           "authorCertificate"}:
        raise refuse("the envelope must hold exactly content, sha512sum, authorToken, authorCertificate")
    if not all(isinstance(v, str) for v in envelope.values()):
        raise refuse("the envelope's fields must be strings")
    now = time.time()
    try:
        cert = crypto.load_certificate(envelope["authorCertificate"])
        crypto.verify_chain([cert], _roots_of(job.author_roots))
        crypto.verify_author_token(envelope["authorToken"], cert, now=now)
    except crypto.CryptoError as exc:
        raise refuse(f"author: {exc}") from None
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey) or not crypto.verify_content(
            public_key, envelope["content"], envelope["sha512sum"]):
        raise refuse("sha512sum is not a valid RSA-SHA512 signature of content by the author certificate")
    try:
        message = json.loads(envelope["content"])
    except ValueError:
        raise refuse("content is not a JSON message") from None
    problems = check_message(message)
    if problems:
        raise refuse("; ".join(problems))
    if job.zbp_mailboxes is not None and message["mailboxUuid"] not in job.zbp_mailboxes:
        raise _Reject(PROBLEM + "invalid-reference", "Postbox unknown",
                      "the ZBP knows no postbox with this mailboxUuid")
    by_hash = {hashlib.sha512(p).hexdigest(): p for p in plaintexts.values()}
    files: dict[str, bytes] = {}
    for att in message.get("attachments", []):
        plain = by_hash.get(att["sha512sum"].lower())
        if plain is None or len(plain) != att["contentLength"]:
            raise refuse(f"attachment {att['filename']!r} does not match an uploaded attachment")
        files[att["filename"]] = plain
    return message, files if job.want_files else {name: b"" for name in files}, crypto.common_name(cert)


# ---- a separate process, for the benchmark -----------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    """Run the sandbox in its own process; writes what a client needs into ``--state-dir``.

    The receiving system (decrypt, check, bridge, sign accept-submission) runs in ``--subscribers`` processes
    of its own, as it would on its own machine; ``--subscriber-threads`` runs them as threads of the server
    process instead (the RSA private-key operations release the GIL, the Python around them does not).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--keep-payloads", action="store_true")
    parser.add_argument("--subscribers", type=int, default=2, help="receiving-system workers (default 2)")
    parser.add_argument("--subscriber-threads", action="store_true",
                        help="run the receiving system in threads of the server process, not in processes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop cleanly (and end the subscriber processes)
    sandbox = FitConnectSandbox(keep_payloads=args.keep_payloads, subscribers=args.subscribers,
                                subscriber_processes=not args.subscriber_threads).start()
    try:
        author = sandbox.issue_author()
        args.state_dir.mkdir(parents=True, exist_ok=True)
        author_crt, author_key = author.write(args.state_dir, "author")
        (args.state_dir / "root.pem").write_bytes(sandbox.root_pem)
        secret_file = args.state_dir / "client_secret"
        secret_file.write_text(sandbox.client_secret)
        secret_file.chmod(0o600)
        info = {"base_url": sandbox.base_url, "token_url": sandbox.token_url, "client_id": sandbox.client_id,
                "bridge_destination_id": sandbox.bridge_destination_id, "root": "root.pem",
                "author_cert": author_crt.name, "author_key": author_key.name, "client_secret_file": secret_file.name,
                "subscribers": args.subscribers, "subscriber_processes": not args.subscriber_threads}
        (args.state_dir / "sandbox.json").write_text(json.dumps(info))
        print(json.dumps(info), flush=True)
        while True:  # in steps: a SIGTERM the kernel hands to another thread is handled when this one wakes
            time.sleep(0.5)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        sandbox.stop()


if __name__ == "__main__":
    # run under the module's own name, so that the subscriber processes find receive() and _Job by it
    from mailbox_connectors.sandboxes import fitconnect as _module  # noqa: PLW0406

    _module.main()
