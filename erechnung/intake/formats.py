"""Batch files into records: CSV, JSON, JSON Lines, XLSX, and finished documents (UBL/CII XML, ZUGFeRD PDF).

``read_batch(data, name, ...)`` takes the file's bytes and name (storage is the caller's business) and returns a
``Batch``: the records with their row numbers, and what was wrong. A file that cannot be read at all (not
decodable, not JSON, not an Excel file, a truncated XLSX) gives ONE batch-level ``RecordError`` with the reason
and no records, never a traceback. A row that cannot be read properly (more fields than the header, a JSON line
that is not an object) is read as well as it can be and carries its problem, so that mapping quarantines its
document and the rest of the batch goes on.

Row numbers are what the clerk sees: CSV line (the header is line 1), Excel row, JSON Lines line, position of
the record in a JSON list (1 = first).

CSV encodings: ``utf-8`` (with or without BOM), ``windows-1252``, ``iso-8859-15``, or ``auto``: a UTF-8 BOM means
UTF-8, bytes that are valid UTF-8 mean UTF-8, otherwise the single-byte code page is told by the bytes where the
two differ: 0x80-0x9F are printable only in Windows-1252 (``€`` is 0x80 there); without them, 0xA4 (``€`` in
ISO-8859-15, the rarely used ``¤`` in Windows-1252) means ISO-8859-15; anything else reads the same in both for
German text and is taken as Windows-1252. The delimiter (``;``, ``,`` or tab) is configured or taken from the
header line (the one of them it holds most often outside quotes).

Every reader stays within ``limits`` (``limits.IntakeLimits``: size, decompression, rows, columns, cells, value
length, nesting), checked before the memory a limit bounds is taken: the lines of a text file are counted before
they are split, the values of a JSON file before it is parsed, an XLSX archive is inflated as a counted stream
(``zipbound``) before openpyxl opens it, and the sheet's declared ``<dimension>`` is never trusted. A file that
breaks a limit is one batch-level error naming the limit and its value.
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from ..config.app import FORMATS
from ..config.limits import DEFAULT_LIMITS, MAX_BYTES, IntakeLimits, LimitExceeded
from ..errors import RecordError
from .records import Batch, RawRecord

#: File name endings and the format they stand for.
EXTENSIONS = {".csv": "csv", ".txt": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
              ".xlsx": "xlsx", ".xml": "xml", ".pdf": "pdf", ".dat": "fixed"}
#: What ``str.splitlines`` ends a line at (``\r\n`` counts once).
LINE_ENDS = ("\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


class RowBudget:
    """What a reader has taken from one file so far; ``row()`` raises ``LimitExceeded`` at the first limit broken.

    Readers hand every row to it as they produce it (before keeping it), so that no more than the limits'
    worth of rows, columns and cells is ever held.
    """

    def __init__(self, limits: IntakeLimits) -> None:
        self.limits, self.cells = limits, 0

    def row(self, number: int, values: Any) -> None:
        limits = self.limits
        limits.check("max_rows", number)
        limits.check("max_columns", len(values), f"Zeile {number}")
        self.cells += len(values)
        limits.check("max_cells", self.cells)
        for value in values:
            if isinstance(value, str):
                limits.check_text(value, f"Zeile {number}")


class RecordType(BaseModel):
    """Fixed width: the characters ``at`` ([from, to]) tell a line's kind: ``data`` are records, ``ignore`` the
    header and trailer records (Vorlauf, Nachlauf, Summen); a line of any other kind is kept with a problem, so
    that it is quarantined, not lost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: tuple[int, int]
    data: tuple[str, ...] = Field(min_length=1)
    ignore: tuple[str, ...] = ()


