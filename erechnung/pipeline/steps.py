"""The document steps after intake, each on a chunk of document ids (a few hundred), each idempotent:

``render_and_validate(p, chunk, pool)``  numbered -> rendered (accepted) or rejected; the rendered document and
                                         its validation report wait in the work area
``archive(p, chunk)``                    rendered/rejected -> archived: document and report into the archive,
                                         indexed; a rejected document stays ``rejected`` and gets ``archived_at``
``hand_over(p, chunk)``                  archived -> handed_over: the delivery queue (rejected documents never)

``pending(p, step, departments)`` lists the ids waiting for a step. A chunk is one transaction per step.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Sequence

from sqlalchemy import select

from ..archive import ArchiveKind
from ..state.schema import Batch, Document
from . import bulk
from .context import Pipeline
from .crash import crashpoint
from .render import MEDIA, Rendered, RenderItem

STEPS = ("render", "archive", "hand_over")


def pending(p: Pipeline, step: str, departments: Sequence[str] | None = None) -> list[int]:
    """Ids of the documents waiting for ``step`` (render, archive, hand_over), oldest first."""
    q = select(Document.id).order_by(Document.id)
    if step == "render":
        q = q.where(Document.state == "numbered")
    elif step == "archive":
        q = q.where(((Document.state == "rendered") | (Document.state == "rejected")) & Document.archived_at.is_(None))
    elif step == "hand_over":
        q = q.where(Document.state == "archived")
    else:
        raise ValueError(f"unknown step {step!r}: one of {', '.join(STEPS)}")
    if departments:
        q = q.where(Document.department.in_(list(departments)))
    with p.transaction() as s:
        return list(s.execute(q).scalars())


def chunks(ids: Sequence[int], size: int) -> Iterator[list[int]]:
    size = max(1, size)
    for start in range(0, len(ids), size):
        yield list(ids[start:start + size])


# ============================================================================================ render


@dataclass
class RenderReport:
    rendered: list[int] = field(default_factory=list)  # accepted
    rejected: list[tuple[int, str, tuple[str, ...]]] = field(default_factory=list)  # (id, reason, first errors)
    failed: list[tuple[int, str]] = field(default_factory=list)  # not rendered this time (stay numbered)
    seconds: float = 0.0  # worker time: rendering and validation, summed over the documents
    by_format: dict[str, list] = field(default_factory=dict)  # format -> [documents, worker seconds]
    warnings: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)  # accepted, with the rules' warnings

    def merge(self, other: "RenderReport") -> None:
        self.rendered.extend(other.rendered)  # extend: a run's report may keep its ids in an array (run.RunState)
        self.rejected += other.rejected
        self.failed += other.failed
        self.warnings += other.warnings
        self.seconds += other.seconds
        for fmt, (n, sec) in other.by_format.items():
            mine = self.by_format.setdefault(fmt, [0, 0.0])
            mine[0], mine[1] = mine[0] + n, mine[1] + sec


def render_items_of(p: Pipeline, chunk: Sequence[int]) -> list[RenderItem]:
    """The chunk's documents still waiting for rendering, as worker items."""
    with p.transaction() as s:
        docs = s.execute(select(Document.id, Document.idempotency_key, Document.format, Document.kind,
                                Document.number, Document.department, Document.recipient_ref)
                         .where(Document.id.in_(list(chunk)), Document.state == "numbered")
                         .order_by(Document.id)).all()
    registers: dict[str, object] = {}
    return [RenderItem(d.id, d.idempotency_key, d.format, d.kind, d.number, d.department,
                       _salutation(p, d, registers)) for d in docs]


def _salutation(p: Pipeline, doc, registers: dict[str, object]) -> str | None:
    """The Anrede of an invoice's recipient in the register (issue 11: it was ignored on invoices; a notice
    has it in its model). Without one, the letter keeps the design's greeting."""
    if doc.format != "zugferd" or not doc.recipient_ref:
        return None
    if doc.department not in registers:
        registers[doc.department] = p.register(doc.department)
    recipient = registers[doc.department].get(doc.recipient_ref)  # type: ignore[attr-defined]
    return getattr(recipient, "salutation", None)


