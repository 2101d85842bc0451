"""Throughput of our validation pipeline against a KoSIT proxy (Java Saxon-HE running the same Schematron XSLTs).

Run: ``make bench-validate`` (or ``.venv/bin/python bench/bench_validate.py --help``).

What is compared, and why it is fair:

- Documents: every official test instance that the KoSIT emulation accepts (``observed_verdict == accept`` in
  ``xsd/cases/OBSERVED_KOSIT_EMULATION.tsv``), repeated whole until there are at least ``--min-docs`` (2,000),
  in the same order on both sides, held in memory on both sides before any timing.
- Ours: ``validators.parallel`` with ``os.cpu_count()`` spawn worker processes, the full pipeline per document
  (gate, scenario selection, XML Schema, both Schematron XSLTs, customLevel, VARL report, acceptMatch) and the
  results pickled back to this process, as a caller of ``validate_many`` gets them.
- KoSIT proxy (``bench/KositProxy.java``): one JVM, the same number of threads, Debian's Saxon-HE, each XSLT
  compiled once and shared by the threads, each document parsed once and every XSLT of its scenario run on it,
  the SVRL built as a tree and its findings read. Its XSLT list per document is the one our engine ran for that
  document (the Schematron steps of its result), passed in a manifest file. The proxy does less than we do (no
  XML Schema, no report, no pickling), so the ratio is conservative.
- Both warm: our pool starts, compiles every stylesheet and schema in every worker and runs one full untimed
  pass; the JVM compiles the XSLTs and runs full untimed passes until its throughput is stable (JIT; at least
  ``--proxy-warmup-passes``, at most ``--proxy-warmup-max``). Start-up, compilation and warm-up are reported,
  not timed.
- Timed: ``--rounds`` rounds, each one timed pass of ours followed by one of the proxy's, so that both see the
  same background load; the figures are the medians. The ratio is ours / proxy (docs per second).

Also, in the same pool and rounds: "saxonche alone", only the Saxon work per document (parse, then the Schematron
XSLTs as our engine runs them: the lean copies of ``validators.lean``), the ceiling of an engine that runs them in
saxonche; and, after the timed rounds, ``bench/engine_components.py`` in a fresh process: CPU ms per document for
each part of our engine, so the printout can say what limits the ratio (``--no-components`` skips it).

Peak RSS per worker: VmHWM of each worker process (reported by the worker after every chunk, and read from
/proc/<pid>/status by this process at the end). The bars: ratio >= 0.75, peak RSS per worker < 400 MB.

Figures go to stdout and to ``out/bench-validate.json``; the last line is ``ratio vs KoSIT proxy: X.XX``.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from erechnung import artifacts  # noqa: E402
from validators.parallel import ValidationPool  # noqa: E402

SAXON_JAR = Path("/usr/share/java/Saxon-HE.jar")
JAVA_SOURCE = Path(__file__).resolve().parent / "KositProxy.java"
RSS_BAR_MB = 400
RATIO_BAR = 0.75


def log(msg: str = "") -> None:
    print(msg, flush=True)


# ----------------------------------------------------------------------------------------------------------------
# documents
# ----------------------------------------------------------------------------------------------------------------

def accepted_cases() -> list[tuple[str, Path, str]]:
    """(name, path, observed scenario) of every official case the KoSIT emulation accepts, in file order."""
    cases = artifacts.cases_dir()
    table = cases / "OBSERVED_KOSIT_EMULATION.tsv"
    out = []
    with table.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row["observed_verdict"] != "accept":
                continue
            rel = row["path"].removeprefix("cases/")
            path = cases / rel
            if not path.is_file():
                raise SystemExit(f"{path} is listed in {table} but missing; run `make artifacts`")
            out.append((row["path"], path, row["scenario"]))
    if not out:
        raise SystemExit(f"no accepted case in {table}")
    return out


# ----------------------------------------------------------------------------------------------------------------
# the Java side
# ----------------------------------------------------------------------------------------------------------------

def ensure_saxon_jar() -> str:
    if SAXON_JAR.is_file():
        return "present"
    if os.geteuid() != 0:
        raise SystemExit(f"{SAXON_JAR} is missing; install Debian's Saxon-HE as root: "
                         "apt-get update && apt-get install -y libsaxonhe-java")
    log(f"{SAXON_JAR} is missing: installing Debian's libsaxonhe-java with apt-get (running as root) ...")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "libsaxonhe-java"], check=True, env=env)
    if not SAXON_JAR.is_file():
        raise SystemExit(f"apt-get installed libsaxonhe-java but {SAXON_JAR} is still missing")
    return "installed by this bench with apt-get"


def compile_proxy(build: Path) -> float:
    for tool in ("javac", "java"):
        if shutil.which(tool) is None:
            raise SystemExit(f"`{tool}` is not on PATH; install a JDK (Debian: openjdk-17-jdk-headless)")
    t0 = time.perf_counter()
    subprocess.run(["javac", "-Xlint:-path", "-nowarn", "-cp", str(SAXON_JAR), "-d", str(build), str(JAVA_SOURCE)],
                   check=True)
    return time.perf_counter() - t0


class Proxy:
    """The warm JVM, driven line by line (see KositProxy.java)."""

    def __init__(self, build: Path, manifest: Path, threads: int) -> None:
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            ["java", "-cp", f"{build}{os.pathsep}{SAXON_JAR}", "KositProxy", str(manifest), str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.ready = self._read()
        self.ready["start_s"] = time.perf_counter() - t0  # JVM start + reading documents + compiling the XSLTs

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the KoSIT proxy stopped (exit code {self.proc.wait()}); see its output above")
        return json.loads(line)

    def ask(self, command: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read()

    def quit(self) -> dict:
        result = self.ask("quit")
        self.proc.wait(timeout=60)
        return result


# ----------------------------------------------------------------------------------------------------------------
# measurements
# ----------------------------------------------------------------------------------------------------------------

def vm_hwm_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class SaxonOnly:
    """The ceiling of our engine's design on saxonche: per document only the Saxon work (parse into a Saxon tree,
    run the Schematron XSLTs as our engine runs them, i.e. their lean copies from ``validators.lean``, SVRL as a
    string), nothing else; run in the same kind of pool as ours."""

    def __init__(self, xslts_by_name: dict[str, list[str]]) -> None:
        self.xslts_by_name = xslts_by_name

    def warm_up(self) -> None:
        from validators import runtime
        for paths in self.xslts_by_name.values():
            for p in paths:
                runtime.xslt(Path(p), lean=True)

    def validate(self, data: bytes, name: str) -> tuple[str, int]:
        from validators import runtime
        node = runtime.parse_xdm(data.decode("utf-8"))
        size = 0
        for p in self.xslts_by_name[name]:
            size += len(runtime.xslt(Path(p), lean=True).transform_to_string(xdm_node=node))
        return name, size  # plain data: a class defined here would not unpickle in this (__main__) process


def saxon_only_factory(xslts_by_name: dict[str, list[str]]) -> SaxonOnly:
    return SaxonOnly(xslts_by_name)


def schematron_xslts(result) -> list[str]:
    """The Schematron XSLTs our engine ran for a document, in pipeline order (absolute paths)."""
    return [str(Path(r.path).resolve()) for s in result.steps if s.kind == "schematron" and s.status == "ran"
            for r in s.resources]


def error_level_schematron(result) -> bool:
    """True when an XSLT reported an error-level finding before customLevel (what the proxy counts)."""
    return any(m.level == "error" for s in result.steps if s.kind == "schematron" for m in s.messages)


def schematron_messages(result) -> int:
    return sum(len(s.messages) for s in result.steps if s.kind == "schematron")


def engine_components(passes: int = 2) -> dict[str, float] | None:
    """CPU ms per document of each part of our engine (``bench/engine_components.py`` in a fresh process, run
    after the timed rounds so that it competes with nothing of ours), or None when it fails."""
    script = Path(__file__).resolve().parent / "engine_components.py"
    out = subprocess.run([sys.executable, str(script), "--passes", str(passes), "--json"], capture_output=True,
                         text=True, cwd=PROJECT_ROOT)
    if out.returncode != 0:
        log(f"WARNING: {script.name} failed: {out.stderr.strip()[-500:]}")
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--min-docs", type=int, default=2000, help="repeat the accepted cases to at least this many")
    ap.add_argument("--workers", type=int, default=None, help="processes (ours) and threads (proxy); "
                                                              "default os.cpu_count()")
    ap.add_argument("--chunksize", type=int, default=None, help="documents per task (default: automatic)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating timed passes per side (median is used)")
    ap.add_argument("--proxy-warmup-passes", type=int, default=5,
                    help="minimum untimed JIT warm-up passes of the proxy (more until two passes agree within 3 %%)")
    ap.add_argument("--proxy-warmup-max", type=int, default=10, help="maximum untimed warm-up passes of the proxy")
    ap.add_argument("--no-ceiling", action="store_true",
                    help="skip the saxonche-only pool (the ceiling of any engine built on saxonche)")
    ap.add_argument("--no-components", action="store_true",
                    help="skip the per-component breakdown (bench/engine_components.py, after the timed rounds)")
    ap.add_argument("--json", type=Path, default=PROJECT_ROOT / "out" / "bench-validate.json")
    args = ap.parse_args(argv)

    workers = args.workers or os.cpu_count() or 1
    cases = accepted_cases()
    repeats = math.ceil(args.min_docs / len(cases))
    distinct = [(name, path.read_bytes()) for name, path, _ in cases]
    items = distinct * repeats  # the same bytes objects, repeated: no extra memory per repeat
    paths = [str(path.resolve()) for _, path, _ in cases] * repeats
    log(f"documents: {len(items)} = {len(cases)} accepted official cases x {repeats} "
        f"({sum(len(d) for _, d in distinct) * repeats / 1e6:.1f} MB)")
    log(f"workers: {workers} (os.cpu_count() = {os.cpu_count()}); load average before: "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    jar = ensure_saxon_jar()
    build = Path(tempfile.mkdtemp(prefix="kosit-proxy-build-"))
    try:
        javac_s = compile_proxy(build)

        # -- ours: start (spawn + Validator + compile everything), then one untimed full pass --------------------
        by_scenario: dict[str, tuple[str, bytes]] = {}
        for (name, data), (_, _, scenario) in zip(distinct, cases):
            by_scenario.setdefault(scenario, (name, data))
        t0 = time.perf_counter()
        ceiling = None
        pool = ValidationPool(workers, warmup=list(by_scenario.values())).start()
        ours_start_s = time.perf_counter() - t0
        try:
            t0 = time.perf_counter()
            warm = pool.validate_many(items, args.chunksize)
            ours_warmup_s = time.perf_counter() - t0
            first = warm[:len(distinct)]
            not_accepted = [(r.name, r.verdict, getattr(r, "reason", "")) for r in warm if r.verdict != "accept"]
            if not_accepted:
                log(f"WARNING: {len(not_accepted)} documents not accepted by our engine, e.g. {not_accepted[:3]}")
            xslts = [schematron_xslts(r) for r in first]
            missing = [r.name for r, x in zip(first, xslts) if not x]
            if missing:
                raise SystemExit(f"our engine ran no Schematron for {len(missing)} documents, e.g. {missing[:3]}; "
                                 "the proxy cannot be given the same XSLTs")

            manifest = build / "manifest.tsv"
            with manifest.open("w", encoding="utf-8") as fh:
                for i, path in enumerate(paths):
                    fh.write("\t".join([path, *xslts[i % len(distinct)]]) + "\n")

            # -- the proxy: start, compile, warm up -------------------------------------------------------------
            if not args.no_ceiling:
                ceiling = ValidationPool(workers, bundle={name: x for (name, _), x in zip(distinct, xslts)},
                                         validator_factory=saxon_only_factory).start()
                ceiling.validate_many(items, args.chunksize)  # its warm-up pass

            proxy = Proxy(build, manifest, workers)
            # JIT warm-up until two consecutive untimed passes agree within 3 % (at least the minimum, at most
            # the maximum number of passes): a KoSIT daemon in production runs fully warm, so the proxy should too.
            t0 = time.perf_counter()
            warm_rates: list[float] = []
            while len(warm_rates) < args.proxy_warmup_max:
                warm_rates.append(proxy.ask("pass")["docs_per_s"])
                if (len(warm_rates) >= args.proxy_warmup_passes
                        and abs(warm_rates[-1] - warm_rates[-2]) <= 0.03 * warm_rates[-2]):
                    break
            proxy_warm = {"warmup_passes": len(warm_rates), "warmup_s": time.perf_counter() - t0,
                          "warmup_docs_per_s": warm_rates}
            log(f"proxy: Saxon-HE {proxy.ready['saxon']} on Java {proxy.ready['java']}, {proxy.ready['threads']} threads, "
                f"{proxy.ready['xslts']} XSLTs")

            # -- timed rounds, alternating ----------------------------------------------------------------------
            rounds = []
            timed_results = None
            for r in range(args.rounds):
                busy0 = pool.busy_seconds
                t0 = time.perf_counter()
                timed_results = pool.validate_many(items, args.chunksize)
                ours_s = time.perf_counter() - t0
                busy = pool.busy_seconds - busy0
                ceiling_s = None
                if ceiling is not None:
                    t0 = time.perf_counter()
                    ceiling.validate_many(items, args.chunksize)
                    ceiling_s = time.perf_counter() - t0
                p = proxy.ask("pass")
                rnd = {"ours_s": ours_s, "ours_docs_per_s": len(items) / ours_s,
                       # share of the workers' wall time spent inside Validator.validate; the rest is IPC,
                       # pickling and waiting (the cost of validators.parallel itself)
                       "ours_worker_utilization": busy / (ours_s * workers),
                       "ours_ms_per_doc_in_worker": 1000 * busy / len(items),
                       "proxy_ms_per_doc_per_thread": 1000 * p["timed_s"] * workers / len(items),
                       "proxy_s": p["timed_s"], "proxy_docs_per_s": p["docs_per_s"],
                       "proxy_docs_with_error_asserts": p["docs_with_error_asserts"],
                       "proxy_messages": p["messages"], "load_average_1m": os.getloadavg()[0]}
                rnd["ratio"] = rnd["ours_docs_per_s"] / rnd["proxy_docs_per_s"]
                if ceiling_s is not None:
                    rnd["saxonche_only_docs_per_s"] = len(items) / ceiling_s
                    rnd["saxonche_only_ratio"] = rnd["saxonche_only_docs_per_s"] / rnd["proxy_docs_per_s"]
                rounds.append(rnd)
                log(f"round {r + 1}: ours {rnd['ours_docs_per_s']:.1f} docs/s, proxy {rnd['proxy_docs_per_s']:.1f} "
                    f"docs/s, ratio {rnd['ratio']:.2f}"
                    + (f"; saxonche alone {rnd['saxonche_only_docs_per_s']:.1f} docs/s, ratio "
                       f"{rnd['saxonche_only_ratio']:.2f}" if ceiling_s is not None else "")
                    + f" (load {rnd['load_average_1m']:.2f})")
            proxy_final = proxy.quit()

            timed_not_accepted = sum(r.verdict != "accept" for r in timed_results)
            ours_error_docs = sum(error_level_schematron(r) for r in timed_results)
            ours_messages = sum(schematron_messages(r) for r in timed_results)
            worker_rss = {pid: kb for pid, kb in pool.peak_rss_kb.items()}
            for pid in list(worker_rss):
                live = vm_hwm_kb(pid)
                if live is not None:
                    worker_rss[pid] = max(worker_rss[pid], live)
            setup_s = dict(pool.setup_seconds)
        finally:
            pool.close()
            if ceiling is not None:
                ceiling.close()
    finally:
        shutil.rmtree(build, ignore_errors=True)

    components = None if args.no_components else engine_components()

    ours_dps = statistics.median(r["ours_docs_per_s"] for r in rounds)
    utilization = statistics.median(r["ours_worker_utilization"] for r in rounds)
    ours_ms = statistics.median(r["ours_ms_per_doc_in_worker"] for r in rounds)
    proxy_ms = statistics.median(r["proxy_ms_per_doc_per_thread"] for r in rounds)
    proxy_dps = statistics.median(r["proxy_docs_per_s"] for r in rounds)
    ratio = ours_dps / proxy_dps
    ceiling_dps = (statistics.median(r["saxonche_only_docs_per_s"] for r in rounds)
                   if "saxonche_only_docs_per_s" in rounds[0] else None)
    peak_mb = max(worker_rss.values()) / 1024
    figures = {
        "documents": len(items), "distinct_documents": len(cases), "repeats": repeats, "workers": workers,
        "cpu_count": os.cpu_count(), "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "ours": {
            "docs_per_s": ours_dps,
            "ms_per_doc_in_worker": ours_ms,
            "worker_utilization": utilization,
            "pool_start_s": ours_start_s,
            "worker_setup_s": sorted(setup_s.values()),
            "warmup_pass_s": ours_warmup_s,
            "chunksize": args.chunksize or "auto",
            "not_accepted_in_timed_pass": timed_not_accepted,
            "docs_with_error_level_schematron_findings": ours_error_docs,
            "schematron_messages": ours_messages,
            "peak_rss_mb_per_worker": {str(pid): round(kb / 1024, 1) for pid, kb in sorted(worker_rss.items())},
            "peak_rss_mb_max": round(peak_mb, 1),
        },
        "proxy": {
            "docs_per_s": proxy_dps,
            "ms_per_doc_per_thread": proxy_ms,
            "saxon": proxy.ready["saxon"], "java": proxy.ready["java"], "threads": proxy.ready["threads"],
            "saxon_jar": jar, "javac_s": javac_s,
            "start_s": proxy.ready["start_s"], "compile_s": proxy.ready["compile_s"],
            "warmup_passes": proxy_warm["warmup_passes"], "warmup_s": proxy_warm["warmup_s"],
            "warmup_docs_per_s": proxy_warm["warmup_docs_per_s"],
            "vm_hwm_mb": proxy_final["vm_hwm_mb"],
        },
        "saxonche_only": None if ceiling_dps is None else {
            "what": "same pool, per document only: Saxon parse + the same XSLTs (saxonche), SVRL as a string",
            "docs_per_s": ceiling_dps, "ratio_vs_proxy": ceiling_dps / proxy_dps},
        "components_cpu_ms_per_doc": components,
        "rounds": rounds,
        "ratio": ratio,
        "ratio_median_of_rounds": statistics.median(r["ratio"] for r in rounds),
        "bars": {"ratio_min": RATIO_BAR, "ratio_ok": ratio >= RATIO_BAR,
                 "peak_rss_mb_per_worker_max": RSS_BAR_MB, "rss_ok": peak_mb < RSS_BAR_MB},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")

    o, p = figures["ours"], figures["proxy"]
    log("")
    log(f"docs:                      {len(items)} ({len(cases)} accepted cases x {repeats})")
    log(f"workers:                   {workers} processes (ours) / {p['threads']} threads (proxy)")
    log(f"ours:                      {ours_dps:.1f} docs/s (median of {len(rounds)} rounds)")
    log(f"proxy:                     {proxy_dps:.1f} docs/s (median of {len(rounds)} rounds)")
    per_round = ", ".join(f"{r['ratio']:.2f}" for r in rounds)
    log(f"ratio per round:           {per_round} (median {figures['ratio_median_of_rounds']:.2f}; each round times "
        f"both sides under the same load, so on a busy machine this is the steadier figure)")
    if ceiling_dps is not None:
        log(f"saxonche alone:            {ceiling_dps:.1f} docs/s (parse + the Schematron XSLTs as ours runs them, "
            f"nothing else, same pool): ratio {ceiling_dps / proxy_dps:.2f}, the ceiling of an engine that runs "
            f"them in saxonche")
    log(f"cost per document:         ours {ours_ms:.2f} ms in Validator.validate per worker process, proxy "
        f"{proxy_ms:.2f} ms per thread; workers busy {100 * utilization:.1f} % of the timed wall time "
        f"(the rest is validators.parallel: IPC, pickling, waiting)")
    log(f"ours warm-up:              pool start {ours_start_s:.2f} s (spawn, Validator, compile: "
        f"{', '.join(f'{s:.2f}' for s in o['worker_setup_s'])} s per worker), warm-up pass {ours_warmup_s:.2f} s")
    log(f"proxy warm-up:             JVM start + compile {p['start_s']:.2f} s (XSLT compile {p['compile_s']:.2f} s), "
        f"{p['warmup_passes']} warm-up passes {p['warmup_s']:.2f} s "
        f"({', '.join(f'{x:.0f}' for x in p['warmup_docs_per_s'])} docs/s)")
    log("peak RSS per worker:       " + ", ".join(f"{mb:.0f} MB" for mb in o["peak_rss_mb_per_worker"].values())
        + f" (bar < {RSS_BAR_MB} MB: {'ok' if peak_mb < RSS_BAR_MB else 'OVER'}); proxy JVM {p['vm_hwm_mb']} MB")
    log(f"same work:                 docs with error-level Schematron findings ours {ours_error_docs}, proxy "
        f"{rounds[-1]['proxy_docs_with_error_asserts']}; Schematron messages ours {ours_messages}, proxy "
        f"{rounds[-1]['proxy_messages']}; not accepted by ours {timed_not_accepted}")
    if components:
        log("where ours spends a document (CPU ms, one process; bench/engine_components.py):")
        for key, ms in components.items():
            log(f"  {key:45s} {ms:6.3f}")
        saxon = sum(ms for k, ms in components.items() if k.startswith(("XSLT", "Saxon parse")))
        whole = components.get("Validator.validate (whole)") or sum(components.values())
        share = saxon / whole
        limit = (f"the saxonche-only pool reached ratio {ceiling_dps / proxy_dps:.2f} in the same rounds, the limit "
                 f"of any engine that runs these XSLTs in saxonche; " if ceiling_dps else "")
        log(f"what limits the ratio:     Saxon (parse + Schematron XSLTs in saxonche) is {100 * share:.0f} % of our "
            f"CPU per document ({saxon:.2f} of {whole:.2f} ms); {limit}the engine's own parts (gate, XSD, selection, "
            f"documentData, SVRL, report) add the other {100 - 100 * share:.0f} %, the pool "
            f"{100 - 100 * utilization:.0f} % idle time")
    log(f"bar ratio >= {RATIO_BAR}:         {'ok' if ratio >= RATIO_BAR else 'BELOW'}")
    log(f"figures written to {args.json}")
    log(f"ratio vs KoSIT proxy: {ratio:.2f}")
    return 1 if timed_not_accepted else 0


if __name__ == "__main__":
    raise SystemExit(main())
