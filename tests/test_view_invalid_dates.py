"""`erechnung show` on a document whose date is not a date (2026-02-30, "morgen") renders the invoice and shows
the raw value marked as invalid, and says which field on the command line, instead of ending in a Saxon
traceback (issue 10, smaller finding 3). A viewer shows what the document says; the validator judges it."""
from __future__ import annotations

from pathlib import Path

import pytest
from lxml import html as lxml_html
from typer.testing import CliRunner

from erechnung import artifacts
from erechnung.entrypoints.cli import app

STANDARD = "xrechnung-testsuite/src/test/business-cases/standard"
UBL = f"{STANDARD}/01.02a-INVOICE_ubl.xml"
CII = f"{STANDARD}/01.02a-INVOICE_uncefact.xml"


def _case(path: str, old: str, new: str, count: int = 1) -> bytes:
    text = (artifacts.cases_dir() / path).read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new, count).encode("utf-8")


ISSUE = "<cbc:IssueDate>2016-06-21</cbc:IssueDate>"
VARIANTS = {
    # BT-2 a day February does not have: the official stylesheet's own date check lets it through to xs:date()
    "ubl-nonexistent-issue-date": (UBL, ISSUE, "<cbc:IssueDate>2026-02-30</cbc:IssueDate>", "BT-2", "2026-02-30"),
    # BT-9 not a date at all: the model flags it, the page's format-date(xs:date(.)) broke on the flag
    "ubl-word-as-due-date": (UBL, ISSUE, ISSUE + "<cbc:DueDate>morgen</cbc:DueDate>", "BT-9", "morgen"),
    "cii-nonexistent-issue-date": (CII, '<udt:DateTimeString format="102">20160621</udt:DateTimeString>',
                                   '<udt:DateTimeString format="102">20260230</udt:DateTimeString>', "BT-2",
                                   "20260230"),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_show_marks_an_invalid_date_instead_of_a_traceback(variant, tmp_path):
    path, old, new, bt, raw = VARIANTS[variant]
    source = tmp_path / f"{variant}.xml"
    source.write_bytes(_case(path, old, new))
    page = tmp_path / "page.html"
    result = CliRunner().invoke(app, ["show", str(source), "--html", str(page)])
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "Traceback" not in output and "PySaxonApiError" not in output, output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 0, output
    assert bt in result.stderr and raw in result.stderr, result.stderr  # the clerk learns which field and value

    doc = lxml_html.document_fromstring(page.read_bytes())
    flagged = doc.xpath('//*[contains(concat(" ", @class, " "), " ungueltiger-wert ")]')
    assert any(raw in el.text_content() for el in flagged), "the raw value is shown, marked as invalid"
    box = doc.xpath(f'//div[@data-title="{bt}"]')
    assert box and raw in box[0].text_content(), f"the value stands where {bt} belongs"
    assert "123456" in doc.text_content(), "the rest of the invoice is rendered"


def test_valid_dates_are_shown_as_before_and_nothing_is_flagged(tmp_path):
    source = tmp_path / "ok.xml"
    source.write_bytes((artifacts.cases_dir() / UBL).read_bytes())
    page = tmp_path / "page.html"
    result = CliRunner().invoke(app, ["show", str(source), "--html", str(page)])
    assert result.exit_code == 0, result.output
    doc = lxml_html.document_fromstring(page.read_bytes())
    assert not doc.xpath('//*[contains(@class, "ungueltiger-wert")]')
    assert "21.6.2016" in doc.xpath('//div[@data-title="BT-2"]')[0].text_content()
    assert "BT-" not in result.stderr