def render_and_validate(p: Pipeline, chunk: Sequence[int], pool=None) -> RenderReport:
    """Render and validate the chunk's numbered documents (in ``pool``, else in this process) and record each
    verdict."""
    items = render_items_of(p, chunk)
    if not items:
        return RenderReport()
    if pool is None:
        from .render import render_items

        results = render_items(items, p.work.root, p.options.hybrid_profile, p.config.design())
    else:
        results = pool.render(items)
    return record_results(p, items, results)


def record_results(p: Pipeline, items: Sequence[RenderItem], results: Sequence[Rendered]) -> RenderReport:
    """Record the verdicts of a rendered chunk in one transaction. Documents whose model was missing from the work
    area are rebuilt from their archived batch and rendered again here, first."""
    results = list(results)
    missing = [r.id for r in results if r.verdict == "missing"]
    if missing:
        results = [r for r in results if r.verdict != "missing"] + _rerender(p, [i for i in items if i.id in missing])
    crashpoint("render.results")
    report = RenderReport()
    formats = {i.id: i.format for i in items}
    for r in results:
        report.seconds += r.seconds
        per = report.by_format.setdefault(formats.get(r.id, "?"), [0, 0.0])
        per[0], per[1] = per[0] + 1, per[1] + r.seconds
        if r.verdict == "accept":
            report.rendered.append(r.id)
            if r.warnings:
                report.warnings.append((r.id, r.warnings))
        elif r.verdict == "reject":
            report.rejected.append((r.id, r.reason, r.errors))
        else:
            report.failed.append((r.id, r.reason))
    with p.transaction() as s:
        bulk.record_verdicts(s, [r for r in results if r.verdict in ("accept", "reject")])
    crashpoint("render.committed")
    return report


def _rerender(p: Pipeline, items: Sequence[RenderItem]) -> list[Rendered]:
    """Models lost from the work area: rebuilt from the archived batches, then rendered in this process."""
    from .rebuild import rebuild_models
    from .render import render_items

    rebuild_models(p, [i.id for i in items])
    results = render_items(items, p.work.root, p.options.hybrid_profile, p.config.design())
    return [r if r.verdict != "missing" else Rendered(r.id, "failed", reason="the document cannot be rebuilt from "
                                                      "its archived batch") for r in results]


# ============================================================================================ archive


@dataclass
class ArchiveReport:
    archived: list[int] = field(default_factory=list)  # now in the archive (accepted documents)
    rejected: list[int] = field(default_factory=list)  # rejected documents whose report is archived now
    rerendered: list[int] = field(default_factory=list)

    def merge(self, other: "ArchiveReport") -> None:
        self.archived.extend(other.archived)
        self.rejected.extend(other.rejected)
        self.rerendered += other.rerendered


def _put_pair(p: Pipeline, doc, doc_bytes: bytes | None, report_bytes: bytes):
    """Archive a document and its report (document first: see the package docstring)."""
    name = doc.number or str(doc.id)
    items = []
    if doc_bytes is not None:
        ext = "pdf" if doc_bytes[:5] == b"%PDF-" else "xml"
        items.append(p.archive.put(doc_bytes, kind=ArchiveKind.DOCUMENT, department=doc.department,
                                   media_type=MEDIA[ext], document_kind=doc.kind, document_id=str(doc.id),
                                   original_name=f"{name}.{ext}"))
    rext = "xml" if report_bytes.lstrip()[:1] == b"<" else "json"
    items.append(p.archive.put(report_bytes, kind=ArchiveKind.REPORT, department=doc.department,
                               media_type=MEDIA[rext], document_kind=doc.kind, document_id=str(doc.id),
                               original_name=f"{name}.pruefbericht.{rext}"))
    crashpoint("archive.put")
    return items


def _from_archive(p: Pipeline, doc) -> list | None:
    """The items of a document whose work files are gone but which the archive already holds (a crash after the
    archive writes, before the index was committed), or None."""
    shas = [x for x in (doc.sha256, doc.report_sha256) if x]
    if not shas or not all(p.archive.exists(x) for x in shas):
        return None
    try:  # put the stored bytes again: completes metadata a crash may have cut off, stores nothing twice
        return _put_pair(p, doc, p.archive.get(doc.sha256) if doc.sha256 else None, p.archive.get(doc.report_sha256))
    except Exception:  # noqa: BLE001 - then render again
        return None


