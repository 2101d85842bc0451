"""`make demo` stays green: its samples are accepted, its broken sample rejected, its reports written."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.xdist_group("validator")
def test_demo_builds_converts_validates_and_reports(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "erechnung.entrypoints.demo"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reports = tmp_path / "out/demo/reports"
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["documents"] == 7, summary
    assert summary["accept"] == 6 and summary["reject"] == 1, summary
    assert len(list(reports.glob("*.report.xml"))) == 7
    assert len(list(reports.glob("*.report.html"))) == 7
    assert "reports:" in proc.stdout
