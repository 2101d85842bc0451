"""The Peppol sandbox network in a process of its own (for ``bench/bench_delivery_peppol.py``, or to point a
configuration at by hand): one test PKI, the SML's DNS and an SMP (``peppol_directory``), a receiving access point
(``peppol_ap``) whose Message Level Status answers go to ``--state-dir/mls``; the participants given with
``--participant`` are registered at that access point.

    python -m mailbox_connectors.sandboxes.peppol_network --state-dir DIR --participant 0204:991-33333TEST-33

Writes into ``--state-dir`` what a sender needs (our AP's certificate and key, the trust store of the network, the
TLS root of its servers) and prints one JSON line with the rest (zone, DNS port, file names).
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

from .peppol_ap import PeppolApSandbox
from .peppol_directory import PeppolDirectorySandbox
from .peppol_pki import AP_CA, SMP_CA, PeppolTestPKI
from .pki import TestCA

SENDER_SEAT, RECEIVER_SEAT = "PDE000001", "PDE000002"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--participant", action="append", default=[], help="a participant id to register")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    state = args.state_dir.resolve()
    (state / "mls").mkdir(parents=True, exist_ok=True)
    pki, tls = PeppolTestPKI("network"), TestCA("Peppol sandbox TLS root")
    directory = PeppolDirectorySandbox(pki, ca=tls).start()
    ap = PeppolApSandbox(pki, seat=RECEIVER_SEAT, mls_outbox=state / "mls", tls_ca=tls).start()
    try:
        for participant in args.participant:
            directory.register(participant, endpoint_url=ap.base_url, ap_cert=ap.ap.cert)
        crt, key = pki.issue_ap(SENDER_SEAT, org="Stadt Musterstadt").write(state, "ap")
        (state / "trust.pem").write_bytes(pki.ca_pem)
        (state / "tls.pem").write_bytes(tls.root_pem)
        info = {"zone": directory.zone, "dns_port": directory.dns_port, "smp": directory.base_url,
                "ap": ap.base_url, "ap_seat": SENDER_SEAT, "ap_cert": crt.name, "ap_key": key.name,
                "trust": "trust.pem", "tls_ca": "tls.pem", "mls": "mls", "ap_ca_name": AP_CA, "smp_ca_name": SMP_CA}
        print(json.dumps(info), flush=True)
        while True:  # in steps: a SIGTERM handed to a server thread is handled when this one wakes
            time.sleep(0.5)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        ap.stop()
        directory.stop()


if __name__ == "__main__":
    main()
