"""The validator does what scenarios.xml says: change the file, and the verdict changes; no code knows a rule."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from validators.engine import Validator
from validators.scenarios import SCENARIOS_NS, ScenarioConfigError, ScenarioSet

UBL004 = "cases/validator-configuration-xrechnung/src/test/instances/ubl004.xml"  # rejected for BR-DE-3 only
EXTENSION_UBL = "cases/xrechnung-testsuite/src/test/business-cases/extension/05.01a-INVOICE_ubl.xml"
STANDARD_UBL = "cases/xrechnung-testsuite/src/test/business-cases/standard/01.02a-INVOICE_ubl.xml"
VALIDATOR_SOURCES = Path(__file__).resolve().parents[2] / "validators"


def _case(path: str) -> bytes:
    from erechnung import artifacts

    return (artifacts.cases_dir() / path.removeprefix("cases/")).read_bytes()


def _edited(bundle, tmp_path: Path, edit) -> Validator:
    """A Validator for a copy of the bundle's scenarios.xml changed by ``edit(root)``; resources stay in the bundle."""
    tree = etree.parse(str(bundle.scenarios))
    edit(tree.getroot())
    copy = tmp_path / "scenarios.xml"
    tree.write(str(copy), xml_declaration=True, encoding="UTF-8")
    return Validator.from_scenarios(copy, bundle.directory, name="edited")


def _scenario(root, name: str):
    for s in root.iterfind(f"{{{SCENARIOS_NS}}}scenario"):
        if s.findtext(f"{{{SCENARIOS_NS}}}name") == name:
            return s
    raise AssertionError(f"no scenario {name!r}")


def test_every_scenario_of_the_installed_file_is_loaded(bundle):
    sset = ScenarioSet.load(bundle.scenarios, bundle.directory)
    names_in_file = [el.findtext(f"{{{SCENARIOS_NS}}}name").strip()
                     for el in etree.parse(str(bundle.scenarios)).getroot().iterfind(f"{{{SCENARIOS_NS}}}scenario")]
    assert [s.name for s in sset.scenarios] == names_in_file
    for s in sset.scenarios:
        assert s.match and s.schemas and s.accept_match
        assert all(r.path.is_file() for r in (*s.schemas, *s.schematrons))
    assert sset.no_scenario_report is not None and sset.no_scenario_report.path.is_file()


def test_the_installed_scenarios_file_is_valid_against_the_kosit_schema(bundle):
    schema = etree.XMLSchema(etree.parse(str(bundle.directory / "resources/xsd/validator/scenarios.xsd")))
    assert schema.validate(etree.parse(str(bundle.scenarios))), schema.error_log


def test_custom_levels_are_read_from_the_file(bundle):
    sset = ScenarioSet.load(bundle.scenarios, bundle.directory)
    for el in etree.parse(str(bundle.scenarios)).getroot().iterfind(f"{{{SCENARIOS_NS}}}scenario"):
        scenario = next(s for s in sset.scenarios if s.name == el.findtext(f"{{{SCENARIOS_NS}}}name").strip())
        for cl in el.iterfind(f"{{{SCENARIOS_NS}}}createReport/{{{SCENARIOS_NS}}}customLevel"):
            for code in cl.text.split():
                assert scenario.custom_level(code, "error") == cl.get("level")
        assert scenario.custom_level("NOT-A-RULE", "warning") == "warning"


def test_no_rule_id_or_syntax_name_is_written_in_the_engine_code():
    """Rules are configuration: the validators package names no business rule and no UBL/CII namespace."""
    pattern = re.compile(r"\b(BR-[A-Z0-9-]+|UBL-CR-\d+|CII-SR-\d+|urn:oasis:names|urn:un:unece)")
    for source in VALIDATOR_SOURCES.glob("*.py"):
        hits = pattern.findall(source.read_text(encoding="utf-8"))
        assert not hits, f"{source.name} hard-codes {hits}"


def test_a_custom_level_added_in_the_file_turns_a_reject_into_accept(bundle, validator, tmp_path):
    assert validator.validate(_case(UBL004), UBL004).verdict == "reject"

    def downgrade(root):
        create = _scenario(root, "EN16931 XRechnung (UBL Invoice)").find(f"{{{SCENARIOS_NS}}}createReport")
        etree.SubElement(create, f"{{{SCENARIOS_NS}}}customLevel", level="warning").text = "BR-DE-3"

    result = _edited(bundle, tmp_path, downgrade).validate(_case(UBL004), UBL004)
    assert result.verdict == "accept", result.errors
    assert [(m.code, m.level, m.custom_level) for m in result.messages if m.code == "BR-DE-3"] == [
        ("BR-DE-3", "error", "warning")]


