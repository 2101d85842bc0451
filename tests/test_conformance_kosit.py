"""Every official case gets KoSIT's verdict and scenario (OBSERVED_KOSIT_EMULATION.tsv, all rows)."""
from __future__ import annotations

import pytest

from conftest import Case, observed_cases

CASES = observed_cases()


def _our_scenario(result) -> str:
    if result.scenario is not None:
        return result.scenario
    return "not well-formed" if result.reason == "xml-not-wellformed" else "no scenario"


def test_the_observed_table_covers_accept_and_reject_ubl_and_cii():
    verdicts = {c.verdict for c in CASES}
    assert verdicts == {"accept", "reject"} and len(CASES) >= 400
    assert any("CII" in c.scenario for c in CASES) and any("UBL" in c.scenario for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.path for c in CASES])
def test_verdict_and_scenario_equal_kosit(case: Case, case_result):
    result = case_result(case.path)
    ours = " ".join("XSD" if m.step == "val-xsd" else m.code for m in result.errors)
    detail = (f"\n  case:           {case.path}\n  ours:           {result.verdict} / {_our_scenario(result)} "
              f"({result.reason})\n  official:       {case.verdict} / {case.scenario}\n"
              f"  our error codes:      {ours or '-'}\n  official error codes: {case.error_codes or '-'}")
    assert (result.verdict, _our_scenario(result)) == (case.verdict, case.scenario), detail
