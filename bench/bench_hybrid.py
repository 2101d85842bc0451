"""Throughput of hybrid invoices (render + CII + embed, no validation) on all cores, against the plain factur-x route.

Run: ``make bench-hybrid`` (or ``.venv/bin/python bench/bench_hybrid.py --help``).

- Documents: the demo samples and every accepted official XRechnung case that CII can carry and that renders
  on one or two pages, as models held in every worker before timing; batches cycle through them.
- Ours: ``make_hybrid(invoice, "XRECHNUNG")``: reportlab page drawing, the CII writer, and one pikepdf pass that
  makes the PDF/A-3 and embeds ``xrechnung.xml`` with the Factur-X XMP.
- Plain factur-x route: the same renderer's PDF/A-3 (``invoice_pdf.render_invoice``), the same CII, then
  ``facturx.generate_from_binary(pdf, xml, check_xsd=False)`` (pypdf parses and writes the file again).
- Pool: ``os.cpu_count()`` spawn workers, chunks of ``--chunk`` documents; each worker warms both routes once
  (fonts, ICC profile, logo, imports) before any timing. Rounds alternate the routes so both see the same
  background load; the figures are medians. CPU per invoice is the workers' process time, which other load on
  the machine hardly changes; PDFs/s is wall time and does.
- Memory: the ours route runs again on a fresh pool for two batch sizes (``--small`` and ``--large``); peak RSS
  per worker (ru_maxrss) must not grow with the batch (a leak would: reportlab keeps per-document font state).

The last line is ``ratio vs plain factur-x route: X.XX`` (ours / factur-x route, documents per second).
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import multiprocessing as mp
import os
import resource
import statistics
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

AIM_PER_SECOND = 80
_DOCS: list = []


def log(msg: str = "") -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------------------------- documents


def load_documents() -> list[bytes]:
    """The invoices as model JSON: demo samples + accepted XRechnung cases CII can carry, 1-2 pages."""
    import pikepdf

    from erechnung import artifacts
    from erechnung.entrypoints.demo.invoices import sample_invoices
    from erechnung.documents.hybrid import make_hybrid
    from erechnung.errors import ErechnungError
    from erechnung.syntax import read_invoice

    models = list(sample_invoices().values())
    with (artifacts.cases_dir() / "OBSERVED_KOSIT_EMULATION.tsv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row["observed_verdict"] == "accept" and row["scenario"].startswith("EN16931 XRechnung"):
                models.append(read_invoice((artifacts.cases_dir() / row["path"].removeprefix("cases/")).read_bytes()))
    kept = []
    for model in models:
        try:
            pdf = make_hybrid(model, "XRECHNUNG")
        except ErechnungError:  # BG-DEX-09, several BG-3: CII cannot carry them
            continue
        with pikepdf.open(io.BytesIO(pdf)) as doc:
            if len(doc.pages) <= 2:
                kept.append(model.model_dump_json().encode())
    return kept


# --------------------------------------------------------------------------------------------- workers


def _ours(invoice) -> int:
    from erechnung.documents.hybrid import make_hybrid

    return len(make_hybrid(invoice, "XRECHNUNG"))


def _facturx(invoice) -> int:
    import facturx

    from erechnung.documents.invoice_pdf import render_invoice
    from erechnung.syntax import write_invoice

    xml = write_invoice(invoice, "cii")
    return len(facturx.generate_from_binary(render_invoice(invoice), xml, check_xsd=False))


ROUTES = {"ours": _ours, "facturx": _facturx}


def _init(documents: list[bytes]) -> None:
    import logging

    from erechnung.model import Invoice

    logging.getLogger("factur-x").setLevel(logging.ERROR)
    _DOCS[:] = [Invoice.model_validate_json(d) for d in documents]
    for route in ROUTES.values():  # warm: imports, fonts, ICC, logo
        route(_DOCS[0])


def _task(args: tuple[str, list[int]]) -> tuple[int, float, int, int]:
    """(documents, CPU seconds, output bytes, peak RSS in kB) for one chunk."""
    route, indices = args
    fn = ROUTES[route]
    start = time.process_time()
    size = sum(fn(_DOCS[i]) for i in indices)
    return len(indices), time.process_time() - start, size, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_batch(pool, route: str, n_docs: int, n_distinct: int, chunk: int) -> dict:
    indices = [i % n_distinct for i in range(n_docs)]
    chunks = [(route, indices[i:i + chunk]) for i in range(0, n_docs, chunk)]
    start = time.perf_counter()
    results = pool.map(_task, chunks, chunksize=1)
    wall = time.perf_counter() - start
    docs = sum(r[0] for r in results)
    cpu = sum(r[1] for r in results)
    return {"route": route, "docs": docs, "wall_s": wall, "per_second": docs / wall,
            "cpu_ms_per_doc": 1000 * cpu / docs, "kb_per_doc": sum(r[2] for r in results) / docs / 1024,
            "peak_rss_mb": max(r[3] for r in results) / 1024}


def make_pool(workers: int, documents: list[bytes]):
    return mp.get_context("spawn").Pool(workers, initializer=_init, initargs=(documents,))


# --------------------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=400, help="documents per timed round and route")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=16, help="documents per task")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--small", type=int, default=200, help="memory check: small batch")
    parser.add_argument("--large", type=int, default=1200, help="memory check: large batch")
    parser.add_argument("--json", type=Path, default=PROJECT_ROOT / "out" / "bench-hybrid.json")
    args = parser.parse_args()

    log("bench-hybrid: hybrid invoices (render + CII + embed, no validation)")
    t = time.perf_counter()
    documents = load_documents()
    log(f"documents: {len(documents)} distinct invoices (demo samples and accepted XRechnung cases CII can carry, "
        f"1-2 pages), prepared in {time.perf_counter() - t:.1f} s")
    log(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; workers: {args.workers} (spawn), "
        f"chunk {args.chunk}")

    rounds: dict[str, list[dict]] = {route: [] for route in ROUTES}
    t = time.perf_counter()
    with make_pool(args.workers, documents) as pool:
        pool.map(_task, [("ours", [0])] * args.workers, chunksize=1)
        log(f"pool started and warm in {time.perf_counter() - t:.1f} s")
        log(f"{'round':>5}  {'route':<8} {'docs':>6} {'docs/s':>8} {'CPU ms/doc':>10} {'kB/doc':>7} "
            f"{'peak RSS/worker':>16}")
        for r in range(1, args.rounds + 1):
            for route in ROUTES:
                res = run_batch(pool, route, args.docs, len(documents), args.chunk)
                rounds[route].append(res)
                log(f"{r:>5}  {route:<8} {res['docs']:>6} {res['per_second']:>8.1f} {res['cpu_ms_per_doc']:>10.2f} "
                    f"{res['kb_per_doc']:>7.1f} {res['peak_rss_mb']:>13.1f} MB")
    summary = {route: {key: statistics.median(r[key] for r in results)
                       for key in ("per_second", "cpu_ms_per_doc", "kb_per_doc", "peak_rss_mb")}
               for route, results in rounds.items()}

    memory = {}
    for size in (args.small, args.large):
        with make_pool(args.workers, documents) as pool:
            res = run_batch(pool, "ours", size, len(documents), args.chunk)
        memory[size] = res["peak_rss_mb"]
        log(f"memory: batch {size:>5} -> peak RSS per worker {res['peak_rss_mb']:.1f} MB "
            f"({res['per_second']:.1f} docs/s)")
    growth = memory[args.large] - memory[args.small]
    flat = growth < 0.1 * memory[args.small] + 5
    log(f"memory: {'flat' if flat else 'GROWS'} in batch size ({growth:+.1f} MB from {args.small} to {args.large} "
        f"documents)")

    ours, fx = summary["ours"], summary["facturx"]
    ratio = ours["per_second"] / fx["per_second"]
    cores_bound = args.workers * 1000 / ours["cpu_ms_per_doc"]
    log(f"ours:           {ours['per_second']:.1f} PDFs/s on {args.workers} workers, {ours['cpu_ms_per_doc']:.2f} ms "
        f"CPU per invoice (CPU bound: {cores_bound:.0f}/s on idle cores), {ours['kb_per_doc']:.0f} kB per PDF, "
        f"peak RSS per worker {ours['peak_rss_mb']:.0f} MB")
    log(f"factur-x route: {fx['per_second']:.1f} PDFs/s, {fx['cpu_ms_per_doc']:.2f} ms CPU per invoice, "
        f"{fx['kb_per_doc']:.0f} kB per PDF")
    log(f"CPU per invoice, factur-x route / ours: {fx['cpu_ms_per_doc'] / ours['cpu_ms_per_doc']:.2f} (steadier than "
        "the PDFs/s ratio when other processes share the cores)")
    log(f"aim: {AIM_PER_SECOND}/s -> {'met' if ours['per_second'] >= AIM_PER_SECOND else 'NOT met'} "
        f"(measured; the machine's load average was {os.getloadavg()[0]:.1f})")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"documents": len(documents), "workers": args.workers, "rounds": rounds,
                                     "median": summary, "memory_peak_rss_mb": memory, "memory_flat": flat,
                                     "ratio": ratio}, indent=2))
    log(f"ratio vs plain factur-x route: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
