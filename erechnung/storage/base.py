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
* Nothing is followed out of the storage: an entry that is a symbolic link (at any depth of its key) or no
  regular file (a FIFO, device, socket) is never opened for reading, written through or deleted through;
  reading or claiming it raises :class:`RefusedEntryError`. ``get(key, max_bytes=n)`` reads at most ``n + 1``
  bytes and raises :class:`ObjectTooLargeError` for a larger object (its size is checked first, then the read
  is bounded), so that nothing oversized is ever held in memory whole.
* :meth:`Storage.entries` lists what lies in the storage as found, including what the storage refuses (names
  no key may have, links, special files), each with the reason, so that a caller can report it; one bad entry
  never aborts a listing. :meth:`Storage.list` gives only the keys of what may be read.
* ``claim(key, claimed_key)`` moves an object so that of all concurrent claims of ``key`` *with the same
  claimed_key* exactly one returns ``True``; derive ``claimed_key`` from ``key`` alone (the flows use
  ``claimed/<key>``). A claim interrupted by a crash leaves the bytes at ``key`` (claim again) or at
  ``claimed_key`` (found by ``list("claimed/")``), never nowhere; claiming again removes a leftover source
  whose bytes already lie at ``claimed_key`` and returns ``False``, because that object was claimed before.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterator

from erechnung.errors import ErechnungError


class StorageError(ErechnungError):
    """A storage operation failed (the message names the key and the cause)."""


class StorageUnreachableError(StorageError):
    """The storage cannot be reached at all (no credentials, no server at the endpoint, no such bucket, access
    denied). Its message is German and says what to do: it reaches the department's row in the run report and
    the Prefect state of the run, while the other departments go on."""

    def __init__(self, url: str, why: str, fix: str) -> None:
        self.url, self.why, self.fix = url, why, fix
        super().__init__(f"Ablage {url} nicht erreichbar: {why}. {fix}")


class InvalidKeyError(StorageError, ValueError):
    """The key is not a relative POSIX path we accept (``..``, absolute, empty segment, ...)."""


class ObjectNotFoundError(StorageError, KeyError):
    """No object under this key."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "object not found"


class RefusedEntryError(StorageError):
    """An entry the storage will not read, write through or delete through: ``reason`` is one of
    :data:`REFUSALS` (a link, a special file, a name no key may have)."""

    def __init__(self, key: str, reason: str, detail: str = "") -> None:
        self.key, self.reason, self.detail = key, reason, detail
        super().__init__(f"{key!r}: {REFUSALS[reason]}{': ' + detail if detail else ''}; it is not read")


class ObjectTooLargeError(StorageError):
    """The object is larger than the caller's bound: nothing more than ``limit + 1`` bytes of it was read."""

    def __init__(self, key: str, limit: int, size: int | None = None) -> None:
        self.key, self.limit, self.size = key, limit, size
        super().__init__(f"{key}: larger than {limit} bytes{f' ({size} bytes)' if size is not None else ''}")


#: Why an entry is refused (``RefusedEntryError.reason``, ``Entry.refused``).
REFUSALS = {
    "name": "not a name a key may have",
    "link": "a symbolic link (never followed)",
    "special": "not a regular file (FIFO, device, socket)",
}


@dataclass(frozen=True)
class Entry:
    """One thing found by :meth:`Storage.entries`: ``key`` (for a refused name: the name as found), its size
    when the listing tells it, and ``refused`` (a key of :data:`REFUSALS`) when the storage will not read it."""

    key: str
    size: int | None = None
    refused: str | None = None
    detail: str = ""


class RetainedError(StorageError, PermissionError):
    """The object is under retention (GoBD, Object Lock) and must not be deleted or overwritten yet."""

    def __init__(self, key: str, until: datetime) -> None:
        self.key, self.until = key, until
        super().__init__(f"{key}: retained until {until.isoformat()}; it cannot be deleted or overwritten before")


def key_problem(key: str) -> tuple[str, str] | None:
    """Why ``key`` is no key we accept, as (kind, explanation), or None. Kind ``reserved``: a name of the
    storage's own (a segment beginning with ``.``, an S3 folder marker ending in ``/``), which listings skip;
    kind ``name``: anything else, which listings report as refused."""
    if not isinstance(key, str) or not key:
        return "name", "a key must be a non-empty string"
    if key.startswith("/") or "\\" in key:
        return "name", "a key is a relative POSIX path (no leading '/', no '\\')"
    if any(ord(c) < 32 or c == "\x7f" for c in key):
        return "name", "a key must not contain control characters"
    if any("\ud800" <= c <= "\udfff" for c in key):  # a file name's bytes that are no UTF-8 (surrogateescape)
        return "name", "a key must be valid UTF-8"
    segments = key.split("/")
    if any(s in (".", "..") for s in segments) or "" in segments[:-1]:
        return "name", "empty, '.' and '..' path segments are refused"
    if any(s.startswith(".") for s in segments):
        return "reserved", "segments beginning with '.' are reserved for the storage itself"
    if not segments[-1]:
        return "reserved", "a key ending in '/' names a folder"
    return None


def check_key(key: str) -> str:
    """``key`` unchanged if it is a key we accept, else InvalidKeyError saying why."""
    problem = key_problem(key)
    if problem is not None:
        raise InvalidKeyError(f"{key!r}: {problem[1]}")
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
    def get(self, key: str, *, max_bytes: int | None = None) -> bytes:
        """The object's bytes; ObjectNotFoundError when there is none, RefusedEntryError for a link or special
        file, ObjectTooLargeError when it has more than ``max_bytes`` (of which at most ``max_bytes + 1`` are
        read)."""

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
    def entries(self, prefix: str = "") -> Iterator[Entry]:
        """Everything found under ``prefix`` (refused entries included, with their reason), in lexicographic
        order of the keys; the storage's own ``.``-names are never listed."""

    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys beginning with ``prefix`` that may be read, in lexicographic order."""
        return (e.key for e in self.entries(prefix) if e.refused is None)

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object (no error when there is none); RetainedError while it is retained."""

    @abc.abstractmethod
    def retention(self, key: str) -> datetime | None:
        """Until when the object is retained (UTC), or None."""

    @abc.abstractmethod
    def claim(self, key: str, claimed_key: str, *, max_bytes: int | None = None) -> bool:
        """Move ``key`` to ``claimed_key`` exactly once (see the module docstring); ``False`` when the
        object is gone or was claimed by someone else. RefusedEntryError for a link or special file and
        ObjectTooLargeError for an object over ``max_bytes``: either is left where it is."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"
