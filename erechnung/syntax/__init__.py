"""UBL 2.1 and UN/CEFACT CII D16B: one reader and one writer each, all of the one model.

``read_invoice(data)`` detects the syntax from the root element; ``write_invoice(invoice, "ubl"|"cii")``
writes it (UBL as Invoice or CreditNote by BT-3). The namespaces and fixed codes of each syntax are in one module
each, ``ubl_names`` and ``cii_names``, which everything else imports; ``reading`` holds what both readers do alike
(finding elements, numbers, dates, VAT categories, the error naming the term).
"""
from __future__ import annotations

from typing import Literal

from lxml import etree

from ..errors import UnknownSyntaxError
from ..model import Invoice
from .cii_names import RSM
from .ubl_names import CREDIT_NOTE_NS, INVOICE_NS
from .xml import parse

Syntax = Literal["ubl", "cii"]


def detect_syntax(root: etree._Element) -> Syntax:
    ns = etree.QName(root).namespace
    if ns in (INVOICE_NS, CREDIT_NOTE_NS):
        return "ubl"
    if ns == RSM:
        return "cii"
    raise UnknownSyntaxError(f"the root element {root.tag} is neither UBL 2.1 Invoice/CreditNote nor CII D16B",
                             location="/", fix="send an XRechnung in UBL or CII syntax")


def read_invoice(data: bytes | etree._Element) -> Invoice:
    root = parse(data)
    if detect_syntax(root) == "ubl":
        from .ubl_reader import read_ubl
        return read_ubl(root)
    from .cii_reader import read_cii
    return read_cii(root)


def write_invoice(invoice: Invoice, syntax: Syntax) -> bytes:
    if syntax == "ubl":
        from .ubl_writer import write_ubl
        return write_ubl(invoice)
    if syntax == "cii":
        from .cii_writer import write_cii
        return write_cii(invoice)
    raise ValueError(f"unknown syntax {syntax!r}: use 'ubl' or 'cii'")
