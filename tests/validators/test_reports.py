"""Reports people read: the auditor's HTML page (escaped, complete) and the run summary."""
from __future__ import annotations

import json

from lxml import etree, html

from erechnung import artifacts
from validators.report import document_html, summarize, write_reports

REJECTED = "cases/validator-configuration-xrechnung/src/test/instances/ubl004.xml"
DOWNGRADED = "cases/xrechnung-testsuite/src/test/business-cases/extension/05.01a-INVOICE_ubl.xml"
ACCEPTED = "cases/xrechnung-testsuite/src/test/business-cases/standard/01.02a-INVOICE_ubl.xml"


def _data(path: str) -> bytes:
    return (artifacts.cases_dir() / path.removeprefix("cases/")).read_bytes()


def test_the_page_shows_verdict_scenario_bundle_document_data_and_every_finding(case_result):
    result = case_result(REJECTED)
    page = html.fromstring(document_html(result))
    text = page.text_content()
    assert "Zurückweisen (reject)" in text
    assert result.scenario in text and result.bundle in text
    assert "De Koksmaat" in text and "12115118" in text and "2015-01-09" in text  # seller, number, date
    rows = page.xpath("//table[last()]//tr[td]")
    assert len(rows) == len(result.messages)
    codes = [r.xpath("string(td[2])") for r in rows]
    assert codes == [m.code for m in result.messages]
    br_de_3 = rows[codes.index("BR-DE-3")]
    assert br_de_3.xpath("string(td[3])") == "Fehler" and br_de_3.xpath("string(td[4])") == "Fehler"
    assert "Zeile" in br_de_3.xpath("string(td[5])") and "PostalAddress" in br_de_3.xpath("string(td[5])")


def test_the_page_shows_both_the_rules_severity_and_the_scenarios(case_result):
    page = html.fromstring(document_html(case_result(DOWNGRADED)))
    row = page.xpath("//tr[td[2]='BR-CO-16']")[0]
    assert (row.xpath("string(td[3])"), row.xpath("string(td[4])")) == ("Fehler", "Information")
    assert "Annehmen (accept)" in page.text_content()


def test_document_content_is_escaped(validator):
    evil = _data(ACCEPTED).replace(b"<cbc:ID>", b"<cbc:ID>&lt;script&gt;alert(1)&lt;/script&gt;<![CDATA[<img src=x onerror=alert(2)>]]>", 1)
    result = validator.validate(evil, "<b>name</b>.xml")
    page = document_html(result)
    assert b"<script>" not in page and b"<img" not in page and b"<b>name" not in page
    assert b"&lt;script&gt;alert(1)" in page
    tree = html.fromstring(page)
    assert not tree.xpath("//script | //img | //b")


def test_write_reports_writes_xml_html_and_summary(tmp_path, case_result):
    results = [case_result(p) for p in (REJECTED, DOWNGRADED, ACCEPTED)]
    files = write_reports(results, tmp_path / "out")
    assert files.summary_html.is_file() and files.summary_json.is_file()
    for r in results:
        written = files.documents[r.name]
        assert etree.parse(str(written["xml"])).getroot().tag.endswith("report")
        assert r.name in written["html"].read_text(encoding="utf-8")
    summary = json.loads(files.summary_json.read_text(encoding="utf-8"))
    assert (summary["documents"], summary["accept"], summary["reject"]) == (3, 2, 1)
    assert summary["by_scenario"]["EN16931 XRechnung (UBL Invoice)"] == {"accept": 1, "reject": 1}
    assert summary["top_rules"][0]["rule"] == "BR-DE-3"
    page = html.fromstring(files.summary_html.read_bytes())
    links = page.xpath("//a/@href")
    assert sorted(links) == sorted(files.documents[r.name]["html"].name for r in results)


def test_reports_of_documents_with_the_same_file_name_do_not_overwrite_each_other(tmp_path, validator):
    a = validator.validate(_data(ACCEPTED), "dept-a/invoice.xml")
    b = validator.validate(_data(REJECTED), "dept-b/invoice.xml")
    files = write_reports([a, b], tmp_path)
    assert files.documents[a.name]["xml"] != files.documents[b.name]["xml"]
    assert len(list(tmp_path.glob("*.report.xml"))) == 2


def test_summary_counts_rules_once_per_message(case_result):
    summary = summarize([case_result(REJECTED), case_result(REJECTED)])
    assert summary["top_rules"][0] == {"rule": "BR-DE-3", "count": 2, "documents": 1,
                                       "example": case_result(REJECTED).errors[0].text}
