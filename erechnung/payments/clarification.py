"""The Stadtkasse's clarification list (issue 15): what matching did not book by itself, for a clerk to decide.

A row per entry whose match is ``NONE`` (nothing found), ``SUGGESTION`` (candidates to confirm) or that left
money unallocated (an overpayment, a return larger than what was paid): the entry's data, the candidate items
(suggested, or the items the entry was booked on) and the reason in German. Two renderings of the same rows:

* ``clarification_csv(rows)``: UTF-8 with BOM, ``;``-separated, CRLF, for Excel; amounts as ``1234,50`` (Excel
  reads them as numbers); a text cell that Excel would run as a formula gets a leading ``'``;
* ``clarification_html(rows, created=...)``: a German page, every value escaped, with the reports' CSP meta.

Pure: the rows come from ``match`` results, the entries and the items; recording the clerk's decision (who,
when) is the store's part (``erechnung.stadtkasse``). Free text from the bank (names, remittance) is cut to
``MAX_CELL`` characters.
"""
from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from ..html_safety import table_page
from ..model.amounts import de_number
from ..model.clock import berlin_text
from ..model.receivables import BankEntry, Direction, Match, MatchKind, OpenItem
from .matching import RETURN_REASONS, MatchInputError

__all__ = ["HEADERS", "KIND_NAMES", "ClarificationRow", "clarification_csv", "clarification_html",
           "clarification_rows"]

MAX_CELL = 500

#: the German names of the match kinds, as the clerk reads them
KIND_NAMES: dict[MatchKind, str] = {
    MatchKind.NONE: "nicht zugeordnet",
    MatchKind.SUGGESTION: "Vorschlag",
    MatchKind.REFERENCE: "Überzahlung",
    MatchKind.END_TO_END: "Überzahlung (Lastschrift)",
    MatchKind.REVERSAL: "Rücklastschrift",
}

HEADERS = ("Art", "Buchungstag", "Wertstellung", "Betrag", "davon offen", "Zahler", "IBAN des Zahlers",
           "Verwendungszweck", "Referenzen", "Ende-zu-Ende-ID", "Rückgabegrund", "Kandidaten", "Begründung",
           "Kontoauszug", "Buchungsschlüssel")


@dataclass(frozen=True, slots=True)
class ClarificationRow:
    match: Match
    entry: BankEntry
    candidates: tuple[OpenItem, ...]

    def cells(self) -> tuple[str, ...]:
        """The row's values as text, in the order of ``HEADERS``."""
        e, m = self.entry, self.match
        signed = -e.amount if e.direction is Direction.DEBIT else e.amount
        code = (e.return_reason or "")[:4]
        return (
            KIND_NAMES.get(m.kind, str(m.kind)), _day(e.booking_date), _day(e.value_date), _amount(signed),
            _amount(m.unallocated), _cut(e.counterparty_name), e.counterparty_iban or "",
            _cut(" / ".join(e.remittance)), _cut(" / ".join(e.structured_refs)), _cut(e.end_to_end_id or ""),
            f"{code} {RETURN_REASONS.get(code, '')}".strip() if code else "",
            " | ".join(_candidate(i) for i in self.candidates), m.reason, _cut(e.statement_id), _cut(e.entry_key))


def _needs_a_person(m: Match) -> bool:
    return m.kind in (MatchKind.NONE, MatchKind.SUGGESTION) or m.unallocated != 0


def clarification_rows(matches: Iterable[Match], entries: Sequence[BankEntry],
                       items: Sequence[OpenItem]) -> list[ClarificationRow]:
    """The rows of the list, in the order of ``matches``: every match that needs a person (module doc)."""
    by_key = {e.entry_key: e for e in entries}
    by_id = {i.item_id: i for i in items}
    rows = []
    for m in matches:
        if not _needs_a_person(m):
            continue
        entry = by_key.get(m.entry_key)
        if entry is None:
            raise MatchInputError(f"match for entry {m.entry_key!r} has no entry among the {len(entries)} given: "
                                  "pass the entries the matches were made from")
        ids = m.suggested or tuple(a.item_id for a in m.allocations)
        rows.append(ClarificationRow(m, entry, tuple(by_id[i] for i in ids if i in by_id)))
    return rows


def clarification_csv(rows: Iterable[ClarificationRow]) -> bytes:
    """The list as CSV for Excel: header row ``HEADERS``, ``;``, UTF-8 with BOM."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(HEADERS)
    for row in rows:
        writer.writerow([_csv_safe(v) for v in row.cells()])
    return out.getvalue().encode("utf-8-sig")


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } p.summary { color: #444; }
table { border-collapse: collapse; width: 100%; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .3em .5em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } td.betrag { text-align: right; white-space: nowrap; }
tr.vorschlag td { background: #fffbe6; } tr.nicht td { background: #fff3f3; }
"""
_ROW_CLASS = {MatchKind.SUGGESTION: ' class="vorschlag"', MatchKind.NONE: ' class="nicht"'}
_AMOUNT_COLUMNS = {3, 4}


def clarification_html(rows: Sequence[ClarificationRow], *, created: datetime,
                       title: str = "Klärungsliste der Stadtkasse") -> bytes:
    """The list as a German HTML page; every value from the bank or the items is escaped."""
    e = html.escape
    open_total = sum((r.match.unallocated for r in rows), Decimal("0"))
    suggestions = sum(1 for r in rows if r.match.kind is MatchKind.SUGGESTION)
    summary = (f"{len(rows)} Buchung{'en' if len(rows) != 1 else ''} zu klären, davon {suggestions} mit Vorschlag; "
               f"nicht zugeordnet insgesamt {_amount(open_total)} EUR. Vorschläge werden erst gebucht, wenn eine "
               "Sachbearbeiterin oder ein Sachbearbeiter sie bestätigt.") if rows \
        else "Keine Buchungen zu klären: alle Zahlungen wurden zugeordnet."
    body = []
    for r in rows:
        cells = "".join(f"<td class=\"betrag\">{e(v)}</td>" if i in _AMOUNT_COLUMNS else f"<td>{e(v)}</td>"
                        for i, v in enumerate(r.cells()))
        body.append(f"<tr{_ROW_CLASS.get(r.match.kind, '')}>{cells}</tr>")
    return table_page(title, summary, berlin_text(created), HEADERS, body, _STYLE)


def _candidate(item: OpenItem) -> str:
    rate = f", Rate {item.instalment}" if item.instalment else ""
    name = f", {_cut(item.debtor_name, 80)}" if item.debtor_name else ""
    return (f"Kassenzeichen {item.kassenzeichen}{rate} (Beleg {item.number}{name}, offen {_amount(item.open)} EUR, "
            f"fällig {_day(item.due_date)})")


_amount = de_number  # -1234,50: Excel reads the cell as a number


def _day(value: date | None) -> str:
    return "" if value is None else value.strftime("%d.%m.%Y")


def _cut(text: str, limit: int = MAX_CELL) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _csv_safe(value: str) -> str:
    """A cell Excel will not run as a formula (CSV injection: =, +, -, @, tab, CR at the start); numbers stay."""
    if value[:1] in ("=", "+", "-", "@", "\t", "\r") and not value.lstrip("+-").replace(",", "").isdigit():
        return "'" + value
    return value
