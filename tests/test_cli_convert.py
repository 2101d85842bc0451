"""`erechnung convert INPUT --to ubl|cii|json [-o OUTPUT]`: the user stories of converting a document."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from erechnung import artifacts
from erechnung.syntax import read_invoice

ERECHNUNG = [sys.executable, "-m", "erechnung", "convert"]
UBL_CASE = "xrechnung-testsuite/src/test/business-cases/standard/01.02a-INVOICE_ubl.xml"
CII_CASE = "xrechnung-testsuite/src/test/business-cases/standard/01.01a-INVOICE_uncefact.xml"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*ERECHNUNG, *args], capture_output=True, cwd=cwd, timeout=120)


def case(path: str) -> Path:
    return artifacts.cases_dir() / path


def test_convert_ubl_to_cii_writes_the_same_invoice(tmp_path):
    out = tmp_path / "inv.cii.xml"
    proc = run(str(case(UBL_CASE)), "--to", "cii", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes().lstrip().startswith(b"<?xml")
    assert b"CrossIndustryInvoice" in out.read_bytes()[:400]
    assert read_invoice(out.read_bytes()) == read_invoice(case(UBL_CASE).read_bytes())


def test_convert_cii_to_ubl_on_stdout(tmp_path):
    proc = run(str(case(CII_CASE)), "--to", "ubl")
    assert proc.returncode == 0, proc.stderr
    assert b"<Invoice" in proc.stdout[:500]
    assert read_invoice(proc.stdout) == read_invoice(case(CII_CASE).read_bytes())


def test_convert_to_json_and_back_is_lossless(tmp_path):
    proc = run(str(case(CII_CASE)), "--to", "json")
    assert proc.returncode == 0, proc.stderr
    model = json.loads(proc.stdout)
    assert model["number"] and model["totals"]["payable_amount"]
    assert isinstance(model["totals"]["payable_amount"], str), "amounts stay exact decimals, never floats"
    as_json = tmp_path / "inv.json"
    as_json.write_bytes(proc.stdout)
    back = run(str(as_json), "--to", "cii")
    assert back.returncode == 0, back.stderr
    assert read_invoice(back.stdout) == read_invoice(case(CII_CASE).read_bytes())


def test_credit_note_type_code_becomes_a_ubl_credit_note(tmp_path):
    """A CII credit note (BT-3 381) becomes a UBL CreditNote document, not an Invoice."""
    from erechnung.entrypoints.demo.invoices import sample_invoices
    from erechnung.syntax import write_invoice

    credit = sample_invoices()["gutschrift-ubl"]
    assert credit.type_code == "381"
    src = tmp_path / "credit.cii.xml"
    src.write_bytes(write_invoice(credit, "cii"))
    proc = run(str(src), "--to", "ubl")
    assert proc.returncode == 0, proc.stderr
    assert b"<CreditNote" in proc.stdout[:500] and b"<cac:CreditNoteLine>" in proc.stdout
    assert read_invoice(proc.stdout) == credit


@pytest.mark.parametrize("args,code,needle", [
    (["/nonexistent/inv.xml", "--to", "ubl"], 2, b"cannot read"),
    ([UBL_CASE, "--to", "pdf"], 2, b"--to must be one of"),
])
def test_usage_errors_exit_2(args, code, needle):
    args = [str(case(a)) if a == UBL_CASE else a for a in args]
    proc = run(*args)
    assert proc.returncode == code
    assert needle in proc.stderr


def test_missing_to_option_is_a_usage_error():
    assert run(str(case(UBL_CASE))).returncode == 2


def test_a_document_that_is_no_invoice_exits_1_with_the_reason(tmp_path):
    bad = tmp_path / "order.xml"
    bad.write_bytes(b"<Order xmlns='urn:oasis:names:specification:ubl:schema:xsd:Order-2'/>")
    proc = run(str(bad), "--to", "cii")
    assert proc.returncode == 1
    assert b"neither UBL 2.1 Invoice/CreditNote nor CII D16B" in proc.stderr


def test_a_ubl_invoice_missing_its_number_names_bt_1(tmp_path):
    data = case(UBL_CASE).read_bytes()
    start = data.index(b"<cbc:ID>")
    end = data.index(b"</cbc:ID>", start) + len(b"</cbc:ID>")
    bad = tmp_path / "no-number.xml"
    bad.write_bytes(data[:start] + data[end:])
    proc = run(str(bad), "--to", "cii")
    assert proc.returncode == 1
    assert b"BT-1" in proc.stderr
