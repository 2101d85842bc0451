"""`erechnung show`: every accepted official XRechnung case is rendered by the official visualization with its
invoice number and total; --with-report shows the findings; nothing from an invoice can run script or reach the
network."""
from __future__ import annotations

import csv
import re
import socket
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree
from lxml import html as lxml_html

from erechnung import artifacts
from erechnung.entrypoints.cli.convert import run_show
from erechnung.syntax.cii_names import RAM, RSM
from erechnung.syntax.ubl_names import CAC, CBC
from erechnung.view import CONTENT_SECURITY_POLICY, ViewError, render_html, report_section

PROJECT = Path(__file__).resolve().parents[1]
ARTIFACTS = PROJECT / "out" / "test-artifacts" / "view"
UBL004 = "validator-configuration-xrechnung/src/test/instances/ubl004.xml"  # rejected for BR-DE-3
UBL_OK = "xrechnung-testsuite/src/test/business-cases/standard/01.02a-INVOICE_ubl.xml"
HYBRID = "zugferd-ferd-samples/mustangproject/library/src/test/resources/EN16931_Einfach.pdf"
NS = {"cbc": CBC, "cac": CAC, "rsm": RSM, "ram": RAM}


def _accepted_xrechnung_cases() -> list[str]:
    with (artifacts.cases_dir() / "OBSERVED_KOSIT_EMULATION.tsv").open(encoding="utf-8", newline="") as fh:
        return [r["path"].removeprefix("cases/") for r in csv.DictReader(fh, delimiter="\t")
                if r["observed_verdict"] == "accept" and "XRechnung" in r["scenario"]]


CASES = _accepted_xrechnung_cases()


def _number_and_total(xml: bytes) -> tuple[str, Decimal]:
    """BT-1 and BT-112 read straight from the document."""
    root = etree.fromstring(xml)
    if root.tag.endswith("CrossIndustryInvoice"):
        number = root.xpath("string(rsm:ExchangedDocument/ram:ID)", namespaces=NS)
        total = root.xpath("string((//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:GrandTotalAmount)[1])",
                           namespaces=NS)
    else:
        number = root.xpath("string(cbc:ID)", namespaces=NS)
        total = root.xpath("string(cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount)", namespaces=NS)
    return number.strip(), Decimal(total.strip())


def _german(amount: Decimal) -> set[str]:
    """The ways the viewer may write an amount in German: two decimals, or every significant decimal."""
    def fmt(value: Decimal, places: int) -> str:
        text = f"{value:,.{places}f}"
        return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")

    exponent = amount.normalize().as_tuple().exponent
    places = max(0, -exponent) if isinstance(exponent, int) else 2
    return {fmt(amount, 2), fmt(amount, places)}


def _text(page: bytes) -> str:
    return " ".join(lxml_html.document_fromstring(page).text_content().split())


def test_there_are_accepted_cases_in_every_syntax():
    kinds = {("ubl" if "ubl" in c.lower() else "cii") for c in CASES}
    assert len(CASES) > 100 and kinds == {"ubl", "cii"}
    assert any(b"<CreditNote" in (artifacts.cases_dir() / c).read_bytes()[:3000] for c in CASES)


@pytest.mark.parametrize("case", CASES)
def test_accepted_case_renders_with_its_number_and_total(case):
    xml = (artifacts.cases_dir() / case).read_bytes()
    page = render_html(xml, case)
    text = _text(page)
    number, total = _number_and_total(xml)
    assert number in text, f"{case}: invoice number {number!r} not in the page"
    assert any(t in text for t in _german(total)), f"{case}: total {total} ({_german(total)}) not in the page"
    assert page.startswith(b"<!DOCTYPE html>") and CONTENT_SECURITY_POLICY.encode() in page


def test_with_report_shows_the_rule_ids_of_a_rejected_case(tmp_path):
    out = tmp_path / "ubl004.html"
    assert run_show(artifacts.cases_dir() / UBL004, out, with_report=True) == 0
    page = lxml_html.document_fromstring(out.read_bytes())
    section = page.get_element_by_id("pruefergebnis")
    text = " ".join(section.text_content().split())
    assert "Zurückweisen" in text and "EN16931 XRechnung (UBL Invoice)" in text
    rules = [tr.findall("td")[0].text_content() for tr in section.find_class("ereport-error")]
    assert rules == ["BR-DE-3"]
    assert "Seller city" in text and "Zeile" in text  # the message and its location
    assert page.body.index(section) == 0  # above the invoice view
    ARTIFACTS.mkdir(parents=True, exist_ok=True)  # for looking at it (tools/view_screenshot.py)
    (ARTIFACTS / "ubl004-with-report.html").write_bytes(out.read_bytes())


def test_a_hybrid_pdf_is_shown_with_its_embedded_invoice(tmp_path):
    out = tmp_path / "hybrid.html"
    assert run_show(artifacts.cases_dir() / HYBRID, out, with_report=True) == 0
    text = _text(out.read_bytes())
    assert "471102" in text and "529,87" in text  # BT-1 and BT-112 of EN16931_Einfach
    assert "factur-x.xml" in text and "Factur-X EN 16931 (CII in PDF)" in text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "EN16931_Einfach-with-report.html").write_bytes(out.read_bytes())


