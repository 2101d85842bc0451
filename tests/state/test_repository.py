"""The state database's guarantees, each on SQLite and on PostgreSQL (see conftest.py)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from erechnung.state import current_revision, migrate, transaction
from erechnung.state import repository as repo
from erechnung.state.schema import Document, NumberRange, Quarantine, Record

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)
SHA_A = "a" * 64
SHA_B = "b" * 64


def _claim(engine, worker="w1", sha=SHA_A, now=T0, **kw):
    with transaction(engine) as s:
        return repo.claim_batch(s, department="kasse", source_key="inbox/kasse/2026-11.csv", sha256=sha,
                                worker=worker, now=now, **kw)


def _process(engine, batch_id, groups, *, prefix="RE-2026-"):
    """What the flow does per document: one transaction creates it, numbers it and marks its rows."""
    results = []
    for group, rows in groups:
        with transaction(engine) as s:
            results.append(repo.create_document(
                s, idempotency_key=repo.idempotency_key("kasse", SHA_A, group), department="kasse",
                kind="invoice", format="ubl", number_prefix=prefix, batch_id=batch_id, rows=rows,
                recipient_ref=f"K-{group}", issue_date=date(2026, 11, 2)))
    return results


GROUPS = [("g1", [(2, 3)]), ("g2", [(4, 4)]), ("g3", [(5, 7)])]


def _numbers(engine):
    with transaction(engine) as s:
        return [d.number for d in repo.list_documents(s)]


def test_migrations_create_the_schema_the_code_describes(engine):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from erechnung.state.schema import metadata

    with engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), metadata)
    diff = [d for d in diff if not (d[0] == "remove_table" and d[1].name == "erechnung_schema_version")]
    assert diff == []


def test_migrate_at_every_start_is_harmless(db_url, engine):
    migrate(db_url)
    migrate(engine)
    from alembic.script import ScriptDirectory

    from erechnung.state.db import MIGRATIONS

    heads = ScriptDirectory(str(MIGRATIONS)).get_heads()
    assert len(heads) == 1, f"the migrations must form one linear history, not heads {heads}"
    assert current_revision(engine) == heads[0]


def test_same_batch_dropped_twice_yields_each_document_once(engine):
    first = _claim(engine)
    assert first.outcome == "claimed" and first.mine
    created = _process(engine, first.batch.id, GROUPS)
    assert [r.created for r in created] == [True, True, True]
    with transaction(engine) as s:
        assert repo.finish_batch(s, first.batch.id, "w1")

    again = _claim(engine, worker="w2", now=T0 + timedelta(hours=1))
    assert again.outcome == "duplicate" and not again.mine and again.batch.id == first.batch.id
    # Even a flow that processed it again would create nothing new and consume no number.
    repeated = _process(engine, first.batch.id, GROUPS)
    assert [r.created for r in repeated] == [False, False, False]
    assert [r.document.id for r in repeated] == [r.document.id for r in created]
    assert _numbers(engine) == ["RE-2026-000001", "RE-2026-000002", "RE-2026-000003"]
    with transaction(engine) as s:
        assert s.execute(select(func.count()).select_from(Record)).scalar_one() == 3
        assert s.execute(select(NumberRange.next_value)).scalar_one() == 4


def test_crashed_worker_batch_is_resumed_after_its_lease_and_each_document_created_once(engine):
    a = _claim(engine, worker="a", lease=timedelta(minutes=5))
    _process(engine, a.batch.id, GROUPS[:1])  # worker a commits one document, then dies
    assert _claim(engine, worker="b", now=T0 + timedelta(minutes=4)).outcome == "busy"
    with transaction(engine) as s:
        assert [b.id for b in repo.expired_batches(s, now=T0 + timedelta(minutes=6))] == [a.batch.id]
    b = _claim(engine, worker="b", now=T0 + timedelta(minutes=6))
    assert b.outcome == "resumed" and b.batch.claimed_by == "b" and b.batch.attempts == 2
    results = _process(engine, b.batch.id, GROUPS)
    assert [r.created for r in results] == [False, True, True]
    with transaction(engine) as s:
        assert not repo.heartbeat(s, a.batch.id, "a", now=T0 + timedelta(minutes=7))  # a lost the batch
        assert not repo.finish_batch(s, a.batch.id, "a")
        assert repo.heartbeat(s, b.batch.id, "b", now=T0 + timedelta(minutes=7))
        assert repo.finish_batch(s, b.batch.id, "b")
    assert _numbers(engine) == ["RE-2026-000001", "RE-2026-000002", "RE-2026-000003"]


def test_workers_racing_for_a_new_batch_claim_it_once(engine):
    import threading

    barrier, outcomes = threading.Barrier(4), []

    def race(worker):
        barrier.wait()
        outcomes.append(_claim(engine, worker=worker).outcome)

    threads = [threading.Thread(target=race, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["busy", "busy", "busy", "claimed"]


def test_workers_racing_for_an_expired_batch_take_it_over_once(engine):
    import threading

    _claim(engine, worker="crashed", lease=timedelta(minutes=1))
    barrier, outcomes = threading.Barrier(4), []

    def race(worker):
        barrier.wait()
        outcomes.append(_claim(engine, worker=worker, now=T0 + timedelta(minutes=2)).outcome)

    threads = [threading.Thread(target=race, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["busy", "busy", "busy", "resumed"]


def test_heartbeat_keeps_the_batch_from_being_taken_over(engine):
    a = _claim(engine, worker="a", lease=timedelta(minutes=5))
    with transaction(engine) as s:
        assert repo.heartbeat(s, a.batch.id, "a", lease=timedelta(minutes=5), now=T0 + timedelta(minutes=4))
    assert _claim(engine, worker="b", now=T0 + timedelta(minutes=6)).outcome == "busy"
    assert _claim(engine, worker="b", now=T0 + timedelta(minutes=10)).outcome == "resumed"


def test_finished_batch_counts_its_records_and_documents(engine):
    claim = _claim(engine)
    _process(engine, claim.batch.id, GROUPS)
    with transaction(engine) as s:
        assert repo.record_quarantine(s, claim.batch.id, 8, 8, [
            {"row": 8, "column": "Betrag", "value": "12,3,4", "problem": "keine Zahl", "fix": "1.234,56"}])
        assert repo.finish_batch(s, claim.batch.id, "w1", now=T0 + timedelta(minutes=1))
    with transaction(engine) as s:
        b = repo.get_batch(s, claim.batch.id)
        assert (b.status, b.record_count, b.documented_count, b.quarantined_count, b.document_count) == \
            ("done", 4, 3, 1, 3)
        assert b.finished_at == T0 + timedelta(minutes=1) and b.lease_until is None


def test_document_and_its_records_commit_together_or_not_at_all(engine):
    claim = _claim(engine)
    with pytest.raises(RuntimeError):
        with transaction(engine) as s:
            repo.create_document(s, idempotency_key="k1", department="kasse", kind="invoice", format="ubl",
                                 number_prefix="RE-", batch_id=claim.batch.id, rows=[(2, 2)])
            raise RuntimeError("rendering failed")
    with transaction(engine) as s:
        assert s.execute(select(func.count()).select_from(Document)).scalar_one() == 0
        assert s.execute(select(func.count()).select_from(Record)).scalar_one() == 0
    _process(engine, claim.batch.id, [("g1", [(2, 2)])], prefix="RE-")
    assert _numbers(engine) == ["RE-000001"]  # the rolled-back number was not consumed


def test_concurrent_creators_of_the_same_document_create_it_once(engine):
    import threading

    barrier, results = threading.Barrier(4), []

    def create():
        barrier.wait()
        with transaction(engine) as s:
            results.append(repo.create_document(s, idempotency_key="same", department="kasse", kind="invoice",
                                                format="cii", number_prefix="RE-"))

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.created for r in results) == [False, False, False, True]
    assert {r.document.id for r in results} == {results[0].document.id}
    assert _numbers(engine) == ["RE-000001"]
    with transaction(engine) as s:
        assert s.execute(select(NumberRange.next_value)).scalar_one() == 2


def test_number_is_given_as_is_for_passthrough_documents_and_unique_per_department(engine):
    with transaction(engine) as s:
        repo.create_document(s, idempotency_key="p1", department="kasse", kind="invoice", format="passthrough",
                             number="EXT-17")
    with pytest.raises(Exception):
        with transaction(engine) as s:
            repo.create_document(s, idempotency_key="p2", department="kasse", kind="invoice",
                                 format="passthrough", number="EXT-17")
    with transaction(engine) as s:
        repo.create_document(s, idempotency_key="p3", department="bauamt", kind="invoice",
                             format="passthrough", number="EXT-17")
        with pytest.raises(repo.StateError):
            repo.create_document(s, idempotency_key="p4", department="kasse", kind="invoice",
                                 format="passthrough", number="X", number_prefix="RE-")


def test_number_ranges_are_separate_per_department_and_prefix(engine):
    with transaction(engine) as s:
        repo.ensure_number_range(s, "bauamt", "GB-2026-", width=4, start=100)
        got = [repo.allocate_number(s, "kasse", "RE-2026-").number, repo.allocate_number(s, "kasse", "GS-2026-").number,
               repo.allocate_number(s, "bauamt", "GB-2026-").number, repo.allocate_number(s, "kasse", "RE-2026-").number]
    assert got == ["RE-2026-000001", "GS-2026-000001", "GB-2026-0100", "RE-2026-000002"]


def test_document_states_only_move_forward(engine):
    with transaction(engine) as s:
        doc = repo.create_document(s, idempotency_key="k", department="kasse", kind="invoice", format="ubl",
                                   number_prefix="RE-").document
        assert doc.state == "numbered"
        repo.record_rendered(s, doc.id, sha256=SHA_A, verdict="accept", report_sha256=SHA_B)
        repo.record_rendered(s, doc.id, sha256=SHA_A, verdict="accept", report_sha256=SHA_B)  # repeated: no-op
        assert repo.mark_archived(s, doc.id, now=T0).state == "archived"
        assert repo.mark_archived(s, doc.id).archived_at == T0  # repeated: unchanged
        with pytest.raises(repo.StateError):
            repo.record_rendered(s, doc.id, sha256=SHA_B, verdict="accept")
        handed = repo.mark_handed_over(s, doc.id, now=T0 + timedelta(seconds=1))
        assert (handed.state, handed.handed_over_at) == ("handed_over", T0 + timedelta(seconds=1))
        assert repo.mark_handed_over(s, doc.id).state == "handed_over"

        rejected = repo.create_document(s, idempotency_key="r", department="kasse", kind="invoice",
                                        format="ubl", number_prefix="RE-").document
        repo.record_rendered(s, rejected.id, sha256=SHA_B, verdict="reject", report_sha256=SHA_A)
        assert repo.mark_archived(s, rejected.id).state == "rejected"  # its report is archived, it stays rejected
        with pytest.raises(repo.StateError, match="cannot go from rejected to handed_over"):
            repo.mark_handed_over(s, rejected.id)
        with pytest.raises(repo.StateError, match="unknown"):
            repo.mark_archived(s, 10_000)


def test_list_documents_gives_what_the_cli_shows(engine):
    claim = _claim(engine)
    _process(engine, claim.batch.id, GROUPS[:2])
    with transaction(engine) as s:
        repo.record_rendered(s, 1, sha256=SHA_A, verdict="accept")
        rows = repo.list_documents(s)
        assert [(r.number, r.kind, r.format, r.verdict, r.sha256, r.state) for r in rows] == [
            ("RE-2026-000001", "invoice", "ubl", "accept", SHA_A, "rendered"),
            ("RE-2026-000002", "invoice", "ubl", None, None, "numbered")]
        d = rows[0].to_json_dict()
        assert d["department"] == "kasse" and d["issue_date"] == "2026-11-02" and d["recipient_ref"] == "K-g1"
        assert [r.number for r in repo.list_documents(s, state="numbered")] == ["RE-2026-000002"]
        assert repo.list_documents(s, department="bauamt") == []


def test_quarantined_rows_are_recorded_once_with_their_problems(engine):
    class Problem:  # shaped like erechnung.intake.records.RecordError
        def __init__(self, **kw):
            self.kw = kw

        def as_dict(self):
            return self.kw

    claim = _claim(engine)
    problems = [Problem(batch="2026-11.csv", row=9, column="Betrag", value="12,3,4", problem="keine Zahl",
                        fix="1.234,56 oder 1234.56 schreiben"),
                {"row": 10, "column": "IBAN", "value": "DE00", "problem": "Prüfziffer falsch", "fix": "IBAN prüfen"}]
    with transaction(engine) as s:
        assert repo.record_quarantine(s, claim.batch.id, 9, 10, problems) is True
    with transaction(engine) as s:
        assert repo.record_quarantine(s, claim.batch.id, 9, 10, problems) is False  # after a restart: no-op
        assert repo.record_batch_problems(s, claim.batch.id, [{"problem": "Kopfzeile fehlt", "fix": "..."}]) == 1
        assert repo.record_batch_problems(s, claim.batch.id, [{"problem": "Kopfzeile fehlt", "fix": "..."}]) == 0
    with transaction(engine) as s:
        q = repo.quarantine_of(s, claim.batch.id)
        assert [(p.row, p.column, p.value, p.problem) for p in q] == [
            (None, None, None, "Kopfzeile fehlt"), (9, "Betrag", "12,3,4", "keine Zahl"),
            (10, "IBAN", "DE00", "Prüfziffer falsch")]
        [record] = repo.records_of(s, claim.batch.id)
        assert (record.status, record.row_first, record.row_last, record.document_id) == ("quarantined", 9, 10, None)
        assert record.reason[0]["problem"] == "keine Zahl"
        assert s.execute(select(func.count()).select_from(Quarantine)).scalar_one() == 3
        with pytest.raises(repo.StateError):
            repo.record_quarantine(s, claim.batch.id, 11, 11, [{"problem": "x"}])  # no fix: not actionable


def test_archive_index_lists_each_archived_item_once(engine, tmp_path):
    from erechnung.archive import Archive, ArchiveKind
    from erechnung.storage import LocalStorage

    archive = Archive(LocalStorage(tmp_path), clock=lambda: T0)
    claim = _claim(engine)
    [doc] = [r.document for r in _process(engine, claim.batch.id, GROUPS[:1])]
    item = archive.put(b"<Invoice/>", kind=ArchiveKind.DOCUMENT, department="kasse",
                       media_type="application/xml", document_kind="invoice", document_id=str(doc.id))
    with transaction(engine) as s:
        assert repo.index_archived(s, item, document_id=doc.id, batch_id=claim.batch.id) is True
        assert repo.index_archived(s, item, document_id=doc.id) is False
    with transaction(engine) as s:
        [row] = repo.archived_items(s, document_id=doc.id)
        assert (row.sha256, row.kind, row.size, row.batch_id) == (item.sha256, "document", 10, claim.batch.id)
        assert row.retention_until == datetime(2035, 1, 1, tzinfo=timezone.utc)
        assert row.meta["document_kind"] == "invoice"


def test_recipient_register_is_persisted_and_updated(engine):
    with transaction(engine) as s:
        repo.upsert_recipient(s, "kasse", "K-1", {"name": "Muster GmbH", "leitweg_id": "04011000-1234-56",
                                                   "channel": "peppol"})
    with transaction(engine) as s:
        repo.upsert_recipient(s, "kasse", "K-1", {"name": "Muster GmbH & Co. KG", "channel": "email"})
        repo.upsert_recipient(s, "bauamt", "K-1", {"name": "Other"})
    with transaction(engine) as s:
        r = repo.get_recipient(s, "kasse", "K-1")
        assert (r.name, r.data) == ("Muster GmbH & Co. KG", {"name": "Muster GmbH & Co. KG", "channel": "email"})
        assert [x.department for x in repo.list_recipients(s)] == ["bauamt", "kasse"]
        assert repo.get_recipient(s, "kasse", "K-2") is None


def test_intake_recipient_register_round_trips_through_the_database(engine):
    from erechnung.model.delivery import Channel
    from erechnung.model.recipients import Consent, Recipient, RecipientRegister

    register = RecipientRegister((
        Recipient(customer_number="100200", name="Erika Mustermann", street="Hauptstr. 1", post_code="12345",
                  city="Musterstadt", email="erika@example.org", channels=(Channel.EMAIL, Channel.PRINT),
                  consents=frozenset({Consent.EMAIL_INVOICES, Consent.NOTICE_RETRIEVAL})),
        Recipient(customer_number="100300", kind="public_body", name="Landkreis", street="Amtsweg 2",
                  post_code="54321", city="Kreisstadt", leitweg_id="04011000-1234-56", channels=(Channel.PEPPOL,)),
    ))
    with transaction(engine) as s:
        assert repo.save_recipients(s, "kasse", register) == 2
    with transaction(engine) as s:
        loaded = repo.load_register(s, "kasse")
        assert sorted(loaded.recipients, key=lambda r: r.customer_number) == list(register.recipients)
        assert loaded.get("100200").consents == {Consent.EMAIL_INVOICES, Consent.NOTICE_RETRIEVAL}
        assert repo.get_recipient(s, "kasse", "100300").name == "Landkreis"
        assert len(repo.load_register(s, "bauamt")) == 0


def test_run_is_recorded_with_its_counts(engine):
    with transaction(engine) as s:
        assert repo.start_run(s, "run-1", now=T0).status == "running"
    claim = _claim(engine, run_id="run-1")
    assert claim.batch.run_id == "run-1"
    with transaction(engine) as s:
        done = repo.finish_run(s, "run-1", {"batches": 1, "documents": 0}, now=T0 + timedelta(minutes=2))
        assert (done.status, done.counts, done.started_at, done.finished_at) == \
            ("finished", {"batches": 1, "documents": 0}, T0, T0 + timedelta(minutes=2))


def test_sqlite_runs_in_wal_mode_with_foreign_keys_enforced(sqlite_url):
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from erechnung.state import make_engine

    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as c:
            assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        with pytest.raises(IntegrityError):
            with transaction(engine) as s:
                s.execute(text("INSERT INTO records (batch_id, row_first, row_last, status) "
                               "VALUES (999999, 1, 1, 'quarantined')"))
    finally:
        engine.dispose()
