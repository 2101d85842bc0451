"""The lean Schematron stylesheets (validators.lean) find exactly what the official ones find, on every official case.

For every official case that is well-formed, every Schematron XSLT of the installed bundle's scenarios written for
the document's namespace runs twice, official and lean, whatever the document's scenario or schema validity (more
inputs than the engine would give it); the Factur-X profile XSLTs (the PDF scenarios) run on every fourth CII case
and on the ZUGFeRD ones (all CII cases would take five times as long). The SVRL of the official
stylesheet without its ``svrl:fired-rule`` / ``svrl:suppressed-rule`` elements must equal the lean SVRL node for
node (white space between elements ignored, ``svrl:metadata`` with its creation time left out),
so in particular every ``failed-assert`` and ``successful-report``, in order, with all attributes and text.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest
from lxml import etree

from conftest import observed_cases
from erechnung import artifacts
from validators import runtime
from validators.lean import lean_stylesheet
from validators.scenarios import ScenarioSet
from validators.xmlsafe import ValidationInputError, parse_untrusted

SVRL = "{http://purl.oclc.org/dsdl/svrl}"


def _well_formed(case) -> bool:
    try:
        parse_untrusted(case.file.read_bytes())
    except ValidationInputError:
        return False
    return True


# Cases the XML gate refuses never reach Schematron, so there is nothing to compare for them.
CASES = [case for case in observed_cases() if _well_formed(case)]


@lru_cache(maxsize=None)
def _schematrons(profiles: bool = False) -> dict[str, tuple[Path, ...]]:
    """Schematron XSLT paths per namespace URI declared by the scenarios that run them: the installed bundle's, or
    with ``profiles`` the Factur-X profile scenarios' (validators.pdf) that the bundle does not run itself."""
    bundle = artifacts.bundle_in_force()
    sset = ScenarioSet.load(bundle.scenarios, bundle.directory)
    own = {r.path for s in sset.scenarios for r in s.schematrons}
    if profiles:
        try:
            from validators import pdf
        except ImportError:
            return {}
        sset = ScenarioSet.load(pdf.PDF_SCENARIOS, bundle.directory)
    by_ns: dict[str, dict[Path, None]] = {}
    for s in sset.scenarios:
        for _, uri in s.namespaces:
            for r in s.schematrons:
                if not profiles or r.path not in own:
                    by_ns.setdefault(uri, {})[r.path] = None
    return {uri: tuple(paths) for uri, paths in by_ns.items()}


def _sampled_for_profiles(index: int, case) -> bool:
    return index % 4 == 0 or "zugferd" in case.path


def _canon(el) -> tuple:
    """A node and its subtree, independent of where the serializer put namespace declarations."""
    if not isinstance(el.tag, str):
        return ("#" + type(el).__name__, el.text, (el.tail or "").strip())
    return (el.tag, tuple(sorted(el.attrib.items())), el.text or "", tuple(_canon(c) for c in el),
            (el.tail or "").strip())


def _comparable(svrl: str, drop_fired: bool) -> tuple:
    root = etree.fromstring(svrl.encode("utf-8"), etree.XMLParser(remove_blank_text=True, huge_tree=True))
    doomed = [e for e in root.iter(f"{SVRL}metadata")]
    if drop_fired:
        doomed += [e for e in root.iter(f"{SVRL}fired-rule", f"{SVRL}suppressed-rule")]
    for e in doomed:
        e.getparent().remove(e)
    return _canon(root)


def _findings(svrl: str) -> list[tuple]:
    root = etree.fromstring(svrl.encode("utf-8"), etree.XMLParser(huge_tree=True))
    return [_canon(e)[:4] for e in root.iter(f"{SVRL}failed-assert", f"{SVRL}successful-report")]


def _run(executable, node) -> str | Exception:
    try:
        return executable.transform_to_string(xdm_node=node)
    except Exception as exc:
        return exc


