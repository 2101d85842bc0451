"""Intake creates a chunk's documents in two statements (``bulk.create_documents``) with numbers counted in
memory from the locked range; when that insert meets a conflict, the chunk goes one draft at a time through
``create_document``. Either way the documents, their numbers (gap-free) and records must be the same."""
from __future__ import annotations

from datetime import date

from sqlalchemy.exc import IntegrityError

from erechnung.pipeline import bulk

from .invariants import check_exactly_once, state


def _documents(db_url: str) -> list[tuple]:
    return sorted((d.department, d.idempotency_key.rsplit(":", 1)[-1], d.number, d.format, d.recipient_ref)
                  for d in state(db_url)[1])


def test_a_conflict_in_the_bulk_insert_falls_back_to_one_by_one_with_the_same_outcome(db_url, make_site, tmp_path,
                                                                                        monkeypatch):
    bulk_site = make_site(tmp_path / "bulk", f"sqlite:///{tmp_path / 'bulk.sqlite3'}")
    bulk_site.run(chunk_size=3)
    calls = []

    def conflict(s, documents):
        calls.append(len(documents))
        raise IntegrityError("INSERT", {}, Exception("simulated: a concurrent writer"))

    monkeypatch.setattr(bulk, "create_documents", conflict)
    site = make_site(tmp_path / "site", db_url)
    summary = site.run(chunk_size=3)
    assert calls and summary.totals.quarantined == 5
    check_exactly_once(site)
    assert _documents(db_url) == _documents(bulk_site.db_url)


def test_a_repeated_chunk_finds_its_documents_and_consumes_no_number(db_url, make_site, tmp_path):
    """A batch taken over after a crash maps again: the documents committed before keep their numbers, the
    range does not move for them, and the rest continue the range without a gap."""
    from erechnung.config import load_config
    from erechnung.pipeline import Options, Pipeline
    from erechnung.pipeline.intake import _documents as create_chunk
    from erechnung.state.repository import claim_batch
    from erechnung.state.schema import NumberRange

    site = make_site(tmp_path / "site", db_url, drop=False)
    config = load_config(site.config_path)
    dep = config.department("ordnungsamt")
    with Pipeline.open(config, db_url=db_url, options=Options(workers=1), work_dir=tmp_path / "work") as p:
        from erechnung.intake import map_batch, read_batch

        from .conftest import BATCHES

        data = next((BATCHES / "ordnungsamt").iterdir()).read_bytes()
        batch = read_batch(data, "o.jsonl", format=dep.format, encoding=dep.encoding, delimiter=dep.delimiter)
        mapped = map_batch(batch, dep, p.config, p.profiles[dep.id], p.register(dep.id))
        drafts = list(mapped.drafts)
        assert len(drafts) == 5
        with p.transaction() as s:
            batch_id = claim_batch(s, department=dep.id, source_key="o.jsonl", sha256="ab" * 32,
                                   worker=p.worker).batch.id
        with p.transaction() as s:
            create_chunk(p, s, dep, batch_id, "ab" * 32, drafts[:2], None, date(2026, 11, 20))
        with p.transaction() as s:  # the first two again, with the rest
            create_chunk(p, s, dep, batch_id, "ab" * 32, drafts, None, date(2026, 11, 20))
        with p.transaction() as s:
            next_value = s.query(NumberRange.next_value).filter_by(department=dep.id).scalar()
    numbers = sorted(d.number for d in state(db_url)[1])
    assert numbers == [f"OA-2026-{i:06d}" for i in range(1, 6)] and next_value == 6
