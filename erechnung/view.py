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

A date that is no calendar day (``2026-02-30``, ``morgen``) is shown as it stands, marked as invalid, as a viewer
should: the official stylesheets end in a Saxon error on it instead (step 1's named template ``date`` checks the
digits, not the calendar, before ``xs:date()``; step 2 formats every date but BT-2 with ``xs:date()`` without a
check). So step 1 runs with that one template replaced (``_MODEL_STYLESHEET``: the official result for every
real date, the official ``ILLEGAL DATE FORMAT`` mark for the rest); the marked values are taken out of the model
before step 2 (``set_aside_invalid_dates``) and written back into their field's box, flagged, and into a
section above the invoice (``invalid_section``). Any other error of the stylesheets is a ViewError.

``render_html(data, name)`` returns the page; ``show(input, output)`` writes it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree
from lxml import html as lxml_html
from lxml.html import builder as E

from erechnung import artifacts
from erechnung.errors import ErechnungError
from erechnung.html_safety import VIEWER_POLICY, csp_meta
from erechnung.syntax.cii_names import RSM
from erechnung.syntax.ubl_names import CREDIT_NOTE_NS, INVOICE_NS

XR = "urn:ce.eu:en16931:2017:xoev-de:kosit:standard:xrechnung-1"

#: root element -> the official stylesheet that maps it to the XRechnung semantic model
STYLESHEETS = {
    f"{{{INVOICE_NS}}}Invoice": "ubl-invoice-xr.xsl",
    f"{{{CREDIT_NOTE_NS}}}CreditNote": "ubl-creditnote-xr.xsl",
    f"{{{RSM}}}CrossIndustryInvoice": "cii-xr.xsl",
}
HTML_STYLESHEET = "xrechnung-html.xsl"
LANGUAGES = ("de", "en")

#: the page may load nothing: its CSS and JavaScript are inline, attachments are data in the page
CONTENT_SECURITY_POLICY = VIEWER_POLICY
SAFE_LINK = re.compile(r"(?i)(https?:|mailto:|#)")

#: Step 1 with the official named template ``date`` (common-xr.xsl) replaced by one that asks the calendar: the
#: official value for every real date, its ``ILLEGAL DATE FORMAT`` mark for every other value (the official one
#: checks day 1-31 and month 1-12 only, so 2026-02-30 reached ``xs:date()`` and ended the transformation).
_MODEL_STYLESHEET = """<xsl:stylesheet version="2.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:xs="http://www.w3.org/2001/XMLSchema" exclude-result-prefixes="xs">
  <xsl:import href="{href}"/>
  <xsl:template name="date">
    <xsl:variable name="digits" select="normalize-space(replace(., '-', ''))"/>
    <xsl:variable name="iso" select="concat(substring($digits, 1, 4), '-', substring($digits, 5, 2), '-',
                                            substring($digits, 7, 2))"/>
    <xsl:choose>
      <xsl:when test="matches($digits, '^[0-9]{{8}}') and substring($digits, 1, 4) ne '0000'
                      and $iso castable as xs:date">
        <xsl:value-of select="xs:date($iso)"/>
      </xsl:when>
      <xsl:otherwise>ILLEGAL DATE FORMAT of "<xsl:value-of select="."/>".</xsl:otherwise>
    </xsl:choose>
  </xsl:template>
</xsl:stylesheet>"""
#: how step 1 marks a value that is no date; BT-7 and BT-9 may hold several dates joined by ";"
_ILLEGAL_DATE = re.compile(r'ILLEGAL DATE FORMAT of "(.*?)"\.(?=;|$)', re.S)

LEVEL_DE = {"error": "Fehler", "warning": "Warnung", "information": "Information"}
VERDICT_DE = {"accept": "Annehmen", "reject": "Zurückweisen"}


class ViewError(ErechnungError):
    """The input cannot be shown: not a readable invoice in a syntax the visualization knows."""

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem, self.fix = problem, fix
        super().__init__(problem + (f" - {fix}" if fix else ""))


@dataclass(frozen=True)
class InvalidValue:
    """A value the visualization shows as it stands, marked invalid: a date (``field``, ``bt``) that is no
    calendar day, at ``source`` (the path in the document, as the official model records it)."""

    bt: str
    field: str
    source: str
    value: str
    position: int = 0  # among the model's fields of this name (several for line fields such as BT-134)
    count: int = 1

    def __str__(self) -> str:
        return f"{self.bt} ({self.source}): {self.value!r} ist kein gültiges Datum"


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
    from validators.xmlsafe import Limits, ValidationInputError, parse_untrusted

    from .documents.embedded import PdfInputError, extract_invoice, is_pdf

    embedded = None
    if is_pdf(data, name):
        try:
            embedded_invoice = extract_invoice(data)
        except PdfInputError as exc:
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


