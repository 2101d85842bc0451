"""What the UBL and the CII reader share: finding elements below an element, reading a term's number, date or VAT
category, and the ``DocumentReadError`` that names the term (its BT id), where it is and what to do about it when
it is missing or malformed.

The readers keep what differs between the syntaxes: how a location is written (the UBL reader builds its
XPath as it goes, the CII reader asks lxml), and how a date is written (``xs:date`` in UBL, ``CCYYMMDD`` in a
``udt:DateTimeString`` in CII: each passes its pattern to ``to_date``).
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from lxml import etree

from ..errors import DocumentReadError
from ..model import VatCategory

#: A decimal as both syntaxes write it: digits with an optional point, no exponent, no thousands separator.
DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
NUMBER_FIX = "write a decimal number with a point and no thousands separator, e.g. 1234.56"


def find(element: etree._Element | None, path: str, namespaces: dict[str, str]) -> etree._Element | None:
    """The first ``path`` below ``element``; None when there is none (or no ``element``)."""
    return None if element is None else element.find(path, namespaces)


def findall(element: etree._Element | None, path: str, namespaces: dict[str, str]) -> list[etree._Element]:
    return [] if element is None else element.findall(path, namespaces)


def text(element: etree._Element | None, path: str, namespaces: dict[str, str]) -> str | None:
    """The text of the first ``path`` below ``element`` as sent ('' when empty); None when there is no such
    element."""
    found = find(element, path, namespaces)
    return None if found is None else (found.text or "")


def missing(name: str, term: str, location: str, fix: str) -> DocumentReadError:
    """The error for a mandatory term that is not there: ``name`` is what it is (``Invoice number``)."""
    return DocumentReadError(f"{name} is missing", term=term, location=location, fix=fix)


def _named(name: str | None, value: str) -> str:
    return f"{name} {value!r}" if name else repr(value)


def to_decimal(value: str, term: str, location: str, name: str | None = None) -> Decimal:
    """``value`` as a Decimal (white space around it ignored); raises naming ``term`` and ``location``."""
    if not DECIMAL.fullmatch(value.strip()):
        raise DocumentReadError(f"{_named(name, value)} is not a number", term=term, location=location,
                                fix=NUMBER_FIX)
    return Decimal(value.strip())


def to_date(value: str, pattern: re.Pattern[str], term: str, location: str, fix: str,
            name: str | None = None) -> date:
    """``value`` as a date: ``pattern`` must match all of it (white space around it ignored) and its first group
    be an ISO 8601 calendar date (``2024-01-31`` or ``20240131``); raises naming ``term`` and ``location``."""
    try:
        match = pattern.fullmatch(value.strip())
        if not match:
            raise ValueError(value)
        return date.fromisoformat(match.group(1))
    except ValueError:
        raise DocumentReadError(f"{_named(name, value)} is not a date", term=term, location=location,
                                fix=fix) from None


def to_vat_category(value: str, term: str, location: str, name: str | None = None) -> VatCategory:
    """``value`` as a VAT category code (BT-95, BT-102, BT-118, BT-151) of EN 16931."""
    try:
        return VatCategory(value.strip())
    except ValueError:
        raise DocumentReadError(f"{_named(name, value)} is not a VAT category code of EN 16931", term=term,
                                location=location,
                                fix="use one of " + ", ".join(c.value for c in VatCategory)) from None
