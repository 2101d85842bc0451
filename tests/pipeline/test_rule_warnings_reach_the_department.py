"""A value the official rules only warn about reaches the department (issue 11): a unit code outside UN/ECE
Recommendation 20 (BR-CL-23, a warning) lets the document through, and the department finds a "Hinweis" line
for it beside the batch's error report in its drop zone, named in the run report, instead of silence."""
from __future__ import annotations

import json
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_a_unit_code_outside_the_code_list_is_a_hint_in_the_departments_report(make_site, tmp_path):
    sample = sorted((EXAMPLES / "batches" / "ordnungsamt").iterdir())[0]
    text = sample.read_text(encoding="utf-8")
    assert '"einheit": "MTK"' in text
    site = make_site(tmp_path / "site", f"sqlite:///{tmp_path / 'state.sqlite3'}", drop=False)
    site.drop("ordnungsamt", sample.name, text.replace('"einheit": "MTK"', '"einheit": "QXZ"').encode("utf-8"))
    summary = site.run()
    assert summary.totals.rejected == 0 and summary.totals.handed_over == 5  # a warning stops nothing
    report = site.zone("ordnungsamt") / "fehlerberichte" / f"{sample.name}.hinweise.csv"
    lines = report.read_bytes().decode("utf-8-sig").splitlines()
    hints = [line for line in lines[1:] if "Hinweis: BR-CL-23" in line]
    with_code = {json.loads(line)["vorgang"] for line in text.splitlines() if '"einheit": "MTK"' in line}
    assert len(hints) == len(with_code) >= 1  # one hint per document with the code, none for the others
    assert all(sample.name in h and "die amtlichen Regeln warnen nur" in h for h in hints)
    assert (report.with_suffix(".html")).read_text(encoding="utf-8").count("BR-CL-23") >= 1
    assert any(d == "ordnungsamt" and k.endswith(f"{sample.name}.hinweise.csv") for d, k in summary.error_reports)
    assert f"{sample.name}.hinweise.csv" in summary.report_html.read_text(encoding="utf-8")


def test_documents_without_warnings_leave_no_hint_report(make_site, tmp_path):
    site = make_site(tmp_path / "site", f"sqlite:///{tmp_path / 'state.sqlite3'}", drop=False)
    site.drop("ordnungsamt")
    summary = site.run()
    assert summary.totals.handed_over == 5
    assert not list((site.zone("ordnungsamt") / "fehlerberichte").glob("*.hinweise.*"))