def archive(p: Pipeline, chunk: Sequence[int]) -> ArchiveReport:
    """Archive the chunk's rendered and rejected documents with their reports, and index them."""
    import hashlib

    with p.transaction() as s:
        docs = list(s.execute(select(Document).where(
            Document.id.in_(list(chunk)), Document.state.in_(("rendered", "rejected")),
            Document.archived_at.is_(None)).order_by(Document.id)).scalars())
    report = ArchiveReport()
    if not docs:
        return report

    def one(doc):
        doc_bytes, report_bytes = p.work.read_rendered(doc.id)
        intact = report_bytes is not None and hashlib.sha256(report_bytes).hexdigest() == doc.report_sha256 and (
            (doc.sha256 is None and doc_bytes is None) or
            (doc_bytes is not None and hashlib.sha256(doc_bytes).hexdigest() == doc.sha256))
        if intact:
            return doc, _put_pair(p, doc, doc_bytes, report_bytes)
        return doc, _from_archive(p, doc)

    done = list(p._io.map(one, docs))
    lost = [doc for doc, items in done if items is None]
    if lost:  # rendered before, but neither in the work area nor in the archive: render again
        report.rerendered = [d.id for d in lost]
        _render_again(p, lost)
        done = [(d, i) for d, i in done if i is not None] + [one(d) for d in _reload(p, [d.id for d in lost])]
    with p.transaction() as s:
        bulk.index_archived(s, [(item, doc.id, None) for doc, items in done if items for item in items])
        report.archived, report.rejected = bulk.mark_archived(s, [doc.id for doc, items in done if items is not None])
    crashpoint("archive.committed")
    for doc, items in done:
        if items is not None:
            p.work.forget(doc.id, doc.idempotency_key)
    return report


def _reload(p: Pipeline, ids: Sequence[int]) -> list[Document]:
    with p.transaction() as s:
        return list(s.execute(select(Document).where(Document.id.in_(list(ids)))
                              .execution_options(populate_existing=True)).scalars())


def _render_again(p: Pipeline, docs: Sequence[Document]) -> None:
    from .rebuild import rebuild_models
    from .render import render_items

    registers: dict[str, object] = {}
    items = [RenderItem(d.id, d.idempotency_key, d.format, d.kind, d.number, d.department,
                        _salutation(p, d, registers)) for d in docs]
    if any(p.work.read_model(i.key) is None for i in items):
        rebuild_models(p, [i.id for i in items])
    results = render_items(items, p.work.root, p.options.hybrid_profile, p.config.design())
    with p.transaction() as s:
        bulk.record_verdicts(s, [r for r in results if r.verdict in ("accept", "reject")])


# ============================================================================================ hand over


def hand_over(p: Pipeline, chunk: Sequence[int]) -> list[int]:
    """Put the chunk's archived documents into the delivery queue (state ``handed_over``); returns their ids."""
    with p.transaction() as s:
        out = bulk.mark_handed_over(s, chunk)
    crashpoint("handover.committed")
    return out


def delivery_queue(p: Pipeline, department: str | None = None) -> list[Document]:
    """The documents handed over and waiting for delivery (the delivery step picks them up from here)."""
    q = select(Document).where(Document.state == "handed_over").order_by(Document.id)
    if department:
        q = q.where(Document.department == department)
    with p.transaction() as s:
        return list(s.execute(q).scalars())


def sweep_work_area(p: Pipeline) -> int:
    """Remove rendered files of documents that are archived already (left by a crash after the archive commit)."""
    ids = p.work.rendered_ids()
    if not ids:
        return 0
    with p.transaction() as s:
        done = list(s.execute(select(Document.id, Document.idempotency_key).where(
            Document.id.in_(list(ids)), Document.archived_at.is_not(None))).all())
    for doc_id, key in done:
        p.work.forget(doc_id, key)
    return len(done)


def batch_names(p: Pipeline, batch_ids: Sequence[int]) -> dict[int, str]:
    with p.transaction() as s:
        return dict(s.execute(select(Batch.id, Batch.source_key).where(Batch.id.in_(list(batch_ids)))).all())
