"""What the camt and MT940 readers share: the typed error, the bounds on untrusted bank files, amount parsing and
the ``entry_key`` rule that makes the same booking from a camt.054 and a later camt.053 (or MT940) one key."""
from __future__ import annotations

import hashlib
import re
from datetime import date
from decimal import Decimal, InvalidOperation

from ..errors import ErechnungError
from ..model.receivables import Direction

MAX_BYTES = 20 * 1024 * 1024  # a municipality's day of statements is well below 1 MB
MAX_ENTRIES = 20_000  # bookings (after splitting batches) per file
MAX_TEXT = 1_000  # characters kept of one remittance line or name

# ISO 20022 external return reason codes (ExternalReturnReason1Code) that SEPA returns carry.
RETURN_REASONS = frozenset({
    "AC01", "AC04", "AC06", "AC13", "AG01", "AG02", "AM04", "AM05", "BE05", "CNOR", "CUST", "DNOR", "DUPL",
    "FF01", "FOCR", "FRAD", "MD01", "MD02", "MD06", "MD07", "MS02", "MS03", "RC01", "RR01", "RR02", "RR03",
    "RR04", "SL01", "TECH",
})


class BankFileError(ErechnungError):
    """A bank file that cannot be read: the message (German, for the Stadtkasse's clerk) names the file, where in
    it (element path or line), what is wrong and how to fix it."""

    def __init__(self, problem: str, *, file: str, where: str | None = None,
                 fix: str = "Die Datei erneut aus dem Online-Banking abrufen oder die Bank fragen.") -> None:
        self.problem, self.file, self.where, self.fix = problem, file, where, fix
        place = f"{file}, {where}" if where else file
        super().__init__(f"{place}: {problem} - {fix}")


def clip(text: str | None) -> str:
    """Whitespace-normalised and bounded text from the bank file."""
    return " ".join((text or "").split())[:MAX_TEXT]


def parse_amount(text: str | None, *, file: str, where: str) -> Decimal:
    """A positive amount as the bank wrote it (``1234.56`` in camt, ``1234,56`` in MT940)."""
    raw = (text or "").strip().replace(",", ".")
    if not re.fullmatch(r"\d{1,15}(\.\d{0,5})?", raw):
        raise BankFileError(f"Betrag {clip(text)[:40]!r} ist kein gültiger Betrag", file=file, where=where,
                            fix="Die Bank muss Beträge als Zahl ohne Vorzeichen mit höchstens 5 Nachkommastellen "
                                "liefern; die Datei erneut abrufen.")
    try:
        return Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise BankFileError(f"Betrag {raw!r} ist unlesbar", file=file, where=where) from None


def entry_key(*, account: str, servicer_ref: str | None, end_to_end_id: str | None, amount: Decimal,
              booking_date: date, direction: Direction, reversal: bool, text: str = "") -> str:
    """The booking's identity across files.

    1. the account servicer reference (the bank's own id of the booking: camt ``AcctSvcrRef``, MT940 bank
       reference), unique per account;
    2. else the end-to-end id with account, amount, date and direction (a return carries its collection's
       end-to-end id, so direction and reversal are part of it);
    3. else a digest of account, date, amount, direction and text (the caller numbers identical ones).
    """
    if servicer_ref and servicer_ref.upper() != "NONREF":
        return f"{account}|ref|{servicer_ref}"
    kind = f"{direction.value}{'-R' if reversal else ''}"
    if end_to_end_id and end_to_end_id.upper() not in ("NOTPROVIDED", "NONREF"):
        return f"{account}|e2e|{end_to_end_id}|{amount:.2f}|{booking_date.isoformat()}|{kind}"
    digest = hashlib.sha256("\x1f".join((account, booking_date.isoformat(), f"{amount:.2f}", kind, text))
                            .encode()).hexdigest()[:24]
    return f"{account}|sha|{digest}"


def number_duplicates(keys: list[str]) -> list[str]:
    """Identical digest keys within one file are different bookings: the second gets ``#2`` and so on (a file
    repeats its order, so the same file or its camt.053 gives the same numbers)."""
    seen: dict[str, int] = {}
    out = []
    for key in keys:
        n = seen[key] = seen.get(key, 0) + 1
        out.append(key if n == 1 else f"{key}#{n}")
    return out
