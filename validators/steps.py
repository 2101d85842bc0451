"""Validation steps: small objects with one method, ``run(document) -> StepResult``; a scenario's pipeline is a list.

Step ids and message ids follow the KoSIT report stylesheet (default-report.xsl): ``val-xml`` for
well-formedness, ``val-xsd`` for XML Schema, ``val-sch.1``, ``val-sch.2`` ... for the Schematron steps in the
order of scenarios.xml; a message's id is its step id, a dot and its position (``val-sch.1.3``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Protocol

from lxml import etree

from validators import runtime
from validators.scenarios import Resource

SVRL_NS = "http://purl.oclc.org/dsdl/svrl"
_SVRL = f"{{{SVRL_NS}}}"


@dataclass(frozen=True)
class Message:
    """One finding. ``level`` is what the check itself said, ``custom_level`` what it counts as after the
    scenario's ``customLevel`` overrides (KoSIT default-report.xsl ``rep:custom-level``)."""

    step: str
    code: str
    level: str
    custom_level: str
    text: str
    location: str | None = None  # XPath of the offending node, as the check reported it
    line: int | None = None
    column: int | None = None
    id: str = ""

    @property
    def is_error(self) -> bool:
        return self.custom_level == "error"


@dataclass(frozen=True)
class StepResult:
    """What one step found. ``status``: ``ran``, ``skipped`` (a precondition failed) or ``crashed``."""

    id: str
    kind: str  # "xml" | "xsd" | "schematron"
    resources: tuple[Resource, ...]
    messages: tuple[Message, ...] = ()
    status: str = "ran"
    detail: str = ""
    raw: bytes | None = field(default=None, repr=False)  # SVRL output, kept only on request (KoSIT oracle)

    @property
    def valid(self) -> bool:
        """KoSIT default-report.xsl: a step is valid when it has no message of level error or warning."""
        return self.status == "ran" and not any(m.level in ("error", "warning") for m in self.messages)


class Document:
    """A document that passed the gate: its bytes, its lxml tree, and (on first use) its Saxon tree.

    The Saxon tree is built once and shared by scenario selection and every Schematron step.
    """

    def __init__(self, name: str, data: bytes, tree: etree._ElementTree) -> None:
        self.name, self.data, self.tree = name, data, tree
        self._xdm = None

    @property
    def xdm(self):
        if self._xdm is None:
            text = self._original_text()
            if text is not None:
                try:
                    self._xdm = runtime.parse_xdm(text)
                except Exception:  # Saxon's parser refused what libxml2 accepted: give it libxml2's reading
                    self._xdm = None
            if self._xdm is None:
                self._xdm = runtime.parse_xdm(etree.tostring(self.tree, encoding="unicode"))
        return self._xdm

    def _original_text(self) -> str | None:
        """The document's own text, when handing it to Saxon is certain to give the tree the gate saw: an XML 1.0
        document in UTF-8 (declared or by default). Saves serializing the lxml tree again; anything else (another
        encoding, XML 1.1, bytes that are not UTF-8) is serialized from the lxml tree, as before."""
        info = self.tree.docinfo
        if b"\x00" in self.data:  # UTF-16 or UTF-32 (libxml2 may still call it UTF-8); never in UTF-8 XML
            return None
        if (info.encoding or "UTF-8").upper().replace("_", "-") not in ("UTF-8", "UTF8") or info.xml_version != "1.0":
            return None
        try:
            return self.data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return None


class Step(Protocol):
    id: str
    kind: str
    #: id of a step that must have run and be free of errors for this one to run (KoSIT skips Schematron
    #: when the document is not schema-valid: SchematronValidationAction.isSkipped), or None.
    requires_valid: str | None

    def run(self, document: Document) -> StepResult: ...


# --------------------------------------------------------------------------------------------------------------
# XML Schema
# --------------------------------------------------------------------------------------------------------------

