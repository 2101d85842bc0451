"""The tamper-evident audit trail of deliveries (GoBD): every state change of a delivery is one row of
``delivery_events``, hash-chained over the whole table.

    hash = sha256(prev_hash || canonical JSON of the event)

``prev_hash`` is the previous event's ``hash`` (in ``seq`` order; the first event's is 64 zeros). The canonical
JSON has sorted keys, no spaces, UTF-8, times as UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, and covers every column
except ``id``, ``hash`` and the evidence bytes, which enter through their sha256 (``evidence_sha256``;
:func:`verify_chain` checks the bytes against it). Appending locks the chain's head row (``delivery_chain``)
until the transaction ends, so concurrent workers append one after the other and ``seq`` has no gaps.

Code only ever inserts here. :func:`verify_chain` recomputes the chain and names the first broken link: a
changed row (its hash no longer matches), a deleted row (a gap in ``seq``, or the next row's ``prev_hash``
points nowhere), an inserted row (a hash that does not follow, or more rows than the head counts). Whoever can
write the database can also rewrite the whole chain from the change on, or cut its end and move the head back:
so every deliver and track run keeps the head (seq, hash, time) as a checkpoint in the WORM archive
(:func:`checkpoint_head`), and :func:`verify_trail` checks the chain against the newest one, that every delivery
has events and the state of its last one, and that every notification date is covered by the chain.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from erechnung.state.delivery_schema import GENESIS_HASH, Delivery, DeliveryChain, DeliveryEvent
from erechnung.state.schema import utcnow

CHAIN_ID = 1


def _utc_text(at: datetime) -> str:
    at = at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def plain_json(value: Any) -> Any:
    """``value`` as it comes back from a JSON column (so that the hash is computed over what is stored)."""
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def canonical_event(*, seq: int, delivery_id: int, document_id: int, from_state: str | None, to_state: str,
                    at: datetime, source: str, channel_event_id: str | None, reason: str | None,
                    detail: Mapping[str, Any] | None, evidence_type: str | None,
                    evidence_sha256: str | None) -> bytes:
    return json.dumps({"seq": seq, "delivery_id": delivery_id, "document_id": document_id,
                       "from_state": from_state, "to_state": to_state, "at": _utc_text(at), "source": source,
                       "channel_event_id": channel_event_id, "reason": reason, "detail": detail or {},
                       "evidence_type": evidence_type, "evidence_sha256": evidence_sha256},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def event_hash(prev_hash: str, canonical: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical).hexdigest()


def _row_canonical(e: DeliveryEvent) -> bytes:
    return canonical_event(seq=e.seq, delivery_id=e.delivery_id, document_id=e.document_id,
                           from_state=e.from_state, to_state=e.to_state, at=e.at, source=e.source,
                           channel_event_id=e.channel_event_id, reason=e.reason, detail=e.detail,
                           evidence_type=e.evidence_type, evidence_sha256=e.evidence_sha256)


_EVENTS = DeliveryEvent.__table__
_HEAD = DeliveryChain.__table__


#: The statements of an append, built once: building them per call (coercing every value, then walking the
#: new statement for its cache key) was most of an append's CPU.
_HEAD_FOR_UPDATE = select(_HEAD.c.seq, _HEAD.c.head_hash).where(_HEAD.c.id == CHAIN_ID).with_for_update()
_INSERT_EVENTS = insert(_EVENTS)
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == CHAIN_ID).values(
    seq=bindparam("new_seq", type_=_HEAD.c.seq.type), head_hash=bindparam("new_hash", type_=_HEAD.c.head_hash.type),
    updated_at=bindparam("new_at", type_=_HEAD.c.updated_at.type))


def lock_head(session: Session) -> tuple[int, str]:
    """Lock the chain's head row until the transaction ends (created on the first append); its (seq, hash)."""
    q = _HEAD_FOR_UPDATE
    row = session.execute(q).first()
    if row is None:
        from erechnung.state.repository import _insert

        session.execute(_insert(session, DeliveryChain).values(id=CHAIN_ID, seq=0, head_hash=GENESIS_HASH,
                                                               updated_at=utcnow())
                        .on_conflict_do_nothing(index_elements=["id"]))
        row = session.execute(q).one()
    return row.seq, row.head_hash


