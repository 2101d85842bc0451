"""``make bench-pipeline``: the whole pipeline (intake, render, validate, archive, hand over) on synthetic
deliveries of Stadt Musterstadt, with and without Prefect, on every core.

    python bench/bench_pipeline.py --records 10000 100000 [--batch-size 1000] [--workers N] [--variants plain,prefect]

For each size and variant a fresh site (configuration, drop zones, SQLite database, archive, work area) is made
under ``out/bench-pipeline/`` and the pipeline runs once in a fresh subprocess, so that its peak memory is its own:
``plain`` is ``erechnung.pipeline.run``, ``prefect`` the flow ``run_flow`` in ephemeral mode (offline settings,
its own PREFECT_HOME), the same work chunk by chunk as tasks. Reported: documents per second (everything from the
first file claimed to the last document handed over), peak RSS of the coordinating process and of the largest
worker, and the share Prefect costs ((prefect - plain) / prefect, once without the ephemeral server's start-up and
once with it).

The mix (one row per document, files of ``--batch-size`` rows): 35 % Standesamt invoices to citizens (ZUGFeRD),
30 % Ordnungsamt invoices to businesses and public bodies (XRechnung CII/UBL), 25 % Abfallwirtschaft fee notices
(notice PDF/A with the claim embedded, or without it for the one recipient without an e-mail address), 8 %
Steueramt dog tax notices, 2 % finished XRechnungen of the Stadtbibliothek (passed through, validated).

The last lines are the issue's bars (issue 4): documents per second vs 80, the peak memory of the 100,000 run vs
the 10,000 run (coordinator and largest worker) vs 1.2x, Prefect's share vs 5 %. Before them, per run: CPU
milliseconds per document by stage (the coordinator's intake and documents phase, the workers, Prefect's server)
and the rate that CPU allows on the free cores, which says more than the wall clock on a shared machine; the
workers' "ms per document" by form are wall time inside the worker and grow with the machine's load.
``--report results.json ...`` prints the summary and the bars of earlier runs together.

Seen on 2026-11-21, 2 cores, other work running (load average 3-7; code of e96dfd2); "->": the rate that CPU
allows on the 2 cores if they were free:

    records  variant  docs/s  run s   coord MB  worker MB  load     CPU ms/doc: intake coord-docs workers server all
     10000   plain     70.3    142     111       407       4.1/3.7  1.13  3.36  18.1   -     22.7 -> 88/s
     10000   prefect   52.0    192     257       383       3.1/6.9  1.17  4.19  18.1  1.25  25.0 -> 80/s
    100000   plain     51.6   1937     141       386       5.2/5.0  0.86  3.88  20.9   -     25.6 -> 78/s
    100000   prefect   74.4   1344     313       392       2.5/5.8  1.13  3.69  19.2  0.50  24.6 -> 81/s

* docs/s >= 80: not met on this shared machine (51.6-74.4/s); the CPU the runs took allows 78-88/s on two free
  cores. What limits it, per document: the workers' rendering and validation, 18-21 ms CPU (ZUGFeRD and notice
  PDFs about twice an XML invoice), then the coordinator, 4.5-4.8 ms: intake 0.9-1.2 ms (while the workers wait:
  intake and rendering do not overlap) and 3.4-3.9 ms in the documents phase, nearly all of it the archive's
  durable writes (document and validation report, each content and metadata with a retention record first:
  four fsynced files and four directory fsyncs per item, ~2 ms CPU per item measured alone, mostly kernel);
  database work, result unpickling and work-area reads are a few percent of it. Before these changes (2,000
  records, idle machine) the coordinator took 7.4 ms per document, intake alone ~4 ms (create_document per
  document: savepoint, locked range read, two key lookups, three flushes); now one bulk insert per chunk.
* Peak memory 100,000 vs 10,000: workers flat (386 / 407 MB); coordinator 141 / 111 MB = 1.27x in this run,
  not met. About 11 MB of the 30 MB growth was the recipients' multi-VALUES upsert, whose text changed with each
  chunk's number of recipients and which SQLite's driver kept as up to 128 prepared statements of ~0.45 MB
  (~30 distinct sizes at 100,000 records, ~7 at 10,000; fixed in ed66c73 after this run began: flat when
  measured alone, not yet re-measured at 100,000); the rest, ~0.2 KB per document during the documents phase,
  is native heap of the coordinator's main thread (smaps; tracemalloc sees no Python objects grow; the
  archive's threads alone do not grow) and was not found. Prefect's coordinator: 313 / 257 MB = 1.22x, not
  met, the same causes (its own ~150 MB over plain does not grow with the run).
* Prefect's share of CPU: 9.5 % at 10,000 (not met: its ephemeral server, 12.5 s CPU mostly start-up, and
  ~11 s more in the coordinator) and 2.5 % at 100,000 (met). The wall-time shares (+26 % and -44 %) only say
  how the machine's other load moved between the runs; a py-spy sample of the flow's documents phase finds
  under 5 % of its Python time in Prefect itself (tasks carry chunks of 500 documents).
* Re-run at 10,000 once the other work had stopped (code of 00b9427, load 1.4 before, up to 5.2 from the run
  itself): plain 66.0 docs/s, Prefect 65.9 docs/s; CPU per document 5.7 ms coordinator + 21.9 ms workers (72/s
  allowed on 2 cores); Prefect's share 0.1 % of wall time, 7.5 % of CPU. The 80/s aim is not met on a quiet
  machine either: the workers' PDFs (ZUGFeRD and notices ~31 ms against 12-14 ms for XML) and the archive's
  durable writes are what would have to get cheaper.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MIX = {"standesamt": 0.35, "ordnungsamt": 0.30, "abfallwirtschaft": 0.25, "steueramt": 0.08, "stadtbibliothek": 0.02}
CITIZENS = ["K-10001", "K-10002", "K-10003", "K-10004"]
BUSINESSES = ["K-20001", "K-20002", "K-30001", "K-30002"]


# ============================================================================================ synthetic data


def _standesamt(rng: random.Random, batch: int, n: int) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, delimiter=";", lineterminator="\r\n")
    w.writerow(["Rechnungsnummer", "Rechnungsdatum", "Kundennummer", "Name", "Straße", "PLZ", "Ort", "E-Mail",
                "Leistung", "Menge", "Einzelpreis", "Lastschrift-IBAN", "Mandatsreferenz"])
    for i in range(n):
        number = f"STA-B{batch:04d}-{i:05d}"
        if rng.random() < 0.3:
            w.writerow([number, "02.11.2026", rng.choice(["K-10001", "K-10003", "K-10004"]), "", "", "", "", "",
                        "Eheurkunde", rng.randint(1, 3), "12,00", "", ""])
        else:
            w.writerow([number, "02.11.2026", "", f"Bürgerin {batch}-{i}", f"Lindenstraße {i % 200 + 1}", "12345",
                        "Musterstadt", f"b{batch}.{i}@example.org", "Geburtsurkunde", rng.randint(1, 4), "12,00",
                        "", ""])
    return out.getvalue().encode("windows-1252")


def _ordnungsamt(rng: random.Random, batch: int, n: int) -> bytes:
    lines = []
    for i in range(n):
        public = rng.random() < 0.3
        lines.append(json.dumps({
            "vorgang": f"SN-B{batch:04d}-{i:05d}", "art": "rechnung", "datum": "2026-11-05",
            "kunde": rng.choice(["K-30001", "K-30002"]) if public else rng.choice(["K-20001", "K-20002"]),
            "aktenzeichen": f"32.1-SN-{batch}-{i}", "zeitraum": {"von": "2026-11-01", "bis": "2026-11-30"},
            "leistung": "Sondernutzung Außengastronomie (m² je Monat)", "menge": rng.randint(5, 40),
            "einheit": "MTK", "preis": 4.5, "ust": "O", "ust_satz": None}, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode("utf-8")


def _abfall(rng: random.Random, batch: int, n: int) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, delimiter=",", lineterminator="\n")
    w.writerow(["Kassenzeichen", "Kundennummer", "Bescheiddatum", "Faellig", "Grundstueck", "Leistung", "Anzahl",
                "Einheit", "Gebuehrensatz", "Satzeinheit", "Monate"])
    for i in range(n):
        w.writerow([f"5.03{batch:04d}.{i:06d}", rng.choice(CITIZENS + ["K-20001"]), "2026-01-15", "2026-02-15",
                    f"Grundstück Beispielweg {i % 300 + 1}", "Restabfallbehälter 120 l, 14-tägliche Leerung",
                    rng.randint(1, 2), "Behälter", "198.00", "€ je Behälter und Jahr", ""])
    return out.getvalue().encode("utf-8")


def _steueramt(rng: random.Random, batch: int, n: int) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, delimiter=";", lineterminator="\r\n")
    w.writerow(["Kassenzeichen", "Kundennummer", "Aktenzeichen", "Bescheiddatum", "Jahr", "Hund", "Gefährlich",
                "Monate"])
    for i in range(n):
        w.writerow([f"5.02{batch:04d}.{i:06d}", rng.choice(CITIZENS), f"22.1-HSt-{batch}-{i}", "12.01.2026",
                    "2026", rng.choice(["Bello", "Luna", "Rex"]), "nein", "12"])
    return out.getvalue().encode("utf-8")


def make_deliveries(zones: Path, records: int, batch_size: int, seed: int = 7) -> dict[str, int]:
    """Write the synthetic deliveries into ``zones/<department>/``; returns records per department."""
    rng = random.Random(seed)
    library = (ROOT / "examples/batches/stadtbibliothek/BIB-2026-0031_ubl.xml").read_bytes()
    makers = {"standesamt": (_standesamt, "csv"), "ordnungsamt": (_ordnungsamt, "jsonl"),
              "abfallwirtschaft": (_abfall, "csv"), "steueramt": (_steueramt, "csv")}
    counts = {}
    for dep, share in MIX.items():
        n = max(1, round(records * share))
        counts[dep] = n
        zone = zones / dep
        zone.mkdir(parents=True, exist_ok=True)
        if dep == "stadtbibliothek":
            for i in range(n):
                number = f"BIB-BENCH-{i:06d}".encode()
                (zone / f"{number.decode()}.xml").write_bytes(library.replace(b"BIB-2026-0031", number))
            continue
        make, ext = makers[dep]
        for b, start in enumerate(range(0, n, batch_size)):
            (zone / f"bench-{b:04d}.{ext}").write_bytes(make(rng, b, min(batch_size, n - start)))
    return counts


# ============================================================================================ one run


def _cpu() -> dict[str, float]:
    """CPU seconds: this process, its finished children (the worker pool), and its live children (Prefect's
    ephemeral server, still running until this process exits). On a busy machine CPU time says what a run costs
    far more steadily than wall time."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    done = resource.getrusage(resource.RUSAGE_CHILDREN)
    tick, live = os.sysconf("SC_CLK_TCK"), 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():  # ppid
            live += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return {"cpu_coordinator_s": round(me.ru_utime + me.ru_stime, 1),
            "cpu_workers_s": round(done.ru_utime + done.ru_stime, 1), "cpu_live_children_s": round(live, 1)}