#: libxml2 error types that are not named after the XML Schema validation rule they report, mapped to that rule
#: (XML Schema 1.0 part 1, "Validation Rules"; Xerces uses the same names, e.g. cvc-complex-type.2.4.a).
_XSD_RULE_OF = {
    "SCHEMAV_ELEMENT_CONTENT": "cvc-complex-type.2.4",
    "SCHEMAV_CVC_IDC": "cvc-identity-constraint",
}


def xsd_rule(type_name: str) -> str:
    """The XML Schema validation rule (``cvc-...``) of a libxml2 schema error, else KoSIT's ``generic-error``.

    ``SCHEMAV_CVC_COMPLEX_TYPE_2_4`` -> ``cvc-complex-type.2.4``; ``SCHEMAV_CVC_ENUMERATION_VALID`` ->
    ``cvc-enumeration-valid``. KoSIT default-report.xsl takes the code from a message that starts with ``cvc-``
    and calls every other XML syntax error ``generic-error``.
    """
    if type_name in _XSD_RULE_OF:
        return _XSD_RULE_OF[type_name]
    if type_name.startswith("SCHEMAV_CVC_"):
        words, numbers = [], []
        for part in type_name[len("SCHEMAV_CVC_"):].split("_"):
            (numbers if part.isdigit() or numbers else words).append(part.lower())
        return "cvc-" + "-".join(words) + ("." + ".".join(numbers) if numbers else "")
    return "generic-error"


class XmlSchemaStep:
    """``validateWithXmlSchema``: lxml XMLSchema, compiled once per process (``runtime.xml_schema``)."""

    kind = "xsd"
    requires_valid = None

    def __init__(self, resources: tuple[Resource, ...], step_id: str = "val-xsd") -> None:
        self.id, self.resources = step_id, resources

    def run(self, document: Document) -> StepResult:
        schema = runtime.xml_schema(tuple(r.path for r in self.resources))
        schema.validate(document.tree)
        messages = []
        for n, err in enumerate(schema.error_log, start=1):
            # KoSIT default-report.xsl reads the severity from an attribute its input never has, so every XML
            # syntax message is reported as an error; so is ours.
            level = "error"
            messages.append(Message(step=self.id, id=f"{self.id}.{n}", code=xsd_rule(err.type_name), level=level,
                                    custom_level=level, text=err.message, location=err.path or None,
                                    line=err.line or None, column=err.column or None))
        return StepResult(self.id, self.kind, self.resources, tuple(messages))


# --------------------------------------------------------------------------------------------------------------
# Schematron (compiled XSLT producing SVRL)
# --------------------------------------------------------------------------------------------------------------

def svrl_level(flag: str | None, role: str | None) -> str:
    """The level of an SVRL ``failed-assert``/``successful-report``, exactly as KoSIT default-report.xsl decides it:
    ``(@flag, @role) = ('fatal', 'error')`` -> error; ``('warning', 'warn')`` -> warning;
    ``('information', 'info')`` -> information; anything else (or nothing) -> error."""
    values = {v for v in (flag, role) if v is not None}
    if values & {"fatal", "error"}:
        return "error"
    if values & {"warning", "warn"}:
        return "warning"
    if values & {"information", "info"}:
        return "information"
    return "error"


_STEP = re.compile(
    r"""/(?:
        \*:(?P<local>[\w.\-]+)\[namespace-uri\(\)='(?P<ns>[^']*)'\](?:\[(?P<pos>\d+)\])?    # /*:Name[namespace-uri()='ns'][n]
      | Q\{(?P<qns>[^}]*)\}(?P<qlocal>[\w.\-]+)(?:\[(?P<qpos>\d+)\])?                     # /Q{ns}Name[n]
      | (?P<plain>[\w.\-]+)(?![\w.\-]*\()(?:\[(?P<ppos>\d+)\])?                          # /Name[n] (no namespace)
      | @(?P<attr>[^/\[]+)                                                                # /@attr (the end)
      | [^/]+                                                                             # text(), comment() ...
    )""", re.VERBOSE)


