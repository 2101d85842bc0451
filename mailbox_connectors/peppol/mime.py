"""MIME multipart/related for SOAP with Attachments (RFC 2387; ebMS3 core section 5.1.1; Peppol AS4 profile 2.0
section 3.4): the SOAP envelope as the first (start) part, each payload as a binary part named by Content-ID.

Parsing is bounded and strict: the boundary from the Content-Type, parts separated by CRLF ``--boundary``, each
part's header block at most 8 KiB, at most 16 parts; bodies are taken as they are (``binary`` or ``8bit``;
``base64`` is decoded)."""
from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass, field

from .errors import As4Error

__all__ = ["Part", "build", "media_type", "parse", "params"]

_MAX_PARTS = 16
_MAX_HEAD = 8192
_PARAM = re.compile(r';\s*([A-Za-z0-9_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


@dataclass(frozen=True)
class Part:
    content_id: str  # without angle brackets
    content_type: str
    data: bytes = field(repr=False)


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def params(content_type: str) -> dict[str, str]:
    out = {}
    for name, value in _PARAM.findall(content_type):
        value = value.strip()
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out[name.lower()] = value
    return out


def build(parts: list[Part], *, start_type: str = "application/soap+xml") -> tuple[str, bytes]:
    """The Content-Type header and the body of a multipart/related message whose first part is the start."""
    boundary = f"----=_Part_{secrets.token_hex(16)}"
    chunks = []
    for part in parts:
        chunks.append(f"--{boundary}\r\nContent-Type: {part.content_type}\r\nContent-Transfer-Encoding: binary\r\n"
                      f"Content-ID: <{part.content_id}>\r\n\r\n".encode("ascii"))
        chunks.append(part.data)
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode("ascii"))
    content_type = (f'multipart/related; boundary="{boundary}"; type="{start_type}"; '
                    f'start="<{parts[0].content_id}>"')
    return content_type, b"".join(chunks)


def _headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    last = None
    for line in block.decode("latin-1").split("\r\n"):
        if line[:1] in (" ", "\t") and last:
            headers[last] += " " + line.strip()
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise As4Error("EBMS:0007", "a MIME part has a broken header line")
        last = name.strip().lower()
        headers[last] = value.strip()
    return headers


def parse(content_type: str, body: bytes) -> list[Part]:
    """The parts of a multipart/related body, the start part first; raises As4Error EBMS:0007."""
    boundary = params(content_type).get("boundary", "")
    if not boundary or len(boundary) > 70:
        raise As4Error("EBMS:0007", "the multipart message names no usable boundary")
    delimiter = b"--" + boundary.encode("latin-1")
    if not body.startswith(delimiter):
        # a preamble is allowed: skip to the first delimiter at a line start
        at = body.find(b"\r\n" + delimiter)
        if at < 0:
            raise As4Error("EBMS:0007", "the multipart body does not contain its boundary")
        body = body[at + 2:]
    chunks = body.split(b"\r\n" + delimiter)
    first = chunks[0][len(delimiter):]
    chunks = [first, *chunks[1:]]
    parts: list[Part] = []
    closed = False
    for chunk in chunks:
        if chunk.startswith(b"--"):
            closed = True
            break
        if not chunk.startswith(b"\r\n"):
            chunk = chunk.lstrip(b" \t")
            if not chunk.startswith(b"\r\n"):
                raise As4Error("EBMS:0007", "a MIME boundary line is followed by garbage")
        head_end = chunk.find(b"\r\n\r\n", 0, _MAX_HEAD)
        if head_end < 0:
            if chunk.find(b"\r\n\r\n") < 0 and chunk.strip() == b"":
                raise As4Error("EBMS:0007", "an empty MIME part")
            raise As4Error("EBMS:0007", "a MIME part's header block is missing or too long")
        headers = _headers(chunk[2:head_end]) if head_end > 2 else {}
        data = chunk[head_end + 4:]
        encoding = headers.get("content-transfer-encoding", "binary").lower()
        if encoding == "base64":
            try:
                data = base64.b64decode(b"".join(data.split()), validate=True)
            except (binascii.Error, ValueError):
                raise As4Error("EBMS:0007", "a base64 MIME part does not decode") from None
        elif encoding not in ("binary", "8bit", "7bit"):
            raise As4Error("EBMS:0007", f"the transfer encoding {encoding} is not supported")
        cid = headers.get("content-id", "").strip().removeprefix("<").removesuffix(">")
        parts.append(Part(cid, headers.get("content-type", "text/plain"), data))
        if len(parts) > _MAX_PARTS:
            raise As4Error("EBMS:0007", f"the message has more than {_MAX_PARTS} MIME parts")
    if not closed or not parts:
        raise As4Error("EBMS:0007", "the multipart message is cut off (no closing boundary)")
    start = params(content_type).get("start", "").strip().removeprefix("<").removesuffix(">")
    if start:
        index = next((i for i, p in enumerate(parts) if p.content_id == start), None)
        if index is None:
            raise As4Error("EBMS:0007", f"the start part <{start}> is not in the message")
        parts.insert(0, parts.pop(index))
    return parts
