"""The FIT-Connect client shared by the BundID bridge adapter (``bundid.py``) and the reply adapter
(``fitconnect.py``): OAuth2, destination keys, the submission flow, and the case event log.

* Auth: OAuth2 client credentials with the secret in the form body (``client_secret_post``); the token is
  cached until shortly before ``expires_in`` and fetched again on a 401 ``invalid_token`` (once per request).
* Keys: a destination's encryption key is used only after :func:`crypto.verified_jwk` checked its ``x5c`` chain
  against the configured roots; keys are parsed and verified once and kept for ``key_cache_seconds``.
* Flow: ``POST /v1/submissions`` (announced attachments, service type, optional ``caseId``) -> ``PUT
  .../attachments/{id}`` (JWE, ``application/jose``) -> ``PUT /v1/submissions/{id}`` (``encryptedMetadata``,
  ``encryptedData``). Metadata follow ``fitconnect-metadata.schema.v1.0.0.json`` and are checked locally first.
* Status: ``GET /v1/cases/{caseId}/events``; every Security Event Token is verified (PS512, ``typ``, ``sub``,
  ``txn``, issuer's key chain) before it counts. accept-submission must come from the destination and name the
  authentication tags of exactly what was sent.

Errors are the connector interface's: :class:`TemporaryFailure` for 5xx, 429 (with ``Retry-After``), timeouts,
lost connections and a token that stays expired; :class:`PermanentFailure` for refusals (4xx, untrusted keys,
invalid credentials). Their messages, the logs and the evidence never hold the client secret, tokens or
documents.
"""
from __future__ import annotations

import hashlib
import json
import logging
import ssl
import threading
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
import os
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from jwcrypto import jwk

from . import crypto
from ._httpclient import HttpClient, HttpResponse, TransportError
from ._journal import Journal
from .base import EventState, PermanentFailure, StatusEvent, TemporaryFailure

__all__ = ["EVENT", "FitConnectClient", "FitConnectSettings", "OutgoingAttachment", "OutgoingSubmission",
           "SecurityEvent", "SentSubmission", "collect_submission_events"]

log = logging.getLogger(__name__)

EVENT = "https://schema.fitko.de/fit-connect/events/"
METADATA_SCHEMA_URI = "https://schema.fitko.de/fit-connect/metadata/1.0.0/metadata.schema.json"
_SPEC_DIR = Path(os.environ.get("ERECHNUNG_FITCONNECT_SPEC_DIR")
                 or Path(__file__).resolve().parents[2] / "shared" / "specs" / "fit-connect")
_METADATA_VALIDATOR = Draft202012Validator(
    json.loads((_SPEC_DIR / "fitconnect-metadata.schema.v1.0.0.json").read_text(encoding="utf-8")),
    format_checker=Draft202012Validator.FORMAT_CHECKER)
_REFRESH_MARGIN = 30.0  # seconds before expires_in when a token is fetched anew


@dataclass(frozen=True)
class FitConnectSettings:
    submission_url: str  # the Submission API's base, without /v1: https://submission-api-testing.fit-connect...
    token_url: str  # the OAuth2 token endpoint
    client_id: str
    client_secret: str = field(repr=False)
    trust_roots: bytes = field(repr=False, default=b"")  # PEM roots for the keys' x5c chains (destinations, SETs)
    tls_ca: Path | None = None  # PEM CA file for TLS; None: the system's trust store
    scope: str | None = None
    timeout: float = 30.0  # seconds to wait for an answer
    connect_timeout: float = 10.0
    api_version: str = "v1"
    key_cache_seconds: float = 3600.0

    def __post_init__(self) -> None:
        if not self.trust_roots:
            raise ValueError("FIT-Connect settings need trust_roots: the PEM root(s) the destination keys chain to")


@dataclass(frozen=True)
class OutgoingAttachment:
    content: bytes = field(repr=False)
    filename: str
    media_type: str
    purpose: str = "attachment"  # form, attachment, report
    description: str | None = None
    attachment_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True)
