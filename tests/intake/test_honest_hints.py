"""Hints must be right (issue 11): a 4-digit post code is called what it is, and "0 + digits" is suggested only
where that gives an assigned German postal region; dates in messages are dates, not Excel serial numbers."""
from __future__ import annotations

import pytest

from erechnung.errors import RecordError
from erechnung.model import identifiers as ids


def _post_code_error(text: str) -> RecordError:
    with pytest.raises(RecordError) as err:
        ids.parse_post_code(text)
    return err.value


def test_a_bavarian_typo_is_not_called_a_missing_leading_zero():
    err = _post_code_error("9199")
    assert "4 Ziffern" in err.problem and "führende 0 fehlt" not in err.problem
    assert "fehlende Ziffer" in err.fix and "Chemnitz" in err.fix  # 09199 is possible, but only there


@pytest.mark.parametrize("text", ["5123", "0123"])
def test_no_leading_zero_is_suggested_where_no_postal_region_begins_so(text):
    err = _post_code_error(text)
    assert "4 Ziffern" in err.problem and f"0{text}" not in err.fix and "fehlende Ziffer" in err.fix


def test_a_leading_zero_is_suggested_where_excel_drops_it():
    err = _post_code_error("1067")
    assert "01067" in err.fix and "Dresden" in err.fix


def _standesamt(config, profiles, register, sample, old: str, new: str, profile=None):
    from datetime import date

    from erechnung.intake import map_batch, read_batch

    data, name = sample("standesamt")
    text = data.decode("windows-1252")
    assert old in text
    dep = config.department("standesamt")
    batch = read_batch(text.replace(old, new, 1).encode("windows-1252"), name, format=dep.format,
                       encoding=dep.encoding, delimiter=dep.delimiter)
    return map_batch(batch, dep, config, profile or profiles["standesamt"], register, today=date(2026, 11, 6))


def test_an_excel_serial_where_a_date_belongs_is_shown_with_its_date(config, profiles, register, sample):
    result = _standesamt(config, profiles, register, sample, "STA-2026-0101;02.11.2026", "STA-2026-0101;46327")
    (error,) = [e for e in result.errors if e.row == 2]
    assert error.value == "46327 (= 01.11.2026)" and "Excel-Tageszahl" in error.problem


def test_rows_that_differ_in_a_date_name_the_date_not_the_serial(config, profiles, register, sample):
    profile = profiles["standesamt"]
    profile = profile.model_copy(update={"formats": profile.formats.model_copy(
        update={"dates": ("DD.MM.YYYY", "EXCEL")})})
    result = _standesamt(config, profiles, register, sample, "STA-2026-0101;02.11.2026", "STA-2026-0101;46327",
                         profile=profile)
    (error,) = [e for e in result.errors if e.row == 3]
    assert "weicht ab von Zeile 2 ('46327 (= 01.11.2026)')" in error.problem
