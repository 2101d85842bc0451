"""The gate every document passes before anything else looks at it: hostile or broken input stops here.

What the gate guarantees (so that Saxon and the XSD validator only ever see a plain, bounded tree):

- no network access and no external entities, ever: lxml parser with ``no_network=True``, ``load_dtd=False``,
  ``resolve_entities=False``;
- no document type declaration at all: a ``<!DOCTYPE`` in the prolog is refused before parsing, as the KoSIT
  validator's secure parser does (it sets ``http://apache.org/xml/features/disallow-doctype-decl``). That also
  removes entity expansion attacks (billion laughs, quadratic blow-up) and XXE, which all need a DTD;
- bounded size (``Limits.max_bytes``, checked before parsing; for a file, before reading it: ``read_document``
  refuses a file by its size and never reads more than the limit and one byte) and bounded element nesting
  (``Limits.max_depth``, checked on the parsed tree; libxml2 itself stops a hostile document at 2048 levels, so
  nesting can never exhaust memory or the stack);
- empty input, non-XML input and truncated XML are refused with a reason a clerk can read.

Each refusal is a :class:`ValidationInputError` with a stable ``code``
(``xml-empty``, ``xml-too-large``, ``xml-doctype-forbidden``, ``xml-not-wellformed``, ``xml-too-deep``).
"""
from __future__ import annotations

import codecs
import functools
import os
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from erechnung.errors import ErechnungError

#: Default upper bound of a document's size. The largest XRechnung documents seen in practice carry a few MB of
#: base64 attachments; 20 MB leaves room and keeps memory per worker bounded.
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
#: Default upper bound of element nesting. UBL and CII invoices nest about 10 deep; extensions a few more.
DEFAULT_MAX_DEPTH = 200


class ValidationInputError(ErechnungError):
    """The bytes handed in are not a document we may process; ``code`` says why, ``problem`` in plain words."""

    def __init__(self, code: str, problem: str, *, line: int | None = None, column: int | None = None,
                 fix: str | None = None) -> None:
        self.code, self.problem, self.line, self.column, self.fix = code, problem, line, column, fix
        where = f" (line {line}, column {column})" if line else ""
        super().__init__(f"{problem}{where}" + (f" - {fix}" if fix else ""))


#: How much of a file is looked at to tell a hybrid PDF from XML before its size limit is chosen (``pdf.is_pdf``).
HEAD_BYTES = 1024


