"""What finance reads about a delivery is German (issue 14): the fixed phrases of ``erechnung.delivery.texts`` and
a route explained with every reason a channel can be left out for; channel names and codes stay as the machine
writes them."""
from __future__ import annotations

import re
import string
from datetime import date

import pytest

from erechnung.delivery import texts
from erechnung.delivery.routing import route
from erechnung.model.recipients import Recipient

#: English words that would betray a phrase left untranslated (none of them is German).
ENGLISH = re.compile(r"\b(the|is|not|no|by|of|and|only|takes|cannot|failed|after|again|needs|left|channel)\b")
TABLES = {"SKIP": texts.SKIP, "ROUTE": texts.ROUTE, "EVENT": texts.EVENT, "NOTIFICATION": texts.NOTIFICATION,
          "START_NAMES": texts.START_NAMES, "CONSENT": texts.CONSENT}


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_fixed_phrase_is_german_and_fills_in(table):
    for key, text in TABLES[table].items():
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name}
        filled = text.format(**dict.fromkeys(names, "X"))  # every placeholder named, none left open
        assert "{" not in filled and not ENGLISH.search(filled), (table, key, filled)


def _recipient(**kw) -> Recipient:
    base = dict(customer_number="K-1", name="Kreis Muster", street="Amtsweg 1", post_code="12345", city="Muster",
                country_code="DE")
    return Recipient.model_validate(base | kw)


def test_a_route_without_any_channel_explains_itself_in_german():
    body = _recipient(kind="public_body", email="eingang@kreis.example")
    planned = route(body, "invoice", available={"email"})
    text = planned.explain()
    assert not planned.hops and text.startswith("ausgelassen: peppol (keine peppol-Adresse")
    assert "BR-DE-15" in text and "für print ist kein Connector konfiguriert" in text
    assert not ENGLISH.search(text), text
    citizen = _recipient(kind="citizen", email="anna@example.org", peppol_id="9930:DE123456789",
                         channels=("email", "peppol", "print"))
    notice = route(citizen, "notice", available={"email", "peppol", "print"},
                   posting_day=date(2026, 11, 23)).explain()
    assert notice.startswith("print; ausgelassen: ") and "E-Mail-Anhang" in notice
    assert "Peppol überträgt Rechnungen, keine Bescheide" in notice and not ENGLISH.search(notice)
