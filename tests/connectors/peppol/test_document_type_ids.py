"""The Peppol document type id comes from the document itself (Peppol Policy for use of identifiers, policy 15):
root namespace, root element, the CustomizationID (BT-24) and the syntax version."""
from __future__ import annotations

import pytest

from mailbox_connectors.peppol.doctype import document_type_of

UBL = b"""<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
 <cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0</cbc:CustomizationID>
</Invoice>"""
CREDIT = UBL.replace(b"Invoice-2", b"CreditNote-2").replace(b"<Invoice", b"<CreditNote").replace(
    b"</Invoice>", b"</CreditNote>")
CII = b"""<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
 xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100">
 <rsm:ExchangedDocumentContext><ram:GuidelineSpecifiedDocumentContextParameter>
 <ram:ID>urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0</ram:ID>
 </ram:GuidelineSpecifiedDocumentContextParameter></rsm:ExchangedDocumentContext></rsm:CrossIndustryInvoice>"""


def test_xrechnung_3_ubl_invoice_and_credit_note_have_the_ids_of_peppol_and_portals_md():
    assert document_type_of(UBL) == (
        "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice"
        "##urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0::2.1")
    assert document_type_of(CREDIT).endswith("CreditNote-2::CreditNote##urn:cen.eu:en16931:2017#compliant"
                                             "#urn:xeinkauf.de:kosit:xrechnung_3.0::2.1")


def test_cii_invoice_gets_the_d16b_syntax_version():
    assert document_type_of(CII) == (
        "busdox-docid-qns::urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100::CrossIndustryInvoice"
        "##urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0::D16B")


@pytest.mark.parametrize("content, reason", [
    (b"%PDF-1.7 ...", "kein Rechnungs-XML"),
    (b"<Order xmlns='urn:oasis:names:specification:ubl:schema:xsd:Order-2'/>", "weder UBL Invoice"),
    (UBL.replace(b"urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0", b""), "BT-24"),
    (b"<!DOCTYPE x [<!ENTITY e 'x'>]><Invoice xmlns='urn:oasis:names:specification:ubl:schema:xsd:Invoice-2'/>",
     "kein Rechnungs-XML"),
])
def test_what_is_no_invoice_gets_no_document_type(content, reason):
    with pytest.raises(ValueError, match=reason):
        document_type_of(content)
