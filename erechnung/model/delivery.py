"""How a document reaches its recipient: the delivery channels, and the format of a document as a channel sees
it. The values are the strings the recipient register, the configuration's ``[delivery.<channel>]`` tables and
the state database keep."""
from __future__ import annotations

from enum import StrEnum

from .documents import DocumentFormat


class Channel(StrEnum):
    BUNDID = "bundid"  # BundID postbox (mailboxUuid)
    ELSTER = "elster"  # ELSTER (Mein ELSTER postbox, for tax notices)
    EMAIL = "email"
    PEPPOL = "peppol"  # e-invoice to a Leitweg-ID / Peppol participant
    PRINT = "print"  # letter by post


class DeliveryFormat(StrEnum):
    """A document's format as a channel sees it (what ``Capabilities.formats`` accept)."""

    XRECHNUNG = "xrechnung"  # XRechnung XML (UBL or CII), application/xml
    ZUGFERD = "zugferd"  # hybrid PDF/A-3 with embedded CII (ZUGFeRD / Factur-X), application/pdf
    PDFA = "pdfa"  # a PDF/A without invoice data (a notice letter), application/pdf

    @classmethod
    def of(cls, document_format: str) -> DeliveryFormat:
        """The format of a rendered document (``DocumentFormat``) as a channel sees it."""
        try:
            return _OF_DOCUMENT_FORMAT[DocumentFormat(document_format)]
        except (KeyError, ValueError):
            raise ValueError(f"no delivery format for document format {str(document_format)!r}") from None


_OF_DOCUMENT_FORMAT = {DocumentFormat.UBL: DeliveryFormat.XRECHNUNG, DocumentFormat.CII: DeliveryFormat.XRECHNUNG,
                       DocumentFormat.ZUGFERD: DeliveryFormat.ZUGFERD, DocumentFormat.NOTICE_PDF: DeliveryFormat.PDFA}
