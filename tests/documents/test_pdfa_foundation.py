"""The PDF/A-3 foundation every readable document is built on: design loading, the canvas factory, the
associated-file embedding and the property checker (which must also catch what it guards against)."""
from __future__ import annotations

import io
import shutil
from pathlib import Path

import pikepdf
import pytest
from reportlab.pdfgen.canvas import Canvas

from erechnung.entrypoints.demo.invoices import sample_invoices
from erechnung.documents import pdfa
from erechnung.documents.checks import pdfa_problems
from erechnung.config.design import SAMPLE_DIR, DesignError, load_design
from erechnung.documents.embed import embed_invoice_xml, invoice_attachment
from erechnung.documents.hybrid import extract_invoice_xml
from erechnung.errors import DocumentReadError
from erechnung.syntax import write_invoice

FX = "{urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#}"
INFO = pdfa.DocumentInfo(title="Bescheid – Größe 2026/17", author="Stadt Musterstadt", subject="Testbrief",
                         keywords="Test, PDF/A")


def _letter(canvas: Canvas) -> None:
    fonts = pdfa.canvas_fonts(canvas)
    design = load_design()
    canvas.setFont(fonts.bold, 12)
    canvas.drawString(72, 760, fonts.clean("Größe 1.234,56 € – ő → ✓"))
    canvas.setFont(fonts.italic, 9)
    canvas.drawString(72, 740, "kursiv")
    pdfa.draw_image(canvas, design.letterhead.logo, 450, 740, 60, 60)
    canvas.setFillColorRGB(*pdfa.rgb(design.colors.primary))
    canvas.rect(72, 700, 100, 20, fill=1)
    canvas.showPage()


@pytest.fixture(scope="module")
def cii() -> bytes:
    return write_invoice(sample_invoices()["hallenmiete-ubl"], "cii")


# --------------------------------------------------------------------------------------------- design


def test_the_default_design_loads_with_din_5008_form_b():
    design = load_design()
    window = design.page.address_window
    assert (window.top, window.left, window.width, window.height) == (45, 20, 85, 45)
    assert design.fonts.regular.name == "Vera.ttf" and design.fonts.regular.is_file()
    assert design.letterhead.logo is not None and design.letterhead.logo.is_file()
    assert design.text("invoice", "subject", nummer="R-1", datum="01.01.2026") == "Rechnung R-1"
    assert load_design() is load_design()  # read once per process


def test_a_restyled_design_reports_every_mistake_with_its_key(tmp_path: Path):
    folder = tmp_path / "kommune"
    shutil.copytree(SAMPLE_DIR, folder)
    toml = (folder / "design.toml").read_text(encoding="utf-8")
    toml = (toml.replace('primary = "#1F4E79"', 'primary = "blau"')
                .replace('bold = "@reportlab/VeraBd.ttf"', 'bold = "fonts/Fehlt.ttf"')
                .replace('iban = "{iban}"', 'iban = "DE02120300000000202052"')
                .replace("left = 125", "left = 100")
                .replace("[contact]", "[kontakt]"))
    (folder / "design.toml").write_text(toml, encoding="utf-8")
    texts = (folder / "texts.toml").read_text(encoding="utf-8")
    (folder / "texts.toml").write_text(texts.replace("{betrag} bis zum", "{summe} bis zum"), encoding="utf-8")
    with pytest.raises(DesignError) as caught:
        load_design(folder, dict(load_design().values))  # the sample city's values fill its placeholders
    problems = "\n".join(caught.value.problems)
    assert len(caught.value.problems) == 6, problems
    for expected in ("colors.primary: 'blau' is not a colour", "fonts.bold:", "does not exist",
                     "bank.iban:", "wrong check sum", "overlaps the address window", "kontakt: is not a design key",
                     "invoice.pay_by_transfer: unknown placeholder summe"):
        assert expected in problems


def test_a_design_that_is_not_toml_says_where(tmp_path: Path):
    (tmp_path / "design.toml").write_text("[letterhead\nname = 1", encoding="utf-8")
    with pytest.raises(DesignError, match="not valid TOML"):
        load_design(tmp_path)


# --------------------------------------------------------------------------------------------- PDF/A


def test_a_letter_from_the_canvas_factory_is_pdfa_3b():
    pdf = pdfa.render(_letter, INFO)
    assert pdfa_problems(pdf) == []
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        assert doc.Root.Lang == "de-DE"
        assert doc.docinfo.Title == INFO.title
        fonts = doc.pages[0].Resources.Font
        assert fonts and all("/FontFile2" in f.FontDescriptor for f in fonts.values())


