"""User stories of the förmliche Zustellung (issue 17): a notice kind configured to be served goes out as the
form of service prescribes, the returned proof (Empfangsbekenntnis, Postzustellungsurkunde, Rückschein) is
recorded in the hash-chained audit trail, and its date - not a fiction - is the notice's date of service.

Real parts: SQLite and PostgreSQL (``engine``), the print channel writing real batches, the ZBP sandbox over
loopback mTLS, the archive on a local folder. Times are taken from what the channels report (their receipts
carry the wall clock), never compared with fixed dates."""
from __future__ import annotations

import hashlib
import io
import subprocess
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from erechnung.archive import Archive
from erechnung.delivery.audit import verify_chain, verify_trail
from erechnung.delivery.content import archive_content
from erechnung.delivery.plan import plan_deliveries
from erechnung.delivery.send import deliver_due
from erechnung.delivery.service import ServiceRefused, archive_service_of, record_proof, service_lines
from erechnung.delivery.service_rules import ServiceRules
from erechnung.delivery.track import track
from erechnung.documents.pdfa import DocumentInfo, render
from erechnung.notices.config import parse_config
from erechnung.state import session_factory, transaction
from erechnung.state.delivery_schema import Delivery, DeliveryEvent, NotificationDate
from erechnung.state.schema import Document
from erechnung.storage.local import LocalStorage
from mailbox_connectors.bundid import BundIdSettings, ZbpDirectConnector, ZbpSettings
from mailbox_connectors.print import PrintConnector, PrintSettings
from mailbox_connectors.sandboxes.zbp import ZbpSandbox

from .world import add_documents, config, recipient

BERLIN = ZoneInfo("Europe/Berlin")
NOTICES = Path(__file__).resolve().parents[2] / "examples" / "design" / "notices.toml"
CONFIRMATIONS = "empfangsbekenntnis@musterstadt.example"
REFERENCE = "32.1-2026/0017"


def notices_with(service: str, kind: str = "gebuehrenbescheid"):
    """The sample city's notices.toml with ``service`` set for ``kind`` (what a municipality writes)."""
    lines = [line for line in NOTICES.read_text(encoding="utf-8").splitlines() if not line.startswith("service =")]
    text = "\n".join(lines).replace(f"[kinds.{kind}]\n", f'[kinds.{kind}]\nservice = "{service}"\n', 1)
    return parse_config(text, "notices.toml")


def notice_pdf(title: str = "Gebührenbescheid", kind: str | None = None) -> bytes:
    """A notice PDF whose document information names its kind and Aktenzeichen as ``notices.render`` writes it
    (``kind``: the kind's id as notices rendered now carry it; None: as notices rendered before)."""
    def draw(canvas):
        canvas.drawString(72, 700, f"Bescheid über Gebühren ({title})")
        canvas.showPage()
    return render(draw, DocumentInfo(title="Bescheid über Gebühren", author="Stadt Musterstadt",
                                     subject=f"{title} vom 02.11.2026 an Anna Muster",
                                     keywords=f"Bescheid, {title}, Aktenzeichen {REFERENCE}"
                                              + (f", Art {kind}" if kind else "")))


