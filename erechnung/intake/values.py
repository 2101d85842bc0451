"""Values as departments write them, parsed strictly: German and international numbers and dates, yes/no, BundID
postbox UUIDs (identifiers such as IBAN, e-mail and Leitweg-ID: ``model.identifiers``). Every function returns the
value in its canonical form or raises a ``RecordError`` with the problem and what to write instead (the caller adds
file, row and column with ``RecordError.at``).

Numbers are ``Decimal``, never float. The decimal separator is declared per mapping profile
(``[formats] decimal_separator``):

* ``","`` (German): ``1.234,56``, ``1234,56``, ``-12,00``, ``12,00-``; a point only groups thousands (``1.234``
  is 1234).
* ``"."`` (international): ``1,234.56``, ``1234.56``; a comma only groups thousands.
* ``"auto"``: decided per value. With both signs the later one is the decimal separator; one sign used several
  times groups thousands (``1.234.567``); one sign once is the decimal separator, unless exactly three digits
  follow it (``1.234``, ``1,234``): that is ambiguous and refused, or with ``german=True`` (``[formats] german =
  true``) read the German way (``1.234`` = 1234, ``1,234`` = 1.234).

A trailing minus (``12,00-``, SAP exports) is a minus; an amount may carry ``€`` or ``EUR``. Thousands groups
must have three digits, so ``12,3,4`` is refused rather than guessed.

Dates follow the profile's patterns (``DD.MM.YYYY``, ``DD.MM.YY``, ``YYYY-MM-DD``, ``EXCEL`` for Excel serial day
numbers); ISO ``YYYY-MM-DD`` is always understood, and two-digit years are 20YY.
"""
from __future__ import annotations

import calendar
import re
import uuid
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Literal

from ..errors import RecordError

DecimalSeparator = Literal[",", ".", "auto"]

_MONTHS = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
           "November", "Dezember")


def _error(value: str, problem: str, fix: str) -> RecordError:
    return RecordError(value=value, problem=problem, fix=fix)


# ============================================================================================== numbers

_GROUPING_SPACES = ("\u00a0", "\u202f", " ", "'")
_CURRENCY = re.compile(r"^(?:€|EUR)\s*|\s*(?:€|EUR)$", re.IGNORECASE)


def _number_fix(decimal_separator: DecimalSeparator) -> str:
    return {",": "schreiben Sie die Zahl wie 1.234,56 oder 1234,56 (Dezimalkomma)",
            ".": "schreiben Sie die Zahl wie 1,234.56 oder 1234.56 (Dezimalpunkt)"}.get(
        decimal_separator, "schreiben Sie die Zahl wie 1.234,56 oder 1234.56")


def parse_decimal(text: str, *, decimal_separator: DecimalSeparator = "auto", german: bool = False) -> Decimal:
    """``text`` as a Decimal (see the module doc for the accepted forms)."""
    original = text
    s = text.strip().replace("\u2212", "-")
    s = _CURRENCY.sub("", s).strip()
    fix = _number_fix(decimal_separator)
    if not s:
        raise _error(original, "keine Zahl (leer)", fix)
    negative = False
    if s.endswith("-") and not s.startswith(("-", "+")):
        negative, s = True, s[:-1].rstrip()
    elif s[0] in "+-":
        negative, s = s[0] == "-", s[1:].lstrip()
    for space in _GROUPING_SPACES:
        s = s.replace(space, "\u00a0")
    if not s or not s[0].isdigit() or not re.fullmatch(r"[0-9.,\u00a0]+", s):
        raise _error(original, "keine Zahl", fix)
    decimal_sign = _decimal_sign(s, original, decimal_separator, german, fix)
    integer, _, fraction = s.partition(decimal_sign) if decimal_sign else (s, "", "")
    if decimal_sign and (not fraction or not fraction.isdigit()):
        raise _error(original, "keine Zahl", fix)
    groups = re.split(r"[.,\u00a0]", integer)
    if len(groups) > 1 and (not 1 <= len(groups[0]) <= 3 or any(len(g) != 3 for g in groups[1:])):
        raise _error(original, "keine Zahl", fix)
    try:
        value = Decimal("".join(groups) + ("." + fraction if fraction else ""))
    except InvalidOperation:  # pragma: no cover - the pattern admits digits only
        raise _error(original, "keine Zahl", fix) from None
    return -value if negative else value


def _decimal_sign(s: str, original: str, decimal_separator: DecimalSeparator, german: bool,
                  fix: str) -> str | None:
    if decimal_separator in (",", "."):
        if s.count(decimal_separator) > 1:
            raise _error(original, "keine Zahl", fix)
        return decimal_separator if decimal_separator in s else None
    last_comma, last_point = s.rfind(","), s.rfind(".")
    if last_comma >= 0 and last_point >= 0:
        sign = "," if last_comma > last_point else "."
        if s.count(sign) > 1:
            raise _error(original, "keine Zahl", fix)
        return sign
    sign = "," if last_comma >= 0 else "." if last_point >= 0 else None
    if sign is None or s.count(sign) > 1:
        return None  # no separator, or one used several times: thousands groups
    after = s.rsplit(sign, 1)[1]
    if len(after) == 3 and "\u00a0" not in s:
        if german:
            return "," if sign == "," else None
        raise _error(original, f"mehrdeutig: {original.strip()} kann {s.replace(sign, '')} oder "
                     f"{s.replace(sign, '.')} bedeuten",
                     "im Mapping-Profil [formats] decimal_separator = \",\" oder \".\" angeben (oder german = true)")
    return sign


