"""The legal dates of a notice's delivery: its retrieval deadline and the date it counts as notified
(Bekanntgabe), computed by ``notification`` from what is known so far (sent, provided, retrieved) and stored with
their inputs (``erechnung.state.deliveries.legal_dates``); a later event that changes them recomputes them."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from erechnung.state.deliveries import aware
from erechnung.state.deliveries.legal_dates import store_notification_date
from erechnung.state.delivery_schema import Delivery

from .config import DeliveryConfig
from .notification import compute_notification_date, retrieval_deadline


def legal_dates(session: Session, d: Delivery, config: DeliveryConfig, now: datetime) -> None:
    """For a notice: the retrieval deadline and the notification date from what is known so far (stored with
    its inputs; recomputed when a later event changes them)."""
    if d.kind != "notice" or not d.legal_basis:
        return
    rules = config.rules
    sent_at, delivered_at, retrieved_at = aware(d.sent_at), aware(d.delivered_at), aware(d.retrieved_at)
    if d.deadline_at is None:
        d.deadline_at = retrieval_deadline(rules, d.legal_basis, d.land, sent_at)
    result = compute_notification_date(rules, d.legal_basis, d.land, provision_at=delivered_at,
                                       notification_sent_at=sent_at, retrieved_at=retrieved_at)
    if result is None:
        return
    store_notification_date(session, d, result, now)
