"""bench-delivery-peppol: XRechnungen per second to a public body by Peppol (SML by DNS, the SMP's signed metadata,
AS4 to the receiving access point and its signed receipt verified), against the Peppol sandbox network on
loopback in a process of its own (``mailbox_connectors.sandboxes.peppol_network``), both on this machine's cores.

    .venv/bin/python bench/bench_delivery_peppol.py [--deliveries 600] [--threads 8] [--size 30000] [--tracking N]

Per delivery the client builds the SBDH, gzips it, signs (RSA-SHA256 over three references) and encrypts it
(AES-128-GCM, RSA-OAEP key transport), posts it over HTTPS on a pooled connection and verifies the receipt's
signature and its non-repudiation digests; discovery is answered from its cache after the first lookup (the SML
answer for its DNS TTL, the SMP's for an hour). The receiving AP decrypts (one RSA private-key operation),
verifies, decompresses, checks the SBDH against the header, signs the receipt (one more) and writes an MLS answer.

Prints: the CPU cost of the client's steps measured alone; then (1) the connector alone: deliveries/s with the
receipt verified; (2) with tracking committed (``--tracking``, default as many as ``--deliveries``; 0 skips it):
the delivery service (``plan_deliveries``, ``deliver_due`` in ``--threads`` workers on one SQLite state database:
claim, send, receipt and its hash-chained ``sent`` event committed), then ``track`` once: every receipt applied as
``delivered``, every MLS answer as ``retrieved``. Each with the CPU per
delivery of client and sandbox and the rate those allow on the free cores.
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_delivery_fitconnect import _cpu_of, _timed  # noqa: E402
from erechnung.model.delivery import DeliveryFormat  # noqa: E402
from erechnung.model.documents import DocumentKind  # noqa: E402
from mailbox_connectors.base import Delivery  # noqa: E402
from mailbox_connectors.peppol import as4  # noqa: E402
from mailbox_connectors.peppol.connector import PeppolConnector, PeppolSettings  # noqa: E402
from mailbox_connectors.peppol.doctype import document_type_of  # noqa: E402
from mailbox_connectors.peppol.identifiers import BILLING_PROCESS, ParticipantId  # noqa: E402

AIM_PER_SECOND = 50  # issue 13: Peppol deliveries per second with tracking committed, sandbox on the same 2 cores
LEITWEG = "991-33333TEST-33"
RECEIVER = f"0204:{LEITWEG}"


def invoice_xml(size: int) -> bytes:
    """A UBL invoice of about ``size`` bytes (XRechnung 3.0 CustomizationID; lines of text make up the size)."""
    head = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" '
            'xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">\n'
            '<cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0'
            '</cbc:CustomizationID>\n<cbc:ProfileID>urn:fdc:peppol.eu:2017:poacc:billing:01:1.0</cbc:ProfileID>\n'
            f'<cbc:ID>RE-2026-0001</cbc:ID>\n<cbc:BuyerReference>{LEITWEG}</cbc:BuyerReference>\n')
    lines, i = [], 0
    while len(head) + sum(map(len, lines)) < size:
        i += 1
        lines.append(f"<cbc:Note>Position {i}: Verkehrsüberwachung im Auftrag des Kreises, {i * 7 % 97} Stunden "
                     f"zu 62,40 EUR, Aktenzeichen 32.0-VH-{i:04d}</cbc:Note>\n")
    return (head + "".join(lines) + "</Invoice>\n").encode("utf-8")


def _start_network(folder: Path) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen([sys.executable, "-m", "mailbox_connectors.sandboxes.peppol_network", "--state-dir",
                             str(folder), "--participant", RECEIVER], stdout=subprocess.PIPE,
                            cwd=Path(__file__).resolve().parents[1])
    line = proc.stdout.readline() if proc.stdout else b""
    if not line:
        proc.kill()
        raise SystemExit("the Peppol sandbox network did not start")
    return proc, json.loads(line)


def _connector(folder: Path, info: dict) -> PeppolConnector:
    settings = PeppolSettings.from_files(
        ap_cert=folder / info["ap_cert"], ap_key=folder / info["ap_key"], trust=folder / info["trust"],
        sender_id="9930:DE123456789", ap_seat=info["ap_seat"], sml_zone=info["zone"],
        nameservers=(("127.0.0.1", info["dns_port"]),), ap_ca_name=info["ap_ca_name"],
        smp_ca_name=info["smp_ca_name"], tls_ca=folder / info["tls_ca"], mls_inbox=folder / info["mls"])
    return PeppolConnector(settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--deliveries", type=int, default=600)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--size", type=int, default=30_000, help="bytes of the XRechnung (typically 10-60 kB)")
    parser.add_argument("--tracking", type=int, default=None, metavar="N",
                        help="deliveries through the delivery service with tracking committed (default: as many "
                             "as --deliveries; 0: skip)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-peppol-"))
    proc, info = _start_network(folder)
    document = invoice_xml(args.size)
    try:
        connector = _connector(folder, info)

        def delivery(i: int) -> Delivery:
            return Delivery(f"bench-{uuid.uuid4()}", DocumentKind.INVOICE, DeliveryFormat.XRECHNUNG, document,
                            f"RE-{i}.xml", "application/xml", RECEIVER, f"Rechnung {i}")

        connector.send(delivery(0))  # warm-up: SML, SMP, certificates checked, TLS connection open
        print(f"Peppol bench: {args.deliveries} XRechnungen of {len(document) / 1000:.0f} kB, {args.threads} client "
              f"threads, sandbox network in its own process, {os.cpu_count()} cores, load average "
              f"{os.getloadavg()[0]:.1f} before the run")
        print("client steps, each alone (CPU per call):")
        endpoint = connector.discovery.endpoint(ParticipantId.parse(RECEIVER), document_type_of(document),
                                                BILLING_PROCESS)
        doctype = _timed("document type id read from the document (BT-24)", lambda: document_type_of(document), 50)
        found = _timed("discovery (SML + SMP, from the cache)",
                       lambda: connector.discovery.endpoint(ParticipantId.parse(RECEIVER), document_type_of(document),
                                                            BILLING_PROCESS), 200)
        from datetime import datetime, timezone

        build = _timed("AS4 message: SBDH, gzip, WS-Security signature + encryption, MIME", lambda: as4.build_user_message(
            payload=document, message_id=f"{uuid.uuid4()}@bench", conversation_id="c", sender="9930:de123456789",
            receiver=RECEIVER, document_type=document_type_of(document), process=BILLING_PROCESS,
            sender_ap=connector._identity, receiver_cert=endpoint.certificate, at=datetime.now(timezone.utc)), 50)
        print(f"  => before the POST: {doctype + found + build:.2f} ms CPU per delivery (client side)")

        client_cpu0, sandbox_cpu0 = time.process_time(), _cpu_of(proc.pid)
        start = time.perf_counter()
        receipts, failures = [], []

        def one(i: int) -> None:
            try:
                receipts.append(connector.send(delivery(i)))
            except Exception as exc:  # noqa: BLE001 - counted and shown
                failures.append(repr(exc))

        with ThreadPoolExecutor(args.threads) as pool:
            list(pool.map(one, range(1, args.deliveries + 1)))
        wall = time.perf_counter() - start
        client_cpu, sandbox_cpu = time.process_time() - client_cpu0, _cpu_of(proc.pid) - sandbox_cpu0
        n = len(receipts)
        per = 1000 / max(n, 1)
        print(f"connector alone: {n} delivered (signed receipt verified) in {wall:.2f} s = {n / wall:.1f} "
              f"deliveries/s" + (f"; {len(failures)} failed: {failures[:2]}" if failures else ""))
        print(f"  CPU per delivery: client {client_cpu * per:.2f} ms, sandbox {sandbox_cpu * per:.2f} ms -> "
              f"{os.cpu_count() * 1000 / ((client_cpu + sandbox_cpu) * per):.0f}/s CPU-implied on "
              f"{os.cpu_count()} free cores")
        connector.close()
        n_tracked = args.deliveries if args.tracking is None else args.tracking
        if n_tracked:
            _tracked(args, folder, info, proc, n_tracked, document)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _tracked(args, folder: Path, info: dict, proc: subprocess.Popen, n: int, document: bytes) -> None:
    import _tracking

    connector = _connector(folder, info)
    connectors = {"peppol": connector}
    url = _tracking.make_database(folder, n, kind="invoice", fmt="ubl", content=document,
                                  recipient={"kind": "public_body", "leitweg_id": LEITWEG, "channels": ("peppol",)})
    planned = _tracking.plan(url, connectors)
    load = _tracking.loader(document, "rechnung.xml", "application/xml")
    print(f"\nwith tracking committed (delivery service, SQLite): {planned} invoices planned for Peppol, "
          f"{args.threads} deliver_due workers (threads, one shared connector)")
    client_cpu0, sandbox_cpu0 = time.process_time(), _cpu_of(proc.pid)
    start = time.perf_counter()
    sent = _tracking.send_in_threads(url, connectors, args.threads, load)
    wall = time.perf_counter() - start
    client_cpu, sandbox_cpu = time.process_time() - client_cpu0, _cpu_of(proc.pid) - sandbox_cpu0
    states = _tracking.counts(url)
    print(f"sent (receipt verified, receipt and sent event committed): {sent} in {wall:.2f} s = "
          f"{sent / wall:.1f} deliveries/s; states {dict(states)}")
    track_cpu0, t0 = time.process_time(), time.perf_counter()
    from erechnung.delivery.track import track
    from erechnung.state import make_engine, session_factory

    engine = make_engine(url)
    applied = len(track(session_factory(engine), connectors, config=_tracking.config("tracker")).applied)
    engine.dispose()
    track_s, track_cpu = time.perf_counter() - t0, time.process_time() - track_cpu0
    print(f"tracking: {applied} events applied (each receipt as delivered, each MLS answer as retrieved), states "
          f"{dict(_tracking.counts(url))}, in {track_s:.2f} s, {track_cpu / max(sent, 1) * 1000:.2f} ms client CPU "
          f"per delivery; hash chain {'verifies' if _tracking.chain_ok(url) else 'BROKEN'}")
    per = 1000 / max(sent, 1)
    total = client_cpu * per + track_cpu * per + sandbox_cpu * per
    implied = os.cpu_count() * 1000 / total
    print(f"CPU per delivery: client {client_cpu * per:.2f} ms sending + {track_cpu * per:.2f} ms tracking, sandbox "
          f"{sandbox_cpu * per:.2f} ms -> {implied:.0f}/s CPU-implied on {os.cpu_count()} free cores")
    rate = sent / wall
    print(f"aim {AIM_PER_SECOND}/s by Peppol with tracking committed: {'met' if rate >= AIM_PER_SECOND else 'NOT met'} "
          f"({rate:.1f} deliveries/s on the wall clock, sandbox on the same cores); by CPU "
          f"{'met' if implied >= AIM_PER_SECOND else 'NOT met'} ({implied:.0f}/s); load average "
          f"{os.getloadavg()[0]:.1f} now")
    connector.close()


if __name__ == "__main__":
    main()
