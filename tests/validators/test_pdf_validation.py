"""Hybrid PDFs (Factur-X / ZUGFeRD): the embedded invoice gets the verdict its profile's rules give; a PDF without an
invoice, an unreadable PDF and a PDF whose profile statements disagree are rejected with their reason, in bounded
time, with a report that names the PDF and the embedded file.

The expected verdict of each official sample is computed here independently and simply: the XML taken out of the
PDF by the factur-x library, the profile's XSD via lxml, then the profile's compiled Schematron(s) via saxonche;
any failed-assert with flag fatal/error or no flag means reject, and so does such a successful-report (the Factur-X
Schematrons report "element not used in this profile" as ``<report test="true()">`` without flag). Which
Schematrons a profile has is written out below (the same decision as ``validators/scenarios/facturx-1.09.xml``, stated
again here on purpose); a document that is no Factur-X profile (XRechnung, UBL, ZUGFeRD 1.0) is expected to get what
the bundle's KoSIT scenarios give its XML. Besides the official sample PDFs, every official sample XML is put into a
PDF here (named and declared as its profile says) and checked the same way.
"""
from __future__ import annotations

import io
import json
import re
import time
import zlib
from functools import lru_cache
from pathlib import Path

import pikepdf
import pytest
from lxml import etree

from erechnung import artifacts
from erechnung.entrypoints.cli.validate import run_validate
from erechnung.documents.embedded import PdfInputError, PdfLimits, extract_invoice, is_pdf
from validators import runtime
from validators.engine import Validator
from validators.pdf import PDF_SCENARIOS, extract_invoice_xml
from validators.report import document_html
from validators.scenarios import ScenarioSet
from validators.varl import VARL_NS, report_schema

SECONDS = 5.0
FX_NS = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"
SVRL = "{http://purl.oclc.org/dsdl/svrl}"
CEN_CII = "resources/cii/16b/xsl/EN16931-CII-validation.xsl"

#: guideline ID (BT-24) -> (profile folder in the bundle, XMP ConformanceLevel), Factur-X 1.0 / ZUGFeRD 2.1+
FACTURX = {
    "urn:factur-x.eu:1p0:minimum": ("MINIMUM", "MINIMUM"),
    "urn:factur-x.eu:1p0:basicwl": ("BASICWL", "BASIC WL"),
    "urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic": ("BASIC", "BASIC"),
    "urn:cen.eu:en16931:2017": ("EN16931", "EN 16931"),
    "urn:cen.eu:en16931:2017#conformant#urn:factur-x.eu:1p0:extended": ("EXTENDED", "EXTENDED"),
}
#: the Schematrons of each profile: BASIC and EN 16931 are EN 16931-compliant, so the CEN CII rules apply too
SCHEMATRONS = {
    "MINIMUM": ["facturx/1.09/xsl/MINIMUM/Factur-X_1.09_MINIMUM.xsl"],
    "BASICWL": ["facturx/1.09/xsl/BASICWL/Factur-X_1.09_BASICWL.xsl"],
    "BASIC": [CEN_CII, "facturx/1.09/xsl/BASIC/Factur-X_1.09_BASIC.xsl"],
    "EN16931": [CEN_CII, "facturx/1.09/xsl/EN16931/Factur-X_1.09_EN16931.xsl"],
    "EXTENDED": ["facturx/1.09/xsl/EXTENDED/Factur-X_1.09_EXTENDED.xsl"],
}


def _cases(folder: str, pattern: str) -> list[Path]:
    return sorted((artifacts.cases_dir() / folder).rglob(pattern))


SAMPLE_PDFS = _cases("zugferd-ferd-samples", "*.pdf") + _cases("facturx-samples", "*.pdf")
SAMPLE_XMLS = _cases("zugferd-ferd-samples", "*.xml") + _cases("facturx-samples", "*.xml")


def _id(p: Path) -> str:
    return str(p.relative_to(artifacts.cases_dir()))


# --------------------------------------------------------------------------------------------------------------
# the independent expectation
# --------------------------------------------------------------------------------------------------------------

def _guideline(xml: bytes) -> str | None:
    ids = etree.fromstring(xml).xpath("//*[local-name()='GuidelineSpecifiedDocumentContextParameter']"
                                      "/*[local-name()='ID']/text()")
    return ids[0].strip() if ids else None


@lru_cache(maxsize=None)
def _xslt(location: str):
    return runtime.saxon().new_xslt30_processor().compile_stylesheet(
        stylesheet_file=str(artifacts.bundle_in_force().directory / location))


