"""What a channel is handed: the document's bytes, file name, media type and subject (:class:`Content`, read by
a :data:`ContentLoader`, from the archive by :func:`archive_content`), and the format the channel sees."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from erechnung.model.delivery import DeliveryFormat
from erechnung.model.documents import DocumentFormat, DocumentKind
from erechnung.state.schema import ArchiveItem, Document
from mailbox_connectors.base import Delivery as ChannelDelivery


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
            raise LookupError(f"Dokument {doc.id} hat keinen erzeugten Inhalt (sha256) zum Versenden")
        data = archive.get(doc.sha256)
        media_type = item.media_type if item is not None else (
            "application/xml" if doc.format in ("ubl", "cii") else "application/pdf")
        name = (item.meta or {}).get("original_name") if item is not None else None
        ext = ".xml" if media_type.endswith("xml") else ".pdf"
        return Content(data, name or f"{doc.number or doc.id}{ext}", media_type,
                       subject=subject(doc))

    return load


def subject(doc: Document) -> str:
    what = {DocumentKind.INVOICE: "Rechnung", DocumentKind.CREDIT_NOTE: "Gutschrift",
            DocumentKind.NOTICE: "Bescheid"}.get(doc.kind, doc.kind)
    return f"{what} {doc.number or doc.id}"


def delivery_format(session: Session, doc: Document) -> DeliveryFormat | None:
    """The format a channel sees; a finished document passed through is XRechnung when archived as XML, else
    ZUGFeRD."""
    if doc.format != DocumentFormat.PASSTHROUGH:
        try:
            return DeliveryFormat.of(doc.format)
        except ValueError:
            return None
    item = session.get(ArchiveItem, doc.sha256) if doc.sha256 else None
    if item is None:
        return None
    return DeliveryFormat.XRECHNUNG if item.media_type.endswith("xml") else DeliveryFormat.ZUGFERD


def channel_delivery(session: Session, d: Any, load: ContentLoader, doc: Document | None = None, *,
                     services: Any = None, officer: str = "") -> ChannelDelivery:
    """The channel's delivery of ``d`` (a delivery row: key, document, kind, address, route), its content from
    ``load``; a notice served on this hop (förmliche Zustellung) carries its ``ServiceOrder``, and served against
    acknowledgement its subject and text say so (§ 5 Abs. 4 VwZG: ``service.acknowledgement_text``)."""
    doc = doc if doc is not None else session.get(Document, d.document_id)
    content = load(session, doc)
    fmt = DeliveryFormat.of(doc.format) if doc.format != DocumentFormat.PASSTHROUGH else (
        DeliveryFormat.XRECHNUNG if content.media_type.endswith("xml") else DeliveryFormat.ZUGFERD)
    title, body, order = content.subject or subject(doc), content.body, None
    if services is not None and getattr(d, "route", None):
        from .service import acknowledgement_text, service_order

        order = service_order(d, content.data, services, officer)
        if order is not None and order.proof == "empfangsbekenntnis":
            title, body = f"{order.marking}: {title}", acknowledgement_text(order, title, content.filename)
    return ChannelDelivery(delivery_id=d.idempotency_key, kind=d.kind, format=fmt, content=content.data,
                           filename=content.filename, media_type=content.media_type, address=d.address,
                           subject=title, body=body, service=order)
