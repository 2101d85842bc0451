"""Matching bank entries against open items (issue 15): each rule, in its order, with the tolerant forms."""
from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from erechnung.config import parse_config
from erechnung.config.payments import MatchRules
from erechnung.config.problems import ConfigError
from erechnung.model.receivables import Allocation, BankEntry, Direction, MatchKind, OpenItem
from erechnung.payments.matching import MatchInputError, end_to_end_id, match, normalize

OURS = "DE02120300000000202051"
PAYER = "DE89370400440532013000"
RULES = MatchRules()


def item(item_id: int, kassenzeichen: str, amount: str, *, due: date = date(2026, 2, 15), number: str | None = None,
         paid: str = "0", iban: str | None = None, instalment: int = 0) -> OpenItem:
    return OpenItem(item_id=item_id, document_id=100 + item_id, number=number or f"RE-2026-{item_id:05d}",
                    kassenzeichen=kassenzeichen, department="kasse", debtor_ref=f"K-{item_id}",
                    debtor_name="Erika Mustermann", debtor_iban=iban, instalment=instalment, amount=D(amount),
                    paid=D(paid), due_date=due, account_iban=OURS)


def credit(key: str, amount: str, *lines: str, refs: tuple[str, ...] = (), e2e: str | None = None,
           iban: str | None = None) -> BankEntry:
    return BankEntry(entry_key=key, account_iban=OURS, booking_date=date(2026, 3, 2), amount=D(amount),
                     direction=Direction.CREDIT, remittance=lines, structured_refs=refs, end_to_end_id=e2e,
                     counterparty_name="Erika Mustermann", counterparty_iban=iban)


def one(entry: BankEntry, items: list[OpenItem], rules: MatchRules = RULES):
    [m] = match([entry], items, rules=rules)
    return m


# ---------------------------------------------------------------------------------------------- references


@pytest.mark.parametrize("text", [
    "KZ 1234-5678-9",            # the brief's example: hyphens and spaces
    "Kassenzeichen: 123 456 789",
    "Kassenzeichen123456789 Hundesteuer",
    "kz.1234.5678.9/2026",
])
def test_the_kassenzeichen_is_found_whatever_separates_its_digits(text):
    m = one(credit("e", "50.00", text), [item(1, "123456789", "50.00"), item(2, "987654321", "50.00")])
    assert m.kind is MatchKind.REFERENCE
    assert m.allocations == (Allocation(item_id=1, amount=D("50.00")),)
    assert m.unallocated == 0 and "bezahlt" in m.reason


def test_a_kassenzeichen_broken_across_remittance_lines_is_found():
    m = one(credit("e", "72.00", "Abfallgebuehren 2026 KZ 5.0300.1000", "01.4 Am Beispielweg 3a"),
            [item(1, "5.0300.100001.4", "72.00")])
    assert m.kind is MatchKind.REFERENCE and m.allocations[0].item_id == 1


def test_the_document_number_is_found_too():
    m = one(credit("e", "36.00", "Rechnung STA 2026 0101 Geburtsurkunde"),
            [item(1, "5.0410.000031.2", "36.00", number="STA-2026-0101")])
    assert m.kind is MatchKind.REFERENCE and m.allocations[0].item_id == 1
    assert "Belegnummer STA-2026-0101" in m.reason


def test_a_reference_inside_a_longer_number_is_not_found():
    """The payer's IBAN holds the digits, but not at a token boundary."""
    m = one(credit("e", "10.00", "Ueberweisung von DE99123456789000"), [item(1, "123456789", "99.00")])
    assert m.kind is MatchKind.NONE


def test_a_missing_check_digit_is_tolerated():
    m = one(credit("e", "72.00", "KZ 5.0300.100001 Abfall"), [item(1, "5.0300.100001.4", "72.00")])
    assert m.kind is MatchKind.REFERENCE and m.allocations[0].item_id == 1
    assert "Kassenzeichen 5.0300.100001.4" in m.reason


