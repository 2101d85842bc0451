"""Names and conventions the UBL reader and writer share: namespaces, fixed codes, the note subject prefix."""
from __future__ import annotations

import re

INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
NAMESPACES = {"cac": CAC, "cbc": CBC}

#: cac:TaxScheme/cbc:ID of VAT (BT-31, BT-48, BT-63 and every tax category).
VAT_SCHEME = "VAT"
#: cac:TaxScheme/cbc:ID written for BT-32 (seller tax registration, "Steuernummer"): any non-VAT scheme reads as BT-32.
TAX_REGISTRATION_SCHEME = "FC"
#: schemeID of the cac:PartyIdentification that is BT-90 (bank assigned creditor identifier).
SEPA_SCHEME = "SEPA"
#: cbc:DocumentTypeCode (UNTDID 1001) of BT-18 / BT-128 invoiced object identifiers.
OBJECT_IDENTIFIER_DOCUMENT_TYPE = "130"
#: cbc:DocumentTypeCode of BT-11 project reference in a CreditNote, which has no cac:ProjectReference.
PROJECT_REFERENCE_DOCUMENT_TYPE = "50"
#: cac:OrderReference/cbc:ID is mandatory in UBL; with only BT-14 it is 'NA' (Peppol BIS convention).
SALES_ORDER_ONLY_ORDER_ID = "NA"
#: cac:CardAccount/cbc:NetworkID is mandatory in UBL but not an EN 16931 term.
NETWORK_ID_UNKNOWN = "NA"

# BT-21 travels in front of BT-22 as "#CODE#" (UNTDID 4451 codes are three letters), e.g. "#ADU#Text".
_SUBJECT_PREFIX = re.compile(r"\A#([A-Z]{3})#(.*)\Z", re.DOTALL)


def note_text(subject_code: str | None, text: str) -> str:
    """BG-1 as one cbc:Note: ``#ADU#text`` with a subject code (BT-21), else the text (BT-22) alone."""
    return text if subject_code is None else f"#{subject_code}#{text}"


def split_note(note: str) -> tuple[str | None, str]:
    """The (BT-21, BT-22) of one cbc:Note, undoing :func:`note_text`."""
    match = _SUBJECT_PREFIX.match(note)
    return (match.group(1), match.group(2)) if match else (None, note)
