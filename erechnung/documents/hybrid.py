"""Hybrid invoices (ZUGFeRD 2.3 / Factur-X 1.07): the readable PDF/A-3 with the invoice's CII inside.

``make_hybrid(invoice, profile="EN16931"|"XRECHNUNG", design=None) -> bytes`` renders the invoice, writes its
CII and embeds it (``factur-x.xml`` for EN 16931, ``xrechnung.xml`` for XRECHNUNG). For profile EN16931 the
CII states BT-24 ``urn:cen.eu:en16931:2017`` (Factur-X's EN 16931 guideline); for XRECHNUNG the invoice's
XRechnung BT-24 stays.

Refused, before anything is rendered: what CII cannot carry (``CiiWriteError``: BG-DEX-09, several BG-3), and
profile EN16931 for an invoice following the XRechnung extension or the CVD CIUS (``HybridProfileError``).

``extract_invoice_xml(pdf_bytes) -> (filename, xml_bytes, profile)`` reads the embedded XML back from any
ZUGFeRD 2.x / Factur-X / XRechnung-in-PDF file (the profile from the XMP's ``fx:ConformanceLevel``, else from
the XML's guideline identifier).
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING


from ..errors import DocumentReadError, DocumentWriteError
from ..model import Invoice
from ..model.codes import EN16931, XRECHNUNG_3_0
from .embed import PROFILES, invoice_attachment, profile as _profile

if TYPE_CHECKING:
    from ..config.design import Design

#: BT-24 of a CII in Factur-X profile EN 16931 (the guideline ``GuidelineSpecifiedDocumentContextParameter``).
EN16931_GUIDELINE = EN16931
_CONFORMANCE_TO_PROFILE = {p.conformance_level.upper(): p.name for p in PROFILES.values()} | {
    "EN16931": "EN16931", "COMFORT": "EN16931", "BASICWL": "BASICWL", "XRECHNUNG": "XRECHNUNG"}


#: The profiles ``make_hybrid`` writes: the CII is a full EN 16931 invoice in both.
HYBRID_PROFILES = ("EN16931", "XRECHNUNG")
#: Specification identifiers (BT-24) whose invoices are EN 16931 invoices as they stand, so that profile
#: EN16931 may state ``urn:cen.eu:en16931:2017`` for them. The XRechnung extension and the CVD CIUS allow
#: values EN 16931 does not (code lists, sub-invoice lines), so their invoices stay XRECHNUNG.
EN16931_COMPLIANT = frozenset({EN16931_GUIDELINE, XRECHNUNG_3_0})


class HybridProfileError(DocumentWriteError):
    """The invoice cannot be a hybrid in the requested profile (the message says which profile fits)."""


def make_hybrid(invoice: Invoice, profile: str = "EN16931", design: Design | None = None,
                salutation: str | None = None) -> bytes:
    """The hybrid invoice: the readable PDF/A-3 with the invoice's CII embedded in ``profile``.

    Raises ``CiiWriteError`` (a DocumentWriteError naming the term) when the invoice holds what CII cannot
    carry (BG-DEX-09 third-party payments, more than one BG-3 preceding invoice)."""
    from ..syntax import write_invoice
    from ..config.design import load_design
    from .invoice_pdf import draw_invoice, invoice_info
    from .letter import letter_frame
    from .pdfa import canvas_bytes, finish, new_canvas

    p = _profile(profile)
    if p.name not in HYBRID_PROFILES:
        raise ValueError(f"profile {profile!r}: hybrids are made in {' or '.join(HYBRID_PROFILES)} (the model is a "
                         "full EN 16931 invoice; MINIMUM to BASIC would drop data, EXTENDED adds none)")
    if p.name == "EN16931" and invoice.process.specification not in EN16931_COMPLIANT:
        raise HybridProfileError(
            f"BT-24: the invoice follows {invoice.process.specification}, which allows what EN 16931 does not "
            "(XRechnung extension or CVD code lists and structures), so it cannot be stated as a plain EN 16931 "
            "invoice - make the hybrid in profile XRECHNUNG")
    if p.name == "EN16931":
        invoice = invoice.model_copy(update={"process": invoice.process.model_copy(
            update={"specification": EN16931_GUIDELINE})})
    xml = write_invoice(invoice, "cii")  # first: a CiiWriteError before any rendering
    design = design or load_design()
    info = invoice_info(invoice, p.name)
    canvas = new_canvas(info, design)
    draw_invoice(canvas, invoice, letter_frame(design), salutation)  # the register's Anrede, if any
    attachment, schema = invoice_attachment(xml, p.name)
    return finish(canvas_bytes(canvas), info, associated_files=[attachment], schemas=[schema])


def extract_invoice_xml(pdf_bytes: bytes) -> tuple[str, bytes, str]:
    """The embedded invoice of a hybrid PDF: (file name, XML bytes, profile such as ``EN16931``).

    The reading itself is the hardened one (``embedded.extract_invoice``: size limits, bounded decoding,
    encrypted and broken files refused), so a PDF from outside is read the same way for intake, ``convert``,
    ``show`` and ``validate``. Raises DocumentReadError when the data is no PDF or carries no
    invoice XML."""
    from .embedded import PdfInputError, extract_invoice

    try:
        found = extract_invoice(pdf_bytes)
    except PdfInputError as exc:
        raise DocumentReadError(exc.problem, fix=exc.fix) from None
    level = (found.conformance_level or "").strip().upper()
    profile = _CONFORMANCE_TO_PROFILE.get(level) or _CONFORMANCE_TO_PROFILE.get(level.replace(" ", "")) \
        or profile_of_xml(found.xml)
    return found.filename, found.xml, profile


def profile_of_xml(xml: bytes) -> str:
    """The profile a CII's guideline identifier (BT-24) names; ``XRECHNUNG`` for XRechnung, ``EN16931``
    for the plain EN 16931 URN and anything unknown that claims EN 16931 compliance."""
    match = re.search(rb"<(?:\w+:)?GuidelineSpecifiedDocumentContextParameter>\s*<(?:\w+:)?ID[^>]*>([^<]*)<", xml) \
        or re.search(rb"<(?:\w+:)?CustomizationID[^>]*>([^<]*)<", xml)
    guideline = match.group(1).decode("utf-8", "replace").strip() if match else ""
    if "xrechnung" in guideline:
        return "XRECHNUNG"
    for level, name in (("minimum", "MINIMUM"), ("basicwl", "BASICWL"), ("basic", "BASIC"),
                        ("extended", "EXTENDED")):
        if guideline.endswith(f"factur-x.eu:1p0:{level}"):
            return name
    return "EN16931"
