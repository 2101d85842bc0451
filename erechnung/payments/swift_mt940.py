"""MT940 (SWIFT, German DK variant) read with the ``mt-940`` package into ``BankEntry``: ``:25:`` the account
(BLZ/Kontonummer turned into the IBAN, or the IBAN itself), ``:61:`` the booking, ``:86:`` its details (GVC,
``?20``-``?29``/``?60``-``?63`` remittance with the SEPA keywords EREF+, MREF+, SVWZ+, KREF+, OAMT+, COAM+;
``?31`` IBAN, ``?32``/``?33`` name). Several statements per file."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import mt940

from ..model.receivables import BankEntry, Direction
from .bankfile_common import (MAX_ENTRIES, RETURN_REASONS, BankFileError, clip, entry_key, number_duplicates,
                              parse_amount)

# DK GVCs (Geschäftsvorfallcodes) of returns: 109 SEPA-Lastschrift Rückbelastung, 159 SEPA-Überweisung Retoure.
REVERSAL_GVC = frozenset({"109", "159"})
SEPA_KEYS = ("EREF", "KREF", "MREF", "CRED", "DEBT", "COAM", "OAMT", "SVWZ", "ABWA", "ABWE", "IBAN", "BIC")
_KEY_RE = re.compile(r"(?:^|(?<=\s))(" + "|".join(SEPA_KEYS) + r")\+")


def looks_like_mt940(data: bytes) -> bool:
    head = data[:2000]
    return b":20:" in head and b":25:" in head or head.lstrip().startswith((b":20:", b"{1:", b":940:"))


def iban_of(account: str) -> str:
    """``:25:`` as German banks write it (``37040044/0532013000``) as IBAN; an IBAN is kept."""
    raw = account.replace(" ", "").upper()
    m = re.fullmatch(r"(\d{8})/(\d{1,10})(EUR)?", raw)
    if not m:
        return re.sub(r"EUR$", "", raw) if re.match(r"[A-Z]{2}\d{2}", raw) else raw
    bban = m.group(1) + m.group(2).zfill(10)
    check = 98 - int(bban + "131400") % 97  # D=13, E=14, "00"
    return f"DE{check:02d}{bban}"


def _segments(details: str) -> dict[str, list[str]]:
    """``:86:`` as ``{"gvc": [...], "00": [...], "20": [...]}`` (DK structure ``GVC?00...?20...``)."""
    text = details.replace("\r", "").replace("\n", "")
    parts = text.split("?")
    out: dict[str, list[str]] = {"gvc": [parts[0].strip()]}
    for part in parts[1:]:
        if len(part) >= 2 and part[:2].isdigit():
            out.setdefault(part[:2], []).append(part[2:])
    return out


def _sepa_fields(lines: list[str]) -> dict[str, str]:
    """``EREF+...``, ``SVWZ+...`` by keyword: a keyword starts a ``?2x`` line (or follows a blank within one); its
    value may go on over the next lines (joined without a separator: the bank cut the text every 27 characters)."""
    fields: dict[str, str] = {}
    current: str | None = None
    for line in lines:
        pos = 0
        for m in _KEY_RE.finditer(line):
            if current is not None:
                fields[current] += line[pos:m.start()]
            current = m.group(1)
            fields.setdefault(current, "")
            pos = m.end()
        if current is not None:
            fields[current] += line[pos:]
    return {k: clip(v) for k, v in fields.items()}


def read_mt940(data: bytes, name: str) -> tuple[str, tuple[str, ...], list[BankEntry]]:
    """``("MT940", statement ids, entries)``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # German banks deliver ISO 8859-1 as well
    transactions = mt940.models.Transactions(processors={
        "post_transaction_details": [],  # keep :86: raw: its DK structure is read below
        "post_statement": [mt940.processors.date_cleanup_post_processor,
                           mt940.processors.transactions_to_transaction(
                               "transaction_reference", "account_identification", "statement_number")],
    })
    try:
        transactions.parse(text)
    except Exception as exc:  # the parser raises plain exceptions of several kinds for malformed input
        raise BankFileError(f"keine lesbare MT940-Datei ({clip(str(exc))[:200]})", file=name,
                            fix="Die Datei als MT940 (SWIFT) erneut abrufen oder camt.053 verwenden.") from None
    if not transactions.transactions and "account_identification" not in transactions.data:
        raise BankFileError("keine MT940-Datei: Feld :25: (Konto) fehlt", file=name, where="Zeile 1",
                            fix="Die Datei als MT940 (SWIFT) erneut abrufen oder camt.053 verwenden.")
    if len(transactions.transactions) > MAX_ENTRIES:
        raise BankFileError(f"mehr als {MAX_ENTRIES} Buchungen in einer Datei", file=name,
                            fix="Die Auszüge einzeln (je Tag) abrufen.")
    ids: list[str] = []
    entries: list[BankEntry] = []
    for number, tx in enumerate(transactions.transactions, start=1):
        d = tx.data
        where = f"Umsatz {number} (:61:)"
        account_raw = d.get("account_identification")
        if not account_raw:
            raise BankFileError("Feld :25: (Kontobezeichnung) fehlt vor dem Umsatz", file=name, where=where,
                                fix="Die Datei ist unvollständig; erneut abrufen.")
        account = iban_of(account_raw)
        stmt_id = "/".join(p for p in (d.get("transaction_reference"), d.get("statement_number")) if p)
        if stmt_id not in ids:
            ids.append(stmt_id)
        status = (d.get("status") or "").upper()
        if status not in ("C", "D", "RC", "RD"):
            raise BankFileError(f"Soll/Haben-Kennung {status!r} unbekannt", file=name, where=where,
                                fix="Die Datei ist fehlerhaft; erneut abrufen.")
        # RC: reversal of a credit = money out; RD: reversal of a debit = money in
        direction = {"C": Direction.CREDIT, "D": Direction.DEBIT, "RC": Direction.DEBIT, "RD": Direction.CREDIT}[status]
        amount = abs(Decimal(str(d["amount"].amount)))
        booking_raw = d.get("entry_date") or d.get("date")
        booking = date(booking_raw.year, booking_raw.month, booking_raw.day)
        value = date(d["date"].year, d["date"].month, d["date"].day) if d.get("date") else None
        seg = _segments(d.get("transaction_details") or "")
        gvc = seg["gvc"][0][:3] if seg["gvc"][0][:3].isdigit() else ""
        purpose_lines = [clip(x) for key in ("20", "21", "22", "23", "24", "25", "26", "27", "28", "29",
                                             "60", "61", "62", "63") for x in seg.get(key, [])]
        sepa = _sepa_fields([x for key in ("20", "21", "22", "23", "24", "25", "26", "27", "28", "29",
                                           "60", "61", "62", "63") for x in seg.get(key, [])])
        if "?" not in (d.get("transaction_details") or "?"):
            remittance = (clip(d["transaction_details"]),)  # free text, not the DK structure
        elif sepa:
            remittance = (clip(sepa["SVWZ"]),) if sepa.get("SVWZ") else ()
        else:
            remittance = tuple(x for x in purpose_lines if x)
        e2e = sepa.get("EREF") if sepa.get("EREF", "").upper() not in ("", "NOTPROVIDED") else None
        mandate = sepa.get("MREF") or None
        refs = (sepa["KREF"],) if sepa.get("KREF") and sepa["KREF"].upper() != "NONREF" else ()
        charges = None
        if sepa.get("OAMT"):
            amount = parse_amount(sepa["OAMT"], file=name, where=where + " OAMT+")
        if sepa.get("COAM"):
            charges = parse_amount(sepa["COAM"], file=name, where=where + " COAM+")
        iban = clip("".join(seg.get("31", []))).replace(" ", "").upper() or None
        if iban and not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", iban):
            iban = None  # an old account number, not an IBAN
        cp_name = clip("".join(seg.get("32", [])) + "".join(seg.get("33", [])))
        reversal = status in ("RC", "RD") or gvc in REVERSAL_GVC
        reason = None
        if reversal:
            found = re.findall(r"\b([A-Z]{2}\d{2}|[A-Z]{4})\b", " ".join((*purpose_lines, *seg.get("34", []))))
            reason = next((c for c in found if c in RETURN_REASONS), None)
        if amount <= 0:
            raise BankFileError("Umsatz mit Betrag 0", file=name, where=where,
                                fix="Die Datei ist fehlerhaft; erneut abrufen.")
        bank_ref = d.get("bank_reference")
        key = entry_key(account=account, servicer_ref=bank_ref, end_to_end_id=e2e, amount=amount,
                        booking_date=booking, direction=direction, reversal=reversal,
                        text="|".join((*remittance, *refs, cp_name, iban or "")))
        entries.append(BankEntry(entry_key=key, account_iban=account, booking_date=booking, value_date=value,
                                 amount=amount, currency=(d.get("currency") or "EUR").upper(),
                                 direction=direction, end_to_end_id=e2e, mandate_id=mandate,
                                 remittance=remittance, structured_refs=refs, counterparty_name=cp_name,
                                 counterparty_iban=iban, reversal=reversal, return_reason=reason,
                                 charges=charges, bank_transaction_code=gvc, statement_id=stmt_id, source=name))
    keys = number_duplicates([e.entry_key for e in entries])
    entries = [e if e.entry_key == k else e.model_copy(update={"entry_key": k}) for e, k in zip(entries, keys)]
    return "MT940", tuple(ids), entries