def test_a_wrong_check_digit_is_a_typo_not_a_match():
    m = one(credit("e", "72.00", "KZ 5.0300.100001.7"), [item(1, "5.0300.100001.4", "72.00")])
    assert m.kind is MatchKind.NONE


def test_the_missing_check_digit_tolerance_can_be_switched_off():
    m = one(credit("e", "72.00", "KZ 5.0300.100001"), [item(1, "5.0300.100001.4", "72.00")],
            MatchRules(missing_check_digit=False))
    assert m.kind is MatchKind.NONE


def test_a_short_form_that_fits_two_kassenzeichen_is_only_a_suggestion():
    items = [item(1, "5.0300.100001.4", "72.00"), item(2, "5.0300.100001.7", "72.00")]
    m = one(credit("e", "72.00", "KZ 5.0300.100001"), items)
    assert m.kind is MatchKind.SUGGESTION and m.allocations == ()
    assert set(m.suggested) == {1, 2} and m.unallocated == D("72.00")


def test_structured_references_and_rf_creditor_references_are_read():
    items = [item(1, "123456789", "20.00"), item(2, "223456789", "20.00")]
    assert one(credit("a", "20.00", refs=("1234-5678-9",)), items).allocations[0].item_id == 1
    assert one(credit("b", "20.00", refs=("RF18223456789",)), items).allocations[0].item_id == 2


def test_configured_patterns_find_what_the_scan_is_told_not_to_look_for():
    rules = MatchRules(patterns=(r"AZ(?P<ref>[0-9 ]{9,12})",), scan_text=False)
    items = [item(1, "123456789", "20.00")]
    assert one(credit("a", "20.00", "Zahlung AZ123 456", "789"), items, rules).kind is MatchKind.REFERENCE
    assert one(credit("b", "20.00", "Zahlung KZ 123456789"), items, rules).kind is MatchKind.NONE


def test_patterns_without_a_ref_group_are_a_configuration_mistake():
    with pytest.raises(ValueError, match="Gruppe namens ref"):
        MatchRules(patterns=(r"KZ(\d+)",))
    with pytest.raises(ValueError, match="kein gültiger regulärer Ausdruck"):
        MatchRules(patterns=(r"KZ(?P<ref>\d+",))


def test_the_payments_section_is_read_from_the_configuration():
    import re
    from pathlib import Path
    text = Path("examples/config.toml").read_text(encoding="utf-8")
    text = re.sub(r"(?ms)^\[payments\].*?(?=^\[|\Z)", "", text)  # the example's own [payments], if any
    config = parse_config(text + '\n[payments]\npatterns = ["KZ(?P<ref>[0-9.]+)"]\nreturn_fee = "fixed"\n'
                          'return_fee_amount = "3.00"\n', "config.toml")
    assert config.payments.compiled[0].pattern == "KZ(?P<ref>[0-9.]+)"
    assert config.payments.fee(D("8.00")) == D("3.00")
    with pytest.raises(ConfigError, match="payments"):
        parse_config(text + '\n[payments]\nreturn_fee = "fixed"\n', "config.toml")


# ---------------------------------------------------------------------------------------------- amounts


def test_partial_payment_leaves_the_rest_open():
    m = one(credit("e", "30.00", "KZ 123456789"), [item(1, "123456789", "100.00")])
    assert m.allocations == (Allocation(item_id=1, amount=D("30.00")),) and m.unallocated == 0
    assert m.reason.startswith("Teilzahlung") and "70,00 EUR offen" in m.reason


def test_overpayment_keeps_the_rest_unallocated_and_says_so():
    m = one(credit("e", "130.00", "KZ 123456789"), [item(1, "123456789", "100.00", paid="20.00")])
    assert m.allocations == (Allocation(item_id=1, amount=D("80.00")),)
    assert m.unallocated == D("50.00") and m.reason.startswith("Überzahlung") and "50,00 EUR" in m.reason


