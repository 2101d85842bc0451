"""The Peppol document type id of an invoice, read from the document itself (Peppol Policy for use of
identifiers 4.x, policy 15: ``busdox-docid-qns::<root namespace>::<root element>##<customization id>::<syntax
version>``). The customization id is the document's own ``CustomizationID`` (BT-24), so an XRechnung 3.0 and
its extension get the ids their receivers register for; the syntax version is ``2.1`` for UBL and ``D16B`` for
UN/CEFACT CII.
"""
from __future__ import annotations

from lxml import etree

from erechnung.errors import DocumentReadError
from erechnung.syntax.xml import parse

__all__ = ["DOCID_SCHEME", "document_type_of"]

DOCID_SCHEME = "busdox-docid-qns"
UBL_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
UBL_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CII = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
_RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
_RSM = CII

#: root namespace -> (root element, syntax version, path of the CustomizationID)
_SYNTAX = {
    UBL_INVOICE: ("Invoice", "2.1", f"{{{_CBC}}}CustomizationID"),
    UBL_CREDIT_NOTE: ("CreditNote", "2.1", f"{{{_CBC}}}CustomizationID"),
    CII: ("CrossIndustryInvoice", "D16B",
          f"{{{_RSM}}}ExchangedDocumentContext/{{{_RAM}}}GuidelineSpecifiedDocumentContextParameter/{{{_RAM}}}ID"),
}


def document_type_of(content: bytes | etree._Element) -> str:
    """The full document type id (with its scheme) of a UBL Invoice / CreditNote or CII invoice; ValueError with
    the reason for anything else (a PDF, another XML)."""
    try:
        root = parse(content)
    except DocumentReadError as exc:
        raise ValueError(f"es ist kein Rechnungs-XML ({exc})") from None
    qname = etree.QName(root)
    syntax = _SYNTAX.get(qname.namespace or "")
    if syntax is None or qname.localname != syntax[0]:
        raise ValueError(f"sein Wurzelelement {qname.localname!r} ist weder UBL Invoice, UBL CreditNote noch eine "
                         "CII-Rechnung")
    element, version, path = syntax
    customization = (root.findtext(path) or "").strip()
    if not customization:
        raise ValueError("es nennt keine Spezifikationskennung (BT-24, CustomizationID)")
    return f"{DOCID_SCHEME}::{qname.namespace}::{element}##{customization}::{version}"
