"""Measure proposed engine optimizations on a throw-away copy of ``validators/engine.py`` (the engine is not edited).

Done: ``select`` and ``accept`` are now in the engine itself (``runtime.xpath_tests``, ``engine.accept_match``;
commit "Scenario selection by one stylesheet compiled once ..."), so the anchors below no longer exist and this
script stops with "engine changed";
it is kept as the record of how the gain was measured. ``bench/engine_components.py`` breaks down the engine as it
is now.

Run: ``.venv/bin/python bench/engine_experiment.py [--passes 6] [--repeats 2]``

The copy is written to a temporary folder with these changes, each behind a flag so its gain can be measured
alone; every variant runs in its own fresh process, one document after the other (one core), after warm-up:

- ``select``: scenario selection by ONE stylesheet, generated from scenarios.xml and compiled once, whose template
  writes the index of every scenario whose ``match`` is true; instead of one ``PyXPathProcessor``
  ``effective_boolean_value`` per scenario and document (10 per document with the XRechnung bundle). Each of
  those calls compiles its expression again and leaks memory inside saxonche (about 2.4 KB per call, measured),
  which is what pushes the worker RSS over 400 MB on long runs. If the generated stylesheet fails on a
  document, the engine falls back to the one-by-one evaluation (KoSIT: a failing match is no match).
- ``accept``: ``acceptMatch`` evaluated by lxml on the report element the engine has just built, instead of
  serializing the report, parsing it again into Saxon and calling ``effective_boolean_value`` (falls back to
  Saxon when the expression is not XPath 1.0).
- ``svrl``: the Schematron result taken as an XDM tree (``transform_to_value``) and its ``failed-assert`` /
  ``successful-report`` children read directly, instead of serializing the SVRL to a string and parsing it with
  lxml.

Measured on the project's dev box (2 vCPU, engine at c48ca84), ms per document, one core: base 7.3-8.2; select 6.5
(-20 %); select+accept 5.4-5.7 (-25 to -31 %); +svrl no further gain (5.7). Peak RSS after 6,847 documents:
base 626 MB and still growing, select+accept 400 MB and flat.

Every variant must produce the same results as the unchanged engine on ALL official cases (accepted and
rejected): a fingerprint of every ``to_json_dict()`` (without ``duration_ms``) is compared, and a difference
stops the run.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENGINE = PROJECT_ROOT / "validators" / "engine.py"
VARIANTS = ["base", "select", "select+accept", "select+accept+svrl"]

# (anchor in validators/engine.py, replacement): applied to the copy; a missing anchor stops the experiment,
# because the engine changed and the measurement would no longer be about it.
EDITS = [
    ('''    def _select(self, config: _Config, document: Document):
        return config.scenarios.select(
            lambda s: runtime.effective_boolean(s.match, document.xdm, s.namespaces))''',
     '''    def _select(self, config: _Config, document: Document):
        if "select" not in EXP:
            return config.scenarios.select(
                lambda s: runtime.effective_boolean(s.match, document.xdm, s.namespaces))
        try:
            hits = {int(h) for h in _selector(config.scenarios).transform_to_string(xdm_node=document.xdm).split()}
        except Exception:  # a match that fails: one by one, where a failing match is no match (KoSIT)
            return config.scenarios.select(
                lambda s: runtime.effective_boolean(s.match, document.xdm, s.namespaces))
        index = {id(s): i for i, s in enumerate(config.scenarios.scenarios)}
        return config.scenarios.select(lambda s: index[id(s)] in hits)'''),
    ('''                node = runtime.parse_xdm(etree.tostring(report, encoding="unicode"))
                ok = runtime.effective_boolean(scenario.accept_match, node, scenario.namespaces)''',
     '''                ok = None
                if "accept" in EXP:
                    try:
                        ok = bool(report.getroottree().xpath(scenario.accept_match,
                                                             namespaces=dict(scenario.namespaces)))
                    except etree.XPathError:  # not XPath 1.0: Saxon, as before
                        ok = None
                if ok is None:
                    node = runtime.parse_xdm(etree.tostring(report, encoding="unicode"))
                    ok = runtime.effective_boolean(scenario.accept_match, node, scenario.namespaces)'''),
]

APPENDIX = '''

# ---- experiment additions -------------------------------------------------------------------------------------
EXP: set[str] = set()
_SELECTORS: dict[int, object] = {}
_XSL = "http://www.w3.org/1999/XSL/Transform"


def selector_stylesheet(sset: ScenarioSet) -> str:
    """One XSLT that writes the index of every scenario whose ``match`` is true; each test sits on its own
    element carrying that scenario's namespace declarations."""
    root = etree.Element(f"{{{_XSL}}}stylesheet", nsmap={"xsl": _XSL}, version="3.0")
    etree.SubElement(root, f"{{{_XSL}}}output", method="text")
    template = etree.SubElement(root, f"{{{_XSL}}}template", match="/")
    for i, s in enumerate(sset.scenarios):
        etree.SubElement(template, f"{{{_XSL}}}if", nsmap=dict(s.namespaces), test=s.match).text = f"{i} "
    return etree.tostring(root, encoding="unicode")


