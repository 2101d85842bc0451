"""Matching bank entries against open items (issue 15): pure, no I/O; ``match(entries, items, rules=...)``.

Each entry gets one ``Match``; the rules are tried in this order, the first that finds something decides:

====  ===============  ==========================================================================================
rule  kind             what
====  ===============  ==========================================================================================
0     NONE             not EUR, or a debit that is no returned direct debit (a fee, a transfer out)
1     REVERSAL         a returned direct debit (DBIT with ``reversal`` or a ``return_reason``): found by the
                       end-to-end id, else by reference; a negative allocation reopens the item, ``Match.fee`` is
                       the return fee to add to it (``[payments] return_fee``)
2     END_TO_END       a credit whose end-to-end id is one of ours (``end_to_end_id(item)``): a collected
                       direct debit
3     REFERENCE        Kassenzeichen or document number in the structured references (creditor reference, also
                       ``RF..``) or in the remittance text (see "References in text")
4     SUGGESTION       the entry's amount equals an item's open amount and the payer's IBAN the item's debtor
                       IBAN: suggested only, never allocated (a person confirms it in the clarification list)
5     NONE             nothing found: to the clarification list, with the reason in German
====  ===============  ==========================================================================================

Allocation (rules 2 and 3): the items found are paid oldest due date first (then instalment, then item id),
each up to its open amount; the open amounts run over the whole call, so a second payment on the same item in a
later entry sees what the first left open. What is left of the entry stays ``unallocated`` (overpayment; the
reason says so); a payment below the open amount is a partial payment (the reason says what stays open).

References in text: the remittance lines are joined with line breaks and cut into tokens (runs of letters, runs
of digits); everything else (spaces, dots, hyphens, slashes, line breaks) only separates. A reference is found
where the concatenation of consecutive tokens equals a known Kassenzeichen or document number with its
separators removed, upper case ("KZ 1234-5678-9" finds the stored "123456789", "5.0300.1000" + line break +
"01.4" finds "5.0300.100001.4"). A match starts and ends at token boundaries, so a reference inside a longer
number (an IBAN) is not found. With ``missing_check_digit`` a Kassenzeichen is also found without its last
digit, unless the text goes on with a single digit there (a wrong check digit is a typo, not a match); a form
without check digit that fits several Kassenzeichen is only a suggestion. ``patterns`` (regexes with a group
``ref``) see the lines joined without separator (banks break lines anywhere) and their ``ref`` is looked up the
same way; what they find is added to what the scan finds (``scan_text = false``: patterns only).

Returned direct debits: ``BankEntry.amount`` is what the bank debited, ``charges`` (when given) is part of it
(camt ``ChrgInclInd``, as German banks book R-transactions); the reversed amount is ``amount - charges``, at most
what the item has been paid.

``end_to_end_id(item)`` is the end-to-end id our direct debit files (pain.008) give an item's collection; the
direct-debit writer uses it so that rule 2 finds the credit and rule 1 the return.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from ..config.payments import MatchRules
from ..errors import ErechnungError
from ..model.receivables import Allocation, BankEntry, Direction, Match, MatchKind, OpenItem

__all__ = ["RETURN_REASONS", "MatchInputError", "end_to_end_id", "match", "normalize"]

ZERO = Decimal("0")
#: the longest remittance text read (SEPA: 140 characters per line; camt may carry several lines)
MAX_TEXT = 4000
#: SEPA EndToEndId: at most 35 characters of the SEPA character set
E2E_LENGTH = 35
E2E_PREFIX = "ERE"

_TOKEN = re.compile(r"[^\W\d_]+|\d+")
_RF = re.compile(r"^RF\d\d([0-9A-Z]{1,21})$")

#: ISO 20022 return reason codes of SEPA direct debits (R-transactions), as the clerk reads them
RETURN_REASONS: dict[str, str] = {
    "AC01": "IBAN fehlerhaft",
    "AC04": "Konto erloschen",
    "AC06": "Konto gesperrt",
    "AC13": "Konto eines Verbrauchers (Firmenlastschrift nicht zulässig)",
    "AG01": "Lastschrift auf diesem Konto nicht zulässig",
    "AG02": "ungültiger Transaktionscode oder Dateiformat",
    "AM04": "Konto nicht gedeckt",
    "AM05": "doppelte Einreichung",
    "BE05": "Gläubiger unbekannt",
    "FF01": "ungültiges Dateiformat",
    "MD01": "kein gültiges Mandat",
    "MD02": "Mandatsdaten fehlen oder sind falsch",
    "MD06": "Rückgabe auf Verlangen des Zahlers",
    "MD07": "Zahler verstorben",
    "MS02": "Widerspruch des Zahlers (ohne Angabe von Gründen)",
    "MS03": "Grund nicht angegeben",
    "RC01": "BIC fehlerhaft",
    "RR01": "Kontoangaben des Zahlers fehlen (regulatorische Gründe)",
    "RR04": "regulatorische Gründe",
    "SL01": "Sonderleistung der Zahlerbank (z. B. Lastschriftsperre)",
}


class MatchInputError(ErechnungError, ValueError):
    """The open items handed to ``match`` cannot be told apart (an item id twice, or an unsaved item)."""


def normalize(reference: str) -> str:
    """A reference as matching compares it: letters and digits only, upper case (``5.0300.100001.4`` ->
    ``503001000014``, ``STA-2026-0101`` -> ``STA20260101``)."""
    return "".join(_TOKEN.findall(reference)).upper()


def end_to_end_id(item: OpenItem) -> str:
    """The end-to-end id of the direct debit that collects ``item``: ``ERE-<item id>-<Kassenzeichen>``, the
    Kassenzeichen normalized (letters and digits), cut to the 35 characters SEPA allows. Unique per item (the id
    comes first); readable for the debtor's bank and for the clerk. The item must be stored (``item_id > 0``)."""
    if item.item_id <= 0:
        raise MatchInputError(f"open item {item.kassenzeichen!r} (document {item.document_id}) has no item id yet: "
                              "store it before it is collected by direct debit")
    return f"{E2E_PREFIX}-{item.item_id}-{normalize(item.kassenzeichen)}"[:E2E_LENGTH]


