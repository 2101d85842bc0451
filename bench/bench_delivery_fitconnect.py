"""bench-delivery-fitconnect: deliveries per second into the BundID postbox through FIT-Connect, against the
FIT-Connect sandbox on loopback.

The sandbox runs in its own process (as the real service would be elsewhere), so the two cores are shared
between our client and the sandbox, which does the receiving side's work too: it decrypts every JWE with the
destination's RSA-4096 key (metadata, data, attachment: three private-key operations) and signs two PS512
event tokens (submit, accept: two more). Per delivery the client makes one RSA-OAEP-256 wrap per JWE (three),
AES-256-GCM over the document, one RSA-SHA512 signature (``sha512sum``), four HTTPS requests on pooled
connections; the destination key is fetched, chain-verified and parsed once, the access and author tokens are
reused.

    .venv/bin/python bench/bench_delivery_fitconnect.py [--deliveries 600] [--threads 8] [--size 60000]

Prints: the CPU cost of each client step measured alone, deliveries/s (submitted: the receipt, i.e. "sent"),
the time until every delivery is accepted and its accept token verified ("delivered"), CPU per delivery of
the client and of the sandbox process, and what limits the rate.

Seen on the 2-core machine under other load (load average 9-16): ~41-58 deliveries/s sent; client 4-4.7 ms
CPU per delivery (about 220-260/s per core), of which the crypto is under 1 ms: a profile puts two thirds in
httpx/httpcore (three requests per submission) and a quarter in jwcrypto's JWE (half of that its per-token
header-registry deepcopy); the sandbox needs 11-14 ms CPU per delivery (about 75-90/s in one process: five
RSA-4096 private-key operations are ~10 ms and hold the GIL), so the receiving side limits the run, not us.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailbox_connectors import crypto  # noqa: E402
from mailbox_connectors.base import Delivery, DocumentFormat, DocumentKind, EventState  # noqa: E402
from mailbox_connectors.bundid import AuthorIdentity, BundIdBridgeConnector, BundIdSettings  # noqa: E402
from mailbox_connectors.fitconnect_client import (  # noqa: E402
    FitConnectSettings, OutgoingAttachment, OutgoingSubmission)


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start_sandbox(folder: Path) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen([sys.executable, "-m", "mailbox_connectors.sandboxes.fitconnect", "--state-dir",
                             str(folder)], stdout=subprocess.PIPE, cwd=Path(__file__).resolve().parents[1])
    line = proc.stdout.readline() if proc.stdout else b""
    if not line:
        proc.kill()
        raise SystemExit("the FIT-Connect sandbox did not start")
    return proc, json.loads(line)


def _timed(label: str, fn, n: int) -> float:
    """CPU milliseconds per call (thread CPU time: other load on the machine does not inflate it)."""
    start = time.thread_time()
    for _ in range(n):
        fn()
    ms = (time.thread_time() - start) / n * 1000
    print(f"  {label:<58} {ms:7.3f} ms")
    return ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--deliveries", type=int, default=600)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--size", type=int, default=60_000, help="bytes of the document (a notice PDF: 30-80 kB)")
    parser.add_argument("--time-limit", type=float, default=300.0, help="stop sending after this many seconds")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-fitconnect-"))
    proc, info = _start_sandbox(folder)
    try:
        fit = FitConnectSettings(submission_url=info["base_url"], token_url=info["token_url"],
                                 client_id=info["client_id"],
                                 client_secret=(folder / info["client_secret_file"]).read_text(),
                                 trust_roots=(folder / info["root"]).read_bytes(), tls_ca=folder / info["root"])
        author = AuthorIdentity.from_files(folder / info["author_cert"], folder / info["author_key"])
        connector = BundIdBridgeConnector(fit, BundIdSettings(sender="Stadt Musterstadt, Stadtkasse"), author,
                                          bridge_destination_id=info["bridge_destination_id"])
        document = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + os.urandom(max(0, args.size - 16))

        def delivery(i: int) -> Delivery:
            return Delivery(f"bench-{uuid.uuid4()}", DocumentKind.NOTICE, DocumentFormat.PDFA, document,
                            "bescheid.pdf", "application/pdf", str(uuid.uuid4()), f"Bescheid Nr. {i}",
                            "Ihr Bescheid liegt bei.")

        # warm-up: token, destination, key chain verified and parsed once
        connector.send(delivery(0))
        key = connector.client.encryption_key(info["bridge_destination_id"])
        print(f"FIT-Connect bench: {args.deliveries} deliveries of {args.size / 1000:.0f} kB, {args.threads} client "
              f"threads, sandbox in its own process, {os.cpu_count()} cores, load average "
              f"{os.getloadavg()[0]:.1f} before the run")
        print("client steps, each alone (CPU per call):")
        wrap = _timed("JWE of the document (RSA-OAEP-256 wrap + A256GCM)",
                      lambda: crypto.encrypt(key, document, cty="application/pdf"), 50)
        small = _timed("JWE of metadata / data (RSA-OAEP-256 wrap + A256GCM)",
                       lambda: crypto.encrypt(key, b"{" + b"x" * 1500 + b"}", cty="application/json"), 50)
        sign = _timed("sha512sum: RSA-SHA512 signature of the content (author key)",
                      lambda: connector._author.sign("x" * 800), 50)
        outgoing = OutgoingSubmission(info["bridge_destination_id"], "urn:x:y", "x",
                                      (OutgoingAttachment(document, "a.pdf", "application/pdf"),), data=b"{}",
                                      data_schema_uri="urn:x:y")
        meta = _timed("metadata built and checked against the schema", lambda: connector.client.metadata(outgoing),
                      50)
        print(f"  => crypto and metadata per delivery: {wrap + 2 * small + sign + meta:.2f} ms CPU (client side)")

        client_cpu0, sandbox_cpu0 = time.process_time(), _cpu_of(proc.pid)
        start = time.perf_counter()
        deadline = start + args.time_limit
        receipts, failures = [], []

        def one(i: int) -> None:
            if time.perf_counter() > deadline:
                return
            try:
                receipts.append(connector.send(delivery(i)))
            except Exception as exc:  # noqa: BLE001 - counted and shown
                failures.append(repr(exc))

        with ThreadPoolExecutor(args.threads) as pool:
            list(pool.map(one, range(1, args.deliveries + 1)))
        sent_s = time.perf_counter() - start
        client_cpu, sandbox_cpu = time.process_time() - client_cpu0, _cpu_of(proc.pid) - sandbox_cpu0
        n = len(receipts)
        print(f"submitted (receipt = sent): {n} in {sent_s:.2f} s = {n / sent_s:.1f} deliveries/s"
              + (f"; {len(failures)} failed: {failures[:2]}" if failures else ""))

        wanted = {r.delivery_id for r in receipts}
        delivered: set[str] = set()
        polls = 0
        while time.perf_counter() - start < args.time_limit + 120 and not wanted <= delivered:
            polls += 1  # one GET per open case and round: FIT-Connect v1 has no event feed for senders
            delivered |= {e.delivery_id for e in connector.collect_events() if e.state is EventState.DELIVERED}
            if not wanted <= delivered:
                time.sleep(1.0)
        all_s = time.perf_counter() - start
        sandbox_cpu_all = _cpu_of(proc.pid) - sandbox_cpu0
        done = len(wanted & delivered)
        print(f"delivered (accept verified): {done} of {n} after {all_s:.2f} s = "
              f"{done / all_s:.1f} deliveries/s end to end ({polls} rounds of collect_events)")
        per = 1000 / max(n, 1)
        print(f"CPU per delivery while sending: client {client_cpu * per:.2f} ms, sandbox {sandbox_cpu * per:.2f} ms; "
              f"sandbox until all accepted {sandbox_cpu_all * per:.2f} ms")
        client_rate = n / client_cpu if client_cpu else float("inf")
        sandbox_rate = n / sandbox_cpu_all if sandbox_cpu_all else float("inf")
        limit = "the sandbox (the receiving side's RSA-4096 decryptions and PS512 signatures)" \
            if sandbox_rate < client_rate else "the client (Python HTTP handling, JWE, signatures)"
        print(f"one core each would allow: client {client_rate:.0f}/s, sandbox {sandbox_rate:.0f}/s; "
              f"the limit here is {limit}; both share {os.cpu_count()} cores with each other and whatever else "
              f"runs (load average {os.getloadavg()[0]:.1f} now)")
        connector.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
