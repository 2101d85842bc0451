"""The KoSIT validation report (VARL, ``http://www.xoev.de/de/validator/varl/1``), built in Python with lxml.

Source of every rule here: KoSIT ``resources/default-report.xsl`` (imported by ``xrechnung-report.xsl``) and the
schema ``resources/xsd/report.xsd``:

- step results in the order ``val-xsd``, ``val-sch.1`` ... , ``val-xml`` (templates applied to
  ``validationResultsXmlSchema``, ``validationResultsSchematron``, ``validationResultsWellformedness``);
- a step is ``valid`` when none of its messages has level error or warning;
- ``report/@valid``: false without a scenario or with a "fallback" scenario, false if any step is invalid,
  true if any step is valid, else false;
- assessment (template ``rep:report`` mode ``assessment``): reject without a scenario, reject for a scenario
  whose name contains "fallback", reject if any message's custom level is error, else accept.

:func:`create_report_input` writes the KoSIT intermediate document (``createReportInput.xsd``) from the same
step results, so the official report stylesheet can be run on exactly what this module saw (the oracle test).
"""
from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path
from typing import Iterable, Sequence

from lxml import etree

from validators.scenarios import SCENARIOS_NS, Resource, Scenario
from validators.steps import SVRL_NS, Message, StepResult

VARL_NS = "http://www.xoev.de/de/validator/varl/1"
IN_NS = "http://www.xoev.de/de/validator/framework/1/createreportinput"
XHTML_NS = "http://www.w3.org/1999/xhtml"
VARL_VERSION = "1.0.0"
FRAMEWORK_VERSION = "1.0.0"
_R, _S, _I, _H = f"{{{VARL_NS}}}", f"{{{SCENARIOS_NS}}}", f"{{{IN_NS}}}", f"{{{XHTML_NS}}}"


def is_fallback(scenario: Scenario | None) -> bool:
    """default-report.xsl: a scenario whose name contains "fallback" (any case) never leads to accept."""
    return scenario is not None and "fallback" in " ".join(scenario.name.split()).lower()


def assessment(scenario: Scenario | None, messages: Iterable[Message]) -> str:
    """``accept`` or ``reject``, decided like default-report.xsl's ``assessment`` template."""
    if scenario is None or is_fallback(scenario):
        return "reject"
    return "reject" if any(m.custom_level == "error" for m in messages) else "accept"


def report_order(steps: Sequence[StepResult]) -> list[StepResult]:
    """Steps in report order: XML Schema, Schematron (in configuration order), well-formedness."""
    rank = {"xsd": 0, "schematron": 1, "xml": 2}
    return sorted((s for s in steps if s.status != "skipped"), key=lambda s: rank.get(s.kind, 1))


def _resource(parent: etree._Element, resource: Resource) -> None:
    el = etree.SubElement(parent, f"{_S}resource")
    etree.SubElement(el, f"{_S}name").text = resource.name
    etree.SubElement(el, f"{_S}location").text = resource.location


def _step_result(parent: etree._Element, step: StepResult) -> None:
    el = etree.SubElement(parent, f"{_R}validationStepResult", id=step.id, valid="true" if step.valid else "false")
    for r in step.resources:
        _resource(el, r)
    for m in step.messages:
        msg = etree.SubElement(el, f"{_R}message", id=m.id, level=m.level, code=m.code)
        if m.line:
            msg.set("lineNumber", str(m.line))
        if m.column:
            msg.set("columnNumber", str(m.column))
        if m.location:
            msg.set("xpathLocation", m.location)
        msg.text = m.text