def parse_int(text: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    s = text.strip()
    if s.endswith(".0"):  # Excel gives whole numbers as 3.0 now and then
        s = s[:-2]
    if not re.fullmatch(r"[+-]?\d+", s):
        raise _error(text, "keine ganze Zahl", "schreiben Sie eine ganze Zahl ohne Nachkommastellen, z. B. 12")
    value = int(s)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = f"zwischen {minimum} und {maximum}" if minimum is not None and maximum is not None else (
            f"mindestens {minimum}" if minimum is not None else f"höchstens {maximum}")
        raise _error(text, f"{value} ist außerhalb des erlaubten Bereichs", f"geben Sie eine Zahl {bounds} an")
    return value


_TRUE = {"ja", "j", "x", "1", "true", "wahr", "yes", "y"}
_FALSE = {"nein", "n", "0", "false", "falsch", "no", ""}


def parse_bool(text: str) -> bool:
    s = text.strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise _error(text, "weder ja noch nein", "schreiben Sie ja oder nein (auch x, 1 oder leer für nein)")


# ============================================================================================== dates

EXCEL_EPOCH = date(1899, 12, 30)  # serial 1 = 1900-01-01 counting Excel's phantom 29 Feb 1900 (serials >= 61)
_TOKENS = {"YYYY": r"(?P<y>\d{4})", "YY": r"(?P<yy>\d{2})", "MM": r"(?P<m>\d{1,2})", "M": r"(?P<m>\d{1,2})",
           "DD": r"(?P<d>\d{1,2})", "D": r"(?P<d>\d{1,2})"}
DATE_PATTERNS = ("DD.MM.YYYY", "DD.MM.YY", "YYYY-MM-DD", "DD/MM/YYYY", "YYYYMMDD", "EXCEL")


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        for token in ("YYYY", "YY", "MM", "DD", "M", "D"):
            if pattern.startswith(token, i):
                regex = _TOKENS[token]
                out += regex.replace(r"\d{1,2}", r"\d{2}") if pattern == "YYYYMMDD" else regex
                i += len(token)
                break
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)


def check_date_pattern(pattern: str) -> str | None:
    """None if ``pattern`` is usable, else what is wrong with it (for configuration messages)."""
    if pattern == "EXCEL":
        return None
    rx = _pattern_regex(pattern)
    if not {"d", "m"} <= set(rx.groupindex) or not ({"y", "yy"} & set(rx.groupindex)):
        return "a date pattern needs DD, MM and YYYY (or YY), e.g. DD.MM.YYYY"
    return None


def excel_serial_date(serial: int) -> date:
    """The date of an Excel serial day number (1900 date system, as every Windows Excel writes)."""
    return EXCEL_EPOCH + timedelta(days=serial)


def shown_date(text: str) -> str:
    """``text`` for a clerk's message: an Excel serial day number (``46327``) with the date it stands for
    (``46327 (= 01.11.2026)``), anything else as it is. Dates in messages are dates, not serials."""
    whole = re.fullmatch(r"\s*(\d{5})(?:\.0+)?\s*", text)
    if whole and 61 <= int(whole[1]) <= 2958465:
        return f"{text.strip()} (= {excel_serial_date(int(whole[1])):%d.%m.%Y})"
    return text


def parse_date(text: str, patterns: tuple[str, ...] | list[str] = ("DD.MM.YYYY", "YYYY-MM-DD")) -> date:
    """``text`` as a date by the first pattern that matches; ISO ``YYYY-MM-DD`` (also with a time, as Excel
    cells give it) is always understood."""
    s = text.strip()
    shown = " oder ".join(p for p in patterns if p != "EXCEL") or "TT.MM.JJJJ"
    fix = f"schreiben Sie das Datum als {shown.replace('DD', 'TT').replace('YYYY', 'JJJJ').replace('YY', 'JJ')}"
    if not s:
        raise _error(text, "kein Datum (leer)", fix)
    iso = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})(?:[T ]00:00(?::00(?:\.0+)?)?)?", s)
    if iso:
        return _make_date(int(iso[1]), int(iso[2]), int(iso[3]), text, fix)
    for pattern in patterns:
        if pattern == "EXCEL":
            whole = re.fullmatch(r"(\d{2,7})(?:\.0+)?", s)
            if whole and 61 <= int(whole[1]) <= 2958465:
                return excel_serial_date(int(whole[1]))
            continue
        m = _pattern_regex(pattern).fullmatch(s)
        if m:
            groups = m.groupdict()
            year = int(groups["y"]) if groups.get("y") else 2000 + int(groups["yy"])
            return _make_date(year, int(groups["m"]), int(groups["d"]), text, fix)
    if re.fullmatch(r"\d{5}(?:\.0+)?", s):
        raise _error(shown_date(text), "eine Excel-Tageszahl statt eines Datums", fix + " (in Excel die Spalte "
                     "als Datum formatieren) oder im Mapping-Profil EXCEL als Datumsformat zulassen")
    raise _error(text, "kein Datum", fix)


def _make_date(year: int, month: int, day: int, text: str, fix: str) -> date:
    if not 1 <= month <= 12:
        raise _error(text, f"einen Monat {month} gibt es nicht", "prüfen Sie Tag und Monat; " + fix)
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        raise _error(text, f"den {day}. {_MONTHS[month - 1]} {year} gibt es nicht "
                     f"({_MONTHS[month - 1]} {year} hat {last} Tage)", "prüfen Sie das Datum in den Quelldaten")
    return date(year, month, day)


# ============================================================================================== identifiers

def parse_uuid(text: str) -> str:
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        raise _error(text, "keine UUID", "die BundID-Postfach-Kennung (mailboxUuid) hat die Form "
                     "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx") from None