def _peaks() -> dict[str, int]:
    with open("/proc/self/status", encoding="ascii") as fh:
        self_kb = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    return {"coordinator_peak_rss_mb": round(self_kb / 1024), "largest_child_peak_rss_mb":
            round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)}


def _cpu_ticks() -> list[int]:
    """The machine's CPU ticks (/proc/stat): user nice system idle iowait irq softirq steal."""
    with open("/proc/stat", encoding="ascii") as fh:
        return [int(x) for x in fh.readline().split()[1:9]]


def steal_share(before: list[int], after: list[int]) -> float:
    """The share of the machine's CPU time the hypervisor gave to other guests meanwhile ("steal"): on a shared
    virtual machine the same work took 40 to 60 CPU seconds from one run to the next, the slow runs with steal."""
    delta = [b - a for a, b in zip(before, after)]
    return round(delta[7] / max(1, sum(delta)), 3)


def child(variant: str, root: Path, workers: int | None, chunk_size: int) -> dict:
    """One run in this (fresh) process; prints its figures as JSON."""
    load_before, ticks = os.getloadavg()[0], _cpu_ticks()
    started = time.perf_counter()
    if variant == "plain":
        from erechnung.pipeline import Options, run

        summary = run(root / "config.toml", options=Options(workers=workers, chunk_size=chunk_size),
                      work_dir=root / "work", report_dir=root / "reports")
        flow_seconds, table = summary.seconds, summary.table()
        extra = {"timings": summary.timings, "workers": summary.workers}
    else:
        os.environ["PREFECT_HOME"] = str(root / "prefect-home")
        os.environ.pop("PREFECT_API_URL", None)
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        import flows  # noqa: F401  (offline settings)
        from flows.pipeline import run_flow

        result = run_flow(config=str(root / "config.toml"), workers=workers, chunk_size=chunk_size,
                          work_dir=str(root / "work"), report_dir=str(root / "reports"))
        flow_seconds, table, extra = result["seconds"], result["table"], {"timings": result.get("timings")}
    total = time.perf_counter() - started
    t = table[-1]
    docs = t["rendered"] + t["rejected"]
    return {"variant": variant, "documents": docs, "rendered": t["rendered"], "rejected": t["rejected"],
            "quarantined": t["quarantined"], "run_seconds": round(flow_seconds, 2),
            "process_seconds": round(total, 2), "docs_per_second": round(docs / flow_seconds, 1) if flow_seconds else 0,
            "load_before": round(load_before, 1), "load_after": round(os.getloadavg()[0], 1),
            "steal": steal_share(ticks, _cpu_ticks()),
            **_peaks(), **_cpu(), **extra}