@lru_cache(maxsize=None)
def _kosit() -> Validator:
    return Validator.for_bundle()


def expected(xml: bytes) -> tuple[str, list[str]]:
    """(verdict, error codes) by the profile's own rules, computed without the engine."""
    facturx = FACTURX.get(_guideline(xml) or "")
    if facturx is None:  # XRechnung, UBL, ZUGFeRD 1.0: the KoSIT scenarios of the bundle, on the XML alone
        r = _kosit().validate(xml, "embedded.xml")
        return r.verdict, [m.code for m in r.errors]
    profile = facturx[0]
    bundle = artifacts.bundle_in_force().directory
    schema = etree.XMLSchema(etree.parse(str(bundle / f"facturx/1.09/xsd/{profile}/Factur-X_{profile}.xsd")))
    doc = etree.fromstring(xml)
    if not schema.validate(doc):
        return "reject", [f"xsd: {e.message}" for e in schema.error_log]
    node = runtime.saxon().parse_xml(xml_text=etree.tostring(doc, encoding="unicode"))
    errors = []
    for location in SCHEMATRONS[profile]:
        svrl = etree.fromstring(_xslt(location).transform_to_string(xdm_node=node).encode("utf-8"))
        errors += [fa.get("id") or "UNSPECIFIC" for fa in svrl.iter(f"{SVRL}failed-assert", f"{SVRL}successful-report")
                   if fa.get("flag") in (None, "fatal", "error")]
    return ("reject" if errors else "accept"), errors


def _xml_from_pdf(data: bytes) -> bytes:
    """The embedded XML as the factur-x library (a reader that is not ours) takes it out."""
    from facturx import get_xml_from_pdf

    _, xml = get_xml_from_pdf(data, check_xsd=False)
    return xml


# --------------------------------------------------------------------------------------------------------------
# PDFs made here
# --------------------------------------------------------------------------------------------------------------

def _xmp(level: str | None, filename: str) -> bytes:
    fx = (f'<rdf:Description rdf:about="" xmlns:fx="{FX_NS}"><fx:DocumentType>INVOICE</fx:DocumentType>'
          f'<fx:DocumentFileName>{filename}</fx:DocumentFileName><fx:Version>1.0</fx:Version>'
          f'<fx:ConformanceLevel>{level}</fx:ConformanceLevel></rdf:Description>') if level else ""
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/" pdfaid:part="3" '
            f'pdfaid:conformance="B"/>{fx}</rdf:RDF></x:xmpmeta><?xpacket end="w"?>').encode("utf-8")


def plain_pdf() -> bytes:
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    canvas = Canvas(buf)
    canvas.drawString(72, 720, "Rechnung 4711 - nur ein Bild, keine E-Rechnung")
    canvas.save()
    return buf.getvalue()


def hybrid_pdf(xml: bytes | None, filename: str = "factur-x.xml", level: str | None = "EN 16931",
               base: bytes | None = None, others: dict[str, bytes] | None = None) -> bytes:
    """A PDF with ``xml`` attached as ``filename`` (name tree and /AF) and a Factur-X XMP declaring ``level``."""
    pdf = pikepdf.open(io.BytesIO(base or plain_pdf()))
    specs = []
    for name, data in (({filename: xml} if xml is not None else {}) | (others or {})).items():
        spec = pikepdf.AttachedFileSpec(pdf, data, filename=name, mime_type="text/xml",
                                        relationship=pikepdf.Name.Alternative)
        pdf.attachments[name] = spec
        specs.append(spec.obj)
    pdf.Root.AF = pikepdf.Array(specs)
    pdf.Root.Metadata = pdf.make_stream(_xmp(level, filename))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _wrapped(sample: Path) -> bytes:
    """An official sample XML in a PDF, named and declared as its profile says."""
    xml = sample.read_bytes()
    guideline = _guideline(xml) or ""
    if guideline in FACTURX:
        return hybrid_pdf(xml, "factur-x.xml", FACTURX[guideline][1])
    if "xrechnung" in guideline:
        return hybrid_pdf(xml, "xrechnung.xml", "XRECHNUNG")
    return hybrid_pdf(xml, "factur-x.xml", None)  # UBL, ZUGFeRD 1.0: nothing declared


