"""German number, money, date and unit formats for documents people read (1.234,56 €, 31.12.2026)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

MINUS = "\u2212"
CURRENCY_SIGNS = {"EUR": "€"}

#: UN/ECE Recommendation 20 unit codes that municipal invoices use, as a German reader writes them.
UNITS = {
    "C62": "Stk.", "H87": "Stk.", "EA": "Stk.", "XPP": "Stk.", "PCE": "Stk.", "NAR": "Stk.", "XPK": "Pck.",
    "DAY": "Tag(e)", "HUR": "Std.", "MIN": "Min.", "WEE": "Woche(n)", "MON": "Monat(e)", "ANN": "Jahr(e)",
    "QAN": "Quartal(e)", "KGM": "kg", "GRM": "g", "TNE": "t", "MTR": "m", "KMT": "km", "CMT": "cm",
    "MTK": "m²", "HAR": "ha", "MTQ": "m³", "LTR": "l", "KWH": "kWh", "MWH": "MWh", "LS": "pauschal",
    "SET": "Satz", "P1": "%", "E48": "Leistung", "ZZ": "",
}
COUNTRIES = {"DE": "", "AT": "Österreich", "CH": "Schweiz", "FR": "Frankreich", "NL": "Niederlande",
             "BE": "Belgien", "LU": "Luxemburg", "PL": "Polen", "CZ": "Tschechien", "DK": "Dänemark",
             "IT": "Italien", "ES": "Spanien", "GB": "Vereinigtes Königreich", "US": "USA"}
VAT_CATEGORIES = {"S": "", "Z": "0 % (Nullsatz)", "E": "steuerfrei", "AE": "Steuerschuldnerschaft des "
                  "Leistungsempfängers", "K": "innergemeinschaftliche Lieferung", "G": "Ausfuhr, steuerfrei",
                  "O": "nicht steuerbar", "L": "IGIC (Kanaren)", "M": "IPSI (Ceuta/Melilla)"}


def number(value: Decimal | int | str, places: int | None = None, *, group: bool = True) -> str:
    """``Decimal("1234.5")`` -> ``1.234,5``; ``places`` fixes the decimals (rounded half up by format)."""
    value = Decimal(value)
    if places is not None:
        text = f"{value:,.{places}f}" if group else f"{value:.{places}f}"
    else:
        normal = value.normalize()
        exponent = normal.as_tuple().exponent
        decimals = max(0, -exponent) if isinstance(exponent, int) else 0
        text = f"{normal:,.{decimals}f}" if group else f"{normal:.{decimals}f}"
    text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text.replace("-", MINUS)


def money(value: Decimal, currency: str = "EUR", *, signed: bool = False) -> str:
    """``1.234,56 €`` (other currencies by code: ``1.234,56 USD``); at least two decimals, more when the
    amount has them (unit prices). ``signed`` puts a + before positive amounts."""
    value = Decimal(value)
    exponent = value.normalize().as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    text = number(value, places)
    if signed and value > 0:
        text = "+" + text
    return f"{text}\u00a0{CURRENCY_SIGNS.get(currency, currency)}"


def percent(value: Decimal | None) -> str:
    return "" if value is None else f"{number(value)}\u00a0%"


def day(value: date | None) -> str:
    return "" if value is None else value.strftime("%d.%m.%Y")


def period(start: date | None, end: date | None) -> str:
    if start and end:
        return f"{day(start)} – {day(end)}"
    return f"ab {day(start)}" if start else f"bis {day(end)}" if end else ""


def unit(code: str) -> str:
    return UNITS.get(code, code)


def country(code: str) -> str:
    return COUNTRIES.get(code, code)
