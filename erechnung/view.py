"""The invoice as people read it: the official XRechnung visualization (KoSIT ``xrechnung-visualization``) of the
installed bundle, for UBL Invoice, UBL CreditNote, CII and the invoice embedded in a hybrid PDF.

Two official steps, run by Saxon and compiled once per process (``validators.runtime``):

1. the syntax to the XRechnung semantic model: ``ubl-invoice-xr.xsl``, ``ubl-creditnote-xr.xsl`` or ``cii-xr.xsl``,
   chosen by the document's root element (``STYLESHEETS``);
2. the model to HTML: ``xrechnung-html.xsl`` with the parameter ``lang`` (``de`` or ``en``: which ``l10n/*.xml``
   it reads). It inlines ``xrechnung-viewer.css`` and the viewer's JavaScript with ``unparsed-text()``; all of them
   lie next to it in the bundle's ``visualization/xsl`` folder.

No network access: the input passes the validator's XML gate (no DTD, no entities, ``no_network``) and reaches
Saxon as a tree without any reference to resolve; the stylesheets read only their own folder. The page itself
gets a Content-Security-Policy that lets it load nothing (its CSS and JavaScript are inline).

What we change in the official output, and why: the viewer builds a JavaScript call from BT-122, and from the
attachment's file name and MIME code (BT-125), inside an ``onclick`` attribute, so a quote in one of them would
let an invoice run script in the reader's browser; those three values lose quotes and backslashes in the model.
A link (BT-124) whose scheme is not http, https or mailto loses its ``href``. With a validation report, one
section is inserted before the viewer (``report_section``), built as a tree so every value is escaped.

``render_html(data, name)`` returns the page; ``show(input, output)`` writes it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree
from lxml import html as lxml_html
from lxml.html import builder as E

from erechnung import artifacts
from erechnung.errors import ErechnungError

UBL_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
UBL_CREDITNOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CII = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
XR = "urn:ce.eu:en16931:2017:xoev-de:kosit:standard:xrechnung-1"

#: root element -> the official stylesheet that maps it to the XRechnung semantic model
STYLESHEETS = {
    f"{{{UBL_INVOICE}}}Invoice": "ubl-invoice-xr.xsl",
    f"{{{UBL_CREDITNOTE}}}CreditNote": "ubl-creditnote-xr.xsl",
    f"{{{CII}}}CrossIndustryInvoice": "cii-xr.xsl",
}
HTML_STYLESHEET = "xrechnung-html.xsl"
LANGUAGES = ("de", "en")

#: the page may load nothing: its CSS and JavaScript are inline, attachments are data in the page
CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
                           "img-src data: blob:; form-action 'none'; base-uri 'none'")
SAFE_LINK = re.compile(r"(?i)(https?:|mailto:|#)")

LEVEL_DE = {"error": "Fehler", "warning": "Warnung", "information": "Information"}
VERDICT_DE = {"accept": "Annehmen", "reject": "Zurückweisen"}


class ViewError(ErechnungError):
    """The input cannot be shown: not a readable invoice in a syntax the visualization knows."""

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem, self.fix = problem, fix
        super().__init__(problem + (f" - {fix}" if fix else ""))


@dataclass(frozen=True)
class Invoice:
    """The XML to show, and where it came from."""

    xml: bytes
    tree: etree._ElementTree
    stylesheet: str
    embedded: str | None = None  # the attachment name when it came out of a PDF


def visualization_dir(bundle: artifacts.Bundle | None = None) -> Path:
    """The official stylesheets of ``bundle`` (default: the newest installed)."""
    folder = (bundle or artifacts.bundle_in_force()).directory / "visualization" / "xsl"
    if not (folder / HTML_STYLESHEET).is_file():
        raise ViewError(f"the XRechnung visualization is not installed in {folder}", "run `make artifacts`")
    return folder


def read_invoice(data: bytes, name: str = "<bytes>") -> Invoice:
    """The invoice in ``data``: UBL or CII XML, or the XML embedded in a hybrid PDF. Raises ViewError."""
    from validators import pdf
    from validators.xmlsafe import Limits, ValidationInputError, parse_untrusted

    embedded = None
    if pdf.is_pdf(data, name):
        try:
            embedded_invoice = pdf.extract_invoice(data)
        except pdf.PdfInputError as exc:
            raise ViewError(exc.problem, exc.fix) from exc
        data, embedded = embedded_invoice.xml, embedded_invoice.filename
    try:
        tree = parse_untrusted(data, Limits())
    except ValidationInputError as exc:
        raise ViewError((f"the embedded {embedded}: " if embedded else "") + exc.problem, exc.fix) from exc
    root = tree.getroot()
    stylesheet = STYLESHEETS.get(root.tag)
    if stylesheet is None:
        raise ViewError(f"the root element {root.tag} is not a UBL Invoice, UBL CreditNote or CII invoice",
                        "the XRechnung visualization shows UBL 2.1 and UN/CEFACT CII D16B invoices")
    return Invoice(data, tree, stylesheet, embedded)


def _transform(stylesheet: Path, xml: str, parameters: dict[str, str] | None = None) -> str:
    from validators import runtime

    executable = runtime.xslt(stylesheet)
    node = runtime.parse_xdm(xml)
    try:
        for key, value in (parameters or {}).items():
            executable.set_parameter(key, runtime.saxon().make_string_value(value))
        out = executable.transform_to_string(xdm_node=node)
    finally:
        executable.clear_parameters()
    if not out:
        raise ViewError(f"the visualization stylesheet {stylesheet.name} produced nothing")
    return out


def _without_script_quotes(value: str) -> str:
    return value.replace("'", "\u2019").replace("\\", "/")


def semantic_model(invoice: Invoice, folder: Path | None = None) -> etree._Element:
    """Step 1: the XRechnung semantic model (``xr:invoice``) of the invoice, made safe for the viewer's script."""
    folder = folder or visualization_dir()
    out = _transform(folder / invoice.stylesheet, etree.tostring(invoice.tree, encoding="unicode"))
    model = etree.fromstring(out.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True,
                                                                   huge_tree=True))
    for el in model.iter(f"{{{XR}}}Supporting_document_reference"):
        el.text = _without_script_quotes(el.text or "")
    for el in model.iter(f"{{{XR}}}Attached_document"):
        for attr in ("filename", "mime_code"):
            if el.get(attr) is not None:
                el.set(attr, _without_script_quotes(el.get(attr)))
    return model


