"""PDF/A-3b from reportlab: draw on a canvas from ``new_canvas``, then ``finish`` makes the archive file.

    canvas = new_canvas(DocumentInfo(title="Bescheid 2026-17", author="Stadt Musterstadt"), design)
    fonts = canvas_fonts(canvas)            # the design's TrueType fonts, registered once per process
    canvas.setFont(fonts.bold, 12); canvas.drawString(...); canvas.showPage()
    pdf = finish(canvas_bytes(canvas), info)          # or finish(..., associated_files=[...], schemas=[...])

What makes it PDF/A-3 (ISO 19005-3, conformance level B):

* every font is a TrueType file embedded as a subset (reportlab's ``TTFont``); the canvas starts in the
  design's regular font (``initialFontName``), so no standard-14 font is ever referenced; text is passed
  through ``FontSet.clean`` so that no character maps to the .notdef glyph (6.2.11.8);
* one output intent ``/GTS_PDFA1`` with an sRGB ICC profile (made by Pillow/LittleCMS, ICC v4, class
  ``mntr``) for the DeviceRGB colours reportlab writes (6.2.3, 6.2.4.3);
* XMP metadata (uncompressed) with ``pdfaid:part=3``, ``pdfaid:conformance=B``, and the document information
  dictionary written from the same values (Title/dc:title, Author/dc:creator, Subject/dc:description,
  Keywords/pdf:Keywords, Creator/xmp:CreatorTool, Producer/pdf:Producer, CreationDate/xmp:CreateDate,
  ModDate/xmp:ModifyDate; 6.6.2.3); extension schemas (Factur-X) described with ``pdfaExtension``;
* associated files (PDF/A-3 6.8) as embedded file streams with MIME subtype, ``Params/ModDate``, file
  specifications with ``F``, ``UF``, ``Desc`` and ``AFRelationship``, listed in the catalog's ``/AF`` and
  ``/Names/EmbeddedFiles``;
* no encryption, JavaScript, actions or external references: reportlab writes none and nothing here adds one;
* file syntax: reportlab's streams end without an end-of-line before ``endstream`` (6.1.7.1), so ``finish``
  rewrites the file through qpdf (pikepdf), which also keeps the trailer ``/ID`` and the binary header comment.

Prepared once per process: the fonts (parsed and registered), the ICC profile and its compressed bytes, and
the logo's image XObject (``draw_image`` registers the same compressed image in every document); a
letterhead is a form XObject drawn once per document and placed on every page (see ``letter.py``).
``finish`` is one pikepdf open/save (about 0.3 ms for an invoice).
"""
from __future__ import annotations

import copy
import hashlib
import re
import io
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

import pikepdf
from reportlab import rl_config
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from ..config.design import Design, load_design

# ASCII85 makes every stream a quarter larger and costs time; PDF/A needs none of it. (Process-wide reportlab
# setting: every canvas here is made by new_canvas.)
rl_config.useA85 = 0


class _QuickFlate(pdfdoc.PDFStreamFilterZCompress):
    """FlateDecode at zlib level 1 instead of reportlab's default 6. Two font subsets of ~30 KB each are
    compressed for every document; at level 6 that was ~2.5 ms of a ~13 ms invoice, at level 1 it is a fifth
    of that, for files about 3 % larger (measured on the pipeline's invoices; Flate at any level is the same
    filter to a reader and to PDF/A)."""

    level = 1

    def encode(self, text: bytes | str) -> bytes:
        return zlib.compress(text.encode("utf-8") if isinstance(text, str) else text, self.level)


# reportlab looks ``pdfdoc.PDFZCompress`` up each time it compresses a stream (pages, forms, font files, CMaps):
# a process-wide setting like the one above.
pdfdoc.PDFZCompress = _QuickFlate()

PRODUCER = "erechnung (reportlab, pikepdf)"
RELATIONSHIPS = frozenset({"Source", "Data", "Alternative", "Supplement", "Unspecified"})


# --------------------------------------------------------------------------------------------- fonts