def test_the_lean_copies_leave_out_something_in_every_official_schematron():
    paths = {p for profiles in (False, True) for ps in _schematrons(profiles).values() for p in ps}
    assert len(paths) >= 4
    for path in paths:
        lean = lean_stylesheet(path.read_bytes())
        assert lean.text is not None and lean.removed_elements > 0 and lean.kept_elements == 0, path


@pytest.mark.parametrize("index, case", list(enumerate(CASES)), ids=[c.path for c in CASES])
def test_lean_and_official_schematron_find_the_same(index, case):
    tree = parse_untrusted(case.file.read_bytes())
    namespace = etree.QName(tree.getroot()).namespace
    paths = _schematrons().get(namespace, ())
    if _sampled_for_profiles(index, case):
        paths += _schematrons(True).get(namespace, ())
    if not paths:
        pytest.skip(f"no scenario declares the namespace {namespace}")
    node = runtime.parse_xdm(etree.tostring(tree, encoding="unicode"))
    for path in paths:
        official, lean = (_run(runtime.xslt(path, lean=flag), node) for flag in (False, True))
        if isinstance(official, Exception):  # a dynamic error in a rule (e.g. a schema-invalid document)
            assert isinstance(lean, Exception) and str(lean) == str(official), f"{case.path}: {path.name}"
            continue
        assert _findings(lean) == _findings(official), f"{case.path}: {path.name}"
        assert _comparable(lean, drop_fired=False) == _comparable(official, drop_fired=True), f"{case.path}: {path.name}"


_SKELETON = """<xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" xmlns:svrl="http://purl.oclc.org/dsdl/svrl"
    version="2.0">
  <xsl:template match="text()" priority="-1"/>
  {extra}
  <xsl:template match="/">
    <svrl:schematron-output>
      <svrl:active-pattern><xsl:attribute name="id">p</xsl:attribute><xsl:apply-templates/></svrl:active-pattern>
      <xsl:apply-templates mode="M1" select="/"/>
    </svrl:schematron-output>
  </xsl:template>
  <xsl:template match="a" mode="M1">
    {fired}
    <xsl:if test="not(b)"><svrl:failed-assert id="R1"><svrl:text>b missing</svrl:text></svrl:failed-assert></xsl:if>
  </xsl:template>
</xsl:stylesheet>"""


def _lean(extra: str = "", fired: str = '<svrl:fired-rule context="a"/>'):
    return lean_stylesheet(_SKELETON.format(extra=extra, fired=fired).encode())


def test_a_plain_fired_rule_and_a_silent_walk_are_left_out():
    lean = _lean()
    assert (lean.removed_elements, lean.removed_walks, lean.kept_elements) == (1, 1, 0)
    assert b"fired-rule" not in lean.text and b"<xsl:apply-templates/>" not in lean.text
    assert b"failed-assert" in lean.text and b'mode="M1"' in lean.text


@pytest.mark.parametrize("fired", [
    '<svrl:fired-rule context="{name()}"/>',                                          # an attribute value template
    '<svrl:fired-rule><xsl:attribute name="x" select="error()"/></svrl:fired-rule>',  # an expression that can fail
    '<svrl:fired-rule><xsl:message>side effect</xsl:message></svrl:fired-rule>',      # not an attribute maker
    '<svrl:fired-rule>text</svrl:fired-rule>',                                        # content of its own
])
def test_a_fired_rule_that_might_do_more_than_make_itself_stays(fired):
    lean = _lean(fired=fired)
    assert lean.kept_elements == 1 and lean.removed_elements == 0


@pytest.mark.parametrize("extra", [
    '<xsl:template match="*"><out/></xsl:template>',          # the default mode writes something for elements
    '<xsl:template match="comment()"><xsl:copy/></xsl:template>',
    '<xsl:include href="other.xsl"/>',                        # templates we cannot see
])
def test_the_default_mode_walk_stays_when_it_might_write_something(extra):
    assert _lean(extra=extra).removed_walks == 0


def test_without_an_empty_text_rule_the_walk_would_copy_text_and_stays():
    text = _SKELETON.format(extra="", fired="").replace('<xsl:template match="text()" priority="-1"/>', "")
    assert lean_stylesheet(text.encode()).removed_walks == 0
