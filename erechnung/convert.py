"""Convert a document between UBL, CII and the canonical model's JSON (``erechnung convert``)."""
from __future__ import annotations

from typing import Literal

from pydantic import ValidationError

from .errors import DocumentReadError
from .model import Invoice
from .syntax import read_invoice, write_invoice

Target = Literal["ubl", "cii", "json"]
TARGETS: tuple[str, ...] = ("ubl", "cii", "json")


def read_any(data: bytes) -> Invoice:
    """Read UBL or CII XML, or the canonical model as JSON (what ``convert --to json`` writes)."""
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


def convert(data: bytes, to: Target) -> bytes:
    """Read ``data`` (UBL, CII or model JSON) and write it as ``to``."""
    invoice = read_any(data)
    if to == "json":
        return model_to_json(invoice)
    return write_invoice(invoice, to)
