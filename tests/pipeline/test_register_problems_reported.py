"""Register problems are reported (issue 11): a row of the recipient register that cannot be imported (an invalid
e-mail address) does not disappear without a word. The run names it in its output (``problems``, so the command
exits non-zero), in its run report, and writes an error report for the register file next to the run report;
the documents for that customer number are held back as before, now with the reason findable."""
from __future__ import annotations

from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _site_with_broken_register(make_site, tmp_path):
    site = make_site(tmp_path / "site", f"sqlite:///{tmp_path / 'state.sqlite3'}", drop=False)
    text = (EXAMPLES / "recipients.csv").read_text(encoding="utf-8")
    assert "oezlem.yildiz@example.org" in text
    register = tmp_path / "site" / "empfaenger.csv"
    register.write_text(text.replace("oezlem.yildiz@example.org", "oezlem yildiz@example.org"), encoding="utf-8")
    config = site.config_path.read_text(encoding="utf-8").splitlines()
    lines = [f'recipients = "{register.as_posix()}"' if line.startswith("recipients =") else line for line in config]
    assert lines != config
    site.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    site.drop("standesamt")
    return site


def test_a_broken_register_row_is_in_the_run_output_its_report_and_an_error_report(make_site, tmp_path):
    site = _site_with_broken_register(make_site, tmp_path)
    summary = site.run()
    problems = "\n".join(summary.problems())
    assert "Empfängerverzeichnis: 1 Problem(e)" in problems
    assert "empfaenger.csv, Zeile 4, Spalte E-Mail: 'oezlem yildiz@example.org' keine E-Mail-Adresse" in problems
    assert "oezlem yildiz@example.org" in summary.markdown()
    run_report = summary.report_html.read_text(encoding="utf-8")
    assert "Empfängerverzeichnis: Zeilen nicht übernommen" in run_report and "oezlem yildiz" in run_report
    report = summary.register_report
    assert report is not None and report.parent == summary.report_html.parent and report.name.startswith(
        "fehlerbericht-empfaenger-")
    page = report.read_text(encoding="utf-8")
    assert "oezlem yildiz@example.org" in page and "keine E-Mail-Adresse" in page and "empfaenger.csv" in page


def test_a_sound_register_adds_nothing(make_site, tmp_path):
    site = make_site(tmp_path / "site", f"sqlite:///{tmp_path / 'state.sqlite3'}", drop=False)
    site.drop("standesamt")
    summary = site.run()
    assert summary.register_report is None and summary.register_problems == []
    assert not any("Empfängerverzeichnis" in p for p in summary.problems())
