"""Issue 16: chunks any machine can work on. The lease rules of ``work_chunks`` on SQLite and PostgreSQL, and a run
whose chunks are drained by two worker processes with their own work folders ("machines"), one of them killed in
the middle of a chunk: its chunk is done again by the other, and every record still ends exactly once."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from erechnung.state import make_engine, migrate, transaction
from erechnung.state import work_chunks

from .invariants import check_exactly_once

T0 = datetime(2031, 3, 4, 5, 6, 7, tzinfo=timezone.utc)  # a clock passed in: never the wall clock
LEASE = timedelta(seconds=60)
OTHER_HOST = "rechner-b.example:4242:abcd"  # a holder on another machine: can only be waited out


@pytest.fixture
def engine(db_url):
    migrate(db_url)
    e = make_engine(db_url)
    yield e
    e.dispose()


def test_a_chunk_is_held_by_one_worker_at_a_time(engine):
    with transaction(engine) as s:
        work_chunks.plan(s, "run-1", [[1, 2], [3, 4]])
    with transaction(engine) as s:
        a = work_chunks.claim(s, "run-1", OTHER_HOST, lease=LEASE, now=T0)
    with transaction(engine) as s:
        b = work_chunks.claim(s, "run-1", "rechner-c.example:1:x", lease=LEASE, now=T0)
    with transaction(engine) as s:
        none = work_chunks.claim(s, "run-1", "rechner-c.example:1:x", lease=LEASE, now=T0 + LEASE / 2)
    assert (a.seq, a.document_ids, b.seq, b.document_ids) == (0, (1, 2), 1, (3, 4))
    assert none is None


def test_a_chunk_whose_worker_stopped_renewing_is_taken_over_after_its_lease(engine):
    with transaction(engine) as s:
        work_chunks.plan(s, "run-2", [[7]])
        first = work_chunks.claim(s, "run-2", OTHER_HOST, lease=LEASE, now=T0)
    with transaction(engine) as s:
        assert work_chunks.claim(s, "run-2", "rechner-c.example:1:x", lease=LEASE, now=T0 + LEASE) is None
        taken = work_chunks.claim(s, "run-2", "rechner-c.example:1:x", lease=LEASE,
                                  now=T0 + LEASE + timedelta(seconds=1))
    assert first.attempt == 1 and taken.attempt == 2 and taken.taken_from == OTHER_HOST
    with transaction(engine) as s:  # the first worker comes back: its lease is gone, its result is not recorded
        assert not work_chunks.renew(s, first.id, OTHER_HOST, lease=LEASE, now=T0 + 2 * LEASE)
        assert not work_chunks.finish(s, first.id, OTHER_HOST, {"documents": 1})
        assert work_chunks.finish(s, taken.id, "rechner-c.example:1:x", {"documents": 1, "holder": "c"})
        state = work_chunks.progress(s, "run-2", now=T0 + 2 * LEASE)
        done = work_chunks.results(s, "run-2")
    assert state.finished and done == [(0, [OTHER_HOST, "rechner-c.example:1:x"], {"documents": 1, "holder": "c"})]


def test_a_renewed_lease_is_not_taken_over(engine):
    with transaction(engine) as s:
        work_chunks.plan(s, "run-3", [[9]])
        c = work_chunks.claim(s, "run-3", OTHER_HOST, lease=LEASE, now=T0)
    with transaction(engine) as s:
        assert work_chunks.renew(s, c.id, OTHER_HOST, lease=LEASE, now=T0 + LEASE - timedelta(seconds=1))
        assert work_chunks.claim(s, "run-3", "rechner-c.example:1:x", lease=LEASE,
                                 now=T0 + LEASE + timedelta(seconds=1)) is None


def test_a_dead_process_of_this_host_loses_its_chunk_at_once(engine):
    import socket

    p = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = f"{socket.gethostname()}:{p.stdout.strip()}:dead"
    with transaction(engine) as s:
        work_chunks.plan(s, "run-4", [[1]])
        work_chunks.claim(s, "run-4", dead, lease=LEASE, now=T0)
    with transaction(engine) as s:
        again = work_chunks.claim(s, "run-4", "rechner-c.example:1:x", lease=LEASE, now=T0)
    assert again is not None and again.taken_from == dead


# ======================================================================= a run drained by two "machines"

WORKER = textwrap.dedent("""
    import sys
    from erechnung.config import load_config
    from erechnung.pipeline import Options, Pipeline
    from erechnung.pipeline.distributed import drain
    config, run_id, holder = sys.argv[1:4]
    with Pipeline.open(load_config(config), options=Options(workers=1)) as p:
        r = drain(p, run_id, holder=holder, poll=0.2)
    print("chunks", r.chunks, "taken_over", r.taken_over)
