"""``erechnung documents [--json] [--db URL]``: what a clerk or a script sees of the state database."""
from __future__ import annotations

import json

from erechnung.entrypoints.cli import main
from erechnung.state import transaction
from erechnung.state import repository as repo

SHA = "c" * 64


def _two_documents(engine):
    with transaction(engine) as s:
        doc = repo.create_document(s, idempotency_key="k1", department="kasse", kind="invoice", format="ubl",
                                   number_prefix="RE-2026-").document
        repo.record_rendered(s, doc.id, sha256=SHA, verdict="accept")
        repo.create_document(s, idempotency_key="k2", department="ordnungsamt", kind="notice",
                             format="notice_pdf", number_prefix="GB-")


def test_documents_json_prints_one_object_per_document(engine, db_url, capsys):
    _two_documents(engine)
    assert main(["documents", "--json", "--db", db_url]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [{k: d[k] for k in ("id", "department", "number", "kind", "format", "verdict", "sha256", "state")}
            for d in lines] == [
        {"id": 1, "department": "kasse", "number": "RE-2026-000001", "kind": "invoice", "format": "ubl",
         "verdict": "accept", "sha256": SHA, "state": "rendered"},
        {"id": 2, "department": "ordnungsamt", "number": "GB-000001", "kind": "notice", "format": "notice_pdf",
         "verdict": None, "sha256": None, "state": "numbered"}]


def test_documents_table_lists_numbers_and_states(engine, db_url, capsys):
    _two_documents(engine)
    assert main(["documents", "--db", db_url]) == 0
    out = capsys.readouterr().out
    assert "RE-2026-000001" in out and "GB-000001" in out and "rendered" in out and "2 Dokument(e)" in out


def test_documents_from_the_database_named_by_the_environment(engine, db_url, capsys, monkeypatch):
    _two_documents(engine)
    monkeypatch.setenv("ERECHNUNG_DB", db_url)
    assert main(["documents", "--json"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_documents_without_a_database_says_so_and_creates_none(tmp_path, capsys):
    missing = tmp_path / "none.db"
    assert main(["documents", "--db", f"sqlite:///{missing}"]) == 2
    assert "no state database" in capsys.readouterr().err
    assert not missing.exists()
