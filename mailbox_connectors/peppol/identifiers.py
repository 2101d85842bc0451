"""Peppol identifiers: participants (``iso6523-actorid-upis::0204:991-33333test-33``), document types, processes
and transport profiles, as the Peppol Policy for use of Identifiers 4.x (PFUOI) defines them.

* A participant identifier is the scheme ``iso6523-actorid-upis`` and a value ``<ICD>:<id>``; the ICD must be one
  of the Peppol code list "Participant identifier schemes" (table below, from code list 9.x); its values are
  case-insensitive and kept lower-case here (PFUOI POLICY 2), at most 50 characters (POLICY 1).
* Document type and process identifiers are case-sensitive and used in full (``scheme::value``) in SMP URLs.

    pid = ParticipantId.parse("0204:991-33333TEST-33")   # or "iso6523-actorid-upis::0204:..."
    str(pid)   -> "0204:991-33333test-33"
    pid.uri    -> "iso6523-actorid-upis::0204:991-33333test-33"

Some schemes have a known shape and are checked further (a Leitweg-ID and its ISO 7064 MOD 97-10 check digits
for 0204, ``DE`` and nine digits for 9930, a GLN's GS1 check digit for 0088, ...): a wrong one would only come back
later as "not registered in Peppol", so it is refused here with what to fix.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from erechnung.errors import ErechnungError

__all__ = [
    "AS4_V2", "BILLING_PROCESS", "DOCTYPE_SCHEME", "ICD_SCHEMES", "IcdScheme", "InvalidParticipant",
    "PARTICIPANT_SCHEME", "PROCESS_SCHEME", "ParticipantId", "SchemeState", "XRECHNUNG_UBL_CREDIT_NOTE",
    "XRECHNUNG_UBL_INVOICE", "split_identifier",
]

PARTICIPANT_SCHEME = "iso6523-actorid-upis"
DOCTYPE_SCHEME = "busdox-docid-qns"
PROCESS_SCHEME = "cenbii-procid-ubl"

#: XRechnung 3.0, UBL Invoice (Peppol code list "Document types": XRechnung UBL Invoice V3.0).
XRECHNUNG_UBL_INVOICE = (
    "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice"
    "##urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0::2.1")
#: XRechnung 3.0, UBL CreditNote.
XRECHNUNG_UBL_CREDIT_NOTE = (
    "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2::CreditNote"
    "##urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0::2.1")
#: Peppol BIS Billing 3.0 process (XRechnung travels in it too).
BILLING_PROCESS = "cenbii-procid-ubl::urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
#: Peppol AS4 profile 2.0 transport profile (SMP ``Endpoint/@transportProfile``).
AS4_V2 = "peppol-transport-as4-v2_0"

_MAX_VALUE = 50  # PFUOI POLICY 1: a participant identifier value (ICD, colon and id) has at most 50 characters


class SchemeState(StrEnum):
    ACTIVE = "active"
    DEPRECATED = "deprecated"  # still valid, no new registrations wanted
    REMOVED = "removed"  # no longer part of the code list: identifiers with it are refused


@dataclass(frozen=True)
class IcdScheme:
    icd: str  # "0204"
    scheme_id: str  # "DE:LWID"
    name: str
    state: SchemeState = SchemeState.ACTIVE


def _table(*rows: tuple[str, str, str] | tuple[str, str, str, SchemeState]) -> dict[str, IcdScheme]:
    return {row[0]: IcdScheme(*row) for row in rows}


_D, _R = SchemeState.DEPRECATED, SchemeState.REMOVED

#: The Peppol code list "Participant identifier schemes" (code list 9.x; states as of 2026).
ICD_SCHEMES: dict[str, IcdScheme] = _table(
    ("0002", "FR:SIRENE", "System Information et Repertoire des Entreprise et des Etablissements: SIRENE"),
    ("0007", "SE:ORGNR", "Organisationsnummer"),
    ("0009", "FR:SIRET", "SIRET-CODE"),
    ("0037", "FI:OVT", "LY-tunnus", _R),
    ("0060", "DUNS", "Data Universal Numbering System (D-U-N-S Number)"),
    ("0088", "GLN", "Global Location Number"),
    ("0096", "DK:P", "The Danish Business Authority - P-number (DK:P)"),
    ("0097", "IT:FTI", "FTI - Ediforum Italia"),
    ("0106", "NL:KVK", "Vereniging van Kamers van Koophandel en Fabrieken in Nederland"),
    ("0130", "EU:NAL", "Directorates of the European Commission"),
    ("0135", "IT:SIA", "SIA Object Identifiers"),
    ("0142", "IT:SECETI", "SECETI Object Identifiers"),
    ("0151", "AU:ABN", "Australian Business Number (ABN) Scheme"),
    ("0158", "SK:ICO", "Identification number of economic subject (ICO)"),
    ("0183", "CH:UIDB", "Swiss Unique Business Identification Number (UIDB)"),
    ("0184", "DK:DIGST", "The Danish Business Authority - CVR-number (DK:CVR)"),
    ("0188", "JP:SST", "Corporate Number of The Social Security and Tax Number System"),
    ("0190", "NL:OINO", "Organisatie-identificatienummer (OIN)"),
    ("0191", "EE:CC", "Company code"),
    ("0192", "NO:ORG", "Organisasjonsnummer"),
    ("0193", "UBLBE", "UBL.BE Party Identifier", _D),
    ("0195", "SG:UEN", "Singapore Nationwide E-Invoice Framework"),
    ("0196", "IS:KTNR", "Icelandic identifier"),
    ("0198", "DK:ERST", "The Danish Business Authority - SE-number (DK:SE)"),
    ("0199", "LEI", "Legal Entity Identifier (LEI)"),
    ("0200", "LT:LEC", "Legal entity code"),
    ("0201", "IT:CUUO", "Codice Univoco Unità Organizzativa iPA"),
    ("0204", "DE:LWID", "Peppol-Leitweg-ID"),
    ("0205", "IT:COD", "CODDEST"),
    ("0208", "BE:EN", "Numero d'entreprise / ondernemingsnummer / Unternehmensnummer"),
    ("0209", "GS1", "GS1 identification keys"),
    ("0210", "IT:CFI", "CODICE FISCALE"),
    ("0211", "IT:IVA", "PARTITA IVA"),
    ("0212", "FI:ORG", "Finnish Organization Identifier", _R),
    ("0213", "FI:VAT", "Finnish Organization Value Add Tax Identifier", _R),
    ("0215", "FI:NSI", "Net service ID", _R),
    ("0216", "FI:OVT2", "OVTcode"),
    ("0218", "LV:URN", "Unified registration number"),
    ("0221", "JP:IIN", "The registered number of the qualified invoice issuer"),
    ("0225", "FR:CTC", "FRCTC Electronic Address"),
    ("0230", "MY:EIF", "National e-Invoicing Framework"),
    ("0235", "AE:TIN", "UAE Tax Identification Number (TIN)"),
    ("0240", "LU:MAT", "Register of legal persons"),
    ("0242", "SPIS", "OpenPeppol Service Provider Identification Scheme"),
    ("0244", "NG:TID", "Tax Identification (Tax ID)"),
    ("0245", "SK:DIC", "Tax identification number (DIČ)"),
    ("0246", "DE:GEBA", "German Electronic Business Address"),
    ("0248", "OM:VAT", "Oman Value Added Tax Identification Number (VATIN)"),
    ("9901", "DK:CPR", "Danish Ministry of the Interior and Health", _R),
    ("9909", "NO:VAT", "Norwegian VAT number", _D),
    ("9910", "HU:VAT", "Hungary VAT number"),
    ("9912", "EU:VAT", "National ministries of Economy", _D),
    ("9913", "EU:REID", "Business Registers Network"),
    ("9914", "AT:VAT", "Österreichische Umsatzsteuer-Identifikationsnummer"),
    ("9915", "AT:GOV", "Österreichisches Verwaltungs bzw. Organisationskennzeichen"),
    ("9916", "AT:CID", "Firmenidentifikationsnummer der Statistik Austria", _D),
    ("9917", "IS:KT", "Icelandic National Registry", _D),
    ("9918", "IBAN", "SOCIETY FOR WORLDWIDE INTERBANK FINANCIAL, TELECOMMUNICATION S.W.I.F.T"),
    ("9919", "AT:KUR", "Kennziffer des Unternehmensregisters"),
    ("9920", "ES:VAT", "Agencia Española de Administración Tributaria"),
    ("9922", "AD:VAT", "Andorra VAT number"),
    ("9923", "AL:VAT", "Albania VAT number"),
    ("9924", "BA:VAT", "Bosnia and Herzegovina VAT number"),
    ("9925", "BE:VAT", "Belgium VAT number"),
    ("9926", "BG:VAT", "Bulgaria VAT number"),
    ("9927", "CH:VAT", "Switzerland VAT number"),
    ("9928", "CY:VAT", "Cyprus VAT number"),
    ("9929", "CZ:VAT", "Czech Republic VAT number"),
    ("9930", "DE:VAT", "Germany VAT number"),
    ("9931", "EE:VAT", "Estonia VAT number"),
    ("9932", "GB:VAT", "United Kingdom VAT number"),
    ("9933", "GR:VAT", "Greece VAT number"),
    ("9934", "HR:VAT", "Croatia VAT number"),
    ("9935", "IE:VAT", "Ireland VAT number"),
    ("9936", "LI:VAT", "Liechtenstein VAT number"),
    ("9937", "LT:VAT", "Lithuania VAT number"),
    ("9938", "LU:VAT", "Luxemburg VAT number"),
    ("9939", "LV:VAT", "Latvia VAT number"),
    ("9940", "MC:VAT", "Monaco VAT number"),
    ("9941", "ME:VAT", "Montenegro VAT number"),
    ("9942", "MK:VAT", "Macedonia, the former Yugoslav Republic of VAT number"),
    ("9943", "MT:VAT", "Malta VAT number"),
    ("9944", "NL:VAT", "Netherlands VAT number"),
    ("9945", "PL:VAT", "Poland VAT number"),
    ("9946", "PT:VAT", "Portugal VAT number"),
    ("9947", "RO:VAT", "Romania VAT number"),
    ("9948", "RS:VAT", "Serbia VAT number"),
    ("9949", "SI:VAT", "Slovenia VAT number"),
    ("9950", "SK:VAT", "Slovakia VAT number"),
    ("9951", "SM:VAT", "San Marino VAT number"),
    ("9952", "TR:VAT", "Turkey VAT number"),
    ("9953", "VA:VAT", "Holy See (Vatican City State) VAT number"),
    ("9957", "FR:VAT", "French VAT number"),
    ("9959", "US:EIN", "US Employer ID Number"),
)


class InvalidParticipant(ErechnungError):
    """A Peppol participant identifier that cannot be one: ``what`` was given, ``why`` it is refused, ``fix``
    what to write instead (in German, for the clerk who keeps the recipient register)."""

    def __init__(self, what: str, why: str, fix: str) -> None:
        self.what, self.why, self.fix = what, why, fix
        super().__init__(f"Peppol-ID {what!r}: {why} – {fix}")


_ICD = re.compile(r"^[0-9]{4}$")
_LEITWEG = re.compile(r"^[0-9]{2,12}(-[0-9A-Z]{1,30})?-[0-9]{2}$")
_DE_VAT = re.compile(r"^DE[0-9]{9}$")
_GLN = re.compile(r"^[0-9]{13}$")


def _mod97(text: str) -> int:
    """ISO 7064 MOD 97-10 over digits and letters (A=10 ... Z=35), as for IBANs and Leitweg-IDs."""
    return int("".join(str(int(c, 36)) for c in text)) % 97


def _gs1_ok(digits: str) -> bool:
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def _check_value(icd: str, ident: str, given: str) -> None:
    """Scheme-specific shape checks (on the id as written, before lower-casing)."""
    upper = ident.upper()
    if icd == "0204":
        if not _LEITWEG.match(upper):
            raise InvalidParticipant(given, "das ist keine Leitweg-ID (Grobadressierung aus 2-12 Ziffern, eine "
                                     "optionale Feinadressierung aus bis zu 30 Buchstaben oder Ziffern, zwei "
                                     "Prüfziffern, getrennt durch '-')", "die Leitweg-ID so schreiben, wie der "
                                     "Empfänger sie angegeben hat, z. B. 0204:991-33333TEST-33")
        if _mod97(upper.replace("-", "")) != 1:
            raise InvalidParticipant(given, "die Prüfziffern der Leitweg-ID stimmen nicht (ISO 7064 MOD 97-10)",
                                     "die Leitweg-ID mit dem Auftrag des Empfängers auf Tippfehler vergleichen")
    elif icd == "9930":
        if not _DE_VAT.match(upper):
            raise InvalidParticipant(given, "eine deutsche USt-IdNr. (Schema 9930) ist 'DE' gefolgt von 9 Ziffern",
                                     "die USt-IdNr. ohne Leerzeichen schreiben, z. B. 9930:DE123456789")
    elif icd == "0088":
        if not _GLN.match(upper) or not _gs1_ok(upper):
            raise InvalidParticipant(given, "eine GLN (Schema 0088) hat 13 Ziffern, die letzte eine GS1-Prüfziffer",
                                     "die GLN mit den Stammdaten des Empfängers vergleichen")


@dataclass(frozen=True)
class ParticipantId:
    """A Peppol participant: ``scheme`` the ICD (``0204``), ``value`` the id within it, lower-case."""

    scheme: str
    value: str

    def __post_init__(self) -> None:
        given = f"{self.scheme}:{self.value}"
        if not _ICD.match(self.scheme):
            raise InvalidParticipant(given, "der Teil vor ':' muss ein vierstelliger Schemacode (ICD) sein",
                                     "als <ICD>:<ID> schreiben, z. B. 0204:991-33333TEST-33 für eine Leitweg-ID")
        known = ICD_SCHEMES.get(self.scheme)
        if known is None:
            raise InvalidParticipant(given, f"{self.scheme} ist kein Schema der Codeliste der Peppol-"
                                     "Teilnehmerkennungen", "den Schemacode prüfen (0204 Leitweg-ID, 9930 "
                                     "USt-IdNr., 0088 GLN, ...)")
        if known.state is SchemeState.REMOVED:
            raise InvalidParticipant(given, f"das Schema {self.scheme} ({known.scheme_id}) wurde aus der Peppol-"
                                     "Codeliste entfernt", "den Empfänger nach seiner aktuellen Peppol-ID fragen")
        ident = self.value.strip()
        if not ident or len(given) > _MAX_VALUE or not ident.isascii() or not ident.isprintable() \
                or any(c.isspace() for c in ident):
            raise InvalidParticipant(given, f"die ID muss aus 1 bis {_MAX_VALUE - 5} druckbaren ASCII-Zeichen "
                                     "ohne Leerzeichen bestehen", "die ID ohne Leer- oder Sonderzeichen übernehmen")
        _check_value(self.scheme, ident, given)
        object.__setattr__(self, "value", ident.lower())

    @classmethod
    def parse(cls, text: str) -> ParticipantId:
        """``0204:991-33333TEST-33`` or ``iso6523-actorid-upis::0204:991-33333TEST-33`` (scheme case-insensitive)."""
        raw = text.strip()
        if "::" in raw:
            scheme, _, raw = raw.partition("::")
            if scheme.lower() != PARTICIPANT_SCHEME:
                raise InvalidParticipant(text, f"das Kennungsschema {scheme!r} ist nicht das von Peppol "
                                         f"({PARTICIPANT_SCHEME})",
                                         "als <ICD>:<ID> schreiben, z. B. 0204:991-33333TEST-33")
        icd, colon, ident = raw.partition(":")
        if not colon:
            raise InvalidParticipant(text, "zwischen Schemacode und ID steht kein ':'",
                                     "als <ICD>:<ID> schreiben, z. B. 0204:991-33333TEST-33")
        return cls(icd.strip(), ident)

    @property
    def uri(self) -> str:
        """The full form used in SMP URLs and documents: ``iso6523-actorid-upis::0204:...``."""
        return f"{PARTICIPANT_SCHEME}::{self.scheme}:{self.value}"

    @property
    def scheme_name(self) -> str:
        return ICD_SCHEMES[self.scheme].name

    def __str__(self) -> str:
        return f"{self.scheme}:{self.value}"


def split_identifier(full: str) -> tuple[str, str]:
    """``scheme::value`` -> (scheme, value): document type and process identifiers as SMP documents carry them
    (``<DocumentIdentifier scheme="busdox-docid-qns">urn:...</DocumentIdentifier>``)."""
    scheme, sep, value = full.partition("::")
    if not sep or not scheme or not value:
        raise ValueError(f"{full!r} is not a full Peppol identifier (scheme::value)")
    return scheme, value
