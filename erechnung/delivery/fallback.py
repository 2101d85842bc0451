"""Fallback and dead letters: when a delivery failed (after ``max_attempts`` temporary failures, on a permanent
failure or a ``failed`` status event) or expired (§ 41 Abs. 2a VwVfG: not retrieved within its deadline, not
notified), the next channel of the route takes over: the old delivery goes ``-> fell_back`` and a new one (next
sequence, next hop) is queued in the same transaction; a rule that says ``resend`` sends on the same channel
once more first. After the last channel the document goes to ``dead_letters`` with the reason, for finance.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from erechnung.state.deliveries import plan as plan_repo
from erechnung.state.deliveries.dead_letters import add_dead_letter
from erechnung.state.delivery_schema import Delivery

from .audit import append_event, append_events
from .config import DeliveryConfig
from .plan import queue_values
from .texts import EVENT

if TYPE_CHECKING:
    from .send import SendSummary


def fall_back(session: Session, d: Delivery, reason: str, now: datetime, config: DeliveryConfig,
              summary: SendSummary | None = None, *, resend: bool = False) -> Delivery | None:
    """The next channel of the route takes over from a failed or expired delivery (``resend``: the same hop
    once more); after the last one the document goes to the dead letters."""
    from_state = d.state
    sequence = plan_repo.next_sequence(session, d.document_id)
    hop = d.hop
    if resend:
        resend = plan_repo.on_hop(session, d.document_id, d.hop) < 2
    if not resend:
        hop += 1
    if hop >= len(d.route):
        d.finished_at = now
        if add_dead_letter(session, d.document_id, d.id,
                           EVENT["none_left"].format(channel=d.channel, reason=reason), now):
            if summary is not None:
                summary.dead.append(d.document_id)
        return None
    new = _queue(session, d, hop, sequence, config, now,
                 reason=EVENT["queued_again" if resend else "queued_next"].format(channel=d.channel, state=from_state,
                                                                                   reason=reason))
    if new is None:
        return None
    d.state, d.finished_at, d.updated_at = "fell_back", now, now
    append_event(session, d, from_state=from_state, to_state="fell_back", at=now, source="worker",
                 reason=EVENT["fell_back_again" if resend else "fell_back_next"].format(channel=new.channel,
                                                                                        reason=reason),
                 detail={"next_delivery": new.idempotency_key, "next_channel": new.channel})
    if summary is not None:
        summary.fell_back.append(new.id)
    return new


def _queue(session: Session, d: Delivery, hop: int, sequence: int, config: DeliveryConfig, now: datetime, *,
           reason: str) -> Delivery | None:
    """Queue ``hop`` of ``d``'s route for its document (once per idempotency key) with its first event; None
    when it existed."""
    values, event = queue_values(d.document_id, d.kind, d.route, hop, sequence, config, now, reason=reason)
    new_id = plan_repo.insert_delivery(session, values)  # None: the key or (document, sequence) was there
    if new_id is None:
        return None
    append_events(session, [dict(event, delivery_id=new_id)])
    return session.get(Delivery, new_id)
