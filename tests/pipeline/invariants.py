"""What must hold after every run, crashed or not, once a run has completed: checked from the database, the
archive and the drop zones, never from what the pipeline says about itself."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

#: The sample deliveries of examples/batches: documents per department, quarantined rows of the Standesamt.
EXPECTED_DOCUMENTS = {"standesamt": 5, "ordnungsamt": 5, "steueramt": 4, "gewerbesteuer": 3, "abfallwirtschaft": 3,
                      "stadtbibliothek": 2}
STANDESAMT_QUARANTINED_ROWS = {6, 7, 8, 9, 10}
EXPECTED_NUMBERS = {"ordnungsamt": [f"OA-2026-{i:06d}" for i in range(1, 6)],
                    "steueramt": [f"HST-2026-{i:05d}" for i in range(1, 5)]}


def state(db_url: str):
    """(batches, documents, records, quarantine, archive index) as lists of ORM rows."""
    from erechnung.state import make_engine
    from erechnung.state.schema import ArchiveItem, Batch, Document, Quarantine, Record

    engine = make_engine(db_url)
    try:
        with Session(engine) as s:
            batches = [b for b in s.scalars(select(Batch).order_by(Batch.id)) if not b.department.startswith("_")]
            return (batches, list(s.scalars(select(Document).order_by(Document.id))),
                    list(s.scalars(select(Record))), list(s.scalars(select(Quarantine))),
                    list(s.scalars(select(ArchiveItem))))
    finally:
        engine.dispose()


def archive_storage(site):
    from erechnung.archive import Archive, RetentionPolicy
    from erechnung.config import location_url
    from erechnung.storage import open_storage

    config = site.config
    return Archive(open_storage(location_url(config, config.archive.location)),
                   RetentionPolicy.configured(config.archive.retention_years))


def check_exactly_once(site, *, expected: dict[str, int] | None = None) -> dict:
    """Every record of every delivered file is exactly one document or one quarantine entry; every document is
    rendered, validated, archived (with its report) and handed over once; the archive holds exactly what the
    database indexes, nothing more (no orphan from a crashed attempt) and nothing less."""
    from erechnung.intake import read_batch

    expected = EXPECTED_DOCUMENTS if expected is None else expected
    batches, docs, records, quarantine, index = state(site.db_url)
    archive = archive_storage(site)
    config = site.config

    assert batches and all(b.status in ("done", "failed") for b in batches), [(b.id, b.status) for b in batches]
    assert len({(b.department, b.sha256) for b in batches}) == len(batches)

    # every row of every file: exactly one record
    by_batch: dict[int, Counter] = {b.id: Counter() for b in batches}
    for r in records:
        by_batch[r.batch_id].update(range(r.row_first, r.row_last + 1))
    for b in batches:
        dep = config.department(b.department)
        rows = [rec.row for rec in read_batch(archive.get(b.sha256), b.source_key, format=dep.format,
                                              encoding=dep.encoding, delimiter=dep.delimiter).records]
        assert sorted(by_batch[b.id]) == sorted(rows), (b.source_key, by_batch[b.id], rows)
        assert all(n == 1 for n in by_batch[b.id].values()), (b.source_key, by_batch[b.id])

    # documents: as many as expected per department, each once, numbers gap-free, all the way through
    per_dep = Counter(d.department for d in docs)
    assert dict(per_dep) == {k: v for k, v in expected.items() if v}, per_dep
    assert len({d.idempotency_key for d in docs}) == len(docs)
    for dep, numbers in EXPECTED_NUMBERS.items():
        if expected.get(dep):
            assert sorted(d.number for d in docs if d.department == dep) == numbers
    for d in docs:
        assert d.state == "handed_over" and d.verdict == "accept", (d.id, d.number, d.state, d.verdict)
        assert d.sha256 and d.report_sha256 and d.archived_at and d.handed_over_at

    # quarantine of the Standesamt's broken rows, with reasons
    if expected.get("standesamt"):
        sta = {b.id for b in batches if b.department == "standesamt"}
        rows = {r.row_first for r in records if r.batch_id in sta and r.status == "quarantined"}
        assert rows == STANDESAMT_QUARANTINED_ROWS, rows
        assert {q.row for q in quarantine if q.batch_id in sta} == STANDESAMT_QUARANTINED_ROWS
        assert all(q.problem and q.fix for q in quarantine)

    # the archive holds exactly what is indexed, and that is every original, document and report
    indexed = {i.sha256 for i in index}
    referenced = {b.sha256 for b in batches} | {d.sha256 for d in docs} | {d.report_sha256 for d in docs}
    assert referenced <= indexed, referenced - indexed
    stored = set(archive.hashes())
    assert stored == indexed, {"orphans": stored - indexed, "missing": indexed - stored}
    for sha in stored:
        archive.item(sha)  # metadata complete for every item
        assert archive.verify(sha)
    return {"batches": batches, "documents": docs, "records": records, "quarantine": quarantine, "index": index}


def check_drop_zones_clean(site) -> None:
    """No delivery left in a local drop zone or under claimed/; the Standesamt's error report there."""
    for zone in (site.root / "dropzones").iterdir():
        left = [p for p in zone.rglob("*") if p.is_file() and ".tmp" not in p.parts and ".retention" not in p.parts
                and "fehlerberichte" not in p.parts]
        assert not left, left
    reports = sorted(p.name for p in (site.zone("standesamt") / "fehlerberichte").iterdir())
    assert reports == ["2026-11-04_standesamt.csv.fehlerbericht.csv", "2026-11-04_standesamt.csv.fehlerbericht.html"]


def check_work_area_empty(root: Path) -> None:
    left = [p for p in (root / "work").rglob("*") if p.is_file()]
    assert not left, left
