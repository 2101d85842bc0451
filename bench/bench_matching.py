"""``make bench-matching``: matching 100,000 statement entries against 150,000 open items (issue 15: under 30 s
on 2 cores).

    python bench/bench_matching.py [--items 150000] [--entries 100000] [--rounds 3] [--seed 15]

The data (generated before any timing, the same in every round): open items of Stadt Musterstadt with
Kassenzeichen ``5.DDDD.NNNNNN.C`` (property tax: four instalments under one Kassenzeichen, due 15.2., 15.5.,
15.8., 15.11.), document numbers ``RE-2026-NNNNNN``, some with a debtor IBAN, some collected by direct debit.
The entries, in a mix of every rule: 30 % Kassenzeichen as written (dots), 10 % with spaces or hyphens, 5 %
broken across two remittance lines, 8 % without check digit, 7 % document number, 5 % structured reference, 3 %
several items in one text, 15 % our direct debits (end-to-end id), 2 % returned direct debits with a fee, 8 %
amount + IBAN (suggestion), 4 % partial or second payments on an item already named, 3 % unknown.

Timed, per round (median of ``--rounds``): ``match(entries, items, rules=...)`` as one call (the index build
included), and in the same round the reference: a plain dict build over the same items (normalized
Kassenzeichen -> item) and one dict lookup per entry of its normalized first remittance line, the least any
index-based matcher must do. The ratio is match / reference. ``match`` runs on one core (the running open
amounts make it sequential); the machine's other core is free for the rest of a run.

The last lines: the counts per match kind, the time of ``match`` vs the issue's 30 s, and the ratio.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from erechnung.config.payments import MatchRules  # noqa: E402
from erechnung.model.receivables import BankEntry, Direction, OpenItem  # noqa: E402
from erechnung.payments.matching import end_to_end_id, match, normalize  # noqa: E402

OURS = "DE02120300000000202051"
BAR_SECONDS = 30.0
INSTALMENTS = (date(2026, 2, 15), date(2026, 5, 15), date(2026, 8, 15), date(2026, 11, 15))


def _check_digit(digits: str) -> str:
    """A weighted mod-10 digit (2-1 weights), as many Kassenzeichen systems use one; only to make data look real."""
    total = sum(sum(divmod(int(d) * (2 - i % 2), 10)) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def _iban(n: int) -> str:
    return f"DE00{n:018d}"


def make_items(n: int, rng: random.Random) -> list[OpenItem]:
    items: list[OpenItem] = []
    serial = 0
    while len(items) < n:
        serial += 1
        body = f"5{rng.choice(('0100', '0300', '0400', '0410'))}{serial:06d}"
        kz = f"{body[0]}.{body[1:5]}.{body[5:]}.{_check_digit(body)}"
        tax = body[1:5] == "0100" and len(items) + 4 <= n
        debit = rng.random() < 0.2
        iban = _iban(serial) if debit or rng.random() < 0.3 else None
        for k, due in enumerate(INSTALMENTS if tax else (date(2026, 3, 1 + serial % 28),), start=1 if tax else 0):
            items.append(OpenItem(
                item_id=len(items) + 1, document_id=serial, number=f"RE-2026-{serial:06d}", kassenzeichen=kz,
                department="kasse", debtor_ref=f"K-{serial}", debtor_name=f"Zahler {serial}", debtor_iban=iban,
                instalment=k, amount=Decimal(rng.randrange(1000, 90000)) / 100, due_date=due, account_iban=OURS,
                mandate_id=f"M-{serial}" if debit else None))
    return items


def _spaced(kz: str, rng: random.Random) -> str:
    digits = normalize(kz)
    sep = rng.choice((" ", "-", " - "))
    return sep.join(digits[i:i + 4] for i in range(0, len(digits), 4))


def make_entries(n: int, items: list[OpenItem], rng: random.Random) -> list[BankEntry]:
    entries: list[BankEntry] = []
    named: list[OpenItem] = []
    for i in range(n):
        item = rng.choice(items)
        amount, lines, refs, e2e, iban, direction, extra = item.amount, (), (), None, None, Direction.CREDIT, {}
        r = rng.random()
        if r < 0.30:
            lines = (f"KZ {item.kassenzeichen} {item.debtor_name}",)
        elif r < 0.40:
            lines = (f"Kassenzeichen {_spaced(item.kassenzeichen, rng)} Rechnung vom 01.02.2026",)
        elif r < 0.45:
            kz = item.kassenzeichen
            lines = (f"Zahlung {item.debtor_name} KZ {kz[:8]}", f"{kz[8:]} Danke")
        elif r < 0.53:
            lines = (f"KZ {item.kassenzeichen[:-2]} {item.debtor_name}",)
        elif r < 0.60:
            lines = (f"Rechnung {item.number}",)
        elif r < 0.65:
            refs = (item.kassenzeichen,)
        elif r < 0.68:
            others = rng.sample(items, 2)
            lines = (f"KZ {item.kassenzeichen}, {others[0].kassenzeichen} und {others[1].kassenzeichen}",)
            amount = item.amount + others[0].amount + others[1].amount
        elif r < 0.83:
            e2e, lines = end_to_end_id(item), (f"SEPA-Lastschrift Mandat M-{item.document_id}",)
        elif r < 0.85:
            e2e, direction = end_to_end_id(item), Direction.DEBIT
            extra = {"reversal": True, "return_reason": rng.choice(("AM04", "MD06", "AC04")),
                     "charges": Decimal("3.50")}
            amount = item.amount + Decimal("3.50")
        elif r < 0.93:
            item = next((x for x in rng.sample(items, 20) if x.debtor_iban), item)
            lines, iban, amount = ("Danke",), item.debtor_iban or _iban(10 ** 9 + i), item.amount
        elif r < 0.97 and named:
            item = rng.choice(named)
            lines, amount = (f"Rate KZ {item.kassenzeichen}",), (item.amount / 3).quantize(Decimal("0.01"))
        else:
            lines, amount = (f"Spende {i}",), Decimal(rng.randrange(100, 5000)) / 100
        named.append(item)
        entries.append(BankEntry(entry_key=f"E{i}", account_iban=OURS, booking_date=date(2026, 3, 2), amount=amount,
                                 direction=direction, end_to_end_id=e2e, remittance=lines, structured_refs=refs,
                                 counterparty_name=item.debtor_name, counterparty_iban=iban, **extra))
    return entries


def reference(entries: list[BankEntry], items: list[OpenItem]) -> int:
    """A plain dict build over the items and one lookup per entry: the floor of an index-based matcher."""
    index = {normalize(item.kassenzeichen): item for item in items}
    found = 0
    for entry in entries:
        if entry.remittance and normalize(entry.remittance[0]) in index:
            found += 1
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=150_000)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    t = time.perf_counter()
    items = make_items(args.items, rng)
    entries = make_entries(args.entries, items, rng)
    print(f"generated {len(items):,} open items and {len(entries):,} entries in {time.perf_counter() - t:.1f} s "
          "(not timed)")
    rules = MatchRules()
    ours, theirs, kinds = [], [], Counter()
    for round_ in range(1, args.rounds + 1):
        t = time.perf_counter()
        matches = match(entries, items, rules=rules)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        reference(entries, items)
        theirs.append(time.perf_counter() - t)
        kinds = Counter(m.kind.value for m in matches)
        print(f"round {round_}: match {ours[-1]:.2f} s, reference {theirs[-1]:.2f} s")
    mine, floor = statistics.median(ours), statistics.median(theirs)
    print("matches by kind: " + ", ".join(f"{k} {v:,}" for k, v in sorted(kinds.items())))
    print(f"match: {mine:.2f} s for {len(entries):,} entries x {len(items):,} items "
          f"({len(entries) / mine:,.0f} entries/s, one core); bar {BAR_SECONDS:.0f} s: "
          f"{'met' if mine < BAR_SECONDS else 'MISSED'}")
    print(f"ratio match / plain dict reference: {mine / floor:.2f}")


if __name__ == "__main__":
    main()
