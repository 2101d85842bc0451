"""One delivery run and one tracking run on a configuration: the plain functions behind ``erechnung deliver``,
``erechnung track`` and the Prefect flows ``deliver`` and ``track`` (which only wrap them).

    summary = deliver_run(config, connectors, delivery_config)   # plan handed-over documents, send what is due,
                                                                 # close the open print batch for the print shop
    summary = track_run(config, connectors, delivery_config)     # status events, deadlines, legal dates, fallbacks

The connectors come from the composition root (``erechnung.entrypoints.wiring.open_connectors``); nothing here
knows a channel's protocol. Each run is safe to repeat and to run beside another one (see ``send``).

Each run ends by keeping the head of the delivery events' hash chain (seq, hash, time) as a checkpoint in the
archive (``erechnung.delivery.audit.checkpoint_head``), where the database cannot rewrite it, and names it in
its report; ``erechnung audit verify`` checks the chain against the newest one.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import logging

from mailbox_connectors.base import MailboxConnector

from .config import DeliveryConfig
from .content import archive_content
from .plan import PlanResult, plan_deliveries
from .send import SendSummary, deliver_due
from .track import TrackSummary, track

log = logging.getLogger(__name__)


@dataclass
class DeliverRun:
    planned: int = 0
    sent: int = 0
    retried: int = 0
    fell_back: int = 0
    dead: int = 0
    lost_claim: int = 0
    print_batch: str | None = None  # the print batch handed to the print shop, if letters were open
    letters: int = 0
    states: dict[str, int] = field(default_factory=dict)  # all deliveries by state after the run
    checkpoint: str | None = None  # the chain's head as kept in the archive (checkpoint_line)

    def lines(self) -> list[str]:
        out = [f"geplant {self.planned}, versandt {self.sent}, erneut versucht {self.retried}, "
               f"auf nächsten Kanal {self.fell_back}, unzustellbar {self.dead}"]
        if self.print_batch:
            out.append(f"Druckstapel {self.print_batch}: {self.letters} Brief(e) für die Druckerei")
        if self.checkpoint:
            out.append(self.checkpoint)
        return out


@dataclass
class TrackRun:
    events: int = 0
    ignored: int = 0
    expired: int = 0
    notified: int = 0
    fell_back: int = 0
    dead: int = 0
    states: dict[str, int] = field(default_factory=dict)
    checkpoint: str | None = None

    def lines(self) -> list[str]:
        return [f"Ereignisse {self.events} (übergangen {self.ignored}), abgelaufen {self.expired}, "
                f"bekanntgegeben {self.notified}, auf nächsten Kanal {self.fell_back}, unzustellbar {self.dead}",
                *([self.checkpoint] if self.checkpoint else [])]


def _open_state(config: Any, db_url: str | None):
    from erechnung.config import database_url
    from erechnung.state import make_engine, migrate, session_factory

    engine = make_engine(db_url or database_url(config))
    migrate(engine)
    return engine, session_factory(engine)


def _states(sf) -> dict[str, int]:
    from erechnung.state.deliveries.track import count_by_state

    with sf() as s:
        return count_by_state(s)


class DeliveryState:
    """The state database and the archive of one configuration, open for a delivery or tracking run."""

    def __init__(self, config: Any, db_url: str | None = None) -> None:
        self.config = config
        self.engine, self.sf = _open_state(config, db_url)
        self._archive = None

    @property
    def archive(self):
        """The configuration's archive (``erechnung.archive.Archive``), opened on first use."""
        if self._archive is None:
            from erechnung.archive import Archive, RetentionPolicy
            from erechnung.config import location_url
            from erechnung.storage import open_storage

            from erechnung.config.s3 import s3_options

            self._archive = Archive(open_storage(location_url(self.config, self.config.archive.location),
                                                 s3_options=s3_options(self.config)),
                                    RetentionPolicy.configured(self.config.archive.retention_years))
        return self._archive

    @property
    def content(self):
        """The documents' bytes, read from the archive by sha256 (``content.archive_content``)."""
        return archive_content(self.archive)

    def service_of(self, delivery_config: DeliveryConfig):
        """Which notices are served and how (förmliche Zustellung): the kind's ``service`` in the configuration's
        notices.toml, the kind read from the notice in the archive (``service.archive_service_of``)."""
        from erechnung.notices.config import load_config

        from .service import archive_service_of

        try:
            notices = load_config(self.config.design().source.parent)
        except Exception:  # noqa: BLE001 - no notice texts: no notice of this configuration is served
            notices = None
        return archive_service_of(self.archive, notices, delivery_config.services)

    def checkpoint(self) -> str:
        """Keep the chain's head in the archive; the report's line about it (a failure is reported, the run's
        deliveries stand)."""
        from erechnung.errors import ErechnungError

        from .audit import checkpoint_head

        try:
            with self.sf() as session:
                cp = checkpoint_head(session, self.archive)
        except (ErechnungError, OSError) as exc:
            log.error("checkpoint of the delivery chain not written: %s", exc)
            return f"Prüfpunkt der Ereigniskette NICHT im Archiv gespeichert: {exc}"
        if cp is None:
            return "Prüfpunkt der Ereigniskette: noch keine Ereignisse"
        return f"Prüfpunkt der Ereigniskette im Archiv: Ereignis {cp.seq}, Hash {cp.hash}"

    def states(self) -> dict[str, int]:
        return _states(self.sf)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> DeliveryState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def plan_step(st: DeliveryState, connectors: Mapping[str, MailboxConnector], delivery_config: DeliveryConfig, *,
              now: datetime | None = None, document_ids: list[int] | None = None) -> PlanResult:
    """Queue the first delivery of every handed-over document that has none (routes from the register)."""
    return plan_deliveries(st.sf, delivery_config, now=now, connectors=connectors, document_ids=document_ids,
                           service_of=st.service_of(delivery_config))


