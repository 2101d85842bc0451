"""Issue 11: a notice cites the procedural law of its municipality's Land. The package's default wording names no
Land: § 35a VwVfG and § 37 Abs. 5 VwVfG have their own provision in each Land (Bavaria: Art. 35a, Art. 37 Abs. 5
BayVwVfG), and the AO applies to municipal levies through each Land's KAG (NRW § 12, Bavaria Art. 13). The
provisions are data in appeal_law.toml; a Land it does not state is refused, never given another Land's law."""
from __future__ import annotations

import pytest

from erechnung.config.design import DEFAULT_DIR
from erechnung.notices import NoticeError, assess
from erechnung.notices.config import parse_config

DEFAULT = DEFAULT_DIR / "notices.toml"
COURT = {"court": "Verwaltungsgericht Irgendwo", "court_address": "Gerichtsplatz 1, 99999 Irgendwo"}


def _default():
    return parse_config(DEFAULT.read_text(encoding="utf-8")).for_municipality(COURT)


def _in_land(draft, ags: str):
    return draft.model_copy(update={"authority": draft.authority.model_copy(update={"municipality_key": ags})})


def test_the_package_default_wording_cites_no_land_s_law():
    text = DEFAULT.read_text(encoding="utf-8")
    assert "NRW" not in text and "BayVwVfG" not in text and "{land_kag_ao}" in text


@pytest.mark.parametrize("ags, vwvfg, kag", [("05315000", "§ 35a VwVfG NRW", "§ 12 KAG NRW"),
                                             ("09375999", "Art. 35a BayVwVfG", "Art. 13 KAG")])
def test_the_automation_note_cites_the_land_s_own_provisions(sample_drafts, ags, vwvfg, kag):
    config = _default()
    dog = _in_land(sample_drafts["hundesteuerbescheid"], ags)
    assert kag in assess(dog, config).automation_note
    fee_kind = next(k for k, t in config.kinds.items() if t.procedure == "vwvfg")
    note = config.automation_note(fee_kind, dog.authority)
    assert vwvfg in note and ("NRW" in note) == ags.startswith("05")


def test_a_land_whose_provisions_are_not_stated_is_refused_not_given_another_s(sample_drafts):
    config = _default()
    hessian = _in_land(sample_drafts["hundesteuerbescheid"], "06411000")
    kind = next(iter(config.kinds))
    with pytest.raises(NoticeError, match=r"Land HE sind die Vorschriften nicht hinterlegt"):
        config.automation_note(kind, hessian.authority)
