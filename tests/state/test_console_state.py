"""Issue 14, the console's state on SQLite and PostgreSQL: the access log is appended to; the document search
finds by number, Kassenzeichen (whole or its start), recipient, date and state within the departments asked for; a dead letter that
finance resolved opens again when the document fails again (once per document, as before)."""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import select

from erechnung.state import repository as repo
from erechnung.state import transaction
from erechnung.state.console_schema import ConsoleAccess
from erechnung.state.deliveries.dead_letters import add_dead_letter
from erechnung.state.delivery_schema import DeadLetter
from erechnung.state.overview import DocumentSearch, find_documents, kassenzeichen_of, log_access

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def _document(s, department: str, group: str, ref: str, kassenzeichen: str):
    doc = repo.create_document(s, idempotency_key=repo.idempotency_key(department, group), department=department,
                               kind="notice", format="notice_pdf", number_prefix="B-", batch_id=None, rows=[],
                               recipient_ref=ref, issue_date=date(2026, 11, 2))
    repo.record_identities(s, department, [(f"kind=notice|kassenzeichen={kassenzeichen}|issue_date=2026-11-02",
                                            doc.document.id, "0" * 64, {"data": {}})])
    return doc.document.id


def test_search_access_log_and_dead_letters(engine):
    with transaction(engine) as s:
        a = _document(s, "steueramt", "a", "K-1", "5.0300.100001.4")
        b = _document(s, "standesamt", "b", "K-2", "5.0300.100002.2")
        repo.upsert_recipient(s, "steueramt", "K-1", {"name": "Erika 50%_Mustermann"})
    with transaction(engine) as s:
        assert [d.id for d, _ in find_documents(s, DocumentSearch(kassenzeichen="5.0300.100001"), departments=None)] == [a]
        assert find_documents(s, DocumentSearch(kassenzeichen="5.0300.100001"), departments=["standesamt"]) == []
        found = find_documents(s, DocumentSearch(recipient="50%_Must"), departments=None)
        assert [(d.id, name) for d, name in found] == [(a, "Erika 50%_Mustermann")]
        assert find_documents(s, DocumentSearch(recipient="0%x"), departments=None) == []  # % is no wildcard
        assert {d.id for d, _ in find_documents(s, DocumentSearch(issued_on=date(2026, 11, 2)),
                                                departments=None)} == {a, b}
        assert find_documents(s, DocumentSearch(state="handed_over"), departments=None) == []
        assert kassenzeichen_of(s, b) == "5.0300.100002.2"
        log_access(s, user="pruefung", role="auditor", action="document_viewed", path=f"/dokumente/{a}",
                   remote="127.0.0.1", now=T0, document_id=a)
    with transaction(engine) as s:
        rows = [(r.user_name, r.action, r.document_id) for r in s.execute(select(ConsoleAccess)).scalars()]
        assert rows == [("pruefung", "document_viewed", a)]
        assert add_dead_letter(s, a, None, "erster", T0)
        assert not add_dead_letter(s, a, None, "noch einmal", T0)  # open: once per document
        s.execute(select(DeadLetter)).scalar_one().resolved_at = T0
    with transaction(engine) as s:
        assert add_dead_letter(s, a, None, "zweiter", T0)
        dead = s.execute(select(DeadLetter)).scalar_one()
        assert (dead.reason, dead.resolved_at, dead.resolution) == ("zweiter", None, None)
