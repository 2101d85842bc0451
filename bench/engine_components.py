"""Where a document's validation time goes: CPU milliseconds per document for each part of the engine.

Run: ``.venv/bin/python bench/engine_components.py [--passes 5]``

One process, one core, warm (every stylesheet and schema compiled, one untimed pass), on the accepted official
cases (the documents ``bench/bench_validate.py`` times). Every part is run on its own, in the order the engine
runs them, and timed with the process CPU clock (``time.process_time``), which other processes on a busy machine
disturb much less than the wall clock; ``Validator.validate`` as a whole is timed in the same loop, so the parts
can be checked against it:

- gate parse: ``xmlsafe.parse_untrusted`` (lxml, DOCTYPE and depth checks);
- Saxon parse: the Saxon tree (``Document.xdm``) the selector and every Schematron XSLT run on;
- selection: every scenario's ``match``, one generated stylesheet (``runtime.xpath_tests``);
- documentData: the report stylesheet's ``documentData`` template;
- XSD: lxml XML Schema validation;
- one line per Schematron XSLT: the transformation only (``SchematronStep.transform``, lean copies);
- SVRL handling: reading the SVRL text into messages (``SchematronStep.read_svrl``), all Schematron steps;
- report: customLevel, the VARL report, acceptMatch, the result object (``Validator._result``).

The pool adds IPC and pickling on top (``bench/bench_validate.py`` reports the workers' busy share of wall time).
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from erechnung import artifacts  # noqa: E402
from validators.engine import Validator  # noqa: E402
from validators.steps import Document, SchematronStep, StepResult, with_custom_levels  # noqa: E402
from validators.xmlsafe import parse_untrusted  # noqa: E402


def accepted() -> list[tuple[str, bytes]]:
    cases = artifacts.cases_dir()
    with (cases / "OBSERVED_KOSIT_EMULATION.tsv").open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if r["observed_verdict"] == "accept"]
    return [(r["path"], (cases / r["path"].removeprefix("cases/")).read_bytes()) for r in rows]


def measure(passes: int) -> tuple[dict[str, list[float]], int]:
    docs = accepted()
    v = Validator.for_bundle()
    v.warm_up()
    for name, data in docs:
        v.validate(data, name)
    config = v._config(None)
    clock = time.process_time
    per_pass: dict[str, list[float]] = {}

    def timed(key: str, f):
        t0 = clock()
        out = f()
        totals[key] = totals.get(key, 0.0) + clock() - t0
        return out

    for _ in range(passes):
        totals: dict[str, float] = {}
        for name, data in docs:
            timed("= Validator.validate (whole)", lambda: v.validate(data, name))
            tree = timed("gate parse (lxml)", lambda: parse_untrusted(data, v.limits))
            doc = Document(name, data, tree)
            timed("Saxon parse", lambda: doc.xdm)
            scenario = timed("scenario selection", lambda: v._select(config, doc)).scenario
            document_data = timed("documentData", lambda: v._document_data(scenario, doc))
            results: list[StepResult] = []
            for step in v._pipeline(config, scenario):
                if isinstance(step, SchematronStep):
                    label = f"XSLT {step.resources[0].path.name}"
                    svrl = timed(label, lambda: step.transform(doc))
                    results.append(timed("SVRL handling (all Schematron steps)", lambda: step.read_svrl(svrl, doc)))
                else:
                    results.append(timed("XSD (lxml)", lambda: step.run(doc)))
            stamp = datetime.now(timezone.utc).replace(microsecond=0)

            def report():
                steps = [with_custom_levels(r, scenario.custom_level) for r in results]
                return v._result(name, data, config, scenario, steps + [StepResult("val-xml", "xml", ())], None,
                                 stamp, 0.0, document_data)
            timed("report (customLevel, VARL, acceptMatch)", report)
        for key, seconds in totals.items():
            per_pass.setdefault(key, []).append(1000 * seconds / len(docs))
    return per_pass, len(docs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--passes", type=int, default=5, help="timed passes over the accepted cases (median is shown)")
    ap.add_argument("--json", action="store_true", help="print one JSON object (part -> ms) instead of a table")
    args = ap.parse_args(argv)
    per_pass, n = measure(args.passes)
    median = {k: statistics.median(v) for k, v in per_pass.items()}
    whole = median.pop("= Validator.validate (whole)")
    if args.json:
        print(json.dumps({**{k: round(ms, 3) for k, ms in median.items()},
                          "Validator.validate (whole)": round(whole, 3)}))
        return 0
    saxon = sum(ms for k, ms in median.items() if k.startswith(("XSLT", "Saxon parse")))
    print(f"CPU ms per document, median of {args.passes} passes over {n} accepted official cases (one process):")
    for key, ms in median.items():
        print(f"  {key:45s} {ms:6.3f}")
    print(f"  {'sum of the parts':45s} {sum(median.values()):6.3f}")
    print(f"  {'Validator.validate (whole)':45s} {whole:6.3f}")
    print(f"  of which Saxon parse + Schematron XSLTs      {saxon:6.3f} ({100 * saxon / whole:.0f} %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
