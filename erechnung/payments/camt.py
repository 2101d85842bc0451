"""camt.053 (statement) and camt.054 (notification), versions .001.02 and .001.08, read with a hardened lxml
parser into ``BankEntry``; a batch booking (several ``TxDtls``) becomes one entry per transaction.

The structure is checked explicitly (namespace per version, required elements, amounts, currencies, dates); when
the official ISO 20022 XSD of the version is installed (``<schema_dir>/camt.053.001.02.xsd`` ...), the file is
validated against it first.
"""
from __future__ import annotations

import logging
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

from lxml import etree

from ..model.receivables import BankEntry, Direction
from .bankfile_common import (MAX_ENTRIES, RETURN_REASONS, BankFileError, clip, entry_key, number_duplicates,
                              parse_amount)

NS_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"
# format -> (message element, report element)
FORMATS = {
    "camt.053.001.02": ("BkToCstmrStmt", "Stmt"),
    "camt.053.001.08": ("BkToCstmrStmt", "Stmt"),
    "camt.054.001.02": ("BkToCstmrDbtCdtNtfctn", "Ntfctn"),
    "camt.054.001.08": ("BkToCstmrDbtCdtNtfctn", "Ntfctn"),
}

# Bank transaction codes (Domn/Fmly/SubFmly) that are returns or reversals of a payment.
REVERSAL_SUBFAMILIES = frozenset({"UPDD", "RRTN", "RPCR", "PRDD", "PRCT", "RCDD"})
# German DK business transaction codes (GVC, in BkTxCd/Prtry/Cd as ``NDDT+109+...``) of returns.
REVERSAL_GVC = frozenset({"109", "159"})

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                          huge_tree=False, remove_comments=True, remove_pis=True)
_SCHEMAS: dict[Path, etree.XMLSchema] = {}
_WARNED: set[Path] = set()
log = logging.getLogger(__name__)


def looks_like_camt(data: bytes) -> bool:
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<"