def test_a_custom_level_removed_from_the_file_turns_an_accept_into_reject(bundle, validator, tmp_path):
    assert validator.validate(_case(EXTENSION_UBL), EXTENSION_UBL).verdict == "accept"

    def drop_all_custom_levels(root):
        for cl in root.iter(f"{{{SCENARIOS_NS}}}customLevel"):
            cl.getparent().remove(cl)

    result = _edited(bundle, tmp_path, drop_all_custom_levels).validate(_case(EXTENSION_UBL), EXTENSION_UBL)
    assert result.verdict == "reject"
    assert "BR-CO-16" in {m.code for m in result.errors}


def test_a_renamed_scenario_is_reported_by_its_new_name(bundle, tmp_path):
    def rename(root):
        _scenario(root, "EN16931 XRechnung (UBL Invoice)").find(f"{{{SCENARIOS_NS}}}name").text = "Kommune Test"

    result = _edited(bundle, tmp_path, rename).validate(_case(STANDARD_UBL), STANDARD_UBL)
    assert (result.verdict, result.scenario) == ("accept", "Kommune Test")


def test_a_document_matched_by_no_scenario_in_the_file_is_rejected(bundle, tmp_path):
    def never_match(root):
        _scenario(root, "EN16931 XRechnung (UBL Invoice)").find(f"{{{SCENARIOS_NS}}}match").text = "false()"

    result = _edited(bundle, tmp_path, never_match).validate(_case(STANDARD_UBL), STANDARD_UBL)
    assert (result.verdict, result.reason, result.scenario) == ("reject", "no-scenario", None)


def test_a_document_matched_by_two_scenarios_is_rejected_as_kosit_does(bundle, tmp_path):
    """KoSIT ScenarioRepository.selectScenario: more than one match is treated as no scenario."""
    import copy

    def duplicate(root):
        original = _scenario(root, "EN16931 XRechnung (UBL Invoice)")
        twin = copy.deepcopy(original)
        twin.find(f"{{{SCENARIOS_NS}}}name").text = "Twin"
        original.addnext(twin)

    result = _edited(bundle, tmp_path, duplicate).validate(_case(STANDARD_UBL), STANDARD_UBL)
    assert (result.verdict, result.reason, result.scenario) == ("reject", "scenario-ambiguous", None)


@pytest.mark.parametrize("failing", [
    "xs:integer('not a number') = 1",      # a dynamic error
    "exists(/undeclared:Invoice)",         # a static error: the prefix is not declared
    "exists(/*) and",                      # a syntax error
])
def test_a_match_that_fails_is_no_match_and_the_others_still_count(bundle, tmp_path, failing):
    """KoSIT ScenarioRepository.match: an expression that cannot be evaluated is false; the other scenarios
    are still evaluated, so the document keeps its own scenario."""
    def break_another(root):
        _scenario(root, "EN16931 (CII)").find(f"{{{SCENARIOS_NS}}}match").text = failing

    edited = _edited(bundle, tmp_path, break_another)
    result = edited.validate(_case(STANDARD_UBL), STANDARD_UBL)
    assert (result.verdict, result.scenario) == ("accept", "EN16931 XRechnung (UBL Invoice)")

    def break_its_own(root):
        _scenario(root, "EN16931 XRechnung (UBL Invoice)").find(f"{{{SCENARIOS_NS}}}match").text = failing

    result = _edited(bundle, tmp_path, break_its_own).validate(_case(STANDARD_UBL), STANDARD_UBL)
    assert (result.verdict, result.reason, result.scenario) == ("reject", "no-scenario", None)


def test_a_match_that_fails_on_one_document_only_is_no_match_for_that_document(bundle, tmp_path):
    """A dynamic error raised by the document's content makes the match false for that document only; ``xs`` is
    usable without a declaration, as in Saxon's XPath processor."""
    def fragile(root):
        match = _scenario(root, "EN16931 XRechnung (UBL Invoice)").find(f"{{{SCENARIOS_NS}}}match")
        match.text = f"xs:decimal(string(/invoice:Invoice/cbc:ID)) > 0 and ({match.text})"

    edited = _edited(bundle, tmp_path, fragile)
    numeric = _case(STANDARD_UBL)
    assert b"<cbc:ID>123456</cbc:ID>" in numeric
    assert edited.validate(numeric, STANDARD_UBL).scenario == "EN16931 XRechnung (UBL Invoice)"
    letters = numeric.replace(b"<cbc:ID>123456</cbc:ID>", b"<cbc:ID>ABC</cbc:ID>", 1)
    result = edited.validate(letters, "letters.xml")
    assert (result.reason, result.scenario) == ("no-scenario", None)