@dataclass(frozen=True)
class Limits:
    """Resource limits of the gate. Both are checked before the document reaches XSD or Schematron."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH


def _decode_prolog(head: bytes) -> str:
    """The first bytes as text, good enough to read the prolog (XML 1.0 appendix F: autodetection by BOM or
    by the first characters); undecodable bytes are replaced, the parser judges them later."""
    for bom, enc in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                     (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom):
            return head[len(bom):].decode(enc, errors="replace")
    if head.startswith(b"<\x00"):
        return head.decode("utf-16-le", errors="replace")
    if head.startswith(b"\x00<"):
        return head.decode("utf-16-be", errors="replace")
    return head.decode("latin-1")


def has_doctype(data: bytes, window: int = 64 * 1024) -> bool:
    """True when the prolog (what precedes the root element) holds a document type declaration.

    Only the prolog is read (XML 1.0 production ``prolog``: XML declaration, comments, processing instructions,
    white space and at most one ``doctypedecl``), so the text ``<!DOCTYPE`` inside an element's content, a comment
    or a CDATA section later in the document is not mistaken for one. The prolog is read in a growing window, so
    a long prolog (say 100 kB of comments) cannot hide a DOCTYPE behind it.
    """
    while True:
        text = _decode_prolog(data[:window])
        complete = window >= len(data)
        pos, n = 0, len(text)
        while True:
            while pos < n and text[pos] in " \t\r\n":
                pos += 1
            if text.startswith("<!DOCTYPE", pos) or text.startswith("<!doctype", pos):
                return True
            if text.startswith("<?", pos):
                end, skip = text.find("?>", pos + 2), 2
            elif text.startswith("<!--", pos):
                end, skip = text.find("-->", pos + 4), 3
            elif pos >= n or n - pos < len("<!DOCTYPE"):
                end, skip = -1, 0  # ran out of text while still in the prolog
            else:
                return False  # the root element (or garbage) begins: no DOCTYPE
            if end < 0:
                break
            pos = end + skip
        if complete:
            return False
        window *= 4


@functools.lru_cache(maxsize=8)
def _deeper_than(max_depth: int) -> etree.XPath:
    """An XPath selecting the first element nested deeper than ``max_depth`` (``/*`` is level 1), evaluated in C:
    the depth check costs a fraction of counting levels in Python while parsing."""
    return etree.XPath("(" + "/*" * (max_depth + 1) + ")[1]")


def deeper_than(root: etree._Element, max_depth: int) -> etree._Element | None:
    """The first element of ``root``'s document nested deeper than ``max_depth`` levels, or None."""
    found = _deeper_than(max_depth)(root)
    return found[0] if found else None


def _too_large(code: str, size: int | None, max_bytes: int) -> ValidationInputError:
    has = f"{size:,} bytes" if size is not None else "more bytes than it said"
    return ValidationInputError(code, f"the document has {has}, more than the limit of {max_bytes:,}",
                                fix="send attachments separately or ask the operator to raise the size limit")


def read_untrusted(path: str | Path, max_bytes: int, code: str = "xml-too-large") -> bytes:
    """The bytes of the file at ``path``, or :class:`ValidationInputError` (``code``) when it holds more than
    ``max_bytes``: its size is checked before anything is read, and the read stops at ``max_bytes`` + 1 bytes
    whatever the size said (a file still growing, a special file). ``OSError`` when it cannot be opened."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > max_bytes:
            raise _too_large(code, size, max_bytes)
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _too_large(code, None, max_bytes)
    return data


def read_document(path: str | Path, limits: Limits = Limits(), max_pdf_bytes: int | None = None) -> bytes:
    """An invoice file as ``validate`` and ``show`` take it: a hybrid PDF (by its name or its first bytes,
    ``is_pdf``) within ``max_pdf_bytes`` (default ``PdfLimits``), refused as ``pdf-too-large``; anything
    else is XML within ``limits.max_bytes``, refused as ``xml-too-large``; either before it is read."""
    from erechnung.documents.embedded import PdfLimits, is_pdf

    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    if is_pdf(head, str(path)):
        return read_untrusted(path, max_pdf_bytes or PdfLimits().max_pdf_bytes, "pdf-too-large")
    return read_untrusted(path, limits.max_bytes, "xml-too-large")


def parse_untrusted(data: bytes, limits: Limits = Limits()) -> etree._ElementTree:
    """Parse ``data`` into an lxml tree, or raise :class:`ValidationInputError`.

    The tree keeps line numbers (``sourceline``), so XSD and Schematron findings can point at lines.
    ``huge_tree`` is on only to allow large text nodes (base64 attachments above libxml2's 10 MB text limit);
    the protections it switches off concern entity expansion, which cannot happen without a DTD, and depth:
    libxml2 still stops at 2048 levels, and ``limits.max_depth`` is enforced on the parsed tree.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"document must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) > limits.max_bytes:
        raise _too_large("xml-too-large", len(data), limits.max_bytes)
    if not data.strip(b" \t\r\n\x00"):
        raise ValidationInputError("xml-empty", "the document is empty", fix="send the invoice XML file itself")
    if has_doctype(data):
        raise ValidationInputError(
            "xml-doctype-forbidden",
            "the document contains a document type declaration (<!DOCTYPE ...>), which e-invoices must not have",
            fix="remove the DOCTYPE declaration; XRechnung documents are described by XML Schema only")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                             huge_tree=True, remove_comments=False, remove_pis=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line, column = (exc.position if exc.position else (None, None))
        if exc.code == etree.ErrorTypes.ERR_RESOURCE_LIMIT and "depth" in (exc.msg or ""):
            # libxml2 itself stops at 2048 levels (its limit with huge_tree), long before memory is at risk
            raise ValidationInputError(
                "xml-too-deep", f"elements are nested more than {limits.max_depth} levels deep", line=line,
                fix="check the exporting system; invoices nest about 10 levels") from None
        raise ValidationInputError(
            "xml-not-wellformed", f"the document is not well-formed XML: {exc.msg}", line=line, column=column,
            fix="the file is damaged, truncated or not an XML file") from None
    if root is None:
        raise ValidationInputError("xml-not-wellformed", "the document has no root element",
                                   fix="the file is damaged, truncated or not an XML file")
    too_deep = deeper_than(root, limits.max_depth)
    if too_deep is not None:
        raise ValidationInputError(
            "xml-too-deep", f"elements are nested more than {limits.max_depth} levels deep",
            line=too_deep.sourceline, fix="check the exporting system; invoices nest about 10 levels")
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None or tree.docinfo.externalDTD is not None:
        raise ValidationInputError("xml-doctype-forbidden",
                                   "the document contains a document type declaration, which e-invoices must not have")
    return tree
