"""SEPA direct debits (issue 15): a pain.008 per due date from the open items whose debtor has a mandate, valid
against the XSD sepaxml ships; FRST for a mandate's first collection, then RCUR; no mandate, no debit; ids in
SEPA's character set and lengths."""
from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from lxml import etree

from erechnung.model.receivables import ItemState, OpenItem, SequenceType
from erechnung.model.recipients import Recipient
from erechnung.payments.debits import (Creditor, DebitError, build_debits, debit_end_to_end_id, mandates_of,
                                       validate_pain008)
from erechnung.payments.matching import end_to_end_id

DUE = date(2026, 5, 15)
CREATED = datetime(2026, 5, 11, 9, 30)
CREDITOR = Creditor(name="Stadtkasse Musterstadt", creditor_id="DE98ZZZ09999999999", iban="DE02120300000000202051",
                    bic="BYLADEM1001")
PEOPLE = (
    Recipient(customer_number="K-1", name="Jürgen Müller-Lüdenscheidt", street="Weg 1", post_code="12345",
              city="Ort", sepa_mandate_id="M-2026-000001", sepa_mandate_date=date(2025, 11, 3),
              iban="DE89 3704 0044 0532 0130 00", bic="COBADEFFXXX"),
    Recipient(customer_number="K-2", name="Erika Mustermann", street="Weg 2", post_code="12345", city="Ort",
              sepa_mandate_id="M-2019-000042", sepa_mandate_date=date(2019, 2, 1), iban="DE02100100100006820101"),
    Recipient(customer_number="K-3", name="Ohne Mandat", street="Weg 3", post_code="12345", city="Ort"),
)
MANDATES = mandates_of(PEOPLE)
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.008.001.08"}


def item(ref: str, number: str, amount: str, due: date = DUE, instalment: int = 0, **kw) -> OpenItem:
    item_id = int(re.sub(r"\D", "", number)[-6:] or 1) * 10 + instalment  # stored items: unique ids
    return OpenItem(item_id=item_id, document_id=1, number=number, kassenzeichen="5.1234." + ref[-1],
                    department="steueramt", debtor_ref=ref, instalment=instalment, amount=Decimal(amount), due_date=due,
                    account_iban=CREDITOR.iban, **kw)


def build(items, **kw):
    return build_debits(items, due=DUE, creditor=CREDITOR, mandates=MANDATES, created_at=CREATED, **kw)


def test_pain008_is_valid_against_the_xsd_and_carries_mandate_and_creditor():
    instalment = item("K-1", "GB-2026-0001", "123.45", instalment=2)
    result = build([instalment, item("K-2", "RE-2026-000117", "50.00")], collected={"M-2019-000042"})
    validate_pain008(result.xml)  # raises on any violation
    root = etree.fromstring(result.xml)
    assert root.nsmap[None] == NS["p"]
    assert root.findtext(".//p:GrpHdr/p:NbOfTxs", namespaces=NS) == "2"
    assert root.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=NS) == "173.45"
    assert {e.text for e in root.iterfind(".//p:LclInstrm/p:Cd", NS)} == {"CORE"}
    assert {e.text for e in root.iterfind(".//p:ReqdColltnDt", NS)} == {"2026-05-15"}
    assert {e.text for e in root.iterfind(".//p:CdtrSchmeId//p:Othr/p:Id", NS)} == {"DE98ZZZ09999999999"}
    assert root.findtext(".//p:CdtrAcct//p:IBAN", namespaces=NS) == CREDITOR.iban
    tx = {t.findtext("p:PmtId/p:EndToEndId", namespaces=NS): t for t in root.iterfind(".//p:DrctDbtTxInf", NS)}
    first = tx[debit_end_to_end_id(instalment)]
    assert first.findtext(".//p:MndtId", namespaces=NS) == "M-2026-000001"
    assert first.findtext(".//p:DtOfSgntr", namespaces=NS) == "2025-11-03"
    assert first.findtext("p:DbtrAcct//p:IBAN", namespaces=NS) == "DE89370400440532013000"
    assert first.findtext("p:Dbtr/p:Nm", namespaces=NS) == "Jurgen Muller-Ludenscheidt"  # SEPA Latin only
    assert first.findtext("p:InstdAmt", namespaces=NS) == "123.45"
    assert "Kassenzeichen 5.1234.1" in first.findtext(".//p:Ustrd", namespaces=NS)


def test_frst_for_a_new_mandate_rcur_after_its_first_collection():
    items = [item("K-1", "GB-1", "10.00"), item("K-2", "GB-2", "20.00")]
    result = build(items, collected={"M-2019-000042"})
    assert {d.item.debtor_ref: d.sequence for d in result.debits} == {
        "K-1": SequenceType.FIRST, "K-2": SequenceType.RECURRING}
    root = etree.fromstring(result.xml)
    by_sequence = {info.findtext("p:PmtTpInf/p:SeqTp", namespaces=NS):
                   [t.findtext(".//p:MndtId", namespaces=NS) for t in info.iterfind("p:DrctDbtTxInf", NS)]
                   for info in root.iterfind(".//p:PmtInf", NS)}
    assert by_sequence == {"FRST": ["M-2026-000001"], "RCUR": ["M-2019-000042"]}
    later = build(items, collected={"M-2019-000042", "M-2026-000001"})
    assert {d.sequence for d in later.debits} == {SequenceType.RECURRING}


