"""``make demo-cluster`` (issue 16): a Prefect server on PostgreSQL, an S3 server, two workers as two machines, two
municipalities; one worker killed mid-chunk. The demo counts from each municipality's tables and must end with
duplicates 0, lost 0, both machines used and at least one chunk taken over from the killed worker."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_cluster_demo_two_municipalities_two_machines_one_killed_nothing_lost_nothing_twice(tmp_path):
    out = subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                          "from erechnung.entrypoints.demo.cluster import main; sys.exit(main(Path(sys.argv[1])))",
                          str(tmp_path / "cluster")], cwd=PROJECT, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    last = re.search(r"cluster demo: tenants (\d+), documents (\d+), duplicates (\d+), lost (\d+), "
                     r"workers used (\d+)", out.stdout)
    assert last, out.stdout
    tenants, documents, duplicates, lost, workers = map(int, last.groups())
    assert (tenants, duplicates, lost, workers) == (2, 0, 0, 2) and documents > 0
    taken = [int(n) for n in re.findall(r"übernommene Abschnitte (\d+)", out.stdout)]
    assert len(taken) == 2 and sum(taken) >= 1, out.stdout
    assert "mitten im Abschnitt beendet" in out.stdout
