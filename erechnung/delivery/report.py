"""What finance and auditors read about deliveries: one record per delivery attempt with its events, plus one
per open dead letter that never had an attempt (``erechnung status``), and a per-batch HTML report with each
document's history, its notification date and the dead letters (``erechnung status --batch ID --html FILE``),
whose Content-Security-Policy lets it load nothing (``erechnung.html_safety``)."""
from __future__ import annotations

import html
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from erechnung.html_safety import csp_meta_html
from erechnung.state.delivery_schema import DeadLetter, Delivery, DeliveryEvent, NotificationDate
from erechnung.state.schema import Batch, Document


def _iso(v: datetime | date | None) -> str | None:
    return None if v is None else v.isoformat()


def delivery_records(session: Session, *, document_id: int | None = None,
                     batch_id: int | None = None) -> list[dict[str, Any]]:
    """One dict per delivery attempt (document order, then sequence), with its events oldest first."""
    q = select(Delivery, Document).join(Document, Document.id == Delivery.document_id) \
        .order_by(Delivery.document_id, Delivery.sequence)
    if document_id is not None:
        q = q.where(Delivery.document_id == document_id)
    if batch_id is not None:
        q = q.where(Document.batch_id == batch_id)
    pairs = session.execute(q).all()
    ids = [d.id for d, _ in pairs]
    events: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    dates: dict[int, NotificationDate] = {}
    dead: dict[int, DeadLetter] = {}
    if ids:
        for e in session.execute(select(DeliveryEvent).where(DeliveryEvent.delivery_id.in_(ids))
                                 .order_by(DeliveryEvent.seq)).scalars():
            events[e.delivery_id].append({
                "seq": e.seq, "at": _iso(e.at), "from": e.from_state, "to": e.to_state, "source": e.source,
                "reason": e.reason, "channel_event_id": e.channel_event_id, "evidence_type": e.evidence_type,
                "evidence_sha256": e.evidence_sha256, "hash": e.hash})
        dates = {n.delivery_id: n for n in session.execute(
            select(NotificationDate).where(NotificationDate.delivery_id.in_(ids))).scalars()}
        dead = {x.delivery_id: x for x in session.execute(
            select(DeadLetter).where(DeadLetter.delivery_id.in_(ids))).scalars()}
    out = []
    for d, doc in pairs:
        nd, dl = dates.get(d.id), dead.get(d.id)
        out.append({
            "document_id": d.document_id, "document_number": doc.number, "kind": d.kind, "batch_id": doc.batch_id,
            "department": doc.department, "delivery_id": d.idempotency_key, "sequence": d.sequence,
            "channel": d.channel, "address_ref": d.address_ref, "state": d.state, "attempts": d.attempts,
            "next_attempt_at": _iso(d.next_attempt_at) if d.state == "queued" else None,
            "last_error": d.last_error, "channel_message_id": d.channel_message_id, "sent_at": _iso(d.sent_at),
            "delivered_at": _iso(d.delivered_at), "retrieved_at": _iso(d.retrieved_at),
            "retrieval_deadline": _iso(d.deadline_at), "legal_basis": d.legal_basis,
            "notification_date": _iso(nd.computed_date) if nd else None,
            "notification_inputs": nd.inputs if nd else None,
            "dead_letter": dl.reason if dl else None, "events": events[d.id]})
    return out


def legal_date_lines(record: dict[str, Any]) -> list[str]:
    """What ``erechnung status --document N`` says of a delivery's notification date: the date, the paragraph
    of the Land that produced it and its source, the sentence it rests on (all from ``notification_inputs``;
    dates stored before the Land entries carry only the paragraph)."""
    inputs = record.get("notification_inputs") or {}
    if not record.get("notification_date"):
        return []
    rule = inputs.get("rule_source") or "default"
    where = "allgemeine Regel" if rule == "default" else f"Regel {rule}"
    lines = [f"Bekanntgabe am {record['notification_date']} nach {inputs.get('title') or record['legal_basis']} "
             f"({where}, {inputs.get('days')} Tage ab {inputs.get('start_day')}"
             + (f", verschoben: {', '.join(inputs['shifted_for'])}" if inputs.get("shifted_for") else "") + ")"]
    if inputs.get("basis_text"):
        lines.append(f"  Grundlage: {inputs['basis_text']}")
    lines.append(f"  Quelle: {inputs.get('citation') or 'nicht gespeichert (berechnet vor den Landeseinträgen)'}")
    if inputs.get("confirmed_by_configuration"):
        lines.append(f"  offene Recherche, bestätigt in der Konfiguration: {inputs['confirmed_by_configuration']}")
    lines.append(f"  legal.toml {inputs.get('rules_version', '')} sha256:{str(inputs.get('rules_sha256', ''))[:16]}")
    return lines