def parse_xml(data: bytes, name: str) -> etree._Element:
    """Parse untrusted XML: no DOCTYPE (so no entities), no network, lxml's depth and size limits."""
    head = data[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in data.lower():
        raise BankFileError("die Datei enthält eine DOCTYPE- oder ENTITY-Deklaration, die camt-Dateien nie haben",
                            file=name, where="Dateikopf",
                            fix="Nur unveränderte Kontoauszüge der Bank einlesen.")
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise BankFileError(f"kein wohlgeformtes XML ({clip(str(exc))[:200]})", file=name,
                            where=f"Zeile {exc.lineno}" if getattr(exc, "lineno", None) else None,
                            fix="Die Datei ist beschädigt oder abgeschnitten; erneut abrufen.") from None
    if root.getroottree().docinfo.doctype:
        raise BankFileError("die Datei enthält eine DOCTYPE-Deklaration", file=name, where="Dateikopf",
                            fix="Nur unveränderte Kontoauszüge der Bank einlesen.")
    return root


def _schema(path: Path) -> etree.XMLSchema:
    if path not in _SCHEMAS:
        _SCHEMAS[path] = etree.XMLSchema(etree.parse(str(path), _PARSER))
    return _SCHEMAS[path]


class _Reader:
    def __init__(self, root: etree._Element, name: str, fmt: str) -> None:
        self.name, self.fmt = name, fmt
        self.ns = NS_PREFIX + fmt
        self.v08 = fmt.endswith(".08")

    def q(self, path: str) -> str:
        return "/".join(f"{{{self.ns}}}{p}" if p not in (".", "..") else p for p in path.split("/"))

    def find(self, el: etree._Element, path: str) -> etree._Element | None:
        return el.find(self.q(path))

    def first(self, el: etree._Element, *paths: str) -> etree._Element | None:
        for path in paths:
            found = el.find(self.q(path))
            if found is not None:
                return found
        return None

    def text(self, el: etree._Element, *paths: str) -> str | None:
        for path in paths:
            found = el.find(self.q(path))
            if found is not None and found.text and found.text.strip():
                return clip(found.text)
        return None

    def where(self, el: etree._Element) -> str:
        tree = el.getroottree()
        path = "" if el is tree.getroot() else "/" + re.sub(r"\{[^}]*\}", "", tree.getelementpath(el))
        return f"Zeile {el.sourceline}, /Document{path}"

    def require(self, el: etree._Element, *paths: str, what: str) -> str:
        value = self.text(el, *paths)
        if value is None:
            raise BankFileError(f"Pflichtangabe fehlt: {what} ({' oder '.join(paths)})", file=self.name,
                                where=self.where(el),
                                fix="Die Bank liefert die Datei nicht nach ISO 20022; erneut abrufen oder die "
                                    "Bank um eine vollständige Datei bitten.")
        return value

    def amount(self, el: etree._Element) -> tuple[Decimal, str]:
        amount = parse_amount(el.text, file=self.name, where=self.where(el))
        ccy = el.get("Ccy", "")
        if not re.fullmatch(r"[A-Z]{3}", ccy):
            raise BankFileError(f"Währung {ccy[:10]!r} ist kein ISO-4217-Code", file=self.name,
                                where=self.where(el), fix="Die Bank muss Ccy=\"EUR\" o. ä. angeben.")
        return amount, ccy

    def date(self, el: etree._Element, path: str, *, what: str, required: bool) -> date | None:
        raw = self.text(el, f"{path}/Dt", f"{path}/DtTm")
        if raw is None:
            if required:
                self.require(el, f"{path}/Dt", f"{path}/DtTm", what=what)
            return None
        try:
            return date.fromisoformat(raw[:10])
        except ValueError:
            raise BankFileError(f"{what} {raw[:30]!r} ist kein Datum (JJJJ-MM-TT)", file=self.name,
                                where=self.where(el) + "/" + path,
                                fix="Die Datei ist fehlerhaft; erneut abrufen.") from None

    def direction(self, el: etree._Element) -> Direction | None:
        raw = self.text(el, "CdtDbtInd")
        if raw is None:
            return None
        if raw not in ("CRDT", "DBIT"):
            raise BankFileError(f"CdtDbtInd {raw[:10]!r} ist weder CRDT noch DBIT", file=self.name,
                                where=self.where(el), fix="Die Datei ist fehlerhaft; erneut abrufen.")
        return Direction(raw)

    def charges(self, el: etree._Element) -> Decimal | None:
        total = self.find(el, "Chrgs/TtlChrgsAndTaxAmt")
        if total is not None:
            return self.amount(total)[0]
        parts = el.findall(self.q("Chrgs/Amt")) + el.findall(self.q("Chrgs/Rcrd/Amt"))
        return sum((self.amount(p)[0] for p in parts), Decimal("0")) if parts else None

    def party(self, tx: etree._Element, role: str) -> tuple[str, str | None]:
        name = self.text(tx, f"RltdPties/{role}/Pty/Nm", f"RltdPties/{role}/Nm",
                         f"RltdPties/Ultmt{role}/Pty/Nm", f"RltdPties/Ultmt{role}/Nm") or ""
        iban = self.text(tx, f"RltdPties/{role}Acct/Id/IBAN")
        return name, iban.replace(" ", "").upper() if iban else None

    def bank_code(self, el: etree._Element) -> tuple[str, str | None]:
        domain = [self.text(el, "BkTxCd/Domn/Cd"), self.text(el, "BkTxCd/Domn/Fmly/Cd"),
                  self.text(el, "BkTxCd/Domn/Fmly/SubFmlyCd")]
        prtry = self.text(el, "BkTxCd/Prtry/Cd")
        gvc = re.search(r"\+(\d{3})(?:\+|$)", prtry or "")
        code = "/".join(d for d in domain if d) if all(domain) else (prtry or "")
        return code, gvc.group(1) if gvc else None

    def entries(self, report: etree._Element, account: str, stmt_id: str) -> list[BankEntry]:
        out: list[BankEntry] = []
        for ntry in report.findall(self.q("Ntry")):
            status = self.text(ntry, "Sts/Cd", "Sts")
            if status is None:
                self.require(ntry, "Sts", what="Buchungsstatus")
            if status != "BOOK":
                continue  # pending or information only: booked when the bank reports it as BOOK
            amt_el = self.find(ntry, "Amt")
            if amt_el is None:
                self.require(ntry, "Amt", what="Betrag")
            ntry_amount, ntry_ccy = self.amount(amt_el)
            ntry_dir = self.direction(ntry) or Direction(self.require(ntry, "CdtDbtInd", what="Soll/Haben"))
            booking = self.date(ntry, "BookgDt", what="Buchungsdatum", required=False)
            value = self.date(ntry, "ValDt", what="Valuta", required=False)
            if booking is None:
                booking = value or self.date(ntry, "BookgDt", what="Buchungsdatum", required=True)
            ntry_reversal = (self.text(ntry, "RvslInd") or "").lower() in ("true", "1")
            ntry_ref = self.text(ntry, "AcctSvcrRef")
            ntry_code, ntry_gvc = self.bank_code(ntry)
            ntry_charges = self.charges(ntry)
            txs = ntry.findall(self.q("NtryDtls/TxDtls"))
            if len(txs) > 1:
                for tx in txs:
                    if self.find(tx, "AmtDtls/TxAmt/Amt") is None and self.find(tx, "Amt") is None:
                        raise BankFileError("Sammelbuchung ohne Einzelbetrag der Transaktion", file=self.name,
                                            where=self.where(tx),
                                            fix="Die Bank bitten, Sammler aufgelöst mit AmtDtls/TxAmt zu "
                                                "liefern.")
            for index, tx in enumerate(txs or [None], start=1):
                el = tx if tx is not None else ntry
                amount, ccy = ntry_amount, ntry_ccy
                tx_amt = None if tx is None else self.first(tx, "AmtDtls/TxAmt/Amt", "Amt")
                if tx_amt is not None:
                    amount, ccy = self.amount(tx_amt)
                direction = (self.direction(tx) if tx is not None else None) or ntry_dir
                code, gvc = self.bank_code(el) if tx is not None and self.find(tx, "BkTxCd") is not None \
                    else (ntry_code, ntry_gvc)
                reason = self.text(el, "RtrInf/Rsn/Cd") if tx is not None else None
                subfamily = code.split("/")[2] if code.count("/") == 2 else ""
                reversal = (ntry_reversal or reason is not None or subfamily in REVERSAL_SUBFAMILIES
                            or gvc in REVERSAL_GVC)
                if reason is not None and reason not in RETURN_REASONS and not re.fullmatch(r"[A-Z0-9]{4}", reason):
                    reason = None
                charges = self.charges(tx) if tx is not None else None
                if charges is None and len(txs) <= 1:
                    charges = ntry_charges
                e2e = self.text(el, "Refs/EndToEndId") if tx is not None else None
                e2e = None if e2e in ("NOTPROVIDED", "NONREF") else e2e
                mandate = self.text(el, "Refs/MndtId") if tx is not None else None
                tx_ref = self.text(el, "Refs/AcctSvcrRef") if tx is not None else None
                if tx_ref:
                    servicer_ref = tx_ref
                elif ntry_ref and len(txs) > 1:
                    servicer_ref = f"{ntry_ref}/{e2e if e2e and e2e != 'NOTPROVIDED' else index}"
                else:
                    servicer_ref = ntry_ref
                lines = tuple(clip(u.text) for u in el.findall(self.q("RmtInf/Ustrd")) if u.text and u.text.strip()) \
                    if tx is not None else ()
                refs = tuple(clip(r.text) for r in el.findall(self.q("RmtInf/Strd/CdtrRefInf/Ref"))
                             if r.text and r.text.strip()) if tx is not None else ()
                if not lines and tx is None:
                    extra = self.text(ntry, "AddtlNtryInf")
                    lines = (extra,) if extra else ()
                name, iban = ("", None)
                if tx is not None:
                    first, second = ("Dbtr", "Cdtr") if direction is Direction.CREDIT or reversal else ("Cdtr", "Dbtr")
                    name, iban = self.party(tx, first)
                    if not name and not iban:
                        name, iban = self.party(tx, second)
                if amount <= 0:
                    raise BankFileError("Buchung mit Betrag 0", file=self.name, where=self.where(el),
                                        fix="Die Datei ist fehlerhaft; erneut abrufen.")
                key = entry_key(account=account, servicer_ref=servicer_ref, end_to_end_id=e2e, amount=amount,
                                booking_date=booking, direction=direction, reversal=reversal,
                                text="|".join((*lines, *refs, name, iban or "")))
                out.append(BankEntry(entry_key=key, account_iban=account, booking_date=booking, value_date=value,
                                     amount=amount, currency=ccy, direction=direction, end_to_end_id=e2e,
                                     mandate_id=mandate, remittance=lines, structured_refs=refs,
                                     counterparty_name=name, counterparty_iban=iban, reversal=reversal,
                                     return_reason=reason, charges=charges, bank_transaction_code=code,
                                     statement_id=stmt_id, source=self.name))
                if len(out) > MAX_ENTRIES:
                    raise BankFileError(f"mehr als {MAX_ENTRIES} Buchungen in einer Datei", file=self.name,
                                        where=self.where(el), fix="Die Auszüge einzeln (je Tag) abrufen.")
        return out


def detect_format(root: etree._Element, name: str) -> str:
    ns = etree.QName(root).namespace or ""
    local = etree.QName(root).localname
    fmt = ns[len(NS_PREFIX):] if ns.startswith(NS_PREFIX) else ""
    if local != "Document" or fmt not in FORMATS:
        raise BankFileError(
            f"keine unterstützte camt-Datei (Wurzelelement {local[:40]!r}, Namensraum {ns[:80]!r})", file=name,
            where="/" + local,
            fix="Unterstützt sind camt.053 und camt.054 in den Versionen 001.02 und 001.08 "
                "(Namensraum urn:iso:std:iso:20022:tech:xsd:camt.053.001.02 ...); das Format im "
                "Online-Banking entsprechend wählen.")
    return fmt


def read_camt(data: bytes, name: str, *, schema_dir: Path | None = None) -> tuple[str, tuple[str, ...],
                                                                                  list[BankEntry]]:
    """``(format, statement ids, entries)`` of one camt.053/.054 file."""
    root = parse_xml(data, name)
    fmt = detect_format(root, name)
    if schema_dir is not None and not (schema_dir / f"{fmt}.xsd").is_file() and schema_dir not in _WARNED:
        _WARNED.add(schema_dir)
        log.warning("no ISO 20022 XSD %s.xsd in %s: checking the structure only (make artifacts installs it)",
                    fmt, schema_dir)
    if schema_dir is not None and (schema_dir / f"{fmt}.xsd").is_file():
        schema = _schema(schema_dir / f"{fmt}.xsd")
        if not schema.validate(root):
            err = schema.error_log.last_error
            message = re.sub(r"\{[^}]*\}", "", clip(err.message))[:300]
            raise BankFileError(f"verletzt das ISO-20022-Schema {fmt}: {message}", file=name,
                                where=f"Zeile {err.line}", fix="Die Datei ist fehlerhaft; erneut abrufen oder die "
                                                               "Bank auf den Schemafehler hinweisen.")
    reader = _Reader(root, name, fmt)
    message, report_tag = FORMATS[fmt]
    msg = reader.find(root, message)
    if msg is None:
        reader.require(root, message, what="Nachricht")
    reader.require(msg, "GrpHdr/MsgId", what="Nachrichten-ID")
    reports = msg.findall(reader.q(report_tag))
    if not reports:
        reader.require(msg, report_tag, what="Auszug/Avis")
    ids: list[str] = []
    entries: list[BankEntry] = []
    for report in reports:
        stmt_id = reader.require(report, "Id", what="Auszugs-ID")
        iban = reader.text(report, "Acct/Id/IBAN")
        account = (iban or reader.require(report, "Acct/Id/Othr/Id", what="Kontonummer")).replace(" ", "").upper()
        ids.append(stmt_id)
        entries.extend(reader.entries(report, account, stmt_id))
        if len(entries) > MAX_ENTRIES:
            raise BankFileError(f"mehr als {MAX_ENTRIES} Buchungen in einer Datei", file=name,
                                where=reader.where(report), fix="Die Auszüge einzeln (je Tag) abrufen.")
    keys = number_duplicates([e.entry_key for e in entries])
    entries = [e if e.entry_key == k else e.model_copy(update={"entry_key": k}) for e, k in zip(entries, keys)]
    return fmt, tuple(ids), entries