def send_step(st: DeliveryState, connectors: Mapping[str, MailboxConnector], delivery_config: DeliveryConfig, *,
              now: datetime | None = None, limit: int | None = None) -> SendSummary:
    """Send what is due; with ``limit`` at most that many claims (one chunk of a flow), else until none is due."""
    if limit is None:
        return deliver_due(st.sf, connectors, now, config=delivery_config, content=st.content)
    batch = max(1, min(delivery_config.batch_size, limit))
    return deliver_due(st.sf, connectors, now, config=replace(delivery_config, batch_size=batch),
                       content=st.content, max_rounds=-(-limit // batch))


def print_step(connectors: Mapping[str, MailboxConnector]) -> tuple[str | None, int]:
    """Close the open print batch (one PDF and manifest for the print shop): (its PDF, letters) or (None, 0)."""
    printer = connectors.get("print")
    batch = printer.close_batch() if printer is not None and hasattr(printer, "close_batch") else None
    return (str(batch.pdf), batch.letters) if batch is not None else (None, 0)


def add_sent(run: DeliverRun, sent: SendSummary) -> None:
    run.sent += len(sent.sent)
    run.retried += len(sent.retried)
    run.fell_back += len(sent.fell_back)
    run.dead += len(sent.dead)
    run.lost_claim += len(sent.lost_claim)


def deliver_run(config: Any, connectors: Mapping[str, MailboxConnector], delivery_config: DeliveryConfig, *,
                db_url: str | None = None, now: datetime | None = None, document_ids: list[int] | None = None,
                close_print_batch: bool = True) -> DeliverRun:
    """Plan the first delivery of every handed-over document (or ``document_ids``), send what is due (retries,
    fallbacks, dead letters as the service decides), then close the open print batch."""
    with DeliveryState(config, db_url) as st:
        plan = plan_step(st, connectors, delivery_config, now=now, document_ids=document_ids)
        run = DeliverRun(planned=len(plan.planned), dead=len(plan.dead))
        add_sent(run, send_step(st, connectors, delivery_config, now=now))
        if close_print_batch:
            run.print_batch, run.letters = print_step(connectors)
        run.states = st.states()
        run.checkpoint = st.checkpoint()
        return run


def track_run(config: Any, connectors: Mapping[str, MailboxConnector], delivery_config: DeliveryConfig, *,
              db_url: str | None = None, now: datetime | None = None) -> TrackRun:
    """Collect the channels' status events, expire deliveries past their retrieval deadline, compute and store
    the notification dates, and queue the next channel where a delivery failed."""
    with DeliveryState(config, db_url) as st:
        t: TrackSummary = track(st.sf, connectors, now, config=delivery_config)
        return TrackRun(events=len(t.applied), ignored=len(t.ignored), expired=len(t.expired),
                        notified=len(t.notified), fell_back=len(t.fell_back), dead=len(t.dead),
                        states=st.states(), checkpoint=st.checkpoint())