# ============================================================================================== indexes


@dataclass(slots=True)
class _Hit:
    item: OpenItem
    how: str  # "Kassenzeichen", "Belegnummer", "Kassenzeichen ohne Prüfziffer", "Lastschrift"


@dataclass(slots=True)
class _Index:
    """Built once per call: every way an entry can name an item."""

    by_e2e: dict[str, OpenItem] = field(default_factory=dict)
    by_ref: dict[str, list[_Hit]] = field(default_factory=dict)
    by_ref_short: dict[str, list[_Hit]] = field(default_factory=dict)  # Kassenzeichen without the last digit
    lengths: tuple[int, ...] = ()  # the lengths of all keys of by_ref and by_ref_short, longest first
    by_iban_amount: dict[tuple[str, Decimal], list[OpenItem]] = field(default_factory=dict)


def _build(items: Sequence[OpenItem], rules: MatchRules) -> _Index:
    index = _Index()
    seen: set[int] = set()
    short: dict[str, list[_Hit]] = {}
    minimum = rules.min_reference_length
    for item in items:
        if item.item_id <= 0 or item.item_id in seen:
            raise MatchInputError(
                f"open item {item.kassenzeichen!r} (document {item.document_id}): item id {item.item_id} "
                + ("is not stored yet" if item.item_id <= 0 else "occurs twice")
                + "; match only items read from the store")
        seen.add(item.item_id)
        index.by_e2e[end_to_end_id(item)] = item
        kz, number = normalize(item.kassenzeichen), normalize(item.number)
        if len(kz) >= minimum:
            index.by_ref.setdefault(kz, []).append(_Hit(item, "Kassenzeichen"))
            if rules.missing_check_digit and len(kz) > minimum and kz[-1].isdigit():
                short.setdefault(kz[:-1], []).append(_Hit(item, "Kassenzeichen ohne Prüfziffer"))
        if len(number) >= minimum and number != kz:
            index.by_ref.setdefault(number, []).append(_Hit(item, "Belegnummer"))
        if item.debtor_iban and item.open > 0:
            index.by_iban_amount.setdefault((_iban(item.debtor_iban), item.open), []).append(item)
    index.by_ref_short = {k: v for k, v in short.items() if k not in index.by_ref}
    index.lengths = tuple(sorted({len(k) for k in index.by_ref} | {len(k) for k in index.by_ref_short},
                                 reverse=True))
    return index


def _iban(text: str) -> str:
    return text.replace(" ", "").upper()


# ============================================================================================== finding


@dataclass(slots=True)
class _Found:
    hits: list[_Hit] = field(default_factory=list)
    ambiguous: list[OpenItem] = field(default_factory=list)  # a short form that fits several Kassenzeichen


def _lookup(key: str, index: _Index, found: _Found, *, short_ok: bool = True) -> bool:
    hits = index.by_ref.get(key)
    if hits:
        found.hits.extend(hits)
        return True
    hits = index.by_ref_short.get(key) if short_ok else None
    if not hits:
        return False
    if len({h.item.kassenzeichen for h in hits}) == 1:
        found.hits.extend(hits)
    else:
        found.ambiguous.extend(h.item for h in hits)
    return True


