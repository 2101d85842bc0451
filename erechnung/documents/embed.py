"""The invoice XML as PDF/A-3 associated file, as Factur-X 1.07+ / ZUGFeRD 2.3 specify.

* file name ``factur-x.xml`` for the profiles MINIMUM, BASIC WL, BASIC, EN 16931 and EXTENDED, ``xrechnung.xml``
  for XRECHNUNG;
* ``AFRelationship`` ``/Alternative`` (the XML is the invoice the PDF shows), ``/Data`` for MINIMUM and BASIC WL
  (they carry no lines, so the PDF is not their equivalent); MIME type ``text/xml``;
* the Factur-X XMP extension schema (namespace ``urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#``,
  prefix ``fx``) with ``fx:DocumentType`` INVOICE, ``fx:DocumentFileName``, ``fx:Version`` 1.0 and
  ``fx:ConformanceLevel`` (``EN 16931``, ``XRECHNUNG``, ...), described by a ``pdfaExtension`` schema.

``invoice_attachment(xml, profile)`` gives what ``pdfa.finish`` embeds; ``embed_invoice_xml(pdf, xml, profile)``
adds it to a PDF/A-3 made by ``pdfa`` (one qpdf pass).
"""
from __future__ import annotations

from dataclasses import dataclass

import pikepdf

from .pdfa import AssociatedFile, DocumentInfo, XmpProperty, XmpSchema, finish

FACTURX_NAMESPACE = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"
FACTURX_VERSION = "1.0"


@dataclass(frozen=True)
class Profile:
    """A Factur-X/ZUGFeRD profile: how it is named in the XMP and which file carries it."""

    name: str               # our name (``EN16931``)
    conformance_level: str  # fx:ConformanceLevel (``EN 16931``)
    filename: str
    relationship: str


PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile("MINIMUM", "MINIMUM", "factur-x.xml", "Data"),
    Profile("BASICWL", "BASIC WL", "factur-x.xml", "Data"),
    Profile("BASIC", "BASIC", "factur-x.xml", "Alternative"),
    Profile("EN16931", "EN 16931", "factur-x.xml", "Alternative"),
    Profile("EXTENDED", "EXTENDED", "factur-x.xml", "Alternative"),
    Profile("XRECHNUNG", "XRECHNUNG", "xrechnung.xml", "Alternative"),
)}


def profile(name: str) -> Profile:
    try:
        return PROFILES[name.upper().replace(" ", "").replace("_", "")]
    except KeyError:
        raise ValueError(f"unknown Factur-X/ZUGFeRD profile {name!r}: use one of {', '.join(PROFILES)}") from None


def facturx_schema(p: Profile) -> XmpSchema:
    """The Factur-X XMP properties of a hybrid invoice in profile ``p``, with their extension schema."""
    return XmpSchema(
        title="Factur-X PDFA Extension Schema", namespace=FACTURX_NAMESPACE, prefix="fx",
        properties=(
            XmpProperty("DocumentFileName", p.filename, "The name of the embedded XML document"),
            XmpProperty("DocumentType", "INVOICE", "The type of the hybrid document in capital letters, e.g. "
                        "INVOICE or ORDER"),
            XmpProperty("Version", FACTURX_VERSION, "The actual version of the standard applying to the "
                        "embedded XML document"),
            XmpProperty("ConformanceLevel", p.conformance_level, "The conformance level of the embedded XML "
                        "document"),
        ))


def invoice_attachment(xml: bytes, profile_name: str) -> tuple[AssociatedFile, XmpSchema]:
    """The associated file and the XMP schema that make a PDF/A-3 a hybrid invoice of ``profile_name``."""
    p = profile(profile_name)
    description = ("XRechnung" if p.name == "XRECHNUNG" else f"Factur-X/ZUGFeRD {p.conformance_level}") + \
        " invoice data"
    return (AssociatedFile(p.filename, xml, "text/xml", p.relationship, description), facturx_schema(p))


def embed_invoice_xml(pdf_bytes: bytes, xml: bytes, profile_name: str, info: DocumentInfo | None = None) -> bytes:
    """``pdf_bytes`` (a PDF/A-3 from ``pdfa``) with the invoice XML embedded; the document information is kept
    unless ``info`` replaces it."""
    attachment, schema = invoice_attachment(xml, profile_name)
    return finish(pdf_bytes, info or info_of(pdf_bytes), associated_files=[attachment], schemas=[schema])


def info_of(pdf_bytes: bytes) -> DocumentInfo:
    """The document information dictionary of a PDF as DocumentInfo (to write it again unchanged)."""
    import io

    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        d = pdf.trailer.get("/Info", pikepdf.Dictionary())
        lang = str(pdf.Root.get("/Lang", "")) or "de-DE"

        def s(key: str) -> str:
            return str(d.get(key, ""))
        return DocumentInfo(title=s("/Title"), author=s("/Author"), subject=s("/Subject"),
                            keywords=s("/Keywords"), creator=s("/Creator") or "erechnung", lang=lang)
