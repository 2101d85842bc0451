"""What a channel is handed: the document's bytes, file name, media type and subject (:class:`Content`, read by
a :data:`ContentLoader`, from the archive by :func:`archive_content`), and the format the channel sees."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from erechnung.state.schema import ArchiveItem, Document
from mailbox_connectors.base import Delivery as ChannelDelivery, DocumentFormat


@dataclass(frozen=True)
class Content:
    data: bytes
    filename: str
    media_type: str
    subject: str = ""
    body: str = ""


#: What the service needs to build a channel delivery: the document's bytes, file name and media type.
ContentLoader = Callable[[Session, Document], Content]


def archive_content(archive) -> ContentLoader:
    """A loader that reads the document from the archive (``erechnung.archive.Archive``) by its sha256."""

    def load(session: Session, doc: Document) -> Content:
        item = session.get(ArchiveItem, doc.sha256) if doc.sha256 else None
        if doc.sha256 is None:
            raise LookupError(f"document {doc.id} has no rendered content (sha256) to send")
        data = archive.get(doc.sha256)
        media_type = item.media_type if item is not None else (
            "application/xml" if doc.format in ("ubl", "cii") else "application/pdf")
        name = (item.meta or {}).get("original_name") if item is not None else None
        ext = ".xml" if media_type.endswith("xml") else ".pdf"
        return Content(data, name or f"{doc.number or doc.id}{ext}", media_type,
                       subject=subject(doc))

    return load


def subject(doc: Document) -> str:
    what = {"invoice": "Rechnung", "credit_note": "Gutschrift", "notice": "Bescheid"}.get(doc.kind, doc.kind)
    return f"{what} {doc.number or doc.id}"


def delivery_format(session: Session, doc: Document) -> str | None:
    """The format a channel sees (``mailbox_connectors.base.DocumentFormat`` value); a finished document passed
    through is XRechnung when archived as XML, else ZUGFeRD."""
    if doc.format != "passthrough":
        return _STATE_FORMATS.get(doc.format)
    item = session.get(ArchiveItem, doc.sha256) if doc.sha256 else None
    if item is None:
        return None
    return "xrechnung" if item.media_type.endswith("xml") else "zugferd"


_STATE_FORMATS = {"ubl": "xrechnung", "cii": "xrechnung", "zugferd": "zugferd", "notice_pdf": "pdfa"}


def channel_delivery(session: Session, d: Any, load: ContentLoader, doc: Document | None = None) -> ChannelDelivery:
    """The channel's delivery of ``d`` (a delivery row: key, document, kind, address), its content from ``load``."""
    doc = doc if doc is not None else session.get(Document, d.document_id)
    content = load(session, doc)
    fmt = DocumentFormat.of_state(doc.format) if doc.format != "passthrough" else (
        DocumentFormat.XRECHNUNG if content.media_type.endswith("xml") else DocumentFormat.ZUGFERD)
    return ChannelDelivery(delivery_id=d.idempotency_key, kind=d.kind, format=fmt, content=content.data,
                           filename=content.filename, media_type=content.media_type, address=d.address,
                           subject=content.subject or subject(doc), body=content.body)
