"""Identifiers a municipality and its recipients are known by, checked strictly: IBAN, BIC, SEPA creditor ID,
e-mail address, Leitweg-ID, post code, Amtlicher Gemeindeschlüssel, VAT ID. Every function returns the value in
its canonical form or raises a ``RecordError`` with the problem and what to write instead, in German: the
configuration check and intake (a department's records, the recipient register) report it to the clerk.
"""
from __future__ import annotations

import re

from ..errors import RecordError


def _error(value: str, problem: str, fix: str) -> RecordError:
    return RecordError(value=value, problem=problem, fix=fix)


#: IBAN lengths of the SEPA countries a German municipality meets most (ISO 13616 registry); others: 15..34.
IBAN_LENGTHS = {"DE": 22, "AT": 20, "CH": 21, "LI": 21, "NL": 18, "BE": 16, "LU": 20, "FR": 27, "IT": 27,
                "ES": 24, "PT": 25, "PL": 28, "CZ": 24, "DK": 18, "SE": 24, "FI": 18, "IE": 22, "GB": 22,
                "HU": 28, "SK": 24, "SI": 19, "HR": 21, "NO": 15, "GR": 27, "RO": 24, "BG": 22}


def _mod97(text: str) -> int:
    return int("".join(str(int(ch, 36)) for ch in text)) % 97


def parse_iban(text: str) -> str:
    """An IBAN without spaces, upper case, length and ISO 7064 check digits verified."""
    compact = re.sub(r"[\s\u00a0]", "", text).upper()
    example = "z. B. DE02 1203 0000 0000 2020 51"
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", compact):
        raise _error(text, "keine IBAN", f"eine IBAN beginnt mit dem Länderkennzeichen und zwei Prüfziffern, {example}")
    expected = IBAN_LENGTHS.get(compact[:2])
    if expected and len(compact) != expected:
        raise _error(text, f"eine IBAN aus {compact[:2]} hat {expected} Stellen, diese hat {len(compact)}",
                     "prüfen Sie die IBAN auf fehlende oder doppelte Ziffern")
    if _mod97(compact[4:] + compact[:4]) != 1:
        raise _error(text, "die Prüfziffer der IBAN stimmt nicht (Tippfehler?)",
                     "lassen Sie sich die IBAN bestätigen und korrigieren Sie sie")
    return compact


def parse_bic(text: str) -> str:
    compact = text.strip().replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?", compact):
        raise _error(text, "keine BIC", "eine BIC hat 8 oder 11 Zeichen, z. B. BYLADEM1001")
    return compact


def parse_creditor_id(text: str) -> str:
    """A SEPA creditor identifier (Gläubiger-Identifikationsnummer, ``DE98ZZZ09999999999``): check digits over
    the national identifier and the country code, the business code (positions 5-7) not counted."""
    compact = text.strip().replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{3}[A-Z0-9]{1,28}", compact) or (
            compact.startswith("DE") and len(compact) != 18):
        raise _error(text, "keine Gläubiger-Identifikationsnummer", "sie hat die Form DE98ZZZ09999999999")
    if _mod97(compact[7:] + compact[:4]) != 1:
        raise _error(text, "die Prüfziffer der Gläubiger-Identifikationsnummer stimmt nicht",
                     "übernehmen Sie die Nummer aus dem Schreiben der Bundesbank")
    return compact


_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+")


def parse_email(text: str) -> str:
    s = text.strip()
    if not _EMAIL.fullmatch(s) or ".." in s:
        raise _error(text, "keine E-Mail-Adresse", "schreiben Sie die Adresse wie name@beispiel.de, ohne Leerzeichen")
    return s


_LEITWEG = re.compile(r"(\d{2,12})(?:-([A-Z0-9]{1,30}))?-(\d{2})")


def leitweg_check_digits(coarse: str, fine: str = "") -> str:
    """The two check digits of a Leitweg-ID (ISO/IEC 7064 MOD 97-10 over coarse and fine addressing, letters
    counted as 10..35)."""
    return f"{98 - _mod97(coarse + fine.upper() + '00'):02d}"


