"""The validator: KoSIT's pipeline, driven by the installed ``scenarios.xml``.

For each document (KoSIT validator ``DefaultCheck``: parse, select scenario, XML Schema, Schematron, create report,
compute acceptance):

1. the gate (``validators.xmlsafe``): size, DOCTYPE, well-formedness, depth; a refused document is rejected;
2. scenario selection: every scenario's ``match`` XPath on the Saxon tree, all of them compiled once into one
   generated stylesheet (``Validator._select``, ``runtime.xpath_tests``);
3. the scenario's pipeline, a list of steps: XML Schema, then each Schematron in order (the lean copies of the
   official XSLTs, ``validators.lean``: same findings, less output); Schematron is skipped when the document is
   not schema-valid (KoSIT ``SchematronValidationAction.isSkipped``);
4. ``customLevel`` overrides on every message, the VARL report (``validators.varl``), and the verdict: the
   scenario's ``acceptMatch`` XPath evaluated on that report (KoSIT ``ComputeAcceptanceAction``; ``accept_match``).

The Saxon tree is built once per document, from the document's own text when it is UTF-8, and shared by the
selection and every Schematron step (``steps.Document``).

A crashed step, a skipped step or an unexpected exception never yields ``accept``: the document is rejected with
reason ``internal-error`` and the failure is a message in its report, never a traceback.

Use ``Validator.for_bundle()`` once per process and call ``validate`` for every document; stylesheets and schemas
are compiled on first use and cached for the process (``validators.runtime``).
"""
from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from lxml import etree

from erechnung import artifacts
from erechnung.documents.embedded import PdfLimits, is_pdf
from validators import pdf, runtime
from validators.scenarios import Scenario, ScenarioSet
from validators.steps import (Document, Message, SchematronStep, Step, StepResult, XmlSchemaStep,
                              with_custom_levels)
from validators.varl import VARL_NS, assessment, build_report
from validators.xmlsafe import Limits, ValidationInputError, parse_untrusted, read_document

ENGINE_NAME = "erechnung validators (KoSIT-compatible)"
AUTO = "auto"


@dataclass(frozen=True)
class ValidationResult:
    """The outcome for one document. ``verdict`` is ``accept`` or ``reject``; ``reason`` says why in one code:
    ``accepted``, ``invalid`` (error-level findings), ``no-scenario``, ``scenario-ambiguous``, ``not-accepted``
    (the scenario's acceptMatch said no), ``internal-error``, or a gate code (``xml-not-wellformed`` ...)."""

    name: str
    verdict: str
    reason: str
    scenario: str | None
    bundle: str
    messages: tuple[Message, ...]
    steps: tuple[StepResult, ...] = ()
    document: tuple[tuple[str, str], ...] = ()  # data the report stylesheet extracts: seller, id, issueDate
    sha256: str = ""
    timestamp: str = ""
    duration_ms: float = 0.0
    report: bytes = field(default=b"", repr=False)
    #: where the validated XML came from when it was not the file itself: for a hybrid PDF (validators.pdf)
    #: ("container", "pdf"), ("embedded", attachment name), ("profile", ...), ("guideline", BT-24),
    #: ("declared_profile", XMP ConformanceLevel); shown in the JSON and the HTML report
    source: tuple[tuple[str, str | None], ...] = ()

    @property
    def accepted(self) -> bool:
        return self.verdict == "accept"

    @property
    def errors(self) -> tuple[Message, ...]:
        """Messages that count as errors after the scenario's customLevel overrides."""
        return tuple(m for m in self.messages if m.custom_level == "error")

    @property
    def warnings(self) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.custom_level == "warning")

    @property
    def information(self) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.custom_level == "information")

    def report_xml(self) -> bytes:
        """The VARL report (report.xsd) as UTF-8 XML."""
        return self.report

    def to_json_dict(self) -> dict[str, Any]:
        def msg(m: Message) -> dict[str, Any]:
            return {"rule": m.code, "message": m.text, "location": m.location, "line": m.line,
                    "column": m.column, "level": m.level, "custom_level": m.custom_level, "step": m.step}

        return {"name": self.name, "verdict": self.verdict, "reason": self.reason, "scenario": self.scenario,
                "bundle": self.bundle, "sha256": self.sha256,
                "errors": [msg(m) for m in self.errors], "warnings": [msg(m) for m in self.warnings],
                "information": [msg(m) for m in self.information],
                "document": dict(self.document),
                "steps": [{"id": s.id, "kind": s.kind, "status": s.status, "valid": s.valid,
                           "resources": [r.location for r in s.resources]} for s in self.steps],
                "duration_ms": round(self.duration_ms, 2), **dict(self.source)}


