"""Money in (issue 15): the open items the Stadtkasse books for each claim (Sollstellung), the entries the bank
reports, and what matching makes of them. Data only; the parsers (``erechnung.payments.bankfiles``), the matcher
(``erechnung.payments.matching``), the store (``erechnung.state``) and the dunning rules work on these.

Amounts are ``Decimal`` in EUR, always positive; the direction of a bank entry says credit or debit.

The ports between the parts (each a plain function):

* ``erechnung.payments.bankfiles.read_bank_file(data: bytes, name: str) -> BankFile`` — camt.053 / camt.054
  (.001.02, .001.08) or MT940; raises ``BankFileError`` (what, where, why) for anything it cannot read;
* ``erechnung.payments.matching.match(entries, items, *, rules: MatchRules) -> list[Match]`` — pure, no I/O:
  per entry the allocations to open items (``MatchKind``), or a suggestion, or nothing (-> clarification).
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import Field

from .terms import Frozen

__all__ = ["Allocation", "BankEntry", "BankFile", "Direction", "ItemState", "Match", "MatchKind", "OpenItem",
           "SequenceType"]


class ItemState(StrEnum):
    """An open item's state, as ``erechnung receivables`` shows it."""

    OPEN = "open"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    OVERPAID = "overpaid"
    IN_DUNNING = "in_dunning"
    WRITTEN_OFF = "written_off"


class SequenceType(StrEnum):
    """The sequence type of a SEPA direct debit (pain.008 ``SeqTp``): the first collection under a mandate, then
    recurring ones. (One-off ``OOFF`` and final ``FNAL`` are not used by the Stadtkasse.)"""

    FIRST = "FRST"
    RECURRING = "RCUR"


class OpenItem(Frozen):
    """One claim to collect: a document's amount due, or one instalment of a notice (property tax: 15.2., 15.5.,
    15.8., 15.11., § 28 GrStG). ``item_id`` is the store's id (0 before it is stored)."""

    item_id: int = 0
    document_id: int
    number: str  # the document number (BT-1)
    kassenzeichen: str  # what the debtor names in the remittance text (BT-83, the notice's Kassenzeichen)
    department: str
    debtor_ref: str  # the customer number in the recipient register
    debtor_name: str = ""
    debtor_iban: str | None = None  # from the register or a SEPA mandate
    instalment: int = 0  # 0: the whole amount; 1..n: the n-th instalment
    amount: Decimal  # due, EUR
    paid: Decimal = Decimal("0")
    due_date: date
    account_iban: str  # the municipality's account the claim is paid to
    mandate_id: str | None = None  # SEPA mandate reference: collected by direct debit
    disputed: bool = False  # no dunning while disputed
    deferred_until: date | None = None  # Stundung: no dunning before
    taxes_or_levies: bool = False  # Säumniszuschläge (§ 240 AO) instead of a Mahngebühr only
    state: ItemState = ItemState.OPEN

    @property
    def open(self) -> Decimal:
        return self.amount - self.paid


class Direction(StrEnum):
    CREDIT = "CRDT"  # money in
    DEBIT = "DBIT"  # money out (a returned direct debit, a fee)


class BankEntry(Frozen):
    """One booked entry of a statement (camt ``Ntry``/``TxDtls``, MT940 ``:61:``/``:86:``); a batch booking is
    split into one entry per transaction. ``entry_key`` is unique per real booking: the same entry read from a
    camt.054 and later from the camt.053 has the same key (account servicer reference, else end-to-end id,
    else a digest of account, date, amount and text), so it is booked once."""

    entry_key: str
    account_iban: str  # our account the statement is for
    booking_date: date
    value_date: date | None = None
    amount: Decimal = Field(gt=0)
    currency: str = "EUR"
    direction: Direction
    end_to_end_id: str | None = None
    mandate_id: str | None = None
    remittance: tuple[str, ...] = ()  # unstructured Verwendungszweck lines
    structured_refs: tuple[str, ...] = ()  # creditor references (RF..., Kassenzeichen in CdtrRefInf)
    counterparty_name: str = ""
    counterparty_iban: str | None = None
    reversal: bool = False  # a returned direct debit or a reversal (RvslInd, R-transaction)
    return_reason: str | None = None  # ISO return reason code: AC04, AM04, MD06 ...
    charges: Decimal | None = None  # the bank's fee on a return
    bank_transaction_code: str = ""  # camt BkTxCd domain/family/sub-family, MT940 GVC
    statement_id: str = ""
    source: str = ""  # the file it came from


class BankFile(Frozen):
    """What one bank file holds: its format (``camt.053.001.02`` ...), the statements' ids and all entries."""

    format: str
    statements: tuple[str, ...]
    entries: tuple[BankEntry, ...]


class MatchKind(StrEnum):
    """How an entry found its item(s), in the order matching tries them."""

    END_TO_END = "end_to_end"  # the end-to-end id of our own direct debit
    REFERENCE = "reference"  # Kassenzeichen or document number in the remittance information
    SUGGESTION = "suggestion"  # amount + debtor IBAN: for a person to confirm, never booked by itself
    REVERSAL = "reversal"  # a returned direct debit: reopens the item (and adds the fee)
    NONE = "none"  # nothing found: to the clarification list


class Allocation(Frozen):
    item_id: int
    amount: Decimal  # of the entry booked on this item (negative for a reversal)


class Match(Frozen):
    entry_key: str
    kind: MatchKind
    allocations: tuple[Allocation, ...] = ()  # empty for SUGGESTION and NONE
    suggested: tuple[int, ...] = ()  # item ids for a person to choose from
    unallocated: Decimal = Decimal("0")  # what is left of the entry (overpayment, or nothing matched)
    reason: str = ""  # for the clarification list, in German
    fee: Decimal = Decimal("0")  # REVERSAL: the return fee to add to the reversed item ([payments] return_fee)
