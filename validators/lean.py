"""Lean copies of Schematron XSLTs: the same rules and the same findings, without SVRL output nobody reads.

KoSIT reads only ``svrl:failed-assert`` and ``svrl:successful-report`` from a Schematron step's SVRL
(``default-report.xsl``), and so does ``validators.steps.SchematronStep``. The Schematron compilers write more:

- an ``svrl:fired-rule`` element for every rule that fires (about 120 per invoice for the CEN rules; SchXslt also
  writes ``svrl:suppressed-rule`` for shadowed rules);
- the ISO skeleton (the CEN XSLTs) runs ``<xsl:apply-templates/>`` in the default mode once per pattern, inside
  ``svrl:active-pattern``: a walk over the whole document whose only default-mode template rule for the nodes it
  visits is an empty ``text()`` rule, so it writes nothing.

Building that output, serializing it and parsing it again cost about a fifth of the CEN Schematron time (measured
with saxonche 13.1: 2.66 -> 1.98 ms per document, XRechnung SchXslt 0.97 -> 0.84 ms).

:func:`lean_stylesheet` makes, in memory, a copy of an official stylesheet without exactly those parts, and only
where it can show from the stylesheet's own text that nothing else changes (the file on disk is never touched):

1. an ``svrl:fired-rule`` or ``svrl:suppressed-rule`` literal result element is removed when it has no attribute
   value template and its content is only instructions that make its own attributes (``xsl:attribute`` with a
   fixed name, ``xsl:variable``, ``xsl:if``, ``xsl:value-of``, ``xsl:text``) whose expressions are all in
   :data:`SAFE_EXPRESSIONS` (functions that cannot fail, like ``document-uri()``). Such an element is a leaf of
   the output: removing it removes that element and nothing else, and no evaluation in it can raise an error;
2. an ``<xsl:apply-templates/>`` (no ``select``, no ``mode``, no parameters) directly inside an
   ``svrl:active-pattern`` of the template for ``/`` is removed when the stylesheet imports and includes nothing,
   declares no default mode, and every template rule of the default mode either matches only ``/`` or is empty,
   and one of the empty ones matches ``text()``: the built-in rules then visit elements and write nothing,
   text nodes go to the empty rule, comments and processing instructions are dropped, and a walk from the
   document node never meets a document node again. Its output is empty and it cannot raise an error.

Anything else stays as it is; a stylesheet in which nothing qualifies is used unchanged. The test
``tests/validators/test_lean_schematron.py`` compares the findings of every official and lean stylesheet on every
official case.
"""
from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

XSL_NS = "http://www.w3.org/1999/XSL/Transform"
SVRL_NS = "http://purl.oclc.org/dsdl/svrl"
_X, _S = f"{{{XSL_NS}}}", f"{{{SVRL_NS}}}"

#: Expressions that can appear inside a removable element: none can raise a dynamic error or has an effect
#: outside the element (document-uri/base-uri of a node are empty or a URI; the context of a template rule is
#: always a node).
SAFE_EXPRESSIONS = frozenset({
    "document-uri()", "document-uri(/)", "document-uri(.)", "base-uri()", "base-uri(.)", "base-uri(root())",
    "exists(base-uri(root()))",
})
_REMOVABLE = (f"{_S}fired-rule", f"{_S}suppressed-rule")
_ATTRIBUTE_MAKERS = {f"{_X}attribute", f"{_X}variable", f"{_X}if", f"{_X}value-of", f"{_X}text"}


@dataclass(frozen=True)
class Lean:
    """The outcome of :func:`lean_stylesheet`: the lean text (None when nothing could be removed) and counts."""

    text: bytes | None
    removed_elements: int
    removed_walks: int
    kept_elements: int  # fired-rule/suppressed-rule elements that did not qualify and stay


def _no_avt(el: etree._Element) -> bool:
    return not any("{" in v for v in el.attrib.values())


