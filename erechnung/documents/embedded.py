"""The invoice XML embedded in a hybrid PDF (Factur-X / ZUGFeRD), read the one hardened way for everyone who takes
PDFs from outside: intake of finished documents, ``validate``, ``show`` and ``convert``.

``extract_invoice(data, limits)`` opens the PDF with pikepdf within ``PdfLimits`` and returns an
``EmbeddedInvoice``, or raises ``PdfInputError`` whose ``code`` says why (``pdf-too-large``, ``pdf-unreadable``,
``pdf-no-embedded-invoice``):

* the file: its size is checked before pikepdf reads it; a file that is no PDF, cannot be opened or is encrypted
  is refused;
* the attachments: embedded files from the catalog's ``/Names/EmbeddedFiles`` name tree and its ``/AF`` array
  (PDF/A-3 associated files), walked with a node budget, a depth limit and a visited set; the invoice is the
  attachment the XMP ``fx:DocumentFileName`` names, else the first of ``INVOICE_FILENAMES``. Its stream is decoded
  with a size budget, so a compressed bomb stops at the limit;
* active content (``ACTIVE_CONTENT``, ``FORBIDDEN_ACTIONS``, an ``/OpenAction`` other than ``OPEN_ACTIONS``) is
  found and named in ``EmbeddedInvoice.active_content``, within a budget of objects looked at; whether that refuses
  the file is the caller's decision (the validator refuses it as ``pdf-active-content``).
"""
from __future__ import annotations

import io
import re
import zlib
from dataclasses import dataclass
from typing import Any, Iterator

from lxml import etree

from ..errors import DocumentReadError, ErechnungError
from ..syntax.xml import parse

#: Invoice attachment names, in the order one is chosen when the XMP names none (Factur-X 1.0 / ZUGFeRD 2.1+,
#: the XRechnung profile of ZUGFeRD 2.1.1+, ZUGFeRD 2.0, ZUGFeRD 1.0).
INVOICE_FILENAMES = ("factur-x.xml", "xrechnung.xml", "zugferd-invoice.xml", "ZUGFeRD-invoice.xml")

#: XMP namespaces of the Factur-X / ZUGFeRD PDF/A extension schemas (fx:ConformanceLevel, fx:DocumentFileName).
XMP_NAMESPACES = ("urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#",
                  "urn:zugferd:pdfa:CrossIndustryDocument:invoice:2p0#",
                  "urn:ferd:pdfa:CrossIndustryDocument:invoice:1p0#")


#: Active content a hybrid invoice must not carry (ISO 19005-3, PDF/A-3, 6.6 and 6.4.2): a key, wherever it
#: stands in the file, and what it is, for the clerk's message.
ACTIVE_CONTENT = {
    "/JS": "JavaScript (/JS)",
    "/AA": "additional actions (/AA), run when the document, a page or a field is opened, closed or touched",
    "/XFA": "an XFA form (/XFA), which can carry scripts",
}
#: Action types (/S of an action dictionary) a hybrid invoice must not carry: those PDF/A-3 forbids (6.6.1) and
#: those that send data out or run code (SubmitForm, RichMediaExecute).
FORBIDDEN_ACTIONS = frozenset({"/JavaScript", "/Launch", "/ImportData", "/ResetForm", "/SubmitForm", "/Sound",
                               "/Movie", "/Rendition", "/Hide", "/SetOCGState", "/Trans", "/GoTo3DView",
                               "/RichMediaExecute"})
#: What the catalog's /OpenAction may do when the file is opened: a destination (no action) or go there.
OPEN_ACTIONS = frozenset({"/GoTo"})
#: Keys whose value is an action (or, for /Next, a chain of them); /AA holds actions by event.
ACTION_KEYS = ("/A", "/OpenAction", "/Next")


@dataclass(frozen=True)
class PdfLimits:
    """Resource limits for PDFs: checked before and while pikepdf reads the file."""

    max_pdf_bytes: int = 50 * 1024 * 1024
    max_xml_bytes: int = 20 * 1024 * 1024  # the embedded invoice, decoded; as the XML gate's own limit
    max_xmp_bytes: int = 4 * 1024 * 1024
    max_tree_nodes: int = 10_000  # name-tree nodes and file specifications looked at
    max_tree_depth: int = 32
    max_scan_nodes: int = 500_000  # dictionary entries and array items looked at for active content


