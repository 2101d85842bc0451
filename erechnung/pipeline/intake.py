"""Intake: a department's dropped files become documents (numbered, in the state database) or quarantine entries,
and the department gets its error report.

Per department (the run holds the department, :mod:`.locks`), in this order:

1. batches a crashed run left ``claimed`` in the database are processed again from the archived original;
2. files a crashed run left under ``claimed/`` in the drop zone, then new files, are claimed (moved to
   ``claimed/<name>`` atomically: of several runs exactly one gets each file) and processed:

   * the original is archived unchanged (content-addressed; the same bytes are stored once),
   * the batch is claimed in the database by (department, sha256): a file processed before is a ``duplicate``
     and is only removed from the drop zone,
   * the file is read and mapped; every draft is built and its document created in the database together with
     its number and its rows' records, a few hundred documents per transaction; the built document goes to the
     work area for rendering; documents that cannot be built, and rows that cannot be mapped, are quarantined
     with every reason,
   * the error report (CSV for Excel and HTML, from everything quarantined for the batch) is written to
     ``fehlerberichte/`` in the drop zone and archived,
   * the batch is finished, and only then the claimed file removed from the drop zone.

Every step may be repeated: a repeated step finds its work done (idempotency keys, unique records, the
content-addressed archive), which is how a run after a crash completes what the crashed run began.

A drop zone is untrusted input (the department's folder or bucket; issue 10):

* ``claimed/`` and ``fehlerberichte/`` must be real folders of the zone: a link (or a file) there stops the
  department's intake before anything is read, claimed, written or deleted (:class:`DropZoneError`);
* an entry that is a link, a special file (FIFO, device, socket), has a name no key may have (control
  characters, ``\\``, ``..``), or is larger than ``[limits] file_bytes`` is refused: never read (an oversized
  one is refused by its size, or by a read that stops at the limit + 1), nothing of it archived, nothing
  deleted; the department reads why in its error report (:data:`REFUSED`), and the other files go on;
* a batch whose processing fails (an unexpected error; a run that dies in it counts when the next run takes
  it over) is released and tried again by the next run, until it has been attempted ``[limits]
  batch_attempts`` times: then it is set aside as poison (``failed`` with its reason, reported to the
  department, listed by ``poisoned_batches``) and no longer blocks the runs after it.
"""
from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import PurePosixPath
from typing import Any, Callable, Sequence

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..archive import ArchiveKind
from ..config import Department
from ..intake import (DocumentRejected, RecordError, build, error_report_csv, error_report_html, map_batch,
                      read_batch)
from ..intake.formats import document_bytes
from ..intake.errors_report import NOTE
from ..intake.identity import changes
from ..intake.recipients import recipient_of_invoice
from ..errors import ErechnungError
from ..state.repository import (batch_counts, claim_batch, create_document, ensure_number_range, fail_batch,
                                finish_batch, find_document, get_batch, heartbeat, idempotency_key, index_archived,
                                known_identities, poison_batch, quarantine_of, record_batch_problems,
                                record_identities, record_notes, record_quarantine, record_skipped,
                                store_recipients)
from ..storage import Entry, ObjectNotFoundError, ObjectTooLargeError, RefusedEntryError, StorageUnreachableError
from ..state.schema import Batch, Document, NumberRange, utcnow
from . import bulk
from .context import CLAIMED, ERROR_REPORTS, RESERVED, Pipeline
from .crash import crashpoint
from .identities import ChunkIdentities, finished_identity
from .render import choose_format

log = logging.getLogger(__name__)

