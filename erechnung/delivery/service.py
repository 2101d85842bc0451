"""Förmliche Zustellung: a notice whose kind names a form of service (``notices.toml`` ``service``, the forms in
``service.toml``, :mod:`.service_rules`) is served, not just sent, and its date of service is proven, not deemed.

* **Planning** (:func:`served_route`): the route keeps only the hops that can carry the form (the Empfangsbekenntnis
  needs the postbox, the PZU and the Einschreiben a letter), then those of its fallback form (no Empfangsbekenntnis
  -> PZU); every hop names its form (``Hop.service``) and has no legal basis of its own: the date of service
  comes from the proof, not from § 41 Abs. 2 VwVfG.
* **Sending** (:func:`service_order`): the channel gets a :class:`~mailbox_connectors.base.ServiceOrder`: the
  postbox message starts with "Zustellung gegen Empfangsbekenntnis" and names the authority, the addressee, the
  officer (§ 5 Abs. 4 VwZG); the print batch gets the Zustellumschlag and the PZU form (§ 3 VwZG).
  :func:`on_sent`: the Empfangsbekenntnis is awaited ``acknowledgement_days``; an Einschreiben counts as served on
  the 4th day after posting unless the Rückschein says otherwise (§ 4 Abs. 2 VwZG, rule ``vwzg_4_2``).
* **Proof**: the returned Empfangsbekenntnis (a channel event ``acknowledged``: :func:`acknowledged`) or the
  PZU / Rückschein a clerk enters (:func:`record_proof`, ``erechnung service record``) is an event of the
  hash-chained audit trail with the proof as evidence; its date is the date of service, stored as the notice's
  notification date with its inputs (form, paragraph, proof, who served, how) - not a fiction.
* **No proof** (:func:`expire_overdue`): no Empfangsbekenntnis within the period -> the fallback form (PZU by post),
  or, where ``on_no_acknowledgement = "fiction"``, the date of § 5 Abs. 7 Satz 2 VwZG (configurable: unverified).
"""
from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from erechnung.errors import ErechnungError
from erechnung.state.deliveries import aware
from erechnung.state.deliveries.legal_dates import store_notification_date
from erechnung.state.delivery_schema import Delivery, DeliveryEvent, NotificationDate
from erechnung.state.schema import Document
from mailbox_connectors.base import ServiceOrder

from .audit import append_event
from .notification import compute_notification_date
from .routing import PRINT, Hop, Route, Skipped
from .service_rules import PROOF_NAMES, WAYS, ServiceForm, ServiceRules

#: The event source of a proof a clerk entered.
CLERK = "clerk"


class ServiceRefused(ErechnungError):
    """A proof of service cannot be recorded: what, for which document, why, and what to do (German)."""


# ============================================================================================== which form


@dataclass(frozen=True)
class NoticeFacts:
    """What a notice's PDF says about itself (document information: ``notices.render.notice_info``)."""

    title: str  # the kind's title ("Hundesteuerbescheid")
    reference: str  # the Aktenzeichen
    authority: str
    kind: str = ""  # the kind's id ("hundesteuerbescheid"; notices rendered before it was written: "")


def notice_facts(pdf: bytes) -> NoticeFacts:
    """The kind's title, the Aktenzeichen, the authority and the kind's id from the notice PDF's keywords
    ("Bescheid, <Titel>, Aktenzeichen <Az>, ..., Art <kind>") and author; empty where the PDF does not say."""
    from erechnung.notices.render import KIND_KEYWORD

    import pikepdf

    try:
        with pikepdf.open(io.BytesIO(pdf)) as doc:
            info = doc.docinfo
            keywords = str(info.get("/Keywords", ""))
            author = str(info.get("/Author", ""))
    except pikepdf.PdfError:
        return NoticeFacts("", "", "")
    parts = [p.strip() for p in keywords.split(",")]
    title = parts[1] if len(parts) > 1 and parts[0] == "Bescheid" else ""
    reference = next((p.removeprefix("Aktenzeichen ").strip() for p in parts if p.startswith("Aktenzeichen ")), "")
    kind = next((p.removeprefix(KIND_KEYWORD).strip() for p in parts[2:] if p.startswith(KIND_KEYWORD)), "")
    return NoticeFacts(title, reference, author, kind)


