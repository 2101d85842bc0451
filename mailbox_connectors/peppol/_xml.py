"""One hardened way to parse what comes from the Peppol network: no DTD, no entities, no network, bounded size.

Comments and processing instructions are kept (the exclusive canonicalization of XML-DSig drops comments itself,
and removing a processing instruction would change a signed digest)."""
from __future__ import annotations

from lxml import etree

__all__ = ["XmlRefused", "parse"]

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                          huge_tree=False, remove_blank_text=False)


class XmlRefused(ValueError):
    """Not well-formed, too large, or with a DOCTYPE (the message says which)."""


def parse(data: bytes, *, max_bytes: int, what: str) -> etree._Element:
    if len(data) > max_bytes:
        raise XmlRefused(f"{what} has {len(data)} bytes, more than the {max_bytes} accepted")
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise XmlRefused(f"{what} is not well-formed XML ({exc})") from None
    if root.getroottree().docinfo.doctype:
        raise XmlRefused(f"{what} has a DOCTYPE, which Peppol messages must not have")
    return root
