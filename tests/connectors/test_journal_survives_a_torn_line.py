"""A postbox adapter's journal (what it sent, per delivery) after a crash in the middle of an append: the half
written last record is dropped and the next record starts on a line of its own; a damaged line elsewhere is a
clear error, never a silent loss of what was sent (issue 10: nothing twice, nothing lost)."""
from __future__ import annotations

import pytest

from mailbox_connectors._journal import Journal, JournalError


def test_a_record_torn_by_a_crash_is_dropped_and_the_next_one_is_kept(tmp_path):
    path = tmp_path / "journal" / "bundid.jsonl"
    journal = Journal(path)
    journal.update("d-1", submission="s-1", sent_at="2026-01-05T10:00:00+00:00")
    with open(path, "ab") as fh:  # the process died while writing the second record
        fh.write(b'{"delivery_id":"d-2","submiss')

    reopened = Journal(path)
    assert reopened.get("d-1")["submission"] == "s-1" and reopened.get("d-2") is None
    reopened.update("d-3", submission="s-3")
    again = Journal(path)
    assert again.get("d-3") == {"delivery_id": "d-3", "submission": "s-3"}
    assert path.read_text(encoding="utf-8").count("\n") == 2


def test_a_damaged_line_in_the_middle_is_a_clear_error(tmp_path):
    path = tmp_path / "bundid.jsonl"
    Journal(path).update("d-1", submission="s-1")
    with open(path, "ab") as fh:
        fh.write(b'kaputt\n{"delivery_id":"d-2","submission":"s-2"}\n')
    with pytest.raises(JournalError, match=r"bundid\.jsonl, line 2: not a journal record .* Restore it"):
        Journal(path)
