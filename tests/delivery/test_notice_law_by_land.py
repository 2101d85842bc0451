"""Worked examples of the Land entries of legal.toml: a notice posted, provided, retrieved, on a Friday before a
holiday, across 2024/2025 and 2025/2026, in BY, NW, HE, NI, BW and SH. Each expected date is counted by hand
from the law (comments), with the paragraph and source that must produce it; open research is confirmed here
as the municipality of that Land would ([delivery.legal] confirmed)."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from erechnung.delivery.notification import LegalRules, compute_notification_date, retrieval_deadline
from erechnung.model.codes import LANDS

BERLIN = ZoneInfo("Europe/Berlin")
RULES = LegalRules.load()


def at(y, m, d, h=10):
    return datetime(y, m, d, h, tzinfo=BERLIN)


def confirmed(land, *bases):
    return RULES.confirming(land, [f"{land}:{b}" for b in bases])


# (land, basis, confirmations, events, expected date, paragraph in title, source fragment, why: counted by hand)
CASES = [
    # --- Nordrhein-Westfalen: § 41 Abs. 2 VwVfG NRW, 4th day from 2025-01-01 (GV. NRW. 2024 S. 1183)
    ("NW", "vwvfg_41_2", (), dict(notification_sent_at=at(2024, 12, 27)), date(2024, 12, 30),
     "VwVfG NRW", "kommunen.nrw", "posted Fri 27 Dec 2024: old law, day 3 = Mon 30 Dec"),
    ("NW", "vwvfg_41_2", (), dict(notification_sent_at=at(2024, 12, 30)), date(2025, 1, 2),
     "VwVfG NRW", "kommunen.nrw", "posted Mon 30 Dec 2024: the posting day decides, 3 days = Thu 2 Jan 2025"),
    ("NW", "vwvfg_41_2", (), dict(notification_sent_at=at(2025, 1, 2)), date(2025, 1, 6),
     "VwVfG NRW", "kommunen.nrw", "posted Thu 2 Jan 2025: 4 days = Mon 6 Jan"),
    ("NW", "vwvfg_41_2", (), dict(notification_sent_at=at(2024, 5, 17)), date(2024, 5, 20),
     "VwVfG NRW", "kommunen.nrw", "posted Fri 17 May 2024: day 3 is Whit Monday; a point in time, no shift"),
    ("NW", "ao_122_2", ("ao_122_2",), dict(notification_sent_at=at(2024, 5, 17)), date(2024, 5, 21),
     "§ 12 KAG NRW", "kommunen.nrw", "levy by post, Fri 17 May 2024: day 3 Whit Monday -> Tue (§ 108 Abs. 3 AO)"),
    ("NW", "vwvfg_41_2", (), dict(notification_sent_at=at(2024, 5, 27)), date(2024, 5, 30),
     "VwVfG NRW", "kommunen.nrw", "posted Mon 27 May 2024: day 3 Fronleichnam (Thu 30 May), no shift"),
    ("NW", "ao_122_2", ("ao_122_2",), dict(notification_sent_at=at(2024, 5, 27)), date(2024, 5, 31),
     "§ 12 KAG NRW", "kommunen.nrw", "levy posted Mon 27 May 2024: day 3 Fronleichnam (Thu 30 May) -> Fri"),
    ("NW", "ao_122a", ("ao_122a",), dict(provision_at=at(2025, 12, 31), notification_sent_at=at(2025, 12, 31)),
     date(2026, 1, 5), "§ 122a AO", "kommunen.nrw",
     "provided and notified Wed 31 Dec 2025: old § 122a, 4 days after the notification = Sun 4 Jan -> Mon 5 Jan"),
    ("NW", "ao_122a", ("ao_122a",), dict(provision_at=at(2026, 1, 2), notification_sent_at=at(2026, 1, 5)),
     date(2026, 1, 6), "§ 122a AO", "kommunen.nrw",
     "provided Fri 2 Jan 2026, notified Mon 5 Jan: new § 122a counts from provision, 4 days = Tue 6 Jan "
     "(Epiphany is no holiday in NRW)"),
    ("NW", "ao_122a", ("ao_122a",), dict(provision_at=at(2025, 12, 30), notification_sent_at=at(2026, 1, 2)),
     date(2026, 1, 6), "§ 122a AO", "kommunen.nrw",
     "provided Tue 30 Dec 2025 (old law), notified Fri 2 Jan 2026: 4 days after the notification = Tue 6 Jan"),
    ("NW", "ozg_9", (), dict(provision_at=at(2026, 1, 1), retrieved_at=at(2026, 1, 2)), date(2026, 1, 4),
     "§ 9 Abs. 1 OZG", "buzer.de/9_Onlinezugangsgesetz",
     "provided Thu 1 Jan 2026: day 3 Sun 4 Jan, no shift; the retrieval on 2 Jan does not advance it"),
    # --- Bayern: Art. 41 Abs. 2 BayVwVfG, Art. 24 BayDiG, Art. 13 KAG; Heilige Drei Könige (6 Jan) is a holiday
    ("BY", "vwvfg_41_2", (), dict(notification_sent_at=at(2026, 1, 2)), date(2026, 1, 6),
     "Art. 41 Abs. 2 BayVwVfG", "gvbl/2024-599", "posted Fri 2 Jan 2026: day 4 Tue 6 Jan (Epiphany), no shift"),
    ("BY", "ao_122_2", ("ao_122_2",), dict(notification_sent_at=at(2026, 1, 2)), date(2026, 1, 7),
     "Art. 13 Abs. 1 KAG", "anwalt24.de/gesetze/kag/13", "levy posted Fri 2 Jan 2026: Tue 6 Jan Epiphany -> Wed"),
    ("BY", "ao_122a", ("ao_122a",), dict(provision_at=at(2026, 1, 2), notification_sent_at=at(2026, 1, 2)),
     date(2026, 1, 7), "§ 122a AO", "anwalt24.de/gesetze/kag/13",
     "provided Fri 2 Jan 2026: 4 days from provision = Tue 6 Jan (Epiphany) -> Wed 7 Jan"),
    ("BY", "ozg_9", ("ozg_9",), dict(notification_sent_at=at(2026, 1, 3), provision_at=at(2026, 1, 3)),
     date(2026, 1, 6), "Art. 24 BayDiG", "gesetze.legal/bayern/baydig/24",
     "postbox notification sent Sat 3 Jan 2026: Art. 24 BayDiG, day 3 after the notification = Tue 6 Jan, no shift"),
    ("BY", "vwvfg_41_2", (), dict(notification_sent_at=at(2024, 12, 31)), date(2025, 1, 3),
     "Art. 41 Abs. 2 BayVwVfG", "gvbl/2024-599", "posted Tue 31 Dec 2024: old law, day 3 = Fri 3 Jan 2025"),
    # --- Hessen: § 41 HVwVfG after 2024 not found (confirmed here); Fronleichnam is a holiday
    ("HE", "vwvfg_41_2", ("vwvfg_41_2",), dict(notification_sent_at=at(2024, 5, 27)), date(2024, 5, 30),
     "§ 41 Abs. 2 HVwVfG", "wolterskluwer", "posted Mon 27 May 2024: day 3 Fronleichnam, no shift"),
    ("HE", "ao_122_2", ("ao_122_2",), dict(notification_sent_at=at(2024, 5, 27)), date(2024, 5, 31),
     "§ 4 KAG HE", "lexaris", "levy posted Mon 27 May 2024: day 3 Fronleichnam -> Fri 31 May"),
    ("HE", "ozg_9", (), dict(provision_at=at(2025, 6, 16)), date(2025, 6, 19),
     "§ 9 Abs. 1 OZG", "buzer.de/9_Onlinezugangsgesetz", "provided Mon 16 Jun 2025: day 3 Fronleichnam, no shift"),
    # --- Niedersachsen: § 1 NVwVfG -> VwVfG as it stands; Reformationstag (31 Oct) is a holiday
    ("NI", "vwvfg_41_2", (), dict(notification_sent_at=at(2025, 10, 27)), date(2025, 10, 31),
     "§ 1 NVwVfG", "schure.de", "posted Mon 27 Oct 2025: day 4 Reformationstag, no shift"),
    ("NI", "ao_122_2", ("ao_122_2",), dict(notification_sent_at=at(2025, 10, 27)), date(2025, 11, 3),
     "§ 11 Abs. 1 NKAG", "nwb.de", "levy posted Mon 27 Oct 2025: Fri 31 Oct holiday, Sat, Sun -> Mon 3 Nov"),
    ("NI", "ao_122_2", ("ao_122_2",), dict(notification_sent_at=at(2025, 10, 29)), date(2025, 11, 3),
     "§ 11 Abs. 1 NKAG", "nwb.de", "levy posted Wed 29 Oct 2025: day 4 Sun 2 Nov -> Mon 3 Nov"),
    ("NI", "vwvfg_41_2", (), dict(notification_sent_at=at(2025, 10, 29)), date(2025, 11, 2),
     "§ 1 NVwVfG", "schure.de", "posted Wed 29 Oct 2025: day 4 is a Sunday and stays"),
    ("NI", "vwvfg_41_2a", (), dict(notification_sent_at=at(2025, 10, 30), retrieved_at=at(2025, 10, 30, 15)),
     date(2025, 10, 31), "§ 41 Abs. 2a VwVfG", "schure.de", "retrieved Thu 30 Oct 2025: the day after, a holiday"),
    # --- Baden-Württemberg: § 41 LVwVfG (3rd day in the 2021 text; 2025 amendment open), Epiphany a holiday
    ("BW", "vwvfg_41_2", (), dict(notification_sent_at=at(2024, 12, 27)), date(2024, 12, 30),
     "§ 41 Abs. 2 LVwVfG BW", "landesrecht-bw.de", "posted Fri 27 Dec 2024: 3rd day, needs no confirmation"),
    ("BW", "vwvfg_41_2", ("vwvfg_41_2",), dict(notification_sent_at=at(2025, 1, 2)), date(2025, 1, 6),
     "§ 41 Abs. 2 LVwVfG BW", "landesrecht-bw.de", "posted Thu 2 Jan 2025 (confirmed 4th day): Mon 6 Jan, Epiphany"),
    ("BW", "ao_122_2", ("ao_122_2",), dict(notification_sent_at=at(2026, 1, 2)), date(2026, 1, 7),
     "§ 3 Abs. 1 KAG BW", "landesrecht-bw.de", "levy posted Fri 2 Jan 2026: Tue 6 Jan Epiphany -> Wed 7 Jan"),
    ("BW", "vwvfg_41_2a", (), dict(notification_sent_at=at(2026, 1, 5), retrieved_at=at(2026, 1, 5, 15)),
     date(2026, 1, 6), "§ 41 Abs. 2a LVwVfG BW", "landesrecht-bw.de",
     "retrieved Mon 5 Jan 2026: the day after, Epiphany, no shift"),
    # --- Schleswig-Holstein: § 110 LVwG; levies follow the LVwG (§ 11 KAG), not the AO: no shift
    ("SH", "vwvfg_41_2", ("vwvfg_41_2",), dict(notification_sent_at=at(2025, 10, 27)), date(2025, 10, 31),
     "§ 110 Abs. 2 LVwG", "gesetze.co", "posted Mon 27 Oct 2025: day 4 Reformationstag, no shift"),
    ("SH", "ao_122_2", ("ao_122_2",), dict(notification_sent_at=at(2025, 10, 27)), date(2025, 10, 31),
     "§ 110 Abs. 2 LVwG", "lexaris", "levy posted Mon 27 Oct 2025: LVwG, not § 122 AO: no shift"),
    ("SH", "vwvfg_41_2a", (), dict(notification_sent_at=at(2025, 10, 30), retrieved_at=at(2025, 10, 30, 12)),
     date(2025, 10, 31), "§ 110 Abs. 2a LVwG", "anwalt24", "retrieved Thu 30 Oct 2025: the day after"),
    ("SH", "vwvfg_41_2", ("vwvfg_41_2",), dict(notification_sent_at=at(2024, 12, 30)), date(2025, 1, 2),
     "§ 110 Abs. 2 LVwG", "gesetze.co", "posted Mon 30 Dec 2024: older text, 3rd day = Thu 2 Jan 2025"),
]


@pytest.mark.parametrize("land, basis, confirm, events, expected, paragraph, source, why", CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[4]}" for c in CASES])
def test_worked_example_gives_the_date_and_the_land_paragraph_that_produced_it(land, basis, confirm, events,
                                                                                expected, paragraph, source, why):
    result = compute_notification_date(confirmed(land, *confirm), basis, land, **events)
    assert result.date == expected, f"{why}: {result.explanation}"
    assert paragraph in result.title and source in result.citation, (result.title, result.citation)
    assert result.rule_source == f"Land {land}" and result.basis_text
    inputs = result.inputs()
    assert inputs["title"] == result.title and inputs["citation"] == result.citation
    assert inputs["confirmed_by_configuration"] == (f"{land}:{basis}" if confirm and not _confirmed_in_file(
        land, basis, result.days_in_force_since) else None)


def _confirmed_in_file(land, basis, since):
    rule = RULES.rule(basis, land)
    return rule.version_on(since or date(2000, 1, 1)).confirmed


def test_sh_levy_and_ni_levy_differ_by_family_on_the_same_holiday():
    # Reformationstag, Fri 31 Oct 2025, is a holiday in both; the AO family (NI, § 11 NKAG) moves past it and
    # the weekend, the LVwG (SH, § 11 KAG: Land law) keeps the point in time
    sent = dict(notification_sent_at=at(2025, 10, 27))
    ni = compute_notification_date(confirmed("NI", "ao_122_2"), "ao_122_2", "NI", **sent)
    sh = compute_notification_date(confirmed("SH", "ao_122_2"), "ao_122_2", "SH", **sent)
    assert (ni.date, ni.shift_to_working_day) == (date(2025, 11, 3), True)
    assert (sh.date, sh.shift_to_working_day) == (date(2025, 10, 31), False)
    assert "2025-10-31 Reformationstag" in ni.shifted_for[0]


def test_ao_122a_period_changes_the_start_event_on_2026_01_01():
    rule = RULES.rule("ao_122a", "RP")  # § 3 KAG RP lists §§ 78-133 AO: confirmed in the file
    assert [(v.since, v.start, v.days) for v in rule.versions] == [
        (date(2017, 1, 1), "notification_sent", 3), (date(2025, 1, 1), "notification_sent", 4),
        (date(2026, 1, 1), "provision", 4)]
    # sent (notified) in 2026 but not yet provided: no date yet under the provision-based period
    assert compute_notification_date(RULES, "ao_122a", "RP", notification_sent_at=at(2026, 3, 2)) is None
    later = compute_notification_date(RULES, "ao_122a", "RP", notification_sent_at=at(2026, 3, 2),
                                      provision_at=at(2026, 3, 3))
    assert later.start_event == "provision" and later.date == date(2026, 3, 9)  # Sat 7 Mar -> Mon 9 Mar
    assert later.days_in_force_since == date(2026, 1, 1) and later.period_chosen_by == "notification_sent"


def test_retrieval_deadline_ten_days_after_the_notification_in_bw():
    deadline = retrieval_deadline(RULES, "vwvfg_41_2a", "BW", at(2026, 1, 5))
    assert deadline == datetime(2026, 1, 16, 0, 0, tzinfo=BERLIN)  # the 10th day, Thu 15 Jan, ends at midnight


def test_every_land_has_an_entry_for_every_rule_a_notice_can_travel_under():
    used = {b for group in RULES.raw["notice_bases"].values() for b in group.values()} | {"vwvfg_41_2a"}
    for basis in used:
        for land in LANDS:
            rule = RULES.rule(basis, land)
            assert rule.source == f"Land {land}", (basis, land)
            assert all(v.title and v.basis_text and v.citation for v in rule.versions), (basis, land)
            assert all(v.confirmed or v.open_point for v in rule.versions), (basis, land)


def test_no_rule_lets_an_earlier_retrieval_advance_the_fiction():
    # § 9 Abs. 1 S. 7 OZG and § 41 Abs. 2b HmbVwVfG keep the first retrieval decisive only against a renewed
    # Bekanntgabe; Art. 24 BayDiG counts from the notification
    for land in LANDS:
        assert not any(v.earlier_retrieval_wins for v in RULES.rule("ozg_9", land).versions), land
