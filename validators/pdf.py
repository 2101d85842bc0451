"""Hybrid invoices (Factur-X / ZUGFeRD PDFs): find the embedded invoice XML, check that the PDF and the XML name
the same profile, and validate the XML by the rules of its profile.

What happens to a PDF (``validate_pdf``, reached through ``Validator.validate`` for any document that is a PDF):

1. the PDF gate: size (``PdfLimits.max_pdf_bytes``), then pikepdf; a file pikepdf cannot open, an encrypted PDF
   or one that is no PDF at all is rejected ``pdf-unreadable``; too large, ``pdf-too-large``; a PDF with active
   content (``ACTIVE_CONTENT``: JavaScript, additional actions, Launch and the other actions PDF/A-3 forbids, XFA,
   an /OpenAction that does more than go to a place in the document) is rejected ``pdf-active-content``, naming
   what was found. Refused, not stripped: recipients get the file the department delivered or nothing;
2. the invoice attachment: embedded files from the catalog's ``/Names/EmbeddedFiles`` name tree and its ``/AF``
   array (PDF/A-3 associated files), walked with a node budget and a visited set; the invoice is the attachment
   the XMP ``fx:DocumentFileName`` names, else the first of ``factur-x.xml``, ``xrechnung.xml``,
   ``zugferd-invoice.xml``, ``ZUGFeRD-invoice.xml``. None of them: ``pdf-no-embedded-invoice``. Its stream is
   decoded with a size budget, so a compressed bomb stops at the limit;
3. the profile check: the XML's guideline ID (BT-24) names a profile (``PROFILES``); the PDF's XMP
   ``ConformanceLevel`` and the attachment name (``ATTACHMENT_PROFILES``) each name the profiles they allow. A
   disagreement is ``pdf-profile-mismatch``, naming both sides;
4. the XML is validated: first by the Factur-X profile scenarios (``validators/scenarios/facturx-1.09.xml``, KoSIT
   format, resources in the bundle); an XML none of them matches (the XRechnung profile, UBL) is validated by the
   bundle's own KoSIT ``scenarios.xml`` as it is.

The result is an ordinary ``ValidationResult`` whose ``name`` is the PDF and whose ``source`` names the container,
the embedded file and the profile; its VARL report's ``documentReference`` is ``<pdf>!/<embedded file>`` and its
``sha256`` is the validated XML's (as KoSIT hashes what it validated; ``source`` has the PDF's as ``pdf_sha256``).
A PDF refused before validation is hashed as the PDF. Every failure is a rejected result with a reason, never a
traceback.

``extract_invoice`` (and ``extract_invoice_xml`` for ``(filename, xml, profile)``) can be used on their own.
"""
from __future__ import annotations

import hashlib
import io
import re
import time
import zlib
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from lxml import etree

from erechnung.errors import ErechnungError
from validators.steps import Message, StepResult
from validators.xmlsafe import DEFAULT_MAX_BYTES, Limits, ValidationInputError, parse_untrusted

#: The Factur-X profile scenarios (KoSIT format); resource locations are relative to the bundle folder.
PDF_SCENARIOS = Path(__file__).resolve().parent / "scenarios" / "facturx-1.09.xml"

#: Reasons a PDF is rejected before its XML is validated (ValidationResult.reason and the message's rule code).
PDF_REASONS = ("pdf-too-large", "pdf-unreadable", "pdf-no-embedded-invoice", "pdf-profile-mismatch",
               "pdf-active-content")

#: Invoice attachment names, in the order one is chosen when the XMP names none (Factur-X 1.0 / ZUGFeRD 2.1+,
#: the XRechnung profile of ZUGFeRD 2.1.1+, ZUGFeRD 2.0, ZUGFeRD 1.0).
INVOICE_FILENAMES = ("factur-x.xml", "xrechnung.xml", "zugferd-invoice.xml", "ZUGFeRD-invoice.xml")

#: XMP namespaces of the Factur-X / ZUGFeRD PDF/A extension schemas (fx:ConformanceLevel, fx:DocumentFileName).
XMP_NAMESPACES = ("urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#",
                  "urn:zugferd:pdfa:CrossIndustryDocument:invoice:2p0#",
                  "urn:ferd:pdfa:CrossIndustryDocument:invoice:1p0#")


@dataclass(frozen=True)
class Profile:
    """A hybrid-invoice profile: its name here, the XMP ConformanceLevel that declares it, its guideline IDs."""

    name: str
    conformance_level: str
    guideline_ids: tuple[str, ...] = ()
    guideline_pattern: str | None = None

    def matches(self, guideline: str) -> bool:
        return guideline in self.guideline_ids or bool(
            self.guideline_pattern and re.fullmatch(self.guideline_pattern, guideline))


