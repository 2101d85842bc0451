"""The delivery service's own database cost per delivery: CPU ms per document to plan, per delivery to send and
record, and per status event to track, on SQLite and on PostgreSQL, with a channel that costs nothing.

Run: ``.venv/bin/python bench/bench_delivery_service.py`` (``--help`` for the options).

- The state database: a fresh SQLite file (WAL, ``BEGIN IMMEDIATE``, as ``erechnung.state`` opens it) and a
  private PostgreSQL database created on ``--pg`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``,
  trust auth) for the run and dropped after it; migrated, ``-n`` handed-over invoices to one recipient.
- The channel: an in-memory connector whose ``send`` returns a receipt at once and whose ``collect_events``
  returns one ``delivered`` event per delivery sent (with a few bytes of DSN as evidence), so what is measured
  is the service: ``plan_deliveries``, ``deliver_due`` (claim commit, content load, send, receipt + ``sent``
  event commit per delivery) and ``track`` (every event applied, each once).
- Measured per phase: this process's CPU (``time.process_time``), for PostgreSQL also the server backends' CPU
  (from /proc, when the server runs on this machine), the SQL statements sent, and the wall time. The hash
  chain is verified at the end.

Measured 2026-11-21 on this 2-core machine, other work running (load average 1.9-5.0), ``-n 500`` and ``-n 1000``,
CPU ms of this process per document / delivery / event (PostgreSQL: + server backends):

=============  ==========================  ============================================
phase          before (ORM, one per txn)   after (batched, Core on the hot paths)
=============  ==========================  ============================================
plan           SQLite 4.1-5.4, PG 6.0-6.3  SQLite 0.5-0.6, PG 0.7-0.85 (+0.14)
               (+1.2-1.3), 9-10 SQL         1.1 SQL (100 documents per transaction)
send+record    SQLite 4.7-6.9, PG 9.0-9.2  SQLite 1.2-1.6, PG 2.0-3.0 (+0.8-1.3)
               (+2.8-3.1), 14-16 SQL        4.4-5.5 SQL (claim batch of 20; record per delivery)
track          SQLite 2.2-3.6, PG 4.4-4.5  SQLite 0.10-0.14, PG 0.13-0.25 (+0.1)
               (+1.1-1.2), 7-8 SQL          0.1 SQL (100 events per transaction)
=============  ==========================  ============================================

The record stays one commit per delivery right after its send (a batch recorded after all its sends would
widen the window in which a crash sends again), so send+record keeps ~4-5 statements per delivery: BEGIN,
the conditional UPDATE, the chain head read, the event INSERT, the head UPDATE, COMMIT.

The email and FIT-Connect benches (``bench_delivery_email.py``, ``bench_delivery_fitconnect.py``) add this cost
to their channels' own; for 200 mails/s with tracking on 2 cores everything per delivery must fit in ~10 ms CPU.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

PG_ADMIN_URL = os.environ.get("ERECHNUNG_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TICKS = os.sysconf("SC_CLK_TCK")


def _connector():
    from erechnung.model.delivery import DeliveryFormat
    from erechnung.model.documents import DocumentKind
    from mailbox_connectors.base import (Capabilities, EventState, MailboxConnector, NoticeHandling, Receipt,
                                         StatusEvent)

    class Instant(MailboxConnector):
        capabilities = Capabilities("email", frozenset(DocumentKind), frozenset(DeliveryFormat), None,
                                    NoticeHandling.NOTIFY_ONLY)

        def __init__(self):
            self.sent: list[str] = []

        def send(self, d):
            self.sent.append(d.delivery_id)
            return Receipt(channel="email", delivery_id=d.delivery_id, channel_message_id=f"<{d.delivery_id}@x>",
                           accepted_at=datetime.now(timezone.utc), evidence=b"250 2.0.0 ok", evidence_type="text/plain")

        def collect_events(self, since=None):
            return [StatusEvent(channel="email", delivery_id=i, state=EventState.DELIVERED,
                                at=datetime.now(timezone.utc), event_id=f"dsn-{i}", evidence=b"Action: delivered",
                                evidence_type="message/delivery-status") for i in self.sent]

    return Instant()


class _Meter:
    """CPU of this process and (PostgreSQL) of the database's server backends, statements and wall time."""

    def __init__(self, engine, database: str | None):
        from sqlalchemy import event

        self.engine, self.database, self.statements = engine, database, 0

        @event.listens_for(engine, "before_cursor_execute")
        def _count(*_args):
            self.statements += 1

    def _server_cpu(self) -> float | None:
        if self.database is None:
            return None
        from sqlalchemy import create_engine, text

        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as c:
                pids = c.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :d"),
                                 {"d": self.database}).scalars().all()
        finally:
            admin.dispose()
        total = 0.0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return None  # the server runs elsewhere
            total += (int(fields[11]) + int(fields[12])) / TICKS
        return total

    def __enter__(self):
        self.s0, self.c0, self.w0, self.srv0 = self.statements, time.process_time(), time.perf_counter(), \
            self._server_cpu()
        return self

    def __exit__(self, *exc):
        self.cpu, self.wall = time.process_time() - self.c0, time.perf_counter() - self.w0
        srv = self._server_cpu()
        # backends that ended meanwhile are not counted; the pool keeps them open during a phase
        self.server = (srv - self.srv0) if srv is not None and self.srv0 is not None else None
        self.sql = self.statements - self.s0


