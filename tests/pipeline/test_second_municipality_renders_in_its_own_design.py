"""Issue 11: the pipeline renders each municipality's documents in the design and with the sender details of
its own configuration. Before, the render workers loaded the default design whatever config.toml said, so a
second municipality's notices carried the sample city's letterhead, head and account."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "documents"))

from test_municipality_identity_on_every_page import BEISPIELHEIM, _beispielheim_design  # noqa: E402


def test_the_pipeline_renders_a_second_municipalitys_notices_in_its_own_design(tmp_path):
    from erechnung.entrypoints.demo.pipeline import config_text
    from erechnung.pipeline import Options, run

    text = re.sub(r'design = "[^"]*"', 'design = "gestaltung"', config_text(tmp_path))
    for old, new in BEISPIELHEIM.items():
        text = text.replace(old, new)
    _beispielheim_design(tmp_path / "gestaltung")
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    shutil.copytree(ROOT / "examples" / "batches" / "steueramt", tmp_path / "dropzones" / "steueramt")

    summary = run(tmp_path / "config.toml", db_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                  options=Options(workers=1), work_dir=tmp_path / "work", report_dir=tmp_path / "reports")
    assert summary.totals.rendered >= 1 and not summary.totals.rejected

    pdfs = [p for p in (tmp_path / "archive").rglob("*") if p.is_file() and p.read_bytes()[:4] == b"%PDF"]
    assert len(pdfs) == summary.totals.rendered
    for pdf in pdfs:
        shown = re.sub(r"\s+", " ", subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"],
                                                   capture_output=True, check=True).stdout.decode("utf-8"))
        for own in ("Markt Beispielheim", "Der Erste Bürgermeister", "Marktplatz 7",
                    "Bayerisches Verwaltungsgericht Regensburg"):
            assert own in shown, (pdf, own)
        for sample in ("Der Bürgermeister", "Rathausplatz", "Verwaltungsgericht Musterstadt", "Justizplatz",
                       "DE02 1203 0000 0000 2020 51", "www.musterstadt.example"):
            assert sample not in shown, (pdf, sample)