@dataclass(frozen=True)
class FontSet:
    """The reportlab names of a design's fonts, and the characters they can show."""

    regular: str
    bold: str
    italic: str
    size: float
    _covered: frozenset[int] = field(repr=False, default=frozenset())

    def clean(self, text: str) -> str:
        """``text`` with only characters every font of the set has a glyph for: others become their base
        letter (``ő`` -> ``o``) or ``?``, control characters (newlines too) a space (PDF/A forbids showing
        .notdef)."""
        if text.isascii() and text.isprintable():
            return text
        covered = self._covered
        if all(ord(c) in covered for c in text):
            return text
        out = []
        for c in text:
            if ord(c) in covered:
                out.append(c)
            elif unicodedata.category(c)[0] in "CZ":
                out.append(" ")
            else:
                base = "".join(b for b in unicodedata.normalize("NFKD", c) if ord(b) in covered
                               and not unicodedata.combining(b))
                out.append(base or "?")
        return "".join(out)


_GAPS = re.compile(r"[ \t\r\f\v]+")  # not the no-break space: "1.234,56\u00a0€" stays on one line


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """``text`` in lines no wider than ``width`` (words kept whole where they fit, newlines kept, runs of
    spaces collapsed); always at least one line. Clean the text first (``FontSet.clean``) where needed."""
    lines: list[str] = []
    space = stringWidth(" ", font, size)
    for paragraph in text.split("\n"):
        line: list[str] = []
        used = 0.0
        for word in _GAPS.split(paragraph):
            if not word:
                continue
            w = stringWidth(word, font, size)
            if w > width:  # a word longer than the line: break it between characters
                if line:
                    lines.append(" ".join(line))
                chunk = ""
                for ch in word:
                    if chunk and stringWidth(chunk + ch, font, size) > width:
                        lines.append(chunk)
                        chunk = ch
                    else:
                        chunk += ch
                line, used = [chunk], stringWidth(chunk, font, size)
            elif line and used + space + w > width:
                lines.append(" ".join(line))
                line, used = [word], w
            else:
                used += (space if line else 0) + w
                line.append(word)
        lines.append(" ".join(line))
    return lines


def _register(path: Path) -> tuple[str, frozenset[int]]:
    name = f"{path.stem}-{hashlib.sha1(str(path).encode()).hexdigest()[:6]}"
    try:
        font = pdfmetrics.getFont(name)
    except KeyError:
        font = TTFont(name, str(path))
        pdfmetrics.registerFont(font)
    covered = frozenset(c for c, glyph in font.face.charToGlyph.items() if glyph and c >= 0x20)
    return name, covered


@lru_cache(maxsize=8)
def _font_set(regular: Path, bold: Path, italic: Path | None, size: float) -> FontSet:
    names, covers = zip(*(_register(p) for p in (regular, bold, italic or regular)))
    return FontSet(*names, size=size, _covered=frozenset.intersection(*covers))


def fonts(design: Design | None = None) -> FontSet:
    """The design's fonts, registered with reportlab once per process."""
    f = (design or load_design()).fonts
    return _font_set(f.regular, f.bold, f.italic, f.size)


# --------------------------------------------------------------------------------------------- colour


