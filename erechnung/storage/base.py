"""The storage port: one small interface for every place the pipeline keeps bytes.

Batches are dropped into it, claimed out of its inbox, and the archive keeps documents and reports in it.
Two adapters implement it: :class:`~erechnung.storage.local.LocalStorage` (a folder) and
:class:`~erechnung.storage.s3.S3Storage` (an S3 bucket, boto3 imported only there).

Keys are relative POSIX paths (``inbox/kasse/2026-11.csv``): no leading ``/``, no empty, ``.`` or ``..``
segments, no backslash, no control characters, and no segment beginning with ``.`` (those names are the
adapters' own: temporary files, retention records; :meth:`Storage.list` never returns them).

The guarantees every adapter gives:

* ``put(..., if_absent=True)`` never overwrites: of several concurrent writers of one key exactly one gets
  ``True``, the others ``False``, and the object holds the winner's bytes complete.
* A reader never sees a partly written object.
* ``delete`` of an object whose retention has not run out raises :class:`RetainedError`.
* ``claim(key, claimed_key)`` moves an object so that of all concurrent claims of ``key`` *with the same
  claimed_key* exactly one returns ``True``; derive ``claimed_key`` from ``key`` alone (the flows use
  ``claimed/<key>``). A claim interrupted by a crash leaves the bytes at ``key`` (claim again) or at
  ``claimed_key`` (found by ``list("claimed/")``), never nowhere; claiming again removes a leftover source
  whose bytes already lie at ``claimed_key`` and returns ``False``, because that object was claimed before.
"""
from __future__ import annotations

import abc
from datetime import datetime, timedelta, timezone
from typing import Iterator

from erechnung.errors import ErechnungError


class StorageError(ErechnungError):
    """A storage operation failed (the message names the key and the cause)."""


class InvalidKeyError(StorageError, ValueError):
    """The key is not a relative POSIX path we accept (``..``, absolute, empty segment, ...)."""


class ObjectNotFoundError(StorageError, KeyError):
    """No object under this key."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "object not found"


class RetainedError(StorageError, PermissionError):
    """The object is under retention (GoBD, Object Lock) and must not be deleted or overwritten yet."""

    def __init__(self, key: str, until: datetime) -> None:
        self.key, self.until = key, until
        super().__init__(f"{key}: retained until {until.isoformat()}; it cannot be deleted or overwritten before")


def check_key(key: str) -> str:
    """``key`` unchanged if it is a key we accept, else InvalidKeyError saying why."""
    if not isinstance(key, str) or not key:
        raise InvalidKeyError(f"{key!r}: a key must be a non-empty string")
    if key.startswith("/") or "\\" in key:
        raise InvalidKeyError(f"{key!r}: a key is a relative POSIX path (no leading '/', no '\\')")
    if any(ord(c) < 32 or c == "\x7f" for c in key):
        raise InvalidKeyError(f"{key!r}: a key must not contain control characters")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidKeyError(f"{key!r}: empty, '.' and '..' path segments are refused")
        if segment.startswith("."):
            raise InvalidKeyError(f"{key!r}: segments beginning with '.' are reserved for the storage itself")
    return key


def check_prefix(prefix: str) -> str:
    """A listing prefix: empty, or a key prefix (a trailing ``/`` allowed)."""
    if prefix:
        check_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix


def aware_utc(when: datetime) -> datetime:
    """``when`` as an aware UTC datetime (naive values are taken as UTC)."""
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def retention_date(until: datetime) -> datetime:
    """A retention date as stored: aware UTC, rounded up to the whole second (S3 Object Lock's precision)."""
    until = aware_utc(until)
    if until.microsecond:
        until = until.replace(microsecond=0) + timedelta(seconds=1)
    return until


class Storage(abc.ABC):
    """Where bytes live. Implementations must keep the guarantees in this module's docstring."""

    #: ``file:///...`` or ``s3://bucket/prefix``: where this storage is, for logs and reports.
    url: str

    @abc.abstractmethod
    def get(self, key: str) -> bytes:
        """The object's bytes; ObjectNotFoundError when there is none."""

    @abc.abstractmethod
    def put(self, key: str, data: bytes, *, if_absent: bool = False,
            retention_until: datetime | None = None) -> bool:
        """Store ``data`` under ``key``. With ``if_absent`` an existing object is never overwritten and
        ``False`` is returned. ``retention_until`` protects the object from deletion (and overwriting)
        until then. Overwriting an object under retention raises RetainedError."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys beginning with ``prefix``, in lexicographic order."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object (no error when there is none); RetainedError while it is retained."""

    @abc.abstractmethod
    def retention(self, key: str) -> datetime | None:
        """Until when the object is retained (UTC), or None."""

    @abc.abstractmethod
    def claim(self, key: str, claimed_key: str) -> bool:
        """Move ``key`` to ``claimed_key`` exactly once (see the module docstring); ``False`` when the
        object is gone or was claimed by someone else."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"