MEDIA_TYPES = {".csv": "text/csv", ".txt": "text/csv", ".json": "application/json",
               ".jsonl": "application/x-ndjson", ".ndjson": "application/x-ndjson", ".xml": "application/xml",
               ".pdf": "application/pdf",
               ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


class LeaseLost(RuntimeError):
    """This run no longer holds the batch (its lease ran out and another run took it over)."""


class DropZoneError(ErechnungError):
    """The drop zone itself cannot be used safely (a folder of the pipeline's is a link or no folder): the
    department's intake stops before anything is read or written; the message says what to fix."""


#: Why an entry of a drop zone is refused, as the department reads it: (problem, what to do), by reason
#: (``RefusedEntryError.reason``, ``too_large``: over ``[limits] file_bytes``).
REFUSED = {
    "link": ("die Datei ist eine symbolische Verknüpfung (Link); Verknüpfungen werden nie gelesen, nichts davon "
             "wurde übernommen oder archiviert",
             "legen Sie die Datei selbst in die Ablage, keine Verknüpfung, und entfernen Sie die Verknüpfung"),
    "special": ("der Eintrag ist keine gewöhnliche Datei (Sonderdatei: FIFO, Gerät oder Socket) und wird nicht "
                "gelesen", "legen Sie eine gewöhnliche Datei ab und entfernen Sie den Eintrag"),
    "name": ("der Dateiname enthält Zeichen, die nicht erlaubt sind (Steuerzeichen, \\, '..' oder kein UTF-8); "
             "die Datei wurde nicht gelesen",
             "benennen Sie die Datei um (Buchstaben, Ziffern, Punkt, Binde- und Unterstrich) und legen Sie sie "
             "erneut ab"),
    "too_large": ("die Datei ist größer als die Grenze [limits] file_bytes = {limit} Bytes und wurde nicht "
                  "gelesen, nichts davon archiviert",
                  "teilen Sie die Lieferung in mehrere kleinere Dateien auf"),
}
#: The pipeline's own folders in a drop zone, which must be real folders of the zone (or absent).
_OWN_FOLDERS = tuple(f.rstrip("/") for f in (CLAIMED, ERROR_REPORTS))


@dataclass
class BatchOutcome:
    """What became of one dropped file."""

    department: str
    name: str
    outcome: str  # processed | resumed | duplicate | busy | failed (unreadable: batch-level problems) | error
    #               | refused (never read: a link, special file, bad name, over the size limit)
    #               | retry (an unexpected error: released, the next run tries again) | poison (set aside)
    batch_id: int | None = None
    records: int = 0
    documents: int = 0
    quarantined: int = 0  # records (rows) quarantined
    problems: int = 0  # lines of the error report
    error_report: str | None = None  # key of the CSV report in the drop zone
    error: str | None = None  # outcome "error": why the department's intake stopped (tried again next run)
    reason: str | None = None  # outcomes refused, retry, poison: why


@dataclass
class IntakeReport:
    batches: list[BatchOutcome] = field(default_factory=list)

    def by_department(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for b in self.batches:
            d = out.setdefault(b.department, {"batches": 0, "duplicates": 0, "received": 0, "documents": 0,
                                              "quarantined": 0})
            if b.outcome == "duplicate":
                d["duplicates"] += 1
            elif b.outcome not in ("busy", "error", "refused", "retry", "poison"):
                d["batches"] += 1
                d["received"] += b.records
                d["documents"] += b.documents
                d["quarantined"] += b.quarantined
        return out


Progress = Callable[[str, int, int | None], None]


def _media_type(name: str) -> str:
    return MEDIA_TYPES.get(PurePosixPath(name).suffix.lower(), "application/octet-stream")


def _retention_kind(p: Pipeline, dep: Department) -> str:
    """The record class whose retention a department's batches and error reports follow: the longest of the
    kinds its profile can produce (finished documents: invoices)."""
    profile = p.profiles.get(dep.id)
    kinds = {"invoice"} if profile is None else {profile.kind.default, *profile.kind.values.values()}
    return max(kinds, key=lambda k: (p.archive.policy.years(k), k))


# ============================================================================================ entry point


def intake(p: Pipeline, departments: Sequence[str] | None = None, *, run_id: str | None = None,
           progress: Progress | None = None) -> IntakeReport:
    """Claim and process every new batch of the departments (default: those this run holds)."""
    report = IntakeReport()
    for dep in p.departments(list(departments) if departments else list(p.locks) or None):
        try:
            if dep.id in p.profile_check.broken:  # its mapping profile is broken: claim none of its files
                raise p.profile_check.broken[dep.id]
            _department(p, dep, report, run_id, progress)
        except Exception as exc:  # noqa: BLE001 - one department's trouble (its S3 zone unreachable) stops only it
            if isinstance(exc, StorageUnreachableError):  # said in full, for people; no traceback needed
                log.error("intake of %s failed: %s", dep.id, exc)
                why = str(exc)
            else:
                log.exception("intake of %s failed", dep.id)
                why = f"{type(exc).__name__}: {exc}"
            report.batches.append(BatchOutcome(dep.id, "", "error", error=why))
    return report


def _department(p: Pipeline, dep: Department, report: IntakeReport, run_id: str | None,
                progress: Progress | None) -> None:
    """One department: batches a crashed run left, files left under claimed/, then new files."""
    zone = p.drop_zone(dep)
    found = list(zone.entries())
    _check_own_folders(zone, found)

    def add(outcome: BatchOutcome) -> None:
        report.batches.append(outcome)
        if progress:
            progress("intake", len(report.batches), None)

    retry = set()  # claimed files whose batch failed in this run: the next run tries again, not this one
    for batch in _stale_batches(p, dep.id):
        data = p.archive.get(batch.sha256)
        outcome = _process_guarded(p, dep, batch.id, batch.source_key, data, batch.received_at, run_id, "resumed")
        if outcome.outcome == "retry":
            retry.add(CLAIMED + batch.source_key)
        else:
            _remove_if_same(zone, CLAIMED + batch.source_key, batch.sha256, p.config.limits.file_bytes)
        add(outcome)
    for entry in [e for e in zone.entries(CLAIMED) if e.key not in retry]:
        add(_refused(p, dep, entry.key, entry.refused, entry.detail) if entry.refused
            else _claimed_file(p, dep, zone, entry.key, run_id))
    limit = p.config.limits.file_bytes
    for entry in found:
        if entry.key.startswith(RESERVED):
            continue
        refusal = _refusal_of(entry, limit)
        if refusal:
            add(_refused(p, dep, entry.key, *refusal))
            continue
        try:
            if not zone.claim(entry.key, CLAIMED + entry.key, max_bytes=limit):
                continue  # another run took it, or it vanished
        except RefusedEntryError as exc:  # became a link or FIFO since it was listed
            add(_refused(p, dep, entry.key, exc.reason, exc.detail))
            continue
        except ObjectTooLargeError:
            add(_refused(p, dep, entry.key, "too_large", ""))
            continue
        crashpoint("intake.claimed")
        add(_claimed_file(p, dep, zone, CLAIMED + entry.key, run_id))


def _check_own_folders(zone, found: list[Entry]) -> None:
    """``claimed/`` and ``fehlerberichte/`` are real folders of the zone (or absent): what the pipeline writes
    there and deletes from there must never land outside it."""
    for entry in found:
        if entry.key in _OWN_FOLDERS:
            what = "eine Verknüpfung (Link)" if entry.refused == "link" else "kein Ordner"
            raise DropZoneError(
                f"{zone.url}: {entry.key}/ ist {what}; die Übernahme dieser Abteilung ist angehalten, nichts wurde "
                f"gelesen, verschoben oder gelöscht. Entfernen Sie {entry.key} (die Pipeline legt den Ordner selbst "
                "an).")


def _refusal_of(entry: Entry, limit: int) -> tuple[str, str] | None:
    """(reason, detail) when the entry is refused unread, else None."""
    if entry.refused:
        return entry.refused, entry.detail
    if entry.size is not None and entry.size > limit:
        return "too_large", ""
    return None


def _shown(name: str) -> str:
    """A file name as the report may show it: control characters and bytes that are no UTF-8 as ``\\xNN``."""
    return "".join(f"\\x{ord(c) & 0xFF:02x}" if ord(c) < 32 or ord(c) == 0x7F or 0xD800 <= ord(c) <= 0xDFFF
                   else c for c in name)


def _report_name(name: str, reason: str) -> str:
    """Where the report on a refused entry goes: its own name, or for a name no key may have a harmless one."""
    if reason != "name":
        return name
    safe = re.sub(r"[^\w.,+@=-]", "_", _shown(name).replace("/", "_")).lstrip(".")
    return safe or "_"


def _refused(p: Pipeline, dep: Department, key: str, reason: str, detail: str) -> BatchOutcome:
    """An entry refused unread: the department's report says why (in its drop zone; nothing is archived, since
    nothing of the entry was read), the entry stays where it is for the clerk to remove or replace."""
    problem, fix = REFUSED[reason]
    problem = problem.format(limit=p.config.limits.file_bytes)
    name = key.removeprefix(CLAIMED)
    log.warning("%s: %r refused (%s)", dep.id, key, reason)
    error = RecordError(batch=_shown(name), problem=problem, fix=fix)
    created = utcnow().astimezone()
    base = f"{ERROR_REPORTS}{_report_name(name, reason)}.fehlerbericht"
    zone = p.drop_zone(dep)
    zone.put(base + ".csv", error_report_csv([error]))
    zone.put(base + ".html", error_report_html([error], department=dep.name, created=created))
    return BatchOutcome(dep.id, _shown(name), "refused", problems=1, error_report=base + ".csv", reason=problem)


def _stale_batches(p: Pipeline, department: str) -> list[Batch]:
    """Batches of the department still ``claimed``: with the department held by this run, they were left by a
    crashed run; they are taken over at once."""
    if department not in p.locks:
        return []
    with p.transaction() as s:
        stale = list(s.execute(select(Batch).where(Batch.department == department, Batch.status == "claimed")
                               .order_by(Batch.id)).scalars())
        for b in stale:
            _take_over(p, s, b.id)
    return stale


def _remove_if_same(zone, key: str, sha: str, limit: int) -> None:
    """Remove the claimed file a crashed run left behind, if it holds the batch just processed."""
    try:
        data = zone.get(key, max_bytes=limit)
    except (ObjectNotFoundError, RefusedEntryError, ObjectTooLargeError):  # not that file: not ours to remove
        return
    if hashlib.sha256(data).hexdigest() == sha:
        zone.delete(key)


def _take_over(p: Pipeline, s, batch_id: int) -> None:
    s.execute(update(Batch).where(Batch.id == batch_id, Batch.status == "claimed")
              .values(claimed_by=p.worker, claimed_at=utcnow(), lease_until=utcnow() + p.options.lease,
                      attempts=Batch.attempts + 1).execution_options(synchronize_session=False))


def _archive_original(p: Pipeline, dep: Department, data: bytes, name: str):
    return p.archive.put(data, kind=ArchiveKind.ORIGINAL_BATCH, department=dep.id, media_type=_media_type(name),
                         document_kind=_retention_kind(p, dep), original_name=name)


def _claimed_file(p: Pipeline, dep: Department, zone, claimed_key: str, run_id: str | None) -> BatchOutcome:
    name = claimed_key.removeprefix(CLAIMED)
    try:
        data = zone.get(claimed_key, max_bytes=p.config.limits.file_bytes)
    except RefusedEntryError as exc:  # a link or FIFO under claimed/: not read, not removed
        return _refused(p, dep, claimed_key, exc.reason, exc.detail)
    except ObjectTooLargeError:
        return _refused(p, dep, claimed_key, "too_large", "")
    except ObjectNotFoundError:
        return BatchOutcome(dep.id, name, "busy")  # taken by another run meanwhile
    sha = hashlib.sha256(data).hexdigest()
    item = _archive_original(p, dep, data, name)
    crashpoint("intake.archived")
    with p.transaction() as s:
        claim = claim_batch(s, department=dep.id, source_key=name, sha256=sha, worker=p.worker,
                            lease=p.options.lease, size=len(data), run_id=run_id)
        outcome = claim.outcome
        if outcome == "busy" and dep.id in p.locks:  # its holder crashed: this run holds the department
            _take_over(p, s, claim.batch.id)
            outcome = "resumed"
        if outcome in ("claimed", "resumed"):
            index_archived(s, item, batch_id=claim.batch.id)
        batch_id, received_at = claim.batch.id, claim.batch.received_at
    crashpoint("intake.batch_claimed")
    if outcome == "duplicate":
        zone.delete(claimed_key)
        return BatchOutcome(dep.id, name, "duplicate", batch_id)
    if outcome == "busy":
        return BatchOutcome(dep.id, name, "busy", batch_id)
    result = _process_guarded(p, dep, batch_id, name, data, received_at, run_id,
                              "processed" if outcome == "claimed" else "resumed")
    if result.outcome != "retry":
        zone.delete(claimed_key)  # the file this run claimed: processed or set aside, its bytes archived
    return result


def _process_guarded(p: Pipeline, dep: Department, batch_id: int, name: str, data: bytes,
                     received_at: datetime | None, run_id: str | None, outcome: str) -> BatchOutcome:
    """:func:`_process`, with the batch's failures its own: a batch attempted ``[limits] batch_attempts`` times
    already (its runs died in it) is set aside as poison unprocessed; an unexpected error releases it for the
    next run, or after the last attempt sets it aside; either way the department's other files go on."""
    attempts = p.config.limits.batch_attempts
    if outcome == "resumed":
        with p.transaction() as s:
            batch = get_batch(s, batch_id)
            tried, last = batch.attempts - 1, batch.last_error
        if tried >= attempts:
            reason = (f"die Verarbeitung wurde {tried}-mal begonnen und nie beendet (zuletzt: "
                      f"{last or 'der Lauf brach ab'})")
            with p.transaction() as s:
                poison_batch(s, batch_id, reason=reason)
            return _poisoned(p, dep, batch_id, name, received_at, reason)
    try:
        return _process(p, dep, batch_id, name, data, received_at, run_id, outcome)
    except LeaseLost:
        raise
    except Exception as exc:  # noqa: BLE001 - one batch's unexpected failure is that batch's problem only
        log.exception("%s: batch %s (%s) failed", dep.id, batch_id, name)
        error = f"{type(exc).__name__}: {exc}"[:2000]
        with p.transaction() as s:
            status = fail_batch(s, batch_id, p.worker, error=error, max_attempts=attempts)
        if status == "poison":
            return _poisoned(p, dep, batch_id, name, received_at, f"interner Fehler: {error}")
        return BatchOutcome(dep.id, name, "retry", batch_id, reason=error)


def _poisoned(p: Pipeline, dep: Department, batch_id: int, name: str, received_at: datetime | None,
              reason: str) -> BatchOutcome:
    """The department's report on a batch set aside (written and archived like every error report)."""
    problem = RecordError(batch=name, problem=f"die Datei konnte nicht verarbeitet werden und wurde beiseitegelegt: "
                                              f"{reason}",
                          fix="die IT prüft den Fehler und gibt die Datei danach frei (erechnung batches "
                              "release), oder sie bittet Sie um eine korrigierte Datei (dieselbe Datei unverändert "
                              "wird als Duplikat erkannt)")
    report_key = _error_report(p, dep, batch_id, name, [problem], received_at)
    return BatchOutcome(dep.id, name, "poison", batch_id, problems=1, error_report=report_key, reason=reason)


# ============================================================================================ one batch


def _local_date(when: datetime | None) -> date:
    when = when or datetime.now(timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone().date()


def _process(p: Pipeline, dep: Department, batch_id: int, name: str, data: bytes, received_at: datetime | None,
             run_id: str | None, outcome: str) -> BatchOutcome:
    batch = read_batch(data, name, format=dep.format, encoding=dep.encoding, delimiter=dep.delimiter,
                       limits=p.config.limits, options=getattr(p.profiles.get(dep.id), "reader", None))
    sha = hashlib.sha256(data).hexdigest()
    status = "done"
    if not batch.ok:
        with p.transaction() as s:
            _beat(p, s, batch_id)
            record_batch_problems(s, batch_id, [e for e in batch.errors if e.is_batch_error])
        status, outcome = "failed", "failed"
    elif dep.id in p.profiles:
        _mapped(p, dep, batch_id, sha, batch, p.options.today or _local_date(received_at))
    else:
        _finished_documents(p, dep, batch_id, sha, batch)
    with p.transaction() as s:
        problems = [RecordError(batch=name, row=q.row, column=q.column, value=q.value, problem=q.problem, fix=q.fix)
                    for q in quarantine_of(s, batch_id)]
    report_key = _error_report(p, dep, batch_id, name, problems, received_at) if problems else None
    crashpoint("intake.report")
    with p.transaction() as s:
        finish_batch(s, batch_id, p.worker, status=status)  # False: finished before (a repeated step)
        counts = batch_counts(s, batch_id)
    crashpoint("intake.finished")
    return BatchOutcome(dep.id, name, outcome, batch_id, records=counts["record_count"],
                        documents=counts["document_count"], quarantined=counts["quarantined_count"],
                        problems=sum(1 for e in problems if not e.fix.startswith(NOTE)), error_report=report_key)


def _beat(p: Pipeline, s, batch_id: int) -> None:
    if not heartbeat(s, batch_id, p.worker, lease=p.options.lease):
        raise LeaseLost(f"batch {batch_id}: this run no longer holds it")


def _error_report(p: Pipeline, dep: Department, batch_id: int, name: str, problems: list[RecordError],
                  received_at: datetime | None) -> str:
    """The department's error report into its drop zone (``fehlerberichte/<file>.fehlerbericht.csv`` and
    ``.html``) and into the archive. Its bytes depend only on the batch, so a repeated step stores nothing new."""
    created = (received_at or utcnow()).astimezone()
    zone = p.drop_zone(dep)
    csv_bytes = error_report_csv(problems)
    html_bytes = error_report_html(problems, department=dep.name, created=created)
    base = f"{ERROR_REPORTS}{name}.fehlerbericht"
    zone.put(base + ".csv", csv_bytes)
    zone.put(base + ".html", html_bytes)
    kind = _retention_kind(p, dep)
    items = [p.archive.put(data, kind=ArchiveKind.ERROR_REPORT, department=dep.id, media_type=media,
                           document_kind=kind, original_name=PurePosixPath(base).name + ext)
             for data, media, ext in ((csv_bytes, "text/csv", ".csv"), (html_bytes, "text/html", ".html"))]
    with p.transaction() as s:
        for item in items:
            index_archived(s, item, batch_id=batch_id)
    return base + ".csv"


def _quarantine(s, batch_id: int, rows: Sequence[int], errors: Sequence[RecordError], key: str) -> None:
    """Every row of a document that cannot be made gets its own quarantine record, so that each row of the file
    ends as exactly one record: the problems at their rows, and rows without a problem of their own the note
    that their document was held back because of the others."""
    rows = sorted(set(rows)) or sorted({e.row for e in errors if e.row is not None})
    if not rows:  # nothing of the file could be read
        record_batch_problems(s, batch_id, errors)
        return
    if key == "Datei":  # the file as a whole cannot be mapped (a column is missing): one record for all its rows
        record_quarantine(s, batch_id, rows[0], rows[-1], errors)
        return
    located: dict[int, list[RecordError]] = {r: [] for r in rows}
    for e in errors:
        located.setdefault(e.row if e.row in located else rows[0], []).append(e)
    first_bad = next((r for r in rows if located[r]), rows[0])
    for r in rows:
        problems = located.get(r) or [RecordError(
            row=r, problem=f"gehört zum Beleg {key}, der wegen der Fehler in Zeile {first_bad} nicht erstellt wurde",
            fix="korrigieren Sie die genannten Fehler und liefern Sie alle Zeilen dieses Belegs erneut")]
        record_quarantine(s, batch_id, r, r, problems)


class _DbNumbers:
    """The intake's NumberSource: the document is created (with its number, gap-free, in the caller's
    transaction) the moment the builder asks for a number, that is only once the draft has been built."""

    def __init__(self, s, key: str, fields: dict[str, Any], ranges: set) -> None:
        self.s, self.key, self.fields, self.ranges = s, key, fields, ranges
        self.result = None

    def next_number(self, department: str, prefix: str, *, width: int, start: int) -> str:
        if (department, prefix) not in self.ranges:  # once per transaction: the configured start of a new range
            ensure_number_range(self.s, department, prefix, width=width, start=start)
            self.ranges.add((department, prefix))
        self.result = create_document(self.s, idempotency_key=self.key, number_prefix=prefix, number_width=width,
                                      **self.fields)
        return self.result.document.number


def _recipient_ref(draft) -> str:
    """The register's customer number, or for a record that carried its recipient's data the document's own
    ``<department>:<record key>``; delivery finds the recipient under it (``store_recipients``)."""
    return draft.recipient_ref or draft.recipient.customer_number


def _issue_date(draft) -> date | None:
    data = draft.invoice if draft.invoice is not None else draft.notice
    value = (data or {}).get("issue_date")
    return value if isinstance(value, date) else None


def _mapped(p: Pipeline, dep: Department, batch_id: int, sha: str, batch, today: date) -> None:
    mapped = map_batch(batch, dep, p.config, p.profiles[dep.id], p.register(dep.id), today=today)
    notice_config = p.notice_config if any(d.kind == "notice" for d in mapped.drafts) else None
    with p.transaction() as s:
        _beat(p, s, batch_id)
        for q in mapped.quarantined:
            _quarantine(s, batch_id, q.rows, q.errors, q.key)
        record_notes(s, batch_id, [RecordError(
            batch=batch.name, row=row, problem="Summen- oder Gesamtzeile, kein Beleg: nicht übernommen",
            fix=f"{NOTE}: die Zeile passt zu [[skip]] im Mapping-Profil; ist sie doch ein Beleg, passen Sie "
                "[[skip]] an") for row in mapped.skipped])
    size = max(1, p.options.chunk_size)
    for start in range(0, len(mapped.drafts), size):
        with p.transaction() as s:
            _beat(p, s, batch_id)
            store_recipients(s, dep.id, {_recipient_ref(d): d.recipient for d in mapped.drafts[start:start + size]})
            _documents(p, s, dep, batch_id, sha, mapped.drafts[start:start + size], notice_config, today)
        crashpoint("intake.chunk")


class _ChunkNumbers:
    """The intake's NumberSource for a chunk of drafts in one transaction: each range is locked once (created
    with its configured start if new, then ``SELECT ... FOR UPDATE``; on SQLite the transaction holds the write
    lock anyway), numbers are counted on in memory, and the range's next value is written back with the chunk's
    documents, so a number is consumed only if its document is created in this transaction (gap-free). A draft
    whose document exists already gets that document's number back (``reuse``) and consumes none."""

    def __init__(self, s) -> None:
        self.s = s
        self.ranges: dict[tuple[str, str], list[int]] = {}  # (department, prefix) -> [first, next, width]
        self.existing = False  # the current draft's document exists: ``reuse`` is its number
        self.reuse: str | None = None
        self.allocated: str | None = None

    def lock(self, department: str, prefix: str, *, width: int, start: int) -> list[int]:
        if (department, prefix) not in self.ranges:
            ensure_number_range(self.s, department, prefix, width=width, start=start)
            value, stored_width = self.s.execute(
                select(NumberRange.next_value, NumberRange.width).where(
                    NumberRange.department == department, NumberRange.prefix == prefix).with_for_update()).one()
            self.ranges[(department, prefix)] = [value, value, stored_width]
        return self.ranges[(department, prefix)]

    def next_number(self, department: str, prefix: str, *, width: int, start: int) -> str:
        if self.existing:
            return self.reuse  # type: ignore[return-value]  (as create_document returns the existing one's)
        rng = self.lock(department, prefix, width=width, start=start)
        value, rng[1] = rng[1], rng[1] + 1
        self.allocated = f"{prefix}{value:0{rng[2]}d}"
        return self.allocated

    def write_back(self) -> None:
        for (department, prefix), (first, following, _) in self.ranges.items():
            if following != first and self.s.execute(
                    update(NumberRange).where(NumberRange.department == department, NumberRange.prefix == prefix,
                                              NumberRange.next_value == first)
                    .values(next_value=following).execution_options(synchronize_session=False)).rowcount != 1:
                raise _RangeMoved(f"number range {department} {prefix!r} changed while locked")


class _RangeMoved(Exception):
    pass


def _documents(p: Pipeline, s, dep: Department, batch_id: int, sha: str, drafts, notice_config,
               today: date) -> None:
    """A chunk of drafts built and their documents created in the caller's transaction: what exists already (by
    key) is found in one query, the new documents and their records are inserted in two statements. Should the
    insert meet a conflict nobody foresaw (a concurrent writer, an allocated number given by hand before), it is
    undone and the chunk goes through ``_document`` one draft at a time, which decides each case as always.
    What a draft's business identity says (made before, changed, a correction) is decided first
    (:mod:`.identities`)."""
    numbers = _ChunkNumbers(s)
    if dep.number_range is not None:  # lock the range first, then look for existing keys (see create_document)
        rng = dep.number_range
        numbers.lock(dep.id, rng.prefix, width=rng.width, start=rng.start)
    as_delivered = drafts
    own = [idempotency_key(dep.id, sha, d.key) for d in drafts]
    known: dict[str, str | None] = dict(s.execute(select(Document.idempotency_key, Document.number)
                                                  .where(Document.idempotency_key.in_(own))).all())
    identities = _identities(p, s, dep, batch_id, drafts, today)
    drafts = [part for d, key in zip(drafts, own) for part in ([d] if key in known else identities.resolve(d))]
    keys = [idempotency_key(dep.id, sha, d.key) for d in drafts]
    parts = [k for k in keys if k not in known and k not in own]  # a correction's documents (a repeated step)
    if parts:
        known.update(s.execute(select(Document.idempotency_key, Document.number)
                               .where(Document.idempotency_key.in_(parts))).all())
    now = utcnow()
    new: list[dict[str, Any]] = []
    models: list[tuple[str, Any] | None] = []  # per draft: (key, built document) or None (quarantined)
    given: dict[str, str] = {}  # number as delivered -> key of the first draft here that has it
    delivered: set[str] = set()  # keys of the new documents whose number was delivered, not allocated
    failed: set[str] = set()  # draft keys refused, with the parts that stand or fall with them
    for draft, key in zip(drafts, keys):
        numbers.existing, numbers.reuse, numbers.allocated = key in known, known.get(key), None
        if draft.key in failed:
            models.append(None)
            continue
        try:
            document = build(draft, p.config, numbers=numbers, notice_config=notice_config)
        except DocumentRejected as exc:
            identities.refused(draft, exc.errors)
            failed.update(identities.partners(draft))
            models.append(None)
            continue
        models.append((key, document))
        if key in known:
            continue
        number = numbers.allocated or getattr(document, "number", None)
        known[key] = number
        new.append(dict(idempotency_key=key, department=dep.id, number=number, kind=draft.kind,
                        format=choose_format(draft.kind, draft.recipient), recipient_ref=_recipient_ref(draft),
                        issue_date=_issue_date(draft), batch_id=batch_id, state="numbered", created_at=now,
                        updated_at=now, rows=identities.rows_of(draft)))
        if numbers.allocated is None and number is not None:
            given.setdefault(number, key)
            delivered.add(key)
    if failed:  # a part built before its partner was refused: neither is made
        gone = {k for d, k in zip(drafts, keys) if d.key in failed}
        new = [d for d in new if d["idempotency_key"] not in gone]
        models = [None if m is not None and m[0] in gone else m for m in models]
    if given:  # numbers as delivered that another document of the department has (before, or earlier here)
        taken = set(s.execute(select(Document.number).where(Document.department == dep.id,
                                                            Document.number.in_(list(given)))).scalars())
        refused = {d["idempotency_key"] for d in new if d["idempotency_key"] in delivered
                   and (d["number"] in taken or given[d["number"]] != d["idempotency_key"])}
        partners = {idempotency_key(dep.id, sha, other) for i, key in enumerate(keys) if key in refused
                    for other in identities.partners(drafts[i])}
        told: set[str] = set()  # delivered drafts whose rows got the refusal (a correction's parts share them)
        for i, key in enumerate(keys):
            if key in refused and models[i] is not None:
                c = identities.corrections.get(drafts[i].key)
                delivered_draft = c.original if c else drafts[i]
                if delivered_draft.key not in told:
                    told.add(delivered_draft.key)
                    _refuse_number(s, batch_id, delivered_draft, getattr(models[i][1], "number", None))
            if key in partners:
                models[i] = None
        new = [d for d in new if d["idempotency_key"] not in partners]
    try:
        with s.begin_nested():
            ids = bulk.create_documents(s, new)
            identities.record({d.key: (ids[k], known.get(k)) for d, k in zip(drafts, keys) if k in ids})
            numbers.write_back()
    except (IntegrityError, _RangeMoved):
        log.info("batch %s: a chunk's documents one by one (a conflict in the bulk insert)", batch_id)
        ranges: set = set()
        for draft in as_delivered:
            _document(p, s, dep, batch_id, sha, draft, notice_config, ranges, today)
            crashpoint("intake.document")
        return
    for model in models:
        if model is not None:
            p.work.write_model(*model)
        crashpoint("intake.document")


def _identities(p: Pipeline, s, dep: Department, batch_id: int, drafts, today: date) -> ChunkIdentities:
    return ChunkIdentities(s, dep.id, p.profiles[dep.id], batch_id, drafts, today=today,
                           quarantine=lambda rows, errors, key: _quarantine(s, batch_id, rows, errors, key))


def _refuse_number(s, batch_id: int, draft, number) -> None:
    _quarantine(s, batch_id, draft.rows, [RecordError(
        batch=draft.batch, row=min(draft.rows), column=draft.columns.get("number"), value=number,
        problem="diese Belegnummer wurde bereits für einen anderen Beleg der Abteilung vergeben",
        fix="vergeben Sie eine neue Nummer, oder liefern Sie den Beleg nicht erneut, wenn er schon "
            "verschickt wurde")], draft.key)


class _NumberTaken(Exception):
    def __init__(self, draft, number) -> None:
        super().__init__(number)
        self.draft, self.number = draft, number


def _document(p: Pipeline, s, dep: Department, batch_id: int, sha: str, draft, notice_config, ranges: set,
              today: date) -> None:
    """One delivered draft on its own (after a conflict in the chunk's bulk insert): its parts (itself, or a
    correction's) built and created in one savepoint, so that they stand or fall together."""
    identities = _identities(p, s, dep, batch_id, [draft], today)
    key = idempotency_key(dep.id, sha, draft.key)
    parts = [draft] if find_document(s, key) is not None else identities.resolve(draft)
    built: list[tuple[str, Any]] = []
    made: dict[str, tuple[int, str | None]] = {}
    try:
        with s.begin_nested():
            for part in parts:
                part_key = idempotency_key(dep.id, sha, part.key)
                fields = dict(department=dep.id, kind=part.kind, format=choose_format(part.kind, part.recipient),
                              recipient_ref=_recipient_ref(part), issue_date=_issue_date(part), batch_id=batch_id,
                              rows=identities.rows_of(part))
                numbers = _DbNumbers(s, part_key, fields, ranges)
                try:
                    document = build(part, p.config, numbers=numbers, notice_config=notice_config)
                except DocumentRejected as exc:
                    raise _PartRefused(part, exc.errors) from exc
                if numbers.result is None:
                    try:
                        with s.begin_nested():
                            numbers.result = create_document(s, idempotency_key=part_key,
                                                             number=getattr(document, "number", None), **fields)
                    except IntegrityError as exc:
                        raise _NumberTaken(part, getattr(document, "number", None)) from exc
                if numbers.result.created:
                    made[part.key] = (numbers.result.document.id, numbers.result.document.number)
                built.append((part_key, document))
            identities.record(made)
    except _PartRefused as exc:
        ranges.clear()  # a range created in the savepoint is gone with it
        identities.refused(exc.draft, exc.errors)
        return
    except _NumberTaken as exc:
        ranges.clear()
        c = identities.corrections.get(exc.draft.key)
        _refuse_number(s, batch_id, c.original if c else exc.draft, exc.number)
        return
    for model in built:
        p.work.write_model(*model)


class _PartRefused(Exception):
    def __init__(self, draft, errors) -> None:
        super().__init__(draft.key)
        self.draft, self.errors = draft, errors


def _finished_documents(p: Pipeline, dep: Department, batch_id: int, sha: str, batch) -> None:
    """Finished documents (xml, pdf): one record each, passed through as delivered; the number, kind and date are
    read from the invoice, nothing is changed."""
    from ..syntax import read_invoice

    with p.transaction() as s:
        _beat(p, s, batch_id)
        for record in batch.records:
            key = idempotency_key(dep.id, sha, f"Datei {record.row}")
            try:
                invoice = read_invoice(document_bytes(record))
            except Exception as exc:  # noqa: BLE001 - any reader failure is this record's problem
                _quarantine(s, batch_id, [record.row], [RecordError(
                    batch=batch.name, row=record.row, problem=f"die Rechnung lässt sich nicht lesen: {exc}",
                    fix="liefern Sie eine gültige XRechnung (UBL/CII) oder ZUGFeRD-Datei")], f"Datei {record.row}")
                continue
            kind = "credit_note" if invoice.type_code == "381" else "invoice"
            identity = finished_identity(invoice, kind)
            if find_document(s, key) is None and _finished_made_before(s, dep, batch_id, batch.name, record.row,
                                                                       identity):
                continue
            ref, recipient = recipient_of_invoice(invoice, p.register(dep.id), f"{dep.id}:{sha[:12]}:{record.row}")
            try:
                with s.begin_nested():
                    made = create_document(s, idempotency_key=key, department=dep.id, kind=kind, format="passthrough",
                                           number=invoice.number, issue_date=invoice.issue_date, batch_id=batch_id,
                                           recipient_ref=ref, rows=[(record.row, record.row)])
                    store_recipients(s, dep.id, {ref: recipient})
                    if made.created:
                        text, content_sha, content = identity
                        record_identities(s, dep.id, [(text, made.document.id, content_sha, content)])
            except IntegrityError:
                _quarantine(s, batch_id, [record.row], [RecordError(
                    batch=batch.name, row=record.row, column="BT-1", value=invoice.number,
                    problem="diese Rechnungsnummer wurde bereits für eine andere Rechnung vergeben",
                    fix="vergeben Sie eine neue Nummer, oder liefern Sie die Rechnung nicht erneut")],
                    f"Datei {record.row}")
                continue
            p.work.write_model(key, {"passthrough": bytes(record.raw)})
            crashpoint("intake.document")


def _finished_made_before(s, dep: Department, batch_id: int, name: str, row: int,
                          identity: tuple[str, str, dict[str, Any]]) -> bool:
    """A finished invoice whose number and date the department delivered before (issue 11): the same invoice is
    recorded with the document made then and reported as made; another invoice under the same number is
    refused with what differs. Finished documents are passed through as delivered, so nothing is corrected."""
    text, sha, content = identity
    first = known_identities(s, dep.id, [text]).get(text)
    if first is None:
        return False
    made = first.created_at.astimezone().strftime("%d.%m.%Y")
    if first.content_sha256 == sha:
        record_skipped(s, batch_id, [row], first.document_id, [RecordError(
            batch=name, row=row, column="BT-1", value=first.number,
            problem=f"bereits erzeugt als {first.number} am {made}; unverändert, daher nicht noch einmal übernommen",
            fix=f"{NOTE}: die Rechnung wird nicht doppelt versandt")])
        return True
    _quarantine(s, batch_id, [row], [RecordError(
        batch=name, row=row, column="BT-1", value=first.number,
        problem=f"geändert gegenüber {first.number} (übernommen am {made}): "
                + "; ".join(changes(first.content, content)) + f"; nicht übernommen, {first.number} gilt unverändert",
        fix=f"ist {first.number} falsch, liefern Sie eine Gutschrift (BT-3 381) mit Bezug auf {first.number} "
            "(BT-25) und die richtige Rechnung mit neuer Rechnungsnummer; sonst ist nichts zu tun")], f"Datei {row}")
    return True


__all__ = ["BatchOutcome", "DropZoneError", "IntakeReport", "LeaseLost", "REFUSED", "intake"]
