"""``pdfa_problems(pdf)``: the PDF/A-3 properties that break in practice, checked with pikepdf.

No full PDF/A validator runs here (veraPDF is not installable; ``pikepdf``'s own check rejects Factur-X by
design), so this checks, and names with their ISO 19005-3 clause, what a generator like ours can get wrong:

file structure
    6.1.2  header ``%PDF-1.n`` and a comment of at least four bytes > 127 on the second line
    6.1.3  trailer ``/ID``; no ``/Encrypt``
    6.1.7  ``stream`` followed by an end-of-line, ``endstream`` preceded by one; no ``/F``, ``/FFilter``,
           ``/FDecodeParms`` in stream dictionaries (external stream data); no LZW
colour
    6.2.3  exactly one ``/GTS_PDFA1`` output intent whose ``DestOutputProfile`` is an ICC profile of class
           prtr/mntr/scnr/spac, major version 4 or lower, colour space matching ``/N``
    6.2.4.3 no DeviceCMYK (images, ``k``/``K`` operators) under an RGB output intent and vice versa
images
    6.2.8  no ``/Alternates``, ``/OPI``, ``/Interpolate true``; 6.2.9 no reference XObjects, no PostScript XObjects
fonts
    6.2.11.4 every font in every page's resources (form XObjects, annotation appearances and Type 3 glyph
           resources included) embedded: ``FontFile``/``FontFile2``/``FontFile3``
actions, annotations, forms
    6.5.1  no Launch, Sound, Movie, ResetForm, ImportData, Hide, SetOCGState, Rendition, Trans, GoTo3DView or
           JavaScript actions; named actions only NextPage/PrevPage/FirstPage/LastPage
    6.5.2/6.6.2 no ``/AA`` (catalog, pages, annotations, fields); no JavaScript name tree, no ``/JS``
    6.3.1/6.3.2 no 3D, Sound, Screen, Movie annotations; annotations printable and not hidden
    6.4.2  no XFA (``/AcroForm/XFA``), no ``/NeedsRendering true``
metadata
    6.6.2  catalog ``/Metadata`` stream (Type Metadata, Subtype XML) with ``pdfaid:part`` 3 and
           ``pdfaid:conformance`` A, B or U
    6.6.2.3.1 document information entries equal to their XMP properties (Title, Author, Subject, Keywords,
           Creator, Producer, CreationDate, ModDate)
    6.6.2.3.2 every XMP property outside the predefined schemas described by a ``pdfaExtension`` schema
associated files
    6.8    each embedded file: file specification with ``F``, ``UF`` and ``AFRelationship``, listed in an
           ``/AF`` array; embedded file stream with a MIME ``Subtype`` and ``Params/ModDate``
hybrid invoice (Factur-X 1.07 / ZUGFeRD 2.3)
    with ``factur-x.xml``/``xrechnung.xml`` embedded: the ``fx`` properties DocumentType, DocumentFileName
    (naming the embedded file), Version and ConformanceLevel, and their extension schema

``URI`` and ``GoToR`` actions are allowed by PDF/A-3; our documents carry no external references at all, so
they are reported too unless ``allow_links=True``.

Not checked (needs a renderer-level validator): use of the .notdef glyph (6.2.11.8; prevented at the source
by ``FontSet.clean``), font widths against the font program (6.2.11.5), TrueType cmap/encoding rules
(6.2.11.6; reportlab writes symbolic subsets with one (1,0) cmap, as allowed), transparency groups' blending
colour space (6.2.10), XMP syntax beyond parsing, and tagged structure (level A).
"""
from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pikepdf
from lxml import etree