class PdfInputError(ErechnungError):
    """A PDF we cannot take an invoice from; ``code`` is ``pdf-too-large``, ``pdf-unreadable`` or
    ``pdf-no-embedded-invoice``."""

    def __init__(self, code: str, problem: str, fix: str | None = None, *, damaged: bool = False) -> None:
        self.code, self.problem, self.fix = code, problem, fix
        self.damaged = damaged  # the file had to be repaired to be read: what is missing may have been cut off
        super().__init__(problem + (f" - {fix}" if fix else ""))


@dataclass(frozen=True)
class EmbeddedInvoice:
    """The invoice found in a PDF, and what the PDF says about it."""

    filename: str
    xml: bytes
    attachments: tuple[str, ...]  # every embedded file name seen
    conformance_level: str | None  # XMP fx:ConformanceLevel, as written
    declared_filename: str | None  # XMP fx:DocumentFileName
    guideline: str | None  # BT-24 as the XML states it (None when the XML cannot be read)
    active_content: tuple[str, ...] = ()  # what of ACTIVE_CONTENT / FORBIDDEN_ACTIONS the PDF carries, in words


def is_pdf(data: bytes, name: str | None = None) -> bool:
    """A PDF by its header (``%PDF-`` in the first 1024 bytes, ISO 32000-1 7.5.2 as readers accept it) and not XML,
    or by its name ending in ``.pdf`` (so that a non-PDF named .pdf is refused as ``pdf-unreadable``)."""
    if name and name.lower().endswith(".pdf"):
        return True
    head = bytes(data[:1024])
    return b"%PDF-" in head and not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


def _text(value: Any) -> str:
    try:
        return str(value)
    except Exception:
        return ""


def _xmp(pdf, limits: PdfLimits) -> tuple[str | None, str | None]:
    """(ConformanceLevel, DocumentFileName) from the catalog's XMP packet, as element or attribute, or None."""
    import pikepdf

    try:
        stream = pdf.Root.get("/Metadata")
        if not isinstance(stream, pikepdf.Stream):
            return None, None
        raw = _decoded(stream, limits.max_xmp_bytes, "the XMP metadata")
        root = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                                                     huge_tree=False, recover=False))
    except (PdfInputError, etree.XMLSyntaxError, ValueError, pikepdf.PdfError):
        return None, None  # unreadable XMP: nothing declared (PDF/A validity is not checked here)
    found: dict[str, str] = {}
    for ns in XMP_NAMESPACES:
        for key in ("ConformanceLevel", "DocumentFileName"):
            if key in found:
                continue
            el = root.find(f".//{{{ns}}}{key}")
            if el is not None and (el.text or "").strip():
                found[key] = el.text.strip()
                continue
            for desc in root.iter("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}Description"):
                value = desc.get(f"{{{ns}}}{key}")
                if value and value.strip():
                    found[key] = value.strip()
                    break
    return found.get("ConformanceLevel"), found.get("DocumentFileName")


def _filespecs(pdf, limits: PdfLimits) -> Iterator[tuple[str, Any]]:
    """``(name, filespec)`` of every embedded file in the name tree and the ``/AF`` array, each object once."""
    import pikepdf

    seen: set[tuple[int, int]] = set()
    budget = [limits.max_tree_nodes]

    def fresh(obj) -> bool:
        budget[0] -= 1
        if budget[0] < 0:
            raise PdfInputError("pdf-unreadable", "the PDF's attachment tree is larger than this system reads "
                                f"({limits.max_tree_nodes} nodes)")
        if getattr(obj, "is_indirect", False):
            key = obj.objgen
            if key in seen:
                return False
            seen.add(key)
        return True

    def spec(obj):
        if isinstance(obj, pikepdf.Dictionary) and fresh(obj):
            name = obj.get("/UF") or obj.get("/F")
            if name is not None:
                yield _text(name), obj

    def tree(node, depth: int):
        if depth > limits.max_tree_depth or not isinstance(node, pikepdf.Dictionary) or not fresh(node):
            return
        names = node.get("/Names")
        if isinstance(names, pikepdf.Array):
            for i in range(1, len(names), 2):
                yield from spec(names[i])
        kids = node.get("/Kids")
        if isinstance(kids, pikepdf.Array):
            for kid in kids:
                yield from tree(kid, depth + 1)

    root = pdf.Root
    names = root.get("/Names")
    if isinstance(names, pikepdf.Dictionary):
        yield from tree(names.get("/EmbeddedFiles"), 0)
    af = root.get("/AF")
    if isinstance(af, pikepdf.Array):
        for obj in af:
            yield from spec(obj)


