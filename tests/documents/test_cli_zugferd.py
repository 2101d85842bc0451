"""`erechnung convert INPUT --to zugferd [--profile EN16931|XRECHNUNG] [-o OUTPUT.pdf]`, and a hybrid PDF as INPUT:
the user stories of making and reading hybrid invoices on the command line."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from erechnung import artifacts
from erechnung.entrypoints.demo.invoices import sample_invoices
from erechnung.convert import model_to_json
from erechnung.documents.checks import pdfa_problems
from erechnung.documents.hybrid import EN16931_GUIDELINE, extract_invoice_xml
from erechnung.syntax import read_invoice

ERECHNUNG = [sys.executable, "-m", "erechnung", "convert"]
UBL_CASE = "xrechnung-testsuite/src/test/business-cases/standard/01.02a-INVOICE_ubl.xml"
CII_CASE = "xrechnung-testsuite/src/test/business-cases/standard/01.01a-INVOICE_uncefact.xml"
EXTENSION_CASE = "xrechnung-testsuite/src/test/business-cases/extension/04.05a-INVOICE_uncefact.xml"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*ERECHNUNG, *args], capture_output=True, timeout=120)


def case(path: str) -> Path:
    return artifacts.cases_dir() / path


def test_a_ubl_xrechnung_becomes_a_zugferd_pdf_in_profile_xrechnung(tmp_path):
    out = tmp_path / "rechnung.pdf"
    proc = run(str(case(UBL_CASE)), "--to", "zugferd", "--profile", "XRECHNUNG", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    pdf = out.read_bytes()
    assert pdfa_problems(pdf) == []
    filename, xml, profile = extract_invoice_xml(pdf)
    assert (filename, profile) == ("xrechnung.xml", "XRECHNUNG")
    assert read_invoice(xml) == read_invoice(case(UBL_CASE).read_bytes())


def test_the_pdf_goes_to_stdout_as_binary_without_output_option():
    proc = run(str(case(CII_CASE)), "--to", "zugferd")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(b"%PDF-1.7") and proc.stdout.rstrip().endswith(b"%%EOF")
    assert pdfa_problems(proc.stdout) == []
    filename, xml, profile = extract_invoice_xml(proc.stdout)
    assert (filename, profile) == ("factur-x.xml", "EN16931")  # the default profile
    assert read_invoice(xml).process.specification == EN16931_GUIDELINE


def test_the_models_json_becomes_a_zugferd_pdf_and_the_pdf_converts_back(tmp_path):
    invoice = sample_invoices()["hallenmiete-ubl"]
    (tmp_path / "rechnung.json").write_bytes(model_to_json(invoice))
    made = run(str(tmp_path / "rechnung.json"), "--to", "zugferd", "--profile", "xrechnung",
               "-o", str(tmp_path / "rechnung.pdf"))
    assert made.returncode == 0, made.stderr
    back = run(str(tmp_path / "rechnung.pdf"), "--to", "ubl")
    assert back.returncode == 0, back.stderr
    assert read_invoice(back.stdout) == invoice


def test_an_extension_invoice_is_refused_in_profile_en16931_with_the_way_out(tmp_path):
    proc = run(str(case(EXTENSION_CASE)), "--to", "zugferd", "-o", str(tmp_path / "x.pdf"))
    assert proc.returncode == 1
    assert b"BT-24" in proc.stderr and b"profile XRECHNUNG" in proc.stderr
    assert not (tmp_path / "x.pdf").exists()


def test_an_unknown_profile_and_a_pdf_without_invoice_are_told_apart(tmp_path):
    assert run(str(case(CII_CASE)), "--to", "zugferd", "--profile", "BASIC").returncode == 2
    (tmp_path / "brief.pdf").write_bytes(b"%PDF-1.7\nnot really a pdf\n%%EOF\n")
    proc = run(str(tmp_path / "brief.pdf"), "--to", "cii")
    assert proc.returncode == 1 and b"the PDF cannot be read" in proc.stderr
