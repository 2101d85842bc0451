"""A realistic camt.053.001.08 end-of-day statement for the demo and the tests: what a German bank would send for
a list of payments (credits, a returned direct debit with its fee). Valid against the official XSD; no I/O."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from lxml import etree

from ..model.receivables import Direction

NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"


@dataclass(frozen=True)
class DemoPayment:
    """One booking of the demo statement; a ``return_reason`` makes it a returned direct debit (debit)."""

    amount: Decimal
    name: str
    iban: str
    remittance: str = ""
    end_to_end_id: str | None = None
    mandate_id: str | None = None
    creditor_ref: str | None = None
    return_reason: str | None = None
    charges: Decimal | None = None


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{NS}}}{tag}", attrs)
    if text is not None:
        el.text = text
    return el


def _path(parent: etree._Element, path: str, text: str | None = None) -> etree._Element:
    for tag in path.split("/"):
        parent = _el(parent, tag)
    parent.text = text
    return parent


def _amount(parent: etree._Element, tag: str, value: Decimal) -> None:
    _el(parent, tag, f"{value:.2f}", Ccy="EUR")


def demo_camt053(payments: list[DemoPayment], *, account_iban: str, booking_date: date, created: datetime,
                 statement_id: str, opening_balance: Decimal = Decimal("0")) -> bytes:
    """The statement's bytes. Each entry's account servicer reference is ``<statement_id>-<n>``."""
    doc = etree.Element(f"{{{NS}}}Document", nsmap={None: NS})
    msg = _el(doc, "BkToCstmrStmt")
    hdr = _el(msg, "GrpHdr")
    _el(hdr, "MsgId", f"MSG-{statement_id}")
    _el(hdr, "CreDtTm", created.isoformat(timespec="seconds"))
    stmt = _el(msg, "Stmt")
    _el(stmt, "Id", statement_id)
    _el(stmt, "CreDtTm", created.isoformat(timespec="seconds"))
    _path(_el(stmt, "Acct"), "Id/IBAN", account_iban)
    signed = [(p.amount + (p.charges or 0)) * (-1 if p.return_reason else 1) for p in payments]
    closing = opening_balance + sum(signed, Decimal("0"))
    for code, value in (("PRCD", opening_balance), ("CLBD", closing)):
        bal = _el(stmt, "Bal")
        _path(bal, "Tp/CdOrPrtry/Cd", code)
        _amount(bal, "Amt", abs(value))
        _el(bal, "CdtDbtInd", "CRDT" if value >= 0 else "DBIT")
        _path(bal, "Dt/Dt", booking_date.isoformat())
    for n, p in enumerate(payments, start=1):
        direction = Direction.DEBIT if p.return_reason else Direction.CREDIT
        ntry = _el(stmt, "Ntry")
        _amount(ntry, "Amt", p.amount + (p.charges or 0))
        _el(ntry, "CdtDbtInd", direction.value)
        _path(ntry, "Sts/Cd", "BOOK")
        _path(ntry, "BookgDt/Dt", booking_date.isoformat())
        _path(ntry, "ValDt/Dt", booking_date.isoformat())
        _el(ntry, "AcctSvcrRef", f"{statement_id}-{n}")
        domn = _el(_el(ntry, "BkTxCd"), "Domn")
        _el(domn, "Cd", "PMNT")
        fmly = _el(domn, "Fmly")
        _el(fmly, "Cd", "IDDT" if p.return_reason or p.mandate_id else "RCDT")
        _el(fmly, "SubFmlyCd", "UPDD" if p.return_reason else "ESDD" if p.mandate_id else "ESCT")
        if p.charges:
            rcrd = _el(_el(ntry, "Chrgs"), "Rcrd")
            _amount(rcrd, "Amt", p.charges)
            _el(rcrd, "CdtDbtInd", "DBIT")
        tx = _path(ntry, "NtryDtls/TxDtls")
        refs = _el(tx, "Refs")
        _el(refs, "EndToEndId", p.end_to_end_id or "NOTPROVIDED")
        if p.mandate_id:
            _el(refs, "MndtId", p.mandate_id)
        _amount(tx, "Amt", p.amount)
        _el(tx, "CdtDbtInd", direction.value)
        parties = _el(tx, "RltdPties")
        _path(parties, "Dbtr/Pty/Nm", p.name[:140])
        _path(parties, "DbtrAcct/Id/IBAN", p.iban)
        if p.remittance or p.creditor_ref:
            rmt = _el(tx, "RmtInf")
            if p.remittance:
                _el(rmt, "Ustrd", p.remittance[:140])
            if p.creditor_ref:
                _path(rmt, "Strd/CdtrRefInf/Ref", p.creditor_ref)
        if p.return_reason:
            _path(tx, "RtrInf/Rsn/Cd", p.return_reason)
    return etree.tostring(doc, xml_declaration=True, encoding="UTF-8", pretty_print=True)