def _same_verdict(path: str, result, want: tuple[str, list[str]]) -> None:
    got = [m.code for m in result.errors]
    assert (result.verdict, sorted(got)) == (want[0], sorted(want[1])), (
        f"{path}: erechnung validate says {result.verdict} ({result.reason}, scenario {result.scenario}) with "
        f"errors {got}; the profile's rules say {want[0]} with errors {want[1]}")


# --------------------------------------------------------------------------------------------------------------
# the official samples
# --------------------------------------------------------------------------------------------------------------

def test_there_are_official_sample_pdfs():
    assert SAMPLE_PDFS, "the cases hold ZUGFeRD/Factur-X sample PDFs (make artifacts)"


@pytest.mark.parametrize("sample", SAMPLE_PDFS, ids=_id)
def test_official_sample_pdf_gets_the_verdict_of_its_profiles_rules(sample, validator):
    data = sample.read_bytes()
    result = validator.validate(data, str(sample))
    _same_verdict(_id(sample), result, expected(_xml_from_pdf(data)))
    source = dict(result.source)
    assert source["embedded"] == "factur-x.xml" and source["container"] == "pdf"
    assert source["profile"] == FACTURX[_guideline(_xml_from_pdf(data))][0]


@pytest.mark.parametrize("sample", SAMPLE_XMLS, ids=_id)
def test_official_sample_xml_in_a_pdf_gets_the_verdict_of_its_profiles_rules(sample, validator):
    result = validator.validate(_wrapped(sample), f"{sample.name}.pdf")
    assert result.reason not in ("pdf-profile-mismatch", "pdf-unreadable", "pdf-no-embedded-invoice"), result.messages
    _same_verdict(_id(sample), result, expected(sample.read_bytes()))


def test_the_profile_scenarios_are_kosit_configuration(bundle):
    schema = etree.XMLSchema(etree.parse(str(bundle.directory / "resources/xsd/validator/scenarios.xsd")))
    assert schema.validate(etree.parse(str(PDF_SCENARIOS))), schema.error_log
    sset = ScenarioSet.load(PDF_SCENARIOS, bundle.directory)  # every resource is installed
    steps = {s.name: [r.location for r in s.schematrons] for s in sset.scenarios}
    assert steps == {f"Factur-X {label} (CII in PDF)": SCHEMATRONS[p]
                     for p, label in (("MINIMUM", "MINIMUM"), ("BASICWL", "BASIC WL"), ("BASIC", "BASIC"),
                                      ("EN16931", "EN 16931"), ("EXTENDED", "EXTENDED"))}


def test_xrechnung_in_a_pdf_is_validated_by_the_kosit_scenarios(validator):
    sample = artifacts.cases_dir() / "zugferd-ferd-samples/tests/samples/zugferd_2p3_XRECHNUNG_Einfach.xml"
    result = validator.validate(hybrid_pdf(sample.read_bytes(), "xrechnung.xml", "XRECHNUNG"), "xr.pdf")
    assert (result.verdict, result.scenario) == ("accept", "EN16931 XRechnung (CII)")
    assert dict(result.source)["profile"] == "XRECHNUNG"


def test_a_pdf_written_by_the_facturx_library_is_read(validator):
    from facturx import generate_from_binary

    xml = (artifacts.cases_dir() / "facturx-samples/akretion/tests/fixtures/xml/factur-x-en16931.xml").read_bytes()
    data = generate_from_binary(plain_pdf(), xml, check_xsd=False)
    assert extract_invoice_xml(data) == ("factur-x.xml", xml, "EN16931")
    assert validator.validate(data, "fx.pdf").scenario == "Factur-X EN 16931 (CII in PDF)"


# --------------------------------------------------------------------------------------------------------------
# rejections
# --------------------------------------------------------------------------------------------------------------

def _en16931_xml() -> bytes:
    return (artifacts.cases_dir() / "zugferd-ferd-samples/tests/samples/zugferd_2p3_EN16931_Einfach.xml").read_bytes()


def _refused(validator, data: bytes, code: str, name: str = "in.pdf"):
    started = time.perf_counter()
    result = validator.validate(data, name)
    assert time.perf_counter() - started < SECONDS
    assert (result.verdict, result.reason, result.scenario) == ("reject", code, None), result.messages
    assert [m.code for m in result.errors] == [code]
    assert result.errors[0].text
    return result


def test_a_pdf_without_an_embedded_invoice_is_rejected(validator):
    result = _refused(validator, plain_pdf(), "pdf-no-embedded-invoice")
    assert "factur-x.xml" in result.errors[0].text
    other = hybrid_pdf(None, others={"lieferschein.xml": b"<a/>"})
    assert "lieferschein.xml" in _refused(validator, other, "pdf-no-embedded-invoice").errors[0].text