""")


def _cluster_site(make_site, root: Path, db_url: str, shared: str, lease: int = 10):
    site = make_site(root, db_url)
    with open(site.config_path, "a", encoding="utf-8") as fh:
        fh.write(f'\n[cluster]\nshared_work = "{shared}"\nworkers = 2\nchunk_lease_seconds = {lease}\n')
    return site


def _start_worker(site, run_id: str, machine: str, holder: str, crash: str | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "ERECHNUNG_CRASH_AT"}
    env["ERECHNUNG_WORK_DIR"] = str(site.root / machine / "work")  # each machine its own work folder
    if crash:
        env["ERECHNUNG_CRASH_AT"] = crash
    return subprocess.Popen([sys.executable, "-c", WORKER, str(site.config_path), run_id, holder], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_machines_drain_a_run_and_one_killed_mid_chunk_loses_nothing(make_site, db_url, tmp_path):
    """Machine A dies (SIGKILL) after recording its first chunk's verdicts, before archiving it; machine B (another
    host: it waits out A's lease) finishes the run, A's chunk included. Every record ends exactly once, every
    document is archived and handed over once, and B fetched the documents intake built from the shared work
    area (the coordinator's local work area is another folder)."""
    from erechnung.config import load_config
    from erechnung.pipeline import Options, Pipeline
    from erechnung.pipeline.distributed import coordinate

    site = _cluster_site(make_site, tmp_path / "site", db_url, str(tmp_path / "shared-work"))
    workers: list[subprocess.Popen] = []

    def start(run_id: str, n: int) -> int:
        if workers:
            return 0
        workers.append(_start_worker(site, run_id, "a", "rechner-a.example:1:a", crash="render.committed:1"))
        workers.append(_start_worker(site, run_id, "b", "rechner-b.example:1:b"))
        return 2

    with Pipeline.open(load_config(site.config_path), work_dir=site.root / "coordinator" / "work",
                       report_dir=site.root / "reports", options=Options(workers=1, chunk_size=5)) as p:
        summary = coordinate(p, start_workers=start, poll=0.2)
    outs = [w.communicate(timeout=300) for w in workers]
    assert workers[0].returncode == -signal.SIGKILL, outs[0]
    assert workers[1].returncode == 0, outs[1][1][-3000:]
    cluster = summary.timings["cluster"]
    assert cluster["taken_over"] >= 1 and set(cluster["workers"]) == {"rechner-b.example:1:b"} | (
        {"rechner-a.example:1:a"} & set(cluster["workers"]))
    assert "taken_over [" in outs[1][0] and "taken_over []" not in outs[1][0]
    totals = summary.totals
    assert totals.rendered + totals.rejected == totals.documents > 0
    assert totals.handed_over == totals.rendered
    check_exactly_once(site)
    assert not [f for f in (tmp_path / "shared-work").rglob("*.pkl")]  # the shared copies are gone once archived


def test_without_workers_the_coordinator_drains_the_chunks_itself(make_site, db_url, tmp_path):
    """An empty work pool never hangs a run: no worker could be started, the coordinator does the chunks. The run
    report is kept in ``[cluster] reports`` as well (on several machines no machine's disk is where people look)."""
    from erechnung.config import load_config
    from erechnung.pipeline import Options, Pipeline
    from erechnung.pipeline.distributed import coordinate

    site = _cluster_site(make_site, tmp_path / "site", db_url, str(tmp_path / "shared-work"))
    with open(site.config_path, "r+", encoding="utf-8") as fh:
        text = fh.read().replace("[cluster]\n", f'[cluster]\nreports = "{tmp_path / "shared-reports"}"\n')
        fh.seek(0), fh.write(text), fh.truncate()
    with Pipeline.open(load_config(site.config_path), work_dir=site.root / "work", report_dir=site.root / "reports",
                       options=Options(workers=1, chunk_size=5)) as p:
        summary = coordinate(p, start_workers=lambda run_id, n: 0, poll=0.1)
    assert summary.timings["cluster"]["chunks"] >= 2
    check_exactly_once(site)
    assert (tmp_path / "shared-reports" / summary.report_html.name).read_bytes() == summary.report_html.read_bytes()