#: Factur-X 1.0.x (= ZUGFeRD 2.1+), ZUGFeRD 2.0 and 1.0 profiles (specifications, section "profiles" and the XMP
#: extension schema). Which rules apply to a profile is not here but in the scenarios file.
PROFILES = (
    Profile("MINIMUM", "MINIMUM", ("urn:factur-x.eu:1p0:minimum", "urn:zugferd.de:2p0:minimum")),
    Profile("BASICWL", "BASIC WL", ("urn:factur-x.eu:1p0:basicwl", "urn:zugferd.de:2p0:basicwl")),
    Profile("BASIC", "BASIC", ("urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic",
                               "urn:cen.eu:en16931:2017#compliant#urn:zugferd.de:2p0:basic",
                               "urn:ferd:CrossIndustryDocument:invoice:1p0:basic")),
    Profile("EN16931", "EN 16931", ("urn:cen.eu:en16931:2017",)),
    Profile("EXTENDED", "EXTENDED", ("urn:cen.eu:en16931:2017#conformant#urn:factur-x.eu:1p0:extended",
                                     "urn:cen.eu:en16931:2017#conformant#urn:zugferd.de:2p0:extended",
                                     "urn:ferd:CrossIndustryDocument:invoice:1p0:extended")),
    Profile("COMFORT", "COMFORT", ("urn:ferd:CrossIndustryDocument:invoice:1p0:comfort",)),
    Profile("XRECHNUNG", "XRECHNUNG",
            guideline_pattern=r"urn:cen\.eu:en16931:2017#compliant#urn:(?:xeinkauf\.de|xoev-de):kosit:"
                              r"(?:standard:)?xrechnung[_:].*"),
)

#: Which profiles an attachment name may carry: ``xrechnung.xml`` is the XRechnung profile's name (ZUGFeRD 2.1.1+),
#: the others carry every other profile.
_NOT_XRECHNUNG = frozenset(p.name for p in PROFILES) - {"XRECHNUNG"}
ATTACHMENT_PROFILES = {"factur-x.xml": _NOT_XRECHNUNG, "zugferd-invoice.xml": _NOT_XRECHNUNG,
                       "xrechnung.xml": frozenset({"XRECHNUNG"})}


def profile_of(guideline: str | None) -> Profile | None:
    """The profile a guideline ID (BT-24) names, or None."""
    if guideline:
        for p in PROFILES:
            if p.matches(guideline):
                return p
    return None


def _level_key(level: str) -> str:
    return re.sub(r"[\s_-]+", "", level).upper()


def profiles_declared(conformance_level: str) -> frozenset[str]:
    """The profile names an XMP ConformanceLevel declares (``EN 16931`` -> EN16931; spaces and case ignored)."""
    key = _level_key(conformance_level)
    return frozenset(p.name for p in PROFILES if _level_key(p.conformance_level) == key)


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


# --------------------------------------------------------------------------------------------------------------
# extraction
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PdfLimits:
    """Resource limits for PDFs: checked before and while pikepdf reads the file."""

    max_pdf_bytes: int = 50 * 1024 * 1024
    max_xml_bytes: int = DEFAULT_MAX_BYTES  # the embedded invoice, decoded; the XML gate's own limit
    max_xmp_bytes: int = 4 * 1024 * 1024
    max_tree_nodes: int = 10_000  # name-tree nodes and file specifications looked at
    max_tree_depth: int = 32
    max_scan_nodes: int = 500_000  # dictionary entries and array items looked at for active content


