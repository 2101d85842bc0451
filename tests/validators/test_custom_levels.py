"""The four testsuite cases that KoSIT accepts only because scenarios.xml downgrades rules (cases/README.md)."""
from __future__ import annotations

import pytest

from validators.steps import svrl_level

DOWNGRADED = {
    "cases/xrechnung-testsuite/src/test/business-cases/extension/04.05a-INVOICE_uncefact.xml": {"BR-CL-10", "BR-CL-21"},
    "cases/xrechnung-testsuite/src/test/business-cases/extension/05.01a-INVOICE_ubl.xml": {"BR-CO-16"},
    "cases/xrechnung-testsuite/src/test/technical-cases/cvd/02.01a-cvd_INVOICE_ubl.xml": {"BR-CL-13"},
    "cases/xrechnung-testsuite/src/test/technical-cases/cvd/02.01a-cvd_INVOICE_uncefact.xml": {"BR-CL-13"},
}


@pytest.mark.parametrize("path", sorted(DOWNGRADED))
def test_accepted_only_because_of_the_scenarios_custom_level(path, case_result):
    result = case_result(path)
    downgraded = {m.code for m in result.messages if m.level == "error" and m.custom_level != "error"}
    assert result.verdict == "accept", [(m.code, m.custom_level) for m in result.errors]
    assert downgraded == DOWNGRADED[path]
    assert result.errors == ()


def test_the_readme_names_exactly_these_rules():
    """cases/README.md: extension BR-CL-10, BR-CL-21 and BR-CO-16; CVD BR-CL-13."""
    assert set().union(*DOWNGRADED.values()) == {"BR-CL-10", "BR-CL-21", "BR-CO-16", "BR-CL-13"}


def test_the_varl_report_keeps_the_original_level_and_the_verdict_uses_the_custom_one(case_result):
    from lxml import etree

    path = "cases/xrechnung-testsuite/src/test/business-cases/extension/05.01a-INVOICE_ubl.xml"
    report = etree.fromstring(case_result(path).report_xml())
    ns = {"rep": "http://www.xoev.de/de/validator/varl/1"}
    assert report.xpath("//rep:message[@code='BR-CO-16']/@level", namespaces=ns) == ["error"]
    assert report.xpath("boolean(/rep:report/rep:assessment/rep:accept)", namespaces=ns)


@pytest.mark.parametrize("flag, role, level", [
    ("fatal", None, "error"), (None, "error", "error"), ("warning", None, "warning"), (None, "warn", "warning"),
    ("information", None, "information"), (None, "info", "information"), (None, None, "error"),
    ("unknown", None, "error"), ("warning", "fatal", "error"),
])
def test_svrl_flag_and_role_map_to_levels_as_in_default_report_xsl(flag, role, level):
    assert svrl_level(flag, role) == level