class World:
    """Notices in the state database with their PDFs in a real archive; the print channel; the planner asking
    the archive and notices.toml which notices are served."""

    def __init__(self, engine, tmp_path: Path, service: str, who=None, **cfg) -> None:
        self.engine, self.sf = engine, session_factory(engine)
        self.archive = Archive(LocalStorage(tmp_path / "archive"))
        self.printer = PrintConnector(PrintSettings(outbox=tmp_path / "print"))
        self.connectors: dict = {"print": self.printer}
        self.config = config(**cfg)
        self.notices = notices_with(service)
        self.who = who or recipient()

    def notices_to_serve(self, n: int = 1, *, title: str = "Gebührenbescheid", kind: str | None = None) -> list[int]:
        ids = add_documents(self.engine, n, kind="notice", who=self.who, prefix="GB-2026-")
        data = notice_pdf(title, kind)
        self.archive.put(data, kind="document", department="kasse", media_type="application/pdf",
                         document_kind="notice")
        with transaction(self.engine) as s:
            for doc_id in ids:
                s.get(Document, doc_id).sha256 = hashlib.sha256(data).hexdigest()
        return ids

    def deliver(self, now: datetime) -> None:
        plan_deliveries(self.sf, self.config, now=now, connectors=self.connectors,
                        service_of=archive_service_of(self.archive, self.notices, self.config.services))
        deliver_due(self.sf, self.connectors, now, config=self.config, content=archive_content(self.archive))

    def deliveries(self, document_id: int) -> list[Delivery]:
        with transaction(self.engine) as s:
            return list(s.execute(select(Delivery).where(Delivery.document_id == document_id)
                                  .order_by(Delivery.sequence)).scalars())

    def date_of(self, delivery_id: int) -> NotificationDate | None:
        with transaction(self.engine) as s:
            return s.execute(select(NotificationDate).where(NotificationDate.delivery_id == delivery_id)
                             ).scalar_one_or_none()

    def record(self, document_id: int, **kw):
        kw.setdefault("how", "persoenlich")
        kw.setdefault("entered_by", "Geschäftsstelle Kämmerei")
        with transaction(self.engine) as s:
            return record_proof(s, document_id, rules=self.config.services, time_zone="Europe/Berlin", **kw)

    def audit_holds(self) -> None:
        with transaction(self.engine) as s:
            assert verify_chain(s).ok
            report = verify_trail(s, rules=self.config.rules)
            assert report.ok, report.findings


def posted(d: Delivery) -> tuple[datetime, date]:
    at = d.sent_at if d.sent_at.tzinfo else d.sent_at.replace(tzinfo=timezone.utc)
    return at, at.astimezone(BERLIN).date()


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


# ================================================================================================== PZU


def test_a_notice_kind_served_by_pzu_goes_to_the_print_shop_with_envelope_marking_and_pzu_form(engine, tmp_path):
    w = World(engine, tmp_path, "zustellung_pzu",
              who=recipient(bundid_postbox="6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
                            consents=frozenset({"notice_retrieval"})))
    (doc,) = w.notices_to_serve()
    w.deliver(datetime.now(timezone.utc))
    (d,) = w.deliveries(doc)
    assert d.channel == "print" and d.state == "sent" and d.route[d.hop]["service"] == "zustellung_pzu"
    assert d.legal_basis is None and w.date_of(d.id) is None  # no § 41 fiction: the PZU gives the date
    batch = w.printer.close_batch()
    text = pdf_text(batch.pdf)
    assert "Zustellumschlag" in text and "Vermerk: Bitte mit Zustellungsurkunde zustellen" in text
    assert "Zustellungsauftrag / Zustellungsurkunde" in text and "§ 3 VwZG" in text
    assert REFERENCE in text and "Anna Muster" in text and "Stadt Musterstadt" in text
    assert "niedergelegt (§ 181 ZPO)" in text and "Ersatzzustellung (§ 178 ZPO)" in text
    with pikepdf_open(batch.pdf) as pdf:
        assert len(pdf.pages) == 4  # envelope, PZU form, cover sheet, the notice's page
    manifest = batch.manifest.read_text(encoding="utf-8")
    assert "zustellung_pzu: Vermerk: Bitte mit Zustellungsurkunde zustellen" in manifest


def test_a_served_kind_stays_served_when_the_municipality_rewords_its_title(engine, tmp_path):
    """The notice carries its kind's id (``Art gebuehrenbescheid``): a title reworded in notices.toml after the
    notice was rendered never turns a served notice into an ordinary letter."""
    w = World(engine, tmp_path, "zustellung_pzu")
    (doc,) = w.notices_to_serve(title="Gebührenbescheid (alte Bezeichnung)", kind="gebuehrenbescheid")
    w.deliver(datetime.now(timezone.utc))
    (d,) = w.deliveries(doc)
    assert d.channel == "print" and d.route[d.hop]["service"] == "zustellung_pzu"


