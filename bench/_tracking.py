"""What the delivery benches share for their "with tracking committed" runs: a migrated SQLite state database
(WAL, ``BEGIN IMMEDIATE``, as ``erechnung.state`` opens it) holding ``n`` handed-over documents to one
recipient, the delivery service planning them (``plan_deliveries``), sending them (``deliver_due``: claim commit,
``connector.send``, receipt + ``sent`` event commit) and applying their status events (``track``), and counts
of the deliveries by state.

Each commit appends to the hash-chained ``delivery_events`` as in production; the receipts' and the events'
evidence (HTTP exchange, SET, DSN) go into the database with them.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

DEPARTMENT = "kasse"


def make_database(folder: Path | None, n: int, *, kind: str, fmt: str, recipient: dict[str, Any],
                  content: bytes, url: str | None = None) -> str:
    """A migrated SQLite database in ``folder`` (or the empty database at ``url``, e.g. PostgreSQL) with ``n``
    handed-over documents of ``kind`` to ``recipient``."""
    from erechnung.model.recipients import Recipient
    from erechnung.state import make_engine, migrate, transaction
    from erechnung.state import repository as repo

    url = url or f"sqlite:///{folder / 'state.db'}"
    migrate(url)
    engine = make_engine(url)
    who = Recipient(customer_number="K-1", name="Anna Muster", street="Hauptstr. 1", post_code="12345",
                    city="Musterstadt", **recipient)
    digest = hashlib.sha256(content).hexdigest()
    with transaction(engine) as s:
        repo.upsert_recipient(s, DEPARTMENT, who.customer_number, who)
        for i in range(n):
            r = repo.create_document(s, idempotency_key=f"{DEPARTMENT}:{kind}:{i}", department=DEPARTMENT, kind=kind,
                                     format=fmt, number_prefix="B-2026-", recipient_ref=who.customer_number,
                                     issue_date=date(2026, 11, 21), state="handed_over", verdict="accept")
            r.document.sha256 = digest
    engine.dispose()
    return url


def loader(data: bytes, filename: str, media_type: str):
    """A content loader that hands every document the same bytes (the archive is not what is measured)."""
    from erechnung.delivery.content import Content

    def load(session, doc):
        return Content(data, filename, media_type, subject=f"Bescheid {doc.number}")

    return load


def config(worker: str, **kw):
    from erechnung.delivery.config import DeliveryConfig

    kw.setdefault("land", "NW")
    return DeliveryConfig(worker=worker, **kw)


def plan(url: str, connectors: Mapping[str, Any]) -> int:
    from erechnung.delivery.plan import plan_deliveries
    from erechnung.state import make_engine, session_factory

    engine = make_engine(url)
    try:
        return len(plan_deliveries(session_factory(engine), config("planner"), connectors=connectors).planned)
    finally:
        engine.dispose()


def send_due(url: str, connectors: Mapping[str, Any], worker: str, content: Callable, *,
             batch_size: int = 20, **config_kw: Any) -> int:
    """One worker's ``deliver_due`` until nothing is due; returns how many it sent (``config_kw``: more of the
    ``DeliveryConfig``, e.g. ``provision_on_receipt``)."""
    from erechnung.delivery.send import deliver_due
    from erechnung.state import make_engine, session_factory

    engine = make_engine(url)
    try:
        summary = deliver_due(session_factory(engine), connectors, config=config(worker, batch_size=batch_size, **config_kw),
                              content=content, clock=lambda: datetime.now(timezone.utc))
        return len(summary.sent)
    finally:
        engine.dispose()


def send_in_threads(url: str, connectors: Mapping[str, Any], threads: int, content: Callable) -> int:
    """``threads`` workers (``bench-0`` ...) sharing the connectors, each ``deliver_due`` until nothing is due;
    returns how many they sent."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(lambda w: send_due(url, connectors, f"bench-{w}", content), range(threads)))


def track_until(url: str, connectors: Mapping[str, Any], want: int, *, states: tuple[str, ...] = ("delivered",),
                timeout: float = 120.0, pause: float = 0.5) -> tuple[int, int, float]:
    """``track`` rounds until ``want`` deliveries reached ``states`` (or ``timeout``); returns (reached, rounds,
    seconds spent inside track)."""
    from erechnung.delivery.track import track
    from erechnung.state import make_engine, session_factory

    engine = make_engine(url)
    sf = session_factory(engine)
    rounds, inside, end = 0, 0.0, time.monotonic() + timeout
    try:
        while True:
            rounds += 1
            t0 = time.perf_counter()
            track(sf, connectors, config=config("tracker"))
            inside += time.perf_counter() - t0
            reached = counts(url).get_many(states)
            if reached >= want or time.monotonic() > end:
                return reached, rounds, inside
            time.sleep(pause)
    finally:
        engine.dispose()


class _Counts(dict):
    def get_many(self, states: tuple[str, ...]) -> int:
        return sum(self.get(s, 0) for s in states)


def counts(url: str) -> _Counts:
    """Deliveries by state."""
    from sqlalchemy import func, select

    from erechnung.state import make_engine
    from erechnung.state.delivery_schema import Delivery

    engine = make_engine(url)
    try:
        with engine.connect() as c:
            return _Counts(c.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).all())
    finally:
        engine.dispose()


def chain_ok(url: str) -> bool:
    """The hash chain of ``delivery_events`` verifies (every commit appended correctly)."""
    from erechnung.delivery.audit import verify_chain
    from erechnung.state import make_engine, transaction

    engine = make_engine(url)
    try:
        with transaction(engine) as s:
            return bool(verify_chain(s).ok)
    finally:
        engine.dispose()