def test_english_labels():
    page = render_html((artifacts.cases_dir() / UBL_OK).read_bytes(), lang="en")
    assert "Overview" in _text(page) and b'lang="en"' in page


def test_what_cannot_be_shown_is_an_error_not_a_traceback(tmp_path):
    with pytest.raises(ViewError, match="not a UBL Invoice"):
        render_html(b"<Order xmlns='urn:x'/>")
    with pytest.raises(ViewError, match="no embedded invoice"):
        render_html(_plain_pdf(), "x.pdf")
    (tmp_path / "x.xml").write_text("not xml")
    assert run_show(tmp_path / "x.xml", tmp_path / "x.html") == 1
    assert run_show(tmp_path / "missing.xml", tmp_path / "x.html") == 2
    assert run_show(tmp_path / "x.xml", tmp_path / "x.html", lang="fr") == 2
    assert not (tmp_path / "x.html").exists()


def _plain_pdf() -> bytes:
    import io

    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page()
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------------------------
# hostile content
# --------------------------------------------------------------------------------------------------------------

def _hostile_ubl(url: str = "javascript:alert(3)") -> bytes:
    """An accepted case with script in a note, quotes in BT-122 and the attachment name, and a BT-124 link."""
    xml = (artifacts.cases_dir() / UBL_OK).read_bytes()
    root = etree.fromstring(xml)
    cbc, cac = "{%s}" % NS["cbc"], "{%s}" % NS["cac"]
    note = root.find(f"{cbc}Note")
    if note is None:
        note = etree.Element(f"{cbc}Note")
        root.find(f"{cbc}InvoiceTypeCode").addnext(note)
    note.text = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    ref = etree.Element(f"{cac}AdditionalDocumentReference")
    etree.SubElement(ref, f"{cbc}ID").text = "x');alert(4);//"
    attachment = etree.SubElement(ref, f"{cac}Attachment")
    binary = etree.SubElement(attachment, f"{cbc}EmbeddedDocumentBinaryObject", mimeCode="application/pdf\\'",
                              filename="a');alert(5);//.pdf")
    binary.text = "SGFsbG8="
    etree.SubElement(etree.SubElement(attachment, f"{cac}ExternalReference"), f"{cbc}URI").text = url
    anchor = root.find(f"{cac}AccountingSupplierParty")
    anchor.addprevious(ref)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def test_invoice_content_cannot_run_script():
    page = render_html(_hostile_ubl())
    doc = lxml_html.document_fromstring(page)
    scripts = [s.text or "" for s in doc.iter("script")]
    assert len(scripts) == 2 and not any("alert(" in s for s in scripts)  # only the viewer's own two
    assert not doc.xpath("//img[@onerror]") and "<script>alert(1)</script>" in doc.text_content()
    handlers = [el.get("onclick") for el in doc.iter() if el.get("onclick")]
    downloads = [h for h in handlers if h.startswith("downloadData")]
    assert downloads and all(re.fullmatch(r"downloadData\('[^'\\]*', '[^'\\]*', '[^'\\]*'\)", h) for h in downloads)
    assert all(h.strip() in ("show(this);", "show(this)") for h in handlers if h not in downloads)
    assert not [a for a in doc.iter("a") if (a.get("href") or "").lower().startswith("javascript")]


def test_report_values_are_escaped():
    from validators.steps import Message

    class Result:
        verdict, reason, scenario, bundle, name, source = "reject", "invalid", "S<b>", "B", "<i>n</i>.xml", ()
        messages = (Message(step="val-sch.1", code="BR-<x>", level="error", custom_level="error",
                            text="<img src=x onerror=alert(1)>", location="/a[1]"),)

    markup = lxml_html.tostring(report_section(Result()), encoding="unicode")
    assert "<img" not in markup and "&lt;img src=x onerror=alert(1)&gt;" in markup and "BR-&lt;x&gt;" in markup


class _Listener:
    """A TCP port on localhost that counts connection attempts."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                continue

    def close(self) -> None:
        self.stop = True
        self.thread.join()
        self.sock.close()


def test_rendering_attempts_no_network_access(tmp_path):
    listener = _Listener()
    try:
        url = f"http://127.0.0.1:{listener.port}/beleg.pdf"
        page = render_html(_hostile_ubl(url))
        assert url.encode() in page  # shown as a link, not fetched
        dtd = (f'<?xml version="1.0"?><!DOCTYPE Invoice SYSTEM "http://127.0.0.1:{listener.port}/x.dtd">'
               ).encode() + (artifacts.cases_dir() / UBL_OK).read_bytes().split(b"?>", 1)[1]
        with pytest.raises(ViewError, match="DOCTYPE"):
            render_html(dtd)
        assert run_show(artifacts.cases_dir() / HYBRID, tmp_path / "h.html", with_report=True) == 0
    finally:
        listener.close()
    assert listener.connections == 0
