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
        self.xslt: dict[str, object] = {}
        self.xsd: dict[tuple[str, ...], etree.XMLSchema] = {}
        self.xpath: dict[tuple[tuple[str, str], ...], object] = {}
        self.compile_seconds: dict[str, float] = {}


_STATE: _Runtime | None = None
_LOCK = threading.Lock()


def _state() -> _Runtime:
    global _STATE
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


def xslt(path: Path):
    """The compiled stylesheet at ``path`` (``PyXsltExecutable``), compiled once per process."""
    st = _state()
    executable = st.xslt.get(str(path))
    if executable is None:
        key = str(Path(path).resolve())
        executable = st.xslt.get(key)
    if executable is None:
        saxon()
        if not Path(key).is_file():
            raise ResourceCompileError(f"stylesheet {key} is missing; run `make artifacts` to install the bundle")
        started = time.perf_counter()
        try:
            executable = st.xslt30.compile_stylesheet(stylesheet_file=key)
        except Exception as exc:
            raise ResourceCompileError(f"stylesheet {key} does not compile: {exc}") from exc
        st.compile_seconds[key] = time.perf_counter() - started
        st.xslt[key] = st.xslt[str(path)] = executable
    return executable


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
    """XPath ``expression`` evaluated by Saxon on ``context`` (a ``PyXdmNode``): its effective boolean value."""
    proc = xpath_processor(namespaces)
    proc.set_context(xdm_item=context)
    return bool(proc.effective_boolean_value(expression))


def compile_seconds() -> dict[str, float]:
    """How long each stylesheet and schema took to compile in this process (absolute path -> seconds)."""
    return dict(_state().compile_seconds)