def _model_stylesheet(folder: Path, name: str):
    """Step 1's stylesheet ``name`` with the calendar-checking ``date`` template (``_MODEL_STYLESHEET``)."""
    from validators import runtime

    runtime.saxon()  # first: refuses a forked process before a stylesheet compiled in its parent is used
    return _compiled_model_stylesheet(str((folder / name).resolve()))


@lru_cache(maxsize=None)
def _compiled_model_stylesheet(path: str):
    from validators import runtime

    text = _MODEL_STYLESHEET.format(href=Path(path).as_uri())
    try:
        return runtime.saxon().new_xslt30_processor().compile_stylesheet(stylesheet_text=text)
    except Exception as exc:
        raise ViewError(f"the visualization stylesheet {path} does not compile: {exc}",
                        "run `make artifacts` to install the bundle again") from exc


def _transform(executable: Any, name: str, xml: str, parameters: dict[str, str] | None = None) -> str:
    from validators import runtime

    node = runtime.parse_xdm(xml)
    try:
        for key, value in (parameters or {}).items():
            executable.set_parameter(key, runtime.saxon().make_string_value(value))
        out = executable.transform_to_string(xdm_node=node)
    except Exception as exc:  # saxonche's PySaxonApiError: a value the official stylesheet cannot handle
        message = " ".join(str(exc).split())
        raise ViewError(f"the visualization stylesheet {name} cannot show this document: {message}",
                        "validate it (`erechnung validate`): the findings name the faulty value") from exc
    finally:
        executable.clear_parameters()
    if not out:
        raise ViewError(f"the visualization stylesheet {name} produced nothing")
    return out


def _without_script_quotes(value: str) -> str:
    return value.replace("'", "\u2019").replace("\\", "/")


def semantic_model(invoice: Invoice, folder: Path | None = None) -> etree._Element:
    """Step 1: the XRechnung semantic model (``xr:invoice``) of the invoice, made safe for the viewer's script."""
    folder = folder or visualization_dir()
    out = _transform(_model_stylesheet(folder, invoice.stylesheet), invoice.stylesheet,
                     etree.tostring(invoice.tree, encoding="unicode"))
    model = etree.fromstring(out.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True,
                                                                   huge_tree=True))
    for el in model.iter(f"{{{XR}}}Supporting_document_reference"):
        el.text = _without_script_quotes(el.text or "")
    for el in model.iter(f"{{{XR}}}Attached_document"):
        for attr in ("filename", "mime_code"):
            if el.get(attr) is not None:
                el.set(attr, _without_script_quotes(el.get(attr)))
    return model


def set_aside_invalid_dates(model: etree._Element) -> list[InvalidValue]:
    """Take the dates step 1 marked as no date out of ``model`` (step 2 would end on them in ``xs:date()``);
    the real dates of a field with several (BT-7, BT-9) stay. Returns what was taken, in document order."""
    found: list[InvalidValue] = []
    counts: dict[str, int] = {}
    marked = []
    for el in model.iter(f"{{{XR}}}*"):
        counts[el.tag] = counts.get(el.tag, 0) + 1
        if el.text and _ILLEGAL_DATE.search(el.text):
            marked.append((el, counts[el.tag] - 1))
    for el, position in marked:
        field = etree.QName(el).localname
        for raw in _ILLEGAL_DATE.findall(el.text):
            found.append(InvalidValue(el.get(f"{{{XR}}}id") or field, field, el.get(f"{{{XR}}}src") or field,
                                      " ".join(raw.split()), position, counts[el.tag]))
        real = [part for part in _ILLEGAL_DATE.sub("", el.text).split(";") if part.strip()]
        if real:
            el.text = ";".join(real)
        else:
            el.getparent().remove(el)
    return found


def _flag(value: InvalidValue) -> Any:
    return E.SPAN(value.value, E.CLASS("ungueltiger-wert"),
                  title=f"{value.bt}: kein gültiges Datum, so wie es im Dokument steht")


