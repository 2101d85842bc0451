"""Issue 12, the layers stay true: read from the imports of every module (module level, inside functions and under
``TYPE_CHECKING`` alike), no package imports one of a higher layer, and the packages import each other in no
circle. ARCHITECTURE.md draws the same layers; change both together.

    base        errors, the model (enums included), the configuration, the official artifacts, HTML safety
    syntax      UBL/CII readers and writers, calculator, builder, storage
    documents   PDFs, notices, conversion, the validators, the archive
    features    intake, state
    services    pipeline, delivery, the channel adapters (mailbox_connectors)
    wiring      the composition root (erechnung.entrypoints.wiring): configuration -> connectors, archive
    edge        Prefect flows, command line, the web console, demos
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("erechnung", "validators", "mailbox_connectors", "flows")

#: Layer -> the units in it (a unit: a top-level package, or a direct child of ``erechnung``), lowest first.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("erechnung", "erechnung.errors", "erechnung.model", "erechnung.config", "erechnung.artifacts",
              "erechnung.html_safety", "erechnung._import_priority")),
    ("syntax", ("erechnung.syntax", "erechnung.calculator", "erechnung.builder", "erechnung.storage")),
    ("documents", ("erechnung.documents", "erechnung.notices", "erechnung.convert", "erechnung.view", "validators",
                   "erechnung.archive", "erechnung.payments")),
    ("features", ("erechnung.intake", "erechnung.state")),
    ("services", ("erechnung.pipeline", "erechnung.delivery", "mailbox_connectors", "erechnung.stadtkasse")),
    ("wiring", ("erechnung.entrypoints", "erechnung.entrypoints.wiring")),
    ("edge", ("flows", "erechnung.entrypoints.cli", "erechnung.entrypoints.console", "erechnung.entrypoints.demo",
              "erechnung.__main__")),
)
LAYER_OF = {unit: i for i, (_, units) in enumerate(LAYERS) for unit in units}
NAME_OF = {i: name for i, (name, _) in enumerate(LAYERS)}


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _unit(module: str) -> str:
    """The package a module belongs to: top-level, a child of ``erechnung``, or a child of the entrypoints."""
    parts = module.split(".")
    if parts[:2] == ["erechnung", "entrypoints"]:
        return ".".join(parts[:3])
    return ".".join(parts[:2]) if parts[0] == "erechnung" and len(parts) > 1 else parts[0]


def _imports() -> dict[str, set[tuple[str, int]]]:
    """module -> {(imported module of ours, line)}: ``import x``, ``from x import y`` (y a module or a name)."""
    found: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = _module(path)
            here = module if path.name == "__init__.py" else module.rpartition(".")[0]
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                if isinstance(node, ast.Import):
                    targets = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    if node.level:
                        base = here.split(".")[:len(here.split(".")) - node.level + 1]
                        target = ".".join(base + ([node.module] if node.module else []))
                    else:
                        target = node.module or ""
                    targets = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
                else:
                    continue
                found[module].update((_existing(t), node.lineno) for t in targets if t.split(".")[0] in PACKAGES)
    return found


def _existing(target: str) -> str:
    """The module a target names: ``erechnung.intake.Config`` (a name) -> ``erechnung.intake``."""
    parts = target.split(".")
    while len(parts) > 1 and not ((ROOT.joinpath(*parts)).is_dir()
                                  or ROOT.joinpath(*parts[:-1], parts[-1] + ".py").is_file()):
        parts.pop()
    return ".".join(parts)


def test_every_package_has_its_layer():
    units = {_unit(m) for m in _imports()} | {_unit(t) for ts in _imports().values() for t, _ in ts}
    assert not sorted(u for u in units if u not in LAYER_OF), "a new package: give it a layer in LAYERS"


def test_no_import_runs_up_a_layer():
    upward = []
    for module, targets in _imports().items():
        mine = LAYER_OF.get(_unit(module))
        for target, line in sorted(targets):
            theirs = LAYER_OF.get(_unit(target))
            if mine is not None and theirs is not None and theirs > mine:
                upward.append(f"{module}:{line} ({NAME_OF[mine]}) imports {target} ({NAME_OF[theirs]})")
    assert not upward, "imports up a layer:\n" + "\n".join(upward)


def test_the_packages_import_each_other_in_no_circle():
    graph: dict[str, set[str]] = defaultdict(set)
    for module, targets in _imports().items():
        for target, _ in targets:
            if _unit(target) != _unit(module) and _unit(target) != "erechnung":
                graph[_unit(module)].add(_unit(target))
    circles, state = [], {}

    def visit(unit: str, path: list[str]) -> None:
        state[unit] = "open"
        for other in sorted(graph[unit]):
            if state.get(other) == "open":
                circles.append(" -> ".join(path[path.index(other):] + [other]))
            elif other not in state:
                visit(other, path + [other])
        state[unit] = "done"

    for unit in sorted(graph):
        if unit not in state:
            visit(unit, [unit])
    assert not circles, "circles:\n" + "\n".join(circles)


def test_the_layer_rules_see_an_upward_import(tmp_path):
    """The rule itself can fail: a model module importing the pipeline is found."""
    source = "from ..pipeline import run\n"
    tree = ast.parse(source)
    node = tree.body[0]
    assert isinstance(node, ast.ImportFrom) and node.level == 2
    here = "erechnung.model"
    target = ".".join(here.split(".")[:len(here.split(".")) - node.level + 1] + [node.module])
    assert LAYER_OF[_unit(target)] > LAYER_OF[_unit("erechnung.model.invoice")]