def parse_leitweg_id(text: str) -> str:
    """A Leitweg-ID ``Grobadressierung-Feinadressierung-Prüfziffer`` (Feinadressierung optional), upper case,
    its check digits verified (Formatspezifikation Leitweg-ID: MOD 97-10)."""
    s = text.strip().upper()
    m = _LEITWEG.fullmatch(s)
    if not m:
        raise _error(text, "keine Leitweg-ID", "eine Leitweg-ID hat die Form 05999001-ABC123-xx: 2 bis 12 Ziffern "
                     "Grobadressierung, optional bis zu 30 Zeichen Feinadressierung, 2 Prüfziffern")
    expected = leitweg_check_digits(m[1], m[2] or "")
    if m[3] != expected:
        raise _error(text, f"die Prüfziffer der Leitweg-ID stimmt nicht (erwartet {expected})",
                     "übernehmen Sie die Leitweg-ID genau so, wie der Empfänger sie mitgeteilt hat")
    return s


#: The German postal regions (Leitregionen) that begin with 0, and where they are: only there can a 4-digit post
#: code be one whose leading 0 a spreadsheet dropped. 00 and 05 are not assigned (Deutsche Post, PLZ-Verzeichnis).
LEADING_ZERO_REGIONS = {"01": "Dresden", "02": "Görlitz/Bautzen", "03": "Cottbus", "04": "Leipzig",
                        "06": "Halle (Saale)", "07": "Gera/Jena", "08": "Zwickau/Plauen", "09": "Chemnitz"}


def parse_post_code(text: str, country_code: str = "DE") -> str:
    """A post code; a German one has exactly 5 digits. A 4-digit one is called what it is, and ``0`` + digits is
    suggested only where that gives an assigned region (``LEADING_ZERO_REGIONS``): ``9199`` may be 09199
    (Chemnitz) whose 0 Excel dropped, or a Bavarian 9x199 with a digit missing; ``5123`` cannot be 05123."""
    s = text.strip()
    if country_code.upper() != "DE":
        if not s or len(s) > 10:
            raise _error(text, "keine Postleitzahl", "geben Sie die Postleitzahl des Landes an")
        return s
    if re.fullmatch(r"\d{5}", s):
        return s
    if re.fullmatch(r"\d{4}", s):
        region = LEADING_ZERO_REGIONS.get(f"0{s[0]}")
        fix = "ergänzen Sie die fehlende Ziffer (prüfen Sie die Adresse)"
        if region:
            fix = (f"liegt der Ort im Raum {region}, schreiben Sie 0{s} (in Excel die Spalte als Text formatieren, "
                   f"sonst geht die führende 0 verloren); sonst {fix}")
        raise _error(text, "die Postleitzahl hat nur 4 Ziffern, eine deutsche hat 5", fix)
    raise _error(text, "keine deutsche Postleitzahl", "eine deutsche Postleitzahl hat genau 5 Ziffern, z. B. 12345")


def parse_municipality_key(text: str) -> str:
    """The Amtlicher Gemeindeschlüssel (AGS): 8 digits (Land, Regierungsbezirk, Kreis, Gemeinde)."""
    s = text.strip()
    if not re.fullmatch(r"\d{8}", s):
        raise _error(text, "kein Amtlicher Gemeindeschlüssel", "der AGS hat 8 Ziffern, z. B. 05999001")
    return s


def parse_vat_id(text: str) -> str:
    compact = text.strip().replace(" ", "").upper()
    if compact.startswith("DE") and not re.fullmatch(r"DE\d{9}", compact):
        raise _error(text, "keine deutsche USt-IdNr.", "sie hat die Form DE und 9 Ziffern, z. B. DE123456789")
    if not re.fullmatch(r"[A-Z]{2}[A-Z0-9+*]{2,13}", compact):
        raise _error(text, "keine USt-IdNr.", "sie beginnt mit dem Länderkennzeichen, z. B. DE123456789")
    return compact