def test_an_ordinary_notice_kind_is_not_served_and_gets_no_service_pages(engine, tmp_path):
    w = World(engine, tmp_path, "zustellung_pzu")
    (doc,) = w.notices_to_serve(title="Hundesteuerbescheid")
    w.deliver(datetime.now(timezone.utc))
    (d,) = w.deliveries(doc)
    assert d.route[d.hop].get("service") is None and d.legal_basis == "vwvfg_41_2"
    assert "Zustellumschlag" not in pdf_text(w.printer.close_batch().pdf)


def test_pzu_entered_makes_its_date_the_notification_date_with_its_paragraph(engine, tmp_path):
    w = World(engine, tmp_path, "zustellung_pzu")
    (doc,) = w.notices_to_serve()
    w.deliver(datetime.now(timezone.utc))
    (d,) = w.deliveries(doc)
    sent_at, posting_day = posted(d)
    served = posting_day + timedelta(days=2)
    scan = notice_pdf("Zustellungsurkunde")
    result = w.record(doc, proof="pzu", served_on=served, how="ersatzzustellung", served_by="Zusteller Meier",
                      scan=scan, now=sent_at + timedelta(days=3))
    assert result.served_on == served
    nd = w.date_of(d.id)
    assert nd.computed_date == served and nd.legal_basis == "zustellung_pzu" and nd.start_event == "pzu"
    assert nd.inputs["paragraph"] == "§ 3 Abs. 2 VwZG i. V. m. § 182 ZPO" and nd.inputs["fiction"] is False
    assert nd.inputs["how"] == "ersatzzustellung" and nd.inputs["served_by"] == "Zusteller Meier"
    assert nd.inputs["evidence_sha256"] == hashlib.sha256(scan).hexdigest()
    (after,) = w.deliveries(doc)
    assert after.state == "deemed_notified"
    with transaction(engine) as s:
        event = s.execute(select(DeliveryEvent).where(DeliveryEvent.delivery_id == d.id)
                          .order_by(DeliveryEvent.seq.desc()).limit(1)).scalar_one()
        assert event.source == "clerk" and event.evidence == scan and event.evidence_type == "application/pdf"
        assert "Postzustellungsurkunde" in event.reason and served.strftime("%d.%m.%Y") in event.reason
        lines = "\n".join(service_lines(s, doc))
    assert "Zustellung durch die Post mit Zustellungsurkunde (§ 3 VwZG)" in lines
    assert f"Tag der Zustellung: {served:%d.%m.%Y} (§ 3 Abs. 2 VwZG i. V. m. § 182 ZPO)" in lines
    assert "Ersatzzustellung durch Zusteller Meier" in lines
    w.audit_holds()


def test_a_date_before_posting_or_in_the_future_or_a_second_entry_is_refused(engine, tmp_path):
    w = World(engine, tmp_path, "zustellung_pzu")
    (doc,) = w.notices_to_serve()
    w.deliver(datetime.now(timezone.utc))
    (d,) = w.deliveries(doc)
    sent_at, posting_day = posted(d)
    now = sent_at + timedelta(days=3)
    with pytest.raises(ServiceRefused, match="vor dem Tag der Aufgabe zur Post"):
        w.record(doc, proof="pzu", served_on=posting_day - timedelta(days=1), now=now)
    with pytest.raises(ServiceRefused, match="in der Zukunft"):
        w.record(doc, proof="pzu", served_on=now.astimezone(BERLIN).date() + timedelta(days=1), now=now)
    with pytest.raises(ServiceRefused, match="Rückschein"):
        w.record(doc, proof="rueckschein", served_on=posting_day, now=now)
    with pytest.raises(ServiceRefused, match="Art der Zustellung"):
        w.record(doc, proof="pzu", served_on=posting_day, how="per Brieftaube", now=now)
    assert w.date_of(d.id) is None and w.deliveries(doc)[0].state == "sent"
    w.record(doc, proof="pzu", served_on=posting_day, now=now)
    with pytest.raises(ServiceRefused, match="schon eingetragen"):
        w.record(doc, proof="pzu", served_on=posting_day + timedelta(days=1), now=now)
    assert w.date_of(d.id).computed_date == posting_day
    w.audit_holds()


