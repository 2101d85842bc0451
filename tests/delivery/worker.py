"""A delivery worker as its own process, for the guarantee tests (several workers, SIGKILL and restart).

    python tests/delivery/worker.py '{"db": URL, "worker": "w1", "sink": DIR | null, "smtp": {...} | null,
                                      "lease": 3, "kill_after": 3 | null, "delay": 0.0, "batch_size": 2,
                                      "timeout": 60, "go": FILE | null}'

Sends with the real clock until no delivery is queued or sending (or ``timeout`` seconds passed). ``sink``: a
file-backed connector (``fakes.FileSink``) as the email channel; ``smtp``: the real email connector with these
``EmailSettings`` (password from ``ERECHNUNG_TEST_SMTP_PASSWORD``). Prints ``ready`` once it runs; with ``go``
it then waits for that file to exist, so that several workers start at the same moment.
"""
from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2])]


def main(argv: list[str]) -> int:
    from sqlalchemy import func, select

    from erechnung.delivery.config import DeliveryConfig
    from erechnung.delivery.send import deliver_due
    from erechnung.state import make_engine, session_factory
    from erechnung.state.delivery_schema import Delivery
    from delivery.fakes import FakeConnector, FileSink
    from delivery.world import content

    args = json.loads(argv[0])
    engine = make_engine(args["db"])
    sf = session_factory(engine)
    if args.get("smtp"):
        from mailbox_connectors.email import EmailConnector, EmailSettings

        email = EmailConnector(EmailSettings(**{k: Path(v) if k in ("ca_file", "bounce_maildir") else v
                                               for k, v in args["smtp"].items()}))
    else:
        email = FileSink(Path(args["sink"]), delay=args.get("delay", 0.0), kill_after=args.get("kill_after"))
    conns = {"email": email, "print": FakeConnector("print")}
    cfg = DeliveryConfig(lease=timedelta(seconds=args.get("lease", 3)), worker=args["worker"], land="NW",
                         batch_size=args.get("batch_size", 2))
    print("ready", flush=True)
    if args.get("go"):  # start together with the other workers
        while not Path(args["go"]).exists():
            time.sleep(0.01)
    deadline = time.monotonic() + args.get("timeout", 60)
    while time.monotonic() < deadline:
        deliver_due(sf, conns, config=cfg, content=content, clock=lambda: datetime.now(timezone.utc))
        with sf() as s:
            left = s.execute(select(func.count()).select_from(Delivery).where(
                Delivery.state.in_(("queued", "sending")))).scalar_one()
        if not left:
            break
        time.sleep(0.2)
    email.close()
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