def dead_letter_records(session: Session, *, batch_id: int | None = None,
                        document_id: int | None = None) -> list[dict[str, Any]]:
    q = select(DeadLetter, Document).join(Document, Document.id == DeadLetter.document_id) \
        .where(DeadLetter.resolved_at.is_(None)).order_by(DeadLetter.id)
    if batch_id is not None:
        q = q.where(Document.batch_id == batch_id)
    if document_id is not None:
        q = q.where(DeadLetter.document_id == document_id)
    return [{"document_id": dl.document_id, "document_number": doc.number, "department": doc.department,
             "recipient_ref": doc.recipient_ref, "reason": dl.reason, "since": _iso(dl.created_at)}
            for dl, doc in session.execute(q).all()]


#: The fields of an attempt that a document without any attempt does not have.
_NO_ATTEMPT = dict.fromkeys((
    "delivery_id", "sequence", "channel", "address_ref", "next_attempt_at", "last_error", "channel_message_id",
    "sent_at", "delivered_at", "retrieved_at", "retrieval_deadline", "legal_basis", "notification_date",
    "notification_inputs"))


def status_records(session: Session, *, document_id: int | None = None,
                   batch_id: int | None = None) -> list[dict[str, Any]]:
    """What ``erechnung status --json`` lists: every delivery attempt (``delivery_records``) and, in document
    order among them, every open dead letter of a document that never had an attempt (no channel could take it,
    or its recipient is not in the register). Such a record has the attempt's keys, ``state`` ``dead_letter``,
    the reason in ``dead_letter``, no events and ``None`` where an attempt would have a value."""
    records = delivery_records(session, document_id=document_id, batch_id=batch_id)
    attempted = {r["document_id"] for r in records}
    q = select(DeadLetter, Document).join(Document, Document.id == DeadLetter.document_id) \
        .where(DeadLetter.resolved_at.is_(None), DeadLetter.delivery_id.is_(None))
    if batch_id is not None:
        q = q.where(Document.batch_id == batch_id)
    if document_id is not None:
        q = q.where(DeadLetter.document_id == document_id)
    unattempted = [{
        "document_id": dl.document_id, "document_number": doc.number, "kind": doc.kind, "batch_id": doc.batch_id,
        "department": doc.department, "recipient_ref": doc.recipient_ref, **_NO_ATTEMPT, "state": "dead_letter",
        "attempts": 0, "dead_letter": dl.reason, "dead_letter_since": _iso(dl.created_at), "events": []}
        for dl, doc in session.execute(q).all() if dl.document_id not in attempted]
    return sorted(records + unattempted, key=lambda r: r["document_id"])  # stable: attempts keep their order


_STYLE = """body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #bbb;padding:.25em .5em;text-align:left;vertical-align:top;font-size:90%}
th{background:#eee}.state{font-weight:bold}.dead{background:#fdd}.ok{color:#060}.bad{color:#a00}
code{font-size:85%}h2{margin-top:1.5em;border-bottom:1px solid #999}"""


