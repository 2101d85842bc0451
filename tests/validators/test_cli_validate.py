"""`erechnung validate`: exit codes, --json lines, --report-dir; the real console script and typer's runner."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree
from typer.testing import CliRunner

from erechnung import artifacts
from erechnung.entrypoints.cli import app
from validators.varl import report_schema

ACCEPT = ["xrechnung-testsuite/src/test/business-cases/standard/01.01a-INVOICE_uncefact.xml",
          "xrechnung-testsuite/src/test/business-cases/standard/01.02a-INVOICE_ubl.xml"]
REJECT = ["validator-configuration-xrechnung/src/test/instances/ubl004.xml",
          "validator-configuration-xrechnung/src/test/instances/bin001.xml"]
SCRIPT = Path(sys.executable).with_name("erechnung")


def _copy(paths: list[str], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for p in paths:
        shutil.copy(artifacts.cases_dir() / p, folder / Path(p).name)
    return folder


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=300)


def test_the_console_script_is_installed():
    assert SCRIPT.is_file(), "pyproject declares erechnung = erechnung.entrypoints.cli:main"


def test_json_lines_and_exit_1_when_anything_is_rejected(tmp_path):
    folder = _copy(ACCEPT + REJECT, tmp_path / "in" / "nested")
    (tmp_path / "in" / "notes.txt").write_text("not an invoice, and not *.xml")
    proc = _run("validate", "--json", str(tmp_path / "in"))
    assert proc.returncode == 1, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 4
    by_name = {Path(d["path"]).name: d for d in lines}
    assert {k: v["verdict"] for k, v in by_name.items()} == {
        "01.01a-INVOICE_uncefact.xml": "accept", "01.02a-INVOICE_ubl.xml": "accept",
        "ubl004.xml": "reject", "bin001.xml": "reject"}
    for d in lines:
        assert {"path", "verdict", "scenario", "errors", "warnings", "bundle"} <= set(d)
        assert d["bundle"] == artifacts.bundle_in_force().name
        for e in d["errors"]:
            assert {"rule", "message", "location"} <= set(e)
    assert [e["rule"] for e in by_name["ubl004.xml"]["errors"]] == ["BR-DE-3"]
    assert by_name["ubl004.xml"]["scenario"] == "EN16931 XRechnung (UBL Invoice)"
    assert by_name["bin001.xml"]["scenario"] is None
    assert by_name["bin001.xml"]["errors"][0]["rule"] == "xml-not-wellformed"


def test_exit_0_when_all_are_accepted_with_reports_written(tmp_path, bundle):
    folder = _copy(ACCEPT, tmp_path / "in")
    reports = tmp_path / "reports"
    proc = _run("validate", "--report-dir", str(reports), str(folder / Path(ACCEPT[0]).name), str(folder))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "accept" in proc.stdout and str(reports) in proc.stdout
    xml_reports = sorted(reports.glob("*.report.xml"))
    assert len(xml_reports) == 2 and len(list(reports.glob("*.report.html"))) == 2
    schema = report_schema(bundle.directory / "resources/xsd/report.xsd",
                           bundle.directory / "resources/xsd/validator/scenarios.xsd")
    for x in xml_reports:
        assert schema.validate(etree.parse(str(x))), schema.error_log
    summary = json.loads((reports / "summary.json").read_text(encoding="utf-8"))
    assert (summary["documents"], summary["accept"], summary["reject"]) == (2, 2, 0)  # named twice, validated once
    assert (reports / "summary.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_a_rejected_file_gives_exit_1_in_table_mode(tmp_path):
    folder = _copy(REJECT[:1], tmp_path)
    result = CliRunner().invoke(app, ["validate", str(folder)])
    assert result.exit_code == 1, result.output
    assert "reject" in result.output and "BR-DE-3" in result.output


@pytest.mark.parametrize("args", [
    ["validate"],                                  # no path
    ["validate", "/definitely/not/here.xml"],      # missing path
    ["validate", "--no-such-option", "x.xml"],     # bad option
    ["validate", "--workers", "0", "x.xml"],       # bad value
    ["frobnicate"],                                # no such command
])
def test_usage_errors_exit_2(args):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output


def test_a_folder_without_xml_files_is_a_usage_error(tmp_path):
    (tmp_path / "readme.txt").write_text("nothing here")
    result = CliRunner().invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 2
    assert "no XML files" in result.output


def test_the_app_has_room_for_more_commands():
    """`validate` is a subcommand (not the whole app), so `convert` and others can be added next to it."""
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0 and "validate" in result.output


def test_an_unknown_bundle_is_a_usage_error(tmp_path):
    folder = _copy(ACCEPT[:1], tmp_path)
    result = CliRunner().invoke(app, ["validate", "--bundle", "xrechnung-0.0.0", str(folder)])
    assert result.exit_code == 2 and "not installed" in result.output