def _selector(sset: ScenarioSet):
    executable = _SELECTORS.get(id(sset))
    if executable is None:
        runtime.saxon()
        executable = runtime._state().xslt30.compile_stylesheet(stylesheet_text=selector_stylesheet(sset))
        _SELECTORS[id(sset)] = executable
    return executable


def _svrl_from_value(self, document):
    """SchematronStep.run reading the SVRL as an XDM tree (no string, no lxml parse)."""
    from validators.steps import Message, StepResult, line_of, svrl_level, SVRL_NS
    executable = runtime.xslt(self.resources[0].path)
    value = executable.transform_to_value(xdm_node=document.xdm)
    if value is None or value.size == 0:
        raise RuntimeError(f"Schematron {self.resources[0].location} returned no SVRL output")
    prefix = "Q{" + SVRL_NS + "}"
    messages = []
    n = 0
    for top in value.head.children:
        for el in top.children:
            name = el.name
            if name not in (prefix + "failed-assert", prefix + "successful-report"):
                continue
            n += 1
            level = svrl_level(el.get_attribute_value("flag"), el.get_attribute_value("role"))
            location = el.get_attribute_value("location")
            text = " ".join(t.string_value for t in el.children if t.name == prefix + "text")
            messages.append(Message(step=self.id, id=f"{self.id}.{n}", code=el.get_attribute_value("id") or "UNSPECIFIC",
                                    level=level, custom_level=level, text=" ".join(text.split()),
                                    location=location, line=line_of(document.tree, location)))
    return StepResult(self.id, self.kind, self.resources, tuple(messages))
'''


def write_copy(folder: Path) -> Path:
    source = ENGINE.read_text(encoding="utf-8")
    for anchor, replacement in EDITS:
        if anchor not in source:
            raise SystemExit(f"validators/engine.py changed: this anchor is gone, update the experiment:\n{anchor}")
        source = source.replace(anchor, replacement)
    target = folder / "engine_exp.py"
    target.write_text(source + APPENDIX, encoding="utf-8")
    return target


def child(folder: str, variant: str, passes: int) -> None:
    sys.path.insert(0, folder)
    import engine_exp as E  # noqa: N812

    from erechnung import artifacts
    from validators import steps

    flags = set() if variant == "base" else set(variant.split("+"))
    E.EXP.update(flags)
    if "svrl" in flags:
        steps.SchematronStep.run = E._svrl_from_value
    cases = artifacts.cases_dir()
    with (cases / "OBSERVED_KOSIT_EMULATION.tsv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    every = [(r["path"], (cases / r["path"].removeprefix("cases/")).read_bytes()) for r in rows]
    accepted = [doc for doc, r in zip(every, rows) if r["observed_verdict"] == "accept"]
    validator = E.Validator.for_bundle()
    validator.warm_up()
    fingerprint = hashlib.sha256()
    for name, data in every:  # all official cases: the result must not change
        d = validator.validate(data, name).to_json_dict()
        d.pop("duration_ms", None)
        fingerprint.update(json.dumps(d, sort_keys=True).encode())
    for name, data in accepted:  # warm-up pass
        validator.validate(data, name)
    t0 = time.perf_counter()
    for _ in range(passes):
        for name, data in accepted:
            validator.validate(data, name)
    seconds = time.perf_counter() - t0
    hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print(json.dumps({"variant": variant, "ms_per_doc": 1000 * seconds / (passes * len(accepted)),
                      "documents": passes * len(accepted) + len(every) + len(accepted),
                      "vm_hwm_mb": hwm // 1024, "fingerprint": fingerprint.hexdigest()}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--passes", type=int, default=6, help="timed passes over the accepted cases per variant")
    ap.add_argument("--repeats", type=int, default=2, help="runs per variant, interleaved (median is used)")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated, first is the reference")
    ap.add_argument("--child", nargs=2, metavar=("FOLDER", "VARIANT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.passes)
        return 0
    with tempfile.TemporaryDirectory(prefix="engine-experiment-") as tmp:
        write_copy(Path(tmp))
        variants = args.variants.split(",")
        runs: dict[str, list[dict]] = {v: [] for v in variants}
        for _ in range(args.repeats):
            for variant in variants:
                out = subprocess.run([sys.executable, __file__, "--passes", str(args.passes), "--child", tmp, variant],
                                     check=True, capture_output=True, text=True, cwd=PROJECT_ROOT)
                runs[variant].append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(json.dumps(runs[variant][-1]), flush=True)
    base_fp = runs[variants[0]][0]["fingerprint"]
    base_ms = statistics.median(r["ms_per_doc"] for r in runs[variants[0]])
    ok = True
    print(f"\n{'variant':22s} {'ms/doc':>7s} {'gain':>6s} {'peak RSS':>9s}  same results as the engine")
    for variant, rs in runs.items():
        ms = statistics.median(r["ms_per_doc"] for r in rs)
        same = all(r["fingerprint"] == base_fp for r in rs)
        ok &= same
        print(f"{variant:22s} {ms:7.2f} {100 * (base_ms - ms) / base_ms:5.1f}% {max(r['vm_hwm_mb'] for r in rs):6d} MB"
              f"  {'yes' if same else 'NO'}")
    print(f"(one process, one document after the other, {rs[0]['documents']} documents per run)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