def _encrypted(user: str) -> bytes:
    pdf = pikepdf.open(io.BytesIO(hybrid_pdf(_en16931_xml())))
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(user=user, owner="owner"))
    return out.getvalue()


UNREADABLE = {
    "text-named-pdf": lambda: b"Rechnung 4711 ueber 12,50 EUR",
    "empty": lambda: b"",
    "header-then-garbage": lambda: b"%PDF-1.7\n" + bytes(range(256)) * 400,
    "truncated-xref": lambda: b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
    "encrypted-with-password": lambda: _encrypted("secret"),
    "encrypted-owner-password-only": lambda: _encrypted(""),
}


@pytest.mark.parametrize("case", sorted(UNREADABLE))
def test_an_unreadable_pdf_is_rejected(case, validator):
    _refused(validator, UNREADABLE[case](), "pdf-unreadable")


def _with_guideline(xml: bytes, guideline: str) -> bytes:
    return re.sub(rb"(<ram:GuidelineSpecifiedDocumentContextParameter>\s*<ram:ID>)[^<]*", rb"\g<1>" +
                  guideline.encode(), xml, count=1)


MISMATCH = {
    # the XML was changed to BASIC, the PDF still declares EN 16931 (a tampered official sample)
    "xml-tampered-to-basic": lambda: _tampered_official(),
    "xmp-says-extended": lambda: hybrid_pdf(_en16931_xml(), "factur-x.xml", "EXTENDED"),
    "xmp-says-basic-wl": lambda: hybrid_pdf(_en16931_xml(), "factur-x.xml", "BASIC WL"),
    "xrechnung-name-carries-en16931": lambda: hybrid_pdf(_en16931_xml(), "xrechnung.xml", None),
    "factur-x-name-carries-xrechnung": lambda: hybrid_pdf(
        (artifacts.cases_dir() / "zugferd-ferd-samples/tests/samples/zugferd_2p3_XRECHNUNG_Einfach.xml").read_bytes(),
        "factur-x.xml", None),
    "no-guideline-but-declared": lambda: hybrid_pdf(
        re.sub(rb"<ram:GuidelineSpecifiedDocumentContextParameter>.*?</ram:GuidelineSpecifiedDocumentContextParameter>",
               b"", _en16931_xml(), flags=re.S), "factur-x.xml", "EN 16931"),
}


def _tampered_official() -> bytes:
    sample = next(p for p in SAMPLE_PDFS if p.name == "EN16931_Einfach.pdf")
    pdf = pikepdf.open(io.BytesIO(sample.read_bytes()))
    spec = pdf.Root.Names.EmbeddedFiles.Names[1]
    xml = _with_guideline(spec.EF.F.read_bytes(), "urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic")
    spec.EF.F.write(xml)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


@pytest.mark.parametrize("case", sorted(MISMATCH))
def test_a_pdf_whose_profile_statements_disagree_is_rejected(case, validator):
    result = _refused(validator, MISMATCH[case](), "pdf-profile-mismatch")
    assert dict(result.source)["embedded"] in ("factur-x.xml", "xrechnung.xml")


def test_the_mismatch_message_names_both_sides(validator):
    text = _refused(validator, MISMATCH["xml-tampered-to-basic"](), "pdf-profile-mismatch").errors[0].text
    assert "'EN 16931'" in text and "BASIC" in text and "factur-x.xml" in text


def _bomb() -> bytes:
    pdf = pikepdf.open(io.BytesIO(plain_pdf()))
    stream = pikepdf.Stream(pdf, zlib.compress(b"<a>" + b" " * 60_000_000 + b"</a>", 9))
    stream.Filter = pikepdf.Name.FlateDecode
    spec = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Filespec, F=pikepdf.String("factur-x.xml"),
                                                EF=pikepdf.Dictionary(F=stream)))
    pdf.Root.Names = pikepdf.Dictionary(EmbeddedFiles=pikepdf.Dictionary(
        Names=pikepdf.Array([pikepdf.String("factur-x.xml"), spec])))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _looping_tree(depth: int) -> bytes:
    """A name tree whose last node points back at its root, ``depth`` levels down."""
    pdf = pikepdf.open(io.BytesIO(plain_pdf()))
    root = node = pdf.make_indirect(pikepdf.Dictionary())
    for _ in range(depth):
        kid = pdf.make_indirect(pikepdf.Dictionary())
        node.Kids = pikepdf.Array([kid])
        node = kid
    node.Kids = pikepdf.Array([root])
    pdf.Root.Names = pikepdf.Dictionary(EmbeddedFiles=root)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def test_hostile_pdfs_are_rejected_in_bounded_time(validator):
    _refused(validator, b"%PDF-1.7\n" + b"0" * (PdfLimits().max_pdf_bytes + 1), "pdf-too-large")
    _refused(validator, _bomb(), "pdf-too-large")  # 40 kB that would inflate to 60 MB
    _refused(validator, _looping_tree(1), "pdf-no-embedded-invoice")
    _refused(validator, _looping_tree(500), "pdf-no-embedded-invoice")


