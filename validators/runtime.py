"""Per-process machinery: one Saxon processor, compiled stylesheets and schemas, created lazily and cached.

Saxon (saxonche) must not be created before a ``fork``: its runtime does not survive being copied into a child
process. Nothing here is created at import time; the first validation in a process creates the processor, and
every XSLT and XSD is compiled on first use and kept for the life of the process, keyed by its absolute path.
Worker pools must use the ``spawn`` start method (see ``validators.parallel``). If a process that already holds
Saxon forks and the child tries to use it, :class:`ForkedRuntimeError` is raised instead of a crash.

Not thread-safe: one Validator per process (or per thread with its own process), as KoSIT's own daemon uses one
transformer per request.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from lxml import etree

from erechnung.errors import ErechnungError


class ForkedRuntimeError(ErechnungError):
    """Saxon was created in a parent process and this process is a fork of it; use ``spawn`` workers."""


class ResourceCompileError(ErechnungError):
    """An official stylesheet or schema named in scenarios.xml cannot be read or compiled."""


class _Runtime:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.saxon = None
        self.xslt30 = None
        self.xslt: dict[tuple[str, bool], object] = {}
        self.xsd: dict[tuple[str, ...], etree.XMLSchema] = {}
        self.xpath: dict[tuple[tuple[str, str], ...], object] = {}
        self.tests: dict[tuple, XPathTests] = {}
        self.compile_seconds: dict[str, float] = {}


_STATE: _Runtime | None = None
_LOCK = threading.Lock()


def _state() -> _Runtime:
    global _STATE
    state = _STATE
    if state is not None and state.pid == os.getpid():  # the common case, once per call: no lock needed
        return state
    with _LOCK:
        if _STATE is None:
            _STATE = _Runtime()
        elif _STATE.pid != os.getpid():
            if _STATE.saxon is not None:
                raise ForkedRuntimeError(
                    "this process was forked from one that had already started Saxon; start worker processes "
                    "with the 'spawn' method (validators.parallel does)")
            _STATE = _Runtime()
        return _STATE


def saxon():
    """The process's one ``PySaxonProcessor`` (Saxon-HE, no licence), created on first use."""
    st = _state()
    if st.saxon is None:
        from saxonche import PySaxonProcessor  # imported lazily: importing alone must not start anything

        st.saxon = PySaxonProcessor(license=False)
        st.xslt30 = st.saxon.new_xslt30_processor()
    return st.saxon


def xslt(path: Path, *, lean: bool = False):
    """The compiled stylesheet at ``path`` (``PyXsltExecutable``), compiled once per process.

    ``lean``: compile the stylesheet's lean copy (``validators.lean``: the same findings without the SVRL output
    nobody reads), made in memory with the file's own base URI, so relative references resolve as before; when
    nothing can be left out, this is the stylesheet itself.
    """
    st = _state()
    executable = st.xslt.get((str(path), lean))
    if executable is not None:
        return executable
    key = str(Path(path).resolve())
    executable = st.xslt.get((key, lean))
    if executable is None:
        saxon()
        if not Path(key).is_file():
            raise ResourceCompileError(f"stylesheet {key} is missing; run `make artifacts` to install the bundle")
        started = time.perf_counter()
        try:
            text = _lean_text(key) if lean else None
            if text is None:
                executable = st.xslt30.compile_stylesheet(stylesheet_file=key)
            else:
                builder = st.saxon.new_document_builder()
                builder.set_base_uri(Path(key).as_uri())
                builder.set_line_numbering(True)
                executable = st.xslt30.compile_stylesheet(stylesheet_node=builder.parse_xml(xml_text=text))
        except Exception as exc:
            raise ResourceCompileError(f"stylesheet {key} does not compile: {exc}") from exc
        st.compile_seconds[key + (" (lean)" if lean else "")] = time.perf_counter() - started
        st.xslt[(key, lean)] = executable
    st.xslt[(str(path), lean)] = executable
    return executable


def _lean_text(path: str) -> str | None:
    from validators.lean import lean_stylesheet

    lean = lean_stylesheet(Path(path).read_bytes())
    return lean.text.decode("utf-8") if lean.text is not None else None


def _wrapper_schema(paths: tuple[str, ...]) -> etree._Element:
    """One schema that imports several (KoSIT compiles all ``validateWithXmlSchema`` resources into one)."""
    xs = "http://www.w3.org/2001/XMLSchema"
    root = etree.Element(f"{{{xs}}}schema", nsmap={"xs": xs})
    for p in paths:
        tns = etree.parse(p).getroot().get("targetNamespace")
        imp = etree.SubElement(root, f"{{{xs}}}import", schemaLocation=Path(p).as_uri())
        if tns:
            imp.set("namespace", tns)
    return root


def xml_schema(paths: tuple[Path, ...]) -> etree.XMLSchema:
    """The compiled XML Schema made of ``paths`` (lxml), compiled once per process and cached per path set.

    Schema documents are read from the installed bundle only; the parser has no network access.
    """
    st = _state()
    schema = st.xsd.get(tuple(str(p) for p in paths))
    if schema is not None:
        return schema
    key = tuple(str(Path(p).resolve()) for p in paths)
    schema = st.xsd.get(key)
    if schema is None:
        for p in key:
            if not Path(p).is_file():
                raise ResourceCompileError(f"XML Schema {p} is missing; run `make artifacts` to install the bundle")
        started = time.perf_counter()
        try:
            parser = etree.XMLParser(no_network=True, resolve_entities=False)
            doc = etree.parse(key[0], parser) if len(key) == 1 else _wrapper_schema(key)
            schema = etree.XMLSchema(doc)
        except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as exc:
            raise ResourceCompileError(f"XML Schema {', '.join(key)} does not compile: {exc}") from exc
        st.compile_seconds[" + ".join(key)] = time.perf_counter() - started
        st.xsd[key] = schema
    st.xsd[tuple(str(p) for p in paths)] = schema
    return schema