def _scan(text: str, index: _Index, found: _Found) -> None:
    """Every known reference in ``text`` that starts and ends at token boundaries (module doc)."""
    tokens = _TOKEN.findall(text)
    if not tokens:
        return
    norm = "".join(tokens).upper()
    starts = [0]
    for token in tokens:
        starts.append(starts[-1] + len(token))
    token_at = {position: i for i, position in enumerate(starts)}
    n = len(tokens)
    for start in starts[:-1]:
        for length in index.lengths:
            end = start + length
            i = token_at.get(end)
            if i is None:
                continue
            # the check digit must be missing, not wrong: no single digit follows the short form
            short_ok = not (i < n and len(tokens[i]) == 1 and tokens[i].isdigit())
            if _lookup(norm[start:end], index, found, short_ok=short_ok):
                break  # the longest reference starting here wins


def _find(entry: BankEntry, index: _Index, rules: MatchRules) -> _Found:
    found = _Found()
    for ref in entry.structured_refs:
        key = normalize(ref[:MAX_TEXT])
        rf = _RF.match(key)
        if not (_lookup(key, index, found) or (rf and _lookup(rf.group(1), index, found))):
            _scan(ref[:MAX_TEXT], index, found)
    if rules.patterns:
        joined = "".join(entry.remittance)[:MAX_TEXT]
        for pattern in rules.compiled:
            for m in pattern.finditer(joined):
                ref = m.group("ref") or ""
                if not _lookup(normalize(ref), index, found):
                    _scan(ref, index, found)
    if rules.scan_text:
        _scan("\n".join(entry.remittance)[:MAX_TEXT], index, found)
    return found


def _distinct(hits: Iterable[_Hit]) -> list[_Hit]:
    """One hit per item, oldest due date first (then instalment, then item id)."""
    first: dict[int, _Hit] = {}
    for hit in hits:
        first.setdefault(hit.item.item_id, hit)
    return sorted(first.values(), key=lambda h: (h.item.due_date, h.item.instalment, h.item.item_id))


# ============================================================================================== matching


def _eur(value: Decimal) -> str:
    """``1.234,50 EUR`` for the reasons."""
    text = f"{value.quantize(Decimal('0.01')):,.2f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".") + " EUR"


def _named(hit: _Hit) -> str:
    item = hit.item
    if hit.how == "Belegnummer":
        return f"Belegnummer {item.number}"
    label = f"Kassenzeichen {item.kassenzeichen}"
    return label + (f" (Rate {item.instalment})" if item.instalment else "")