def kind_services(notice_config: Any) -> dict[str, str]:
    """The form of service per notice title (``notices.toml``: ``[kinds.<kind>] service``)."""
    return {texts.title: texts.service for texts in notice_config.kinds.values() if getattr(texts, "service", None)}


def kind_id_services(notice_config: Any) -> dict[str, str]:
    """The form of service per notice kind id (``gebuehrenbescheid``): what a notice's PDF names since it carries
    its kind's id, so that a reworded title never turns a served notice into an ordinary letter."""
    return {getattr(kind, "value", str(kind)): texts.service for kind, texts in notice_config.kinds.items()
            if getattr(texts, "service", None)}


def archive_service_of(archive: Any, notice_config: Any, rules: ServiceRules) -> Callable[[Session, Document],
                                                                                           str | None]:
    """The planner's question "is this document served, and how?" answered from the notice's kind: its PDF in
    the archive names the kind (title), ``notices.toml`` the kind's form of service."""
    by_title = kind_services(notice_config) if notice_config is not None else {}
    by_kind = kind_id_services(notice_config) if notice_config is not None else {}
    for form in by_title.values():
        rules.form(form)  # a misspelt form is an error now, not a letter sent the ordinary way
    if not by_title:
        return lambda session, doc: None

    def service_of(session: Session, doc: Document) -> str | None:
        if doc.kind != "notice" or not doc.sha256:
            return None
        facts = notice_facts(archive.get(doc.sha256))
        return by_kind.get(facts.kind) if facts.kind else by_title.get(facts.title)

    return service_of


def served_route(planned: Route, form_name: str, rules: ServiceRules) -> Route:
    """``planned`` cut to the hops that can carry ``form_name`` and then its fallback forms, each hop naming its
    form and no legal basis (the proof gives the date); the others are left out with the reason."""
    hops: list[Hop] = []
    chain = rules.chain(form_name)
    for form in chain:
        for channel in form.channels:
            hop = next((h for h in planned.hops if h.channel == channel), None)
            if hop is not None:
                hops.append(replace(hop, legal_basis=None, service=form.name))
    used = {h.channel for h in hops}
    skipped = list(planned.skipped) + [
        Skipped(h.channel, f"förmliche Zustellung ({chain[0].title}, {chain[0].paragraph}) nicht über {h.channel}")
        for h in planned.hops if h.channel not in used]
    return Route(tuple(hops), tuple(skipped))


def hop_form(d: Any) -> str | None:
    """The form of service of delivery ``d`` (its hop's), None for an ordinary delivery."""
    route = d["route"] if isinstance(d, Mapping) else d.route
    hop = d["hop"] if isinstance(d, Mapping) else d.hop
    return (route[hop] or {}).get("service") if route and hop < len(route) else None


# ============================================================================================== sending


def service_order(d: Any, content: bytes, rules: ServiceRules, officer: str = "") -> ServiceOrder | None:
    """What the channel must show for delivery ``d`` when it serves the notice (None: an ordinary delivery). The
    addressee is the postal address of the route's letter hop (a postbox hop has only the postbox's id)."""
    name = hop_form(d)
    if name is None:
        return None
    form = rules.form(name)
    facts = notice_facts(content)
    postal = next((h.get("address") for h in d.route if h.get("channel") == PRINT), None) or d.address
    return ServiceOrder(form=form.name, title=form.title, paragraph=form.paragraph, marking=form.marking,
                        proof=form.proof, reference=facts.reference, sender=facts.authority,
                        addressee=tuple(line for line in str(postal).splitlines() if line.strip()), officer=officer)