@dataclass(frozen=True)
class _Config:
    bundle: str
    valid_from: date | None
    scenarios: ScenarioSet


def _issue_date(value: str | None) -> date | None:
    """An issue date as the report stylesheet extracts it: ``2024-03-01`` (UBL) or ``20240301`` (CII format 102)."""
    m = re.fullmatch(r"\s*(\d{4})-?(\d{2})-?(\d{2})\s*", value or "")
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


class Validator:
    """Validates documents against one bundle's scenarios, or picks the bundle per document (``auto``)."""

    def __init__(self, configs: Sequence[_Config], *, auto: bool = False, limits: Limits | None = None,
                 keep_raw: bool = False) -> None:
        if not configs:
            raise ValueError("a Validator needs at least one bundle")
        self._configs = sorted(configs, key=lambda c: c.valid_from or date.min)
        self._by_name = {c.bundle: c for c in self._configs}
        self.auto = auto
        self.limits = limits or Limits()
        self.keep_raw = keep_raw
        self._pipelines: dict[tuple[str, str], list[Step]] = {}
        self._pdf_validators: dict[str, Validator] = {}  # per bundle, see pdf_scenarios

    # ----------------------------------------------------------------------------------------------------------
    # construction
    # ----------------------------------------------------------------------------------------------------------

    @classmethod
    def for_bundle(cls, bundle: Any = None, *, limits: Limits | None = None, keep_raw: bool = False) -> "Validator":
        """A Validator for an installed bundle.

        ``bundle``: None (the newest installed bundle, ``erechnung.artifacts.bundle_in_force()``), ``"auto"``
        (every installed bundle; each document is checked against the bundle in force on its issue date),
        a bundle name from ``xsd/bundles.tsv``, an ``erechnung.artifacts.Bundle``, or a folder in the KoSIT
        layout (``scenarios.xml`` at its root).
        """
        if bundle is None:
            b = artifacts.bundle_in_force(None)
            return cls([_Config(b.name, b.valid_from, ScenarioSet.load(b.scenarios, b.directory))],
                       limits=limits, keep_raw=keep_raw)
        if isinstance(bundle, str) and bundle == AUTO:
            configs = [_Config(b.name, b.valid_from, ScenarioSet.load(b.scenarios, b.directory))
                       for b in artifacts.bundles()]
            return cls(configs, auto=True, limits=limits, keep_raw=keep_raw)
        if isinstance(bundle, artifacts.Bundle):
            return cls([_Config(bundle.name, bundle.valid_from, ScenarioSet.load(bundle.scenarios, bundle.directory))],
                       limits=limits, keep_raw=keep_raw)
        if isinstance(bundle, Path) or (isinstance(bundle, str) and ("/" in bundle or Path(bundle).is_dir())):
            folder = Path(bundle)
            return cls.from_scenarios(folder / "scenarios.xml", folder, name=folder.name, limits=limits,
                                      keep_raw=keep_raw)
        if isinstance(bundle, str):
            for b in artifacts.bundles():
                if b.name == bundle:
                    return cls.for_bundle(b, limits=limits, keep_raw=keep_raw)
            names = ", ".join(b.name for b in artifacts.bundles())
            raise ValueError(f"bundle {bundle!r} is not installed (installed: {names})")
        raise TypeError(f"cannot make a Validator for {bundle!r}")

    @classmethod
    def from_scenarios(cls, scenarios_xml: Path, repository: Path | None = None, *, name: str | None = None,
                       valid_from: date | None = None, limits: Limits | None = None,
                       keep_raw: bool = False) -> "Validator":
        """A Validator for any KoSIT scenarios file; resources resolve against ``repository``."""
        sset = ScenarioSet.load(Path(scenarios_xml), repository)
        return cls([_Config(name or sset.repository.name, valid_from or sset.date, sset)], limits=limits,
                   keep_raw=keep_raw)

    @property
    def bundles(self) -> list[str]:
        """Names of the bundles this Validator holds, oldest first."""
        return [c.bundle for c in self._configs]

    def scenario_set(self, bundle: str | None = None) -> ScenarioSet:
        """The scenarios of ``bundle`` (default: the newest this Validator holds)."""
        return self._config(bundle).scenarios

    def warm_up(self) -> dict[str, float]:
        """Compile every stylesheet and schema of every bundle now; returns seconds per resource."""
        for c in self._configs:
            runtime.xpath_tests(c.scenarios.match_tests, errors_are_false=True)
            for scenario in c.scenarios.scenarios:
                runtime.xml_schema(tuple(r.path for r in scenario.schemas))
                for r in scenario.schematrons:
                    runtime.xslt(r.path, lean=True)
                if scenario.report:
                    runtime.xslt(scenario.report.path)
        return runtime.compile_seconds()

    # ----------------------------------------------------------------------------------------------------------
    # validation
    # ----------------------------------------------------------------------------------------------------------

    def validate(self, data: bytes, name: str = "<bytes>", *, bundle: str | None = None) -> ValidationResult:
        """Validate one document. ``bundle``: None (this Validator's default: the newest bundle, or per document
        when built with ``auto``), ``"auto"`` (the bundle in force on the invoice's issue date), or a bundle
        name (ValueError if this Validator does not hold it). Never raises for a bad document: every failure while
        validating is a ``reject`` result.

        A PDF (by header, or a name ending in .pdf) is a hybrid invoice: ``validators.pdf`` takes its embedded XML
        and validates that with the Factur-X profile scenarios (``pdf_scenarios``) or, for XRechnung, these."""
        started = time.perf_counter()
        timestamp = datetime.now(timezone.utc).replace(microsecond=0)
        config = self._config(bundle)  # an unknown bundle name is the caller's mistake: ValueError
        try:
            if is_pdf(data, name):
                return pdf.validate_pdf(self, data, name, bundle=bundle)
            return self._validate(bytes(data), name, config, bundle == AUTO or (bundle is None and self.auto),
                                  timestamp, started)
        except Exception as exc:  # the promise: never a traceback, never an accept after a failure
            return self._internal_error(data, name, config, timestamp, started, exc)

    def validate_path(self, path: str | Path, name: str | None = None, *,
                      bundle: str | None = None) -> ValidationResult:
        """Validate the file at ``path`` (``name`` in the report; default: the path), reading no more of it than
        the limits allow: a file larger than its kind's limit (``xmlsafe.read_document``) is rejected unread, with
        ``xml-too-large`` or ``pdf-too-large`` (the report's hash is then that of no bytes: none were read).
        ``OSError`` (missing, unreadable) is the caller's to report."""
        name = str(path) if name is None else name
        started = time.perf_counter()
        max_pdf = (getattr(self, "pdf_limits", None) or PdfLimits()).max_pdf_bytes
        try:
            data = read_document(path, self.limits, max_pdf)
        except ValidationInputError as exc:
            if exc.code == "pdf-too-large":
                return pdf.refused(self, b"", name, exc.code, exc.problem, exc.fix, bundle=bundle, started=started)
            timestamp = datetime.now(timezone.utc).replace(microsecond=0)
            return self._refused_at_gate(name, b"", self._config(bundle), exc, timestamp, started)
        return self.validate(data, name, bundle=bundle)

    def pdf_scenarios(self, bundle: str | None = None) -> "Validator":
        """The Validator for invoices embedded in PDFs: the Factur-X profile scenarios (``validators.pdf.
        PDF_SCENARIOS``, KoSIT format) with resources from ``bundle``'s folder; built on first use."""
        config = self._config(bundle)
        if config.bundle not in self._pdf_validators:
            self._pdf_validators[config.bundle] = Validator.from_scenarios(
                pdf.PDF_SCENARIOS, config.scenarios.repository, name=config.bundle, valid_from=config.valid_from,
                limits=self.limits, keep_raw=self.keep_raw)
        return self._pdf_validators[config.bundle]

    def _config(self, bundle: str | None) -> _Config:
        if bundle is None or bundle == AUTO:
            return self._configs[-1]
        try:
            return self._by_name[bundle]
        except KeyError:
            raise ValueError(f"bundle {bundle!r} is not loaded in this Validator ({', '.join(self._by_name)})") from None

    def _in_force(self, on: date | None) -> _Config:
        """Same rule as ``erechnung.artifacts.bundle_in_force``: the newest bundle valid on ``on``, else the oldest."""
        if on is None:
            return self._configs[-1]
        eligible = [c for c in self._configs if c.valid_from is None or c.valid_from <= on]
        return eligible[-1] if eligible else self._configs[0]

    def _select(self, config: _Config, document: Document):
        """Scenario selection as KoSIT ``ScenarioRepository.selectScenario``: every scenario's ``match`` is
        evaluated on the document; a match that fails to evaluate (or to compile) is no match; exactly one match
        selects that scenario, none or several select none (``ScenarioSet.select_matched``).

        All the ``match`` expressions of a scenarios file are compiled once per process into one stylesheet
        (``runtime.xpath_tests``) and evaluated in one call: evaluating them one by one with saxonche's XPath
        processor compiled each expression again for every document and leaked memory on every call.
        """
        tests = runtime.xpath_tests(config.scenarios.match_tests, errors_are_false=True)
        return config.scenarios.select_matched(tests.true_indices(document.xdm))

    def _validate(self, data: bytes, name: str, config: _Config, auto: bool, timestamp: datetime,
                  started: float) -> ValidationResult:
        try:
            tree = parse_untrusted(data, self.limits)
        except ValidationInputError as exc:
            return self._refused_at_gate(name, data, config, exc, timestamp, started)
        document = Document(name, data, tree)
        document.xdm  # built here, so a Saxon failure is an internal error, not "no scenario matched"
        wellformed = StepResult("val-xml", "xml", ())

        selection = self._select(config, document)
        document_data = self._document_data(selection.scenario, document)
        if auto and self._configs:
            chosen = self._in_force(_issue_date(dict(_pairs(document_data)).get("issueDate")))
            if chosen is not config:
                config = chosen
                selection = self._select(config, document)
                document_data = self._document_data(selection.scenario, document)
        scenario = selection.scenario
        if scenario is None:
            return self._result(name, data, config, None, [wellformed], selection.reason, timestamp, started)

        results: dict[str, StepResult] = {}
        for step in self._pipeline(config, scenario):
            needed = results.get(step.requires_valid) if step.requires_valid else None
            if step.requires_valid and (needed is None or not needed.valid):
                results[step.id] = StepResult(step.id, step.kind, step.resources, status="skipped",
                                              detail=f"not run because {step.requires_valid} found errors")
                continue
            try:
                results[step.id] = step.run(document)
            except Exception as exc:
                results[step.id] = _crashed(step, exc)
        steps = [with_custom_levels(r, scenario.custom_level) for r in results.values()] + [wellformed]
        return self._result(name, data, config, scenario, steps, None, timestamp, started, document_data)

    def _refused_at_gate(self, name: str, data: bytes, config: _Config, exc: ValidationInputError,
                         timestamp: datetime, started: float) -> ValidationResult:
        text = exc.problem + (f" ({exc.fix})" if exc.fix else "")
        gate = StepResult("val-xml", "xml", (), (Message(step="val-xml", id="val-xml.1", code=exc.code,
                                                         level="error", custom_level="error", text=text,
                                                         line=exc.line, column=exc.column),))
        return self._result(name, data, config, None, [gate], exc.code, timestamp, started)

    def _pipeline(self, config: _Config, scenario: Scenario) -> list[Step]:
        """The scenario's steps, in configuration order: one XML Schema step, then each Schematron."""
        key = (config.bundle, scenario.name)
        steps = self._pipelines.get(key)
        if steps is None:
            steps = [XmlSchemaStep(scenario.schemas)]
            steps += [SchematronStep(r, f"val-sch.{i}", keep_raw=self.keep_raw)
                      for i, r in enumerate(scenario.schematrons, start=1)]
            self._pipelines[key] = steps
        return steps

    def _document_data(self, scenario: Scenario | None, document: Document) -> etree._Element | None:
        """``rep:documentData`` as the scenario's report stylesheet extracts it (its ``documentData`` template,
        KoSIT's customisation point, e.g. seller, invoice number and issue date in xrechnung-report.xsl)."""
        if scenario is None or scenario.report is None:
            return None
        try:
            executable = runtime.xslt(scenario.report.path)
            executable.set_parameter("input-document", document.xdm)
            try:
                text = executable.call_template_returning_string("documentData")
            finally:
                executable.clear_parameters()
        except Exception:
            return None  # a stylesheet without the template: the report simply has no documentData
        if not text or not text.strip():
            return None
        el = etree.fromstring(text.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True))
        if el.tag != f"{{{VARL_NS}}}documentData":
            return None
        etree.cleanup_namespaces(el)
        return el

    def _result(self, name: str, data: bytes, config: _Config, scenario: Scenario | None,
                steps: list[StepResult], reason: str | None, timestamp: datetime, started: float,
                document_data: etree._Element | None = None) -> ValidationResult:
        sha = hashlib.sha256(data).digest()
        report = build_report(engine_name=ENGINE_NAME, engine_info=self._engine_info(config), timestamp=timestamp,
                              sha256=sha, reference=name, scenario=scenario, steps=steps,
                              document_data=document_data)
        messages = tuple(m for s in steps for m in s.messages)
        report_bytes = etree.tostring(report, xml_declaration=True, encoding="UTF-8", pretty_print=True)
        if reason is None:
            crashed = any(s.status == "crashed" for s in steps)
            skipped = any(s.status == "skipped" for s in steps)
            if crashed:
                verdict, reason = "reject", "internal-error"
            elif scenario.accept_match:
                ok = accept_match(scenario, report)
                verdict = "accept" if ok and not skipped else "reject"
            else:
                # KoSIT ComputeAcceptanceAction without acceptMatch: schema-valid and no Schematron finding
                xsd_ok = all(s.valid for s in steps if s.kind == "xsd")
                sch_ok = not any(s.messages for s in steps if s.kind == "schematron")
                verdict = "accept" if xsd_ok and sch_ok and not skipped else "reject"
            if reason is None:
                reason = "accepted" if verdict == "accept" else (
                    "invalid" if any(m.custom_level == "error" for m in messages) else "not-accepted")
        else:
            verdict = "reject"
        if verdict == "accept" and assessment(scenario, messages) != "accept":  # belt and braces
            verdict, reason = "reject", "not-accepted"
        return ValidationResult(
            name=name, verdict=verdict, reason=reason, scenario=scenario.name if scenario else None,
            bundle=config.bundle, messages=messages, steps=tuple(steps), document=_pairs(document_data),
            sha256=sha.hex(), timestamp=timestamp.isoformat(), duration_ms=(time.perf_counter() - started) * 1000,
            report=report_bytes)

    def _engine_info(self, config: _Config) -> list[tuple[str, str]]:
        return [("bundle", config.bundle), ("scenarios", config.scenarios.name)]

    def _internal_error(self, data: Any, name: str, config: _Config, timestamp: datetime, started: float,
                        exc: BaseException) -> ValidationResult:
        message = Message(step="val-engine", id="val-engine.1", code="internal-error", level="error",
                          custom_level="error",
                          text=f"the validator failed on this document ({type(exc).__name__}: {exc}); "
                               f"it is rejected, please report this to the operator")
        step = StepResult("val-engine", "xml", (), (message,), status="crashed", detail=repr(exc))
        try:
            return self._result(name, bytes(data), config, None, [step], "internal-error", timestamp, started)
        except Exception:
            return ValidationResult(name=name, verdict="reject", reason="internal-error", scenario=None,
                                    bundle=config.bundle, messages=(message,), steps=(step,),
                                    timestamp=timestamp.isoformat(),
                                    duration_ms=(time.perf_counter() - started) * 1000)