class ReaderOptions(BaseModel):
    """Where the records stand in a file, from the department's mapping profile (``[reader]``, see
    docs/mapping-profiles.md): the sheet of a workbook (its name, or its number counting from 1) and the row of
    the column headers when title rows stand above it (a CSV line, an Excel row; default: the first non-empty);
    in JSON, the key path of the list of records (``records = "export.rechnungen"``; default: the file's list or
    its ``records``) and of each record's list of positions (``positions = "positionen"``): every position is a
    record of its own with the record's fields and its own under ``positionen.`` (``positionen.menge``), all with
    the record's row number, so that they make one document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sheet: str | int | None = None
    header_row: int | None = Field(default=None, ge=1)
    records: str | None = Field(default=None, min_length=1)
    positions: str | None = Field(default=None, min_length=1)
    fields: dict[str, tuple[int, int]] = Field(default_factory=dict)  # fixed width: column = [from, to]
    record_type: RecordType | None = None  # fixed width: which lines are records, header, trailer
    paths: dict[str, str] = Field(default_factory=dict)  # xml-records: column = XPath from the record
    namespaces: dict[str, str] = Field(default_factory=dict)  # xml-records: prefix = namespace URI

    @field_validator("fields")
    @classmethod
    def _positions(cls, v: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
        for name, (start, end) in v.items():
            if not 1 <= start <= end:
                raise PydanticCustomError("config", "{problem}", {
                    "problem": f"{name}: [{start}, {end}] ist kein Bereich von Zeichenpositionen",
                    "fix": "erstes und letztes Zeichen, ab 1 gezählt, z. B. Name = [13, 42]"})
        return v


NO_OPTIONS = ReaderOptions()


def format_of(name: str) -> str | None:
    """The format a file name stands for (``None`` when its ending is unknown)."""
    return EXTENSIONS.get(PurePosixPath(name).suffix.lower())


def read_batch(data: bytes, name: str, *, format: str | Iterable[str] | None = None, encoding: str = "auto",
               delimiter: str = "auto", limits: IntakeLimits = DEFAULT_LIMITS,
               options: ReaderOptions | None = None) -> Batch:
    """``data`` (the bytes of the file ``name``) as records.

    ``format`` is the department's format, or several it may deliver (``("xlsx", "csv")``: the file name's
    ending chooses); ``None`` takes it from the file name. ``encoding`` and ``delimiter`` apply to CSV.
    ``limits`` bound what the file may hold (the configuration's ``[limits]``; the defaults otherwise).
    ``options`` say where the records stand (the profile's ``[reader]``: sheet, header row).
    """
    options = options or NO_OPTIONS
    allowed = (format,) if isinstance(format, str) else tuple(format or ())
    by_name = format_of(name)
    chosen = allowed[0] if len(allowed) == 1 else by_name
    empty = Batch(name=name, format=chosen or "unknown")
    if not chosen or (allowed and chosen not in allowed):
        expected = " oder ".join(f".{f}" for f in (allowed or FORMATS))
        return empty.failed(f"Dateiendung {PurePosixPath(name).suffix or '(keine)'} passt zu keinem erwarteten "
                            f"Format", f"liefern Sie eine Datei mit der Endung {expected}")
    if not data:
        return empty.failed("die Datei ist leer", "liefern Sie die Datei erneut aus dem Fachverfahren")
    if len(data) > MAX_BYTES:
        return empty.failed(f"die Datei ist größer als {MAX_BYTES // 2**20} MB",
                            "teilen Sie die Lieferung in mehrere Dateien auf")
    wrong = _wrong_kind(data, chosen)
    if wrong:
        return empty.failed(*wrong)
    try:
        if chosen == "csv":
            return _read_csv(data, empty, encoding, delimiter, limits, options)
        if chosen == "xlsx":
            return _read_xlsx(data, empty, limits, options)
        if chosen == "xml-records":
            return _read_xml_records(data, empty, limits, options)
        if chosen == "fixed":
            return _read_fixed(data, empty, encoding, limits, options)
        if chosen in ("json", "jsonl"):
            return (_read_json if chosen == "json" else _read_jsonl)(data, empty, limits, options)
        return {"xml": _read_xml, "pdf": _read_pdf}[chosen](data, empty, limits)
    except LimitExceeded as exc:
        return empty.failed(exc.problem, exc.fix)
    except RecursionError:  # the JSON parser's own bound on nesting, far above max_json_depth
        exceeded = limits.exceeded("max_json_depth")
        return empty.failed(exceeded.problem, exceeded.fix)


def _wrong_kind(data: bytes, chosen: str) -> tuple[str, str] | None:
    """The batch error for a file whose content is plainly another kind than its format."""
    kinds = [(b"PK\x03\x04", "xlsx", "eine Excel-Datei (XLSX) oder ein ZIP-Archiv"),
             (b"\xd0\xcf\x11\xe0", "xls", "eine alte Excel-Datei (.xls, Excel 97-2003)"),
             (b"%PDF-", "pdf", "ein PDF")]
    for magic, kind, what in kinds:
        if data.startswith(magic) and kind != chosen:
            if kind == "xls":
                return (f"die Datei ist {what}", "speichern Sie sie in Excel als .xlsx (Excel-Arbeitsmappe)")
            return (f"die Datei ist {what}, erwartet wird {chosen.upper()}",
                    f"liefern Sie die Datei als {chosen.upper()} oder ändern Sie das Format der Abteilung")
    return None


# ============================================================================================== CSV


def detect_encoding(data: bytes) -> str:
    """``utf-8-sig``, ``utf-8``, ``windows-1252`` or ``iso-8859-15`` (see the module doc)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    if re.search(rb"[\x80-\x9f]", data):
        return "windows-1252"
    if b"\xa4" in data:
        return "iso-8859-15"
    return "windows-1252"


def _decode(data: bytes, encoding: str, batch: Batch, export: str = "CSV") -> tuple[str, str] | Batch:
    """A text export's text and the encoding it was read with, or the batch failed saying why (``export`` names
    what the clerk should export instead: CSV, Text)."""
    if b"\x00" in data[:4096]:
        return batch.failed("die Datei ist keine Textdatei (enthält Nullbytes; UTF-16?)",
                            f"exportieren Sie die Daten als {export} in UTF-8 oder Windows-1252")
    used = detect_encoding(data) if encoding == "auto" else ("utf-8-sig" if encoding == "utf-8" else encoding)
    try:
        return data.decode(used), used
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        byte = data[exc.start:exc.start + 1].hex().upper()
        if used.startswith("utf-8"):
            fix = ("speichern Sie die Datei als UTF-8, oder stellen Sie in der Konfiguration encoding = "
                   "\"windows-1252\" (oder \"auto\") ein")
        else:
            fix = "prüfen Sie die Zeichenkodierung der Datei (UTF-8, Windows-1252 oder ISO-8859-15)"
        return batch.failed(f"Byte 0x{byte} in Zeile {line} ist in der Kodierung {used} kein Zeichen", fix)
    except LookupError:
        return batch.failed(f"unbekannte Zeichenkodierung {encoding!r}", "utf-8, windows-1252, iso-8859-15 oder auto")


def detect_delimiter(header: str) -> str | None:
    counts = {d: 0 for d in (";", ",", "\t")}
    quoted = False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else None


def line_count(text: str) -> int:
    """How many lines ``text.splitlines()`` would give, counted without splitting."""
    ends = sum(text.count(end) for end in LINE_ENDS) - text.count("\r\n")
    return ends + (1 if text and not text.endswith(LINE_ENDS) else 0)


def _read_csv(data: bytes, batch: Batch, encoding: str, delimiter: str, limits: IntakeLimits,
              options: ReaderOptions = NO_OPTIONS) -> Batch:
    decoded = _decode(data, encoding, batch)
    if isinstance(decoded, Batch):
        return decoded
    text, used = decoded
    used = "utf-8" if used == "utf-8-sig" else used
    limits.check("max_rows", line_count(text))
    lines = text.splitlines(keepends=True)
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if options.header_row is not None:  # title lines above the header are no records
        first = options.header_row - 1
        if first >= len(lines) or not lines[first].strip():
            return batch.failed(f"Zeile {options.header_row} (reader.header_row) ist leer oder fehlt",
                                "prüfen Sie reader.header_row im Mapping-Profil: die Zeile mit den Spaltennamen")
    if first is None:
        return batch.failed("die Datei enthält keine Kopfzeile", "die erste Zeile muss die Spaltennamen enthalten")
    sep = detect_delimiter(lines[first]) if delimiter == "auto" else delimiter
    if sep is None:
        return batch.failed("in der Kopfzeile ist kein Trennzeichen (; oder ,) zu finden",
                            "die erste Zeile muss die Spaltennamen enthalten, getrennt durch ; oder ,")
    for number, line in enumerate(lines, start=1):  # a row's fields are held as a list: bound them first
        if line.count(sep) >= limits.max_columns:
            raise limits.exceeded("max_columns", f"Zeile {number}")
    if limits.max_field_bytes > csv.field_size_limit():  # the csv module's own bound (characters) is not lower
        csv.field_size_limit(limits.max_field_bytes)
    reader = csv.reader(io.StringIO("".join(lines[first:]), newline=""), delimiter=sep, quotechar='"')
    budget = RowBudget(limits)
    try:
        rows = _numbered_rows(reader, first)
        header_no, _, header = next(rows)
        budget.row(header_no, header)
        header = [h.strip() for h in header]
        body = []
        for line_no, end, row in rows:
            budget.row(line_no, row)
            body.append((line_no, end, row))
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise limits.exceeded("max_field_bytes", f"Zeile {first + reader.line_num}") from None
        return batch.failed(f"die CSV-Datei ist fehlerhaft: {exc}",
                            "prüfen Sie Anführungszeichen in den Werten (ein Wert mit \" muss ganz in \" stehen)")
    problem = _header_problem(header, [(n, row) for n, _, row in body], rows_report_overflow=True)
    if problem:
        return batch.failed(*problem)
    keep = [i for i, h in enumerate(header) if h]
    columns = tuple(header[i] for i in keep)
    filled = [(n, end, row) for n, end, row in body if any(v.strip() for v in row)]
    named = keep[-1] + 1
    usual = _usual_width(len(header), named, [row for _, _, row in filled])
    records = []
    for line_no, end, row in filled:
        raw_text = "".join(lines[line_no - 1:end]).rstrip("\r\n")
        problems: tuple[RecordError, ...] = ()
        last = max(i + 1 for i, v in enumerate(row) if v.strip())
        extra = max(last - named, len(row) - usual)
        if extra > 0:
            shown = raw_text if len(raw_text) <= 200 else raw_text[:200] + "…"
            problems = (RecordError(
                batch=batch.name, row=line_no, value=shown,
                problem=f"die Zeile hat {named + extra} Felder, die Kopfzeile {named}",
                fix=f"ein Wert enthält wohl das Trennzeichen {sep!r} ohne Anführungszeichen, sodass die Werte "
                    f"dahinter in der falschen Spalte stehen: setzen Sie den Wert in Anführungszeichen "
                    f"(\"1{sep}5\" statt 1{sep}5) oder entfernen Sie das {sep!r} aus dem Wert"),)
        fields = {header[i]: (row[i].strip() if i < len(row) else "") for i in keep}
        records.append(RawRecord(batch=batch.name, row=line_no, fields=fields, raw=raw_text, problems=problems))
    return Batch(name=batch.name, format="csv", records=tuple(records),
                 errors=tuple(p for r in records for p in r.problems), encoding=used,
                 delimiter=sep, columns=columns)


def _usual_width(header: int, named: int, rows: list[list[str]]) -> int:
    """How many fields a data row may have: as many as the header row (Excel ends every line, the header's too,
    with separators up to the widest row: ``Name;Betrag;;``), or as many as the data rows have when the
    exporter ends each of them with separators the header line lacks (``A;1;`` below ``Name;Betrag``): when at
    least two rows, and more than half, have that number of fields, all empty beyond the named columns.

    A row with more fields than this has a value split by an unquoted separator, even when every value it
    pushed to the right landed in an empty column: the values in its named columns are shifted. A row with
    fewer fields is read with the missing ones empty (exporters leave off empty trailing fields), and what it
    lacks is reported as missing where the mapping needs it. With one data row, no habit can be told from a
    split value: its extra empty field is taken as a split value (a wrong amount is worse than a question)."""
    widths: dict[int, int] = {}
    for row in rows:
        if len(row) > header and not any(v.strip() for v in row[named:]):
            widths[len(row)] = widths.get(len(row), 0) + 1
    padded = max(widths, key=lambda w: widths[w], default=header)
    return padded if 2 <= widths.get(padded, 0) and 2 * widths[padded] > len(rows) else header


def _numbered_rows(reader: Any, offset: int) -> Iterator[tuple[int, int, list[str]]]:
    """Rows with the lines they start and end on (a quoted value may span lines)."""
    start = offset + 1
    for row in reader:
        yield start, offset + reader.line_num, row
        start = offset + reader.line_num + 1


def _header_problem(header: list[str], body: list[tuple[int, list[str]]],
                    rows_report_overflow: bool = False) -> tuple[str, str] | None:
    """The header's problem: a column with values but no name, a name twice, no names at all. With
    ``rows_report_overflow`` (CSV), values right of the last named column are no header problem: each row
    holding one is reported itself (a value split by an unquoted separator, see ``_usual_width``)."""
    seen: set[str] = set()
    named = max((i + 1 for i, name in enumerate(header) if name), default=0) if rows_report_overflow \
        else len(header)
    for i, name in enumerate(header):
        if not name:
            if i < named and any(i < len(row) and row[i].strip() for _, row in body):
                return (f"Spalte {i + 1} hat keinen Namen in der Kopfzeile, aber Werte",
                        "geben Sie jeder Spalte mit Werten einen Namen in der ersten Zeile")
            continue
        if name in seen:
            return (f"die Spalte {name!r} steht zweimal in der Kopfzeile", "benennen Sie eine der beiden Spalten um")
        seen.add(name)
    if not seen:
        return ("die Kopfzeile enthält keine Spaltennamen", "die erste Zeile muss die Spaltennamen enthalten")
    return None


# ============================================================================================== fixed width


def _read_fixed(data: bytes, batch: Batch, encoding: str, limits: IntakeLimits, options: ReaderOptions) -> Batch:
    """Fixed-width text (older specialist systems): each line a record, its fields at the character positions
    of ``options.fields``; with ``options.record_type`` only the data lines are records, header and trailer
    records are left out. Row numbers are line numbers."""
    if not options.fields:
        return batch.failed("für Festbreiten-Dateien fehlen die Feldpositionen",
                            "tragen Sie im Mapping-Profil [reader] fields = { Name = [13, 42], ... } ein")
    decoded = _decode(data, encoding, batch, "Text")
    if isinstance(decoded, Batch):
        return decoded
    text, used = decoded
    limits.check("max_rows", line_count(text))
    budget = RowBudget(limits)
    kind = options.record_type
    records = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        limits.check_text(line, f"Zeile {line_no}")
        if not line.strip():
            continue
        problems: tuple[RecordError, ...] = ()
        if kind is not None:
            code = line[kind.at[0] - 1:kind.at[1]].strip()
            if code in kind.ignore:
                continue
            if code not in kind.data:
                problems = (RecordError(batch=batch.name, row=line_no, value=code,
                                        problem=f"unbekannte Satzart {code!r} an Stelle {kind.at[0]}-{kind.at[1]}",
                                        fix="erwartet: " + ", ".join(kind.data + kind.ignore)
                                            + "; prüfen Sie die Zeile oder reader.record_type im Mapping-Profil"),)
        fields = {name: line[start - 1:end].strip() for name, (start, end) in options.fields.items()}
        budget.row(line_no, tuple(fields.values()))
        records.append(RawRecord(batch=batch.name, row=line_no, fields=fields, raw=line, problems=problems))
    if not records:
        return batch.failed("die Datei enthält keine Datensätze",
                            "prüfen Sie die Datei und reader.record_type im Mapping-Profil")
    return Batch(name=batch.name, format="fixed", records=tuple(records), encoding="utf-8" if
                 used == "utf-8-sig" else used, errors=tuple(p for r in records for p in r.problems),
                 columns=tuple(options.fields))


# ============================================================================================== XML records


def _read_xml_records(data: bytes, batch: Batch, limits: IntakeLimits, options: ReaderOptions) -> Batch:
    """XML in the specialist system's own schema: ``options.records`` is the XPath of the records (from the root,
    with ``options.namespaces``' prefixes), ``options.paths`` the XPath of each column from a record (text of the
    first element, or an attribute ``@wert``). With ``options.positions`` (an XPath from the record), each
    position is a record of its own, its paths taken from the position (``../../Kassenzeichen`` reaches the
    record); all positions of a record have the record's number (1 = first) and make one document. The file is
    parsed without DOCTYPE or entities, within max_xml_bytes and max_xml_depth."""
    from lxml import etree
    from validators.xmlsafe import deeper_than

    from ..errors import DocumentReadError
    from ..syntax.xml import parse

    if not options.records or not options.paths:
        return batch.failed("für XML im eigenen Schema fehlen der Pfad der Datensätze oder die Feldpfade",
                            "tragen Sie im Mapping-Profil [reader] records = \"/Export/Vorgang\" und paths = "
                            "{ Name = \"Schuldner/Name\", ... } ein")
    limits.check("max_xml_bytes", len(data))
    try:
        root = parse(data)
    except DocumentReadError as exc:
        return batch.failed(f"die Datei ist kein lesbares XML ({exc.problem})",
                            "exportieren Sie die Datei erneut aus dem Fachverfahren")
    too_deep = deeper_than(root, limits.max_xml_depth)
    if too_deep is not None:
        raise limits.exceeded("max_xml_depth", f"Zeile {too_deep.sourceline}")
    try:
        found = root.xpath(options.records, namespaces=options.namespaces)
        paths = {name: etree.XPath(path, namespaces=options.namespaces) for name, path in options.paths.items()}
        positions = etree.XPath(options.positions, namespaces=options.namespaces) if options.positions else None
    except (etree.XPathError, TypeError) as exc:
        return batch.failed(f"ein Pfad in reader.records, reader.paths oder reader.positions ist ungültig ({exc})",
                            "prüfen Sie die Pfade und die Präfixe unter reader.namespaces im Mapping-Profil")
    elements = [e for e in found if isinstance(e, etree._Element)] if isinstance(found, list) else []
    if not elements:
        return batch.failed(f"unter {options.records!r} (reader.records) stehen keine Datensätze",
                            "prüfen Sie reader.records und reader.namespaces im Mapping-Profil")
    limits.check("max_rows", len(elements))
    budget = RowBudget(limits)
    own = frozenset(name for name, path in options.paths.items() if not _outside_position(path))
    records = []
    for row, element in enumerate(elements, start=1):
        raw = etree.tostring(element, encoding="unicode")
        found_positions = positions(element) if positions is not None else None
        for i, context in enumerate(found_positions or [element], start=1):
            fields = {name: _xml_text(path(context)) for name, path in paths.items()}
            budget.row(row, tuple(fields.values()))
            records.append(RawRecord(batch=batch.name, row=row, fields=fields, raw=raw if i == 1 else
                                     etree.tostring(context, encoding="unicode"),
                                     position=i if found_positions else None,
                                     position_columns=own if found_positions else frozenset()))
    return Batch(name=batch.name, format="xml-records", records=tuple(records), encoding="utf-8",
                 columns=tuple(options.paths))


def _outside_position(path: str) -> bool:
    """Whether the XPath ``path`` of a column reads only outside the position it is taken from: every location
    path in it climbs out (``../../Kassenzeichen``, ``concat(../../Name, ' ', ../../Vorname)``) or starts at the
    root. Such a value belongs to the record around the positions; any other (``Menge``, ``@kampfhund``,
    ``concat(Name, ', ', Rasse)``) stands in the position, and a problem with it names the position."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"", " ", path)  # literals
    while re.search(r"\[[^\[\]]*\]", text):  # predicates read from their own step, not from the position
        text = re.sub(r"\[[^\[\]]*\]", "", text)
    text = re.sub(r"[\w.-]+(?::[\w.-]+)?\s*\(", " ", text)  # function names
    text = re.sub(r"\s(?:\*|-|div|mod|and|or)\s", " ", text)  # operators
    steps = [t for t in re.split(r"[\s,()|=<>!+]+", text) if t and not re.fullmatch(r"[\d.]*\d[\d.]*", t)]
    return bool(steps) and all(t.startswith(("..", "/")) for t in steps)


def _xml_text(found: Any) -> str:
    """The text an XPath result stands for: the first node's text (an attribute's value), or the value."""
    if isinstance(found, list):
        if not found:
            return ""
        found = found[0]
    if hasattr(found, "itertext"):
        return "".join(found.itertext()).strip()
    return str(found).strip()


# ============================================================================================== JSON


def _canonical(value: Any) -> tuple[str, bool]:
    """A JSON/Excel value as text, and whether it was typed (number, date, boolean) rather than text."""
    if value is None:
        return "", False
    if isinstance(value, bool):
        return ("true" if value else "false"), True
    if isinstance(value, int):
        return str(value), True
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return repr(value), True
        return format(Decimal(repr(value)).normalize(), "f"), True
    if isinstance(value, Decimal):
        return format(value, "f"), True
    if isinstance(value, datetime):
        return (value.date().isoformat() if value.time() == time(0) else value.isoformat()), True
    if isinstance(value, (date, time)):
        return value.isoformat(), True
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, default=str), True
    return str(value).strip(), False


def _flatten(obj: Mapping[str, Any], prefix: str = "") -> tuple[dict[str, str], frozenset[str]]:
    """Nested objects as dotted keys (``{"buyer": {"name": ...}}`` -> ``buyer.name``); lists stay JSON text."""
    fields: dict[str, str] = {}
    native: set[str] = set()
    for key, value in obj.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            sub, sub_native = _flatten(value, full + ".")
            fields.update(sub)
            native |= sub_native
            continue
        text, typed = _canonical(value)
        fields[full] = text
        if typed:
            native.add(full)
    return fields, frozenset(native)


def _json_text(data: bytes, batch: Batch) -> str | Batch:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        return batch.failed(f"die Datei ist nicht UTF-8-kodiert (Byte 0x{data[exc.start]:02X} in Zeile {line})",
                            "JSON muss UTF-8 sein: exportieren Sie die Datei erneut als UTF-8")


def _object_record(batch: Batch, row: int, value: Any, raw: str) -> RawRecord:
    if not isinstance(value, dict):
        kind = {list: "eine Liste", str: "ein Text", int: "eine Zahl", Decimal: "eine Zahl",
                bool: "ein Wahrheitswert", type(None): "null"}.get(type(value), type(value).__name__)
        problem = RecordError(batch=batch.name, row=row, value=raw[:80], problem=f"der Datensatz ist {kind}, "
                              "kein Objekt", fix="jeder Datensatz muss ein Objekt {\"Spalte\": \"Wert\", ...} sein")
        return RawRecord(batch=batch.name, row=row, fields={}, raw=raw, problems=(problem,))
    fields, native = _flatten(value)
    return RawRecord(batch=batch.name, row=row, fields=fields, raw=raw, native=native)


def json_values(text: str) -> int:
    """An upper bound of the values (not keys) JSON ``text`` holds, counted without parsing it: every value but the
    first of a list or object follows a comma, and every list or object is one value itself. Commas inside texts
    count too, so the bound can be a little high, never low."""
    return text.count(",") + text.count("[") + text.count("{") + 1


def _check_depth(value: Any, limits: IntakeLimits) -> None:
    """A record's nesting against ``max_json_depth`` (the record is level 1, an object or list in it level 2)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            limits.check("max_json_depth", depth)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))


def _json_records(batch: Batch, row: int, value: Any, raw: str, budget: RowBudget,
                  options: ReaderOptions = NO_OPTIONS) -> list[RawRecord]:
    """The record(s) of one JSON value, within the budget's limits: one, or one per position (``options``)."""
    _check_depth(value, budget.limits)
    path = options.positions
    positions = _at(value, path) if path and isinstance(value, dict) else None
    if not isinstance(positions, list) or not positions:
        record = _object_record(batch, row, value, raw)
        budget.row(row, tuple(record.fields.values()))
        return [record]
    assert path is not None
    parent = _without(value, path)
    records = []
    for i, position in enumerate(positions, start=1):
        if not isinstance(position, dict):
            position = {"": position}
        item = {**parent, **{f"{path}.{k}" if k else path: v for k, v in position.items()}}
        record = _object_record(batch, row, item, raw if i == 1 else json.dumps(position, ensure_ascii=False,
                                                                                  default=str))
        own = frozenset(k for k in record.fields if k == path or k.startswith(path + "."))
        record = replace(record, position=i, position_columns=own)
        budget.row(row, tuple(record.fields.values()))
        records.append(record)
    return records


def _at(value: Any, path: str) -> Any:
    """The value under the dotted key ``path`` (``None`` where a key is missing)."""
    for key in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _without(value: dict[str, Any], path: str) -> dict[str, Any]:
    """``value`` without what stands under the dotted key ``path``."""
    head, _, rest = path.partition(".")
    if not rest:
        return {k: v for k, v in value.items() if k != head}
    inner = value.get(head)
    return {**value, head: _without(inner, rest)} if isinstance(inner, dict) else dict(value)


def _read_json(data: bytes, batch: Batch, limits: IntakeLimits, options: ReaderOptions = NO_OPTIONS) -> Batch:
    text = _json_text(data, batch)
    if isinstance(text, Batch):
        return text
    limits.check("max_cells", json_values(text))
    try:
        doc = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        return batch.failed(f"kein gültiges JSON: {exc.msg} (Zeile {exc.lineno}, Spalte {exc.colno})",
                            "exportieren Sie die Datei erneut; sie ist unvollständig oder beschädigt")
    if options.records:
        items = _at(doc, options.records)
        if not isinstance(items, list):
            return batch.failed(f"unter {options.records!r} (reader.records) steht keine Liste von Datensätzen",
                                "prüfen Sie reader.records im Mapping-Profil: die Schlüssel bis zur Liste, mit "
                                "Punkten getrennt (z. B. \"export.rechnungen\")")
    else:
        items = doc.get("records") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        return batch.failed("das JSON enthält weder eine Liste von Datensätzen noch {\"records\": [...]}",
                            "liefern Sie [ {...}, {...} ] oder {\"records\": [ {...}, {...} ]}, oder nennen "
                            "Sie den Weg zur Liste unter reader.records im Mapping-Profil")
    limits.check("max_rows", len(items))
    budget = RowBudget(limits)
    records = tuple(r for i, item in enumerate(items, start=1) for r in _json_records(
        batch, i, item, json.dumps(item, ensure_ascii=False, default=str), budget, options))
    return Batch(name=batch.name, format="json", records=records, encoding="utf-8",
                 errors=tuple(p for r in records for p in r.problems), columns=_columns(records))


def _read_jsonl(data: bytes, batch: Batch, limits: IntakeLimits, options: ReaderOptions = NO_OPTIONS) -> Batch:
    text = _json_text(data, batch)
    if isinstance(text, Batch):
        return text
    lines = line_count(text)
    limits.check("max_rows", lines)
    limits.check("max_cells", json_values(text) + lines)
    budget = RowBudget(limits)
    records = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            problem = RecordError(batch=batch.name, row=line_no, value=line[:80],
                                  problem=f"die Zeile ist kein gültiges JSON: {exc.msg} (Zeichen {exc.colno})",
                                  fix="jede Zeile muss ein vollständiges JSON-Objekt sein; prüfen Sie die Zeile")
            records.append(RawRecord(batch=batch.name, row=line_no, fields={}, raw=line, problems=(problem,)))
            continue
        records.extend(_json_records(batch, line_no, value, line, budget, options))
    if not records:
        return batch.failed("die Datei enthält keine Datensätze", "jede Zeile muss ein JSON-Objekt sein")
    return Batch(name=batch.name, format="jsonl", records=tuple(records), encoding="utf-8",
                 errors=tuple(p for r in records for p in r.problems), columns=_columns(records))


def _columns(records: Iterable[RawRecord]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for record in records:
        seen.update(dict.fromkeys(record.fields))
    return tuple(seen)


# ============================================================================================== XLSX


def _read_xlsx(data: bytes, batch: Batch, limits: IntakeLimits, options: ReaderOptions = NO_OPTIONS) -> Batch:
    """The first sheet (or ``options.sheet``); the first non-empty row (or ``options.header_row``) is the header,
    rows above it are titles. Number and date cells come as Excel gives them
    (canonical text, marked native); text cells as text; formulas as their last computed value.

    The archive is measured first (``zipbound.check_archive``). The sheet's ``<dimension ref="A1:XFD1048576"/>``
    is only what the file claims: openpyxl's read-only sheet would pad every row to its width and fill every
    missing row up to its height, so the dimension is reset and the rows are taken one by one within the
    limits (``RowBudget``), as wide as their last cell."""
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - openpyxl is a dependency
        return batch.failed("XLSX kann hier nicht gelesen werden (openpyxl fehlt)", "installieren Sie openpyxl")
    import warnings
    import zipfile

    from .zipbound import check_archive

    budget = RowBudget(limits)
    try:
        check_archive(data, limits)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles and extensions it does not know
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                sheet = _sheet(book, options.sheet)
                if isinstance(sheet, tuple):
                    return batch.failed(*sheet)
                sheet.reset_dimensions()
                rows = []
                for i, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                    budget.row(i, values)
                    rows.append((i, list(values)))
            finally:
                book.close()
    except LimitExceeded:
        raise
    except (zipfile.BadZipFile, KeyError, EOFError, OSError, ValueError, TypeError, IndexError,
            AttributeError) as exc:
        reason = "unvollständig oder beschädigt" if isinstance(exc, (zipfile.BadZipFile, EOFError)) else \
            "keine lesbare Excel-Arbeitsmappe"
        return batch.failed(f"die XLSX-Datei ist {reason} ({type(exc).__name__})",
                            "speichern Sie die Datei in Excel erneut als .xlsx und liefern Sie sie noch einmal")
    except Exception as exc:  # openpyxl raises its own errors for malformed parts
        return batch.failed(f"die XLSX-Datei ist keine lesbare Excel-Arbeitsmappe ({type(exc).__name__})",
                            "speichern Sie die Datei in Excel erneut als .xlsx und liefern Sie sie noch einmal")
    filled = [(i, r) for i, r in rows if any(v not in (None, "") for v in r)
              and i >= (options.header_row or 1)]
    if options.header_row is not None and (not filled or filled[0][0] != options.header_row):
        return batch.failed(f"Zeile {options.header_row} (reader.header_row) ist leer oder fehlt",
                            "prüfen Sie reader.header_row im Mapping-Profil: die Zeile mit den Spaltennamen")
    if not filled:
        return batch.failed("das erste Tabellenblatt ist leer", "die Daten gehören auf das erste Tabellenblatt")
    header_row, header_values = filled[0]
    header = [_canonical(v)[0] for v in header_values]
    body = [(i, [_canonical(v) for v in r]) for i, r in filled[1:]]
    problem = _header_problem(header, [(i, [t for t, _ in r]) for i, r in body])
    if problem:
        return batch.failed(*problem)
    keep = [i for i, h in enumerate(header) if h]
    records = []
    for row_no, cells in body:
        fields = {header[i]: (cells[i][0] if i < len(cells) else "") for i in keep}
        native = frozenset(header[i] for i in keep if i < len(cells) and cells[i][1])
        raw = "\t".join(t for t, _ in cells)
        records.append(RawRecord(batch=batch.name, row=row_no, fields=fields, raw=raw, native=native))
    return Batch(name=batch.name, format="xlsx", records=tuple(records), columns=tuple(header[i] for i in keep),
                 details={"sheet": str(options.sheet or 1), "header_row": str(header_row)})


def _sheet(book: Any, wanted: str | int | None) -> Any:
    """The sheet ``wanted`` (name, or number from 1; default the first), or the (problem, fix) of its absence."""
    names = book.sheetnames
    if wanted is None:
        return book.worksheets[0]
    if isinstance(wanted, int) and 1 <= wanted <= len(names):
        return book.worksheets[wanted - 1]
    if isinstance(wanted, str):
        match = next((n for n in names if n.strip().casefold() == wanted.strip().casefold()), None)
        if match is not None:
            return book[match]
    return (f"die Arbeitsmappe hat kein Tabellenblatt {wanted!r} (reader.sheet)",
            "die Blätter heißen: " + ", ".join(repr(n) for n in names)
            + "; korrigieren Sie reader.sheet im Mapping-Profil oder liefern Sie die Mappe mit diesem Blatt")


# ============================================================================================== finished documents


def _read_xml(data: bytes, batch: Batch, limits: IntakeLimits) -> Batch:
    """One record: the document itself, passed through for validation and delivery. Its size is checked before
    it is parsed, its nesting after (the parser itself stops at 256 levels)."""
    from validators.xmlsafe import deeper_than

    from ..errors import DocumentReadError
    from ..syntax import detect_syntax
    from ..syntax.xml import parse

    limits.check("max_xml_bytes", len(data))
    try:
        root = parse(data)
        syntax = detect_syntax(root)
    except DocumentReadError as exc:
        return batch.failed(f"kein UBL- oder CII-Rechnungsdokument: {exc.problem}",
                            exc.fix or "liefern Sie die fertige XRechnung (UBL oder CII) als XML")
    too_deep = deeper_than(root, limits.max_xml_depth)
    if too_deep is not None:
        raise limits.exceeded("max_xml_depth", f"Zeile {too_deep.sourceline}")
    from lxml import etree

    fields = {"syntax": syntax, "root": etree.QName(root).localname}
    return Batch(name=batch.name, format="xml", records=(RawRecord(batch=batch.name, row=1, fields=fields,
                                                                   raw=data),), columns=tuple(fields))


def _read_pdf(data: bytes, batch: Batch, limits: IntakeLimits) -> Batch:
    """One record: the PDF, when it carries a ZUGFeRD/Factur-X/XRechnung XML (a plain PDF is no e-invoice)."""
    xml_name, xml = embedded_xml(data)
    if xml is None and xml_name:
        return batch.failed(xml_name, "liefern Sie das PDF erneut aus dem Fachverfahren")
    if xml is None:
        return batch.failed("das PDF enthält keine eingebettete Rechnungs-XML (ZUGFeRD/Factur-X)",
                            "ein reines PDF ist keine E-Rechnung: liefern Sie ZUGFeRD (ab Profil EN 16931) "
                            "oder die XRechnung als XML")
    fields = {"syntax": "cii", "embedded": xml_name or ""}
    return Batch(name=batch.name, format="pdf", records=(RawRecord(batch=batch.name, row=1, fields=fields,
                                                                   raw=data),), columns=tuple(fields))


def embedded_xml(pdf: bytes) -> tuple[str | None, bytes | None]:
    """(file name, XML) of the invoice embedded in a ZUGFeRD/Factur-X PDF, or (reason, None); (None, None) when
    the PDF carries none. Read the hardened way (``documents.embedded``), as ``validate`` reads it."""
    from ..documents.embedded import PdfInputError, extract_invoice

    try:
        found = extract_invoice(pdf)
    except PdfInputError as exc:
        if exc.code == "pdf-no-embedded-invoice" and not exc.damaged:
            return None, None
        if exc.code == "pdf-too-large":
            return f"das PDF ist zu groß ({exc.problem})", None
        return f"das PDF ist beschädigt, unvollständig oder verschlüsselt ({exc.problem})", None
    return found.filename, found.xml


def document_bytes(record: RawRecord) -> bytes:
    """The invoice XML of a finished-document record (the XML itself, or the one embedded in the PDF)."""
    if not isinstance(record.raw, bytes):
        raise TypeError("not a finished-document record")
    if record.raw.startswith(b"%PDF-"):
        _, xml = embedded_xml(record.raw)
        if xml is None:
            raise ValueError("the PDF carries no invoice XML")
        return xml
    return record.raw