def line_of(tree: etree._ElementTree, location: str | None) -> int | None:
    """The source line of the element an SVRL ``@location`` points at, or None when the path cannot be followed.

    SVRL locations are XPath 2 paths in one of the forms the Schematron compilers write
    (``/*:Invoice[namespace-uri()='...'][1]/...`` or ``/Q{...}Invoice[1]/...``); an attribute or text step
    resolves to its element's line.
    """
    if not location or not location.startswith("/"):
        return None
    node: etree._Element | None = None
    pos = 0
    while pos < len(location):
        m = _STEP.match(location, pos)
        if not m:
            return None
        pos = m.end()
        if m.group("local") is not None:
            tag, index = f"{{{m.group('ns')}}}{m.group('local')}" if m.group("ns") else m.group("local"), m.group("pos")
        elif m.group("qlocal") is not None:
            tag, index = (f"{{{m.group('qns')}}}{m.group('qlocal')}" if m.group("qns") else m.group("qlocal"),
                          m.group("qpos"))
        elif m.group("plain") is not None:
            tag, index = m.group("plain"), m.group("ppos")
        else:
            break  # attribute, text or other node: its element is the answer
        i = int(index or 1)
        if node is None:
            root = tree.getroot()
            node = root if (root.tag == tag and i == 1) else None
        else:
            children = [c for c in node if c.tag == tag]
            node = children[i - 1] if len(children) >= i else None
        if node is None:
            return None
    return node.sourceline if node is not None else None


class SchematronStep:
    """``validateWithSchematron``: the compiled Schematron XSLT run by Saxon on the shared Saxon tree; the SVRL
    result is read with lxml. Only ``failed-assert`` and ``successful-report`` become messages (KoSIT
    default-report.xsl); the code is ``@id`` (``UNSPECIFIC`` when absent), the text is ``svrl:text``.

    ``lean`` (the default): run the stylesheet's lean copy (``validators.lean``), which leaves out the
    ``svrl:fired-rule`` elements and the ISO skeleton's silent default-mode walks and finds exactly the same; the
    SVRL kept with ``keep_raw`` then has no ``fired-rule`` elements either."""

    kind = "schematron"
    requires_valid = "val-xsd"

    def __init__(self, resource: Resource, step_id: str, keep_raw: bool = False, lean: bool = True) -> None:
        self.id, self.resources, self.keep_raw, self.lean = step_id, (resource,), keep_raw, lean

    def run(self, document: Document) -> StepResult:
        return self.read_svrl(self.transform(document), document)

    def transform(self, document: Document) -> str:
        """The stylesheet's SVRL output for ``document``, as text."""
        return runtime.xslt(self.resources[0].path, lean=self.lean).transform_to_string(xdm_node=document.xdm)

    def read_svrl(self, svrl: str, document: Document) -> StepResult:
        """The step result read from the SVRL text the stylesheet wrote for ``document``."""
        if not svrl:
            raise RuntimeError(f"Schematron {self.resources[0].location} returned no SVRL output")
        raw = svrl.encode("utf-8")
        root = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True))
        if root.tag != f"{_SVRL}schematron-output":
            raise RuntimeError(f"Schematron {self.resources[0].location} did not produce svrl:schematron-output")
        messages = []
        for n, el in enumerate(root.iterchildren(f"{_SVRL}failed-assert", f"{_SVRL}successful-report"), start=1):
            level = svrl_level(el.get("flag"), el.get("role"))
            location = el.get("location")
            text = " ".join("".join(t.itertext()) for t in el.iterfind(f"{_SVRL}text"))
            messages.append(Message(step=self.id, id=f"{self.id}.{n}", code=el.get("id") or "UNSPECIFIC",
                                    level=level, custom_level=level, text=" ".join(text.split()),
                                    location=location, line=line_of(document.tree, location)))
        return StepResult(self.id, self.kind, self.resources, tuple(messages), raw=raw if self.keep_raw else None)


def with_custom_levels(result: StepResult, custom_level) -> StepResult:
    """``result`` with every message's ``custom_level`` set by ``custom_level(code, level)``."""
    return replace(result, messages=tuple(replace(m, custom_level=custom_level(m.code, m.level))
                                          for m in result.messages))
