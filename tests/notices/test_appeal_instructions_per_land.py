"""Issue 11: the Rechtsbehelfsbelehrung follows the Land of the issuing municipality. Whether a Widerspruch
precedes the action is Land law (§ 68 Abs. 1 Satz 2 VwGO); the package's table (appeal_law.toml) states it
for the Länder it knows, with its source, and a Land it does not know must be configured."""
from __future__ import annotations

import pytest

from erechnung.config.design import load_design
from erechnung.notices import NoticeError, assess
from erechnung.notices.config import appeal_law, config_file, parse_config

CONFIG_TEXT = config_file().read_text(encoding="utf-8")


def _config(text: str = CONFIG_TEXT):
    return parse_config(text).for_municipality(dict(load_design().values))


def _in_land(draft, ags: str):
    return draft.model_copy(update={"authority": draft.authority.model_copy(update={"municipality_key": ags})})


def test_a_bavarian_notice_offers_the_widerspruch_before_the_action(sample_drafts):
    appeal = assess(_in_land(sample_drafts["hundesteuerbescheid"], "09375999"), _config()).appeal_instructions
    assert appeal.startswith("Gegen diesen Bescheid kann innerhalb eines Monats nach seiner Bekanntgabe Widerspruch")
    assert "Statt des Widerspruchs können Sie unmittelbar Klage erheben" in appeal
    assert "Klage beim Verwaltungsgericht Musterstadt" in appeal


def test_a_notice_in_nrw_names_the_action_only(sample_drafts):
    appeal = assess(sample_drafts["hundesteuerbescheid"], _config()).appeal_instructions
    assert "Widerspruch" not in appeal and "Klage beim" in appeal


def test_a_land_the_package_does_not_know_must_be_configured(sample_drafts):
    hessian = _in_land(sample_drafts["hundesteuerbescheid"], "06411000")
    with pytest.raises(NoticeError, match=r"Land HE ist nicht hinterlegt.*\[widerspruch\] procedure"):
        assess(hessian, _config())
    configured = _config(CONFIG_TEXT.replace("[widerspruch]", '[widerspruch]\nprocedure = "required"', 1))
    appeal = assess(hessian, configured).appeal_instructions
    assert appeal.startswith("Gegen diesen Bescheid kann") and "Widerspruch" in appeal
    assert "Klage beim" not in appeal


def test_every_land_in_the_table_cites_its_source():
    table = appeal_law()
    lands = {k: v for k, v in table.items() if isinstance(v, dict)}
    assert lands and table["version"]
    for land, rule in lands.items():
        assert rule["procedure"] in ("none", "optional", "required") and rule["source"].strip(), land