def _decoded(stream, limit: int, what: str) -> bytes:
    """A stream's data, decoded, refusing more than ``limit`` bytes while decoding (a compressed bomb stops there).

    Plain Flate (what Factur-X and ZUGFeRD writers use) is inflated here with a bounded output; unfiltered data is
    bounded by the file size; any other filter chain is decoded by pikepdf only when even the largest expansion a
    PDF filter reaches (Flate, about 1:1032) stays within the limit.
    """
    import pikepdf

    filters = stream.get("/Filter")
    names = [] if filters is None else [_text(f) for f in filters] if isinstance(filters, pikepdf.Array) \
        else [_text(filters)]
    raw = stream.read_raw_bytes()
    if not names:
        data = raw
    elif names == ["/FlateDecode"] and stream.get("/DecodeParms") is None:
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(raw, limit + 1)
        except zlib.error as exc:
            raise PdfInputError("pdf-unreadable", f"{what} cannot be decompressed ({exc})") from exc
    elif len(raw) * 1100 <= limit:
        data = stream.read_bytes()
    else:
        raise PdfInputError("pdf-unreadable", f"{what} uses filters {' '.join(names)} this system does not decode "
                                              f"at this size ({len(raw)} bytes)",
                            "embed the invoice uncompressed or with plain FlateDecode")
    if len(data) > limit:
        raise PdfInputError("pdf-too-large", f"{what} is larger than {limit} bytes when decoded")
    return bytes(data)


def active_content(pdf, limits: PdfLimits) -> tuple[str, ...]:
    """What active content the open ``pdf`` carries (``ACTIVE_CONTENT``, ``FORBIDDEN_ACTIONS``, ``OPEN_ACTIONS``),
    each kind once, in words; empty when none. Every object of the file is looked at, referenced or not (a viewer
    repairing a file may bring an unreferenced one back), within ``limits.max_scan_nodes``."""
    import pikepdf

    found: dict[str, None] = {}
    budget = [limits.max_scan_nodes]

    def where(obj) -> str:
        return f" (object {obj.objgen[0]})" if getattr(obj, "is_indirect", False) else ""

    def action(value, key: str, holder) -> None:
        for _ in range(limits.max_tree_depth):  # an action and its /Next chain
            if isinstance(value, pikepdf.Array):  # a chain of /Next actions; an /OpenAction array is a destination
                for item in list(value)[:limits.max_tree_depth] if key == "/Next" else ():
                    action(item, key, holder)
                return
            if not isinstance(value, pikepdf.Dictionary):
                return
            kind = _text(value.get("/S")) if value.get("/S") is not None else None
            if kind in FORBIDDEN_ACTIONS:
                found[f"a {kind[1:]} action ({key}{where(holder)})"] = None
            elif key == "/OpenAction" and kind not in OPEN_ACTIONS:
                found[f"an /OpenAction of type {kind or 'unknown'}: opening the file must do nothing but show "
                      "it"] = None
            value, key, holder = value.get("/Next"), "/Next", value

    def walk(obj, depth: int) -> None:
        budget[0] -= 1
        if budget[0] < 0:
            raise PdfInputError("pdf-too-large", "the PDF has more objects than this system checks for active "
                                f"content ({limits.max_scan_nodes} entries)", "send a smaller file")
        if depth > limits.max_tree_depth:
            return
        if isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream)):
            for key in obj.keys():
                if key in ACTIVE_CONTENT:
                    found[ACTIVE_CONTENT[key] + where(obj)] = None
                value = obj.get(key)
                if key in ACTION_KEYS:
                    action(value, key, obj)
                if not getattr(value, "is_indirect", False):  # indirect objects come in their own turn
                    walk(value, depth + 1)
            if _text(obj.get("/Type")) == "/Action" and _text(obj.get("/S")) != "/JavaScript":  # (/JS said it)
                action(obj, "/Type /Action", obj)  # an action wherever it is referenced from
        elif isinstance(obj, pikepdf.Array):
            for item in obj:
                if not getattr(item, "is_indirect", False):
                    walk(item, depth + 1)

    names = pdf.Root.get("/Names")
    if isinstance(names, pikepdf.Dictionary) and names.get("/JavaScript") is not None:
        found["document JavaScript (the catalog's /Names /JavaScript)"] = None
    for obj in pdf.objects:
        walk(obj, 0)
    return tuple(found)