def test_one_payment_for_several_items_pays_the_oldest_first():
    items = [item(1, "111111111", "40.00", due=date(2026, 5, 15)), item(2, "222222222", "25.00",
             due=date(2026, 2, 15)), item(3, "333333333", "90.00", due=date(2026, 8, 15))]
    m = one(credit("e", "100.00", "KZ 333333333, 111111111 und 222222222"), items)
    assert m.kind is MatchKind.REFERENCE
    assert m.allocations == (Allocation(item_id=2, amount=D("25.00")), Allocation(item_id=1, amount=D("40.00")),
                             Allocation(item_id=3, amount=D("35.00")))
    assert m.unallocated == 0 and "55,00 EUR offen" in m.reason


def test_instalments_under_one_kassenzeichen_are_paid_in_due_order():
    items = [item(i, "5.0100.330104.5", "125.00", due=date(2026, month, 15), instalment=n)
             for i, (n, month) in enumerate([(3, 8), (1, 2), (2, 5), (4, 11)], start=1)]
    m = one(credit("e", "250.00", "Grundsteuer KZ 5.0100.330104.5"), items)
    assert [a.item_id for a in m.allocations] == [2, 3]


def test_several_payments_on_one_item_see_the_running_open_amount():
    entries = [credit("a", "40.00", "KZ 123456789"), credit("b", "40.00", "KZ 123456789"),
               credit("c", "40.00", "KZ 123456789")]
    items = [item(1, "123456789", "100.00")]
    a, b, c = match(entries, items, rules=RULES)
    assert [x.allocations[0].amount for x in (a, b, c)] == [D("40.00"), D("40.00"), D("20.00")]
    assert c.unallocated == D("20.00") and c.reason.startswith("Überzahlung")
    assert items[0].paid == 0  # pure: the items are not changed
    [d] = match([credit("d", "10.00", "KZ 123456789")], [item(1, "123456789", "100.00", paid="100.00")], rules=RULES)
    assert d.kind is MatchKind.REFERENCE and d.allocations == () and d.unallocated == D("10.00")
    assert "bereits bezahlt" in d.reason


# ---------------------------------------------------------------------------------------------- direct debits


def test_our_end_to_end_id_wins_over_the_text():
    items = [item(7, "5.0300.100001.4", "72.00"), item(8, "999999999", "72.00")]
    e2e = end_to_end_id(items[0])
    assert e2e == "ERE-7-503001000014" and len(e2e) <= 35
    m = one(credit("e", "72.00", "KZ 999999999", e2e=e2e), items)
    assert m.kind is MatchKind.END_TO_END and m.allocations == (Allocation(item_id=7, amount=D("72.00")),)


def test_the_end_to_end_id_fits_sepa_and_needs_a_stored_item():
    long = item(123456, "ABC-" + "9" * 40, "1.00")
    assert len(end_to_end_id(long)) == 35 and end_to_end_id(long).startswith("ERE-123456-ABC")
    with pytest.raises(MatchInputError, match="no item id"):
        end_to_end_id(item(0, "123456789", "1.00"))


def _returned(amount: str, *, e2e: str | None = None, lines: tuple[str, ...] = (), charges: str | None = None,
              code: str = "AM04") -> BankEntry:
    return BankEntry(entry_key="r", account_iban=OURS, booking_date=date(2026, 3, 9), amount=D(amount),
                     direction=Direction.DEBIT, reversal=True, return_reason=code, end_to_end_id=e2e,
                     remittance=lines, charges=D(charges) if charges else None)


def test_a_returned_direct_debit_reopens_the_item_and_carries_the_fee():
    paid = item(7, "5.0300.100001.4", "72.00", paid="72.00")
    m = one(_returned("75.50", e2e=end_to_end_id(paid), charges="3.50"), [paid])
    assert m.kind is MatchKind.REVERSAL
    assert m.allocations == (Allocation(item_id=7, amount=D("-72.00")),)
    assert m.fee == D("3.50") and m.unallocated == 0
    assert "AM04: Konto nicht gedeckt" in m.reason and "3,50 EUR" in m.reason


