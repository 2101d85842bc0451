"""``make demo``, part 4: the bank answers. A camt.053.001.08 end-of-day statement of the Stadtkasse's account as a
German bank writes it, made from the demo's open items: most are paid in full naming their Kassenzeichen, one
partly, one with a mistyped Kassenzeichen (two digits swapped), and one transfer nobody can place; the Stadtkasse
imports it, and what does not match lands on the clarification list.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from xml.sax.saxutils import escape

from ...model.receivables import OpenItem

NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"


@dataclass(frozen=True)
class Payment:
    """One credit transfer on the statement: who paid how much with which text."""

    amount: Decimal
    text: str
    name: str
    iban: str
    reference: str  # the bank's reference of the entry (AcctSvcrRef)


def demo_payments(items: Sequence[OpenItem]) -> list[Payment]:
    """The demo's story: the first items paid in full, the next partly, one with a mistyped Kassenzeichen, and
    an unknown transfer; the rest stays open (for the dunning run)."""
    ordered = sorted(items, key=lambda i: (i.due_date, i.kassenzeichen))
    payers = [i for i in ordered if i.mandate_id is None]
    payments: list[Payment] = []
    for n, item in enumerate(payers[:4]):
        payments.append(Payment(item.open, f"Kassenzeichen {item.kassenzeichen} {item.debtor_name}",
                                item.debtor_name or "Zahler", "DE89370400440532013000", f"DEMO-{n + 1:04d}"))
    if len(payers) > 4:
        partly = payers[4]
        payments.append(Payment((partly.open / 2).quantize(Decimal("0.01")), f"KZ {partly.kassenzeichen} Teilzahlung",
                                partly.debtor_name or "Zahler", "DE02120300000000202051", "DEMO-0005"))
    if len(payers) > 5:
        typo = payers[5]
        kz = typo.kassenzeichen
        swapped = kz[:-3] + kz[-2] + kz[-3] + kz[-1] if len(kz) >= 3 and kz[-2] != kz[-3] else kz + "9"
        payments.append(Payment(typo.open, f"Kassenzeichen {swapped}", typo.debtor_name or "Zahler",
                                "DE75512108001245126199", "DEMO-0006"))
    payments.append(Payment(Decimal("87.30"), "Rechnung 4711 vom 03.11.", "Unbekannt GmbH", "DE44500105175407324931",
                            "DEMO-0007"))
    return payments


def camt053(account_iban: str, payments: Sequence[Payment], *, on: date, statement_id: str) -> bytes:
    """The statement as a German bank delivers it: one ``Stmt`` with opening/closing balance and one ``Ntry`` per
    credit transfer (bank transaction code PMNT/RCDT/ESCT), remittance text unstructured."""
    total = sum((p.amount for p in payments), Decimal("0"))
    entries = "".join(f"""
      <Ntry>
        <Amt Ccy="EUR">{p.amount:.2f}</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>{on.isoformat()}</Dt></BookgDt>
        <ValDt><Dt>{on.isoformat()}</Dt></ValDt>
        <AcctSvcrRef>{escape(p.reference)}</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls><TxDtls>
          <Refs><AcctSvcrRef>{escape(p.reference)}</AcctSvcrRef><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
          <Amt Ccy="EUR">{p.amount:.2f}</Amt>
          <RltdPties><Dbtr><Pty><Nm>{escape(p.name)}</Nm></Pty></Dbtr>
            <DbtrAcct><Id><IBAN>{p.iban}</IBAN></Id></DbtrAcct></RltdPties>
          <RmtInf><Ustrd>{escape(p.text)}</Ustrd></RmtInf>
        </TxDtls></NtryDtls>
      </Ntry>""" for p in payments)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="{NS}">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>{escape(statement_id)}</MsgId><CreDtTm>{on.isoformat()}T18:00:00+01:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>{escape(statement_id)}</Id>
      <ElctrncSeqNb>1</ElctrncSeqNb>
      <CreDtTm>{on.isoformat()}T18:00:00+01:00</CreDtTm>
      <Acct><Id><IBAN>{account_iban}</IBAN></Id><Ccy>EUR</Ccy></Acct>
      <Bal><Tp><CdOrPrtry><Cd>PRCD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">0.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>
        <Dt><Dt>{on.isoformat()}</Dt></Dt></Bal>
      <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">{total:.2f}</Amt><CdtDbtInd>CRDT</CdtDbtInd>
        <Dt><Dt>{on.isoformat()}</Dt></Dt></Bal>
      <TxsSummry><TtlCdtNtries><NbOfNtries>{len(payments)}</NbOfNtries><Sum>{total:.2f}</Sum></TtlCdtNtries>
      </TxsSummry>{entries}
    </Stmt>
  </BkToCstmrStmt>
</Document>
""".encode("utf-8")