def invalid_section(values: list[InvalidValue]) -> Any:
    """The invalid values as one HTML section (German) above the invoice: field, place in the document, value."""
    rows = [E.TR(E.TD(v.bt), E.TD(v.field.replace("_", " ")), E.TD(v.source, E.CLASS("ereport-loc")),
                 E.TD(_flag(v))) for v in values]
    return E.E.section(
        E.STYLE(_REPORT_CSS + _INVALID_CSS),
        E.H2("Ungültige Angaben"),
        E.P("Diese Werte sind keine gültigen Daten. Sie werden so gezeigt, wie sie im Dokument stehen, und sind "
            "markiert. Bitte lassen Sie das Dokument vom Aussteller berichtigen."),
        E.TABLE(E.TR(E.TH("Feld"), E.TH("Bezeichnung"), E.TH("Fundstelle"), E.TH("Wert")), *rows,
                E.CLASS("ereport-findings")),
        id="ungueltige-angaben", **{"class": "ereport", "aria-label": "Ungültige Angaben"})


def _show_invalid_in_place(page: etree._Element, values: list[InvalidValue]) -> None:
    """Each invalid value, flagged, in its field's box, where the page has one box per field of that name."""
    for v in values:
        boxes = page.xpath("//div[@data-title=$bt]", bt=v.bt)
        if len(boxes) == v.count:
            box = boxes[v.position]
            if len(box) or (box.text or "").strip():
                box.append(E.BR())
            box.append(_flag(v))


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
_INVALID_CSS = """
.ungueltiger-wert { color: #b3261e; font-weight: bold; text-decoration: underline wavy #b3261e; }
.ungueltiger-wert::after { content: " (ungültig)"; font-weight: normal; }
"""


def _harden(page: etree._Element) -> None:
    head = page.find("head")
    if head is None:
        head = etree.Element("head")
        page.insert(0, head)
    charset = head.find("meta[@charset]")  # the charset declaration stays first
    head.insert(head.index(charset) + 1 if charset is not None else 0, csp_meta(CONTENT_SECURITY_POLICY))
    for a in page.iter("a"):
        href = a.get("href")
        if href is not None and not SAFE_LINK.match(re.sub(r"[\x00-\x20]+", "", href)):
            del a.attrib["href"]
            a.set("title", "Link entfernt: nur http-, https- und mailto-Verweise werden verlinkt")


def render_html(data: bytes, name: str = "<bytes>", *, lang: str = "de", report: Any = None,
                bundle: artifacts.Bundle | None = None) -> bytes:
    """The HTML page of the invoice in ``data`` (UBL, CII or a hybrid PDF); with ``report`` (a ValidationResult),
    its findings in a section above the invoice. Raises ViewError when the input cannot be shown."""
    return _render(read_invoice(data, name), lang=lang, report=report, bundle=bundle)[0]


def _render(invoice: Invoice, *, lang: str, report: Any,
            bundle: artifacts.Bundle | None) -> tuple[bytes, list[InvalidValue]]:
    if lang not in LANGUAGES:
        raise ViewError(f"language {lang!r} is not available", f"use one of {', '.join(LANGUAGES)}")
    folder = visualization_dir(bundle)
    model = semantic_model(invoice, folder)
    invalid = set_aside_invalid_dates(model)
    from validators import runtime

    out = _transform(runtime.xslt(folder / HTML_STYLESHEET), HTML_STYLESHEET,
                     etree.tostring(model, encoding="unicode"), {"lang": lang})
    page = lxml_html.document_fromstring(out)
    _harden(page)
    if invalid:
        _show_invalid_in_place(page, invalid)
        page.find("body").insert(0, invalid_section(invalid))
    if report is not None:
        page.find("body").insert(0, report_section(report))
    return lxml_html.tostring(page, doctype="<!DOCTYPE html>", encoding="utf-8", method="html"), invalid


@dataclass(frozen=True)
class Shown:
    """What ``show`` wrote, and the validation result when one was asked for."""

    output: Path
    embedded: str | None
    result: Any = None
    invalid: tuple[InvalidValue, ...] = ()  # shown as they stand, marked invalid


def show(input_path: Path, output: Path, *, with_report: bool = False, lang: str = "de") -> Shown:
    """Render ``input_path`` to ``output`` (HTML) with the newest installed bundle's visualization. With
    ``with_report``, validate the file first (a hybrid PDF as a PDF) and put the findings above the invoice.
    Raises ViewError (cannot be shown) or OSError (cannot read or write)."""
    from validators.xmlsafe import read_document

    data = read_document(input_path)  # a file over the size limits is refused unread (ValidationInputError)
    invoice = read_invoice(data, str(input_path))
    result = None
    if with_report:
        from validators.engine import Validator

        result = Validator.for_bundle().validate(data, str(input_path))
    page, invalid = _render(invoice, lang=lang, report=result, bundle=None)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(page)
    return Shown(output, invoice.embedded, result, tuple(invalid))
