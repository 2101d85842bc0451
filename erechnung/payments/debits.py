"""SEPA direct debits without I/O (issue 15): the pain.008 file of one due date for the open items whose debtors
gave a SEPA mandate (recipient register: ``sepa_mandate_id``, ``sepa_mandate_date``, ``iban``, ``bic``).

    creditor = Creditor.from_config(config)            # [municipality] name, creditor_id, the default account
    mandates = mandates_of(register)                   # debtor_ref -> Mandate
    result = build_debits(items, due=date(2026, 5, 15), creditor=creditor, mandates=mandates,
                          collected=already_collected_mandate_ids, created_at=now)
    result.xml                                         # pain.008.001.08, valid against the XSD sepaxml ships

Core scheme (``CORE``); sequence type FRST for every collection under a mandate that was never collected before
(``collected``: mandate ids the Stadtkasse has collected under), else RCUR. The file is written by the well-kept
``sepaxml`` package and checked against the pain.008 XSD it ships; its message and payment ids are derived from
the contents (and ``created_at`` passed in), so the same inputs give the same bytes.

Each transaction's end-to-end id is :func:`debit_end_to_end_id` of its item, which is matching's
``end_to_end_id`` (item id and Kassenzeichen), so the bank's statement and a returned debit lead back to the item.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from lxml import etree

from erechnung.errors import ErechnungError
from erechnung.model.receivables import ItemState, OpenItem, SequenceType

from .matching import MatchInputError, end_to_end_id

__all__ = ["Creditor", "DebitError", "DebitFile", "Debit", "Mandate", "Skipped", "SCHEMAS", "build_debits",
           "debit_end_to_end_id", "mandates_of", "validate_pain008"]

SCHEMAS = ("pain.008.001.08", "pain.008.001.02")  # .08: the German banks' standard since November 2023
_MAX_ID = 35  # SEPA's longest id (MsgId, PmtInfId)
#: SEPA's character set for ids (EPC: Latin letters, digits and / - ? : ( ) . , ' +)
_SEPA_ID = re.compile(r"[A-Za-z0-9/\-?:().,'+]{1,35}")


class DebitError(ErechnungError):
    """A direct debit file cannot be made (no creditor id, a bad account, the XSD refuses the file)."""


@dataclass(frozen=True)
class Creditor:
    """The municipality as creditor: name, SEPA creditor id (Gläubiger-ID) and the account collected to."""

    name: str
    creditor_id: str
    iban: str
    bic: str | None = None

    @classmethod
    def from_config(cls, config, account: str | None = None) -> Creditor:
        """From ``[municipality]``: ``creditor_id``, and the bank account ``account`` (a key of
        ``bank_accounts``; default: the first)."""
        muni = config.municipality
        if not muni.creditor_id:
            raise DebitError(f"{config.source}: [municipality] has no creditor_id: direct debits need the SEPA "
                             "Gläubiger-Identifikationsnummer (creditor_id = \"DE98ZZZ09999999999\")")
        if account is not None and account not in muni.bank_accounts:
            raise DebitError(f"{config.source}: no bank account {account!r} in [municipality.bank_accounts] "
                             f"(known: {', '.join(muni.bank_accounts)})")
        bank = muni.bank_accounts[account] if account else muni.default_account
        return cls(name=bank.account_holder or muni.name, creditor_id=muni.creditor_id, iban=bank.iban, bic=bank.bic)


@dataclass(frozen=True)
class Mandate:
    """A debtor's SEPA mandate as the recipient register holds it."""

    mandate_id: str
    signed_on: date
    iban: str
    bic: str | None
    debtor_name: str


def mandates_of(recipients: Iterable) -> dict[str, Mandate]:
    """customer number -> mandate, for the register's recipients that have one."""
    return {r.customer_number: Mandate(r.sepa_mandate_id, r.sepa_mandate_date, r.iban, r.bic, r.name)
            for r in recipients if r.sepa_mandate_id and r.sepa_mandate_date and r.iban}


