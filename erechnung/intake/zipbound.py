"""An XLSX is a ZIP archive: measured here before openpyxl may open it (issue 10, bounded decompression).

Two checks, because the sizes an archive declares can lie:

1. the declared sizes (central directory): their sum against ``max_decompressed_bytes`` and against
   ``max_compression_ratio`` times the file's size;
2. every member inflated as a stream, in small pieces, counting what comes out, and stopped the moment the count
   passes either bound. Nothing but the count is kept, so measuring a zip bomb costs one piece of memory.

Only the methods an XLSX uses (stored, deflate; ECMA-376 Part 2, ``[MS-XLSX]``) are accepted: openpyxl's
``zipfile`` would also inflate bzip2 and LZMA, which no spreadsheet program writes.
"""
from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterator

from ..config.limits import IntakeLimits

PIECE = 64 * 1024
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, ..., file name length, extra field length (APPNOTE 4.3.7)
_LOCAL_SIGNATURE = b"PK\x03\x04"


class UnsupportedZip(zipfile.BadZipFile):
    """An archive member compressed with a method no XLSX uses, or encrypted."""


def check_archive(data: bytes, limits: IntakeLimits) -> None:
    """Raise ``LimitExceeded`` when ``data`` (a ZIP) inflates to more than the limits allow, ``BadZipFile`` when
    it is no readable ZIP. Reads nothing but the archive's directory and a counter per inflated piece."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.infolist()
    by_ratio = limits.max_compression_ratio * len(data)
    declared = sum(m.file_size for m in members)
    limits.check("max_decompressed_bytes", declared)
    if declared > by_ratio:
        raise limits.exceeded("max_compression_ratio")
    total = 0
    for member in members:
        for piece in inflated_pieces(data, member):
            total += piece
            limits.check("max_decompressed_bytes", total)
            if total > by_ratio:
                raise limits.exceeded("max_compression_ratio")


def inflated_pieces(data: bytes, member: zipfile.ZipInfo) -> Iterator[int]:
    """The sizes of ``member``'s content as it inflates, piece by piece (at most ``PIECE`` bytes each), taken from
    the compressed bytes themselves, not from the sizes the archive declares."""
    if member.flag_bits & 0x1:
        raise UnsupportedZip(f"{member.filename} is encrypted")
    start = member.header_offset
    if start < 0 or start + _LOCAL_HEADER.size > len(data):
        raise zipfile.BadZipFile(f"{member.filename}: no local file header")
    signature, name_length, extra_length = _LOCAL_HEADER.unpack_from(data, start)
    if signature != _LOCAL_SIGNATURE:
        raise zipfile.BadZipFile(f"{member.filename}: no local file header")
    begin = start + _LOCAL_HEADER.size + name_length + extra_length
    compressed = memoryview(data)[begin:begin + member.compress_size]
    if member.compress_type == zipfile.ZIP_STORED:
        yield len(compressed)
        return
    if member.compress_type != zipfile.ZIP_DEFLATED:
        raise UnsupportedZip(f"{member.filename}: compression method {member.compress_type}")
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    for at in range(0, len(compressed), PIECE):
        pending = compressed[at:at + PIECE]
        while pending and not inflater.eof:
            try:
                yield len(inflater.decompress(pending, PIECE))
            except zlib.error as exc:
                raise zipfile.BadZipFile(f"{member.filename}: {exc}") from None
            pending = inflater.unconsumed_tail
        if inflater.eof:
            return