class OutgoingSubmission:
    destination_id: str
    service_identifier: str
    service_name: str
    attachments: tuple[OutgoingAttachment, ...]
    data: bytes | None = field(default=None, repr=False)  # JSON Fachdaten
    data_schema_uri: str | None = None
    case_id: str | None = None  # a reply into an existing case
    reply_channel: dict[str, Any] | None = None  # metadata.replyChannel
    sender_reference: str | None = None  # metadata.additionalReferenceInfo.senderReference (our delivery id)


@dataclass(frozen=True)
class SentSubmission:
    submission_id: str
    case_id: str
    destination_id: str
    tags: dict[str, Any]  # the GCM authentication tags of what was sent, as accept-submission must name them
    submitted_at: datetime
    evidence: bytes = field(repr=False)


@dataclass(frozen=True)
class SecurityEvent:
    name: str  # accept-submission, reject-submission, submit-submission, ...
    jti: str
    issued_at: datetime
    issuer: str
    payload: dict[str, Any]
    token: str = field(repr=False)


class _Exchange:
    """The HTTP exchange of one send, as evidence: request lines, statuses, digests of encrypted bodies."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, method: str, path: str, status: int, note: str = "", answer: str = "") -> None:
        at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        self.lines.append(f"{at} {method} {path} -> {status}{' ' + note if note else ''}")
        if answer:
            self.lines.append("  " + answer[:2000])

    def bytes(self) -> bytes:
        return ("\n".join(self.lines) + "\n").encode()


def _sha256(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def problem_detail(response: Any) -> str:
    """The problem details' text of an error answer (an httpx or :class:`HttpResponse`)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("error_description") or body.get("title") or body.get("error")
                   or "")[:500]
    return ""