def parse_xdm(text: str):
    """A Saxon tree (``PyXdmNode``) of ``text``, which must already have passed the gate (no DOCTYPE)."""
    return saxon().parse_xml(xml_text=text, encoding="UTF-8")


def xpath_processor(namespaces: tuple[tuple[str, str], ...]):
    """An XPath processor with ``namespaces`` declared, one per namespace set and process."""
    st = _state()
    proc = st.xpath.get(namespaces)
    if proc is None:
        proc = saxon().new_xpath_processor()
        for prefix, uri in namespaces:
            proc.declare_namespace(prefix, uri)
        st.xpath[namespaces] = proc
    return proc


def effective_boolean(expression: str, context, namespaces: tuple[tuple[str, str], ...]) -> bool:
    """XPath ``expression`` evaluated by Saxon on ``context`` (a ``PyXdmNode``): its effective boolean value.

    For one-off use only: saxonche compiles the expression again on every call and keeps about 1.5 KB per call
    for the life of the process (measured with saxonche 13.1: RSS grows linearly, no plateau). Expressions
    evaluated per document go through :func:`xpath_tests`, compiled once.
    """
    proc = xpath_processor(namespaces)
    proc.set_context(xdm_item=context)
    return bool(proc.effective_boolean_value(expression))


_XSL = "http://www.w3.org/1999/XSL/Transform"
#: Prefixes saxonche's XPath processor declares before any ``declare_namespace`` (measured with 13.1: ``xs`` and
#: ``saxon``; ``xml`` is always in scope); a stylesheet declares none, so the generated one declares these.
_XPATH_PREDECLARED = {"xs": "http://www.w3.org/2001/XMLSchema", "saxon": "http://saxon.sf.net/"}

#: An XPath test: (expression, namespace declarations as (prefix, uri) pairs).
Test = tuple[str, tuple[tuple[str, str], ...]]


class XPathTests:
    """Several XPath expressions compiled once into one stylesheet and evaluated on a document in one call.

    ``true_indices(node)`` returns the positions (0-based) of the expressions whose effective boolean value is
    true on ``node``, each evaluated as by saxonche's XPath processor with the expression's own namespace
    declarations (plus the prefixes that processor predeclares) and the document node as context item: the XSLT
    elements carry no prefix, so no other prefix is in scope. With ``errors_are_false`` a dynamic error in one
    expression makes that expression false (``xsl:try``) and the others still count, and an expression that does
    not compile is false on every document; without it, any error raises.
    """

    def __init__(self, tests: tuple[Test, ...], *, errors_are_false: bool) -> None:
        self.tests, self.errors_are_false = tests, errors_are_false
        self.uncompilable: tuple[int, ...] = ()
        try:
            self.executable = _compile_text(self.stylesheet())
        except ResourceCompileError:
            if not errors_are_false:
                raise
            # find the expressions that do not compile; they never match, the others are compiled together
            self.uncompilable = tuple(i for i, t in enumerate(tests) if not _compiles(_tests_stylesheet((t,), True)))
            self.executable = _compile_text(self.stylesheet())

    def stylesheet(self) -> str:
        """The generated XSLT (for reading and debugging)."""
        return _tests_stylesheet(self.tests, self.errors_are_false, skip=self.uncompilable)

    def true_indices(self, node) -> set[int]:
        out = self.executable.transform_to_string(xdm_node=node)
        return {int(i) for i in out.split()} if out else set()


def _tests_stylesheet(tests: tuple[Test, ...], errors_are_false: bool, skip: tuple[int, ...] = ()) -> str:
    root = etree.Element(f"{{{_XSL}}}stylesheet", nsmap={None: _XSL}, version="3.0")
    etree.SubElement(root, f"{{{_XSL}}}output", method="text")
    template = etree.SubElement(root, f"{{{_XSL}}}template", match="/")
    for i, (expression, namespaces) in enumerate(tests):
        if i in skip:
            continue
        parent = etree.SubElement(template, f"{{{_XSL}}}try") if errors_are_false else template
        nsmap = {**_XPATH_PREDECLARED, **{prefix: uri for prefix, uri in namespaces if prefix != "xml"}}
        test = etree.SubElement(parent, f"{{{_XSL}}}if", nsmap=nsmap, test=expression)
        test.text = f"{i} "
        if errors_are_false:
            etree.SubElement(parent, f"{{{_XSL}}}catch")
    return etree.tostring(root, encoding="unicode")


def _compile_text(text: str):
    saxon()
    try:
        return _state().xslt30.compile_stylesheet(stylesheet_text=text)
    except Exception as exc:
        raise ResourceCompileError(f"generated stylesheet does not compile: {exc}") from exc


def _compiles(text: str) -> bool:
    try:
        _compile_text(text)
        return True
    except ResourceCompileError:
        return False


def xpath_tests(tests: tuple[Test, ...], *, errors_are_false: bool) -> XPathTests:
    """The :class:`XPathTests` for ``tests``, compiled on first use and kept for the process."""
    st = _state()
    key = (tests, errors_are_false)
    compiled = st.tests.get(key)
    if compiled is None:
        started = time.perf_counter()
        compiled = st.tests[key] = XPathTests(tests, errors_are_false=errors_are_false)
        st.compile_seconds[f"<{len(tests)} XPath tests>"] = time.perf_counter() - started
    return compiled


def compile_seconds() -> dict[str, float]:
    """How long each stylesheet and schema took to compile in this process (absolute path -> seconds)."""
    return dict(_state().compile_seconds)