@pytest.mark.parametrize("accept_match", ["error()", "/rep:report/undeclared:accept"])
def test_an_accept_match_that_fails_rejects_as_an_internal_error(bundle, tmp_path, accept_match):
    def broken(root):
        _scenario(root, "EN16931 XRechnung (UBL Invoice)").find(f"{{{SCENARIOS_NS}}}acceptMatch").text = accept_match

    result = _edited(bundle, tmp_path, broken).validate(_case(STANDARD_UBL), STANDARD_UBL)
    assert (result.verdict, result.reason) == ("reject", "internal-error")


@pytest.mark.parametrize("accept_match, verdict", [
    ("/rep:report/rep:assessment[1]/rep:accept[1]", "accept"),      # a plain path: evaluated by lxml
    ("//rep:accept", "accept"),
    ("/rep:report/rep:assessment[1]/rep:reject[1]", "reject"),
    ("exists(/rep:report/rep:assessment/rep:accept)", "accept"),    # XPath 2: evaluated by Saxon
    ("/rep:report/rep:assessment/rep:accept and true()", "accept"),
    ("empty(/rep:report/rep:assessment/rep:accept)", "reject"),
])
def test_accept_match_means_the_same_in_either_evaluator(bundle, tmp_path, accept_match, verdict):
    def set_accept(root):
        _scenario(root, "EN16931 XRechnung (UBL Invoice)").find(f"{{{SCENARIOS_NS}}}acceptMatch").text = accept_match

    result = _edited(bundle, tmp_path, set_accept).validate(_case(STANDARD_UBL), STANDARD_UBL)
    assert result.verdict == verdict, accept_match


def test_a_stricter_accept_match_in_the_file_is_obeyed(bundle, validator, tmp_path):
    """acceptMatch ``@valid='true'`` also refuses documents with warnings (report.xsd: valid means no error or
    warning in any step); the extension case has a UBL-CR-646 warning and is accepted by the shipped file."""
    case = "cases/xrechnung-testsuite/src/test/business-cases/extension/04.01a-INVOICE_ubl.xml"
    assert validator.validate(_case(case), case).verdict == "accept"

    def only_valid(root):
        _scenario(root, "EN16931 XRechnung Extension (UBL Invoice)").find(
            f"{{{SCENARIOS_NS}}}acceptMatch").text = "/rep:report[@valid = 'true']"

    result = _edited(bundle, tmp_path, only_valid).validate(_case(case), case)
    assert (result.verdict, result.reason) == ("reject", "not-accepted")


def test_a_permissive_accept_match_cannot_accept_a_document_with_errors(bundle, tmp_path):
    """Deliberately stricter than KoSIT: an acceptMatch that is always true does not turn error-level findings
    into an accept; the assessment of the report (any custom level error -> reject) still holds."""
    def always(root):
        _scenario(root, "EN16931 XRechnung (UBL Invoice)").find(f"{{{SCENARIOS_NS}}}acceptMatch").text = "true()"

    result = _edited(bundle, tmp_path, always).validate(_case(UBL004), UBL004)
    assert result.verdict == "reject"


def test_a_missing_resource_stops_loading_with_its_name(bundle, tmp_path):
    def missing(root):
        loc = _scenario(root, "EN16931 (CII)").find(f".//{{{SCENARIOS_NS}}}validateWithSchematron//"
                                                    f"{{{SCENARIOS_NS}}}location")
        loc.text = "resources/not-there.xsl"

    with pytest.raises(ScenarioConfigError, match="not-there.xsl"):
        _edited(bundle, tmp_path, missing)


def test_a_file_that_is_not_a_scenarios_file_is_refused(tmp_path):
    (tmp_path / "scenarios.xml").write_text("<other/>")
    with pytest.raises(ScenarioConfigError, match="not a KoSIT scenarios file"):
        ScenarioSet.load(tmp_path / "scenarios.xml")