def event_row(seq: int, prev_hash: str, *, delivery_id: int, document_id: int, from_state: str | None,
              to_state: str, at: datetime, source: str, reason: str | None = None,
              detail: Mapping[str, Any] | None = None, evidence: bytes | None = None,
              evidence_type: str | None = None, channel_event_id: str | None = None) -> dict[str, Any]:
    """The ``delivery_events`` row of one event at ``seq`` after ``prev_hash``, with its hash."""
    detail = plain_json(dict(detail or {}))
    evidence_sha256 = hashlib.sha256(evidence).hexdigest() if evidence else None
    evidence_type = evidence_type if evidence else None
    canonical = canonical_event(seq=seq, delivery_id=delivery_id, document_id=document_id,
                                from_state=from_state, to_state=to_state, at=at, source=source,
                                channel_event_id=channel_event_id, reason=reason, detail=detail,
                                evidence_type=evidence_type, evidence_sha256=evidence_sha256)
    return dict(seq=seq, delivery_id=delivery_id, document_id=document_id, from_state=from_state,
                to_state=to_state, at=at, source=source, channel_event_id=channel_event_id, reason=reason,
                detail=detail, evidence=evidence or None, evidence_type=evidence_type,
                evidence_sha256=evidence_sha256, prev_hash=prev_hash, hash=event_hash(prev_hash, canonical))