from .embed import FACTURX_NAMESPACE
from .embedded import INVOICE_FILENAMES

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
PDFAID = "http://www.aiim.org/pdfa/ns/id/"
EXT = "http://www.aiim.org/pdfa/ns/extension/"
SCHEMA = "http://www.aiim.org/pdfa/ns/schema#"
PROPERTY = "http://www.aiim.org/pdfa/ns/property#"
DC, XMP, PDF = "http://purl.org/dc/elements/1.1/", "http://ns.adobe.com/xap/1.0/", "http://ns.adobe.com/pdf/1.3/"
#: Schemas predefined by XMP 2004 (ISO 19005-3 6.6.2.3.1), which need no extension schema.
PREDEFINED = frozenset({
    DC, XMP, PDF, PDFAID, EXT, SCHEMA, PROPERTY, "http://www.aiim.org/pdfa/ns/type#",
    "http://www.aiim.org/pdfa/ns/field#", "http://ns.adobe.com/xap/1.0/rights/", "http://ns.adobe.com/xap/1.0/mm/",
    "http://ns.adobe.com/xap/1.0/bj/", "http://ns.adobe.com/xap/1.0/t/pg/", "http://ns.adobe.com/xap/1.0/g/img/",
    "http://ns.adobe.com/xap/1.0/sType/Dimensions#", "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#",
    "http://ns.adobe.com/xap/1.0/sType/ResourceRef#", "http://ns.adobe.com/xap/1.0/sType/Version#",
    "http://ns.adobe.com/xap/1.0/sType/Job#", "http://ns.adobe.com/photoshop/1.0/", "http://ns.adobe.com/tiff/1.0/",
    "http://ns.adobe.com/exif/1.0/", "http://ns.adobe.com/exif/1.0/aux/",
    "http://ns.adobe.com/camera-raw-settings/1.0/",
    "http://www.w3.org/XML/1998/namespace",
})
FORBIDDEN_ACTIONS = frozenset({"/Launch", "/Sound", "/Movie", "/ResetForm", "/ImportData", "/Hide", "/SetOCGState",
                               "/Rendition", "/Trans", "/GoTo3DView", "/JavaScript"})
EXTERNAL_ACTIONS = frozenset({"/URI", "/GoToR", "/SubmitForm"})
ACTION_TYPES = FORBIDDEN_ACTIONS | EXTERNAL_ACTIONS | {"/Named"}
ALLOWED_NAMED = frozenset({"/NextPage", "/PrevPage", "/FirstPage", "/LastPage"})
FORBIDDEN_ANNOTATIONS = frozenset({"/3D", "/Sound", "/Screen", "/Movie"})
INFO_TO_XMP = {"/Title": (DC, "title"), "/Author": (DC, "creator"), "/Subject": (DC, "description"),
               "/Keywords": (PDF, "Keywords"), "/Creator": (XMP, "CreatorTool"), "/Producer": (PDF, "Producer"),
               "/CreationDate": (XMP, "CreateDate"), "/ModDate": (XMP, "ModifyDate")}


def pdfa_problems(pdf_bytes: bytes, *, allow_links: bool = False) -> list[str]:
    """Every PDF/A-3 problem found, each as ``clause: what (where)``; ``[]`` when none."""
    problems: list[str] = []
    problems += _syntax(pdf_bytes)
    try:
        pdf = pikepdf.open(io.BytesIO(pdf_bytes))
    except pikepdf.PasswordError:
        return problems + ["6.1.3: the file is encrypted"]
    except pikepdf.PdfError as exc:
        return problems + [f"6.1: not a readable PDF: {exc}"]
    with pdf:
        if "/Encrypt" in pdf.trailer:
            problems.append("6.1.3: the trailer has /Encrypt (encryption is not allowed)")
        if "/ID" not in pdf.trailer:
            problems.append("6.1.3: the trailer has no /ID")
        intent_space = _output_intents(pdf, problems)
        _objects(pdf, problems, intent_space, allow_links)
        _pages(pdf, problems, intent_space)
        xmp = _metadata(pdf, problems)
        if xmp is not None:
            _info_matches_xmp(pdf, xmp, problems)
            _extension_schemas(xmp, problems)
        _associated_files(pdf, xmp, problems)
    return problems


# --------------------------------------------------------------------------------------------- file structure


def _syntax(data: bytes) -> list[str]:
    problems = []
    first_lines = data[:1024].split(b"\n", 2)
    if not re.match(rb"%PDF-1\.[0-7]", first_lines[0]) and not first_lines[0].startswith(b"%PDF-2.0"):
        problems.append("6.1.2: the file does not start with a %PDF-1.n header")
    second = first_lines[1] if len(first_lines) > 1 else b""
    if not (second.startswith(b"%") and sum(b > 127 for b in second[1:5]) == 4):
        problems.append("6.1.2: the header is not followed by a comment of four bytes above 127")
    for m in re.finditer(rb"endstream", data):
        if data[m.start() - 1:m.start()] not in (b"\n", b"\r"):
            problems.append(f"6.1.7.1: 'endstream' at byte {m.start()} is not preceded by an end-of-line")
            break
    for m in re.finditer(rb"(?<=[>\s])stream(?!\r\n|\n)", data):
        problems.append(f"6.1.7.1: 'stream' at byte {m.start()} is not followed by CR LF or LF")
        break
    if b"%%EOF" not in data[-32:]:
        problems.append("6.1.3: no %%EOF at the end of the file")
    return problems