@lru_cache(maxsize=1)
def srgb_icc() -> bytes:
    """An sRGB ICC profile (LittleCMS via Pillow, made here, not copied from anywhere)."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@lru_cache(maxsize=1)
def _srgb_icc_deflated() -> bytes:
    return zlib.compress(srgb_icc(), 9)


def rgb(hex_colour: str) -> tuple[float, float, float]:
    """``#1F4E79`` as reportlab's 0..1 RGB triple (drawn in DeviceRGB, interpreted through the sRGB intent)."""
    return tuple(int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------- document


@dataclass(frozen=True)
class DocumentInfo:
    """What the document information dictionary and the XMP metadata say about the document."""

    title: str
    author: str
    subject: str = ""
    keywords: str = ""
    creator: str = "erechnung"  # the application that made the content (xmp:CreatorTool)
    lang: str = "de-DE"
    created: datetime | None = None  # default: now, local time zone

    def timestamp(self) -> datetime:
        return (self.created or datetime.now()).astimezone().replace(microsecond=0)


@dataclass(frozen=True)
class AssociatedFile:
    """A file embedded as PDF/A-3 associated file of the whole document (catalog ``/AF``)."""

    filename: str
    data: bytes
    mime_type: str = "text/xml"
    relationship: str = "Alternative"  # Source, Data, Alternative, Supplement, Unspecified
    description: str = ""
    modified: datetime | None = None

    def __post_init__(self) -> None:
        if self.relationship not in RELATIONSHIPS:
            raise ValueError(f"AFRelationship {self.relationship!r}: use one of {sorted(RELATIONSHIPS)}")


@dataclass(frozen=True)
class XmpProperty:
    name: str
    value: str
    description: str
    value_type: str = "Text"
    category: str = "external"


@dataclass(frozen=True)
class XmpSchema:
    """A custom XMP schema with its PDF/A extension schema description (ISO 19005-3 6.6.2.3.2)."""

    title: str
    namespace: str
    prefix: str
    properties: tuple[XmpProperty, ...]


def new_canvas(info: DocumentInfo, design: Design | None = None, *, pagesize=A4) -> Canvas:
    """A reportlab canvas on an in-memory buffer, in the design's regular font, ready for PDF/A."""
    font_set = fonts(design)
    canvas = Canvas(io.BytesIO(), pagesize=pagesize, pdfVersion=(1, 7), lang=info.lang,
                    initialFontName=font_set.regular, initialFontSize=font_set.size, pageCompression=1)
    canvas._erechnung_fonts = font_set  # type: ignore[attr-defined]
    return canvas


def canvas_fonts(canvas: Canvas) -> FontSet:
    return canvas._erechnung_fonts  # type: ignore[attr-defined]


def canvas_bytes(canvas: Canvas) -> bytes:
    """Save the canvas (made by ``new_canvas``) and return reportlab's PDF (not yet PDF/A: see ``finish``)."""
    canvas.save()
    return canvas._filename.getvalue()  # the BytesIO given to Canvas()


def render(draw: Callable[[Canvas], None], info: DocumentInfo, design: Design | None = None, *,
           associated_files: Sequence[AssociatedFile] = (), schemas: Sequence[XmpSchema] = ()) -> bytes:
    """``draw(canvas)`` on a new canvas, then ``finish``: PDF/A-3b bytes."""
    canvas = new_canvas(info, design)
    draw(canvas)
    return finish(canvas_bytes(canvas), info, associated_files=associated_files, schemas=schemas)


# --------------------------------------------------------------------------------------------- images


@lru_cache(maxsize=16)
def _image_xobject(path: str):
    """reportlab's image XObject for a file, compressed once per process (its ``format`` does not change it)."""
    from reportlab.pdfbase.pdfdoc import PDFImageXObject

    obj = PDFImageXObject(_image_name(path), path)
    if getattr(obj, "_smask", None) is not None or obj.mask:
        raise ValueError(f"{path}: transparent logos are not supported - save it without alpha channel")
    return obj


def _image_name(path: str) -> str:
    from reportlab.pdfgen.canvas import _digester

    return _digester(f"{path}{None}".encode())  # what Canvas.drawImage names a file drawn with mask=None


def draw_image(canvas: Canvas, path: Path | str, x: float, y: float, width: float, height: float) -> None:
    """``canvas.drawImage(path, ...)`` without reading and compressing the file again for every document: the
    process's XObject is registered under the name drawImage looks up, so drawImage finds it."""
    path = str(path)
    name = _image_name(path)
    doc = canvas._doc
    reg_name = doc.getXObjectName(name)
    if reg_name not in doc.idToObject:
        obj = copy.copy(_image_xobject(path))  # reportlab marks what it registers; the bytes are shared
        doc.Reference(obj, reg_name)
        doc.addForm(name, obj)
    canvas.drawImage(path, x, y, width, height)


@lru_cache(maxsize=16)
def image_size(path: Path | str) -> tuple[int, int]:
    obj = _image_xobject(str(path))
    return obj.width, obj.height


# --------------------------------------------------------------------------------------------- finish


def _pdf_date(ts: datetime) -> str:
    offset = ts.strftime("%z") or "+0000"
    return ts.strftime("D:%Y%m%d%H%M%S") + f"{offset[:3]}'{offset[3:]}'"


def _xmp_date(ts: datetime) -> str:
    return ts.isoformat()


def xmp_packet(info: DocumentInfo, schemas: Iterable[XmpSchema] = (), timestamp: datetime | None = None) -> bytes:
    """The XMP metadata: PDF/A identification, the document information in XMP, custom schemas and their
    PDF/A extension schema descriptions."""
    ts = _xmp_date(timestamp or info.timestamp())
    e = escape
    schemas = tuple(schemas)
    parts = [
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n',
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n',
        '<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">'
        '<pdfaid:part>3</pdfaid:part><pdfaid:conformance>B</pdfaid:conformance></rdf:Description>\n',
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        '<dc:format>application/pdf</dc:format>'
        f'<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{e(info.title)}</rdf:li></rdf:Alt></dc:title>'
        f'<dc:creator><rdf:Seq><rdf:li>{e(info.author)}</rdf:li></rdf:Seq></dc:creator>',
        (f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{e(info.subject)}</rdf:li></rdf:Alt>'
         '</dc:description>' if info.subject else ''),
        f'<dc:language><rdf:Bag><rdf:li>{e(info.lang)}</rdf:li></rdf:Bag></dc:language>' if info.lang else '',
        '</rdf:Description>\n',
        '<rdf:Description rdf:about="" xmlns:pdf="http://ns.adobe.com/pdf/1.3/">'
        f'<pdf:Producer>{e(PRODUCER)}</pdf:Producer>',
        f'<pdf:Keywords>{e(info.keywords)}</pdf:Keywords>' if info.keywords else '',
        '</rdf:Description>\n',
        '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/">'
        f'<xmp:CreatorTool>{e(info.creator)}</xmp:CreatorTool><xmp:CreateDate>{ts}</xmp:CreateDate>'
        f'<xmp:ModifyDate>{ts}</xmp:ModifyDate><xmp:MetadataDate>{ts}</xmp:MetadataDate></rdf:Description>\n',
    ]
    if schemas:
        parts.append('<rdf:Description rdf:about="" xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/" '
                     'xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#" '
                     'xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">'
                     '<pdfaExtension:schemas><rdf:Bag>')
        for s in schemas:
            parts.append(f'<rdf:li rdf:parseType="Resource"><pdfaSchema:schema>{e(s.title)}</pdfaSchema:schema>'
                         f'<pdfaSchema:namespaceURI>{e(s.namespace)}</pdfaSchema:namespaceURI>'
                         f'<pdfaSchema:prefix>{e(s.prefix)}</pdfaSchema:prefix><pdfaSchema:property><rdf:Seq>')
            for p in s.properties:
                parts.append(f'<rdf:li rdf:parseType="Resource"><pdfaProperty:name>{e(p.name)}</pdfaProperty:name>'
                             f'<pdfaProperty:valueType>{e(p.value_type)}</pdfaProperty:valueType>'
                             f'<pdfaProperty:category>{e(p.category)}</pdfaProperty:category>'
                             f'<pdfaProperty:description>{e(p.description)}</pdfaProperty:description></rdf:li>')
            parts.append('</rdf:Seq></pdfaSchema:property></rdf:li>')
        parts.append('</rdf:Bag></pdfaExtension:schemas></rdf:Description>\n')
        for s in schemas:
            parts.append(f'<rdf:Description rdf:about="" xmlns:{s.prefix}="{e(s.namespace)}">')
            parts.extend(f'<{s.prefix}:{p.name}>{e(p.value)}</{s.prefix}:{p.name}>' for p in s.properties)
            parts.append('</rdf:Description>\n')
    parts.append('</rdf:RDF>\n</x:xmpmeta>\n' + ' ' * 1024 + '\n<?xpacket end="w"?>')
    return "".join(parts).encode("utf-8")


def _output_intent(pdf: pikepdf.Pdf) -> pikepdf.Object:
    profile = pikepdf.Stream(pdf, _srgb_icc_deflated())
    profile.Filter = pikepdf.Name.FlateDecode
    profile.N = 3
    return pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.OutputIntent, S=pikepdf.Name.GTS_PDFA1, OutputConditionIdentifier="sRGB IEC61966-2.1",
        Info="sRGB IEC61966-2.1", RegistryName="http://www.color.org", DestOutputProfile=pdf.make_indirect(profile)))