def _line(name: str, m: _Meter, n: int, unit: str) -> str:
    server = f", server {m.server / n * 1000:5.2f} ms" if m.server is not None else ""
    return (f"  {name:<12} {m.cpu / n * 1000:6.2f} ms CPU per {unit}{server}, {m.sql / n:5.1f} SQL per {unit}, "
            f"{n / m.wall:7.0f}/s wall")


def run(url: str, n: int, batch_size: int, database: str | None, profile: str | None) -> dict[str, float]:
    import _tracking as T
    from erechnung.delivery.plan import plan_deliveries
    from erechnung.delivery.send import deliver_due
    from erechnung.delivery.track import track
    from erechnung.state import make_engine, session_factory

    url = T.make_database(None, n, kind="invoice", fmt="ubl", content=b"<x/>", url=url,
                          recipient=dict(email="a@example.org", kind="company", channels=("email",)))
    engine = make_engine(url)
    sf = session_factory(engine)
    meter = _Meter(engine, database)
    c = _connector()
    content = T.loader(b"<Invoice/>", "r.xml", "application/xml")
    results = {}
    print(f"{engine.dialect.name}: {n} documents, batch size {batch_size}")
    for phase in ("plan", "send+record", "track"):
        prof = cProfile.Profile() if profile == phase else None
        with meter as m:
            if prof:
                prof.enable()
            if phase == "plan":
                done = len(plan_deliveries(sf, T.config("planner"), connectors={"email": c}).planned)
            elif phase == "send+record":
                done = len(deliver_due(sf, {"email": c}, config=T.config("w1", batch_size=batch_size),
                                       content=content).sent)
            else:
                done = len(track(sf, {"email": c}, config=T.config("tracker")).applied)
            if prof:
                prof.disable()
        assert done == n, f"{phase}: {done} of {n}"
        print(_line(phase, m, n, {"plan": "doc", "track": "event"}.get(phase, "delivery")))
        results[phase] = m.cpu / n * 1000
        if prof:
            pstats.Stats(prof).sort_stats("tottime").print_stats(20)
    engine.dispose()
    states = T.counts(url)
    print(f"  states {dict(states)}, chain {'verifies' if T.chain_ok(url) else 'BROKEN'}")
    return results


def main() -> None:
    global PG_ADMIN_URL
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=1000, help="documents (default 1000)")
    p.add_argument("--batch-size", type=int, default=20, help="deliver_due's claim batch (default 20)")
    p.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--pg", default=PG_ADMIN_URL, help="a PostgreSQL database to create the private one from")
    p.add_argument("--profile", choices=("plan", "send+record", "track"), help="cProfile one phase")
    a = p.parse_args()
    PG_ADMIN_URL = a.pg
    print(f"load average {os.getloadavg()[0]:.1f}")
    if a.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            run(f"sqlite:///{Path(folder) / 'state.db'}", a.n, a.batch_size, None, a.profile)
    if a.db in ("postgresql", "both"):
        from sqlalchemy import create_engine, make_url, text

        name = f"bench_delivery_{uuid.uuid4().hex[:10]}"
        admin = create_engine(a.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run(make_url(a.pg).set(database=name).render_as_string(hide_password=False), a.n, a.batch_size, name,
                a.profile)
        finally:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
