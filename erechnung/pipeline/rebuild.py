"""Rebuilding documents whose model is no longer in the work area (the work area was lost or cleaned while
documents were still waiting): the batch is read again from the archive, mapped as on the day it was received,
and every document the database holds for it is built again with the number it was given. Nothing is created,
no number is allocated: the database already says what exists.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Sequence

from sqlalchemy import select

from ..intake import build, map_batch, read_batch
from ..state.repository import corrections_of, idempotency_key
from ..state.schema import Batch, Document
from .context import Pipeline
from .identities import part_drafts
from .intake import _local_date


class _Given:
    """A NumberSource that hands out the number the database holds for the document."""

    def __init__(self, number: str | None) -> None:
        self.number = number

    def next_number(self, department: str, prefix: str, *, width: int, start: int) -> str:
        if self.number is None:
            raise LookupError("the document has no number in the database")
        return self.number


def rebuild_models(p: Pipeline, document_ids: Sequence[int]) -> int:
    """Write the models of these documents into the work area again; returns how many could be rebuilt."""
    with p.transaction() as s:
        docs = list(s.execute(select(Document).where(Document.id.in_(list(document_ids)))).scalars())
        batches = {b.id: b for b in s.execute(select(Batch).where(
            Batch.id.in_({d.batch_id for d in docs if d.batch_id is not None}))).scalars()}
    by_batch: dict[int, list[Document]] = defaultdict(list)
    for d in docs:
        if d.batch_id in batches:
            by_batch[d.batch_id].append(d)
    done = 0
    for batch_id, wanted in by_batch.items():
        b = batches[batch_id]
        dep = p.config.department(b.department)
        data = p.archive.get(b.sha256)
        batch = read_batch(data, b.source_key, format=dep.format, encoding=dep.encoding, delimiter=dep.delimiter,
                           limits=p.config.limits, options=getattr(p.profiles.get(dep.id), "reader", None))
        keys = {d.idempotency_key: d for d in wanted}
        if dep.id not in p.profiles:  # finished documents: the record is the document
            from ..intake.formats import document_bytes  # noqa: F401  (the raw record is what passes through)

            for record in batch.records:
                key = idempotency_key(dep.id, b.sha256, f"Datei {record.row}")
                if key in keys:
                    p.work.write_model(key, {"passthrough": bytes(record.raw)})
                    done += 1
            continue
        mapped = map_batch(batch, dep, p.config, p.profiles[dep.id], p.register(dep.id),
                           today=p.options.today or _local_date(b.received_at))
        drafts = list(mapped.drafts) + _correction_drafts(p, wanted, mapped.drafts)
        for draft in drafts:
            key = idempotency_key(dep.id, b.sha256, draft.key)
            doc = keys.get(key)
            if doc is None:
                continue
            document = build(draft, p.config, numbers=_Given(doc.number), notice_config=p.notice_config)
            p.work.write_model(key, document)
            done += 1
    return done


def _correction_drafts(p: Pipeline, wanted: Sequence[Document], delivered) -> list:
    """The drafts of the corrections (credit notes, new invoices, Änderungsbescheide) among ``wanted``: made from
    the delivered draft and the parts the correction recorded (issue 11)."""
    with p.transaction() as s:
        corrections = corrections_of(s, [d.id for d in wanted])
    by_key = {d.key: d for d in delivered}
    out = []
    for c in corrections:
        original = by_key.get((c.parts or {}).get("original"))
        if original is not None:
            out += part_drafts(c.parts, original).values()
    return out