def acknowledgement_text(order: ServiceOrder, subject: str, filename: str) -> str:
    """The postbox message of an electronic service against acknowledgement: it starts with "Zustellung gegen
    Empfangsbekenntnis" and names the sending authority, the addressee's name and address and the officer
    (§ 5 Abs. 4, 5 VwZG), and asks for the dated, signed Empfangsbekenntnis (§ 5 Abs. 7 Satz 1 VwZG)."""
    lines = [f"{order.marking}", "", f"Absendende Behörde: {order.sender or '-'}",
             f"Empfänger: {', '.join(order.addressee) or '-'}"]
    if order.officer:
        lines.append(f"Zustellende/r Bedienstete/r: {order.officer}")
    if order.reference:
        lines.append(f"Aktenzeichen: {order.reference}")
    lines += ["", f"Ihnen wird hiermit {subject} zugestellt ({order.paragraph}); das Dokument liegt dieser Nachricht "
              f"als Anhang bei ({filename}).",
              "Bitte bestätigen Sie den Empfang mit dem Empfangsbekenntnis: mit dem Datum, an dem Sie das Dokument "
              "erhalten haben, und Ihrer Unterschrift, und senden Sie es an die Behörde zurück. Das Datum des "
              "Empfangsbekenntnisses ist der Tag der Zustellung."]
    return "\n".join(lines)