def _expressions_safe(el: etree._Element, local_variables: set[str]) -> bool:
    """Every expression of ``el`` is in :data:`SAFE_EXPRESSIONS`, or is ``$v`` or ``exists($v)`` for a variable
    ``v`` declared inside the element being removed (bound to a safe expression itself)."""
    allowed = SAFE_EXPRESSIONS | {f"${v}" for v in local_variables} | {f"exists(${v})" for v in local_variables}
    for attr in ("select", "test"):
        value = el.get(attr)
        if value is not None and " ".join(value.split()) not in allowed:
            return False
    return True


def _removable(el: etree._Element) -> bool:
    """True when the literal result element ``el`` can only produce itself and its own attributes, safely."""
    if not _no_avt(el):
        return False
    local_variables = {v.get("name") for v in el.iterdescendants(f"{_X}variable")}
    for d in el.iterdescendants():
        if not isinstance(d.tag, str):
            continue  # comments and processing instructions in the stylesheet are not instructions
        if d.tag not in _ATTRIBUTE_MAKERS or not _expressions_safe(d, local_variables):
            return False
        if d.tag == f"{_X}attribute" and ("{" in (d.get("name") or "{") or d.get("namespace")):
            return False
        if d.tag in (f"{_X}value-of", f"{_X}text") and d.getparent().tag != f"{_X}attribute":
            return False  # only attribute content: text in the element itself is not expected, keep it
    if (el.text or "").strip() or any((c.tail or "").strip() for c in el):
        return False
    return True


def _modes(template: etree._Element) -> set[str]:
    return set((template.get("mode") or "#default").split())


def _default_walk_is_silent(root: etree._Element) -> bool:
    """True when ``<xsl:apply-templates/>`` in the default mode provably writes nothing (see module doc, 2)."""
    if root.get("default-mode") or root.find(f"{_X}mode") is not None:
        return False
    if root.find(f"{_X}import") is not None or root.find(f"{_X}include") is not None:
        return False
    empty_text_rule = False
    for t in root.iterchildren(f"{_X}template"):
        if not (_modes(t) & {"#default", "#all"}) or t.get("match") is None:
            continue
        match = " ".join(t.get("match").split())
        body = [c for c in t if isinstance(c.tag, str)]
        empty = not body and not (t.text or "").strip()
        if match == "/" and "#all" not in _modes(t):
            continue  # the root template: a walk below the document node never meets a document node
        if not empty:
            return False
        empty_text_rule |= match == "text()"
    return empty_text_rule


def lean_stylesheet(source: bytes) -> Lean:
    """The lean copy of the XSLT ``source`` (see the module documentation for what is removed and why)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_blank_text=False)
    root = etree.fromstring(source, parser)
    if root.tag not in (f"{_X}stylesheet", f"{_X}transform"):
        return Lean(None, 0, 0, 0)
    removed = kept = walks = 0
    for el in [e for e in root.iter(*_REMOVABLE)]:
        parent = el.getparent()
        if parent is not None and _removable(el):
            _remove(el)
            removed += 1
        else:
            kept += 1
    if _default_walk_is_silent(root):
        for top in root.iterchildren(f"{_X}template"):
            if " ".join((top.get("match") or "").split()) != "/" or "#default" not in _modes(top):
                continue
            for pattern in top.iter(f"{_S}active-pattern"):
                for walk in pattern.findall(f"{_X}apply-templates"):
                    if not walk.attrib and not any(isinstance(c.tag, str) for c in walk):
                        _remove(walk)
                        walks += 1
    if not removed and not walks:
        return Lean(None, 0, 0, kept)
    return Lean(etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8"), removed, walks, kept)


def _remove(el: etree._Element) -> None:
    """Remove ``el`` but keep its tail text (white space between instructions; in XSLT it is stripped anyway)."""
    parent = el.getparent()
    if el.tail:
        previous = el.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)
