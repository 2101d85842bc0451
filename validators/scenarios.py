"""The KoSIT ``scenarios.xml`` read into frozen objects: the validator does what this file says.

Source: KoSIT validator framework, schema ``resources/xsd/validator/scenarios.xsd`` (namespace
``http://www.xoev.de/de/validator/framework/1/scenarios``). A scenario has a ``name``, ``namespace`` declarations,
a ``match`` XPath, one ``validateWithXmlSchema`` (one or more resources), ``validateWithSchematron`` steps in order,
a ``createReport`` resource with ``customLevel`` overrides, and an ``acceptMatch`` XPath evaluated on the report.
``noScenarioReport`` names the report stylesheet used when no scenario matches.

Nothing here knows UBL, CII or any rule id; a new bundle is a new ``scenarios.xml``.

Selection follows the KoSIT validator (``ScenarioRepository.selectScenario``): every scenario's ``match`` is
evaluated on the document; exactly one match selects that scenario, none selects no scenario, and more than
one is treated as no scenario too ("More than one scenario matches the specified document"). With the scenarios
KoSIT ships, the ``match`` expressions exclude each other, so this is the same as "the first match wins".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Callable, Collection

from lxml import etree

from erechnung.errors import ErechnungError

SCENARIOS_NS = "http://www.xoev.de/de/validator/framework/1/scenarios"
_S = f"{{{SCENARIOS_NS}}}"
LEVELS = ("error", "warning", "information")


class ScenarioConfigError(ErechnungError):
    """``scenarios.xml`` is missing, malformed, or names a resource that is not installed."""


@dataclass(frozen=True)
class Resource:
    """A ``s:resource``: a name for people and a location relative to the bundle (the KoSIT "repository")."""

    name: str
    location: str
    path: Path


@dataclass(frozen=True)
class Scenario:
    """One ``s:scenario`` of scenarios.xml."""

    name: str
    namespaces: tuple[tuple[str, str], ...]
    match: str
    schemas: tuple[Resource, ...]
    schematrons: tuple[Resource, ...]
    report: Resource | None
    custom_levels: tuple[tuple[str, str], ...]  # (code, level), from createReport/customLevel
    accept_match: str | None
    element: bytes = field(repr=False, compare=False)  # the s:scenario element as written, quoted into reports

    @cached_property
    def _levels(self) -> dict[str, str]:
        return dict(self.custom_levels)

    def custom_level(self, code: str, level: str) -> str:
        """The level a message counts with after the scenario's overrides.

        KoSIT default-report.xsl, function ``rep:custom-level``: if a ``customLevel`` lists the message's
        ``@code`` among its whitespace-separated tokens, its ``@level`` applies; otherwise the message's own level.
        """
        return self._levels.get(code, level)


@dataclass(frozen=True)
class Selection:
    """The outcome of scenario selection: the scenario, or why there is none."""

    scenario: Scenario | None
    matched: tuple[str, ...]  # names of every scenario whose match was true

    @property
    def reason(self) -> str | None:
        if self.scenario is not None:
            return None
        return "scenario-ambiguous" if len(self.matched) > 1 else "no-scenario"


@dataclass(frozen=True)
class ScenarioSet:
    """All scenarios of one scenarios.xml, with the folder their resource locations are relative to."""

    name: str
    date: date | None
    scenarios: tuple[Scenario, ...]
    no_scenario_report: Resource | None
    source: Path
    repository: Path

    @classmethod
    def load(cls, scenarios_xml: Path, repository: Path | None = None) -> "ScenarioSet":
        """Read ``scenarios_xml``; resource locations resolve against ``repository`` (default: its folder).

        Every resource must exist, so that a broken installation fails here, once, with the file's name,
        rather than as a rejected invoice later.
        """
        scenarios_xml = Path(scenarios_xml)
        repository = Path(repository) if repository is not None else scenarios_xml.parent
        try:
            root = etree.parse(str(scenarios_xml), etree.XMLParser(
                no_network=True, resolve_entities=False, load_dtd=False, remove_comments=True)).getroot()
        except (OSError, etree.XMLSyntaxError) as exc:
            raise ScenarioConfigError(f"cannot read the scenario configuration {scenarios_xml}: {exc}") from exc
        if root.tag != f"{_S}scenarios":
            raise ScenarioConfigError(f"{scenarios_xml} is not a KoSIT scenarios file (root {root.tag})")
        scenarios = tuple(_scenario(el, repository, scenarios_xml) for el in root.iterfind(f"{_S}scenario"))
        if not scenarios:
            raise ScenarioConfigError(f"{scenarios_xml} defines no scenario")
        names = [s.name for s in scenarios]
        if len(set(names)) != len(names):
            raise ScenarioConfigError(f"{scenarios_xml}: scenario names are not unique")
        fallback = root.find(f"{_S}noScenarioReport/{_S}resource")
        raw_date = root.findtext(f"{_S}date")
        try:
            parsed_date = date.fromisoformat(raw_date.strip()) if raw_date else None
        except ValueError:
            parsed_date = None
        return cls(name=_text(root.findtext(f"{_S}name")), date=parsed_date, scenarios=scenarios,
                   no_scenario_report=_resource(fallback, repository, scenarios_xml) if fallback is not None else None,
                   source=scenarios_xml, repository=repository)

    @cached_property
    def match_tests(self) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
        """Every scenario's ``match`` with its namespace declarations, in file order (for ``runtime.xpath_tests``)."""
        return tuple((s.match, s.namespaces) for s in self.scenarios)

    def select(self, matches: Callable[[Scenario], bool]) -> Selection:
        """Select the scenario for a document; ``matches(scenario)`` evaluates its ``match`` on the document.

        An expression that cannot be evaluated counts as not matching (KoSIT ``ScenarioRepository.match``).
        """
        hits: list[int] = []
        for i, scenario in enumerate(self.scenarios):
            try:
                ok = matches(scenario)
            except Exception:
                ok = False
            if ok:
                hits.append(i)
        return self.select_matched(hits)

    def select_matched(self, matched: Collection[int]) -> Selection:
        """The selection when the scenarios at positions ``matched`` (0-based, file order) are those whose
        ``match`` is true: exactly one selects it; none, or more than one, selects no scenario (KoSIT
        ``ScenarioRepository.selectScenario``)."""
        hits = [s for i, s in enumerate(self.scenarios) if i in matched]
        return Selection(hits[0] if len(hits) == 1 else None, tuple(s.name for s in hits))

    def resources(self) -> list[Resource]:
        """Every resource the scenarios use, each once (for warming caches)."""
        seen: dict[Path, Resource] = {}
        for s in self.scenarios:
            for r in (*s.schemas, *s.schematrons, *((s.report,) if s.report else ())):
                seen.setdefault(r.path, r)
        if self.no_scenario_report:
            seen.setdefault(self.no_scenario_report.path, self.no_scenario_report)
        return list(seen.values())