def test_an_embedded_file_that_is_not_xml_is_rejected_by_the_xml_gate(validator):
    result = validator.validate(hybrid_pdf(b"Rechnung 4711", "factur-x.xml", None), "in.pdf")
    assert (result.verdict, result.reason) == ("reject", "xml-not-wellformed")
    assert dict(result.source)["embedded"] == "factur-x.xml"


def test_limits_are_configurable():
    with pytest.raises(PdfInputError) as exc:
        extract_invoice(hybrid_pdf(_en16931_xml()), PdfLimits(max_xml_bytes=1000))
    assert exc.value.code == "pdf-too-large"


def test_pdf_is_recognised_by_header_or_name():
    assert is_pdf(b"%PDF-1.7\n...") and is_pdf(b"anything", "Rechnung.PDF")
    assert not is_pdf(b"<?xml version='1.0'?><!-- %PDF- --><a/>") and not is_pdf(b"<a/>", "a.xml")


# --------------------------------------------------------------------------------------------------------------
# reports and the command line
# --------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def varl_schema(bundle):
    return report_schema(bundle.directory / "resources/xsd/report.xsd",
                         bundle.directory / "resources/xsd/validator/scenarios.xsd")


def test_reports_name_the_pdf_and_the_embedded_file(validator, varl_schema):
    sample = SAMPLE_PDFS[0]
    for data, reference in ((sample.read_bytes(), f"{sample}!/factur-x.xml"),
                            (MISMATCH["xmp-says-extended"](), f"{sample}!/factur-x.xml"),
                            (plain_pdf(), str(sample))):
        result = validator.validate(data, str(sample))
        report = etree.fromstring(result.report_xml())
        assert varl_schema.validate(report), varl_schema.error_log
        assert report.findtext(f".//{{{VARL_NS}}}documentReference") == reference
        page = document_html(result).decode("utf-8")
        assert sample.name in page
        if result.reason != "pdf-no-embedded-invoice":
            assert "Eingebettete Rechnungsdatei" in page and "factur-x.xml" in page


def test_validate_json_for_pdfs_in_a_folder(tmp_path):
    folder = tmp_path / "eingang"
    folder.mkdir()
    (folder / "ok.pdf").write_bytes(SAMPLE_PDFS[0].read_bytes())
    (folder / "nur-bild.PDF").write_bytes(plain_pdf())
    (folder / "falsch.pdf").write_bytes(MISMATCH["xmp-says-extended"]())
    out = io.StringIO()
    assert run_validate([folder], as_json=True, out=out) == 1
    lines = {Path(d["path"]).name: d for d in map(json.loads, out.getvalue().splitlines())}
    assert set(lines) == {"ok.pdf", "nur-bild.PDF", "falsch.pdf"}
    for d in lines.values():
        assert {"path", "verdict", "scenario", "errors", "embedded", "profile"} <= set(d)
    assert (lines["ok.pdf"]["verdict"], lines["ok.pdf"]["embedded"], lines["ok.pdf"]["profile"]) == \
        ("accept", "factur-x.xml", "EN16931")
    assert lines["ok.pdf"]["scenario"] == "Factur-X EN 16931 (CII in PDF)"
    assert [e["rule"] for e in lines["nur-bild.PDF"]["errors"]] == ["pdf-no-embedded-invoice"]
    assert (lines["nur-bild.PDF"]["embedded"], lines["nur-bild.PDF"]["profile"]) == (None, None)
    assert (lines["falsch.pdf"]["verdict"], lines["falsch.pdf"]["profile"]) == ("reject", "EN16931")
    assert [e["rule"] for e in lines["falsch.pdf"]["errors"]] == ["pdf-profile-mismatch"]
