"""Issue 15: a notice whose addressee gave a SEPA mandate announces the collection (pre-notification: amounts and
dates, the debited account, mandate reference and creditor id) instead of asking for a transfer, and its
embedded claim says direct debit (payment means 59, BT-89..91)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from lxml import etree

from erechnung.notices import NoticeDraft, assess
from erechnung.notices.claim import claim_invoice, claim_xml
from erechnung.notices.render import render_notice

from .samples import draft

DEBIT = {"mandate_reference": "M-2026-000117", "creditor_id": "DE98ZZZ09999999999",
         "debited_iban": "DE89 3704 0044 0532 0130 00"}


def _with_mandate(name: str):
    data = draft(name).model_dump(mode="json")
    data["payment"]["direct_debit"] = DEBIT
    return assess(NoticeDraft.model_validate(data))


def _text(pdf: bytes, tmp_path: Path) -> str:
    source = tmp_path / "n.pdf"
    source.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", str(source), "-"], check=True, capture_output=True, text=True).stdout
    return " ".join(out.split())


def test_notice_with_mandate_carries_the_pre_notification(tmp_path):
    notice = _with_mandate("grundsteuerbescheid")
    text = _text(render_notice(notice), tmp_path)
    assert "Mandatsreferenz M-2026-000117" in text and "Gläubiger-ID DE98ZZZ09999999999" in text
    assert "DE89 3704 0044 0532 0130 00" in text
    for inst in notice.instalments:  # every amount with its date
        assert f"{inst.due_date:%d.%m.%Y}" in text
    assert "152,81 € am 15.02.2026" in text
    assert "GiroCode" not in text  # no transfer asked for


def test_notice_without_mandate_keeps_the_transfer_and_girocode(tmp_path):
    text = _text(render_notice(assess(draft("grundsteuerbescheid"))), tmp_path)
    assert "Mandatsreferenz" not in text and "GiroCode" in text


def test_claim_of_a_notice_with_mandate_is_a_direct_debit():
    invoice = claim_invoice(_with_mandate("hundesteuerbescheid"))
    [pay] = invoice.payment_instructions
    assert pay.means_code == "59" and not pay.credit_transfers
    assert (pay.direct_debit.mandate_reference, pay.direct_debit.creditor_id,
            pay.direct_debit.debited_account_id) == ("M-2026-000117", "DE98ZZZ09999999999", "DE89370400440532013000")


@pytest.mark.xdist_group("validator")
def test_direct_debit_claim_is_an_accepted_xrechnung(validator):
    xml = claim_xml(_with_mandate("hundesteuerbescheid"))
    result = validator.validate(xml, "hundesteuer-lastschrift.xml")
    assert result.verdict == "accept", [(m.code, m.text) for m in result.errors]
    ram = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
    assert etree.fromstring(xml).xpath("//ram:DirectDebitMandateID/text()", namespaces={"ram": ram}) == [
        "M-2026-000117"]