@dataclass(frozen=True)
class Debit:
    item: OpenItem
    end_to_end_id: str
    sequence: SequenceType
    mandate: Mandate
    amount: Decimal
    remittance: str


@dataclass(frozen=True)
class Skipped:
    item: OpenItem
    reason: str  # German, for the clerk


@dataclass(frozen=True)
class DebitFile:
    due: date
    schema: str
    message_id: str
    xml: bytes  # empty when nothing is collected
    debits: tuple[Debit, ...]
    skipped: tuple[Skipped, ...]

    @property
    def total(self) -> Decimal:
        return sum((d.amount for d in self.debits), Decimal("0.00"))


def debit_end_to_end_id(item: OpenItem) -> str:
    """The end-to-end id of ``item``'s direct debit: matching's :func:`erechnung.payments.matching.end_to_end_id`
    (``ERE-<item id>-<Kassenzeichen>``, letters and digits, at most 35 characters), so that matching finds the
    collection and its return. The item must be stored (``item_id > 0``)."""
    try:
        return end_to_end_id(item)
    except MatchInputError as exc:
        raise DebitError(str(exc)) from None


def _reason_to_skip(item: OpenItem, due: date, mandate: Mandate | None) -> str | None:
    if item.due_date != due:
        return None  # not this file's: not reported
    if mandate is None:
        return "kein SEPA-Mandat im Empfängerverzeichnis: der Betrag wird überwiesen"
    if item.mandate_id and item.mandate_id != mandate.mandate_id:
        return (f"die Mandatsreferenz des Postens ({item.mandate_id}) weicht vom Empfängerverzeichnis "
                f"({mandate.mandate_id}) ab: bitte klären")
    if item.disputed:
        return "der Posten ist strittig"
    if item.deferred_until and item.deferred_until >= due:
        return f"der Posten ist bis {item.deferred_until:%d.%m.%Y} gestundet"
    if item.state in (ItemState.PAID, ItemState.OVERPAID, ItemState.WRITTEN_OFF) or item.open <= 0:
        return "nichts offen"
    if item.item_id <= 0:
        return "der Posten ist noch nicht in der Offene-Posten-Liste gespeichert (keine Posten-Nummer)"
    if not _SEPA_ID.fullmatch(end_to_end_id(item)):
        return (f"das Kassenzeichen {item.kassenzeichen!r} enthält Zeichen außerhalb des SEPA-Zeichensatzes "
                "(Umlaute, ß): so kann keine Lastschrift-Referenz gebildet werden; bitte Kassenzeichen berichtigen")
    return ""


def build_debits(items: Sequence[OpenItem], *, due: date, creditor: Creditor, mandates: Mapping[str, Mandate],
                 collected: Collection[str] = (), created_at: datetime, schema: str = "pain.008.001.08"
                 ) -> DebitFile:
    """The pain.008 of the items due on ``due`` whose debtor (``debtor_ref``) has a mandate; the others of that
    day come back in ``skipped`` with the reason. ``collected``: mandate ids collected under before (-> RCUR)."""
    if schema not in SCHEMAS:
        raise DebitError(f"pain.008 version {schema!r} is not supported (use one of {', '.join(SCHEMAS)})")
    debits, skipped = [], []
    for item in items:
        mandate = mandates.get(item.debtor_ref)
        reason = _reason_to_skip(item, due, mandate)
        if reason is None:
            continue
        if reason:
            skipped.append(Skipped(item, reason))
            continue
        assert mandate is not None
        sequence = SequenceType.RECURRING if mandate.mandate_id in collected else SequenceType.FIRST
        instalment = f" Rate {item.instalment}" if item.instalment else ""
        remittance = f"Kassenzeichen {item.kassenzeichen} {item.number}{instalment}"[:140]
        debits.append(Debit(item, debit_end_to_end_id(item), sequence, mandate, item.open.quantize(Decimal("0.01")),
                            remittance))
    ids = [d.end_to_end_id for d in debits]
    if len(set(ids)) != len(ids):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        raise DebitError(f"end-to-end id(s) {', '.join(twice)} twice in the debits of {due.isoformat()}: the same "
                         "open item (item id) was handed over twice; pass each item once")
    digest = hashlib.sha256("|".join(f"{d.end_to_end_id}:{d.amount}:{d.sequence}" for d in debits).encode()
                            + created_at.isoformat().encode()).hexdigest()[:12].upper()
    message_id = f"PAIN008-{due:%Y%m%d}-{digest}"
    xml = _write(debits, due=due, creditor=creditor, created_at=created_at, schema=schema,
                 message_id=message_id) if debits else b""
    return DebitFile(due, schema, message_id, xml, tuple(debits), tuple(skipped))