class PdfInputError(ErechnungError):
    """A PDF we cannot take an invoice from; ``code`` is one of ``PDF_REASONS``."""

    def __init__(self, code: str, problem: str, fix: str | None = None) -> None:
        self.code, self.problem, self.fix = code, problem, fix
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

    @property
    def profile(self) -> Profile | None:
        return profile_of(self.guideline)


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
    XML gate; None when the XML does not pass it (the validation will say why)."""
    try:
        tree = parse_untrusted(xml, Limits())
    except ValidationInputError:
        return None
    ids = tree.xpath("/*/*[local-name()='ExchangedDocumentContext' or local-name()='SpecifiedExchangedDocumentContext']"
                     "/*[local-name()='GuidelineSpecifiedDocumentContextParameter']/*[local-name()='ID']/text()")
    return str(ids[0]).strip() if ids else None


def extract_invoice(data: bytes, limits: PdfLimits | None = None) -> EmbeddedInvoice:
    """The invoice embedded in the PDF ``data``; raises ``PdfInputError`` (code in ``PDF_REASONS``) otherwise."""
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
                raise PdfInputError("pdf-no-embedded-invoice",
                                    f"the PDF has no embedded invoice ({' or '.join(INVOICE_FILENAMES)}); "
                                    f"embedded files: {seen}",
                                    "send a Factur-X/ZUGFeRD PDF or the XRechnung XML itself")
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


def extract_invoice_xml(data: bytes) -> tuple[str, bytes, str | None]:
    """``(attachment name, XML bytes, profile name or None)`` of the invoice in a PDF; raises ``PdfInputError``."""
    inv = extract_invoice(data)
    return inv.filename, inv.xml, inv.profile.name if inv.profile else None


def profile_mismatch(inv: EmbeddedInvoice) -> str | None:
    """Why the PDF and its XML disagree on the profile, in words; None when they agree (or nothing is declared)."""
    profile = inv.profile
    stated = (f"its guideline ID (BT-24) {inv.guideline!r}" if inv.guideline else "it states no guideline ID (BT-24)")
    problems = []
    if inv.conformance_level:
        declared = profiles_declared(inv.conformance_level)
        if profile is None or profile.name not in declared:
            problems.append(f"the PDF's XMP declares ConformanceLevel {inv.conformance_level!r}, but the embedded "
                            f"{inv.filename} is " + (f"profile {profile.name}: " if profile else "not that profile: ")
                            + stated)
    allowed = ATTACHMENT_PROFILES.get(inv.filename.lower())
    if profile is not None and allowed is not None and profile.name not in allowed:
        problems.append(f"an attachment named {inv.filename} carries " + (
            "the XRechnung profile only" if allowed == {"XRECHNUNG"} else "a Factur-X/ZUGFeRD profile, not XRechnung")
            + f", but it is profile {profile.name}: {stated}")
    return "; ".join(problems) or None


def _one_line(exc: BaseException) -> str:
    text = re.sub(r"stream <[^>]*>:\s*", "", str(exc))  # qpdf names the in-memory stream; that helps nobody
    return " ".join(f"{type(exc).__name__}: {text}".split())[:300]


# --------------------------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------------------------

def reference(pdf_name: str, embedded: str) -> str:
    """The VARL ``documentReference`` of an embedded invoice: ``<pdf>!/<embedded file>`` (the jar-URL form)."""
    return f"{pdf_name}!/{embedded}"


def validate_pdf(validator, data: bytes, name: str, *, bundle: str | None = None):
    """Validate the invoice embedded in a hybrid PDF (see the module docstring); never raises for a bad PDF."""
    started = time.perf_counter()
    try:
        inv = extract_invoice(data, getattr(validator, "pdf_limits", None))
    except PdfInputError as exc:
        return refused(validator, data, name, exc.code, exc.problem, exc.fix, bundle=bundle, started=started)
    source = [("container", "pdf"), ("pdf_sha256", hashlib.sha256(bytes(data)).hexdigest()), ("embedded", inv.filename),
              ("profile", inv.profile.name if inv.profile else None), ("guideline", inv.guideline),
              ("declared_profile", inv.conformance_level)]
    ref = reference(name, inv.filename)
    if inv.active_content:
        shown = inv.active_content[:10]
        return refused(validator, data, name, "pdf-active-content",
                       "the PDF contains active content a hybrid invoice (PDF/A-3) must not carry: "
                       + "; ".join(shown) + (f"; and {len(inv.active_content) - len(shown)} more"
                                             if len(inv.active_content) > len(shown) else ""),
                       "create the PDF without scripts, actions and forms (as PDF/A-3), or send the XRechnung XML",
                       bundle=bundle, started=started, source=source, document_reference=ref)
    mismatch = profile_mismatch(inv)
    if mismatch:
        return refused(validator, data, name, "pdf-profile-mismatch", mismatch,
                       "the XMP ConformanceLevel, the attachment name and the XML's guideline ID must name the same "
                       "profile", bundle=bundle, started=started, source=source, document_reference=ref)
    result = validator.pdf_scenarios(bundle).validate(inv.xml, ref)
    if result.reason == "no-scenario":  # not a Factur-X profile: the bundle's KoSIT scenarios decide, as they are
        result = validator.validate(inv.xml, ref, bundle=bundle)
    return replace(result, name=name, source=tuple(source))


def refused(validator, data: bytes, name: str, code: str, problem: str, fix: str | None = None, *,
            bundle: str | None = None, started: float | None = None,
            source: list[tuple[str, str | None]] | None = None, document_reference: str | None = None):
    """A rejected result (no scenario) for a PDF refused before validation, with its VARL report."""
    from validators.engine import ENGINE_NAME, ValidationResult
    from validators.varl import build_report

    started = time.perf_counter() if started is None else started
    timestamp = datetime.now(timezone.utc).replace(microsecond=0)
    text = problem + (f" ({fix})" if fix else "")
    message = Message(step="val-pdf", id="val-pdf.1", code=code, level="error", custom_level="error", text=text)
    step = StepResult("val-pdf", "xml", (), (message,))
    sha = hashlib.sha256(bytes(data)).digest()
    bundle_name = validator.bundles[-1] if bundle in (None, "auto") else bundle
    report = build_report(engine_name=ENGINE_NAME,
                          engine_info=[("bundle", bundle_name), ("container", "pdf")], timestamp=timestamp,
                          sha256=sha, reference=document_reference or name, scenario=None, steps=[step])
    return ValidationResult(
        name=name, verdict="reject", reason=code, scenario=None, bundle=bundle_name, messages=(message,),
        steps=(step,), sha256=sha.hex(), timestamp=timestamp.isoformat(),
        duration_ms=(time.perf_counter() - started) * 1000,
        report=etree.tostring(report, xml_declaration=True, encoding="UTF-8", pretty_print=True),
        source=tuple(source or [("container", "pdf"), ("pdf_sha256", sha.hex()), ("embedded", None),
                                ("profile", None)]))