def test_characters_the_fonts_lack_never_reach_the_notdef_glyph():
    fonts = pdfa.fonts(load_design())
    assert fonts.clean("Größe 1.234,56 € – „ok“") == "Größe 1.234,56 € – „ok“"
    assert fonts.clean("Szőke → ✓\tx") == "Szoke ? ? x"


def test_the_checker_catches_plain_reportlab_output():
    buffer = io.BytesIO()
    canvas = Canvas(buffer)  # Helvetica (not embedded), no output intent, no XMP, reportlab's stream syntax
    canvas.drawString(72, 720, "Hallo")
    canvas.showPage()
    canvas.save()
    problems = "\n".join(pdfa_problems(buffer.getvalue()))
    for clause in ("6.1.7.1: 'endstream'", "6.2.3: no /OutputIntents", "6.2.11.4: font Helvetica",
                   "6.6.2.1: the catalog has no /Metadata"):
        assert clause in problems


def test_the_checker_catches_javascript_launch_and_links():
    pdf = pdfa.render(_letter, INFO)
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        doc.Root.OpenAction = pikepdf.Dictionary(Type=pikepdf.Name.Action, S=pikepdf.Name.JavaScript,
                                                 JS="app.alert(1)")
        doc.pages[0].obj.AA = pikepdf.Dictionary()
        doc.pages[0].obj.Annots = pikepdf.Array([doc.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 10, 10], F=4,
            A=pikepdf.Dictionary(S=pikepdf.Name.Launch, F="calc.exe"))), doc.make_indirect(pikepdf.Dictionary(
                Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 10, 10], F=4,
                A=pikepdf.Dictionary(S=pikepdf.Name.URI, URI="https://example.org")))])
        out = io.BytesIO()
        doc.save(out)
    problems = "\n".join(pdfa_problems(out.getvalue()))
    for expected in ("is a JavaScript action", "has JavaScript (/JS)", "page 1 has additional actions",
                     "is a Launch action", "policy:"):
        assert expected in problems
    assert "policy:" not in "\n".join(pdfa_problems(out.getvalue(), allow_links=True))


def test_the_checker_catches_info_that_contradicts_the_xmp():
    pdf = pdfa.render(_letter, INFO)
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        doc.docinfo.Title = "Ein anderer Titel"
        out = io.BytesIO()
        doc.save(out)
    assert pdfa_problems(out.getvalue()) == [
        "6.6.2.3.1: Info /Title 'Ein anderer Titel' differs from XMP title 'Bescheid – Größe 2026/17'"]


# --------------------------------------------------------------------------------------------- associated files


@pytest.mark.parametrize("profile, filename, relationship, level", [
    ("EN16931", "factur-x.xml", "/Alternative", "EN 16931"),
    ("XRECHNUNG", "xrechnung.xml", "/Alternative", "XRECHNUNG"),
    ("MINIMUM", "factur-x.xml", "/Data", "MINIMUM"),
])
def test_the_invoice_xml_is_an_associated_file_as_factur_x_specifies(cii, profile, filename, relationship, level):
    attachment, schema = invoice_attachment(cii, profile)
    pdf = pdfa.render(_letter, INFO, associated_files=[attachment], schemas=[schema])
    assert pdfa_problems(pdf) == []
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        (spec,) = list(doc.Root.AF)
        assert (str(spec.F), str(spec.UF), spec.AFRelationship) == (filename, filename, relationship)
        assert spec.EF.F.Subtype == "/text/xml" and spec.EF.F.read_bytes() == cii
        meta = doc.open_metadata()
        assert meta[FX + "ConformanceLevel"] == level and meta[FX + "DocumentFileName"] == filename
        assert meta[FX + "DocumentType"] == "INVOICE" and meta[FX + "Version"] == "1.0"
    assert extract_invoice_xml(pdf) == (filename, cii, profile)


def test_embedding_into_a_finished_pdfa_keeps_its_document_information(cii):
    pdf = embed_invoice_xml(pdfa.render(_letter, INFO), cii, "XRECHNUNG")
    assert pdfa_problems(pdf) == []
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        assert (doc.docinfo.Title, doc.docinfo.Keywords) == (INFO.title, INFO.keywords)
        assert len(doc.Root.OutputIntents) == 1
    assert extract_invoice_xml(pdf)[::2] == ("xrechnung.xml", "XRECHNUNG")


def test_a_pdf_without_invoice_xml_is_refused_with_what_it_carries():
    with pytest.raises(DocumentReadError, match="has no embedded invoice"):
        extract_invoice_xml(pdfa.render(_letter, INFO))
    with pytest.raises(DocumentReadError, match="(cannot be read|is not a PDF)"):
        extract_invoice_xml(b"%PDF-1.7 kaputt")