def _explanation(parent: etree._Element, scenario: Scenario | None, messages: Sequence[Message]) -> None:
    """A short XHTML explanation (report.xsd: one html element with ``data-report-type``), worded like the
    assessment paragraph of default-report.xsl (``html:assessment``)."""
    errors = sum(m.level == "error" for m in messages)
    custom_errors = sum(m.custom_level == "error" for m in messages)
    if scenario is None or is_fallback(scenario):
        text = "Bewertung: Es wird empfohlen das Dokument zurückzuweisen. Da kein Prüfszenario gegriffen hat."
    elif errors == 0 and custom_errors == 0:
        text = "Bewertung: Es wird empfohlen das Dokument anzunehmen und weiter zu verarbeiten."
    elif custom_errors == 0:
        text = ("Bewertung: Es wird empfohlen das Dokument anzunehmen und zu verarbeiten, da die vorhandenen "
                "Fehler derzeit toleriert werden.")
    else:
        text = "Bewertung: Es wird empfohlen das Dokument zurückzuweisen."
    explanation = etree.SubElement(parent, f"{_R}explanation")
    html = etree.SubElement(explanation, f"{_H}html", {"data-report-type": "report"}, nsmap={None: XHTML_NS})
    head = etree.SubElement(html, f"{_H}head")
    etree.SubElement(head, f"{_H}title").text = "Prüfbericht"
    body = etree.SubElement(html, f"{_H}body")
    etree.SubElement(body, f"{_H}p").text = text
    if messages:
        counts = {lvl: sum(m.custom_level == lvl for m in messages) for lvl in ("error", "warning", "information")}
        etree.SubElement(body, f"{_H}p").text = (
            f"Fehler: {counts['error']}, Warnungen: {counts['warning']}, Informationen: {counts['information']} "
            f"(nach Anpassung der Fehlergrade durch das Prüfszenario).")


def build_report(*, engine_name: str, engine_info: Sequence[tuple[str, str]], timestamp: datetime,
                 sha256: bytes, reference: str, scenario: Scenario | None, steps: Sequence[StepResult],
                 document_data: etree._Element | None = None) -> etree._Element:
    """The VARL ``rep:report`` element for one document (valid against report.xsd)."""
    ordered = report_order(steps)
    messages = [m for s in ordered for m in s.messages]
    if scenario is None or is_fallback(scenario):
        valid = False
    elif any(not s.valid for s in ordered):
        valid = False
    else:
        valid = any(s.valid for s in ordered)
    report = etree.Element(f"{_R}report", nsmap={"rep": VARL_NS, "s": SCENARIOS_NS},
                           valid="true" if valid else "false", varlVersion=VARL_VERSION)
    engine = etree.SubElement(report, f"{_R}engine")
    etree.SubElement(engine, f"{_R}name").text = engine_name
    for key, value in engine_info:
        etree.SubElement(engine, f"{_R}info", key=key).text = value
    etree.SubElement(report, f"{_R}timestamp").text = timestamp.isoformat()
    ident = etree.SubElement(report, f"{_R}documentIdentification")
    doc_hash = etree.SubElement(ident, f"{_R}documentHash")
    etree.SubElement(doc_hash, f"{_R}hashAlgorithm").text = "SHA-256"
    etree.SubElement(doc_hash, f"{_R}hashValue").text = base64.b64encode(sha256).decode("ascii")
    etree.SubElement(ident, f"{_R}documentReference").text = reference
    if scenario is not None:
        matched = etree.SubElement(report, f"{_R}scenarioMatched")
        matched.append(etree.fromstring(scenario.element))
        if document_data is not None:
            matched.append(document_data)
        for step in ordered:
            _step_result(matched, step)
    else:
        unmatched = etree.SubElement(report, f"{_R}noScenarioMatched")
        for step in ordered:
            if step.kind == "xml":
                _step_result(unmatched, step)
    verdict = assessment(scenario, messages)
    assess = etree.SubElement(report, f"{_R}assessment")
    _explanation(etree.SubElement(assess, f"{_R}{verdict}"), scenario, messages)
    return report