#: An XPath that is nothing but a location path of element name tests with numeric predicates
#: (``/rep:report/rep:assessment[1]/rep:accept[1]``): it selects the same nodes in XPath 1.0 as in XPath 3.1,
#: and its effective boolean value (a non-empty node set) is the same in both.
_NAME = r"(?:[A-Za-z_][\w.\-]*:)?(?:[A-Za-z_][\w.\-]*|\*)"
_PLAIN_PATH = re.compile(rf"(?://?{_NAME}(?:\[[1-9][0-9]*\])*)+")


def accept_match(scenario: Scenario, report: etree._Element) -> bool:
    """The scenario's ``acceptMatch`` on the VARL report, as KoSIT ``ComputeAcceptanceAction`` evaluates it
    (effective boolean value, the report document as context); an expression that cannot be evaluated raises
    (the document is then rejected as an internal error, never accepted).

    A plain location path (the form KoSIT's configurations use) is evaluated by lxml on the report element just
    built, where it means the same as in XPath 3.1; any other expression is evaluated by Saxon on the report
    serialized and parsed again, compiled once per process (``runtime.xpath_tests``).
    """
    expression = scenario.accept_match
    if _PLAIN_PATH.fullmatch(expression):
        try:
            return bool(report.getroottree().xpath(expression, namespaces=dict(scenario.namespaces)))
        except etree.XPathError:  # e.g. an undeclared prefix: Saxon says what is wrong
            pass
    node = runtime.parse_xdm(etree.tostring(report, encoding="unicode"))
    tests = runtime.xpath_tests(((expression, scenario.namespaces),), errors_are_false=False)
    return tests.true_indices(node) == {0}