def append_events(session: Session, events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Append ``events`` (keyword arguments of :func:`event_row` without seq and prev_hash), in order, in the
    caller's transaction: the head is locked once (until the transaction ends), the rows go in with one
    INSERT and the head moves once. Returns the rows written."""
    if not events:
        return []
    seq, prev = lock_head(session)
    rows = []
    for e in events:
        seq += 1
        row = event_row(seq, prev, **e)
        rows.append(row)
        prev = row["hash"]
    session.execute(_INSERT_EVENTS, rows)
    session.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": prev, "new_at": utcnow()})
    return rows


def append_event(session: Session, delivery: Delivery, *, from_state: str | None, to_state: str, at: datetime,
                 source: str, reason: str | None = None, detail: Mapping[str, Any] | None = None,
                 evidence: bytes | None = None, evidence_type: str | None = None,
                 channel_event_id: str | None = None) -> dict[str, Any]:
    """Append one event to the chain in the caller's transaction (the head stays locked until it ends)."""
    [row] = append_events(session, [dict(delivery_id=delivery.id, document_id=delivery.document_id,
                                         from_state=from_state, to_state=to_state, at=at, source=source,
                                         reason=reason, detail=detail, evidence=evidence,
                                         evidence_type=evidence_type, channel_event_id=channel_event_id)])
    return row


@dataclass(frozen=True)
class ChainReport:
    """What :func:`verify_chain` found. ``ok``: every link holds; else ``seq``/``event_id`` name the first
    broken link and ``problem`` says what is wrong with it."""

    ok: bool
    events: int
    head_hash: str
    seq: int | None = None
    event_id: int | None = None
    problem: str | None = None

    def text(self) -> str:
        if self.ok:
            return f"OK: {self.events} Zustellereignis(se), Kette unversehrt, Kopf {self.head_hash}"
        where = f"Ereignis Nr. {self.seq}" + (f" (id {self.event_id})" if self.event_id is not None else "")
        return f"GEBROCHEN bei {where}: {self.problem}"


def verify_chain(session: Session) -> ChainReport:
    """Recompute the chain in ``seq`` order and compare it with the stored hashes and the head."""
    prev, expected_seq, count = GENESIS_HASH, 1, 0
    rows = session.execute(select(DeliveryEvent).order_by(DeliveryEvent.seq).execution_options(yield_per=500))
    for e in rows.scalars():
        count += 1
        if e.seq != expected_seq:
            return ChainReport(False, count, prev, expected_seq, e.id,
                               f"Ereignis {expected_seq} fehlt (das nächste gespeicherte ist {e.seq}): gelöscht")
        if e.prev_hash != prev:
            return ChainReport(False, count, prev, e.seq, e.id,
                               "prev_hash nennt nicht den Hash des vorigen Ereignisses: ein Ereignis davor wurde "
                               "geändert, gelöscht oder eingefügt")
        if e.evidence is not None and hashlib.sha256(e.evidence).hexdigest() != e.evidence_sha256:
            return ChainReport(False, count, prev, e.seq, e.id, "die Nachweisdaten passen nicht zu evidence_sha256")
        digest = event_hash(prev, _row_canonical(e))
        if digest != e.hash:
            return ChainReport(False, count, prev, e.seq, e.id,
                               "der Inhalt des Ereignisses passt nicht zu seinem Hash: die Zeile wurde geändert")
        prev, expected_seq = e.hash, expected_seq + 1
        session.expunge(e)
    head = session.get(DeliveryChain, CHAIN_ID, populate_existing=True)
    head_seq, head_hash = (head.seq, head.head_hash) if head is not None else (0, GENESIS_HASH)
    if head_seq != count or head_hash != prev:
        if head_seq > count:
            problem = (f"der Kopf der Kette zählt {head_seq} Ereignisse, gespeichert sind {count}: das letzte wurde "
                       "gelöscht")
        else:
            problem = (f"der Kopf der Kette zählt {head_seq} Ereignisse bis {head_hash[:16]}, die Tabelle hält "
                       f"{count} bis {prev[:16]}: ein Ereignis wurde eingefügt oder der Kopf geändert")
        return ChainReport(False, count, prev, min(head_seq, count) + 1, None, problem)
    return ChainReport(True, count, prev)


# ============================================================================ the trail beyond the chain's links


@dataclass(frozen=True)
class TrailReport:
    """What :func:`verify_trail` found: the chain's links (``chain``), and every finding beyond them in the
    clerk's words (``findings``): events missing against the archive's checkpoint, deliveries without events,
    states and notification dates the chain does not cover."""

    chain: ChainReport
    checkpoint: Any | None  # erechnung.archive.Checkpoint, or None when the archive holds none (or was not given)
    findings: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.findings

    def text(self) -> str:
        lines = [self.chain.text()]
        if self.checkpoint is not None:
            cp = self.checkpoint
            lines.append(f"Prüfpunkt im Archiv: Ereignis {cp.seq}, Hash {cp.hash[:16]}…, vom {cp.at.isoformat()}")
        else:
            lines.append("Prüfpunkt im Archiv: keiner (die Kette ist nur in sich geprüft)")
        lines += [f"BEFUND: {f}" for f in self.findings]
        lines.append("OK: Kette, Prüfpunkt, Zustände und Bekanntgabedaten stimmen überein" if self.ok
                     else f"NICHT OK: {len(self.findings) + (not self.chain.ok)} Befund(e)")
        return "\n".join(lines)


#: How many deliveries a finding names one by one before it counts the rest.
NAMED = 20


def _ids(ids: Sequence[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:NAMED])
    return shown + (f" und {len(ids) - NAMED} weitere" if len(ids) > NAMED else "")


def verify_trail(session: Session, checkpoint: Any | None = None, rules: Any | None = None, *,
                 earlier: Sequence[Any] = ()) -> TrailReport:
    """:func:`verify_chain`, and what a chain whose head can be rewritten in the same database cannot show alone:

    * the chain holds the archive's newest ``checkpoint`` (its ``seq`` with that hash): fewer events are a
      truncation, another hash a rewrite; and every ``earlier`` checkpoint too (a chain rewritten and then
      checkpointed by a later run holds the newest checkpoint, but not those written before the rewrite);
    * every delivery has events, and its ``state`` is the ``to_state`` of its last event;
    * every stored notification date is covered: its times are times of the delivery's chained events (an
      event's ``at`` or the receipt's ``accepted_at``), the date is what the legal rules (``rules``, when the
      stored ``rules_sha256`` is theirs) give for them, and a ``deemed_notified`` event names that date.
    """
    from erechnung.state.delivery_schema import NotificationDate
    from sqlalchemy import func

    chain = verify_chain(session)
    findings: list[str] = []
    top = session.execute(select(func.max(DeliveryEvent.seq))).scalar_one() or 0
    if checkpoint is not None:
        findings += _against_checkpoints(session, [checkpoint], top)
    older = [cp for cp in earlier if checkpoint is None or cp.seq != checkpoint.seq]
    if older:
        rewritten = _against_checkpoints(session, older, top)
        findings += rewritten[:NAMED] + ([f"und {len(rewritten) - NAMED} weitere Prüfpunkte widersprechen der Kette"]
                                         if len(rewritten) > NAMED else [])
    last_seq = select(DeliveryEvent.delivery_id, func.max(DeliveryEvent.seq).label("seq")) \
        .group_by(DeliveryEvent.delivery_id).subquery()
    rows = session.execute(
        select(Delivery.id, Delivery.state, DeliveryEvent.to_state)
        .outerjoin(last_seq, last_seq.c.delivery_id == Delivery.id)
        .outerjoin(DeliveryEvent, DeliveryEvent.seq == last_seq.c.seq).order_by(Delivery.id)).all()
    without = [r.id for r in rows if r.to_state is None]
    if without:
        findings.append(f"{len(without)} Zustellung(en) ohne ein Ereignis in der Kette: {_ids(without)} "
                        "(ihre Ereignisse wurden gelöscht)")
    for r in rows:
        if r.to_state is not None and r.state != r.to_state:
            findings.append(f"Zustand von Zustellung {r.id} ist '{r.state}', die Kette sagt '{r.to_state}'")
    dates = list(session.execute(select(NotificationDate).order_by(NotificationDate.delivery_id)).scalars())
    if dates:
        findings += _uncovered_dates(session, dates, rules)
    return TrailReport(chain, checkpoint, tuple(findings))


def _against_checkpoints(session: Session, checkpoints: Sequence[Any], top: int) -> list[str]:
    """The findings of the chain against archived checkpoints: each checkpoint's ``seq`` must hold its hash."""
    out: list[str] = []
    for start in range(0, len(checkpoints), 500):
        part = checkpoints[start:start + 500]
        stored = dict(session.execute(select(DeliveryEvent.seq, DeliveryEvent.hash)
                                      .where(DeliveryEvent.seq.in_([cp.seq for cp in part]))).all())
        for cp in part:
            when, got = cp.at.isoformat(), stored.get(cp.seq)
            if top < cp.seq:
                out.append(f"Ereignis {top + 1}..{cp.seq} fehlen: der Prüfpunkt im Archiv vom {when} zählt "
                           f"{cp.seq} Ereignisse, die Datenbank hat {top} (gelöscht)")
            elif got is None:
                out.append(f"Ereignis {cp.seq} fehlt, das der Prüfpunkt im Archiv vom {when} festhält")
            elif got != cp.hash:
                out.append(f"Ereignis {cp.seq} hat nicht den Hash des Prüfpunkts im Archiv vom {when} "
                           f"({got[:16]}… statt {cp.hash[:16]}…): die Kette wurde umgeschrieben")
    return out


def _uncovered_dates(session: Session, dates: list, rules: Any | None) -> list[str]:
    """The notification dates the chain does not cover (see :func:`verify_trail`)."""
    from .notification import compute_notification_date

    ids = [nd.delivery_id for nd in dates]
    times: dict[int, set[str]] = {}
    deemed: dict[int, str] = {}
    for e in session.execute(select(DeliveryEvent.delivery_id, DeliveryEvent.to_state, DeliveryEvent.at,
                                    DeliveryEvent.detail).where(DeliveryEvent.delivery_id.in_(ids))
                            .order_by(DeliveryEvent.seq)):  # the last deemed_notified event decides
        seen = times.setdefault(e.delivery_id, set())
        seen.add(_utc_text(e.at))
        accepted = (e.detail or {}).get("accepted_at")
        if accepted:
            seen.add(_utc_text(datetime.fromisoformat(accepted)))
        if e.to_state == "deemed_notified" and (e.detail or {}).get("date"):
            deemed[e.delivery_id] = e.detail["date"]
    out = []
    for nd in dates:
        chained = times.get(nd.delivery_id, set())
        for column, label in (("notification_sent_at", "Versand"), ("provision_at", "Bereitstellung"),
                              ("retrieved_at", "Abruf")):
            value = getattr(nd, column)
            if value is not None and _utc_text(value) not in chained:
                out.append(f"Bekanntgabedatum von Zustellung {nd.delivery_id}: {label} {_utc_text(value)} ist kein "
                           "Zeitpunkt ihrer Ereignisse in der Kette")
        if nd.delivery_id in deemed and deemed[nd.delivery_id] != nd.computed_date.isoformat():
            out.append(f"Bekanntgabedatum von Zustellung {nd.delivery_id} ist {nd.computed_date.isoformat()}, die "
                       f"Kette sagt {deemed[nd.delivery_id]}")
            continue
        if rules is not None and nd.rules_sha256 == rules.sha256:
            confirmed = (nd.inputs or {}).get("confirmed_by_configuration")  # as the municipality confirmed then
            result = compute_notification_date(rules.confirming(nd.land, [confirmed]) if confirmed else rules,
                                               nd.legal_basis, nd.land, provision_at=_aware(nd.provision_at),
                                               notification_sent_at=_aware(nd.notification_sent_at),
                                               retrieved_at=_aware(nd.retrieved_at))
            if result is None or result.date != nd.computed_date:
                out.append(f"Bekanntgabedatum von Zustellung {nd.delivery_id} ist {nd.computed_date.isoformat()}, "
                           f"aus den Zeitpunkten der Kette folgt "
                           f"{result.date.isoformat() if result is not None else 'keines'}")
    return out


def _aware(at: datetime | None) -> datetime | None:
    return None if at is None else (at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at)


def checkpoint_head(session: Session, archive: Any) -> Any:
    """Keep the chain's head (seq, hash, now) as a checkpoint in the archive (``erechnung.archive.Archive``),
    where the database cannot rewrite it; returns the archive's newest checkpoint afterwards."""
    head = session.get(DeliveryChain, CHAIN_ID, populate_existing=True)
    if head is not None and head.seq > 0:
        archive.put_checkpoint(head.seq, head.head_hash)
    return archive.latest_checkpoint()


def verify_against_archive(session: Session, checkpoints: Sequence[Any], rules: Any | None = None) -> TrailReport:
    """``verify_trail`` against the newest of the archive's ``checkpoints`` (``Archive.checkpoints()``; empty:
    none written yet), with the legal rules as installed: what ``erechnung audit verify`` and the console run."""
    if rules is None:
        from .notification import LegalRules

        rules = LegalRules.load()
    return verify_trail(session, checkpoints[-1] if checkpoints else None, rules, earlier=list(checkpoints))
