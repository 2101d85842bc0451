"""Convert a document between UBL, CII, the canonical model's JSON and the hybrid ZUGFeRD PDF
(``erechnung convert``); a hybrid PDF is also read (its embedded XML)."""
from __future__ import annotations

from typing import Literal

from pydantic import ValidationError

from .errors import DocumentReadError
from .model import Invoice
from .syntax import read_invoice, write_invoice

Target = Literal["ubl", "cii", "json", "zugferd"]
TARGETS: tuple[str, ...] = ("ubl", "cii", "json", "zugferd")


def read_any(data: bytes) -> Invoice:
    """Read UBL or CII XML, the canonical model as JSON (what ``convert --to json`` writes), or a hybrid
    PDF (ZUGFeRD/Factur-X/XRechnung: its embedded XML)."""
    if data[:1024].lstrip().startswith(b"%PDF-"):
        from .documents.hybrid import extract_invoice_xml
        return read_invoice(extract_invoice_xml(data)[1])
    head = data.lstrip()[:1]
    if head in (b"{",):
        try:
            return Invoice.model_validate_json(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = "/".join(str(p) for p in first["loc"])
            raise DocumentReadError(f"the JSON is not an invoice of the canonical model: {first['msg']}",
                                    location=where, fix="write it with `erechnung convert --to json`") from None
    return read_invoice(data)


def model_to_json(invoice: Invoice) -> bytes:
    return invoice.model_dump_json(indent=2, exclude_none=True).encode() + b"\n"


def convert(data: bytes, to: Target, profile: str = "EN16931") -> bytes:
    """Read ``data`` (UBL, CII, model JSON or hybrid PDF) and write it as ``to`` (``zugferd``: the hybrid PDF/A-3
    in ``profile`` EN16931 or XRECHNUNG)."""
    invoice = read_any(data)
    if to == "json":
        return model_to_json(invoice)
    if to == "zugferd":
        from .documents.hybrid import make_hybrid
        return make_hybrid(invoice, profile)
    return write_invoice(invoice, to)