# --------------------------------------------------------------------------------------------- colour


def _output_intents(pdf: pikepdf.Pdf, problems: list[str]) -> str | None:
    """Checks 6.2.3; returns the output intent's colour space ('RGB ', 'CMYK', 'GRAY') or None."""
    intents = [oi for oi in pdf.Root.get("/OutputIntents", pikepdf.Array()) if oi.get("/S") == "/GTS_PDFA1"]
    if not intents:
        problems.append("6.2.3: no /OutputIntents entry with /S /GTS_PDFA1 (an ICC output intent is required "
                        "for device colours)")
        return None
    profiles = {oi.get("/DestOutputProfile").objgen if "/DestOutputProfile" in oi else None for oi in intents}
    if len(profiles) > 1:
        problems.append("6.2.3: the PDF/A output intents name different destination profiles")
    profile = intents[0].get("/DestOutputProfile")
    if not isinstance(profile, pikepdf.Stream):
        problems.append("6.2.3: the PDF/A output intent has no DestOutputProfile ICC stream")
        return None
    icc = profile.read_bytes()
    if len(icc) < 128 or icc[36:40] != b"acsp":
        problems.append("6.2.3: DestOutputProfile is not an ICC profile (no 'acsp' signature)")
        return None
    device_class, space, major = icc[12:16], icc[16:20], icc[8]
    if device_class not in (b"prtr", b"mntr", b"scnr", b"spac"):
        problems.append(f"6.2.3: the output intent's ICC profile has device class {device_class!r}, not "
                        "prtr/mntr/scnr/spac")
    if major > 4:
        problems.append(f"6.2.3: the output intent's ICC profile is version {major}, newer than 4")
    n = {b"RGB ": 3, b"CMYK": 4, b"GRAY": 1}.get(space)
    if n is None:
        problems.append(f"6.2.3: the output intent's ICC profile has colour space {space!r}")
    elif int(profile.get("/N", 0)) != n:
        problems.append(f"6.2.3: DestOutputProfile /N is {profile.get('/N')}, the ICC profile has {n} components")
    return space.decode("latin-1")


# --------------------------------------------------------------------------------------------- objects


def _objects(pdf: pikepdf.Pdf, problems: list[str], intent_space: str | None, allow_links: bool) -> None:
    """One pass over every indirect object: streams, images, actions, annotations, JavaScript."""
    root = pdf.Root
    if "/AA" in root:
        problems.append("6.6.2: the catalog has additional actions (/AA)")
    if "/Names" in root and "/JavaScript" in root.Names:
        problems.append("6.6.2: the catalog's name dictionary has a /JavaScript name tree")
    if "/AcroForm" in root and "/XFA" in root.AcroForm:
        problems.append("6.4.2: the interactive form has XFA (/AcroForm /XFA)")
    if bool(root.get("/NeedsRendering", False)):
        problems.append("6.4.2: the catalog has /NeedsRendering true")
    for obj in pdf.objects:
        if not isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream)):
            continue
        where = f"object {obj.objgen[0]}"
        if isinstance(obj, pikepdf.Stream):
            _stream(obj, where, problems, intent_space)
        for d in _dictionaries(obj.stream_dict if isinstance(obj, pikepdf.Stream) else obj):
            if "/JS" in d:
                problems.append(f"6.5.1: {where} has JavaScript (/JS)")
            kind = d.get("/S")
            if isinstance(kind, pikepdf.Name) and (d.get("/Type") == "/Action" or str(kind) in ACTION_TYPES):
                _action(d, where, problems, allow_links)


