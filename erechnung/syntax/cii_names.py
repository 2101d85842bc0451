"""Names and conventions the CII reader and writer share: the UN/CEFACT CII D16B namespaces and fixed codes."""
from __future__ import annotations

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
NSMAP = {"rsm": RSM, "ram": RAM, "qdt": QDT, "udt": UDT}

DATE_FORMAT = "102"  # UNTDID 2379: CCYYMMDD, the only date format XRechnung allows
VAT = "VAT"
SUPPORTING_DOCUMENT = "916"  # UNTDID 1001 "related document" (BG-24)
TENDER_OR_LOT = "50"         # BT-17
INVOICED_OBJECT = "130"      # BT-18, BT-128

#: BT-8 value added tax point date code: the model holds EN 16931's UNTDID 2005 code (as UBL writes it), CII
#: codes the same three meanings with UNTDID 2475 (BR-CL-06 of the CEN UBL and CII Schematron): invoice date,
#: delivery date, paid-to date. A code outside the list travels unchanged (BR-CL-06 then rejects it).
TAX_POINT_DATE_CODE_TO_CII = {"3": "5", "35": "29", "432": "72"}
TAX_POINT_DATE_CODE_FROM_CII = {cii: en for en, cii in TAX_POINT_DATE_CODE_TO_CII.items()}