def cpu_ms_per_document(r: dict) -> dict[str, float]:
    """CPU milliseconds per document: the coordinator's intake and documents phase (its own threads: archive
    writes, database), the workers (rendering, validation), Prefect's server (live children), and all together."""
    n = max(1, r["documents"])
    timings = r.get("timings") or {}
    out = {"intake": timings.get("intake_cpu", 0.0), "coordinator_documents": timings.get("documents_cpu", 0.0),
           "coordinator": r["cpu_coordinator_s"], "workers": r["cpu_workers_s"], "server": r["cpu_live_children_s"]}
    out = {k: round(1000 * v / n, 2) for k, v in out.items()}
    out["all"] = round(out["coordinator"] + out["workers"] + out["server"], 2)
    return out


def one(variant: str, records: int, args, attempt: int = 0) -> dict:
    from erechnung.demo_pipeline import config_text

    root = (Path(args.out) / f"{records}-{variant}-{attempt}").absolute()
    if root.exists():
        import shutil

        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / "config.toml").write_text(config_text(root), encoding="utf-8")
    make_deliveries(root / "dropzones", records, args.batch_size)
    cmd = [sys.executable, __file__, "--child", variant, "--root", str(root), "--chunk-size", str(args.chunk_size)]
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"{variant} {records}: failed\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["records"] = records
    result["attempt"] = attempt
    if not args.keep:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--chunk-size", type=int, default=500)
    ap.add_argument("--variants", default="plain,prefect")
    ap.add_argument("--out", default=str(ROOT / "out" / "bench-pipeline"))
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per size and variant, alternating the variants (a loaded machine varies a lot: the "
                         "fastest run of each is compared)")
    ap.add_argument("--keep", action="store_true", help="keep each run's site (database, archive) afterwards")
    ap.add_argument("--child", choices=("plain", "prefect"))
    ap.add_argument("--root")
    ap.add_argument("--report", nargs="+", metavar="RESULTS_JSON",
                    help="run nothing: the summary and the bars of earlier runs' results.json files together (e.g. "
                         "the 10,000 and the 100,000 records run separately)")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, Path(args.root), args.workers, args.chunk_size)))
        return 0
    results = []
    if args.report:
        for name in args.report:
            results += json.loads(Path(name).read_text())["runs"]
        args.records = sorted({r["records"] for r in results})
        args.variants = ",".join(v for v in ("plain", "prefect") if any(r["variant"] == v for r in results))
        args.repeat = max(1 + r.get("attempt", 0) for r in results)
        args.out = str(Path(args.out) / "report")
    for records in [] if args.report else args.records:
        for attempt in range(args.repeat):
            for variant in args.variants.split(","):
                r = one(variant, records, args, attempt)
                results.append(r)
                print(json.dumps(r), flush=True)
    all_runs = results
    best: dict[tuple[int, str], dict] = {}
    for r in all_runs:  # the fastest run of each (size, variant): the least disturbed by other load
        key = (r["records"], r["variant"])
        if key not in best or r["run_seconds"] < best[key]["run_seconds"]:
            best[key] = r
    results = list(best.values())
    cores = os.cpu_count() or 1
    print(f"\nfastest of {args.repeat} run(s) each ({cores} cores; load = 1-minute load average before/after):")
    print(f"{'records':>8} {'variant':>8} {'docs':>7} {'docs/s':>7} {'run s':>8} {'proc s':>8} {'coord MB':>9} "
          f"{'worker MB':>10} {'load':>9} {'steal':>6}  CPU ms/doc: intake coord-docs workers server all -> docs/s on {cores} "
          "free cores")
    for r in results:
        c = cpu_ms_per_document(r)
        print(f"{r['records']:>8} {r['variant']:>8} {r['documents']:>7} {r['docs_per_second']:>7} "
              f"{r['run_seconds']:>8} {r['process_seconds']:>8} {r['coordinator_peak_rss_mb']:>9} "
              f"{r['largest_child_peak_rss_mb']:>10} {r.get('load_before', '?'):>4}/{r.get('load_after', '?'):<4} "
              f"{r.get('steal', 0):>6.1%} "
              f"{c['intake']:>6} {c['coordinator_documents']:>6} {c['workers']:>6} {c['server']:>6} {c['all']:>6} "
              f"-> {cores * 1000 / max(0.01, c['all']):.0f}")
        ms = (r.get("timings") or {}).get("ms_per_document")
        if ms:
            print(f"{'':>17} worker ms per document: " + ", ".join(f"{k} {v}" for k, v in ms.items()))
    shares: dict[int, float] = {}
    for records in args.records:
        by = {r["variant"]: r for r in results if r["records"] == records}
        if {"plain", "prefect"} <= set(by):
            p, f = by["plain"], by["prefect"]
            share = (f["run_seconds"] - p["run_seconds"]) / f["run_seconds"]
            share_all = (f["process_seconds"] - p["process_seconds"]) / f["process_seconds"]
            print(f"{records}: Prefect share of wall time {share:.1%} of the run, {share_all:.1%} including the "
                  "ephemeral server's start-up")
            cpu = {v: r["cpu_coordinator_s"] + r["cpu_workers_s"] + r["cpu_live_children_s"] for v, r in by.items()}
            extra = (f["cpu_coordinator_s"] + f["cpu_live_children_s"]) - (p["cpu_coordinator_s"]
                                                                           + p["cpu_live_children_s"])
            shares[records] = extra / cpu["prefect"]
            print(f"{records}: Prefect share of CPU time {shares[records]:.1%} (coordinator and server "
                  f"{extra:.0f} s more, of {cpu['prefect']:.0f} s in all)")
    out = Path(args.out) / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"best": results, "runs": all_runs}, indent=1))
    print(f"results: {out}")
    # the bars, last
    print("\nbars (issue 4):")
    for r in results:
        rate = r["docs_per_second"]
        print(f"  docs/s {r['records']:>7} {r['variant']:<8} {rate:>6} vs 80: {'met' if rate >= 80 else 'NOT met'}"
              f" (load {r.get('load_before', '?')}/{r.get('load_after', '?')}; the CPU it took allows "
              f"{cores * 1000 / max(0.01, cpu_ms_per_document(r)['all']):.0f} on {cores} free cores)")
    sizes = sorted({r["records"] for r in results})
    if len(sizes) > 1:
        for variant in args.variants.split(","):
            small = next((r for r in results if r["records"] == sizes[0] and r["variant"] == variant), None)
            large = next((r for r in results if r["records"] == sizes[-1] and r["variant"] == variant), None)
            if small and large:
                for what, key in (("coordinator", "coordinator_peak_rss_mb"), ("worker", "largest_child_peak_rss_mb")):
                    ratio = large[key] / max(1, small[key])
                    print(f"  peak memory {variant:<8} {what:<11} {sizes[-1]} vs {sizes[0]} records: {large[key]} / "
                          f"{small[key]} MB = {ratio:.2f}x vs 1.2x: {'met' if ratio <= 1.2 else 'NOT met'}")
    for records, share in shares.items():
        by = {r["variant"]: r for r in results if r["records"] == records}
        wall = (by["prefect"]["run_seconds"] - by["plain"]["run_seconds"]) / by["prefect"]["run_seconds"]
        print(f"  Prefect share {records:>7}: wall {wall:.1%}, CPU {share:.1%} vs 5%: "
              f"{'met' if max(wall, share) < 0.05 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
