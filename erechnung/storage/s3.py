"""The storage port on an S3 bucket (the only module that imports boto3).

Configuration: ``S3Storage(bucket, prefix, endpoint_url=..., region_name=..., object_lock_mode=...)`` or a URL
for :func:`erechnung.storage.open_storage`. Credentials and, when not given, the endpoint come from boto3's
usual sources (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``, profiles).

How the guarantees are kept:

* ``put(..., if_absent=True)`` is a conditional write (``If-None-Match: *``, answered ``412`` when the key
  exists): S3 decides, so exactly one of concurrent writers wins. The server must honour the header (AWS S3
  since August 2024, MinIO, moto 5); :meth:`S3Storage.probe_conditional_writes` checks a server.
* retention: with ``object_lock_mode`` (``COMPLIANCE`` or ``GOVERNANCE``; the bucket must have Object Lock
  enabled) ``retention_until`` becomes ``ObjectLockMode`` + ``ObjectLockRetainUntilDate`` on the object
  version, so the server itself refuses to delete that version. The date is also kept as user metadata
  (``x-amz-meta-retain-until``) so the adapter can refuse deletes on buckets without Object Lock and read it
  without GetObjectRetention. :meth:`delete` refuses while the object is retained, because on a versioned
  bucket a plain DELETE would otherwise "succeed" by hiding the retained version behind a delete marker.
* ``claim`` reads the source, writes it to the claimed key conditionally (``If-None-Match: *``; S3 has no
  atomic rename), then deletes the source with ``If-Match: <etag>`` so that a *new* object dropped under the
  same key meanwhile is not deleted. The one claimer whose conditional write succeeds wins; all claimers
  must use the same claimed key for a source key. Objects are read whole: batches are files of megabytes.
* bounded reads: ``get(key, max_bytes=n)`` refuses by the object's ``Content-Length`` first and then reads at
  most ``n + 1`` bytes of the body; ``claim(key, claimed_key, max_bytes=n)`` likewise, leaving an oversized
  object where it is.
* listing: a key no key may be (``..``, control characters, a backslash) is listed by :meth:`entries` as
  refused, with its reason, and never read; folder markers and the storage's own ``.``-names are skipped.
"""
from __future__ import annotations

import hashlib
import os
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Iterator

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from .base import (Entry, ObjectNotFoundError, ObjectTooLargeError, RetainedError, Storage, StorageError, StorageUnreachableError, aware_utc,
                   check_key, check_prefix, key_problem, retention_date)

LOCK_MODES = ("COMPLIANCE", "GOVERNANCE")
_RETAIN_META = "retain-until"
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


#: S3 error codes that mean "this storage cannot be used at all", with what to do (German, for people).
UNREACHABLE_CODES = {
    "NoSuchBucket": ("den Bucket gibt es nicht", "Legen Sie den Bucket an oder korrigieren Sie den Ort in der "
                                                 "Konfiguration."),
    "AccessDenied": ("Zugriff verweigert", "Prüfen Sie die Rechte der Zugangsdaten für diesen Bucket."),
    "InvalidAccessKeyId": ("die Zugangsdaten sind unbekannt", "Prüfen Sie AWS_ACCESS_KEY_ID bzw. [s3] "
                                                              "access_key_id."),
    "SignatureDoesNotMatch": ("der geheime Schlüssel passt nicht", "Prüfen Sie AWS_SECRET_ACCESS_KEY bzw. [s3] "
                                                                   "secret_access_key_file."),
}


def unreachable(url: str, exc: Exception) -> StorageUnreachableError | None:
    """``exc`` as a :class:`StorageUnreachableError` when it means that the storage cannot be used at all."""
    if isinstance(exc, NoCredentialsError):
        return StorageUnreachableError(
            url, "keine Zugangsdaten gefunden",
            "Setzen Sie AWS_ACCESS_KEY_ID und AWS_SECRET_ACCESS_KEY (oder [s3] in der Konfiguration); für die "
            "Beispielkonfiguration ohne Netz: starten Sie die Sandboxen (erechnung sandbox --dir "
            "examples/var/sandbox), sie bringen einen S3-Ersatz mit.")
    if isinstance(exc, EndpointConnectionError):
        return StorageUnreachableError(
            url, f"keine Verbindung zu {getattr(exc, 'kwargs', {}).get('endpoint_url', 'dem S3-Server')}",
            "Prüfen Sie, ob der S3-Server läuft und die Adresse ([s3] endpoint_url, ERECHNUNG_S3_ENDPOINT_URL) "
            "stimmt.")
    if isinstance(exc, ClientError) and _code(exc) in UNREACHABLE_CODES:
        why, fix = UNREACHABLE_CODES[_code(exc)]
        return StorageUnreachableError(url, why, fix)
    if isinstance(exc, BotoCoreError):
        return StorageUnreachableError(url, f"S3 antwortet nicht wie erwartet ({type(exc).__name__})",
                                       "Prüfen Sie Adresse und Zugangsdaten des S3-Servers.")
    return None