def test_a_proof_for_a_document_that_is_not_served_is_refused(engine, tmp_path):
    w = World(engine, tmp_path, "zustellung_pzu")
    (doc,) = w.notices_to_serve(title="Hundesteuerbescheid")
    w.deliver(datetime.now(timezone.utc))
    (d,) = w.deliveries(doc)
    _, posting_day = posted(d)
    with pytest.raises(ServiceRefused, match="wird nicht förmlich zugestellt"):
        w.record(doc, proof="pzu", served_on=posting_day, now=datetime.now(timezone.utc) + timedelta(days=1))
    with pytest.raises(ServiceRefused, match="gibt es nicht"):
        w.record(doc + 999, proof="pzu", served_on=posting_day, now=datetime.now(timezone.utc))


def test_a_proof_before_the_letter_went_to_the_post_is_refused(engine, tmp_path):
    w = World(engine, tmp_path, "zustellung_pzu")
    (doc,) = w.notices_to_serve()
    now = datetime.now(timezone.utc)
    plan_deliveries(w.sf, w.config, now=now, connectors=w.connectors,
                    service_of=archive_service_of(w.archive, w.notices, w.config.services))
    with pytest.raises(ServiceRefused, match="noch nicht zur Post gegeben"):
        w.record(doc, proof="pzu", served_on=now.astimezone(BERLIN).date(), now=now)


# ============================================================================================ Rückschein


def test_registered_mail_counts_as_served_on_the_fourth_day_until_the_rueckschein_gives_its_date(engine, tmp_path):
    w = World(engine, tmp_path, "einschreiben_rueckschein")
    (doc,) = w.notices_to_serve()
    w.deliver(datetime.now(timezone.utc))
    (d,) = w.deliveries(doc)
    sent_at, posting_day = posted(d)
    fiction = w.date_of(d.id)
    assert fiction.legal_basis == "vwzg_4_2" and fiction.computed_date == posting_day + timedelta(days=4)
    assert "Einschreiben mit Rückschein" in pdf_text(w.printer.close_batch().pdf)
    # the fiction day passes: deemed served (§ 4 Abs. 2 Satz 2 VwZG) ...
    track(w.sf, w.connectors, sent_at + timedelta(days=5), config=w.config)
    assert w.deliveries(doc)[0].state == "deemed_notified"
    # ... then the Rückschein comes back: its date is the date of service (§ 4 Abs. 2 Satz 1 VwZG)
    w.record(doc, proof="rueckschein", served_on=posting_day + timedelta(days=2), how="ersatzempfaenger",
             now=sent_at + timedelta(days=6))
    nd = w.date_of(d.id)
    assert nd.computed_date == posting_day + timedelta(days=2) and nd.inputs["paragraph"] == "§ 4 Abs. 2 Satz 1 VwZG"
    w.audit_holds()


def test_registered_mail_without_rueckschein_takes_no_proof(engine, tmp_path):
    w = World(engine, tmp_path, "einschreiben")
    (doc,) = w.notices_to_serve()
    w.deliver(datetime.now(timezone.utc))
    (d,) = w.deliveries(doc)
    sent_at, posting_day = posted(d)
    assert w.date_of(d.id).computed_date == posting_day + timedelta(days=4)
    with pytest.raises(ServiceRefused, match="keinen Nachweis"):
        w.record(doc, proof="rueckschein", served_on=posting_day + timedelta(days=1), now=sent_at + timedelta(days=2))