def batch_report_html(session: Session, batch_id: int, *, chain_text: str | None = None) -> str:
    """The HTML report of one batch: per document its delivery attempts and their events (with evidence
    digests and event hashes), the notification date with its inputs, and the dead letters."""
    batch = session.get(Batch, batch_id)
    records = delivery_records(session, batch_id=batch_id)
    dead = dead_letter_records(session, batch_id=batch_id)
    docs = list(session.execute(select(Document).where(Document.batch_id == batch_id).order_by(Document.id))
                .scalars())
    e = html.escape
    parts = ["<!DOCTYPE html>", f'<html lang="de"><head><meta charset="utf-8">{csp_meta_html()}',
             f"<title>Zustellung Stapel {batch_id}</title><style>{_STYLE}</style></head><body>",
             f"<h1>Zustellbericht Stapel {batch_id}</h1>"]
    if batch is not None:
        parts.append(f"<p>Bereich {e(batch.department)}, Datei <code>{e(batch.source_key)}</code>, "
                     f"SHA-256 <code>{e(batch.sha256)}</code>, {len(docs)} Dokument(e).</p>")
    if chain_text:
        parts.append(f"<p>Prüfkette (Hash-Kette der Zustellereignisse): <code>{e(chain_text)}</code></p>")
    if dead:
        parts.append("<h2>Nicht zustellbar (Handlungsbedarf)</h2><table><tr><th>Dokument</th><th>Empfänger</th>"
                     "<th>Grund</th><th>seit</th></tr>")
        for x in dead:
            parts.append(f'<tr class="dead"><td>{e(str(x["document_number"] or x["document_id"]))}</td>'
                         f'<td>{e(str(x["recipient_ref"] or ""))}</td><td>{e(x["reason"])}</td>'
                         f'<td>{e(x["since"] or "")}</td></tr>')
        parts.append("</table>")
    by_doc: dict[int, list[dict[str, Any]]] = {}
    for r in records:
        by_doc.setdefault(r["document_id"], []).append(r)
    for doc in docs:
        parts.append(f"<h2>{e(doc.number or str(doc.id))} ({e(doc.kind)}, Empfänger "
                     f"{e(doc.recipient_ref or '–')})</h2>")
        attempts = by_doc.get(doc.id, [])
        if not attempts:
            parts.append("<p>Noch keine Zustellung geplant.</p>")
            continue
        for r in attempts:
            cls = "dead" if r["dead_letter"] else ""
            parts.append(f'<table class="{cls}"><tr><th colspan="6">Versuch {r["sequence"]}: {e(r["channel"])} an '
                         f'{e(r["address_ref"])} – Zustand <span class="state">{e(r["state"])}</span>, '
                         f'{r["attempts"]} Sendeversuch(e)</th></tr>')
            if r["notification_date"]:
                parts.append(f'<tr><td colspan="6">Bekanntgabe am <b>{e(r["notification_date"])}</b> '
                             f'({e(str((r["notification_inputs"] or {}).get("title", r["legal_basis"])))}); '
                             f'Eingaben: <code>{e(_inputs_text(r["notification_inputs"]))}</code></td></tr>')
            if r["last_error"]:
                parts.append(f'<tr><td colspan="6" class="bad">Letzter Fehler: {e(r["last_error"])}</td></tr>')
            parts.append("<tr><th>#</th><th>Zeit</th><th>Übergang</th><th>Quelle</th><th>Grund</th>"
                         "<th>Nachweis / Hash</th></tr>")
            for ev in r["events"]:
                evidence = (f'{e(ev["evidence_type"])} sha256 <code>{e(ev["evidence_sha256"][:16])}…</code><br>'
                            if ev["evidence_sha256"] else "")
                parts.append(f'<tr><td>{ev["seq"]}</td><td>{e(ev["at"])}</td>'
                             f'<td>{e(ev["from"] or "–")} → {e(ev["to"])}</td><td>{e(ev["source"])}</td>'
                             f'<td>{e(ev["reason"] or "")}</td><td>{evidence}<code>{e(ev["hash"][:16])}…</code></td>'
                             f"</tr>")
            parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _inputs_text(inputs: dict[str, Any] | None) -> str:
    if not inputs:
        return ""
    keys = ("legal_basis", "land", "start_event", "start_at", "days", "period_end", "shifted_for",
            "retrieved_at", "calendar", "calendar_version", "rules_version", "rule_source", "citation",
            "confirmed_by_configuration")
    return ", ".join(f"{k}={inputs.get(k)}" for k in keys if inputs.get(k) not in (None, [], ""))