def test_the_return_fee_follows_the_configuration():
    paid = item(7, "5.0300.100001.4", "72.00", paid="72.00")
    entry = _returned("75.50", e2e=end_to_end_id(paid), charges="3.50")
    assert one(entry, [paid], MatchRules(return_fee="none")).fee == 0
    assert one(entry, [paid], MatchRules(return_fee="fixed", return_fee_amount=D("5.00"))).fee == D("5.00")


def test_a_return_found_by_reference_within_the_same_run():
    """The collection is credited, then returned in the same statement: the running amounts reopen the item."""
    open_ = item(7, "123456789", "72.00")
    entries = [credit("c", "72.00", e2e=end_to_end_id(open_)), _returned("72.00", lines=("KZ 123456789",),
                                                                          code="MD06")]
    c, r = match(entries, [open_], rules=RULES)
    assert c.kind is MatchKind.END_TO_END
    assert r.kind is MatchKind.REVERSAL and r.allocations == (Allocation(item_id=7, amount=D("-72.00")),)
    assert "Rückgabe auf Verlangen des Zahlers" in r.reason


def test_a_return_without_its_item_goes_to_clarification():
    m = one(_returned("20.00", e2e="NOTPROVIDED"), [item(1, "123456789", "20.00")])
    assert m.kind is MatchKind.NONE and m.unallocated == D("20.00") and "Rücklastschrift" in m.reason


# ---------------------------------------------------------------------------------------------- suggestion, none


def test_amount_and_payer_iban_give_a_suggestion_that_is_never_booked():
    items = [item(1, "123456789", "48.00", iban="DE89 3704 0044 0532 0130 00"), item(2, "223456789", "48.00")]
    m = one(credit("e", "48.00", "Danke", iban=PAYER), items)
    assert m.kind is MatchKind.SUGGESTION and m.suggested == (1,)
    assert m.allocations == () and m.unallocated == D("48.00") and "Vorschlag" in m.reason
    # a second entry still sees the item open: the suggestion booked nothing
    a, b = match([credit("a", "48.00", iban=PAYER), credit("b", "48.00", iban=PAYER)], items, rules=RULES)
    assert a.suggested == b.suggested == (1,)


def test_another_amount_from_the_same_iban_is_no_suggestion():
    m = one(credit("e", "47.99", iban=PAYER), [item(1, "123456789", "48.00", iban=PAYER)])
    assert m.kind is MatchKind.NONE


def test_unknown_payments_and_other_debits_are_none_with_a_german_reason():
    items = [item(1, "123456789", "48.00")]
    m = one(credit("e", "12.00", "Spende Tierheim"), items)
    assert m.kind is MatchKind.NONE and m.unallocated == D("12.00") and m.reason.startswith("kein Kassenzeichen")
    fee = BankEntry(entry_key="f", account_iban=OURS, booking_date=date(2026, 3, 2), amount=D("5.00"),
                    direction=Direction.DEBIT, remittance=("Kontofuehrung KZ 123456789",))
    assert one(fee, items).kind is MatchKind.NONE
    usd = credit("u", "48.00", "KZ 123456789").model_copy(update={"currency": "USD"})
    assert one(usd, items).kind is MatchKind.NONE and "USD" in one(usd, items).reason


def test_items_must_be_stored_and_distinct():
    with pytest.raises(MatchInputError, match="occurs twice"):
        match([], [item(1, "123456789", "1.00"), item(1, "223456789", "1.00")], rules=RULES)


def test_normalize():
    assert normalize("5.0300.100001.4") == "503001000014"
    assert normalize(" sta-2026/0101 ") == "STA20260101"
