"""Guarantee: a letter is printed once. ``erechnung deliver`` killed with SIGKILL at each crash point of the print
outbox (a letter taken into the open batch but not yet recorded; a batch renamed for closing; a batch's PDF and
manifest written but its letters not yet in the ledger), on SQLite and PostgreSQL, then run again until every
delivery is recorded: every letter is in exactly one print batch's manifest, and its delivery names that batch.

After the kill the killed worker's claims are made those of a worker on another host (whose death this host
cannot see, so they are waited out): the next run closes the open batch with the unrecorded letter in it; the
test then lets the leases run out (as five minutes would) and the run after that sends those deliveries again:
the resend must find the letter in the batch closed before.
"""
from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, update

from erechnung.archive import Archive
from erechnung.documents.pdfa import DocumentInfo, render
from erechnung.model.recipients import Recipient
from erechnung.state import make_engine, transaction
from erechnung.state import repository as repo
from erechnung.state.delivery_schema import Delivery
from erechnung.storage.local import LocalStorage

pytestmark = [pytest.mark.xdist_group("delivery_crash"), pytest.mark.slow]

LETTERS = 5


def _pdf(n: int) -> bytes:
    def draw(canvas):
        canvas.drawString(72, 700, f"Rechnung Nr. {n}")
        canvas.showPage()
    return render(draw, DocumentInfo(title=f"Rechnung {n}", author="Stadt Musterstadt"))


def _site(root: Path, db_url: str) -> Path:
    """A configuration with only the print channel, and LETTERS handed-over PDF invoices to recipients with
    nothing but a postal address (so all of them become letters), archived where the configuration says."""
    from erechnung.entrypoints.demo.pipeline import config_text

    text = config_text(root, database_url=db_url)
    config = root / "config.toml"
    config.write_text("\n".join(line for line in text.splitlines() if not line.startswith("include ")) + "\n",
                      encoding="utf-8")
    archive = Archive(LocalStorage(root / "archive"))
    engine = make_engine(db_url)
    try:
        with transaction(engine) as s:
            for n in range(1, LETTERS + 1):
                who = Recipient(customer_number=f"K-{n}", name=f"Anna Muster {n}", street=f"Hauptstr. {n}",
                                post_code="12345", city="Musterstadt")
                repo.upsert_recipient(s, "kasse", who.customer_number, who)
                sha = archive.put(_pdf(n), kind="document", department="kasse", media_type="application/pdf",
                                  document_kind="invoice").sha256
                repo.create_document(s, idempotency_key=f"kasse:print:{n}", department="kasse", kind="invoice",
                                     format="zugferd", number_prefix="RE-2026-", recipient_ref=who.customer_number,
                                     issue_date=date(2026, 11, 2), state="handed_over", verdict="accept",
                                     sha256=sha)
    finally:
        engine.dispose()
    return config


def _deliver(config: Path, db_url: str, crash_at: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "ERECHNUNG_CRASH_AT"}
    if crash_at:
        env["ERECHNUNG_CRASH_AT"] = crash_at
    return subprocess.run([sys.executable, "-m", "erechnung", "deliver", "--config", str(config), "--db", db_url],
                          capture_output=True, env={**env, "COLUMNS": "200"}, timeout=240)


def _claims(db_url: str, holder: str, lease: timedelta) -> None:
    """The claims of the killed run as held by ``holder`` until now + ``lease`` (the runs take their own clock)."""
    engine = make_engine(db_url)
    try:
        with transaction(engine) as s:
            s.execute(update(Delivery).where(Delivery.state == "sending")
                      .values(claimed_by=holder, lease_until=datetime.now(timezone.utc) + lease))
    finally:
        engine.dispose()


@pytest.mark.parametrize("crash_at", ["print.letter_taken:3", "print.batch_closing:1", "print.batch_written:1"])
def test_deliver_killed_in_the_print_outbox_prints_every_letter_once(tmp_path, db_url, crash_at):
    config = _site(tmp_path, db_url)
    killed = _deliver(config, db_url, crash_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    _claims(db_url, "druck-worker-2.intern:4242:5eed", timedelta(minutes=5))  # a worker on another host
    again = _deliver(config, db_url)  # its claims are still leased: their letters wait
    assert again.returncode == 0, again.stderr.decode()
    _claims(db_url, "druck-worker-2.intern:4242:5eed", timedelta(seconds=-1))  # five minutes later
    last = _deliver(config, db_url)
    assert last.returncode == 0, last.stderr.decode()

    engine = make_engine(db_url)
    try:
        with transaction(engine) as s:
            deliveries = {d.idempotency_key: d for d in s.execute(select(Delivery)).scalars()}
    finally:
        engine.dispose()
    assert len(deliveries) == LETTERS and {d.state for d in deliveries.values()} == {"sent"}, \
        {k: d.state for k, d in deliveries.items()}
    in_batches: Counter[str] = Counter()
    batch_of: dict[str, str] = {}
    for manifest in sorted((tmp_path / "print").glob("*.csv")):
        with manifest.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh, delimiter=";"):
                in_batches[row["delivery_id"]] += 1
                batch_of[row["delivery_id"]] = f"{manifest.stem}/{row['letter']}"
    assert in_batches == Counter(set(deliveries)), f"letters per delivery over all batches: {in_batches}"
    assert {k: d.channel_message_id for k, d in deliveries.items()} == batch_of
    assert not (tmp_path / "print" / "open").exists() and not any((tmp_path / "print" / "closing").iterdir())
    # the run kept the chain's head in the archive, and the trail verifies against it
    assert "Prüfpunkt der Ereigniskette im Archiv: Ereignis" in last.stdout.decode()
    from erechnung.entrypoints.cli.delivery import run_audit_verify

    out = io.StringIO()
    assert run_audit_verify(db_url, out, config=config) == 0, out.getvalue()
