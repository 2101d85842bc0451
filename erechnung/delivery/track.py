"""Tracking: the channels' status events applied to their deliveries (each once: ``(delivery, event_id)``),
deliveries whose retrieval deadline passed expired (§ 41 Abs. 2a VwVfG: not retrieved within 10 days -> not
notified; then the next channel or the same once more, ``fallback``), and notices whose notification date has
come marked ``deemed_notified``.

    track(sf, connectors, now, config=...)        # status events, deadlines, notification dates

A ``failed`` status event fails the delivery, and the next channel of the route takes over (``fallback``).
The SQL is in ``erechnung.state.deliveries.track``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from erechnung.state import deliveries as repo
from erechnung.state.deliveries import track as track_repo
from erechnung.state.deliveries.legal_dates import notification_date, store_dates, stored_dates
from erechnung.state.deliveries.track import OPEN_STATES
from erechnung.state.schema import utcnow
from mailbox_connectors.base import MailboxConnector

from .audit import append_event, append_events
from .config import DeliveryConfig
from .fallback import fall_back
from .legal_dates import legal_dates
from .notification import compute_notification_date, retrieval_deadline
from .service import acknowledged, hop_form, no_acknowledgement
from .service import overdue as service_overdue
from .texts import EVENT

#: How far a channel's clock may be behind ours: an event older than its delivery by more is not about it.
EVENT_CLOCK_SKEW = timedelta(hours=1)


@dataclass
class TrackSummary:
    applied: list[str] = field(default_factory=list)  # event ids
    ignored: list[str] = field(default_factory=list)  # unknown delivery or not applicable
    expired: list[int] = field(default_factory=list)
    notified: list[int] = field(default_factory=list)
    fell_back: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)


_EVENT_MOVES: Mapping[str, tuple[tuple[str, ...], str, str]] = {
    # event state: (from states, to state, timestamp column)
    "delivered": (("sent",), "delivered", "delivered_at"),
    "retrieved": (("sent", "delivered"), "retrieved", "retrieved_at"),
    "failed": (("sent", "delivered"), "failed", ""),
    "delayed": (("sent",), "sent", ""),
    # the returned Empfangsbekenntnis of a served notice (§ 5 Abs. 7 VwZG): served on its date (service.acknowledged)
    "acknowledged": (("sent", "delivered", "retrieved"), "deemed_notified", ""),
}


def track(session_factory: sessionmaker[Session], connectors: Mapping[str, MailboxConnector],
          now: datetime | None = None, *, config: DeliveryConfig, since: datetime | None = None) -> TrackSummary:
    """Collect the connectors' status events and apply them (each once: ``(delivery, event_id)`` is unique),
    expire deliveries whose retrieval deadline passed (then fall back or send again), and mark notices whose
    notification date has come ``deemed_notified``."""
    now = now or utcnow()
    summary = TrackSummary()
    for channel, connector in connectors.items():
        cut = since if since is not None else _oldest_open(session_factory, channel)
        if cut is False:
            continue  # nothing open on this channel
        events = list(connector.collect_events(cut))
        done = 0
        while done < len(events):
            applied = _apply_batch(session_factory, events[done:done + TRACK_BATCH], now, config, summary)
            if applied == 0:  # a failed delivery falls back: on its own, through the ORM path
                apply_event(session_factory, events[done], now, config, summary)
                applied = 1
            done += applied
    _expire(session_factory, now, config, summary)
    _service_overdue(session_factory, now, config, summary)
    _deem(session_factory, now, config, summary)
    return summary


def _oldest_open(session_factory: sessionmaker[Session], channel: str) -> datetime | None | Literal[False]:
    with session_factory() as session:
        oldest = track_repo.oldest_open(session, channel)
    if oldest is None or oldest is False:
        return oldest
    return oldest - timedelta(days=1)


def apply_event(session_factory: sessionmaker[Session], event, now: datetime, config: DeliveryConfig,
                summary: TrackSummary | None = None) -> bool:
    """Apply one :class:`~mailbox_connectors.base.StatusEvent` (once); False when ignored or seen before."""
    summary = summary if summary is not None else TrackSummary()
    with session_factory() as session, session.begin():
        d = track_repo.lock_by_key(session, event.delivery_id)
        if d is None or event.at < repo.aware(d.created_at) - EVENT_CLOCK_SKEW:
            # unknown, or older than the delivery itself: a report about another database's delivery that had
            # the same key (give every installation its own DeliveryConfig.key_prefix)
            summary.ignored.append(event.event_id)
            return False
        if track_repo.event_seen(session, d.id, event.event_id):
            return False
        state = str(event.state)
        sources, target, column = _EVENT_MOVES[state]
        if state == "acknowledged" and hop_form(d) is None:
            summary.ignored.append(event.event_id)  # an acknowledgement of a notice that was not served: not ours
            return False
        if d.state not in sources:
            if state == "retrieved" and d.state == "deemed_notified" and d.retrieved_at is None:
                target = "deemed_notified"  # a late retrieval changes nothing legally, but is kept as evidence
            else:
                summary.ignored.append(event.event_id)
                return False
        from_state = d.state
        if column:
            setattr(d, column, event.at)
        d.state, d.updated_at = target, now
        append_event(session, d, from_state=from_state, to_state=target, at=event.at, source="channel",
                     channel_event_id=event.event_id, reason=event.reason or f"{d.channel}: {state}",
                     detail={"event": state, "recorded_at": now.isoformat()}, evidence=event.evidence,
                     evidence_type=event.evidence_type)
        summary.applied.append(event.event_id)
        if target == "failed":
            d.last_error = event.reason or EVENT["channel_failed"]
            new = fall_back(session, d, d.last_error, now, config)
            if new is not None:
                summary.fell_back.append(new.id)
            else:
                summary.dead.append(d.document_id)
        elif state == "acknowledged":
            acknowledged(session, d, event.at, config.services, config.rules.time_zone, now,
                         evidence_sha256=event.evidence_sha256 if event.evidence else None)
            summary.notified.append(d.id)
        else:
            legal_dates(session, d, config, now)
    return True


#: Status events applied per transaction by :func:`track` (one chain-head lock, one INSERT of their events).
TRACK_BATCH = 100


def _apply_batch(session_factory: sessionmaker[Session], events: list, now: datetime, config: DeliveryConfig,
                 summary: TrackSummary) -> int:
    """Apply a prefix of ``events`` in one transaction, as :func:`apply_event` applies each (once per
    ``(delivery, event_id)``, the same moves and ignores), up to the first that fails a delivery (that one
    falls back through :func:`apply_event`). The deliveries are read (PostgreSQL: locked, in id order) and
    the events seen before looked up with one query each; the new events go into the chain under one head
    lock. Returns how many events were dealt with."""
    with session_factory() as session, session.begin():
        rows = track_repo.lock_by_keys(session, {e.delivery_id for e in events})
        seen = track_repo.events_seen(session, {r["id"] for r in rows.values()}, {e.event_id for e in events})
        appended: list[dict[str, Any]] = []
        changed: dict[int, dict[str, Any]] = {}
        done = 0
        for event in events:
            d = rows.get(event.delivery_id)
            if d is None or event.at < repo.aware(d["created_at"]) - EVENT_CLOCK_SKEW:
                summary.ignored.append(event.event_id)  # see apply_event
            elif event.event_id is None or (d["id"], event.event_id) in seen:
                pass  # applied before (apply_event's lookup finds any event without a channel id, too)
            else:
                state = str(event.state)
                sources, target, column = _EVENT_MOVES[state]
                if d["state"] not in sources:
                    if state == "retrieved" and d["state"] == "deemed_notified" and d["retrieved_at"] is None:
                        target = "deemed_notified"
                    else:
                        summary.ignored.append(event.event_id)
                        done += 1
                        continue
                if target == "failed" or state == "acknowledged":
                    break  # falls back / served with its proof: apply_event, after this batch commits
                from_state = d["state"]
                values = changed.setdefault(d["id"], {})
                if column:
                    d[column] = values[column] = event.at
                d["state"] = values["state"] = target
                values["updated_at"] = now
                appended.append(dict(delivery_id=d["id"], document_id=d["document_id"], from_state=from_state,
                                     to_state=target, at=event.at, source="channel",
                                     channel_event_id=event.event_id, reason=event.reason or f"{d['channel']}: {state}",
                                     detail={"event": state, "recorded_at": now.isoformat()},
                                     evidence=event.evidence, evidence_type=event.evidence_type))
                seen.add((d["id"], event.event_id))
                summary.applied.append(event.event_id)
            done += 1
        append_events(session, appended)
        notices = {d["id"]: d for d in rows.values()
                   if d["id"] in changed and d["kind"] == "notice" and d["legal_basis"]}
        stored = stored_dates(session, notices) if notices else {}
        results = {}
        for delivery_id, d in notices.items():  # legal_dates on what the batch made of the delivery
            sent_at = repo.aware(d["sent_at"])
            if d["deadline_at"] is None:
                changed[delivery_id]["deadline_at"] = retrieval_deadline(config.rules, d["legal_basis"], d["land"],
                                                                         sent_at)
            results[delivery_id] = compute_notification_date(
                config.rules, d["legal_basis"], d["land"], provision_at=repo.aware(d["delivered_at"]),
                notification_sent_at=sent_at, retrieved_at=repo.aware(d["retrieved_at"]))
        track_repo.update_deliveries(session, changed)
        for delivery_id, result in results.items():
            if result is not None:
                store_dates(session, delivery_id, notices[delivery_id]["document_id"], result, now,
                            stored.get(delivery_id))
    return done


def _expire(session_factory: sessionmaker[Session], now: datetime, config: DeliveryConfig,
            summary: TrackSummary) -> None:
    with session_factory() as session:
        ids = track_repo.past_deadline(session, now)
    for delivery_id in ids:
        with session_factory() as session, session.begin():
            d = repo.lock_delivery(session, delivery_id)
            if d.state not in ("sent", "delivered") or d.retrieved_at is not None or d.legal_basis is None:
                continue  # no legal basis: a served notice awaiting its acknowledgement (_service_overdue)
            rule = config.rules.rule(d.legal_basis, d.land)
            reason = EVENT["expired"].format(deadline=repo.aware(d.deadline_at).isoformat(),
                                             days=rule.retrieval_deadline_days, title=rule.title)
            append_event(session, d, from_state=d.state, to_state="expired", at=now, source="computed",
                         reason=reason, detail={"deadline_at": repo.aware(d.deadline_at).isoformat(),
                                                "on_deadline": rule.on_deadline})
            d.state, d.updated_at = "expired", now
            summary.expired.append(d.id)
            new = fall_back(session, d, reason, now, config, resend=rule.on_deadline == "resend")
            if new is not None:
                summary.fell_back.append(new.id)
            else:
                summary.dead.append(d.document_id)


def _service_overdue(session_factory: sessionmaker[Session], now: datetime, config: DeliveryConfig,
                     summary: TrackSummary) -> None:
    """Served notices whose Empfangsbekenntnis did not come back within its period: the fallback form (PZU by
    post) takes over, or the configured fiction applies (``service.no_acknowledgement``)."""
    with session_factory() as session:
        ids = service_overdue(session, now)
    for delivery_id in ids:
        with session_factory() as session, session.begin():
            d = repo.lock_delivery(session, delivery_id)
            if d.state not in ("sent", "delivered", "retrieved") or d.deadline_at is None \
                    or repo.aware(d.deadline_at) > now:
                continue
            outcome = no_acknowledgement(session, d, config.services, now)
            if outcome == "fiction":
                summary.notified.append(d.id)
                continue
            summary.expired.append(d.id)
            new = fall_back(session, d, outcome, now, config)
            if new is not None:
                summary.fell_back.append(new.id)
            else:
                summary.dead.append(d.document_id)


def _deem(session_factory: sessionmaker[Session], now: datetime, config: DeliveryConfig,
          summary: TrackSummary) -> None:
    today = now.astimezone(ZoneInfo(config.rules.time_zone)).date()
    with session_factory() as session:
        ids = track_repo.notified_by(session, today)
    for delivery_id in ids:
        with session_factory() as session, session.begin():
            d = repo.lock_delivery(session, delivery_id)
            nd = notification_date(session, d.id)
            if d.state not in OPEN_STATES or nd.computed_date > today:
                continue
            append_event(session, d, from_state=d.state, to_state="deemed_notified", at=now, source="computed",
                         reason=EVENT["notified"].format(date=nd.computed_date.isoformat(), explanation=nd.explanation),
                         detail={"date": nd.computed_date.isoformat(), "inputs": nd.inputs})
            d.state, d.finished_at, d.updated_at = "deemed_notified", now, now
            summary.notified.append(d.id)
