"""Connectors for the delivery service's tests, implementing ``mailbox_connectors.base.MailboxConnector``.

* :class:`FakeConnector`: in memory; counts every ``send`` call per delivery id (no deduplication, so a test
  sees a second send), fails on demand (``script``: per delivery id a list of outcomes), reports the status
  events a test queues.
* :class:`FileSink`: file-backed, for tests across processes: every call is appended to ``calls.log``; a
  delivery id is accepted once (``accepted.log``), a second send with the same id returns the first receipt,
  as a channel that deduplicates by its idempotency key does.
"""
from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from erechnung.model.delivery import DeliveryFormat
from erechnung.model.documents import DocumentKind
from mailbox_connectors.base import (Capabilities, Delivery, MailboxConnector, NoticeHandling, PermanentFailure,
                                     Receipt, StatusEvent, TemporaryFailure, since_filter)

ALL_KINDS = frozenset(DocumentKind)
ALL_FORMATS = frozenset(DeliveryFormat)


def caps(channel: str, *, max_bytes: int | None = None, notices: NoticeHandling = NoticeHandling.CARRY):
    return Capabilities(channel, ALL_KINDS, ALL_FORMATS, max_bytes, notices)


class FakeConnector(MailboxConnector):
    def __init__(self, channel: str, *, max_bytes: int | None = None, delay: float = 0.0,
                 notices: NoticeHandling = NoticeHandling.CARRY) -> None:
        self._caps = caps(channel, max_bytes=max_bytes, notices=notices)
        self.channel, self.delay = channel, delay
        self.calls: Counter[str] = Counter()
        self.sent: list[Delivery] = []
        self.script: dict[str, list[str]] = {}  # delivery id -> outcomes: "ok", "temporary", "permanent"
        self.always: str | None = None  # outcome for every delivery without a script
        self.events: list[StatusEvent] = []
        self._lock = threading.Lock()
        self.now: datetime | None = None  # the receipt's time (None: the real clock)

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    def send(self, delivery: Delivery) -> Receipt:
        self.check(delivery)
        with self._lock:
            self.calls[delivery.delivery_id] += 1
            plan = self.script.get(delivery.delivery_id)
            outcome = plan.pop(0) if plan else (self.always or "ok")
        if self.delay:
            time.sleep(self.delay)
        if outcome == "temporary":
            raise TemporaryFailure("server busy", channel=self.channel, delivery_id=delivery.delivery_id,
                                   code="451 4.3.0", evidence=b"451 4.3.0 try again later")
        if outcome == "permanent":
            raise PermanentFailure("mailbox unknown", channel=self.channel, delivery_id=delivery.delivery_id,
                                   code="550 5.1.1", evidence=b"550 5.1.1 no such user")
        with self._lock:
            self.sent.append(delivery)
        return Receipt(delivery.delivery_id, self.channel, f"<{delivery.delivery_id}@fake>",
                       self.now or datetime.now(timezone.utc), evidence=b"250 OK " + delivery.delivery_id.encode(),
                       evidence_type="text/plain")

    def report(self, delivery_id: str, state: str, at: datetime, *, reason: str = "",
               evidence: bytes = b"evidence") -> StatusEvent:
        event = StatusEvent(f"{self.channel}-{delivery_id}-{state}-{len(self.events)}", delivery_id, self.channel,
                            state, at, evidence, "text/plain", reason)
        self.events.append(event)
        return event

    def collect_events(self, since: datetime | None = None) -> list[StatusEvent]:
        return since_filter(self.events, since)


class FileSink(MailboxConnector):
    """See the module docstring. ``kill_after``: the process kills itself with SIGKILL right after accepting
    that many new deliveries, before ``send`` returns (the crash between send and commit)."""

    def __init__(self, root: Path, channel: str = "email", *, delay: float = 0.0,
                 kill_after: int | None = None) -> None:
        self.root, self.channel, self.delay, self.kill_after = Path(root), channel, delay, kill_after
        self.root.mkdir(parents=True, exist_ok=True)
        self._new = 0

    @property
    def capabilities(self) -> Capabilities:
        return caps(self.channel)

    def send(self, delivery: Delivery) -> Receipt:
        if self.delay:
            time.sleep(self.delay)
        with open(self.root / "lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            with open(self.root / "calls.log", "a") as calls:
                calls.write(delivery.delivery_id + "\n")
            accepted = self.accepted()
            if delivery.delivery_id not in accepted:
                at = datetime.now(timezone.utc).isoformat()
                with open(self.root / "accepted.log", "a") as fh:
                    fh.write(json.dumps({"id": delivery.delivery_id, "at": at, "sha256": delivery.sha256}) + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
                accepted[delivery.delivery_id] = at
                self._new += 1
        if self.kill_after is not None and self._new >= self.kill_after:
            os.kill(os.getpid(), 9)
        return Receipt(delivery.delivery_id, self.channel, f"<{delivery.delivery_id}@sink>",
                       datetime.fromisoformat(accepted[delivery.delivery_id]), evidence=b"250 OK")

    def accepted(self) -> dict[str, str]:
        path = self.root / "accepted.log"
        if not path.exists():
            return {}
        out: dict[str, str] = {}
        for line in path.read_text().splitlines():
            if line.strip():
                item = json.loads(line)
                out.setdefault(item["id"], item["at"])
        return out

    def accepted_lines(self) -> list[str]:
        path = self.root / "accepted.log"
        return [json.loads(x)["id"] for x in path.read_text().splitlines() if x.strip()] if path.exists() else []

    def calls(self) -> list[str]:
        path = self.root / "calls.log"
        return path.read_text().split() if path.exists() else []

    def collect_events(self, since: datetime | None = None) -> list[StatusEvent]:
        return []