# ============================================================================== Empfangsbekenntnis (ZBP)


@pytest.fixture(scope="module")
def zbp():
    sandbox = ZbpSandbox()
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def postbox(zbp, tmp_path):
    (tmp_path / "bpki").mkdir()
    cert, key = zbp.issue_client("Stadt Musterstadt Kämmerei").write(tmp_path / "bpki", "kaemmerei")
    settings = BundIdSettings(sender="Stadt Musterstadt, Kämmerei", retrieval_confirmation_address=CONFIRMATIONS,
                              confirmations_maildir=zbp.confirmation_maildir)
    connector = ZbpDirectConnector(ZbpSettings(base_url=zbp.base_url, client_cert=cert, client_key=key,
                                               tls_ca=zbp.ca.root_path, timeout=5), settings)
    yield connector
    connector.close()


def eb_world(engine, tmp_path, zbp, postbox, **cfg) -> World:
    who = recipient(bundid_postbox=zbp.add_mailbox(), consents=frozenset({"notice_retrieval"}))
    # the sandbox's confirmation inbox is shared by the module's tests: each world its own keys (as every
    # installation has its own key_prefix), so that an earlier test's Empfangsbekenntnis is not about this one
    prefix = "t" + hashlib.sha256(str(tmp_path).encode()).hexdigest()[:10]
    w = World(engine, tmp_path, "zustellung_eb", who=who, service_officer="Frau Beispiel", key_prefix=prefix, **cfg)
    w.connectors["bundid"] = postbox
    return w


def message_of(zbp, d: Delivery):
    return zbp.messages[d.channel_message_id]


def test_eb_message_is_marked_and_the_returned_eb_date_is_the_date_of_service(engine, tmp_path, zbp, postbox):
    w = eb_world(engine, tmp_path, zbp, postbox)
    (doc,) = w.notices_to_serve()
    w.deliver(datetime.now(timezone.utc))
    (d,) = w.deliveries(doc)
    assert d.channel == "bundid" and d.state == "sent" and [h["service"] for h in d.route] == [
        "zustellung_eb", "zustellung_pzu"]
    message = message_of(zbp, d).message
    assert message["title"].startswith("Zustellung gegen Empfangsbekenntnis: ")
    assert message["content"].startswith("Zustellung gegen Empfangsbekenntnis")
    for part in ("Absendende Behörde: Stadt Musterstadt", "Anna Muster, Hauptstr. 1, 12345 Musterstadt",
                 "Frau Beispiel", REFERENCE):
        assert part in message["content"]
    sent_at, _ = posted(d)
    acknowledged_at = (sent_at + timedelta(days=2)).astimezone(BERLIN)
    assert zbp.acknowledge(d.channel_message_id, acknowledged_at, "Anna Muster")
    track(w.sf, w.connectors, sent_at + timedelta(days=3), config=w.config)
    (after,) = w.deliveries(doc)
    assert after.state == "deemed_notified"
    nd = w.date_of(d.id)
    assert nd.computed_date == acknowledged_at.date() and nd.start_event == "empfangsbekenntnis"
    assert nd.inputs["paragraph"] == "§ 5 Abs. 7 Satz 1 VwZG" and nd.inputs["fiction"] is False
    with transaction(engine) as s:
        (event,) = s.execute(select(DeliveryEvent).where(DeliveryEvent.delivery_id == d.id,
                                                         DeliveryEvent.to_state == "deemed_notified")).scalars()
        assert event.evidence_type == "message/rfc822" and b"empfangsbekenntnis.pdf" in event.evidence
        assert "unterschrieben von Anna Muster" in event.reason
        assert nd.inputs["evidence_sha256"] == event.evidence_sha256
    w.audit_holds()


