"""Every report we write is a valid KoSIT VARL report (resources/xsd/report.xsd), for every official case."""
from __future__ import annotations

import pytest
from lxml import etree

from conftest import observed_cases
from validators.varl import VARL_NS, report_schema

CASES = observed_cases()
NS = {"rep": VARL_NS}


@pytest.fixture(scope="module")
def varl_schema(bundle):
    return report_schema(bundle.directory / "resources/xsd/report.xsd",
                         bundle.directory / "resources/xsd/validator/scenarios.xsd")


@pytest.mark.parametrize("case", CASES, ids=[c.path for c in CASES])
def test_report_is_valid_varl(case, case_result, varl_schema):
    result = case_result(case.path)
    report = etree.fromstring(result.report_xml())
    assert varl_schema.validate(report), f"{case.path}: {varl_schema.error_log}"
    # the report says what the result says
    assert report.xpath("local-name(/rep:report/rep:assessment/*)", namespaces=NS) == result.verdict
    matched = report.xpath("string(/rep:report/rep:scenarioMatched/*[local-name()='scenario']/*[local-name()='name'])",
                           namespaces=NS)
    assert (matched.strip() or None) == result.scenario
    assert len(report.xpath("//rep:message", namespaces=NS)) == len(result.messages)


def test_the_schema_check_can_fail(varl_schema, case_result):
    """The check above is not vacuous: a report missing its assessment is refused."""
    report = etree.fromstring(case_result(CASES[0].path).report_xml())
    report.remove(report.find(f"{{{VARL_NS}}}assessment"))
    assert not varl_schema.validate(report)
