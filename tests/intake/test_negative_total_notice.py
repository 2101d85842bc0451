"""A notice fixes an amount owed: a negative total (a row with quantity -1) is quarantined with its reason and
never becomes a notice "Festgesetzter Betrag -38,50 EUR ... wird Ihnen erstattet" (issue 11)."""
from __future__ import annotations

from datetime import date

import pytest

from erechnung.intake import map_batch, read_batch
from erechnung.intake.mapping import KindRule

TODAY = date(2026, 11, 6)


def _waste(config, profiles, register, sample, negative_total):
    data, name = sample("abfallwirtschaft")
    text = data.decode("utf-8").replace("Restabfallbehälter 240 l, 14-tägliche Leerung\",1,",
                                        "Restabfallbehälter 240 l, 14-tägliche Leerung\",-1,")
    assert text != data.decode("utf-8")
    dep = config.department("abfallwirtschaft")
    profile = profiles["abfallwirtschaft"]
    profile = profile.model_copy(update={"kind": KindRule(default="notice", negative_total=negative_total)})
    batch = read_batch(text.encode("utf-8"), name, format=dep.format, encoding=dep.encoding,
                       delimiter=dep.delimiter)
    return map_batch(batch, dep, config, profile, register, today=TODAY)


@pytest.mark.parametrize("negative_total", ["error", "credit_note"])
def test_notice_with_a_negative_total_is_quarantined_once_with_its_reason(config, profiles, register, sample,
                                                                          negative_total):
    result = _waste(config, profiles, register, sample, negative_total)
    assert "5.0300.100004.1" not in [d.key for d in result.drafts]
    (bad,) = [q for q in result.quarantined if q.key == "5.0300.100004.1"]
    (error,) = bad.errors
    assert "negativen festgesetzten Betrag (-293,40 €)" in error.problem and error.fix
    assert "5.0300.100001.4" in [d.key for d in result.drafts]  # the rest goes on