def test_no_mandate_no_debit_and_the_others_of_the_day_are_told_why():
    items = [item("K-3", "GB-3", "10.00"), item("K-1", "GB-4", "10.00", disputed=True),
             item("K-1", "GB-5", "10.00", paid=Decimal("10.00"), state=ItemState.PAID),
             item("K-2", "GB-6", "10.00", mandate_id="M-OTHER"),
             item("K-2", "GB-7", "10.00", due=date(2026, 8, 15))]  # another day: not this file's
    result = build(items)
    assert result.debits == () and result.xml == b""
    reasons = {s.item.number: s.reason for s in result.skipped}
    assert set(reasons) == {"GB-3", "GB-4", "GB-5", "GB-6"}
    assert "kein SEPA-Mandat" in reasons["GB-3"] and "strittig" in reasons["GB-4"]
    assert "weicht" in reasons["GB-6"]


def test_partly_paid_item_collects_the_open_rest():
    result = build([item("K-1", "GB-8", "100.00", paid=Decimal("30.00"), state=ItemState.PARTIALLY_PAID)])
    assert [d.amount for d in result.debits] == [Decimal("70.00")] and result.total == Decimal("70.00")


def test_same_inputs_same_bytes():
    items = [item("K-1", "GB-1", "10.00")]
    assert build(items).xml == build(items).xml
    assert b"<CreDtTm>2026-05-11T09:30:00</CreDtTm>" in build(items).xml


@pytest.mark.parametrize("kassenzeichen", ["5.0100.330104.5", "GB 2026/0001 Grundsteuer", "X" * 60, "A-B/C"])
def test_end_to_end_id_is_matching_s_in_charset_and_length(kassenzeichen):
    it = item("K-1", "GB-1", "1.00").model_copy(update={"kassenzeichen": kassenzeichen, "item_id": 4711})
    e2e = debit_end_to_end_id(it)
    assert e2e == end_to_end_id(it)  # what matching looks the collection and its return up by
    assert len(e2e) <= 35 and re.fullmatch(r"[A-Za-z0-9/\-?:().,'+]+", e2e) and e2e.startswith("ERE-4711-")
    validate_pain008(build([it]).xml)


def test_items_not_yet_stored_or_with_umlauts_in_the_kassenzeichen_are_not_collected():
    unsaved = item("K-1", "GB-1", "1.00").model_copy(update={"item_id": 0})
    umlaut = item("K-2", "GB-2", "1.00").model_copy(update={"kassenzeichen": "Grundsteuer-Ä-17"})
    result = build([unsaved, umlaut])
    assert result.debits == () and result.xml == b""
    reasons = [s.reason for s in result.skipped]
    assert "noch nicht" in reasons[0] and "SEPA-Zeichensatzes" in reasons[1]
    with pytest.raises(DebitError, match="no item id"):
        debit_end_to_end_id(unsaved)


def test_a_file_the_xsd_refuses_is_not_written():
    xml = build([item("K-1", "GB-1", "10.00")]).xml.replace(b"<SeqTp>FRST</SeqTp>", b"<SeqTp>XXXX</SeqTp>")
    with pytest.raises(DebitError, match="not valid against pain.008.001.08"):
        validate_pain008(xml)


def test_pain008_001_02_needs_the_bic_and_is_valid_too():
    result = build([item("K-2", "GB-1", "10.00")], schema="pain.008.001.02")
    validate_pain008(result.xml, "pain.008.001.02")
    without_bic = Creditor(name="Stadtkasse", creditor_id="DE98ZZZ09999999999", iban=CREDITOR.iban)
    with pytest.raises(DebitError, match="needs the BIC"):
        build_debits([item("K-2", "GB-1", "10.00")], due=DUE, creditor=without_bic, mandates=MANDATES,
                     created_at=CREATED, schema="pain.008.001.02")
    assert build_debits([item("K-2", "GB-1", "10.00")], due=DUE, creditor=without_bic, mandates=MANDATES,
                        created_at=CREATED).xml  # .08 goes without the creditor's BIC


def test_creditor_from_the_example_configuration_and_without_creditor_id():
    from pathlib import Path

    from erechnung.config.app import load_config

    config = load_config(Path(__file__).resolve().parents[2] / "examples" / "config.toml")
    creditor = Creditor.from_config(config)
    assert creditor.creditor_id == "DE98ZZZ09999999999"
    assert creditor.iban == config.municipality.default_account.iban
    assert Creditor.from_config(config, "steuern").iban == config.municipality.bank_accounts["steuern"].iban
    with pytest.raises(DebitError, match="no bank account 'kasse'"):
        Creditor.from_config(config, "kasse")
    bare = config.model_copy(update={"municipality": config.municipality.model_copy(update={"creditor_id": None})})
    with pytest.raises(DebitError, match="no creditor_id"):
        Creditor.from_config(bare)
