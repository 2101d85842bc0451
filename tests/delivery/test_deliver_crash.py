"""Guarantee: `erechnung deliver`, killed (SIGKILL) at random moments while it delivers the demo's documents
through the real sandboxes and restarted, loses no delivery and sends none twice, as counted by what the
sandboxes received (postbox messages by their reference, mails by Message-ID, letters by delivery id).

A copy can only be doubled in the crash windows ``erechnung/delivery/send.py`` names (after the channel
accepted, before the adapter's journal or our commit recorded it); such a copy carries the same reference or
Message-ID, so the recipient and the audit see one delivery. The test allows at most one such copy per kill.
"""
from __future__ import annotations

import csv
import io
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from email import message_from_bytes
from pathlib import Path

import pytest
from rich.console import Console

pytestmark = [pytest.mark.xdist_group("delivery_crash"), pytest.mark.slow]

FINAL = {"sent", "delivered", "retrieved", "deemed_notified", "fell_back", "failed", "expired", "dead_letter"}


def _deliver(config: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "erechnung", "deliver", "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "COLUMNS": "200"})


def test_killing_the_delivering_process_at_random_moments_loses_and_doubles_nothing(tmp_path):
    from erechnung.entrypoints.cli.delivery import run_status
    from erechnung.entrypoints.demo.pipeline import EXAMPLES, main
    from erechnung.intake.recipients import import_recipients_csv
    from mailbox_connectors.sandboxes.site import SandboxSite

    root = tmp_path / "site"
    assert main(root, console=Console(file=io.StringIO()), deliver=False) == 0
    config = root / "config.toml"
    # a killed worker's claim runs out after a second (default: five minutes)
    config.write_text(config.read_text(encoding="utf-8").replace('land = "NW"', 'land = "NW"\nlease_seconds = 1'),
                      encoding="utf-8")
    db = f"sqlite:///{root / 'erechnung.sqlite3'}"
    rng = random.Random(int(os.environ.get("ERECHNUNG_CRASH_SEED", "20261121")))
    kills = 0
    with SandboxSite(root / "sandbox") as site:
        site.register(import_recipients_csv((EXAMPLES / "recipients.csv").read_bytes(), "r.csv").register)
        for _ in range(4):
            proc = _deliver(config)
            time.sleep(rng.uniform(1.0, 4.0))  # start-up is ~1 s; the demo's 18 documents take a few seconds
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.communicate(timeout=60)
            time.sleep(1.2)  # let the claims of the killed process run out
        for _ in range(3):  # then to the end: deliver, let the receivers work, track and deliver fallbacks
            proc = _deliver(config)
            out, err = proc.communicate(timeout=180)
            assert proc.returncode in (0, 1), err.decode()
            site.fit.wait_processed()
        zbp_refs = Counter(m.message.get("reference") for m in site.zbp.messages.values())
        mails = [message_from_bytes(p.read_bytes()) for p in (root / "sandbox/smtp/mailboxes").glob("*/*/*")
                 if p.parent.name in ("new", "cur")]

    out = io.StringIO()
    assert run_status(db, as_json=True, out=out) == 0
    import json

    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert records
    stuck = [(r["delivery_id"], r["state"]) for r in records if r["state"] not in FINAL]
    assert not stuck, f"deliveries left unfinished after the restarts: {stuck} (kills: {kills})"

    sent = {r["channel"]: set() for r in records}
    for r in records:
        if r["state"] != "failed" or r["channel_message_id"]:
            sent[r["channel"]].add(r["delivery_id"])
    # BundID postbox: one message per delivery that reached the channel, referenced by its key
    assert set(zbp_refs) == sent.get("bundid", set()), (zbp_refs, sent.get("bundid"))
    assert sum(zbp_refs.values()) - len(zbp_refs) <= kills
    # e-mail: one distinct Message-ID per delivery, derived from the key
    ids = Counter(m["Message-ID"] for m in mails)
    assert len(ids) == len(sent.get("email", set())), (ids, sent.get("email"))
    assert sum(ids.values()) - len(ids) <= kills
    # letters: each delivery id in the print shop's manifests once (a kill cannot double a letter of the open
    # batch, which lives on disk)
    letters = Counter()
    for manifest in (root / "print").glob("*.csv"):
        with manifest.open(encoding="utf-8") as fh:
            letters.update(row["delivery_id"] for row in csv.DictReader(fh, delimiter=";"))
    assert set(letters) == sent.get("print", set()) and all(n == 1 for n in letters.values()), letters
