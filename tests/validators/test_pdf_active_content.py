"""A hybrid invoice (Factur-X/ZUGFeRD PDF) that carries active content is refused by validation, not passed on
to recipients: JavaScript (an /OpenAction, the catalog's /JavaScript name tree, a /JS anywhere), additional
actions (/AA) of the document, a page or a field, /Launch and the other actions PDF/A-3 forbids, an XFA form, and
an /OpenAction that does more than go to a place in the document (issue 10, smaller finding 5). The verdict is
reject with reason and rule ``pdf-active-content``, naming what was found. We refuse rather than strip: a
stripped file would no longer be the one the department signed off, and a clerk should know.

Each hostile PDF is a valid hybrid made by this project (``make_hybrid``), changed with pikepdf."""
from __future__ import annotations

import io
from functools import lru_cache

import pikepdf
import pytest

from pikepdf import Array, Dictionary, Name, String

RULE = "pdf-active-content"


@lru_cache(maxsize=None)
def project_hybrid() -> bytes:
    from erechnung.entrypoints.demo.invoices import sample_invoices
    from erechnung.documents.hybrid import make_hybrid

    return make_hybrid(next(iter(sample_invoices().values())))


def _js(code: str = "app.alert('Zahlung an neue IBAN');") -> Dictionary:
    return Dictionary(Type=Name.Action, S=Name.JavaScript, JS=String(code))


def _changed(change) -> bytes:
    pdf = pikepdf.open(io.BytesIO(project_hybrid()))
    change(pdf)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _open_action_js(pdf):
    pdf.Root.OpenAction = pdf.make_indirect(_js())


def _open_action_launch(pdf):
    pdf.Root.OpenAction = Dictionary(S=Name.Launch, F=String("cmd.exe"))


def _open_action_uri(pdf):  # a beacon: the reader's viewer calls home when the invoice is opened
    pdf.Root.OpenAction = Dictionary(S=Name.URI, URI=String("https://evil.example/opened"))


def _open_action_goto_then_js(pdf):
    pdf.Root.OpenAction = Dictionary(S=Name.GoTo, D=Array([pdf.pages[0].obj, Name.Fit]), Next=_js())


def _javascript_name_tree(pdf):
    pdf.Root.Names.JavaScript = Dictionary(Names=Array([String("init"), pdf.make_indirect(_js())]))


def _catalog_aa(pdf):
    pdf.Root.AA = Dictionary(WC=_js())


def _page_aa(pdf):
    pdf.pages[0].obj.AA = Dictionary(O=_js())


def _link_launch(pdf):
    link = Dictionary(Type=Name.Annot, Subtype=Name.Link, Rect=Array([0, 0, 100, 20]),
                      A=pdf.make_indirect(Dictionary(S=Name.Launch, F=String("/bin/sh"))))
    pdf.pages[0].obj.Annots = Array([pdf.make_indirect(link)])


def _xfa_form(pdf):
    pdf.Root.AcroForm = Dictionary(Fields=Array([]), XFA=pdf.make_stream(b"<xdp:xdp xmlns:xdp='x'/>"))


HOSTILE = {
    "openaction-javascript": (_open_action_js, "JavaScript"),
    "openaction-launch": (_open_action_launch, "Launch"),
    "openaction-uri": (_open_action_uri, "OpenAction"),
    "openaction-goto-then-javascript": (_open_action_goto_then_js, "JavaScript"),
    "javascript-name-tree": (_javascript_name_tree, "JavaScript"),
    "catalog-additional-actions": (_catalog_aa, "/AA"),
    "page-additional-actions": (_page_aa, "/AA"),
    "link-launches-a-program": (_link_launch, "Launch"),
    "xfa-form": (_xfa_form, "XFA"),
}


def test_the_project_hybrid_itself_is_accepted(validator):
    result = validator.validate(project_hybrid(), "rechnung.pdf")
    assert result.verdict == "accept", result.messages


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hybrid_pdf_with_active_content_is_rejected(case, validator):
    change, named = HOSTILE[case]
    result = validator.validate(_changed(change), "rechnung.pdf")
    assert (result.verdict, result.reason) == ("reject", RULE), result.messages
    assert [m.code for m in result.errors] == [RULE]
    assert named in result.errors[0].text, result.errors[0].text
    assert dict(result.source)["embedded"] == "factur-x.xml"


def _open_at_first_page(pdf):  # a destination, as many writers set it: no action
    pdf.Root.OpenAction = Array([pdf.pages[0].obj, Name.Fit])


def _web_link(pdf):  # a link the reader clicks (PDF/A allows URI actions)
    link = Dictionary(Type=Name.Annot, Subtype=Name.Link, Rect=Array([0, 0, 100, 20]),
                      A=Dictionary(S=Name.URI, URI=String("https://www.musterstadt.example")))
    pdf.pages[0].obj.Annots = Array([pdf.make_indirect(link)])


@pytest.mark.parametrize("change", [_open_at_first_page, _web_link], ids=["open-at-first-page", "web-link"])
def test_harmless_navigation_is_not_active_content(change, validator):
    result = validator.validate(_changed(change), "rechnung.pdf")
    assert result.verdict == "accept", result.messages


def test_the_auditor_reads_the_reason_in_german(validator):
    from lxml import html

    from validators.report import REASON_DE, document_html

    result = validator.validate(_changed(_open_action_js), "rechnung.pdf")
    assert RULE in REASON_DE
    assert REASON_DE[RULE] in html.fromstring(document_html(result)).text_content()
