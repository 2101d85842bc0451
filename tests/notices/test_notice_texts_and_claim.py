"""Texts from configuration, and the structured payment claim built from a notice."""
from __future__ import annotations

from decimal import Decimal

import pytest
from lxml import etree

from erechnung.config.design import load_design
from erechnung.notices import NoticeDraft, NoticeError, NoticeKind, assess
from erechnung.notices.claim import claim_invoice, claim_xml
from erechnung.notices.config import config_file, load_config, parse_config
from erechnung.syntax.cii_names import RAM, RSM

CONFIG_TEXT = config_file().read_text(encoding="utf-8")


def test_appeal_instructions_come_from_configuration_per_notice_type(sample_drafts):
    config = load_config()
    property_tax = assess(sample_drafts["grundsteuerbescheid"], config).appeal_instructions
    dog_tax = assess(sample_drafts["hundesteuerbescheid"], config).appeal_instructions
    assert property_tax == config.appeal(NoticeKind.PROPERTY_TAX, sample_drafts["grundsteuerbescheid"].authority)
    assert "Grundsteuermessbetrag" in property_tax and "Finanzamt" in property_tax
    assert "Grundsteuermessbetrag" not in dog_tax and "Hundesteuer" in dog_tax
    # placeholders filled from the notice and from [court]
    assert "Verwaltungsgericht Musterstadt, Justizplatz 1, 12345 Musterstadt" in dog_tax
    assert "Stadt Musterstadt, Rathausplatz 1, 12345 Musterstadt" in dog_tax
    assert "{" not in dog_tax and "}" not in dog_tax
    # a changed configuration changes the notice, and only the kind it names
    edited = parse_config(CONFIG_TEXT.replace("Die Hundesteuer ist auch dann fristgerecht zu zahlen",
                                              "Zahlen Sie die Hundesteuer trotzdem pünktlich"))
    edited = edited.for_municipality(dict(load_design().values))  # the court is the configuration's (issue 11)
    assert "Zahlen Sie die Hundesteuer trotzdem pünktlich" in assess(sample_drafts["hundesteuerbescheid"],
                                                                     edited).appeal_instructions
    assert assess(sample_drafts["grundsteuerbescheid"], edited).appeal_instructions == property_tax


def test_unknown_placeholder_in_configuration_is_an_error_not_a_gap():
    start = CONFIG_TEXT.index("[kinds.hundesteuerbescheid]")
    broken = CONFIG_TEXT[:start] + CONFIG_TEXT[start:].replace("{court_address}", "{gerichtsadresse}", 1)
    with pytest.raises(NoticeError, match=r"hundesteuerbescheid\] appeal: unknown placeholder \{gerichtsadresse\}"):
        parse_config(broken)


def test_notice_kind_missing_from_configuration_is_named(sample_drafts):
    start = CONFIG_TEXT.index("[kinds.hundesteuerbescheid]")
    end = CONFIG_TEXT.index("[kinds.grundsteuerbescheid]")
    with pytest.raises(NoticeError, match=r"\[kinds.hundesteuerbescheid\]"):
        assess(sample_drafts["hundesteuerbescheid"], parse_config(CONFIG_TEXT[:start] + CONFIG_TEXT[end:]))


def test_automation_note_follows_the_procedural_law_of_the_kind(sample_drafts):
    dog = assess(sample_drafts["hundesteuerbescheid"])  # automated, KAG -> AO
    assert "§ 155 Abs. 4 AO" in dog.automation_note
    fee = sample_drafts["gebuehrenbescheid-sondernutzung"]
    assert assess(fee).automation_note is None  # not automated
    automated_fee = assess(NoticeDraft.model_validate({**fee.model_dump(mode="json"), "automated": True}))
    assert "§ 35a VwVfG" in automated_fee.automation_note


NS = {"rsm": RSM, "ram": RAM}


@pytest.mark.xdist_group("validator")
@pytest.mark.parametrize("name", ["gebuehrenbescheid-sondernutzung", "hundesteuerbescheid", "grundsteuerbescheid"])
def test_payment_claim_is_an_accepted_xrechnung_not_subject_to_vat(name, sample_drafts, validator):
    notice = assess(sample_drafts[name])
    xml = claim_xml(notice)
    result = validator.validate(xml, f"{name}.xml")
    assert result.verdict == "accept", [(m.code, m.text) for m in result.errors]
    tree = etree.fromstring(xml)
    assert set(tree.xpath("//ram:CategoryCode/text()", namespaces=NS)) == {"O"}
    assert tree.xpath("//ram:ApplicableTradeTax/ram:ExemptionReason/text()", namespaces=NS) == [
        "Nicht steuerbar: hoheitliche Tätigkeit (§ 2b UStG)"]
    assert not tree.xpath("//ram:SellerTradeParty/ram:SpecifiedTaxRegistration", namespaces=NS)  # BR-O-02
    assert tree.xpath("//ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID/text()",
                      namespaces=NS) == ["05999001"]  # BT-30, BR-CO-26
    assert tree.xpath("//ram:DuePayableAmount/text()", namespaces=NS) == [f"{notice.balance:.2f}"]
    assert tree.xpath("//ram:PaymentReference/text()", namespaces=NS) == [notice.payment.kassenzeichen]


def test_instalments_go_into_the_claim_as_first_due_date_and_payment_terms(sample_drafts):
    invoice = claim_invoice(assess(sample_drafts["grundsteuerbescheid"]))
    assert str(invoice.due_date) == "2026-02-15"
    assert invoice.payment_terms == ("Fällig in Teilbeträgen: 15.02.2026 152,81 EUR; 15.05.2026 152,79 EUR; "
                                     "15.08.2026 152,79 EUR; 15.11.2026 152,79 EUR")
    assert invoice.totals.payable_amount == Decimal("611.18")


@pytest.mark.xdist_group("validator")
def test_already_paid_is_the_claims_prepaid_amount(sample_drafts, validator):
    data = sample_drafts["hundesteuerbescheid"].model_dump(mode="json")
    data["already_paid"] = "100.00"
    notice = assess(NoticeDraft.model_validate(data))
    invoice = claim_invoice(notice)
    assert invoice.totals.prepaid_amount == Decimal("100.00") and invoice.totals.payable_amount == Decimal("128.00")
    assert validator.validate(claim_xml(notice), "prepaid.xml").verdict == "accept"


def test_no_claim_where_nothing_is_to_be_paid(sample_drafts):
    data = sample_drafts["hundesteuerbescheid"].model_dump(mode="json")
    data["already_paid"] = "228.00"
    assert claim_xml(assess(NoticeDraft.model_validate(data))) is None


def test_claim_without_the_addressees_electronic_address_says_what_to_do(sample_drafts):
    data = sample_drafts["hundesteuerbescheid"].model_dump(mode="json")
    data["addressee"]["electronic_address"] = None
    with pytest.raises(NoticeError, match="BT-49.*render without"):
        claim_xml(assess(NoticeDraft.model_validate(data)))
