"""The clarification list (issue 15): unmatched entries and suggestions as CSV for Excel and as an escaped page."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone
from decimal import Decimal as D

import pytest

from erechnung.config.payments import MatchRules
from erechnung.html_safety import REPORT_POLICY
from erechnung.model.receivables import BankEntry, Direction, Match, MatchKind, OpenItem
from erechnung.payments.clarification import HEADERS, clarification_csv, clarification_html, clarification_rows
from erechnung.payments.matching import MatchInputError, match

OURS = "DE02120300000000202051"
PAYER = "DE89370400440532013000"
CREATED = datetime(2026, 3, 2, 13, 5, tzinfo=timezone.utc)


def _item(item_id: int, kz: str, amount: str, iban: str | None = None) -> OpenItem:
    return OpenItem(item_id=item_id, document_id=item_id, number=f"RE-2026-{item_id:04d}", kassenzeichen=kz,
                    department="kasse", debtor_ref="K-1", debtor_name="<b>Erika</b> Mustermann", debtor_iban=iban,
                    amount=D(amount), due_date=date(2026, 2, 15), account_iban=OURS)


def _entry(key: str, amount: str, text: str, name: str = "Max Muster") -> BankEntry:
    return BankEntry(entry_key=key, account_iban=OURS, booking_date=date(2026, 3, 2), amount=D(amount),
                     direction=Direction.CREDIT, remittance=(text,), counterparty_name=name,
                     counterparty_iban=PAYER, statement_id="2026-03-02/1")


@pytest.fixture
def situation():
    items = [_item(1, "123456789", "48.00", iban=PAYER), _item(2, "223456789", "30.00")]
    entries = [_entry("paid", "30.00", "KZ 223456789"),                           # booked: not on the list
               _entry("sugg", "48.00", "Danke"),                                  # suggestion
               _entry("none", "12.00", "<script>alert(1)</script>", name="=HYPERLINK(\"http://x\")"),  # unknown
               _entry("over", "20.00", "KZ 223456789")]                           # item 2 is paid: overpayment
    matches = match(entries, items, rules=MatchRules())
    return matches, entries, items


def test_the_list_holds_what_needs_a_person(situation):
    rows = clarification_rows(*situation)
    assert [(r.entry.entry_key, r.match.kind) for r in rows] == [
        ("sugg", MatchKind.SUGGESTION), ("none", MatchKind.NONE), ("over", MatchKind.REFERENCE)]
    assert [i.item_id for i in rows[0].candidates] == [1]
    assert [i.item_id for i in rows[2].candidates] == []  # nothing allocated: item 2 was paid already


def test_csv_for_excel(situation):
    data = clarification_csv(clarification_rows(*situation))
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert tuple(table[0]) == HEADERS
    suggestion = dict(zip(HEADERS, table[1]))
    assert suggestion["Art"] == "Vorschlag" and suggestion["Betrag"] == "48,00"
    assert suggestion["Buchungstag"] == "02.03.2026" and "Kassenzeichen 123456789" in suggestion["Kandidaten"]
    unknown = dict(zip(HEADERS, table[2]))
    assert unknown["Zahler"].startswith("'=HYPERLINK")  # no formula for Excel
    assert unknown["Begründung"].startswith("kein Kassenzeichen")
    assert dict(zip(HEADERS, table[3]))["Art"] == "Überzahlung"


def test_html_is_escaped_and_carries_the_csp(situation):
    page = clarification_html(clarification_rows(*situation), created=CREATED).decode("utf-8")
    assert REPORT_POLICY in page and 'http-equiv="Content-Security-Policy"' in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>Erika" not in page and "&lt;b&gt;Erika" in page
    assert "3 Buchungen zu klären, davon 1 mit Vorschlag" in page and "02.03.2026 14:05 MEZ" in page


def test_an_empty_list_says_so():
    page = clarification_html([], created=CREATED).decode("utf-8")
    assert "Keine Buchungen zu klären" in page


def test_a_match_without_its_entry_is_refused():
    with pytest.raises(MatchInputError, match="no entry"):
        clarification_rows([Match(entry_key="x", kind=MatchKind.NONE, unallocated=D("1"))], [], [])