def test_the_sandbox_refuses_an_eb_for_a_message_not_served_against_acknowledgement(zbp, postbox):
    from mailbox_connectors.base import Delivery as ChannelDelivery

    receipt = postbox.send(ChannelDelivery("plain-1", "notice", "pdfa", notice_pdf(), "bescheid.pdf",
                                           "application/pdf", zbp.add_mailbox(), "Gebührenbescheid"))
    with pytest.raises(ValueError, match="not marked"):
        zbp.acknowledge(receipt.channel_message_id, datetime.now(timezone.utc), "Anna Muster")


def test_no_eb_within_the_period_falls_back_to_service_by_post_with_pzu(engine, tmp_path, zbp, postbox):
    w = eb_world(engine, tmp_path, zbp, postbox)
    (doc,) = w.notices_to_serve()
    w.deliver(datetime.now(timezone.utc))
    (d,) = w.deliveries(doc)
    sent_at, _ = posted(d)
    track(w.sf, w.connectors, sent_at + timedelta(days=10), config=w.config)
    assert w.deliveries(doc)[0].state == "delivered"  # in the postbox, still within the 14 days
    later = sent_at + timedelta(days=16)
    track(w.sf, w.connectors, later, config=w.config)
    first, second = w.deliveries(doc)
    assert first.state == "fell_back" and w.date_of(first.id) is None
    assert second.channel == "print" and second.route[second.hop]["service"] == "zustellung_pzu"
    deliver_due(w.sf, w.connectors, later, config=w.config, content=archive_content(w.archive))
    text = pdf_text(w.printer.close_batch().pdf)
    assert "Vermerk: Bitte mit Zustellungsurkunde zustellen" in text
    with transaction(engine) as s:
        reasons = [e.reason for e in s.execute(select(DeliveryEvent).where(DeliveryEvent.delivery_id == first.id)
                                               .order_by(DeliveryEvent.seq)).scalars()]
    assert any("kein Empfangsbekenntnis" in r for r in reasons)
    w.audit_holds()


def test_no_eb_with_the_configured_fiction_counts_as_served_on_the_third_day(engine, tmp_path, zbp, postbox):
    text = Path(ServiceRules.load().path).read_text(encoding="utf-8").replace(
        'on_no_acknowledgement = "fall_back"', 'on_no_acknowledgement = "fiction"')
    w = eb_world(engine, tmp_path, zbp, postbox, services=ServiceRules.from_text(text, "service.toml"))
    (doc,) = w.notices_to_serve()
    w.deliver(datetime.now(timezone.utc))
    (d,) = w.deliveries(doc)
    sent_at, posting_day = posted(d)
    track(w.sf, w.connectors, sent_at + timedelta(days=5), config=w.config)
    (after,) = w.deliveries(doc)
    assert after.state == "deemed_notified"
    nd = w.date_of(d.id)
    assert nd.legal_basis == "vwzg_5_7" and nd.computed_date == posting_day + timedelta(days=3)
    w.audit_holds()


def pikepdf_open(path: Path):
    import pikepdf

    return pikepdf.open(io.BytesIO(path.read_bytes()))




def test_a_served_kind_must_name_a_form_of_service_toml_knows():
    from erechnung.delivery.service import kind_services
    from erechnung.delivery.service_rules import ServiceRuleError
    from erechnung.notices.config import load_config

    sample = load_config(NOTICES.parent)
    assert kind_services(sample) == {"Gebührenbescheid": "zustellung_pzu"}
    archive_service_of(None, sample, ServiceRules.load())  # the sample city's kinds name known forms
    with pytest.raises(ServiceRuleError, match="zustellung_per_bote"):
        archive_service_of(None, notices_with("zustellung_per_bote"), ServiceRules.load())


def test_the_officer_named_in_the_eb_message_comes_from_the_configuration():
    from erechnung.config.channels import DeliverySection
    from erechnung.delivery.config import delivery_config

    assert delivery_config(DeliverySection(service_officer="Frau Beispiel")).service_officer == "Frau Beispiel"
    assert delivery_config(DeliverySection()).service_officer == ""
