"""Bounded input (issue 10): a department's file that breaks a limit is refused as a whole, naming the limit and
its value, and reading it never takes more than the limits' worth of memory, whatever the file declares.

The hostile files are built here. The memory tests read them in a child process whose address space is capped
(``RLIMIT_AS``), so that a reader without bounds fails cleanly (MemoryError, or a peak above the bound) instead
of making the machine swap.
"""
from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from erechnung.intake import read_batch

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ADDRESS_SPACE = 1536 * 1024 * 1024  # the child's cap: far below what the unbounded readers took
PEAK_MB = 200  # what reading one hostile file may cost at most (interpreter and libraries included)



def IntakeLimits(**values):  # noqa: N802 - imported per test, so that each test fails alone without the module
    from erechnung.config.limits import IntakeLimits as limits

    return limits(**values)


# ------------------------------------------------------------------------------------------- hostile XLSX files

_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    b'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships'
    b'+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override '
    b'PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    b'spreadsheetml.worksheet+xml"/></Types>')
_RELS = (b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
         b'2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
         b'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WORKBOOK = (b'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
             b'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
             b'relationships"><sheets><sheet name="Tabelle1" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WORKBOOK_RELS = (b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
                  b'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                  b'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
_SHEET_HEAD = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
               b'spreadsheetml/2006/main">')
_HEADER_ROWS = (b'<row r="1"><c r="A1" t="inlineStr"><is><t>Name</t></is></c></row>'
                b'<row r="2"><c r="A2" t="inlineStr"><is><t>Jutta Beispiel</t></is></c></row>')


def xlsx(rows: bytes, dimension: str = "A1:A2", *, repeat: int = 1) -> bytes:
    """A minimal workbook written with zipfile: one sheet declaring ``dimension``, holding ``rows`` after the
    header (``repeat`` times, streamed into the archive, so a bomb never exists uncompressed here)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, part in (("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _RELS),
                           ("xl/workbook.xml", _WORKBOOK), ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)):
            archive.writestr(name, part)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(_SHEET_HEAD + f'<dimension ref="{dimension}"/><sheetData>'.encode() + _HEADER_ROWS)
            for _ in range(repeat):
                sheet.write(rows)
            sheet.write(b"</sheetData></worksheet>")
    return out.getvalue()


def forged_dimension() -> bytes:
    """5 KB: declares the whole Excel grid and holds one more cell, in the grid's last row."""
    return xlsx(b'<row r="1048576"><c r="A1048576"><v>1</v></c></row>', "A1:XFD1048576")


def zip_bomb(megabytes: int) -> bytes:
    """A sheet of ``megabytes`` MB of identical rows (rows without numbers follow one another), compressed about
    a thousand times."""
    row = b"<row><c><v>1</v></c></row>" * 40_000  # ~1 MB
    return xlsx(row, "A1:A2", repeat=megabytes)


def lying_sizes(data: bytes, member: str, declared: int) -> bytes:
    """``data`` (a ZIP) with ``member``'s uncompressed size declared as ``declared`` in its local header and in
    the central directory (APPNOTE 4.3.7 and 4.3.12), its CRC left as it was."""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(member)
    assert info.file_size < 0xFFFFFFFF, "build the liar without ZIP64"
    struct.pack_into("<L", out, info.header_offset + 22, declared)
    central = struct.unpack_from("<L", out, out.rfind(b"PK\x05\x06") + 16)[0]  # end record: directory offset
    while True:
        name_length = struct.unpack_from("<H", out, central + 28)[0]
        if out[central + 46:central + 46 + name_length] == member.encode():
            struct.pack_into("<L", out, central + 24, declared)
            return bytes(out)
        extra, comment = struct.unpack_from("<HH", out, central + 30)
        central += 46 + name_length + extra + comment


def liar() -> bytes:
    """A sheet that inflates to ~40 MB (a ratio far above 100) declared as 1,000 bytes."""
    rows = b"<row><c><v>1</v></c></row>" * 40_000
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, part in (("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _RELS),
                           ("xl/workbook.xml", _WORKBOOK), ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)):
            archive.writestr(name, part)
        archive.writestr("xl/worksheets/sheet1.xml", _SHEET_HEAD + b"<sheetData>" + _HEADER_ROWS + rows * 40
                         + b"</sheetData></worksheet>")
    return lying_sizes(out.getvalue(), "xl/worksheets/sheet1.xml", 1_000)


# ------------------------------------------------------------------------------------------- a capped child


