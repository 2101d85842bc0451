"""What a person at finance (Stadtkasse) decides about a delivery (issue 14), each a recorded event in the
delivery audit trail with who decided, when and their note (``detail``: ``action``, ``by``, ``note``):

==================  ==========================================================================================
action              what happens
==================  ==========================================================================================
``retry``           the document's last delivery is queued once more on the same channel (next sequence, same
                    hop of its route); an open dead letter of the document is resolved
``send_on_paper``   a delivery on the route's print hop is queued (a letter in the next print batch); an open
                    dead letter is resolved
``mark_delivered``  the document's last delivery is marked ``delivered`` by hand (e.g. handed over at the
                    counter), with the note; an open dead letter is resolved
==================  ==========================================================================================

Each runs in the caller's transaction; a document that cannot take the action raises :class:`ActionRefused`
with what is missing, in German (the console shows it).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from erechnung.errors import ErechnungError
from erechnung.state.deliveries import plan as plan_repo
from erechnung.state.delivery_schema import DeadLetter, Delivery

from .audit import append_event
from .config import DeliveryConfig
from .fallback import _queue

#: The longest note a person may add to an action (the audit trail keeps it for good).
MAX_NOTE = 2000
#: States from which a delivery can still change by itself: an action waits until they are over.
IN_FLIGHT = ("queued", "sending")


class Action(StrEnum):
    RETRY = "retry"
    SEND_ON_PAPER = "send_on_paper"
    MARK_DELIVERED = "mark_delivered"

    @property
    def label(self) -> str:
        return {Action.RETRY: "erneut zustellen", Action.SEND_ON_PAPER: "auf Papier versenden",
                Action.MARK_DELIVERED: "von Hand als zugestellt vermerkt"}[self]


class ActionRefused(ErechnungError):
    """The action cannot be taken for this document; the message says why and what to do (German)."""


@dataclass(frozen=True)
class ActionResult:
    action: Action
    document_id: int
    delivery_id: int  # the queued delivery (retry, paper) or the one marked delivered
    resolved_dead_letter: bool


def _last(session: Session, document_id: int) -> Delivery:
    d = session.execute(select(Delivery).where(Delivery.document_id == document_id)
                        .order_by(Delivery.sequence.desc()).limit(1).with_for_update()).scalar_one_or_none()
    if d is None:
        raise ActionRefused(f"Dokument {document_id}: es gab noch keinen Zustellversuch (der Empfänger fehlt im "
                            "Empfängerverzeichnis oder kein Kanal passt) - ergänzen Sie das Verzeichnis und lassen "
                            "Sie die Zustellung neu planen")
    return d


def _check(d: Delivery, note: str) -> None:
    if len(note) > MAX_NOTE:
        raise ActionRefused(f"die Notiz ist länger als {MAX_NOTE} Zeichen - kürzen Sie sie")
    if d.state in IN_FLIGHT:
        raise ActionRefused(f"Dokument {d.document_id}: die Zustellung über {d.channel} läuft noch "
                            f"(Zustand {d.state}) - warten Sie ihr Ergebnis ab")


def _resolve(session: Session, document_id: int, action: Action, by: str, note: str, now: datetime) -> bool:
    dead = session.execute(select(DeadLetter).where(DeadLetter.document_id == document_id,
                                                    DeadLetter.resolved_at.is_(None))).scalar_one_or_none()
    if dead is None:
        return False
    dead.resolved_at = now
    dead.resolution = f"{action.label} durch {by}" + (f": {note}" if note else "")
    return True


def _detail(action: Action, by: str, note: str) -> dict[str, str]:
    return {"action": action.value, "by": by, "note": note}


def _requeue(session: Session, d: Delivery, hop: int, action: Action, by: str, note: str, now: datetime,
             config: DeliveryConfig) -> ActionResult:
    sequence = plan_repo.next_sequence(session, d.document_id)
    new = _queue(session, d, hop, sequence, config, now,
                 reason=f"{action.label} durch {by}" + (f": {note}" if note else ""))
    if new is None:
        raise ActionRefused(f"Dokument {d.document_id}: eine Zustellung mit derselben Nummer besteht schon - "
                            "laden Sie die Seite neu")
    # who decided: in the new delivery's first event (its detail) and in one event on the delivery acted on
    append_event(session, d, from_state=d.state, to_state=d.state, at=now, source="finance",
                 reason=f"{action.label} durch {by}" + (f": {note}" if note else ""),
                 detail=dict(_detail(action, by, note), next_delivery=new.idempotency_key))
    return ActionResult(action, d.document_id, new.id, _resolve(session, d.document_id, action, by, note, now))


def retry(session: Session, document_id: int, *, by: str, note: str = "", now: datetime,
          config: DeliveryConfig) -> ActionResult:
    """Queue the document's last delivery again on its channel."""
    d = _last(session, document_id)
    _check(d, note)
    return _requeue(session, d, d.hop, Action.RETRY, by, note, now, config)


def send_on_paper(session: Session, document_id: int, *, by: str, note: str = "", now: datetime,
                  config: DeliveryConfig) -> ActionResult:
    """Queue a letter: the print hop of the document's route."""
    d = _last(session, document_id)
    _check(d, note)
    hop = next((i for i, h in enumerate(d.route) if h.get("channel") == "print"), None)
    if hop is None:
        raise ActionRefused(f"Dokument {document_id}: sein Zustellweg hat keinen Briefversand (das Format kann "
                            "nicht gedruckt werden oder die Postanschrift fehlt) - ergänzen Sie die Anschrift im "
                            "Empfängerverzeichnis")
    return _requeue(session, d, hop, Action.SEND_ON_PAPER, by, note, now, config)


def mark_delivered(session: Session, document_id: int, *, by: str, note: str, now: datetime) -> ActionResult:
    """Mark the document's last delivery as delivered by hand; the note (required) says how."""
    note = note.strip()
    if not note:
        raise ActionRefused("geben Sie eine Notiz an: wie und wann wurde das Dokument zugestellt?")
    d = _last(session, document_id)
    _check(d, note)
    if d.state in ("delivered", "retrieved", "deemed_notified"):
        raise ActionRefused(f"Dokument {document_id}: die Zustellung über {d.channel} ist schon als "
                            f"{d.state} vermerkt")
    from_state = d.state
    d.state, d.delivered_at, d.updated_at = "delivered", now, now
    append_event(session, d, from_state=from_state, to_state="delivered", at=now, source="finance",
                 reason=f"{Action.MARK_DELIVERED.label} durch {by}: {note}",
                 detail=_detail(Action.MARK_DELIVERED, by, note))
    return ActionResult(Action.MARK_DELIVERED, document_id, d.id,
                        _resolve(session, document_id, Action.MARK_DELIVERED, by, note, now))