class _Matcher:
    def __init__(self, items: Sequence[OpenItem], rules: MatchRules) -> None:
        self.rules = rules
        self.index = _build(items, rules)
        self.open: dict[int, Decimal] = {item.item_id: item.open for item in items}

    def paid(self, item: OpenItem) -> Decimal:
        return item.amount - self.open[item.item_id]

    def entry(self, entry: BankEntry) -> Match:
        if entry.currency != "EUR":
            return self.none(entry, f"Buchung in {entry.currency[:3]}: die Stadtkasse bucht nur EUR, bitte von "
                                    "Hand klären")
        if entry.direction is Direction.DEBIT:
            if entry.reversal or entry.return_reason:
                return self.reversal(entry)
            return self.none(entry, "Belastung ohne Rücklastschrift-Kennzeichen: keine Zahlung an die Stadtkasse")
        item = self.index.by_e2e.get((entry.end_to_end_id or "").strip())
        if item is not None:
            return self.allocate(entry, [_Hit(item, "Lastschrift")], MatchKind.END_TO_END)
        found = _find(entry, self.index, self.rules)
        if found.hits:
            return self.allocate(entry, _distinct(found.hits), MatchKind.REFERENCE)
        return self.suggest(entry, found.ambiguous)

    def allocate(self, entry: BankEntry, hits: list[_Hit], kind: MatchKind) -> Match:
        rest, allocations, partly = entry.amount, [], None
        for hit in hits:
            open_ = self.open[hit.item.item_id]
            if open_ <= 0:
                continue
            amount = min(open_, rest)
            allocations.append(Allocation(item_id=hit.item.item_id, amount=amount))
            self.open[hit.item.item_id] = open_ - amount
            rest -= amount
            if open_ > amount:
                partly = hit
            if rest == 0:
                break
        how = ("Lastschrift " + end_to_end_id(hits[0].item)) if kind is MatchKind.END_TO_END \
            else ", ".join(_named(h) for h in hits)
        if not allocations:
            reason = f"Überzahlung: {how} bereits bezahlt; {_eur(rest)} nicht zugeordnet, bitte klären (erstatten " \
                     "oder verrechnen)"
        elif rest > 0:
            reason = f"Überzahlung über {how}: {_eur(rest)} nicht zugeordnet, bitte klären (erstatten oder " \
                     "verrechnen)"
        elif partly is not None:
            reason = f"Teilzahlung über {how}: auf {_named(partly)} bleiben " \
                     f"{_eur(self.open[partly.item.item_id])} offen"
        else:
            reason = f"bezahlt über {how}"
        return Match(entry_key=entry.entry_key, kind=kind, allocations=tuple(allocations), unallocated=rest,
                     reason=reason)

    def reversal(self, entry: BankEntry) -> Match:
        charges = entry.charges or ZERO
        principal = entry.amount - charges if ZERO < charges < entry.amount else entry.amount
        code = (entry.return_reason or "").strip().upper()[:4]
        why = f"{code}: {RETURN_REASONS.get(code, 'Rückgabegrund nicht bekannt')}" if code else "ohne Rückgabegrund"
        item = self.index.by_e2e.get((entry.end_to_end_id or "").strip())
        if item is None:
            hits = _distinct(_find(entry, self.index, self.rules).hits)
            # the collection returned: the latest item that has been paid at least this much, else paid at all
            paid = [h.item for h in hits if self.paid(h.item) > 0]
            enough = [i for i in paid if self.paid(i) >= principal]
            item = (enough or paid or [None])[-1]
        if item is None:
            return self.none(entry, f"Rücklastschrift ({why}) über {_eur(entry.amount)}: kein bezahlter Posten mit "
                                    "dieser Lastschrift-Referenz oder diesem Kassenzeichen gefunden, bitte klären")
        back = min(principal, self.paid(item))
        self.open[item.item_id] += back
        fee = self.rules.fee(entry.charges)
        reason = f"Rücklastschrift ({why}) zu Kassenzeichen {item.kassenzeichen}: {_eur(back)} wieder offen"
        if fee > 0:
            reason += f"; Rücklastschriftgebühr {_eur(fee)}"
        if back < principal:
            reason += f"; {_eur(principal - back)} mehr zurückgebucht als bezahlt war, bitte klären"
        return Match(entry_key=entry.entry_key, kind=MatchKind.REVERSAL,
                     allocations=(Allocation(item_id=item.item_id, amount=-back),) if back > 0 else (),
                     unallocated=principal - back, reason=reason, fee=fee)

    def suggest(self, entry: BankEntry, ambiguous: list[OpenItem]) -> Match:
        candidates: dict[int, OpenItem] = {i.item_id: i for i in ambiguous if self.open[i.item_id] > 0}
        if entry.counterparty_iban:
            for item in self.index.by_iban_amount.get((_iban(entry.counterparty_iban), entry.amount), ()):
                if self.open[item.item_id] == entry.amount:
                    candidates.setdefault(item.item_id, item)
        if not candidates:
            return self.none(entry, "kein Kassenzeichen, keine Belegnummer und keine eigene Lastschrift erkannt; "
                                    "kein offener Posten mit diesem Betrag und der IBAN des Zahlers")
        ordered = sorted(candidates.values(), key=lambda i: (i.due_date, i.instalment, i.item_id))
        names = ", ".join(f"Kassenzeichen {i.kassenzeichen} (Beleg {i.number})" for i in ordered[:5])
        basis = "Kassenzeichen ohne Prüfziffer passt zu mehreren Posten" if ambiguous \
            else "Betrag und IBAN des Zahlers passen"
        return Match(entry_key=entry.entry_key, kind=MatchKind.SUGGESTION,
                     suggested=tuple(i.item_id for i in ordered), unallocated=entry.amount,
                     reason=f"Vorschlag ({basis}): {names}; bitte prüfen und bestätigen")

    @staticmethod
    def none(entry: BankEntry, reason: str) -> Match:
        return Match(entry_key=entry.entry_key, kind=MatchKind.NONE, unallocated=entry.amount, reason=reason)


def match(entries: Sequence[BankEntry], items: Sequence[OpenItem], *, rules: MatchRules) -> list[Match]:
    """One ``Match`` per entry, in the order of ``entries`` (module doc: the rules and their order). Pure: the
    items are not changed; the open amounts the allocations leave are the items' ``open`` minus what this call
    allocated. Raises ``MatchInputError`` for items without a store id or with the same id twice."""
    matcher = _Matcher(items, rules)
    return [matcher.entry(entry) for entry in entries]