def _invoice_attachment(names: list[str], declared: str | None) -> str | None:
    """The attachment that is the invoice: the one the XMP names if that is an invoice name, else the first invoice
    name present (exact spelling first, then ignoring case)."""
    known = {n.lower() for n in INVOICE_FILENAMES}
    order = ([declared] if declared and declared.lower() in known else []) + list(INVOICE_FILENAMES)
    for candidate in order:
        if candidate in names:
            return candidate
    for candidate in order:
        for n in names:
            if n.lower() == candidate.lower():
                return n
    return None


def _guideline(xml: bytes) -> str | None:
    """BT-24 (any ``GuidelineSpecifiedDocumentContextParameter/ID``: CII and ZUGFeRD 1.0 alike), read through the
    safe parser; None when the XML does not pass it (the validation will say why)."""
    try:
        root = parse(xml)
    except DocumentReadError:
        return None
    ids = root.xpath("/*/*[local-name()='ExchangedDocumentContext' or local-name()='SpecifiedExchangedDocumentContext']"
                     "/*[local-name()='GuidelineSpecifiedDocumentContextParameter']/*[local-name()='ID']/text()")
    return str(ids[0]).strip() if ids else None


def extract_invoice(data: bytes, limits: PdfLimits | None = None) -> EmbeddedInvoice:
    """The invoice embedded in the PDF ``data``; raises ``PdfInputError`` otherwise."""
    import pikepdf

    limits = limits or PdfLimits()
    if len(data) > limits.max_pdf_bytes:
        raise PdfInputError("pdf-too-large", f"the PDF has {len(data)} bytes, more than the {limits.max_pdf_bytes} "
                                             "accepted", "send the invoice as a smaller file")
    if not is_pdf(data):
        raise PdfInputError("pdf-unreadable", "the file is not a PDF (no %PDF- header)")
    try:
        pdf = pikepdf.open(io.BytesIO(bytes(data)))
    except pikepdf.PasswordError as exc:
        raise PdfInputError("pdf-unreadable", "the PDF is encrypted with a password",
                            "a hybrid invoice is a PDF/A-3 file, which must not be encrypted") from exc
    except Exception as exc:  # pikepdf.PdfError and whatever qpdf raises on garbage
        raise PdfInputError("pdf-unreadable", f"the PDF cannot be read ({_one_line(exc)})") from exc
    with pdf:
        try:
            if pdf.is_encrypted:
                raise PdfInputError("pdf-unreadable", "the PDF is encrypted",
                                    "a hybrid invoice is a PDF/A-3 file, which must not be encrypted")
            level, declared = _xmp(pdf, limits)
            specs: dict[str, Any] = {}
            for name, spec in _filespecs(pdf, limits):
                specs.setdefault(name, spec)
            chosen = _invoice_attachment(list(specs), declared)
            if chosen is None:
                seen = ", ".join(sorted(specs)) or "none"
                damaged = bool(pdf.get_warnings())
                raise PdfInputError("pdf-no-embedded-invoice",
                                    f"the PDF has no embedded invoice ({' or '.join(INVOICE_FILENAMES)}); "
                                    f"embedded files: {seen}" + ("; the file is damaged (read as far as it could "
                                                                 "be repaired)" if damaged else ""),
                                    "send a Factur-X/ZUGFeRD PDF or the XRechnung XML itself", damaged=damaged)
            ef = specs[chosen].get("/EF")
            stream = (ef.get("/UF") or ef.get("/F")) if isinstance(ef, pikepdf.Dictionary) else None
            if not isinstance(stream, pikepdf.Stream):
                raise PdfInputError("pdf-no-embedded-invoice",
                                    f"the PDF names {chosen} but does not contain its data")
            xml = _decoded(stream, limits.max_xml_bytes, f"the embedded file {chosen}")
            active = active_content(pdf, limits)
        except PdfInputError:
            raise
        except Exception as exc:  # a broken object deep in the file
            raise PdfInputError("pdf-unreadable", f"the PDF cannot be read ({_one_line(exc)})") from exc
    if is_pdf(xml):
        raise PdfInputError("pdf-no-embedded-invoice", f"the embedded file {chosen} is a PDF, not an invoice XML")
    return EmbeddedInvoice(filename=chosen, xml=xml, attachments=tuple(specs), conformance_level=level,
                           declared_filename=declared, guideline=_guideline(xml), active_content=active)



def _one_line(exc: BaseException) -> str:
    text = re.sub(r"stream <[^>]*>:\s*", "", str(exc))  # qpdf names the in-memory stream; that helps nobody
    return " ".join(f"{type(exc).__name__}: {text}".split())[:300]