def _text(value: str | None) -> str:
    return " ".join((value or "").split())


def _resource(el: etree._Element, repository: Path, source: Path) -> Resource:
    location = (el.findtext(f"{_S}location") or "").strip()
    if not location:
        raise ScenarioConfigError(f"{source}: a resource has no location")
    path = (repository / location).resolve()
    if not path.is_file():
        raise ScenarioConfigError(f"{source}: resource {location!r} is not installed (expected {path}); "
                                  f"run `make artifacts`")
    return Resource(name=_text(el.findtext(f"{_S}name")), location=location, path=path)


def _scenario(el: etree._Element, repository: Path, source: Path) -> Scenario:
    name = _text(el.findtext(f"{_S}name"))
    where = f"{source}: scenario {name!r}"
    namespaces = tuple((ns.get("prefix"), (ns.text or "").strip()) for ns in el.iterfind(f"{_S}namespace"))
    match = (el.findtext(f"{_S}match") or "").strip()
    if not name or not match:
        raise ScenarioConfigError(f"{where}: every scenario needs a name and a match expression")
    schemas = tuple(_resource(r, repository, source)
                    for r in el.iterfind(f"{_S}validateWithXmlSchema/{_S}resource"))
    if not schemas:
        raise ScenarioConfigError(f"{where}: validateWithXmlSchema names no schema")
    schematrons = tuple(_resource(r, repository, source)
                        for r in el.iterfind(f"{_S}validateWithSchematron/{_S}resource"))
    report_el = el.find(f"{_S}createReport/{_S}resource")
    custom: dict[str, str] = {}
    for cl in el.iterfind(f"{_S}createReport/{_S}customLevel"):
        level = cl.get("level")
        if level not in LEVELS:
            raise ScenarioConfigError(f"{where}: customLevel level {level!r} is not one of {', '.join(LEVELS)}")
        for code in (cl.text or "").split():
            if code in custom and custom[code] != level:
                raise ScenarioConfigError(f"{where}: rule {code} has two different customLevel entries")
            custom[code] = level
    accept = (el.findtext(f"{_S}acceptMatch") or "").strip() or None
    return Scenario(name=name, namespaces=namespaces, match=match, schemas=schemas, schematrons=schematrons,
                    report=_resource(report_el, repository, source) if report_el is not None else None,
                    custom_levels=tuple(custom.items()), accept_match=accept,
                    element=etree.tostring(el))