def _filespec(pdf: pikepdf.Pdf, f: AssociatedFile, ts: datetime) -> pikepdf.Object:
    stream = pikepdf.Stream(pdf, zlib.compress(f.data, 6))
    stream.Filter = pikepdf.Name.FlateDecode
    stream.Type = pikepdf.Name.EmbeddedFile
    stream.Subtype = pikepdf.Name("/" + f.mime_type)
    stream.Params = pikepdf.Dictionary(ModDate=_pdf_date((f.modified or ts).astimezone()), Size=len(f.data),
                                       CheckSum=pikepdf.String(hashlib.md5(f.data).digest()))
    ref = pdf.make_indirect(stream)
    return pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Filespec, F=f.filename, UF=f.filename, Desc=f.description or f.filename,
        AFRelationship=pikepdf.Name("/" + f.relationship), EF=pikepdf.Dictionary(F=ref, UF=ref)))


def finish(pdf_bytes: bytes, info: DocumentInfo, *, associated_files: Sequence[AssociatedFile] = (),
           schemas: Sequence[XmpSchema] = ()) -> bytes:
    """PDF/A-3b from reportlab's PDF (or from a PDF/A-3 made here before, to add files): output intent,
    XMP and document information from ``info``, associated files; written anew by qpdf."""
    ts = info.timestamp()
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        root = pdf.Root
        intents = [oi for oi in root.get("/OutputIntents", pikepdf.Array()) if oi.get("/S") == "/GTS_PDFA1"]
        if not intents:
            root.OutputIntents = pikepdf.Array([_output_intent(pdf)])
        if associated_files:
            names = {str(n): spec for n, spec in _embedded_files(pdf)}
            for f in associated_files:
                names[f.filename] = _filespec(pdf, f, ts)
            af = [spec for spec in root.get("/AF", pikepdf.Array()) if str(spec.get("/F")) not in names]
            af.extend(names[f.filename] for f in associated_files)
            root.AF = pdf.make_indirect(pikepdf.Array(af))
            if "/Names" not in root:
                root.Names = pikepdf.Dictionary()
            flat = []
            for name in sorted(names):
                flat.extend((pikepdf.String(name), names[name]))
            root.Names.EmbeddedFiles = pikepdf.Dictionary(Names=pikepdf.Array(flat))
        metadata = pikepdf.Stream(pdf, xmp_packet(info, schemas, ts))
        metadata.Type = pikepdf.Name.Metadata
        metadata.Subtype = pikepdf.Name.XML
        root.Metadata = pdf.make_indirect(metadata)
        if info.lang:
            root.Lang = info.lang
        date = _pdf_date(ts)
        doc_info = pikepdf.Dictionary(Title=info.title, Author=info.author, Creator=info.creator,
                                      Producer=PRODUCER, CreationDate=date, ModDate=date)
        if info.subject:
            doc_info.Subject = info.subject
        if info.keywords:
            doc_info.Keywords = info.keywords
        pdf.trailer.Info = pdf.make_indirect(doc_info)
        out = io.BytesIO()
        # Streams stay as they are (reportlab and the code above compress them; XMP must stay readable);
        # the metadata version is ours, so pikepdf need not open and rewrite it.
        pdf.save(out, compress_streams=False, fix_metadata_version=False,
                 object_stream_mode=pikepdf.ObjectStreamMode.disable)
        return out.getvalue()


def _embedded_files(pdf: pikepdf.Pdf) -> list[tuple[pikepdf.Object, pikepdf.Object]]:
    """(name, file specification) of every embedded file in the catalog's name tree (flat or with kids)."""
    tree = pdf.Root.get("/Names", {}).get("/EmbeddedFiles") if "/Names" in pdf.Root else None
    if tree is None:
        return []
    return [(name, spec) for name, spec in pikepdf.NameTree(tree).items()]