def report_section(result: Any) -> Any:
    """The validation findings as one HTML section (German): verdict, reason, scenario, every finding with rule,
    level, location and message. ``result`` is a ``validators.engine.ValidationResult``."""
    from validators.report import REASON_DE

    rows = [E.TR(E.TD(m.code), E.TD(LEVEL_DE.get(m.custom_level, m.custom_level)),
                 E.TD(" · ".join(p for p in (f"Zeile {m.line}" if m.line else "", m.location or "") if p) or "–",
                      E.CLASS("ereport-loc")),
                 E.TD(m.text), E.CLASS(f"ereport-{m.custom_level}"))
            for m in result.messages]
    source = dict(getattr(result, "source", ()) or ())
    facts = [("Bewertung", f"{VERDICT_DE.get(result.verdict, result.verdict)} ({result.verdict})"),
             ("Grund", REASON_DE.get(result.reason, result.reason)),
             ("Prüfszenario", result.scenario or "keines"), ("Regelwerk", result.bundle)]
    if source.get("embedded"):
        facts.append(("Eingebettete Rechnungsdatei", source["embedded"]))
    if source.get("profile"):
        facts.append(("Profil", source["profile"]))
    counts = {lvl: sum(m.custom_level == lvl for m in result.messages) for lvl in LEVEL_DE}
    return E.E.section(
        E.STYLE(_REPORT_CSS),
        E.H2("Prüfergebnis"),
        E.DIV(f"{VERDICT_DE.get(result.verdict, result.verdict)}: {result.name}",
              E.CLASS(f"ereport-verdict ereport-{result.verdict}")),
        E.TABLE(*[E.TR(E.TH(k), E.TD(v)) for k, v in facts], E.CLASS("ereport-facts")),
        E.H3(f"Meldungen: {counts['error']} Fehler, {counts['warning']} Warnungen, "
             f"{counts['information']} Informationen"),
        E.TABLE(E.TR(E.TH("Regel"), E.TH("Grad"), E.TH("Fundstelle"), E.TH("Meldung")), *rows,
                E.CLASS("ereport-findings")) if rows else E.P("Keine Meldungen."),
        id="pruefergebnis", **{"class": "ereport", "aria-label": "Prüfergebnis"})