def _crashed(step: Step, exc: BaseException) -> StepResult:
    text = (f"step {step.id} ({', '.join(r.location for r in step.resources)}) failed: "
            f"{type(exc).__name__}: {exc}; the document is rejected, please report this to the operator")
    return StepResult(step.id, step.kind, step.resources,
                      (Message(step=step.id, id=f"{step.id}.1", code="internal-error", level="error",
                               custom_level="error", text=" ".join(text.split())),),
                      status="crashed", detail=repr(exc))


def _pairs(document_data: etree._Element | None) -> tuple[tuple[str, str], ...]:
    if document_data is None:
        return ()
    seen: dict[str, str] = {}
    for child in document_data:
        if isinstance(child.tag, str):
            key = etree.QName(child).localname
            value = " ".join("".join(child.itertext()).split())
            seen[key] = f"{seen[key]}; {value}" if key in seen else value
    return tuple(seen.items())


_DEFAULT: dict[str, Validator] = {}


def validate_file(path: str | Path, *, bundle: Any = None) -> ValidationResult:
    """Validate the file at ``path`` with a per-process Validator (built on first use, per ``bundle``)."""
    key = repr(bundle)
    validator = _DEFAULT.get(key)
    if validator is None:
        validator = _DEFAULT[key] = Validator.for_bundle(bundle)
    return validator.validate_path(path)