def _dictionaries(obj: pikepdf.Object) -> Iterator[pikepdf.Dictionary]:
    """``obj`` and every dictionary held directly inside it (indirect objects are visited on their own)."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, pikepdf.Dictionary):
            yield item
            values = item.values()
        elif isinstance(item, pikepdf.Array):
            values = item
        else:
            continue
        stack.extend(v for v in values if isinstance(v, (pikepdf.Dictionary, pikepdf.Array)) and not v.is_indirect)


def _stream(obj: pikepdf.Stream, where: str, problems: list[str], intent_space: str | None) -> None:
    d = obj.stream_dict
    for key in ("/F", "/FFilter", "/FDecodeParms"):
        if key in d:
            problems.append(f"6.1.7.1: stream {where} has {key} (external stream data)")
    filters = d.get("/Filter")
    if "/LZWDecode" in ([filters] if isinstance(filters, pikepdf.Name) else list(filters or ())):
        problems.append(f"6.1.7.2: stream {where} uses LZWDecode")
    kind = d.get("/Subtype")
    if kind == "/Image":
        if "/Alternates" in d:
            problems.append(f"6.2.8: image {where} has /Alternates")
        if "/OPI" in d:
            problems.append(f"6.2.8: image {where} has /OPI")
        if bool(d.get("/Interpolate", False)):
            problems.append(f"6.2.8: image {where} has /Interpolate true")
        if intent_space == "RGB " and d.get("/ColorSpace") == "/DeviceCMYK":
            problems.append(f"6.2.4.3: image {where} is DeviceCMYK under an RGB output intent")
    elif kind == "/Form":
        if "/Ref" in d:
            problems.append(f"6.2.9: form XObject {where} is a reference XObject (/Ref)")
        if "/OPI" in d:
            problems.append(f"6.2.9: form XObject {where} has /OPI")
        if d.get("/Subtype2") == "/PS":
            problems.append(f"6.2.9: form XObject {where} is a PostScript XObject")
    elif kind == "/PS" and d.get("/Type") == "/XObject":
        problems.append(f"6.2.9: {where} is a PostScript XObject")


def _action(action: pikepdf.Dictionary, where: str, problems: list[str], allow_links: bool) -> None:
    kind = str(action.get("/S", ""))
    if kind in FORBIDDEN_ACTIONS:
        problems.append(f"6.5.1: {where} is a {kind[1:]} action")
    elif kind == "/Named" and str(action.get("/N", "")) not in ALLOWED_NAMED:
        problems.append(f"6.5.1: {where} is a named action {action.get('/N')}")
    elif kind in EXTERNAL_ACTIONS and not allow_links:
        problems.append(f"policy: {where} is a {kind[1:]} action (an external reference; PDF/A-3 allows it, "
                        "our documents carry none)")


def _annotation(annot: pikepdf.Dictionary, where: str, problems: list[str]) -> None:
    kind = str(annot.get("/Subtype", ""))
    if kind in FORBIDDEN_ANNOTATIONS:
        problems.append(f"6.3.1: annotation {where} is of type {kind[1:]}")
    if "/AA" in annot:
        problems.append(f"6.5.2: annotation {where} has additional actions (/AA)")
    if kind != "/Popup":
        flags = int(annot.get("/F", 0))
        if not flags & 4 or flags & (1 | 2 | 32 | 256):
            problems.append(f"6.3.2: annotation {where} is not printable or is hidden/invisible/no-view "
                            f"(/F {flags})")


# --------------------------------------------------------------------------------------------- pages, fonts


def _pages(pdf: pikepdf.Pdf, problems: list[str], intent_space: str | None) -> None:
    seen: set[tuple[int, int]] = set()
    for number, page in enumerate(pdf.pages, 1):
        where = f"page {number}"
        if "/AA" in page.obj:
            problems.append(f"6.5.2: {where} has additional actions (/AA)")
        for i, annot in enumerate(page.obj.get("/Annots", pikepdf.Array()), 1):
            _annotation(annot, f"{where} annotation {i}", problems)
        for place, resources, content in _resource_holders(page.obj, where, seen):
            _fonts(resources, place, problems)
            if intent_space is not None and content is not None:
                _device_colour(content, place, intent_space, problems)


def _resource_holders(page: pikepdf.Dictionary, where: str, seen: set) -> Iterator[tuple[str, pikepdf.Object, object]]:
    """(place, resources, content) for the page, its form XObjects, annotation appearances, Type 3 fonts."""
    yield where, page.get("/Resources", pikepdf.Dictionary()), page
    stack = [(where, page.get("/Resources", pikepdf.Dictionary()))]
    for annot in page.get("/Annots", pikepdf.Array()):
        for state in annot.get("/AP", pikepdf.Dictionary()).values():
            streams = [state] if isinstance(state, pikepdf.Stream) else list(state.values()) \
                if isinstance(state, pikepdf.Dictionary) else []
            for s in streams:
                if isinstance(s, pikepdf.Stream) and s.objgen not in seen:
                    seen.add(s.objgen)
                    res = s.get("/Resources", pikepdf.Dictionary())
                    yield f"{where} annotation appearance", res, s
                    stack.append((f"{where} annotation appearance", res))
    while stack:
        place, resources = stack.pop()
        for name, xobject in resources.get("/XObject", pikepdf.Dictionary()).items():
            if xobject.get("/Subtype") == "/Form" and xobject.objgen not in seen:
                seen.add(xobject.objgen)
                res = xobject.get("/Resources", pikepdf.Dictionary())
                yield f"{place} form {name}", res, xobject
                stack.append((f"{place} form {name}", res))
        for name, font in resources.get("/Font", pikepdf.Dictionary()).items():
            if font.get("/Subtype") == "/Type3" and "/Resources" in font and font.objgen not in seen:
                seen.add(font.objgen)
                yield f"{place} Type3 font {name}", font.Resources, None
                stack.append((f"{place} Type3 font {name}", font.Resources))


def _fonts(resources: pikepdf.Object, place: str, problems: list[str]) -> None:
    for name, font in resources.get("/Font", pikepdf.Dictionary()).items():
        if font.get("/Subtype") == "/Type3":
            continue
        descriptor_holder = font.DescendantFonts[0] if font.get("/Subtype") == "/Type0" else font
        descriptor = descriptor_holder.get("/FontDescriptor")
        base = str(font.get("/BaseFont", name)).lstrip("/")
        if descriptor is None or not any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")):
            problems.append(f"6.2.11.4: font {base} ({place}, {name}) is not embedded")


def _device_colour(content: object, place: str, intent_space: str, problems: list[str]) -> None:
    wrong = {"RGB ": {"k", "K"}, "CMYK": {"rg", "RG"}, "GRAY": {"rg", "RG", "k", "K"}}.get(intent_space, set())
    try:
        instructions = pikepdf.parse_content_stream(content)
    except pikepdf.PdfError as exc:
        problems.append(f"6.2: the content of {place} cannot be parsed: {exc}")
        return
    for _, operator in instructions:
        if str(operator) in wrong:
            problems.append(f"6.2.4.3: {place} uses operator {operator} (a device colour space other than the "
                            f"output intent's {intent_space.strip()})")
            return


# --------------------------------------------------------------------------------------------- metadata


def _metadata(pdf: pikepdf.Pdf, problems: list[str]) -> etree._Element | None:
    meta = pdf.Root.get("/Metadata")
    if not isinstance(meta, pikepdf.Stream):
        problems.append("6.6.2.1: the catalog has no /Metadata stream")
        return None
    if meta.get("/Type") != "/Metadata" or meta.get("/Subtype") != "/XML":
        problems.append("6.6.2.1: the metadata stream lacks /Type /Metadata or /Subtype /XML")
    try:
        xmp = etree.fromstring(meta.read_bytes(), etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        problems.append(f"6.6.2.1: the XMP metadata is not well-formed XML: {exc}")
        return None
    part, conformance = _xmp_value(xmp, PDFAID, "part"), _xmp_value(xmp, PDFAID, "conformance")
    if part != "3":
        problems.append(f"6.6.4: XMP pdfaid:part is {part!r}, not '3'")
    if conformance not in ("A", "B", "U"):
        problems.append(f"6.6.4: XMP pdfaid:conformance is {conformance!r}, not A, B or U")
    return xmp


def _xmp_value(xmp: etree._Element, ns: str, name: str) -> str | None:
    """A simple or first-item XMP property, written as element or as attribute of rdf:Description."""
    for desc in xmp.iter(f"{{{RDF}}}Description"):
        attr = desc.get(f"{{{ns}}}{name}")
        if attr is not None:
            return attr
        element = desc.find(f"{{{ns}}}{name}")
        if element is not None:
            item = element.find(f".//{{{RDF}}}li")
            return (item.text if item is not None else element.text or "").strip()
    return None


def _info_matches_xmp(pdf: pikepdf.Pdf, xmp: etree._Element, problems: list[str]) -> None:
    info = pdf.trailer.get("/Info")
    if info is None:
        return
    for key, (ns, name) in INFO_TO_XMP.items():
        if key not in info:
            continue
        value, in_xmp = str(info[key]), _xmp_value(xmp, ns, name)
        if key in ("/CreationDate", "/ModDate"):
            same = _instant(value) is not None and _instant(value) == _instant(in_xmp or "")
        else:
            same = value == in_xmp
        if not same:
            problems.append(f"6.6.2.3.1: Info {key} {value!r} differs from XMP {name} {in_xmp!r}")


def _instant(text: str) -> datetime | None:
    """A PDF date (``D:20261102120000+01'00'``) or an XMP date (ISO 8601) as an aware datetime."""
    text = text.strip()
    m = re.fullmatch(r"D:(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:([+-])(\d{2})'?(\d{2})?'?|(Z))?", text)
    if m:
        y, mo, d, h, mi, s = (int(g) if g else default for g, default in zip(m.groups()[:6], (0, 1, 1, 0, 0, 0)))
        minutes = int(m.group(8) or 0) * 60 + int(m.group(9) or 0)
        return datetime(y, mo, d, h, mi, s, tzinfo=timezone(timedelta(minutes=-minutes if m.group(7) == "-"
                                                                              else minutes)))
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _extension_schemas(xmp: etree._Element, problems: list[str]) -> None:
    described: dict[str, set[str]] = {}
    for schema in xmp.iter(f"{{{SCHEMA}}}namespaceURI"):
        li = schema.getparent()
        names = {n.text for n in li.iter(f"{{{PROPERTY}}}name")}
        described.setdefault((schema.text or "").strip(), set()).update(n.strip() for n in names if n)
    for desc in xmp.iter(f"{{{RDF}}}Description"):
        used = [etree.QName(a) for a in desc.attrib if etree.QName(a).namespace not in (RDF, None)]
        used += [etree.QName(c) for c in desc if isinstance(c.tag, str)]
        for q in used:
            if q.namespace in PREDEFINED or q.namespace == RDF:
                continue
            if q.localname not in described.get(q.namespace, set()):
                problems.append(f"6.6.2.3.2: XMP property {q.localname} of {q.namespace} has no PDF/A extension "
                                "schema description")


# --------------------------------------------------------------------------------------------- associated files


def _associated_files(pdf: pikepdf.Pdf, xmp: etree._Element | None, problems: list[str]) -> None:
    root = pdf.Root
    tree = root.Names.get("/EmbeddedFiles") if "/Names" in root else None
    files = list(pikepdf.NameTree(tree).items()) if tree is not None else []
    af = {spec.objgen for spec in root.get("/AF", pikepdf.Array())}
    for page in pdf.pages:
        af |= {spec.objgen for spec in page.obj.get("/AF", pikepdf.Array())}
    invoice_files = []
    for name, spec in files:
        where = f"embedded file {name}"
        for key in ("/F", "/UF"):
            if key not in spec:
                problems.append(f"6.8: {where}: the file specification has no {key}")
        relationship = spec.get("/AFRelationship")
        if relationship not in ("/Source", "/Data", "/Alternative", "/Supplement", "/Unspecified"):
            problems.append(f"6.8: {where}: AFRelationship is {relationship!r}, not one of Source, Data, "
                            "Alternative, Supplement, Unspecified")
        if spec.objgen not in af:
            problems.append(f"6.8: {where}: the file specification is in no /AF array")
        stream = spec.get("/EF", pikepdf.Dictionary()).get("/F")
        if not isinstance(stream, pikepdf.Stream):
            problems.append(f"6.8: {where}: no embedded file stream (/EF /F)")
            continue
        if not isinstance(stream.get("/Subtype"), pikepdf.Name):
            problems.append(f"6.8: {where}: the embedded file stream has no MIME type (/Subtype)")
        if "/ModDate" not in stream.get("/Params", pikepdf.Dictionary()):
            problems.append(f"6.8: {where}: the embedded file stream has no /Params /ModDate")
        if name in INVOICE_FILENAMES:
            invoice_files.append(name)
    if invoice_files and xmp is not None:
        file_name = _xmp_value(xmp, FACTURX_NAMESPACE, "DocumentFileName")
        for prop in ("DocumentType", "DocumentFileName", "Version", "ConformanceLevel"):
            if _xmp_value(xmp, FACTURX_NAMESPACE, prop) is None:
                problems.append(f"Factur-X: XMP fx:{prop} is missing although {invoice_files[0]} is embedded")
        if file_name is not None and file_name not in invoice_files:
            problems.append(f"Factur-X: XMP fx:DocumentFileName {file_name!r} names no embedded file "
                            f"({', '.join(invoice_files)})")
        if not any((s.text or "").strip() == FACTURX_NAMESPACE for s in xmp.iter(f"{{{SCHEMA}}}namespaceURI")):
            problems.append("Factur-X: the XMP has no pdfaExtension schema for the fx namespace")