def _end_of_day(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(timezone.utc)


def on_sent(session: Session, d: Delivery, rules: ServiceRules, time_zone: str, now: datetime) -> None:
    """After the channel took a served notice: the Empfangsbekenntnis is awaited until the end of the
    ``acknowledgement_days``-th day (``deadline_at``); a form with a fiction and no proof yet (Einschreiben, § 4
    Abs. 2 Satz 2 VwZG) gets the fiction's date, which a Rückschein entered later replaces."""
    name = hop_form(d)
    if name is None or d.sent_at is None:
        return
    form = rules.form(name)
    tz = ZoneInfo(time_zone)
    sent_at = aware(d.sent_at)
    if form.electronic:
        days = form.acknowledgement_days or 0
        if form.on_no_acknowledgement == "fiction" and form.fiction:
            result = compute_notification_date(rules.fictions, form.fiction, d.land, notification_sent_at=sent_at)
            d.deadline_at = _end_of_day(result.date, tz) if result is not None else None
        else:
            d.deadline_at = _end_of_day(sent_at.astimezone(tz).date() + timedelta(days=days), tz)
    elif form.fiction:  # Einschreiben (mit Rückschein: the fiction stands until the Rückschein is entered)
        _store_fiction(session, d, form, rules, now)


def _store_fiction(session: Session, d: Delivery, form: ServiceForm, rules: ServiceRules, now: datetime) -> None:
    result = compute_notification_date(rules.fictions, form.fiction, d.land,  # type: ignore[arg-type]
                                       notification_sent_at=aware(d.sent_at))
    if result is not None:
        store_notification_date(session, d, result, now)


# ============================================================================================== proof


@dataclass(frozen=True)
class ServedDate:
    """A date of service proven by a returned proof, with its inputs (stored like a computed notification date:
    ``notification_dates``, ``start_event`` = the proof)."""

    basis: str  # the form ("zustellung_pzu")
    title: str
    paragraph: str
    proof: str
    land: str | None
    served_on: date
    posted_at: datetime | None
    recorded_at: datetime
    how: str
    served_by: str
    entered_by: str
    evidence_sha256: str | None
    rules_sha256: str
    rules_version: str

    # the columns notification_values reads
    start_event = property(lambda self: self.proof)
    provision_at = property(lambda self: None)
    notification_sent_at = property(lambda self: self.posted_at)
    retrieved_at = property(lambda self: None)
    days = property(lambda self: 0)
    earlier_retrieval_wins = property(lambda self: False)
    shift_to_working_day = property(lambda self: False)
    calendar = property(lambda self: "-")
    calendar_version = property(lambda self: "-")
    date = property(lambda self: self.served_on)

    @property
    def explanation(self) -> str:
        how = WAYS.get(self.how, self.how)
        by = f" durch {self.served_by}" if self.served_by else ""
        return (f"zugestellt am {self.served_on.isoformat()} ({self.title}; {PROOF_NAMES.get(self.proof, self.proof)}: "
                f"{how}{by}; {self.paragraph}) - Datum aus dem Nachweis, keine Fiktion")

    def inputs(self) -> dict[str, Any]:
        return {"legal_basis": self.basis, "form": self.basis, "title": self.title, "paragraph": self.paragraph,
                "proof": self.proof, "land": self.land, "date_of_service": self.served_on.isoformat(),
                "posted_at": None if self.posted_at is None else self.posted_at.isoformat(),
                "recorded_at": self.recorded_at.isoformat(), "how": self.how, "served_by": self.served_by,
                "entered_by": self.entered_by, "evidence_sha256": self.evidence_sha256, "fiction": False,
                "rules_sha256": self.rules_sha256, "rules_version": self.rules_version, "date": self.served_on.isoformat()}


def _served(session: Session, d: Delivery, form: ServiceForm, rules: ServiceRules, served_on: date, *, how: str,
            served_by: str, entered_by: str, evidence_sha256: str | None, now: datetime) -> ServedDate:
    result = ServedDate(basis=form.name, title=form.title, paragraph=form.proof_paragraph or form.paragraph,
                        proof=form.proof, land=d.land, served_on=served_on, posted_at=aware(d.sent_at),
                        recorded_at=now, how=how, served_by=served_by, entered_by=entered_by,
                        evidence_sha256=evidence_sha256, rules_sha256=rules.fictions.sha256,
                        rules_version=rules.version)
    store_notification_date(session, d, result, now)
    d.finished_at, d.updated_at = now, now
    return result


def acknowledged(session: Session, d: Delivery, at: datetime, rules: ServiceRules, time_zone: str, now: datetime,
                 *, signed_by: str = "", evidence_sha256: str | None = None) -> ServedDate | None:
    """The returned Empfangsbekenntnis of ``d`` (already appended as its event): its date is the date of service
    (§ 5 Abs. 7 Satz 1 VwZG), stored as the notice's notification date. None when ``d`` serves no such form."""
    name = hop_form(d)
    if name is None or not rules.form(name).electronic:
        return None
    d.deadline_at = None
    return _served(session, d, rules.form(name), rules, at.astimezone(ZoneInfo(time_zone)).date(),
                   how="elektronisch", served_by=signed_by, entered_by="", evidence_sha256=evidence_sha256, now=now)


def _served_delivery(session: Session, document_id: int) -> Delivery:
    doc = session.get(Document, document_id)
    if doc is None:
        raise ServiceRefused(f"Dokument {document_id} gibt es nicht - prüfen Sie die Nummer (erechnung status)")
    rows = list(session.execute(select(Delivery).where(Delivery.document_id == document_id)
                                .order_by(Delivery.sequence.desc()).with_for_update()).scalars())
    served = [d for d in rows if hop_form(d) is not None]
    if not served:
        raise ServiceRefused(f"Dokument {document_id} ({doc.number or '-'}) wird nicht förmlich zugestellt: für "
                             "seine Bescheidart ist in notices.toml keine Zustellungsform (service) angegeben - "
                             "einen Nachweis gibt es nur für förmlich zugestellte Bescheide")
    return served[0]


def record_proof(session: Session, document_id: int, *, proof: str, served_on: date, how: str, entered_by: str,
                 rules: ServiceRules, time_zone: str, now: datetime, served_by: str = "", note: str = "",
                 scan: bytes | None = None, scan_type: str = "application/pdf",
                 scan_name: str = "") -> ServedDate:
    """A clerk enters the returned Postzustellungsurkunde or Rückschein of ``document_id``: its date is the date
    of service (the notice's notification date, stored with its inputs), the entry (with the scan, if given, as
    evidence) an event of the audit trail. Refused (:class:`ServiceRefused`, German) for a document not served
    this way, not yet posted, with a date before posting or in the future, a way the form does not know, or a
    proof entered before."""
    d = _served_delivery(session, document_id)
    form = rules.form(hop_form(d))  # type: ignore[arg-type]
    if proof not in PROOF_NAMES or proof == "empfangsbekenntnis":
        raise ServiceRefused(f"--form {proof!r} ist kein Nachweis, den die Geschäftsstelle einträgt: pzu "
                             "(Postzustellungsurkunde) oder rueckschein (Rückschein); das Empfangsbekenntnis kommt "
                             "über das Postfach zurück")
    if form.proof != proof:
        expected = f"einen {PROOF_NAMES[form.proof]} (--form {form.proof})" if form.proof in PROOF_NAMES else \
            "keinen Nachweis (die Zustellung gilt am Tag der Fiktion als bewirkt)"
        raise ServiceRefused(f"Dokument {document_id} wird durch {form.title} ({form.paragraph}) zugestellt "
                             f"(Zustellung {d.idempotency_key}): dafür gibt es {expected}, keinen "
                             f"{PROOF_NAMES[proof]}")
    if d.sent_at is None or d.state in ("queued", "sending", "failed", "fell_back", "expired"):
        raise ServiceRefused(f"Dokument {document_id}: der Brief ({d.idempotency_key}) ist noch nicht zur Post "
                             f"gegeben (Zustand {d.state}) - tragen Sie den Nachweis ein, wenn er zurück ist")
    tz = ZoneInfo(time_zone)
    posted = aware(d.sent_at).astimezone(tz).date()
    if served_on < posted:
        raise ServiceRefused(f"Dokument {document_id}: das Zustelldatum {served_on:%d.%m.%Y} liegt vor dem Tag der "
                             f"Aufgabe zur Post ({posted:%d.%m.%Y}) - prüfen Sie das Datum auf der "
                             f"{PROOF_NAMES[proof]}")
    today = now.astimezone(tz).date()
    if served_on > today:
        raise ServiceRefused(f"Dokument {document_id}: das Zustelldatum {served_on:%d.%m.%Y} liegt in der Zukunft "
                             f"(heute ist der {today:%d.%m.%Y}) - prüfen Sie das Datum")
    if how not in form.ways:
        raise ServiceRefused(f"Dokument {document_id}: die Art der Zustellung {how!r} gibt es bei {form.title} "
                             f"nicht - eine von {', '.join(form.ways)}")
    before = session.execute(select(DeliveryEvent.id).where(
        DeliveryEvent.delivery_id == d.id, DeliveryEvent.source == CLERK)).first()
    if before is not None:
        raise ServiceRefused(f"Dokument {document_id}: der Nachweis der Zustellung ist schon eingetragen "
                             "(erechnung status --document) - ein Eintrag im Prüfprotokoll wird nicht geändert")
    entry = {"proof": proof, "date_of_service": served_on.isoformat(), "how": how, "served_by": served_by,
             "entered_by": entered_by, "note": note, "scan": scan_name or None}
    evidence = scan if scan else json.dumps(entry, ensure_ascii=False, sort_keys=True).encode("utf-8")
    digest = hashlib.sha256(evidence).hexdigest()
    from_state = d.state
    append_event(session, d, from_state=from_state, to_state="deemed_notified", at=now, source=CLERK,
                 reason=(f"{PROOF_NAMES[proof]} eingetragen von {entered_by}: zugestellt am {served_on:%d.%m.%Y} "
                         f"({WAYS.get(how, how)}{f' durch {served_by}' if served_by else ''}; "
                         f"{form.proof_paragraph or form.paragraph})" + (f" - {note}" if note else "")),
                 detail=dict(entry, form=form.name, paragraph=form.proof_paragraph or form.paragraph,
                             date=served_on.isoformat()),
                 evidence=evidence, evidence_type=scan_type if scan else "application/json")
    d.state = "deemed_notified"
    return _served(session, d, form, rules, served_on, how=how, served_by=served_by, entered_by=entered_by,
                   evidence_sha256=digest, now=now)


# ============================================================================================== no proof


def overdue(session: Session, now: datetime) -> list[int]:
    """Served deliveries still waiting for their Empfangsbekenntnis after its period, by id."""
    rows = session.execute(select(Delivery).where(
        Delivery.state.in_(("sent", "delivered", "retrieved")), Delivery.legal_basis.is_(None),
        Delivery.kind == "notice", Delivery.deadline_at.is_not(None), Delivery.deadline_at <= now)
        .order_by(Delivery.id)).scalars()
    return [d.id for d in rows if hop_form(d) is not None]


def no_acknowledgement(session: Session, d: Delivery, rules: ServiceRules, now: datetime) -> str:
    """``d``'s Empfangsbekenntnis did not come back in time: with ``on_no_acknowledgement = "fiction"`` the
    fiction's date is stored and the delivery counts as served (returns "fiction"); else it expires and the
    caller falls back to the next form (returns the reason)."""
    form = rules.form(hop_form(d))  # type: ignore[arg-type]
    deadline = aware(d.deadline_at)
    if form.on_no_acknowledgement == "fiction" and form.fiction:
        result = compute_notification_date(rules.fictions, form.fiction, d.land, notification_sent_at=aware(d.sent_at))
        assert result is not None
        store_notification_date(session, d, result, now)
        append_event(session, d, from_state=d.state, to_state="deemed_notified", at=now, source="computed",
                     reason=f"kein Empfangsbekenntnis bis {deadline:%d.%m.%Y}: {result.explanation}",
                     detail={"form": form.name, "date": result.date.isoformat(), "inputs": result.inputs()})
        d.state, d.finished_at, d.updated_at, d.deadline_at = "deemed_notified", now, now, None
        return "fiction"
    reason = (f"kein Empfangsbekenntnis bis {deadline.astimezone(ZoneInfo('Europe/Berlin')):%d.%m.%Y} "
              f"({form.acknowledgement_days} Tage, {form.title}); weiter mit "
              f"{rules.form(form.fallback).title if form.fallback else 'keiner weiteren Form'}")
    append_event(session, d, from_state=d.state, to_state="expired", at=now, source="computed", reason=reason,
                 detail={"form": form.name, "deadline_at": deadline.isoformat(), "fallback": form.fallback})
    d.state, d.updated_at = "expired", now
    return reason


# ============================================================================================== status


def service_lines(session: Session, document_id: int, rules: ServiceRules | None = None) -> list[str]:
    """For ``erechnung status --document``: the form of service of the document's deliveries, the proof and the
    date of service with its paragraph (empty for a document that is not served)."""
    rows = list(session.execute(select(Delivery).where(Delivery.document_id == document_id)
                                .order_by(Delivery.sequence)).scalars())
    served = [d for d in rows if hop_form(d) is not None]
    if not served:
        return []
    rules = rules or ServiceRules.load()
    lines = ["Förmliche Zustellung:"]
    for d in served:
        form = rules.forms.get(hop_form(d))  # type: ignore[arg-type]
        title = f"{form.title} ({form.paragraph})" if form else hop_form(d)
        lines.append(f"  Zustellung {d.idempotency_key} über {d.channel}: {title}; Zustand {d.state}")
        nd = session.execute(select(NotificationDate).where(NotificationDate.delivery_id == d.id)).scalar_one_or_none()
        if nd is None:
            if form is not None and form.electronic and d.deadline_at is not None:
                lines.append(f"    Empfangsbekenntnis erwartet bis {aware(d.deadline_at):%d.%m.%Y %H:%M} UTC")
            elif d.sent_at is None:
                lines.append("    noch nicht versandt")
            else:
                lines.append(f"    Nachweis ({PROOF_NAMES.get(form.proof, '-') if form else '-'}) steht aus; zur "
                             f"Post gegeben am {aware(d.sent_at):%d.%m.%Y}")
            continue
        inputs = nd.inputs or {}
        if inputs.get("fiction") is False:
            proof = PROOF_NAMES.get(inputs.get("proof", ""), inputs.get("proof", ""))
            by = f" durch {inputs['served_by']}" if inputs.get("served_by") else ""
            lines.append(f"    Nachweis: {proof} ({WAYS.get(inputs.get('how', ''), inputs.get('how', ''))}{by}"
                         + (f", eingetragen von {inputs['entered_by']}" if inputs.get("entered_by") else "")
                         + (f", sha256:{inputs['evidence_sha256'][:16]}" if inputs.get("evidence_sha256") else "")
                         + ")")
            lines.append(f"    Tag der Zustellung: {nd.computed_date:%d.%m.%Y} ({inputs.get('paragraph')})")
        else:
            lines.append(f"    ohne Nachweis: gilt als zugestellt am {nd.computed_date:%d.%m.%Y} "
                         f"({inputs.get('title', nd.legal_basis)})")
    return lines
