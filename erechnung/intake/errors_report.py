"""The error report a department reads: one row per problem (Datei, Zeile, Spalte, Wert, Problem, Was tun).

Two forms, both returned as bytes for the pipeline to put into the department's drop zone: CSV with ``;`` in UTF-8
with BOM (so that Excel opens it with umlauts intact) and a small German HTML page (every value escaped).
"""
from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterable
from datetime import datetime, timezone

from ..html_safety import table_page
from ..errors import RecordError
from ..model.clock import berlin_text

HEADERS = ("Datei", "Zeile", "Spalte", "Wert", "Problem", "Was tun")
#: How a line that is a note, not a problem, begins its "Was tun" (a record skipped because its document was
#: made from an earlier delivery, a document corrected, a summary row left out; issue 11): such lines do not
#: count as problems in the summary.
NOTE = "nichts zu tun"


def _rows(errors: Iterable[RecordError]) -> list[tuple[str, str, str, str, str, str]]:
    ordered = sorted(errors, key=lambda e: (e.batch or "", e.row if e.row is not None else -1))
    return [(e.batch or "", "" if e.row is None else str(e.row), e.column or "",
             "" if e.value is None else e.value, e.problem, e.fix) for e in ordered]


def csv_safe(value: str) -> str:
    """A cell Excel will not run as a formula (CSV injection: =, +, -, @ at the start)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(value) else value


def _is_number(value: str) -> bool:
    return value.lstrip("+-").replace(",", "").replace(".", "").isdigit()


def error_report_csv(errors: Iterable[RecordError]) -> bytes:
    """The problems as CSV: ``;``-separated, UTF-8 with BOM, header row ``Datei;Zeile;Spalte;Wert;Problem;Was tun``."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(HEADERS)
    for row in _rows(errors):
        writer.writerow([csv_safe(v) for v in row])
    return out.getvalue().encode("utf-8-sig")


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } p.summary { color: #444; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #ccc; padding: .4em .6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } td.wert { font-family: monospace; white-space: pre-wrap; }
tr.datei td { background: #fff3f3; }
"""


def error_report_html(errors: Iterable[RecordError], *, title: str = "Fehlerbericht",
                      department: str | None = None, created: datetime | None = None) -> bytes:
    """The problems as a German HTML page, one table row per problem; everything from the data is escaped."""
    rows = _rows(errors)
    e = html.escape
    when = berlin_text(created or datetime.now(timezone.utc))  # with its zone: "06.12.2026 14:05 MEZ"
    files = sorted({r[0] for r in rows if r[0]})
    heading = f"{title}{' – ' + department if department else ''}"
    notes = sum(1 for r in rows if r[5].startswith(NOTE))
    problems = len(rows) - notes
    if problems:
        summary = (f"{problems} Problem{'e' if problems != 1 else ''} in {len(files)} "
                   f"Datei{'en' if len(files) != 1 else ''}. Betroffene Belege wurden nicht versandt; "
                   "bitte korrigieren und die Datei (oder die betroffenen Zeilen) erneut liefern: Belege, die "
                   "schon erzeugt sind, werden dabei erkannt und nicht doppelt erstellt.")
    elif notes:
        summary = ("Keine Probleme: alle Belege wurden übernommen, waren bereits erzeugt oder wurden berichtigt; "
                   "die Zeilen unten sind Hinweise, es ist nichts zu tun.")
    else:
        summary = "Keine Probleme: alle Belege wurden übernommen."
    body = []
    for r in rows:
        css = ' class="datei"' if not r[1] else ""
        body.append(f"<tr{css}><td>{e(r[0])}</td><td>{e(r[1] or 'ganze Datei')}</td><td>{e(r[2])}</td>"
                    f"<td class=\"wert\">{e(r[3])}</td><td>{e(r[4])}</td><td>{e(r[5])}</td></tr>")
    return table_page(heading, summary, when, HEADERS, body, _STYLE)
