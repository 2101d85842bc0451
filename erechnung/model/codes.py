"""Code lists the model needs to know about (EN 16931 / XRechnung 3.0.2 subsets).

The full lists are enforced by the official Schematron (BR-CL-*); the model only needs the codes that
change behaviour: which type codes make a credit note, and which VAT categories exist (BR-S..BR-O).
"""
from __future__ import annotations

from enum import Enum


class VatCategory(str, Enum):
    """UNCL 5305 subset used by EN 16931 (BT-95, BT-102, BT-118, BT-151)."""

    STANDARD = "S"          # BR-S-*
    ZERO = "Z"              # BR-Z-*
    EXEMPT = "E"            # BR-E-*
    REVERSE_CHARGE = "AE"   # BR-AE-*
    INTRA_COMMUNITY = "K"   # BR-IC-* (intra-community supply)
    EXPORT = "G"            # BR-G-* (export outside the EU)
    NOT_SUBJECT = "O"       # BR-O-* (services outside scope of tax)
    CANARY_ISLANDS = "L"    # BR-AF-* (IGIC)
    CEUTA_MELILLA = "M"     # BR-AG-* (IPSI)


#: Categories whose rate must be 0 (BR-Z-05, BR-E-05, BR-AE-05, BR-IC-05, BR-G-05) or absent (BR-O-05).
ZERO_RATE_CATEGORIES = frozenset({VatCategory.ZERO, VatCategory.EXEMPT, VatCategory.REVERSE_CHARGE,
                                  VatCategory.INTRA_COMMUNITY, VatCategory.EXPORT})

#: Categories that need an exemption reason text or code in the breakdown (BR-E-10, BR-AE-10, BR-IC-10,
#: BR-G-10, BR-O-10).
EXEMPTION_REASON_CATEGORIES = frozenset({VatCategory.EXEMPT, VatCategory.REVERSE_CHARGE,
                                         VatCategory.INTRA_COMMUNITY, VatCategory.EXPORT,
                                         VatCategory.NOT_SUBJECT})

#: UNTDID 1001 codes that are credit notes in EN 16931 (written as UBL CreditNote, BR-CL-01).
CREDIT_NOTE_TYPE_CODES = frozenset({"81", "83", "261", "262", "296", "308", "381", "396", "420", "458", "532"})

#: UNTDID 1001 codes XRechnung 3.0 allows for invoices (BR-DE-17).
XRECHNUNG_INVOICE_TYPE_CODES = frozenset({"326", "380", "384", "389", "381", "875", "876", "877"})

COMMERCIAL_INVOICE = "380"
CREDIT_NOTE = "381"
CORRECTED_INVOICE = "384"
SELF_BILLED_INVOICE = "389"
PARTIAL_INVOICE = "326"

#: CustomizationID / GuidelineSpecifiedDocumentContextParameter values (BT-24).
XRECHNUNG_3_0 = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
EN16931 = "urn:cen.eu:en16931:2017"
#: BT-23 business process for Peppol BIS Billing, which XRechnung uses.
PEPPOL_BILLING_PROCESS = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"

#: Payment means (UNTDID 4461) by kind of payment instruction group.
CREDIT_TRANSFER_MEANS = frozenset({"30", "58"})
CARD_MEANS = frozenset({"48", "54", "55"})
DIRECT_DEBIT_MEANS = frozenset({"59"})

#: The German Länder by their ISO 3166-2:DE codes: holidays and Land rules of the legal dates
#: (``[delivery] land``, ``legal.toml``).
LANDS = ("BW", "BY", "BE", "BB", "HB", "HH", "HE", "MV", "NI", "NW", "RP", "SL", "SN", "ST", "SH", "TH")