_REPORT_CSS = """
section.ereport { font-family: sans-serif; margin: 1em auto; padding: 1em 1.5em; max-width: 80em; color: #222;
  background: #fff; border: 1px solid #bbb; border-radius: 4px; }
section.ereport h2 { font-size: 1.3em; margin: 0 0 .5em; } section.ereport h3 { font-size: 1.05em; }
.ereport-verdict { padding: .5em 1em; font-weight: bold; border-radius: 4px; margin-bottom: .7em; }
.ereport-accept { background: #e3f4e1; border: 1px solid #3c8a34; }
.ereport-reject { background: #fbe3e1; border: 1px solid #b3261e; }
section.ereport table { border-collapse: collapse; width: 100%; font-size: .85em; margin-bottom: .7em; }
section.ereport th, section.ereport td { border: 1px solid #ccc; padding: .25em .5em; text-align: left;
  vertical-align: top; }
section.ereport th { background: #f2f2f2; } .ereport-facts th { width: 14em; }
tr.ereport-error td:nth-child(2) { color: #b3261e; font-weight: bold; }
tr.ereport-warning td:nth-child(2) { color: #8a5a00; }
.ereport-loc { font-family: monospace; font-size: .85em; word-break: break-all; max-width: 30em; }
"""


def _harden(page: etree._Element) -> None:
    head = page.find("head")
    if head is None:
        head = etree.Element("head")
        page.insert(0, head)
    charset = head.find("meta[@charset]")  # the charset declaration stays first
    head.insert(head.index(charset) + 1 if charset is not None else 0,
                E.META(**{"http-equiv": "Content-Security-Policy", "content": CONTENT_SECURITY_POLICY}))
    for a in page.iter("a"):
        href = a.get("href")
        if href is not None and not SAFE_LINK.match(re.sub(r"[\x00-\x20]+", "", href)):
            del a.attrib["href"]
            a.set("title", "Link entfernt: nur http-, https- und mailto-Verweise werden verlinkt")


def render_html(data: bytes, name: str = "<bytes>", *, lang: str = "de", report: Any = None,
                bundle: artifacts.Bundle | None = None) -> bytes:
    """The HTML page of the invoice in ``data`` (UBL, CII or a hybrid PDF); with ``report`` (a ValidationResult),
    its findings in a section above the invoice. Raises ViewError when the input cannot be shown."""
    return _render(read_invoice(data, name), lang=lang, report=report, bundle=bundle)


def _render(invoice: Invoice, *, lang: str, report: Any, bundle: artifacts.Bundle | None) -> bytes:
    if lang not in LANGUAGES:
        raise ViewError(f"language {lang!r} is not available", f"use one of {', '.join(LANGUAGES)}")
    folder = visualization_dir(bundle)
    model = semantic_model(invoice, folder)
    out = _transform(folder / HTML_STYLESHEET, etree.tostring(model, encoding="unicode"), {"lang": lang})
    page = lxml_html.document_fromstring(out)
    _harden(page)
    if report is not None:
        page.find("body").insert(0, report_section(report))
    return lxml_html.tostring(page, doctype="<!DOCTYPE html>", encoding="utf-8", method="html")


@dataclass(frozen=True)
class Shown:
    """What ``show`` wrote, and the validation result when one was asked for."""

    output: Path
    embedded: str | None
    result: Any = None


def show(input_path: Path, output: Path, *, with_report: bool = False, lang: str = "de") -> Shown:
    """Render ``input_path`` to ``output`` (HTML) with the newest installed bundle's visualization. With
    ``with_report``, validate the file first (a hybrid PDF as a PDF) and put the findings above the invoice.
    Raises ViewError (cannot be shown) or OSError (cannot read or write)."""
    data = Path(input_path).read_bytes()
    invoice = read_invoice(data, str(input_path))
    result = None
    if with_report:
        from validators.engine import Validator

        result = Validator.for_bundle().validate(data, str(input_path))
    page = _render(invoice, lang=lang, report=result, bundle=None)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(page)
    return Shown(output, invoice.embedded, result)