def _write(debits: Sequence[Debit], *, due: date, creditor: Creditor, created_at: datetime, schema: str,
           message_id: str) -> bytes:
    from sepaxml import SepaDD  # imported here: sepaxml pulls xmlschema, which only this needs

    config = {"name": creditor.name, "IBAN": creditor.iban, "batch": True, "creditor_id": creditor.creditor_id,
              "currency": "EUR", "instrument": "CORE"}
    if creditor.bic:
        config["BIC"] = creditor.bic
    elif schema == "pain.008.001.02":
        raise DebitError("pain.008.001.02 needs the BIC of the municipality's account: add bic to "
                         "[municipality.bank_accounts.<id>] or use pain.008.001.08")
    try:
        sdd = SepaDD(config, schema=schema, clean=True)
        for d in debits:
            payment = {"name": d.mandate.debtor_name, "IBAN": d.mandate.iban, "amount": int(d.amount * 100),
                       "type": d.sequence.value, "collection_date": due, "mandate_id": d.mandate.mandate_id,
                       "mandate_date": d.mandate.signed_on, "description": d.remittance,
                       "endtoend_id": d.end_to_end_id}
            if d.mandate.bic:
                payment["BIC"] = d.mandate.bic
            sdd.add_payment(payment)
        raw = sdd.export(validate=False)
    except DebitError:
        raise
    except Exception as exc:  # sepaxml raises plain Exception for bad input
        raise DebitError(f"pain.008 for {due.isoformat()} cannot be written: {exc}") from None
    xml = _stamp(raw, message_id=message_id, created_at=created_at)
    validate_pain008(xml, schema)
    return xml


def _stamp(raw: bytes, *, message_id: str, created_at: datetime) -> bytes:
    """Replace sepaxml's random message and payment ids and its wall-clock creation time by ours."""
    root = etree.fromstring(raw)
    ns = {"p": root.nsmap[None]}
    root.find(".//p:GrpHdr/p:MsgId", ns).text = message_id
    root.find(".//p:GrpHdr/p:CreDtTm", ns).text = created_at.replace(microsecond=0, tzinfo=None).isoformat()
    for info in root.findall(".//p:PmtInf", ns):
        sequence = info.find("p:PmtTpInf/p:SeqTp", ns).text
        info.find("p:PmtInfId", ns).text = f"{message_id}-{sequence}"[:_MAX_ID]
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def validate_pain008(xml: bytes, schema: str = "pain.008.001.08") -> None:
    """Check ``xml`` against the pain.008 XSD that sepaxml ships; raises DebitError with the first violation."""
    from sepaxml.validation import ValidationError, try_valid_xml

    try:
        try_valid_xml(xml, schema)
    except ValidationError as exc:
        cause = exc.__cause__
        detail = getattr(cause, "reason", None) or str(cause or exc)
        path = getattr(cause, "path", None) or ""
        raise DebitError(f"the pain.008 file is not valid against {schema}.xsd at {path}: {detail}") from None