def retry_after(response: Any) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from email.utils import parsedate_to_datetime

        return max(0.0, (parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError):
        return None


def tls_refused(exc: BaseException) -> bool:
    """True when a transport error is a TLS refusal (untrusted certificate, client certificate refused)."""
    seen: BaseException | None = exc
    while seen is not None:
        text = str(seen).upper()
        if isinstance(seen, ssl.SSLCertVerificationError) or any(
                mark in text for mark in ("CERTIFICATE_VERIFY_FAILED", "CERTIFICATE REQUIRED", "CERTIFICATE_REQUIRED",
                                          "UNKNOWN CA", "UNKNOWN_CA", "BAD CERTIFICATE", "BAD_CERTIFICATE")):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class FitConnectClient:
    """One FIT-Connect sender (thread-safe; one connection pool, keys parsed once)."""

    def __init__(self, settings: FitConnectSettings, *, channel: str, http: HttpClient | None = None) -> None:
        self.settings = settings
        self.channel = channel
        self._roots = crypto.load_roots(settings.trust_roots)
        if http is None:
            ctx = ssl.create_default_context(cafile=str(settings.tls_ca) if settings.tls_ca else None)
            http = HttpClient(ssl_context=ctx, timeout=settings.timeout, connect_timeout=settings.connect_timeout,
                              max_idle=32)
        self.http = http
        self._api = settings.submission_url.rstrip("/") + "/" + settings.api_version
        self._token: tuple[str, float] | None = None
        self._token_lock = threading.Lock()
        self._keys: dict[tuple[str, str], tuple[float, jwk.JWK]] = {}
        self._destinations: dict[str, tuple[float, dict[str, Any]]] = {}
        self._keys_lock = threading.Lock()
        self.refused_events: list[tuple[str, str]] = []  # (token digest, reason) of SETs that did not verify

    def close(self) -> None:
        self.http.close()

    # ---- errors --------------------------------------------------------------------------------------------
    def _temporary(self, reason: str, *, delivery_id: str | None, code: str | None = None,
                   retry_after: float | None = None, evidence: bytes = b"") -> TemporaryFailure:
        return TemporaryFailure(reason, channel=self.channel, delivery_id=delivery_id, code=code,
                                retry_after=retry_after, evidence=evidence)

    def _permanent(self, reason: str, *, delivery_id: str | None, code: str | None = None,
                   evidence: bytes = b"") -> PermanentFailure:
        return PermanentFailure(reason, channel=self.channel, delivery_id=delivery_id, code=code, evidence=evidence)

    def _transport_error(self, exc: BaseException, what: str, delivery_id: str | None) -> Exception:
        if isinstance(exc, TimeoutError):  # socket.timeout, also during the TLS handshake
            return self._temporary(f"{what} hat nicht innerhalb von {self.settings.timeout:g} s geantwortet; später "
                                   "erneut versuchen",
                                   delivery_id=delivery_id, code="timeout")
        if tls_refused(exc):
            return self._permanent(f"TLS-Verbindung abgelehnt ({what}): dem Zertifikat der Gegenseite wird nicht "
                                   "vertraut oder unseres wurde nicht angenommen; die TLS-Einstellungen prüfen",
                                   delivery_id=delivery_id, code="TLS")
        return self._temporary(f"{what} ist nicht erreichbar ({type(exc).__name__}); später erneut versuchen",
                               delivery_id=delivery_id, code="connection")

    def _status_error(self, response: HttpResponse, what: str, delivery_id: str | None,
                      evidence: bytes = b"") -> Exception:
        status, detail = response.status_code, problem_detail(response)
        code = f"HTTP {status}"
        if status == 429:
            after = retry_after(response)
            return self._temporary(f"{what} drosselt unsere Anfragen" + (
                f"; in {after:g} s erneut versuchen" if after is not None else "; später erneut versuchen"),
                delivery_id=delivery_id, code=code, retry_after=after, evidence=evidence)
        if status >= 500:
            return self._temporary(f"{what} ist nicht verfügbar (Serverfehler); später erneut versuchen",
                                   delivery_id=delivery_id,
                                   code=code, evidence=evidence, retry_after=retry_after(response))
        if status == 401:
            return self._temporary(f"{what} hat ein frisches Zugriffstoken nicht angenommen; später erneut versuchen",
                                   delivery_id=delivery_id, code=code, evidence=evidence)
        if status == 403:
            return self._permanent(f"{what} erlaubt diesem Client das nicht: die Scopes des Clients prüfen "
                                   "(send:region / send:service)", delivery_id=delivery_id, code=code,
                                   evidence=evidence)
        return self._permanent(f"{what} hat die Anfrage abgelehnt: {detail or response.reason_phrase}",
                               delivery_id=delivery_id, code=code, evidence=evidence)

    # ---- OAuth2 --------------------------------------------------------------------------------------------
    def access_token(self, *, renew: bool = False, delivery_id: str | None = None) -> str:
        with self._token_lock:
            if not renew and self._token is not None and self._token[1] - _REFRESH_MARGIN > time.monotonic():
                return self._token[0]
            form = {"grant_type": "client_credentials", "client_id": self.settings.client_id,
                    "client_secret": self.settings.client_secret}
            if self.settings.scope:
                form["scope"] = self.settings.scope
            try:
                response = self.http.post(self.settings.token_url, data=form)
            except TransportError as exc:
                raise self._transport_error(exc, "der Token-Endpunkt von FIT-Connect", delivery_id) from None
            if response.status_code in (400, 401) and response.headers.get("content-type", "").startswith(
                    "application/json"):
                error = response.json().get("error", "")
                if error in ("invalid_client", "unauthorized_client", "invalid_scope", "unsupported_grant_type"):
                    raise self._permanent(f"FIT-Connect hat unsere Client-Zugangsdaten abgelehnt ({error}): Client-ID, "
                                          "Secret und Scope in den FIT-Connect-Einstellungen prüfen",
                                          delivery_id=delivery_id, code=f"HTTP {response.status_code}")
            if response.status_code != 200:
                raise self._status_error(response, "der Token-Endpunkt von FIT-Connect", delivery_id)
            body = response.json()
            token, lifetime = body.get("access_token"), float(body.get("expires_in") or 300)
            if not token or str(body.get("token_type", "")).lower() != "bearer":
                raise self._temporary("der Token-Endpunkt von FIT-Connect hat kein Bearer-Token geliefert",
                                      delivery_id=delivery_id)
            self._token = (token, time.monotonic() + lifetime)
            log.debug("FIT-Connect access token obtained, valid for %s s", int(lifetime))
            return token

    # ---- requests ------------------------------------------------------------------------------------------
    def request(self, method: str, path: str, *, delivery_id: str | None = None, exchange: _Exchange | None = None,
                auth: bool = True, expect: Iterable[int] = (200,), note: str = "",
                **kwargs: Any) -> HttpResponse:
        url = path if path.startswith("https://") or path.startswith("http://") else self._api + path
        extra_headers = kwargs.pop("headers", None) or {}
        for attempt in (1, 2):
            headers = dict(extra_headers)
            if auth:
                headers["Authorization"] = "Bearer " + self.access_token(renew=attempt == 2, delivery_id=delivery_id)
            try:
                response = self.http.request(method, url, headers=headers, **kwargs)
            except TransportError as exc:
                raise self._transport_error(exc, "FIT-Connect", delivery_id) from None
            if exchange is not None:
                answer = response.text if response.status_code >= 400 or response.headers.get(
                    "content-type", "").startswith("application/json") else ""
                exchange.add(method, response.path, response.status_code, note, answer)
            if response.status_code == 401 and auth and attempt == 1 and "invalid_token" in response.headers.get(
                    "WWW-Authenticate", ""):
                log.info("FIT-Connect access token expired; fetching a new one")
                continue
            if response.status_code in expect:
                return response
            raise self._status_error(response, "FIT-Connect", delivery_id,
                                     exchange.bytes() if exchange is not None else b"")
        raise AssertionError("unreachable")

    # ---- destinations and keys -----------------------------------------------------------------------------
    def destination(self, destination_id: str, *, delivery_id: str | None = None) -> dict[str, Any]:
        now = time.monotonic()
        with self._keys_lock:
            cached = self._destinations.get(destination_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        response = self.request("GET", f"/destinations/{destination_id}", delivery_id=delivery_id)
        info = response.json()
        with self._keys_lock:
            self._destinations[destination_id] = (now + self.settings.key_cache_seconds, info)
        return info

    def _published_key(self, url: str, cache_key: tuple[str, str], use: str, what: str,
                       delivery_id: str | None) -> jwk.JWK:
        now = time.monotonic()
        with self._keys_lock:
            cached = self._keys.get(cache_key)
        if cached is not None and cached[0] > now:
            return cached[1]
        published = self.request("GET", url, delivery_id=delivery_id, auth=False).json()
        try:
            key = crypto.verified_jwk(published, self._roots, use=use)
        except crypto.CryptoError as exc:
            raise self._permanent(f"{what} ist nicht vertrauenswürdig: {exc}; damit wurde nichts gesendet",
                                  delivery_id=delivery_id, code="key") from None
        with self._keys_lock:
            self._keys[cache_key] = (now + self.settings.key_cache_seconds, key)
        return key

    def encryption_key(self, destination_id: str, *, delivery_id: str | None = None) -> jwk.JWK:
        info = self.destination(destination_id, delivery_id=delivery_id)
        if info.get("status") != "active":
            raise self._permanent(f"der FIT-Connect-Zustellpunkt {destination_id} ist {info.get('status')}, nicht "
                                  "active",
                                  delivery_id=delivery_id)
        kid = info["encryptionKid"]
        return self._published_key(f"/destinations/{destination_id}/keys/{kid}", (destination_id, kid), "wrapKey",
                                   f"der Verschlüsselungsschlüssel des FIT-Connect-Zustellpunkts {destination_id}",
                                   delivery_id)

    def signature_key(self, destination_id: str, kid: str) -> jwk.JWK:
        return self._published_key(f"/destinations/{destination_id}/keys/{kid}", (destination_id, kid), "verify",
                                   f"der Signaturschlüssel des FIT-Connect-Zustellpunkts {destination_id}", None)

    def service_key(self, kid: str) -> jwk.JWK:
        now = time.monotonic()
        with self._keys_lock:
            cached = self._keys.get(("service", kid))
        if cached is not None and cached[0] > now:
            return cached[1]
        url = self.settings.submission_url.rstrip("/") + "/.well-known/jwks.json"
        keys = self.request("GET", url, auth=False).json().get("keys", [])
        for published in keys:
            if published.get("kid") == kid:
                try:
                    key = crypto.verified_jwk(published, self._roots, use="verify")
                except crypto.CryptoError as exc:
                    raise crypto.CryptoError(f"the delivery service's key {kid} cannot be trusted: {exc}") from None
                with self._keys_lock:
                    self._keys[("service", kid)] = (now + self.settings.key_cache_seconds, key)
                return key
        raise crypto.CryptoError(f"the delivery service publishes no key {kid}")

    # ---- sending -------------------------------------------------------------------------------------------
    def metadata(self, outgoing: OutgoingSubmission) -> dict[str, Any]:
        """The submission's metadata (schema 1.0.0); a value that breaks the schema is a PermanentFailure."""
        attachments = []
        for att in outgoing.attachments:
            entry: dict[str, Any] = {"hash": {"type": "sha512", "content": hashlib.sha512(att.content).hexdigest()},
                                     "purpose": att.purpose, "filename": att.filename, "mimeType": att.media_type,
                                     "attachmentId": att.attachment_id}
            if att.description:
                entry["description"] = att.description
            attachments.append(entry)
        structure: dict[str, Any] = {"attachments": attachments}
        if outgoing.data is not None:
            structure["data"] = {"hash": {"type": "sha512", "content": hashlib.sha512(outgoing.data).hexdigest()},
                                 "submissionSchema": {"schemaUri": outgoing.data_schema_uri,
                                                      "mimeType": "application/json"}}
        metadata: dict[str, Any] = {"$schema": METADATA_SCHEMA_URI, "contentStructure": structure,
                                    "publicServiceType": {"name": outgoing.service_name,
                                                          "identifier": outgoing.service_identifier}}
        if outgoing.reply_channel:
            metadata["replyChannel"] = outgoing.reply_channel
        if outgoing.sender_reference:
            metadata["additionalReferenceInfo"] = {"senderReference": outgoing.sender_reference}
        error = best_match(_METADATA_VALIDATOR.iter_errors(metadata))
        if error is not None:
            at = "/".join(str(p) for p in error.absolute_path)
            raise self._permanent(f"die FIT-Connect-Metadaten sind ungültig bei {at or 'der Wurzel'}: {error.message}",
                                  delivery_id=outgoing.sender_reference, code="metadata")
        return metadata

    def submit(self, outgoing: OutgoingSubmission, *, delivery_id: str | None = None) -> SentSubmission:
        """The whole submission flow; returns what accept-submission must confirm later."""
        exchange = _Exchange()
        metadata = self.metadata(outgoing)  # first: a refusal leaves nothing behind at the service
        key = self.encryption_key(outgoing.destination_id, delivery_id=delivery_id)
        encrypted = {att.attachment_id: crypto.encrypt(key, att.content, cty=att.media_type)
                     for att in outgoing.attachments}
        encrypted_metadata = crypto.encrypt(key, json.dumps(metadata, ensure_ascii=False).encode("utf-8"),
                                            cty="application/json")
        encrypted_data = (crypto.encrypt(key, outgoing.data, cty="application/json")
                          if outgoing.data is not None else None)
        create: dict[str, Any] = {"destinationId": outgoing.destination_id,
                                  "announcedAttachments": list(encrypted),
                                  "serviceType": {"name": outgoing.service_name,
                                                  "identifier": outgoing.service_identifier}}
        if outgoing.case_id:
            create["caseId"] = outgoing.case_id
        created = self.request("POST", "/submissions", json=create, expect=(201,), delivery_id=delivery_id,
                               exchange=exchange).json()
        submission_id, case_id = created["submissionId"], created["caseId"]
        for aid, token in encrypted.items():
            self.request("PUT", f"/submissions/{submission_id}/attachments/{aid}", content=token.encode("ascii"),
                         headers={"Content-Type": "application/jose"}, expect=(204,), delivery_id=delivery_id,
                         exchange=exchange, note=f"JWE sha256={_sha256(token)} tag={crypto.auth_tag(token)}")
        body: dict[str, Any] = {"encryptedMetadata": encrypted_metadata}
        if encrypted_data is not None:
            body["encryptedData"] = encrypted_data
        note = f"metadata sha256={_sha256(encrypted_metadata)}" + (
            f" data sha256={_sha256(encrypted_data)}" if encrypted_data else "")
        self.request("PUT", f"/submissions/{submission_id}", json=body, expect=(202,), delivery_id=delivery_id,
                     exchange=exchange, note=note)
        tags: dict[str, Any] = {"metadata": crypto.auth_tag(encrypted_metadata),
                                "attachments": {aid: crypto.auth_tag(t) for aid, t in encrypted.items()}}
        if encrypted_data is not None:
            tags["data"] = crypto.auth_tag(encrypted_data)
        return SentSubmission(submission_id, case_id, outgoing.destination_id, tags, datetime.now(timezone.utc),
                              exchange.bytes())

    # ---- status --------------------------------------------------------------------------------------------
    def case_events(self, case_id: str) -> list[str]:
        tokens: list[str] = []
        while True:
            page = self.request("GET", f"/cases/{case_id}/events", params={"limit": 500, "offset": len(tokens)}).json()
            tokens.extend(page.get("eventLog", []))
            if not page.get("eventLog") or len(tokens) >= page.get("totalCount", len(tokens)):
                return tokens

    def verify_event(self, token: str, *, destination_id: str, submission_id: str | None = None,
                     case_id: str | None = None) -> SecurityEvent:
        """A verified SET of the given submission; raises CryptoError for anything forged, foreign or malformed."""
        header = crypto.unverified_header(token)
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise crypto.CryptoError("the event token names no key (kid)")
        try:
            peek = json.loads(crypto.b64url_decode(token.split(".")[1]))
        except (ValueError, IndexError) as exc:
            raise crypto.CryptoError("the event token's claims cannot be read") from exc
        from_destination = isinstance(peek, dict) and peek.get("iss") == destination_id
        try:
            key = self.signature_key(destination_id, kid) if from_destination else self.service_key(kid)
        except PermanentFailure as exc:
            raise crypto.CryptoError(exc.reason) from None
        _, claims = crypto.verify_set(key, token)
        if not isinstance(claims.get("iat"), int) or not claims.get("jti"):
            raise crypto.CryptoError("the event token lacks iat or jti")
        sub, txn = str(claims.get("sub", "")), str(claims.get("txn", ""))
        if not sub.startswith("submission:") or not txn.startswith("case:"):
            raise crypto.CryptoError("the event token's sub/txn are not submission:<id> / case:<id>")
        if submission_id is not None and sub.lower() != f"submission:{submission_id}".lower():
            raise crypto.CryptoError("the event token is about another submission")
        if case_id is not None and txn.lower() != f"case:{case_id}".lower():
            raise crypto.CryptoError("the event token is about another case")
        events = claims.get("events")
        if not isinstance(events, dict) or len(events) != 1:
            raise crypto.CryptoError("the event token must carry exactly one event")
        (uri, payload), = events.items()
        if not uri.startswith(EVENT) or not isinstance(payload, dict):
            raise crypto.CryptoError(f"unknown event {uri!r}")
        name = uri[len(EVENT):]
        if name == "accept-submission" and not from_destination:
            raise crypto.CryptoError("accept-submission not signed by the destination")
        return SecurityEvent(name, str(claims["jti"]), datetime.fromtimestamp(claims["iat"], timezone.utc),
                             str(claims.get("iss")), payload, token)


def _tags_match(sent: dict[str, Any], confirmed: Any) -> bool:
    if not isinstance(confirmed, dict):
        return False
    return (confirmed.get("metadata") == sent.get("metadata") and confirmed.get("data") == sent.get("data")
            and (confirmed.get("attachments") or {}) == (sent.get("attachments") or {}))


def _problems_text(payload: dict[str, Any]) -> str:
    problems = payload.get("problems") or []
    texts = [str(p.get("detail") or p.get("title") or p.get("type")) for p in problems if isinstance(p, dict)]
    return "; ".join(texts) or "ohne Angabe eines Grundes"


def collect_submission_events(client: FitConnectClient, journal: Journal) -> list[StatusEvent]:
    """The DELIVERED / FAILED events of every submission in ``journal``, from verified SETs only.

    accept-submission -> DELIVERED (when its authentication tags are those of what was sent, else FAILED);
    reject-submission -> FAILED with the problems as reason. A SET that does not verify is left out, logged and
    kept in ``client.refused_events``. A final event is stored in the journal, so its case is not read again.
    """
    events: list[StatusEvent] = []
    by_case: dict[str, list[dict[str, Any]]] = {}
    for record in journal.records():
        if not record.get("submission_id"):
            continue
        if record.get("final"):
            events.append(_status_event(record, record["final"]))
            continue
        by_case.setdefault(record["case_id"], []).append(record)
    # one GET per open case (FIT-Connect v1 has no event feed for senders): fetched on a few connections at once
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(by_case)))) as pool:
        logs = dict(zip(by_case, pool.map(client.case_events, by_case)))
    for case_id, records in by_case.items():
        by_submission = {r["submission_id"].lower(): r for r in records}
        for token in logs[case_id]:
            digest = _sha256(token)
            try:  # unverified, only to pick the tokens worth verifying
                claims = json.loads(crypto.b64url_decode(token.split(".")[1]))
                submission_id = str(claims.get("sub", "")).removeprefix("submission:").lower()
                names = {str(uri).removeprefix(EVENT) for uri in claims.get("events", {})}
            except (ValueError, IndexError, AttributeError):
                submission_id, names = "", set()
            record = by_submission.get(submission_id)
            if record is None:
                continue  # another submission in the same case (the application, other replies)
            if not names & {"accept-submission", "reject-submission"}:
                continue  # create / submit / notify / forward: the receipt already says "sent"
            try:
                event = client.verify_event(token, destination_id=record["destination_id"],
                                            submission_id=record["submission_id"], case_id=case_id)
            except crypto.CryptoError as exc:
                log.warning("%s: refused an event token for submission %s: %s", client.channel,
                            record["submission_id"], exc)
                client.refused_events.append((digest, str(exc)))
                continue
            if event.name == "accept-submission":
                if _tags_match(record["tags"], event.payload.get("authenticationTags")):
                    final = {"state": EventState.DELIVERED.value, "reason": "", "jti": event.jti,
                             "at": event.issued_at.isoformat(), "token": token}
                else:
                    final = {"state": EventState.FAILED.value, "jti": event.jti, "at": event.issued_at.isoformat(),
                             "token": token, "reason": "der Empfänger hat einen anderen Inhalt bestätigt als "
                             "gesendet wurde (Authentication Tags weichen ab); erneut senden"}
            elif event.name == "reject-submission":
                final = {"state": EventState.FAILED.value, "jti": event.jti, "at": event.issued_at.isoformat(),
                         "token": token, "reason": "vom Empfänger abgelehnt: " + _problems_text(event.payload)}
            else:
                continue
            journal.update(record["delivery_id"], final=final)
            events.append(_status_event(record, final))
    return events


def _status_event(record: dict[str, Any], final: dict[str, Any]) -> StatusEvent:
    return StatusEvent(event_id=f"fit-connect:{final['jti']}", delivery_id=record["delivery_id"],
                       channel=record["channel"], state=EventState(final["state"]),
                       at=datetime.fromisoformat(final["at"]), evidence=final["token"].encode("ascii"),
                       evidence_type="application/jwt", reason=final.get("reason", ""))
