"""``make chaos``, small: tools/chaos.py kills ``erechnung run``/``deliver``/``track`` three times on PostgreSQL
against the sandboxes and finds nothing lost, duplicated or stuck; and its checks do find each kind of damage
when it is there (a harness that cannot fail proves nothing)."""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
FINAL = re.compile(r"^chaos: kills (\d+), records (\d+), lost (\d+), duplicated (\d+), stuck (\d+)$")

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("chaos")]


def _harness():
    """tools/chaos.py as a module (registered before it runs: its dataclasses look their module up)."""
    if "chaos_harness" not in sys.modules:
        spec = importlib.util.spec_from_file_location("chaos_harness", ROOT / "tools" / "chaos.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["chaos_harness"] = module
        spec.loader.exec_module(module)
    return sys.modules["chaos_harness"]


@pytest.fixture(scope="module")
def chaos_run(tmp_path_factory):
    """tools/chaos.py --kills 3 on a small delivery, its installation and database kept for the second test."""
    chaos = _harness()
    root = tmp_path_factory.mktemp("chaos") / "site"
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "chaos.py"), "--kills", "3", "--records", "20",
                           "--seed", "11", "--keep", str(root)], capture_output=True, text=True, timeout=600)
    db_url = re.search(r"database (\S+)", proc.stdout)
    try:
        yield proc, root, db_url[1] if db_url else None
    finally:
        if db_url:
            chaos.drop_database(chaos.PG_ADMIN, db_url[1])
        shutil.rmtree(root, ignore_errors=True)


def test_chaos_kills_lose_duplicate_and_leave_stuck_nothing(chaos_run):
    proc, _, _ = chaos_run
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    assert FINAL.match(last), proc.stdout[-3000:] + proc.stderr[-3000:]
    kills, records, lost, duplicated, stuck = map(int, FINAL.match(last).groups())
    assert (kills, lost, duplicated, stuck) == (3, 0, 0, 0), proc.stdout[-3000:]
    assert records >= 20
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "audit verify: OK" in proc.stdout and "archive verify: OK" in proc.stdout


def test_chaos_checks_report_each_kind_of_damage(chaos_run):
    """On the installation the run left behind: untouched, nothing found; then a duplicated document, a delivery
    left ``sending``, an e-mail received twice without a resend on record, and an e-mail recorded as sent that
    never arrived are each found and counted where they belong."""
    from erechnung.state import make_engine
    from erechnung.state.delivery_schema import Delivery
    from erechnung.state.schema import Document

    _, root, db_url = chaos_run
    assert db_url, "the harness did not name its database"
    chaos = _harness()
    site = chaos.Site(root, db_url)
    files = chaos.load_exports(root)
    evidence = json.loads((root / "evidence.json").read_text(encoding="utf-8"))

    def counts():
        found = chaos.check(site, files, evidence)
        return len(found.lost), len(found.duplicated), len(found.stuck)

    assert counts() == (0, 0, 0)
    engine = make_engine(db_url)
    try:
        with Session(engine) as s, s.begin():  # a record that became two documents
            doc = s.scalars(select(Document).where(Document.state == "handed_over").order_by(Document.id)).first()
            s.add(Document(idempotency_key=doc.idempotency_key + ":again", department=doc.department,
                           number=f"{doc.number}-X", kind=doc.kind, format=doc.format, batch_id=doc.batch_id,
                           recipient_ref=doc.recipient_ref, state="rejected", verdict="reject"))
        assert counts() == (0, 1, 0)

        with Session(engine) as s, s.begin():  # a delivery the recovery left sending
            letter = s.scalars(select(Delivery).where(Delivery.channel == "print", Delivery.state == "sent")).first()
            s.execute(update(Delivery).where(Delivery.id == letter.id).values(state="sending"))
        assert counts() == (0, 1, 1)

        with Session(engine) as s:
            sent = list(s.scalars(select(Delivery).where(Delivery.channel == "email",
                                                         Delivery.state.in_(chaos.WENT_OUT))
                                  .order_by(Delivery.id)))
        assert len(sent) >= 2, "the small run sent fewer than two e-mails"
        mails = {chaos.mails_of(site, d.idempotency_key)[0]: d for d in sent[:2]}
        (twice, _), (gone, _) = list(mails.items())
        shutil.copy(twice, twice.with_name(twice.name + ".copy"))  # a second copy, no resend on record
        assert counts() == (0, 2, 1)
        gone.unlink()  # recorded as sent, never received
        assert counts() == (1, 2, 1)
    finally:
        engine.dispose()