def read_in_capped_child(tmp_path: Path, data: bytes, name: str, fmt: str) -> dict:
    """``read_batch`` of ``data`` in a child process with a capped address space: its batch error (or None) and
    its peak resident set size in MB."""
    source = tmp_path / name
    source.write_bytes(data)
    del data
    script = textwrap.dedent(f"""
        import json, resource, sys
        resource.setrlimit(resource.RLIMIT_AS, ({ADDRESS_SPACE}, {ADDRESS_SPACE}))
        from erechnung.intake import read_batch
        def peak_mb():  # VmHWM: this program's own peak (ru_maxrss keeps the forking test worker's too)
            return int(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:"))) / 1024
        data = open({str(source)!r}, "rb").read()
        batch = read_batch(data, {name!r}, format={fmt!r})
        print(json.dumps({{"ok": batch.ok, "problem": batch.errors[0].problem if batch.errors else None,
                          "peak_mb": peak_mb()}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, f"the reader failed (memory exhausted?):\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------- XLSX


def test_forged_dimension_is_not_trusted_and_memory_stays_bounded(tmp_path):
    data = forged_dimension()
    assert len(data) < 5_000
    outcome = read_in_capped_child(tmp_path, data, "hostile.xlsx", "xlsx")
    assert outcome["problem"] == "die Datei hat mehr als 100000 Zeilen (Grenze limits.max_rows = 100000)"
    assert outcome["peak_mb"] < PEAK_MB, outcome


@pytest.mark.parametrize("megabytes, limit", [(300, "max_decompressed_bytes = 268435456"),
                                              (30, "max_compression_ratio = 100")])
def test_xlsx_zip_bomb_is_refused_with_bounded_memory(tmp_path, megabytes, limit):
    """Bigger than the cap, or within it but inflating a thousand times: openpyxl never opens it."""
    data = zip_bomb(megabytes)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.getinfo("xl/worksheets/sheet1.xml").file_size > megabytes * 10**6
    outcome = read_in_capped_child(tmp_path, data, "bomb.xlsx", "xlsx")
    assert outcome["ok"] is False
    assert outcome["problem"].endswith(f"(Grenze limits.{limit})"), outcome
    assert outcome["peak_mb"] < PEAK_MB, outcome


def test_xlsx_whose_declared_sizes_lie_is_measured_by_what_it_inflates_to(tmp_path):
    data = liar()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.getinfo("xl/worksheets/sheet1.xml").file_size == 1_000
    batch = read_batch(data, "liar.xlsx", format="xlsx")
    assert not batch.ok and batch.records == ()
    assert "(Grenze limits.max_compression_ratio = 100)" in batch.errors[0].problem


def test_configured_decompression_cap_refuses_a_workbook_that_inflates_beyond_it():
    data = (EXAMPLES / "batches" / "steueramt" / "2026-01_hundesteuer.xlsx").read_bytes()
    assert read_batch(data, "h.xlsx", format="xlsx", limits=IntakeLimits()).ok
    batch = read_batch(data, "h.xlsx", format="xlsx", limits=IntakeLimits(max_decompressed_bytes=4096))
    assert batch.errors[0].problem == ("die XLSX-Datei ist entpackt größer als 4096 Bytes "
                                       "(Grenze limits.max_decompressed_bytes = 4096)")
    assert "teilen Sie die Tabelle" in batch.errors[0].fix


def test_a_cell_in_the_last_excel_column_is_refused_by_the_column_limit():
    data = xlsx(b'<row r="3"><c r="A3"><v>1</v></c><c r="XFD3"><v>2</v></c></row>', "A1:XFD3")
    batch = read_batch(data, "breit.xlsx", format="xlsx")
    assert batch.errors[0].problem == ("eine Zeile hat mehr als 1000 Spalten (Zeile 3) "
                                       "(Grenze limits.max_columns = 1000)")


def test_a_real_workbook_still_reads_within_the_defaults():
    data = (EXAMPLES / "batches" / "steueramt" / "2026-01_hundesteuer.xlsx").read_bytes()
    batch = read_batch(data, "h.xlsx", format="xlsx")
    assert batch.ok and len(batch.records) == 5


# ------------------------------------------------------------------------------------------- JSON


def _nested(depth: int) -> dict:
    value: dict = {"wert": "x"}
    for _ in range(depth - 1):
        value = {"tiefer": value}
    return value


def test_json_nesting_deeper_than_the_limit_is_refused():
    ok = json.dumps({"records": [{"name": "A", **_nested(32)}]}).encode()
    assert read_batch(ok, "ok.json").ok
    deep = json.dumps({"records": [{"name": "A", **_nested(40)}]}).encode()
    batch = read_batch(deep, "tief.json")
    assert batch.errors[0].problem == ("die Daten sind tiefer als 32 Ebenen verschachtelt "
                                       "(Grenze limits.max_json_depth = 32)")


def test_json_nested_beyond_the_parsers_own_bound_names_the_limit_too():
    batch = read_batch(b"[" * 200_000 + b"]" * 200_000, "tief.json")
    assert batch.errors[0].problem.endswith("(Grenze limits.max_json_depth = 32)")


def test_json_lines_nesting_is_bounded_per_line():
    lines = json.dumps({"name": "A"}) + "\n" + json.dumps({"name": "B", **_nested(33)}) + "\n"
    batch = read_batch(lines.encode(), "x.jsonl")
    assert batch.errors[0].problem.endswith("(Grenze limits.max_json_depth = 32)")


def test_json_with_more_records_than_the_limit_is_refused():
    records = json.dumps([{"name": str(i)} for i in range(4)]).encode()
    batch = read_batch(records, "viele.json", limits=IntakeLimits(max_rows=3))
    assert batch.errors[0].problem == "die Datei hat mehr als 3 Zeilen (Grenze limits.max_rows = 3)"


def test_json_values_are_counted_before_parsing_and_memory_stays_bounded(tmp_path):
    """7.5 million empty lists in 30 MB: parsed, they would take half a gigabyte."""
    data = b"[" + b"[]," * 7_500_000 + b"[]]"
    outcome = read_in_capped_child(tmp_path, data, "leer.json", "json")
    assert outcome["problem"] == ("die Datei enthält mehr als 2000000 Zellen bzw. Werte "
                                  "(Grenze limits.max_cells = 2000000)")
    assert outcome["peak_mb"] < PEAK_MB, outcome


def test_a_json_value_longer_than_the_field_limit_is_refused():
    data = json.dumps([{"name": "A", "notiz": "x" * 70_000}]).encode()
    batch = read_batch(data, "lang.json")
    assert batch.errors[0].problem == ("ein Wert ist länger als 65536 Bytes (Zeile 1) "
                                       "(Grenze limits.max_field_bytes = 65536)")


# ------------------------------------------------------------------------------------------- CSV


def test_csv_with_more_lines_than_the_limit_is_refused_with_a_message_for_the_clerk():
    data = b"Name;Betrag\n" + b"A;1\n" * 100_000
    batch = read_batch(data, "viele.csv")
    (error,) = batch.errors
    assert not batch.ok and batch.records == ()
    assert error.problem == "die Datei hat mehr als 100000 Zeilen (Grenze limits.max_rows = 100000)"
    assert error.fix == "teilen Sie die Datensätze auf mehrere Dateien auf"
    assert read_batch(b"Name;Betrag\n" + b"A;1\n" * 99_999, "genug.csv").ok


def test_csv_lines_are_counted_as_the_reader_splits_them():
    """Form feeds end lines too (``str.splitlines``): 200,000 of them are 200,000 lines, not one."""
    batch = read_batch(b"Name;Betrag\n" + b"\x0c" * 200_000, "ff.csv")
    assert batch.errors[0].problem.endswith("(Grenze limits.max_rows = 100000)")


def test_csv_with_more_columns_than_the_limit_is_refused():
    data = (";".join(f"S{i}" for i in range(1_001)) + "\n" + ";".join("1" * 1_001) + "\n").encode()
    batch = read_batch(data, "breit.csv")
    assert batch.errors[0].problem == ("eine Zeile hat mehr als 1000 Spalten (Zeile 1) "
                                       "(Grenze limits.max_columns = 1000)")


def test_csv_cells_are_bounded_across_rows():
    data = b"A;B;C\n" + b"1;2;3\n" * 4
    batch = read_batch(data, "x.csv", limits=IntakeLimits(max_cells=10))
    assert batch.errors[0].problem.endswith("(Grenze limits.max_cells = 10)")


@pytest.mark.parametrize("length", [70_000, 200_000])
def test_csv_value_longer_than_the_field_limit_is_refused(length):
    """Above the csv module's own limit (131,072 characters) as well as below it."""
    data = b"Name;Notiz\nA;" + b"x" * length + b"\n"
    batch = read_batch(data, "lang.csv")
    assert batch.errors[0].problem.startswith("ein Wert ist länger als 65536 Bytes (Zeile 2)")
    assert batch.errors[0].problem.endswith("(Grenze limits.max_field_bytes = 65536)")


# ------------------------------------------------------------------------------------------- XML


def test_intake_xml_is_bounded_in_size_before_parsing_and_in_depth():
    data = (EXAMPLES / "batches" / "stadtbibliothek" / "BIB-2026-0031_ubl.xml").read_bytes()
    assert read_batch(data, "r.xml", format="xml").ok
    small = read_batch(data, "r.xml", format="xml", limits=IntakeLimits(max_xml_bytes=1000))
    assert small.errors[0].problem == ("das XML-Dokument ist größer als 1000 Bytes "
                                       "(Grenze limits.max_xml_bytes = 1000)")
    shallow = read_batch(data, "r.xml", format="xml", limits=IntakeLimits(max_xml_depth=2))
    assert shallow.errors[0].problem.endswith("(Grenze limits.max_xml_depth = 2)")


def test_limits_error_is_a_record_error_naming_its_limit():
    from erechnung.config.limits import LimitExceeded
    from erechnung.errors import RecordError

    exc = IntakeLimits(max_rows=7).exceeded("max_rows")
    assert isinstance(exc, RecordError) and isinstance(exc, LimitExceeded)
    assert (exc.limit, exc.bound) == ("max_rows", 7)