class S3Storage(Storage):
    """Objects under ``prefix`` in ``bucket``."""

    def __init__(self, bucket: str, prefix: str = "", *, client: Any = None, endpoint_url: str | None = None,
                 region_name: str | None = None, object_lock_mode: str | None = None,
                 conditional_delete: bool = True, **client_kwargs: Any) -> None:
        if object_lock_mode is not None:
            object_lock_mode = object_lock_mode.upper()
            if object_lock_mode not in LOCK_MODES:
                raise ValueError(f"object_lock_mode must be one of {', '.join(LOCK_MODES)}, not {object_lock_mode!r}")
        prefix = prefix.strip("/")
        if prefix:
            check_key(prefix)
        self.bucket, self.prefix = bucket, prefix + "/" if prefix else ""
        self.object_lock_mode = object_lock_mode
        self.conditional_delete = conditional_delete
        self.url = f"s3://{bucket}/{self.prefix}"
        self.client = client or boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region_name,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}), **client_kwargs)

    def _full(self, key: str) -> str:
        return self.prefix + check_key(key)

    # -- reading -------------------------------------------------------------------------------------------
    def _get_object(self, key: str) -> dict:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._full(key))
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                raise ObjectNotFoundError(f"{key}: no such object in {self.url}") from None
            raise StorageError(f"{key}: cannot read from {self.url}: {exc}") from exc

    @staticmethod
    def _body(key: str, obj: dict, max_bytes: int | None) -> bytes:
        """The object's body, refused by its Content-Length first, then read bounded."""
        body = obj["Body"]
        try:
            if max_bytes is None:
                return body.read()
            if int(obj.get("ContentLength") or 0) > max_bytes:
                raise ObjectTooLargeError(key, max_bytes, int(obj["ContentLength"]))
            data = body.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise ObjectTooLargeError(key, max_bytes)
            return data
        finally:
            body.close()

    def get(self, key: str, *, max_bytes: int | None = None) -> bytes:
        return self._body(key, self._get_object(key), max_bytes)

    def _head(self, key: str) -> dict | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._full(key))
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND or _status(exc) == 404:
                return None
            raise StorageError(f"{key}: cannot look up in {self.url}: {exc}") from exc

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def entries(self, prefix: str = "") -> Iterator[Entry]:
        """The objects under ``prefix``; a bucket that cannot be listed at all (no credentials, no server, no
        such bucket) raises :class:`StorageUnreachableError` with a German message."""
        check_prefix(prefix)
        try:
            pages = list(self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                            Prefix=self.prefix + prefix))
        except (BotoCoreError, ClientError) as exc:
            problem = unreachable(self.url.rstrip("/"), exc)
            if problem is None:
                raise
            raise problem from None
        for page in pages:
            for item in page.get("Contents", ()):
                key = item["Key"][len(self.prefix):]
                problem = key_problem(key)
                if problem is None:
                    yield Entry(key, int(item.get("Size") or 0))
                elif problem[0] != "reserved":  # a folder marker or a '.'-name: not one of ours, never listed
                    yield Entry(key, None, "name", problem[1])

    @staticmethod
    def _retention_of(head: dict) -> datetime | None:
        dates = []
        if head.get("ObjectLockRetainUntilDate"):
            dates.append(aware_utc(head["ObjectLockRetainUntilDate"]))
        text = (head.get("Metadata") or {}).get(_RETAIN_META)
        if text:
            dates.append(aware_utc(datetime.fromisoformat(text)))
        return max(dates) if dates else None

    def retention(self, key: str) -> datetime | None:
        head = self._head(key)
        return None if head is None else self._retention_of(head)

    def _check_not_retained(self, key: str, head: dict | None = None) -> None:
        head = head if head is not None else self._head(key)
        until = None if head is None else self._retention_of(head)
        if until is not None and until > datetime.now(timezone.utc):
            raise RetainedError(key, until)

    # -- writing -------------------------------------------------------------------------------------------
    def _put_object(self, key: str, data: bytes, *, if_absent: bool, retention_until: datetime | None) -> bool:
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self._full(key), "Body": bytes(data),
                                "ChecksumAlgorithm": "SHA256"}
        if if_absent:
            args["IfNoneMatch"] = "*"
        if retention_until is not None:
            until = retention_date(retention_until)
            args["Metadata"] = {_RETAIN_META: until.isoformat()}
            if self.object_lock_mode:
                args["ObjectLockMode"] = self.object_lock_mode
                args["ObjectLockRetainUntilDate"] = until
        for attempt in range(5):
            try:
                self.client.put_object(**args)
                return True
            except ClientError as exc:
                if _code(exc) == "PreconditionFailed" or _status(exc) == 412:
                    return False
                if _code(exc) == "ConditionalRequestConflict" and attempt < 4:  # 409: a racing write, retry
                    time.sleep(0.05 * (attempt + 1))
                    continue
                raise StorageError(f"{key}: cannot write to {self.url}: {exc}") from exc
        return False  # pragma: no cover

    def put(self, key: str, data: bytes, *, if_absent: bool = False,
            retention_until: datetime | None = None) -> bool:
        if not if_absent:
            self._check_not_retained(key)
        return self._put_object(key, data, if_absent=if_absent, retention_until=retention_until)

    def delete(self, key: str) -> None:
        self._check_not_retained(key)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._full(key))
        except ClientError as exc:
            if _code(exc) == "AccessDenied":
                raise StorageError(f"{key}: {self.url} refused the delete (Object Lock?): {exc}") from exc
            raise StorageError(f"{key}: cannot delete from {self.url}: {exc}") from exc

    def _delete_if_unchanged(self, key: str, etag: str) -> None:
        """Delete the source of a claim only if it still is the object we claimed."""
        args = {"Bucket": self.bucket, "Key": self._full(key)}
        if self.conditional_delete:
            args["IfMatch"] = etag
        try:
            self.client.delete_object(**args)
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND or _code(exc) == "PreconditionFailed" or _status(exc) == 412:
                return  # gone already, or replaced by a new drop that must stay
            if _code(exc) == "NotImplemented" and self.conditional_delete:
                self.conditional_delete = False  # a server without conditional deletes
                self._delete_if_unchanged(key, etag)
                return
            raise StorageError(f"{key}: cannot delete the claimed source in {self.url}: {exc}") from exc

    def claim(self, key: str, claimed_key: str, *, max_bytes: int | None = None) -> bool:
        try:
            obj = self._get_object(key)
        except ObjectNotFoundError:
            return False
        try:
            self._check_not_retained(key, obj)
        except RetainedError:
            obj["Body"].close()
            raise
        data, etag = self._body(key, obj, max_bytes), obj["ETag"]
        if self._put_object(claimed_key, data, if_absent=True, retention_until=None):
            self._delete_if_unchanged(key, etag)
            return True
        # Claimed before: by a concurrent winner, or by a claim of ours that crashed before deleting the
        # source. When the claimed object holds these very bytes, removing the source loses nothing.
        try:
            there = self.get(claimed_key)
        except ObjectNotFoundError:
            return False
        if hashlib.sha256(there).digest() == hashlib.sha256(data).digest():
            self._delete_if_unchanged(key, etag)
        return False

    def probe_conditional_writes(self) -> bool:
        """Whether the server refuses a second ``If-None-Match: *`` write (writes and deletes a probe object
        under ``probe-<random>``; ``False`` means ``if_absent`` and ``claim`` give no guarantee there)."""
        key = f"probe-{uuid.uuid4().hex}"
        try:
            first = self._put_object(key, b"1", if_absent=True, retention_until=None)
            second = self._put_object(key, b"2", if_absent=True, retention_until=None)
            return first and not second and self.get(key) == b"1"
        finally:
            self.client.delete_object(Bucket=self.bucket, Key=self._full(key))


def from_url(bucket: str, prefix: str, options: dict[str, str]) -> S3Storage:
    """An S3Storage for ``s3://bucket/prefix?endpoint_url=...&region=...&object_lock=COMPLIANCE``; options
    not in the URL come from ``ERECHNUNG_S3_ENDPOINT_URL``, ``ERECHNUNG_S3_REGION`` and
    ``ERECHNUNG_S3_OBJECT_LOCK``, then from boto3's own configuration."""
    env = os.environ
    endpoint = options.get("endpoint_url") or env.get("ERECHNUNG_S3_ENDPOINT_URL") or None
    region = options.get("region") or env.get("ERECHNUNG_S3_REGION") or None
    lock = options.get("object_lock") or env.get("ERECHNUNG_S3_OBJECT_LOCK") or None
    keys = {k: options[k] for k in ("aws_access_key_id", "aws_secret_access_key") if options.get(k)}
    return S3Storage(bucket, prefix, endpoint_url=endpoint, region_name=region,
                     object_lock_mode=None if lock in (None, "", "none", "NONE") else lock, **keys)
