"""The archive: every original batch, document and report, kept unchanged for as long as the law says.

Content-addressed: an item's bytes lie under ``sha256/<ab>/<cd>/<hex>`` (``ab``, ``cd``: the first two
pairs of hex digits), next to a small JSON metadata object ``sha256/<ab>/<cd>/<hex>.json`` saying what it is
(kind, department, document id, media type, original name, created, retention until). Both are written
with ``if_absent`` and a retention date, so

* nothing archived is ever overwritten: the same bytes give the same key and are stored once (the first
  metadata stays; archiving them again returns it with ``newly_stored=False``);
* nothing archived can be deleted before its retention ends (the storage refuses; on S3 with Object Lock the
  server refuses);
* :meth:`Archive.verify` recomputes the hash of what is stored; :meth:`Archive.audit` does it for every item
  and checks each one's metadata and retention (``erechnung archive verify``).

Checkpoints of the delivery events' hash chain (``erechnung.delivery.audit``) are kept here too, where the state
database cannot rewrite them: ``checkpoints/delivery-chain/<seq>.json`` (``seq``, ``hash``, ``at``), written
once (``if_absent``) under the longest retention of the policy; :meth:`Archive.latest_checkpoint` reads the
newest.

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
from erechnung.model.documents import INVOICE_KINDS
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


#: Where the checkpoints of the delivery events' hash chain lie (one object per checkpointed ``seq``).
CHECKPOINTS = "checkpoints/delivery-chain/"


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
    def configured(cls, years: Any) -> "RetentionPolicy":
        """From the configuration's ``[archive] retention_years`` (``config.locations.Retention``)."""
        return cls(invoice_years=years.invoices, notice_years=years.notices)

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
        if document_kind in INVOICE_KINDS:  # Buchungsbelege (§ 147 Abs. 1 Nr. 4 AO)
            return self.invoice_years
        if document_kind == "notice":
            return self.notice_kinds.get(notice_kind or "", self.notice_years)
        raise ArchiveError(f"no retention rule for document kind {document_kind!r}",)

    def until(self, document_kind: str, created: datetime, notice_kind: str | None = None) -> datetime:
        """The end of retention: 1 January (UTC) after the last year of the period."""
        return datetime(created.year + self.years(document_kind, notice_kind) + 1, 1, 1, tzinfo=timezone.utc)

    def shortest_until(self, document_kind: str, created: datetime) -> datetime:
        """The earliest end of retention the policy allows for ``document_kind`` (a notice: the shortest of its
        notice kinds): what an archived item's retention must at least reach."""
        if document_kind == "notice":
            years = min([self.notice_years, *self.notice_kinds.values()])
            return datetime(created.year + years + 1, 1, 1, tzinfo=timezone.utc)
        return self.until(document_kind, created)

    def longest_until(self, created: datetime) -> datetime:
        """The end of the longest period of the policy (what a record about all kinds is kept for)."""
        years = max([self.invoice_years, self.notice_years, *self.notice_kinds.values()])
        return datetime(created.year + years + 1, 1, 1, tzinfo=timezone.utc)


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

    # ------------------------------------------------------------------------------------------- the audit

    def audit(self) -> Iterator["ArchiveFinding"]:
        """Every problem of every archived item (see :class:`ArchiveFinding`): each object under ``sha256/`` is
        read and hashed again, its metadata read and compared, its retention and its metadata's checked against
        the policy. Items without a problem yield nothing; :attr:`audited` counts the items looked at."""
        self.audited = 0
        keys = list(self.storage.list(ROOT))
        present = set(keys)
        for key in keys:
            name = key.rsplit("/", 1)[-1]
            if name.endswith(".json") and _HEX.fullmatch(name[:-5]):
                if key[:-5] not in present:
                    yield ArchiveFinding(name[:-5], key, "content_missing",
                                         "Metadaten ohne Inhalt: die archivierten Bytes fehlen")
                continue
            if not _HEX.fullmatch(name) or key != content_key(name):
                yield ArchiveFinding(None, key, "unknown_object", "ein Objekt, das nicht ins Archiv gehört")
                continue
            self.audited += 1
            yield from self._audit_item(name, key, meta_present=key + ".json" in present)

    def _audit_item(self, sha: str, key: str, *, meta_present: bool) -> Iterator["ArchiveFinding"]:
        try:
            data = self.storage.get(key)
        except ObjectNotFoundError:
            yield ArchiveFinding(sha, key, "content_missing", "gelistet, aber nicht lesbar")
            return
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha:
            yield ArchiveFinding(sha, key, "hash_mismatch",
                                 f"die Bytes haben den Hash {actual}, nicht den ihres Schlüssels: verändert")
        if not meta_present:
            yield ArchiveFinding(sha, key, "metadata_missing",
                                 "keine Metadaten (Art, Aufbewahrung): das Archivieren wurde unterbrochen")
            return
        try:
            item = ArchivedItem.from_meta(json.loads(self.storage.get(key + ".json")))
        except (ObjectNotFoundError, ValueError, KeyError, TypeError) as exc:
            yield ArchiveFinding(sha, key + ".json", "metadata_unreadable", f"Metadaten nicht lesbar: {exc}")
            return
        if item.sha256 != sha or item.size != len(data):
            yield ArchiveFinding(sha, key + ".json", "metadata_mismatch",
                                 f"die Metadaten nennen sha256 {item.sha256} und {item.size} Bytes, gespeichert "
                                 f"sind {len(data)} Bytes unter {sha}")
        try:
            required = self.policy.shortest_until(item.document_kind, item.created)
        except ArchiveError as exc:
            yield ArchiveFinding(sha, key, "retention_unknown", str(exc))
            return
        for what in (key, key + ".json"):
            until = self.storage.retention(what)
            if until is None:
                yield ArchiveFinding(sha, what, "retention_missing",
                                     f"keine Aufbewahrungsfrist gesetzt (nötig bis {required.date().isoformat()}): "
                                     "es könnte gelöscht werden")
            elif until < required:
                yield ArchiveFinding(sha, what, "retention_too_short",
                                     f"aufbewahrt bis {until.date().isoformat()}, für {item.document_kind} nötig "
                                     f"bis {required.date().isoformat()}")

    # ------------------------------------------------------------------------------------------- checkpoints

    def put_checkpoint(self, seq: int, head_hash: str, at: datetime | None = None) -> bool:
        """Keep the chain's head (``seq``, ``head_hash``) as a checkpoint; False when ``seq`` was checkpointed
        before (the first checkpoint of a ``seq`` stays)."""
        at = at or self.clock()
        data = json.dumps({"seq": seq, "hash": head_hash, "at": at.isoformat()}, sort_keys=True).encode("utf-8")
        return self.storage.put(f"{CHECKPOINTS}{seq:015d}.json", data, if_absent=True,
                                retention_until=self.policy.longest_until(at))

    def latest_checkpoint(self) -> "Checkpoint | None":
        """The checkpoint with the highest ``seq``, or None when none was written."""
        last = None
        for key in self.storage.list(CHECKPOINTS):
            last = key
        return None if last is None else self._checkpoint(last)

    def checkpoints(self) -> "list[Checkpoint]":
        """Every checkpoint, oldest (lowest ``seq``) first: a chain rewritten from some event on and then
        checkpointed again by a later run still contradicts the checkpoints written before the rewrite."""
        return [self._checkpoint(key) for key in self.storage.list(CHECKPOINTS)]

    def _checkpoint(self, key: str) -> "Checkpoint":
        meta = json.loads(self.storage.get(key))
        return Checkpoint(seq=int(meta["seq"]), hash=meta["hash"], at=datetime.fromisoformat(meta["at"]), key=key)


@dataclass(frozen=True)
class Checkpoint:
    """A head of the delivery events' hash chain kept in the archive."""

    seq: int
    hash: str
    at: datetime
    key: str


@dataclass(frozen=True)
class ArchiveFinding:
    """One problem :meth:`Archive.audit` found: ``problem`` is a code (``hash_mismatch``, ``content_missing``,
    ``metadata_missing``, ``metadata_unreadable``, ``metadata_mismatch``, ``retention_missing``,
    ``retention_too_short``, ``retention_unknown``, ``unknown_object``), ``detail`` says it for people."""

    sha256: str | None
    key: str
    problem: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
