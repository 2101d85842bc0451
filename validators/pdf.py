"""Hybrid invoices (Factur-X / ZUGFeRD PDFs): find the embedded invoice XML, check that the PDF and the XML name
the same profile, and validate the XML by the rules of its profile.

What happens to a PDF (``validate_pdf``, reached through ``Validator.validate`` for any document that is a PDF):

1. the PDF gate (``erechnung.documents.embedded``, as step 2): size (``PdfLimits.max_pdf_bytes``), then pikepdf;
   a file pikepdf cannot open, an encrypted PDF or one that is no PDF at all is rejected ``pdf-unreadable``; too
   large, ``pdf-too-large``; a PDF with active content (``ACTIVE_CONTENT``: JavaScript, additional actions, Launch
   and the other actions PDF/A-3 forbids, XFA, an /OpenAction that does more than go to a place in the document)
   is rejected ``pdf-active-content``, naming what was found. Refused, not stripped: recipients get the file the
   department delivered or nothing;
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

``extract_invoice_xml`` gives ``(filename, xml, profile)`` on its own.
"""
from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from lxml import etree

from erechnung.documents.embedded import EmbeddedInvoice, PdfInputError, extract_invoice
from validators.steps import Message, StepResult

#: The Factur-X profile scenarios (KoSIT format); resource locations are relative to the bundle folder.
PDF_SCENARIOS = Path(__file__).resolve().parent / "scenarios" / "facturx-1.09.xml"

#: Reasons a PDF is rejected before its XML is validated (ValidationResult.reason and the message's rule code).
PDF_REASONS = ("pdf-too-large", "pdf-unreadable", "pdf-no-embedded-invoice", "pdf-profile-mismatch",
               "pdf-active-content")


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


def extract_invoice_xml(data: bytes) -> tuple[str, bytes, str | None]:
    """``(attachment name, XML bytes, profile name or None)`` of the invoice in a PDF; raises ``PdfInputError``."""
    inv = extract_invoice(data)
    profile = profile_of(inv.guideline)
    return inv.filename, inv.xml, profile.name if profile else None


def profile_mismatch(inv: EmbeddedInvoice) -> str | None:
    """Why the PDF and its XML disagree on the profile, in words; None when they agree (or nothing is declared)."""
    profile = profile_of(inv.guideline)
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
    profile = profile_of(inv.guideline)
    source = [("container", "pdf"), ("pdf_sha256", hashlib.sha256(bytes(data)).hexdigest()), ("embedded", inv.filename),
              ("profile", profile.name if profile else None), ("guideline", inv.guideline),
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
