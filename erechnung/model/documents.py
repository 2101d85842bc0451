"""What the pipeline makes of a record: the kind of document and the form it is rendered in. The values are the
strings the state database and the files keep (``documents.kind``, ``documents.format``); the schema's check
constraints are derived from these enums."""
from __future__ import annotations

from enum import StrEnum


class DocumentKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    NOTICE = "notice"  # Bescheid


#: The kinds that are invoices in EN 16931 (a credit note is one with type code 381).
INVOICE_KINDS = frozenset({DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE})


class DocumentFormat(StrEnum):
    """The form a document is rendered in (``pipeline.render.choose_format``)."""

    UBL = "ubl"  # XRechnung in UBL (public bodies, Peppol)
    CII = "cii"  # XRechnung in CII (companies)
    ZUGFERD = "zugferd"  # hybrid PDF/A-3 letter with the CII embedded (citizens)
    NOTICE_PDF = "notice_pdf"  # a notice (Bescheid) as PDF/A letter
    PASSTHROUGH = "passthrough"  # a finished document a department delivered (xml or pdf), kept as it is
