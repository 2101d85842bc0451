"""The archive: every original batch, document and report, kept unchanged for as long as the law says.

Content-addressed: an item's bytes lie under ``sha256/<ab>/<cd>/<hex>`` (``ab``, ``cd``: the first two
pairs of hex digits), next to a small JSON metadata object ``sha256/<ab>/<cd>/<hex>.json`` saying what it is
(kind, department, document id, media type, original name, created, retention until). Both are written
with ``if_absent`` and a retention date, so

* nothing archived is ever overwritten: the same bytes give the same key and are stored once (the first
  metadata stays; archiving them again returns it with ``newly_stored=False``);
* nothing archived can be deleted before its retention ends (the storage refuses; on S3 with Object Lock the
  server refuses);
* :meth:`Archive.verify` recomputes the hash of what is stored.

Retention (GoBD, § 147 AO): invoices and credit notes, and the batches and reports they come from, 8 years;
notices as configured (``notice_years``, per notice kind in ``notice_kinds``). A period starts at the end of
the calendar year the item was created in (§ 147 Abs. 4 AO), so an item of 2026 is kept until 1 January 2035.

This is domain code: it speaks to the :class:`~erechnung.storage.Storage` port only. The database index of
archived items is written by :func:`erechnung.state.repository.index_archived`.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any, Callable, Iterator, Mapping

from erechnung.errors import ErechnungError
from erechnung.storage import ObjectNotFoundError, Storage

ROOT = "sha256/"
_HEX = re.compile(r"[0-9a-f]{64}")


class ArchiveError(ErechnungError):
    """The archive cannot do what was asked (unknown item, damaged content, bad configuration)."""


class ArchiveKind(StrEnum):
    """What an archived item is."""

    ORIGINAL_BATCH = "original_batch"  # a department's export file as it was dropped
    DOCUMENT = "document"  # an invoice, credit note or notice as sent (XML, PDF)
    REPORT = "report"  # a validation report
    ERROR_REPORT = "error_report"  # what a clerk reads about rows that did not become documents


#: Document kinds whose records are Buchungsbelege (§ 147 Abs. 1 Nr. 4 AO).
INVOICE_KINDS = frozenset({"invoice", "credit_note"})


@dataclass(frozen=True)
class RetentionPolicy:
    """How long the archive keeps items, in full calendar years after the year of creation."""

    invoice_years: int = 8  # § 147 Abs. 3 AO (8 years for Buchungsbelege since 2025), GoBD
    notice_years: int = 10
    notice_kinds: Mapping[str, int] = field(default_factory=dict)  # e.g. {"grundsteuerbescheid": 30}

    def __post_init__(self) -> None:
        for name, years in [("invoice_years", self.invoice_years), ("notice_years", self.notice_years),
                            *((f"notice_kinds.{k}", v) for k, v in self.notice_kinds.items())]:
            if not isinstance(years, int) or years < 1:
                raise ArchiveError(f"retention {name} = {years!r}: must be a whole number of years, at least 1")

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> "RetentionPolicy":
        """From an ``[archive.retention]`` table: ``invoice_years``, ``notice_years``, ``[notice_kinds]``."""
        config = dict(config or {})
        unknown = set(config) - {"invoice_years", "notice_years", "notice_kinds"}
        if unknown:
            raise ArchiveError(f"unknown retention setting(s): {', '.join(sorted(unknown))} "
                               "(known: invoice_years, notice_years, notice_kinds)")
        return cls(invoice_years=config.get("invoice_years", 8), notice_years=config.get("notice_years", 10),
                   notice_kinds=dict(config.get("notice_kinds", {})))

    def years(self, document_kind: str, notice_kind: str | None = None) -> int:
        """Years to keep records of ``document_kind`` (invoice, credit_note, notice)."""
        if document_kind in INVOICE_KINDS:
            return self.invoice_years
        if document_kind == "notice":
            return self.notice_kinds.get(notice_kind or "", self.notice_years)
        raise ArchiveError(f"no retention rule for document kind {document_kind!r}",)

    def until(self, document_kind: str, created: datetime, notice_kind: str | None = None) -> datetime:
        """The end of retention: 1 January (UTC) after the last year of the period."""
        return datetime(created.year + self.years(document_kind, notice_kind) + 1, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class ArchivedItem:
    """One archived item as its metadata object describes it."""

    sha256: str
    size: int
    kind: ArchiveKind
    department: str
    media_type: str
    created: datetime
    retention_until: datetime
    document_kind: str  # the record class the retention follows: invoice, credit_note, notice
    document_id: str | None = None
    original_name: str | None = None
    #: False when the same bytes were archived before (this is then their first metadata); not compared
    newly_stored: bool = field(default=True, compare=False)

    @property
    def key(self) -> str:
        return content_key(self.sha256)

    @property
    def meta_key(self) -> str:
        return self.key + ".json"

    def to_meta(self) -> dict[str, Any]:
        d = asdict(self)
        del d["newly_stored"]
        d.update(kind=self.kind.value, created=self.created.isoformat(),
                 retention_until=self.retention_until.isoformat(), schema=1)
        return d

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any], *, newly_stored: bool = False) -> "ArchivedItem":
        return cls(sha256=meta["sha256"], size=meta["size"], kind=ArchiveKind(meta["kind"]),
                   department=meta["department"], media_type=meta["media_type"],
                   created=datetime.fromisoformat(meta["created"]),
                   retention_until=datetime.fromisoformat(meta["retention_until"]),
                   document_kind=meta["document_kind"], document_id=meta.get("document_id"),
                   original_name=meta.get("original_name"), newly_stored=newly_stored)


def content_key(sha256: str) -> str:
    """``sha256/ab/cd/<hex>`` for a lower-case hex SHA-256."""
    if not isinstance(sha256, str) or not _HEX.fullmatch(sha256):
        raise ArchiveError(f"{sha256!r} is not a SHA-256 in lower-case hex")
    return f"{ROOT}{sha256[:2]}/{sha256[2:4]}/{sha256}"


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Archive:
    """The archive on a storage. ``clock`` gives "now" (tests pass a fixed one)."""

    def __init__(self, storage: Storage, policy: RetentionPolicy | None = None,
                 clock: Callable[[], datetime] = _now) -> None:
        self.storage, self.policy, self.clock = storage, policy or RetentionPolicy(), clock

    def put(self, data: bytes, *, kind: ArchiveKind | str, department: str, media_type: str,
            document_kind: str, document_id: str | None = None, original_name: str | None = None,
            notice_kind: str | None = None) -> ArchivedItem:
        """Archive ``data`` (idempotent: the same bytes are stored once; see the module docstring)."""
        data = bytes(data)
        created = self.clock()
        item = ArchivedItem(sha256=hashlib.sha256(data).hexdigest(), size=len(data), kind=ArchiveKind(kind),
                            department=department, media_type=media_type, created=created,
                            retention_until=self.policy.until(document_kind, created, notice_kind),
                            document_kind=document_kind, document_id=document_id, original_name=original_name)
        # Content first, metadata second: a crash in between leaves content without metadata, which the
        # next put of the same bytes completes; metadata never describes content that is not there.
        self.storage.put(item.key, data, if_absent=True, retention_until=item.retention_until)
        meta = json.dumps(item.to_meta(), ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")
        if self.storage.put(item.meta_key, meta, if_absent=True, retention_until=item.retention_until):
            return item
        return replace(self.item(item.sha256), newly_stored=False)

    def item(self, sha256: str) -> ArchivedItem:
        """The metadata of an archived item; ArchiveError when there is none."""
        try:
            return ArchivedItem.from_meta(json.loads(self.storage.get(content_key(sha256) + ".json")))
        except ObjectNotFoundError:
            raise ArchiveError(f"{sha256}: not in the archive ({self.storage.url})") from None

    def get(self, sha256: str) -> bytes:
        """The archived bytes, checked against their hash (ArchiveError if missing or damaged)."""
        try:
            data = self.storage.get(content_key(sha256))
        except ObjectNotFoundError:
            raise ArchiveError(f"{sha256}: not in the archive ({self.storage.url})") from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ArchiveError(f"{sha256}: the archived bytes no longer have this hash (damaged storage)")
        return data

    def exists(self, sha256: str) -> bool:
        return self.storage.exists(content_key(sha256))

    def verify(self, sha256: str) -> bool:
        """Whether the item is there and its bytes still hash to ``sha256``."""
        try:
            return hashlib.sha256(self.storage.get(content_key(sha256))).hexdigest() == sha256
        except ObjectNotFoundError:
            return False

    def hashes(self) -> Iterator[str]:
        """The SHA-256 of every archived item, in order."""
        for key in self.storage.list(ROOT):
            name = key.rsplit("/", 1)[-1]
            if _HEX.fullmatch(name):
                yield name

    def verify_all(self) -> Iterator[tuple[str, bool]]:
        """``(sha256, ok)`` for every archived item (an audit: is every item unchanged?)."""
        for sha in self.hashes():
            yield sha, self.verify(sha)