def create_report_input(*, engine_name: str, timestamp: datetime, sha256: bytes, reference: str,
                        scenario: Scenario | None, steps: Sequence[StepResult]) -> etree._Element:
    """The KoSIT ``in:createReportInput`` document (createReportInput.xsd) for the same step results.

    Schematron steps must have kept their SVRL output (``StepResult.raw``). XML Schema and well-formedness
    messages become ``in:xmlSyntaxError`` with the message text prefixed by its ``cvc-`` code, the form Xerces
    writes and default-report.xsl reads the code from.
    """
    root = etree.Element(f"{_I}createReportInput", nsmap={"in": IN_NS, "s": SCENARIOS_NS, "svrl": SVRL_NS},
                         frameworkVersion=FRAMEWORK_VERSION)
    engine = etree.SubElement(root, f"{_I}engine")
    etree.SubElement(engine, f"{_I}name").text = engine_name
    etree.SubElement(root, f"{_I}timestamp").text = timestamp.isoformat()
    ident = etree.SubElement(root, f"{_I}documentIdentification")
    doc_hash = etree.SubElement(ident, f"{_I}documentHash")
    etree.SubElement(doc_hash, f"{_I}hashAlgorithm").text = "SHA-256"
    etree.SubElement(doc_hash, f"{_I}hashValue").text = base64.b64encode(sha256).decode("ascii")
    etree.SubElement(ident, f"{_I}documentReference").text = reference
    if scenario is not None:
        root.append(etree.fromstring(scenario.element))

    def syntax_errors(parent: etree._Element, messages: Sequence[Message]) -> None:
        for m in messages:
            err = etree.SubElement(parent, f"{_I}xmlSyntaxError")
            text = f"{m.code}: {m.text}" if m.code.startswith("cvc-") else m.text
            etree.SubElement(err, f"{_I}message").text = text
            etree.SubElement(err, f"{_I}severityCode").text = (
                "SEVERITY_WARNING" if m.level == "warning" else "SEVERITY_ERROR")
            if m.line:
                etree.SubElement(err, f"{_I}rowNumber").text = str(m.line)
            if m.column:
                etree.SubElement(err, f"{_I}columnNumber").text = str(m.column)

    by_kind = {k: [s for s in steps if s.kind == k and s.status != "skipped"] for k in ("xml", "xsd", "schematron")}
    wellformed = etree.SubElement(root, f"{_I}validationResultsWellformedness")
    for s in by_kind["xml"]:
        syntax_errors(wellformed, s.messages)
    for s in by_kind["xsd"]:
        xsd = etree.SubElement(root, f"{_I}validationResultsXmlSchema")
        for r in s.resources:
            _resource(xsd, r)
        syntax_errors(xsd, s.messages)
    for s in by_kind["schematron"]:
        if s.raw is None:
            raise ValueError(f"step {s.id} did not keep its SVRL output; validate with keep_raw=True")
        sch = etree.SubElement(root, f"{_I}validationResultsSchematron")
        _resource(sch, s.resources[0])
        svrl = etree.fromstring(s.raw, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True))
        etree.SubElement(sch, f"{_I}results").append(_as_kosit_reads(svrl))
    return root


def _as_kosit_reads(svrl: etree._Element) -> etree._Element:
    """SVRL as it looks after KoSIT read it into its JAXB model (``svrl-kosit.xsd``) and wrote it back: what the
    model does not know is dropped. The stylesheets of this bundle produce two such things: ``svrl:metadata``
    (SchXslt) and ``active-pattern/@document`` (the model only has ``@documents``). Neither is read by the report
    stylesheet; dropping them keeps the intermediate document valid against ``createReportInput.xsd``."""
    for el in svrl.findall(f"{{{SVRL_NS}}}metadata"):
        svrl.remove(el)
    for el in svrl.iterfind(f"{{{SVRL_NS}}}active-pattern"):
        el.attrib.pop("document", None)
    return svrl


def report_schema(report_xsd: Path, scenarios_xsd: Path) -> etree.XMLSchema:
    """The VARL schema ready for lxml. ``report.xsd`` imports the scenarios namespace without a schema location
    (KoSIT resolves it from its classpath), so a small wrapper schema imports both files explicitly."""
    xs = "http://www.w3.org/2001/XMLSchema"
    wrapper = etree.Element(f"{{{xs}}}schema", nsmap={"xs": xs})
    etree.SubElement(wrapper, f"{{{xs}}}import", namespace=SCENARIOS_NS, schemaLocation=Path(scenarios_xsd).resolve().as_uri())
    etree.SubElement(wrapper, f"{{{xs}}}import", namespace=VARL_NS, schemaLocation=Path(report_xsd).resolve().as_uri())
    return etree.XMLSchema(wrapper)
