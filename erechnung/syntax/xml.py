"""One safe way to parse XML for the readers: no DTDs, no entities, no network, bounded size."""
from __future__ import annotations

from lxml import etree

from ..errors import DocumentReadError

MAX_BYTES = 50 * 1024 * 1024

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                          huge_tree=False, remove_blank_text=False, remove_comments=True, remove_pis=True)


def parse(data: bytes | etree._Element) -> etree._Element:
    """Parse ``data`` into an element; refuses DOCTYPEs, entity tricks and oversized input."""
    if isinstance(data, etree._Element):
        return data
    if not data or not data.strip():
        raise DocumentReadError("the file is empty", fix="send the invoice XML itself")
    if len(data) > MAX_BYTES:
        raise DocumentReadError(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise DocumentReadError(f"not well-formed XML: {exc}", fix="export the document again") from None
    if root.getroottree().docinfo.doctype:
        raise DocumentReadError("the document has a DOCTYPE, which invoices must not have",
                                fix="remove the DOCTYPE declaration")
    return root
