"""Kill the pipeline (SIGKILL, no clean-up of any kind) at every crash point, after a random number of passes,
restart it, and check that every record ended as exactly one document or one quarantine entry: counted in the
database and in the archive, which must hold exactly what the database indexes (no orphan of the killed run).

Each case runs the pipeline in a subprocess with ``ERECHNUNG_CRASH_AT=<point>:<n>`` (see
``erechnung.pipeline.crash``), then again without it; a second kill before the restart, at another point,
checks that recovery itself may be interrupted.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap

import pytest

from erechnung.pipeline.crash import ENV, POINTS

from .invariants import check_drop_zones_clean, check_exactly_once, check_work_area_empty

pytestmark = pytest.mark.slow  # subprocesses only: spread over the xdist workers

#: How often each point is passed in one run over the sample deliveries (upper bounds for the random n).
PASSES = {"intake.claimed": 6, "intake.archived": 6, "intake.batch_claimed": 6, "intake.document": 18,
          "intake.chunk": 4, "intake.report": 6, "intake.finished": 6, "render.results": 2, "render.committed": 2,
          "archive.put": 18, "archive.committed": 2, "handover.committed": 2}

SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from erechnung.pipeline import Options, run
    root = Path(sys.argv[1])
    summary = run(root / "config.toml", options=Options(workers=1, chunk_size=int(sys.argv[2])),
                  work_dir=root / "work", report_dir=root / "reports")
    print("documents", summary.totals.documents)
""")


def _run(root, crash: str | None = None, chunk_size: int = 5) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if crash:
        env[ENV] = crash
    return subprocess.run([sys.executable, "-c", SCRIPT, str(root), str(chunk_size)], env=env, capture_output=True,
                          text=True, timeout=600)


def test_every_point_is_named_in_the_test():
    assert set(PASSES) == set(POINTS)


CASES = [("sqlite", seed) for seed in range(len(POINTS) + 2)] + [("postgresql", 3), ("postgresql", 9)]


@pytest.mark.parametrize(("database", "seed"), CASES, ids=[f"{d}-{s}" for d, s in CASES])
def test_killed_at_any_point_and_restarted_every_record_ends_exactly_once(database, seed, make_site, tmp_path,
                                                                          request):
    """Seeds 0..11 kill at each point in turn, the others at a random one; n is random (seeded)."""
    rng = random.Random(seed)
    point = POINTS[seed] if seed < len(POINTS) else rng.choice(POINTS)
    n = rng.randint(1, PASSES[point])
    if database == "sqlite":
        url = f"sqlite:///{tmp_path / 'site' / 'state.sqlite3'}"
    else:
        from .conftest import _empty

        url = request.getfixturevalue("pg_database")
        _empty(url)
    site = make_site(tmp_path / "site", url)
    first = _run(site.root, f"{point}:{n}")
    assert first.returncode == -signal.SIGKILL, (point, n, first.returncode, first.stdout, first.stderr[-3000:])
    # recovery killed too, at a random point of its own, before it may finish
    second_point = rng.choice(POINTS)
    _run(site.root, f"{second_point}:1")
    final = _run(site.root)
    assert final.returncode == 0, (point, n, second_point, final.stdout, final.stderr[-3000:])
    check_exactly_once(site)
    check_drop_zones_clean(site)
    check_work_area_empty(site.root)


def test_workers_end_themselves_when_their_coordinator_is_killed(tmp_path):
    """A killed run must not leave its worker processes waiting for work (and holding their memory) forever."""
    import time

    script = textwrap.dedent("""
        import os, signal, sys
        from pathlib import Path
        if __name__ == "__main__":
            from erechnung.pipeline.pool import RenderPool
            pool = RenderPool(2, sys.argv[1], warm=False).start(wait=False)
            Path(sys.argv[2]).write_text(" ".join(str(p.pid) for p in pool._executor._processes.values()))
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    path = tmp_path / "coordinator.py"
    path.write_text(script)
    pids_file = tmp_path / "pids"
    proc = subprocess.run([sys.executable, str(path), str(tmp_path / "work"), str(pids_file)], timeout=120)
    assert proc.returncode == -signal.SIGKILL
    pids = [int(p) for p in pids_file.read_text().split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") and not _zombie(p) for p in pids):
        time.sleep(0.5)
    alive = [p for p in pids if os.path.exists(f"/proc/{p}") and not _zombie(p)]
    for p in alive:  # do not leave them behind if the test fails
        os.kill(p, signal.SIGKILL)
    assert not alive


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
