"""Reading bank files (issue 15): camt.053/.054 in .001.02 and .001.08 and MT940, as German banks write them
(fixtures/), validated against the official ISO 20022 XSDs (xsd/), and hostile input refused."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from erechnung.model.receivables import Direction
from erechnung.payments import bankfiles
from erechnung.payments.bankfiles import SCHEMA_DIR, BankFileError, read_bank_file
from erechnung.payments.swift_mt940 import iban_of

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
XSD = SCHEMA_DIR  # the official ISO 20022 XSDs as `make artifacts` installs them (xsd/iso20022.tsv)
ACCOUNT = "DE02120300000000202051"


def read(name: str, **kw):
    return read_bank_file((FIXTURES / name).read_bytes(), name, schema_dir=XSD, **kw)


def by_e2e(bank_file):
    return {e.end_to_end_id: e for e in bank_file.entries}


def test_camt053_v02_several_statements_batch_and_return():
    f = read("camt053_v02_sparkasse.xml")
    assert f.format == "camt.053.001.02"
    assert f.statements == ("0352C5320261201000001", "0352C5320261201000002")
    assert len(f.entries) == 5  # the pending entry is not booked
    first = f.entries[0]
    assert (first.amount, first.direction, first.end_to_end_id) == (Decimal("150.50"), Direction.CREDIT, None)
    assert first.remittance == ("Kassenzeichen 5.0123.456789.1 Grundsteuer", "4. Quartal 2026")
    assert (first.counterparty_name, first.counterparty_iban) == ("Erika Mustermann", "DE75512108001245126199")
    assert first.booking_date == first.value_date == date(2026, 12, 1)
    assert first.bank_transaction_code == "PMNT/RCDT/ESCT"
    assert first.entry_key == f"{ACCOUNT}|ref|2026120105123000001"
    assert not first.reversal and first.charges is None
    # the batch of 300.00 is split per transaction with its own amount, mandate and reference
    e = by_e2e(f)
    assert e["E2E-GRST-000123-4"].amount == Decimal("100.00")
    assert e["E2E-GRST-000123-4"].mandate_id == "MUSTER-M-000123"
    assert e["E2E-GRST-000123-4"].structured_refs == ("RF185012345678912",)
    assert e["E2E-GRST-000124-4"].amount == Decimal("200.00")
    assert e["E2E-GRST-000124-4"].counterparty_name == "Bäckerei Schulz GmbH"
    assert e["E2E-GRST-000123-4"].entry_key != e["E2E-GRST-000124-4"].entry_key
    # the returned direct debit: the original amount, the fee apart, reason AM04
    ret = e["E2E-GRST-000125-4"]
    assert (ret.direction, ret.reversal, ret.return_reason) == (Direction.DEBIT, True, "AM04")
    assert (ret.amount, ret.charges) == (Decimal("100.00"), Decimal("3.00"))
    assert ret.counterparty_iban == "DE12500105170648489890"
    second = e["RE-2026-0815"]
    assert (second.account_iban, second.statement_id) == ("DE27100777770209299700", "0352C5320261201000002")
    assert second.value_date == date(2026, 12, 2)
    assert len({x.entry_key for x in f.entries}) == 5


def test_camt053_v08_names_amounts_and_charges_records():
    f = read("camt053_v08_volksbank.xml")
    assert f.format == "camt.053.001.08"
    e = by_e2e(f)
    assert e["E2E-HUND-000201-1"].amount == Decimal("120.00")
    assert e["E2E-HUND-000201-1"].counterparty_name == "Jürgen Weiß"
    assert e["E2E-HUND-000201-1"].entry_key == f"{ACCOUNT}|ref|VRB2026120100017-1"
    assert e["E2E-HUND-000202-1"].structured_refs == ("5.0202.000004.5",)
    ret = e["E2E-HUND-000199-1"]
    assert (ret.reversal, ret.return_reason, ret.amount, ret.charges) == (True, "AM04", Decimal("80.00"),
                                                                          Decimal("4.05"))
    # no servicer reference: end-to-end id, account, amount, date and direction
    assert e["UEBERW-4711"].entry_key == f"{ACCOUNT}|e2e|UEBERW-4711|124.00|2026-12-01|CRDT"


def test_notification_then_statement_give_the_same_keys():
    avis = read("camt054_v08_volksbank.xml")
    stmt = read("camt053_v08_volksbank.xml")
    assert avis.format == "camt.054.001.08" and avis.statements == ("AVIS-2026-12-01-0042",)
    assert [e.entry_key for e in avis.entries] == [e.entry_key for e in stmt.entries]
    assert len(avis.entries) == 4


def test_the_same_file_twice_gives_the_same_entries():
    assert read("camt053_v02_sparkasse.xml") == read("camt053_v02_sparkasse.xml")


def test_mt940_with_sepa_details_and_a_return():
    f = read("mt940_sepa.sta")
    assert f.format == "MT940" and f.statements == ("STARTUMSE/00231", "STARTUMSE/00232")
    first, ret, kita, plain = f.entries
    assert first.account_iban == ACCOUNT  # from BLZ/Kontonummer
    assert first.remittance == ("Kassenzeichen 5.0123.456789.1 Grundsteuer 4. Quartal 2026",)
    assert first.end_to_end_id is None and first.counterparty_iban == "DE75512108001245126199"
    assert first.counterparty_name == "Erika Mustermann" and first.bank_transaction_code == "166"
    # the same booking as in the camt.053: the same key
    camt = read("camt053_v02_sparkasse.xml")
    assert first.entry_key == camt.entries[0].entry_key
    assert (ret.reversal, ret.return_reason, ret.direction) == (True, "AM04", Direction.DEBIT)
    assert (ret.amount, ret.charges) == (Decimal("100.00"), Decimal("4.00"))
    assert (ret.end_to_end_id, ret.mandate_id) == ("E2E-GRST-000125-4", "MUSTER-M-000125")
    assert kita.structured_refs == ("RF185012345678912",) and kita.remittance == ("Gebuehr Kita Nov",)
    assert plain.remittance == ("Hundesteuer Kassenzeichen", "5.0201.000003.9")
    assert plain.counterparty_name == "Müller, Jürgen"  # ISO 8859-1, as delivered
    assert plain.account_iban == ACCOUNT and plain.statement_id == "STARTUMSE/00232"
    assert plain.entry_key.startswith(f"{ACCOUNT}|sha|")


def test_mt940_reversal_marks():
    text = (":20:STARTUMSE\r\n:25:DE02120300000000202051\r\n:28C:1/1\r\n:60F:C261201EUR0,00\r\n"
            ":61:2612011201RC25,00NTRFNONREF\r\n:86:166?00STORNO?20Gutschrift storniert\r\n"
            ":62F:D261201EUR25,00\r\n-\r\n")
    (entry,) = read_bank_file(text.encode(), "storno.sta").entries
    assert (entry.reversal, entry.direction, entry.amount) == (True, Direction.DEBIT, Decimal("25.00"))
    free = text.replace("166?00STORNO?20Gutschrift storniert", "Miete Dezember Kassenzeichen 5.0300.1")
    free = free.replace("1201RC25", "1201C25")
    (entry,) = read_bank_file(free.encode(), "frei.sta").entries
    assert entry.remittance == ("Miete Dezember Kassenzeichen 5.0300.1",) and not entry.reversal


def test_iban_from_blz_and_account():
    assert iban_of("37040044/532013000") == "DE89370400440532013000"
    assert iban_of("DE89370400440532013000EUR") == "DE89370400440532013000"


def test_pending_entries_are_not_booked():
    f = read("camt053_v02_sparkasse.xml")
    assert Decimal("17.00") not in {e.amount for e in f.entries}


# --- what is refused, with a message for the clerk ---

def camt(body: str, version: str = "camt.053.001.02") -> bytes:
    return (f'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:{version}">'
            f"{body}</Document>").encode()


def test_schema_violation_is_reported_with_line():
    data = (FIXTURES / "camt053_v02_sparkasse.xml").read_bytes().replace(b"<Sts>BOOK</Sts>", b"<Sts>GEBUCHT</Sts>", 1)
    with pytest.raises(BankFileError) as err:
        read_bank_file(data, "kaputt.xml", schema_dir=XSD)
    assert "ISO-20022-Schema camt.053.001.02" in str(err.value) and "kaputt.xml, Zeile" in str(err.value)


def test_structure_checked_without_schema(tmp_path):
    data = (FIXTURES / "camt053_v08_volksbank.xml").read_bytes().replace(b'<Amt Ccy="EUR">120.00</Amt>',
                                                                         b'<Amt Ccy="euro">120.00</Amt>')
    with pytest.raises(BankFileError) as err:
        read_bank_file(data, "w.xml", schema_dir=tmp_path)  # no XSD there: the explicit checks still hold
    assert "ISO-4217" in str(err.value) and "TxDtls" in err.value.where
    no_date = (FIXTURES / "camt053_v08_volksbank.xml").read_bytes().replace(b"<Dt>2026-12-01</Dt></BookgDt>",
                                                                           b"<Dt>01.12.2026</Dt></BookgDt>", 1)
    with pytest.raises(BankFileError, match="Buchungsdatum '01.12.2026' ist kein Datum"):
        read_bank_file(no_date, "d.xml", schema_dir=tmp_path)


def test_batch_without_transaction_amounts_is_refused(tmp_path):
    data = (FIXTURES / "camt053_v02_sparkasse.xml").read_bytes()
    data = data.replace(b'<AmtDtls><TxAmt><Amt Ccy="EUR">100.00</Amt></TxAmt></AmtDtls>', b"")
    with pytest.raises(BankFileError, match="Sammelbuchung ohne Einzelbetrag"):
        read_bank_file(data, "s.xml", schema_dir=tmp_path)


def test_unknown_versions_and_formats_are_refused(tmp_path):
    with pytest.raises(BankFileError, match="keine unterstützte camt-Datei") as err:
        read_bank_file(camt("<BkToCstmrStmt/>", "camt.052.001.02"), "c52.xml")
    assert "001.08" in err.value.fix
    with pytest.raises(BankFileError, match="weder camt"):
        read_bank_file(b"Datum;Betrag\n01.12.2026;10,00\n", "umsatz.csv")
    with pytest.raises(BankFileError, match="leer"):
        read_bank_file(b"  \n", "leer.xml")
    with pytest.raises(BankFileError, match="Pflichtangabe fehlt: Nachrichten-ID"):  # the structure check alone
        read_bank_file(camt("<BkToCstmrStmt><Stmt/></BkToCstmrStmt>"), "c.xml", schema_dir=tmp_path)
    with pytest.raises(BankFileError, match="verletzt das ISO-20022-Schema camt.053.001.02: Element 'Stmt'"):
        read_bank_file(camt("<BkToCstmrStmt><Stmt/></BkToCstmrStmt>"), "c.xml")  # the official XSD first


def test_doctype_and_entities_are_refused():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE Document [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">&b;</Document>')
    with pytest.raises(BankFileError, match="DOCTYPE"):
        read_bank_file(bomb, "bomb.xml")
    xxe = (b'<?xml version="1.0"?><!DOCTYPE d SYSTEM "file:///etc/passwd">'
           b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"/>')
    with pytest.raises(BankFileError, match="DOCTYPE"):
        read_bank_file(xxe, "xxe.xml")


def test_deep_nesting_is_refused():
    deep = b"<Document>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</Document>"
    with pytest.raises(BankFileError, match="kein wohlgeformtes XML"):
        read_bank_file(deep, "deep.xml")


def test_huge_file_is_refused():
    with pytest.raises(BankFileError, match="größer als 20 MB"):
        read_bank_file(b"<" + b" " * bankfiles.MAX_BYTES, "gross.xml")


def test_too_many_entries_are_refused(monkeypatch):
    monkeypatch.setattr("erechnung.payments.camt.MAX_ENTRIES", 3)
    with pytest.raises(BankFileError, match="mehr als 3 Buchungen"):
        read("camt053_v02_sparkasse.xml")


def test_malformed_mt940_is_refused():
    with pytest.raises(BankFileError) as err:
        read_bank_file(b":20:X\r\n:25:DE02120300000000202051\r\n:61:xx\r\n", "m.sta")
    assert str(err.value).startswith("m.sta")


def test_camt054_v02_notification_reads_like_the_statement():
    import re
    data = (FIXTURES / "camt053_v02_sparkasse.xml").read_text(encoding="utf-8")
    data = data.replace("camt.053.001.02", "camt.054.001.02").replace("BkToCstmrStmt", "BkToCstmrDbtCdtNtfctn")
    data = data.replace("<Stmt>", "<Ntfctn>").replace("</Stmt>", "</Ntfctn>")
    data = re.sub(r"\s*<Bal>.*?</Bal>", "", data, flags=re.S)
    avis = read_bank_file(data.encode(), "avis.xml", schema_dir=XSD)  # valid against camt.054.001.02.xsd
    stmt = read("camt053_v02_sparkasse.xml")
    assert avis.format == "camt.054.001.02"
    assert [e.entry_key for e in avis.entries] == [e.entry_key for e in stmt.entries]


def test_the_schemas_read_are_the_pinned_official_ones():
    """The camt schemas come from xsd/iso20022 as ``make artifacts`` installs them, each with its pinned sha256."""
    import hashlib

    from erechnung.artifacts import read_manifest
    manifest = read_manifest(HERE.parents[1] / "xsd" / "iso20022.tsv")
    assert {e.target for e in manifest} == {p.name for p in XSD.glob("*.xsd")}
    for e in manifest:
        assert hashlib.sha256((XSD / e.target).read_bytes()).hexdigest() == e.sha256


def test_demo_statement_is_valid_and_reads_back():
    from datetime import datetime, timezone

    from erechnung.payments.demo_statement import DemoPayment, demo_camt053
    payments = [
        DemoPayment(Decimal("150.50"), "Erika Mustermann", "DE75512108001245126199",
                    remittance="Kassenzeichen 5.0123.456789.1"),
        DemoPayment(Decimal("60"), "Hans Meier", "DE44500105175407324931", end_to_end_id="E2E-1",
                    mandate_id="M-1", creditor_ref="RF185012345678912"),
        DemoPayment(Decimal("80"), "Otto Normalverbraucher", "DE12500105170648489890", end_to_end_id="E2E-2",
                    mandate_id="M-2", return_reason="AM04", charges=Decimal("3.00")),
    ]
    data = demo_camt053(payments, account_iban=ACCOUNT, booking_date=date(2026, 12, 1),
                        created=datetime(2026, 12, 2, 6, 0, tzinfo=timezone.utc), statement_id="DEMO-2026-12-01")
    f = read_bank_file(data, "demo.xml", schema_dir=XSD)
    assert f.statements == ("DEMO-2026-12-01",)
    first, dd, ret = f.entries
    assert first.remittance == ("Kassenzeichen 5.0123.456789.1",) and first.end_to_end_id is None
    assert (dd.mandate_id, dd.structured_refs, dd.amount) == ("M-1", ("RF185012345678912",), Decimal("60.00"))
    assert (ret.reversal, ret.return_reason, ret.amount, ret.charges, ret.direction) == (
        True, "AM04", Decimal("80.00"), Decimal("3.00"), Direction.DEBIT)
    assert ret.entry_key == f"{ACCOUNT}|ref|DEMO-2026-12-01-3"


def test_reversal_indicator_marks_a_reversal():
    data = (FIXTURES / "camt053_v08_volksbank.xml").read_bytes().replace(
        b"<CdtDbtInd>DBIT</CdtDbtInd>\n        <Sts>",
        b"<CdtDbtInd>CRDT</CdtDbtInd>\n        <RvslInd>true</RvslInd>\n        <Sts>", 1)
    data = data.replace(b"UPDD", b"ESCT", 1).replace(b"NRTI+109", b"NTRF+166")
    data = data.replace(b"<RtrInf>\n              <Rsn><Cd>AM04</Cd></Rsn>\n            </RtrInf>", b"")
    entry = read_bank_file(data, "rv.xml", schema_dir=XSD).entries[2]
    assert read_bank_file(data.replace(b"<RvslInd>true</RvslInd>", b""), "x.xml").entries[2].reversal is False
    assert (entry.reversal, entry.return_reason, entry.direction) == (True, None, Direction.DEBIT)
