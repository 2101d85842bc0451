"""Email channel against a real SMTP server on loopback (the sandbox: STARTTLS with our test CA, AUTH, DSN).

Rules guarded here: one invoice per mail; a notice never as an attachment (only the notification); 10 MB;
DSN only where offered; SMTP 4xx and timeouts are temporary, 5xx permanent; delivery reports come back as
status events with the raw report as evidence; the password and personal data stay out of logs."""
from __future__ import annotations

import base64
import logging
import time
from datetime import datetime, timedelta, timezone

import pytest

from erechnung.model.documents import DocumentKind
from mailbox_connectors.base import EventState, PermanentFailure, TemporaryFailure
from mailbox_connectors.email import DELIVERY_HEADER, EmailConnector, EmailSettings, delivery_status_events, xtext
from mailbox_connectors.sandboxes.smtp import start

from .conftest import (
    NOTICE_PDF, SMTP_PASSWORD, XRECHNUNG, email_settings, invoice_delivery, notice_delivery, unique_address,
)


def events_for(connector: EmailConnector, delivery_id: str) -> list:
    return [e for e in connector.collect_events() if e.delivery_id == delivery_id]


def wait_for_events(connector: EmailConnector, delivery_id: str, n: int, timeout: float = 15.0) -> list:
    deadline = time.monotonic() + timeout
    while True:
        events = events_for(connector, delivery_id)
        if len(events) >= n or time.monotonic() > deadline:
            return events
        time.sleep(0.05)


# ------------------------------------------------------------------------------------------------- sending


def test_invoice_goes_as_one_mail_with_one_attachment_over_verified_starttls_and_auth(smtp, settings):
    address = unique_address()
    delivery = invoice_delivery(address)
    with EmailConnector(settings) as email:
        receipt = email.send(delivery)

    [message] = smtp.messages(address)
    attachments = list(message.iter_attachments())
    assert len(attachments) == 1
    assert attachments[0].get_filename() == "RE-2026-0001.xml"
    assert attachments[0].get_content_type() == "application/xml"
    assert attachments[0].get_content() == XRECHNUNG
    text = message.get_body(("plain",)).get_content()
    assert "im Anhang erhalten Sie Ihre Rechnung" in text and "XRechnung" in text
    assert message["Subject"] == "Ihre Rechnung RE-2026-0001"
    assert message["Message-ID"] == receipt.channel_message_id
    assert message[DELIVERY_HEADER] == delivery.delivery_id

    evidence = receipt.evidence.decode()
    assert receipt.delivery_id == delivery.delivery_id and receipt.channel == "email"
    assert "C: STARTTLS" in evidence and "verified" in evidence and "S: 235" in evidence
    assert f"document sha256 {delivery.sha256}" in evidence
    assert SMTP_PASSWORD not in evidence and base64.b64encode(SMTP_PASSWORD.encode()).decode() not in evidence
    assert receipt.accepted_at.tzinfo is not None and not receipt.notification_only


def test_zugferd_invoice_is_attached_as_the_pdf_it_is(smtp, settings):
    address = unique_address()
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
    delivery = invoice_delivery(address, content=pdf, format="zugferd", filename="RE-2026-0002.pdf",
                                media_type="application/pdf", kind="credit_note")
    with EmailConnector(settings) as email:
        email.send(delivery)
    [message] = smtp.messages(address)
    [attachment] = message.iter_attachments()
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == pdf
    assert "Gutschrift" in message.get_body(("plain",)).get_content()


def test_one_invoice_per_mail(smtp, settings):
    address = unique_address()
    deliveries = [invoice_delivery(address, filename=f"RE-{i}.xml") for i in range(3)]
    with EmailConnector(settings) as email:
        receipts = [email.send(d) for d in deliveries]
        with pytest.raises(PermanentFailure, match="genau ein Empfänger je E-Mail"):
            email.send(invoice_delivery(f"{unique_address()}, {unique_address()}"))

    messages = smtp.messages(address)
    assert len(messages) == 3
    assert sorted(a.get_filename() for m in messages for a in m.iter_attachments()) == ["RE-0.xml", "RE-1.xml",
                                                                                        "RE-2.xml"]
    assert all(len(list(m.iter_attachments())) == 1 for m in messages)
    for r in receipts:  # one RCPT TO per transaction
        transaction = r.evidence.decode().split("-- transaction")[-1]
        assert transaction.count("C: RCPT TO:") == 1


def test_notice_is_never_sent_as_plain_email(smtp, settings):
    """A Bescheid may not travel as a plain email attachment: the mail only says that it waits in the postbox."""
    address = unique_address()
    with EmailConnector(settings) as email:
        assert email.capabilities.refusal(notice_delivery(address)) is None  # notify-only, not refused
        receipts = [email.send(notice_delivery(address)),
                    email.send(notice_delivery(address, body="Guten Tag, Ihr Bescheid liegt im BundID-Postfach."))]
        raw, _ = email.compose(notice_delivery(address))

    messages = smtp.messages(address)
    assert len(messages) == 2
    for message in messages:
        assert not message.is_multipart()
        assert list(message.iter_attachments()) == []
        text = message.get_content()
        assert "Postfach" in text and "nicht beigefügt" in text
        assert "%PDF" not in message.as_string()
    assert all(r.notification_only for r in receipts)
    assert all("not attached" in r.evidence.decode() for r in receipts)
    # nothing of the notice's bytes in the message, in any encoding
    for chunk in (NOTICE_PDF[:48], base64.b64encode(NOTICE_PDF[:48]), b"Steuernummer"):
        assert chunk not in raw
    assert len(raw) < 2000


def test_size_limit_refuses_before_anything_is_sent(smtp, settings, pki):
    address = unique_address()
    big = b"<x>" + b"a" * 150_000 + b"</x>"
    received = smtp.received
    small = email_settings(smtp, pki, max_bytes=100_000)
    with EmailConnector(small) as email:
        with pytest.raises(PermanentFailure) as refused:
            email.send(invoice_delivery(address, content=big))
    assert "höchstens 100 kB" in refused.value.reason and "anderen Kanal" in refused.value.reason
    assert smtp.received == received and smtp.messages(address) == []

    # 10 MB per mail by default: an 8 MB document is 10.9 MB once base64 encoded
    default = EmailConnector(settings)
    assert default.settings.max_bytes == 10_000_000
    assert 7_000_000 < default.capabilities.max_bytes < 7_400_000
    eight_mb = invoice_delivery(address, content=b"0" * 8_000_000)
    assert default.capabilities.refusal(eight_mb) is not None
    with pytest.raises(PermanentFailure, match=r"10,9\d MB .* höchstens 10 MB je E-Mail"):
        default.send(eight_mb)


def test_connection_is_reused_for_many_mails_and_reopened_when_the_server_closed_it(tmp_path, pki, smtp_password):
    sandbox = start(tmp_path, pki=pki, users={"stadtkasse": SMTP_PASSWORD})
    try:
        email = EmailConnector(email_settings(sandbox, pki))
        address = unique_address()
        receipts = [email.send(invoice_delivery(address)) for _ in range(4)]
        assert "-- transaction 4 of this session" in receipts[-1].evidence.decode()
        assert receipts[-1].evidence.decode().count("-- connect") == 1
        port = sandbox.port
        sandbox.stop()  # the server goes away under the open session ...
        sandbox.port = port
        sandbox.start()
        receipt = email.send(invoice_delivery(address))  # ... and the next mail opens a new one by itself
        assert "-- transaction 1 of this session" in receipt.evidence.decode()
        email.close()
        assert len(sandbox.messages(address)) == 5
    finally:
        sandbox.stop()


# ------------------------------------------------------------------------------------------------- DSN


def test_dsn_requested_when_the_server_advertises_it_and_delivered_report_read_back(smtp, settings):
    address = unique_address()
    delivery = invoice_delivery(address, delivery_id=f"dlv+{address[:12]}=x")  # ENVID as xtext
    with EmailConnector(settings) as email:
        receipt = email.send(delivery)
        evidence = receipt.evidence.decode()
        assert f"RET=HDRS ENVID={xtext(delivery.delivery_id)}" in evidence
        assert f"NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;{xtext(address)}" in evidence
        [event] = wait_for_events(email, delivery.delivery_id, 1)

    assert event.state is EventState.DELIVERED and event.channel == "email"
    assert event.evidence_type == "message/rfc822"
    assert f"Original-Envelope-Id: {delivery.delivery_id}".encode() in event.evidence
    assert b"Action: delivered" in event.evidence
    assert event.evidence_sha256 and event.at.tzinfo is not None
    assert "in das Postfach des Empfängers zugestellt" in event.reason


def test_no_dsn_requested_from_a_plain_server_without_dsn(tmp_path):
    """Plain aiosmtpd has no DSN and answers 555 to DSN parameters: the mail must go without them."""
    from aiosmtpd.controller import Controller

    from mailbox_connectors.sandboxes.smtp import free_port

    envelopes = []

    class Keep:
        async def handle_DATA(self, server, session, envelope):
            envelopes.append(envelope)
            return "250 OK"

    controller = Controller(Keep(), hostname="127.0.0.1", port=free_port(), ready_timeout=30)
    controller.start()
    try:
        plain = EmailSettings(host="127.0.0.1", port=controller.port, sender="rechnung@musterstadt.example",
                              require_tls=False, timeout=10.0, helo_name="erechnung.test")
        with EmailConnector(plain) as email:
            receipt = email.send(invoice_delivery(unique_address()))
        [envelope] = envelopes
        assert not any(o.upper().startswith(("RET=", "ENVID=")) for o in envelope.mail_options)
        assert envelope.rcpt_options == []
        assert "NOTIFY=" not in receipt.evidence.decode()
        assert email.collect_events() == []  # no bounce mailbox configured: nothing to read
    finally:
        controller.stop()


def test_dsn_not_requested_when_the_sandbox_runs_without_dsn(tmp_path, pki, smtp_password):
    sandbox = start(tmp_path, pki=pki, users={"stadtkasse": SMTP_PASSWORD}, dsn=False)
    try:
        address = unique_address()
        with EmailConnector(email_settings(sandbox, pki)) as email:
            receipt = email.send(invoice_delivery(address))
        assert "ENVID" not in receipt.evidence.decode() and " DSN " not in receipt.evidence.decode()
        assert len(sandbox.messages(address)) == 1
    finally:
        sandbox.stop()


def test_permanent_bounce_after_acceptance_becomes_a_failed_event(smtp, settings):
    address = unique_address("voll")
    smtp.bounce(address, after=0.2)
    delivery = invoice_delivery(address)
    with EmailConnector(settings) as email:
        email.send(delivery)  # accepted with 250 ...
        [event] = wait_for_events(email, delivery.delivery_id, 1)  # ... and reported failed later
    assert event.state is EventState.FAILED
    assert "Postfach des Empfängers ist voll" in event.reason and "5.2.2" in event.reason
    assert b"Action: failed" in event.evidence
    assert smtp.messages(address) == []


def test_delayed_report_then_delivered(smtp, settings):
    address = unique_address("langsam")
    smtp.delay(address, then="delivered", after=0.2)
    delivery = invoice_delivery(address)
    with EmailConnector(settings) as email:
        email.send(delivery)
        events = wait_for_events(email, delivery.delivery_id, 2)
    assert [e.state for e in events] == [EventState.DELAYED, EventState.DELIVERED]
    assert len({e.event_id for e in events}) == 2


def test_collect_events_since_and_stable_event_ids(smtp, settings):
    address = unique_address()
    delivery = invoice_delivery(address)
    with EmailConnector(settings) as email:
        email.send(delivery)
        [event] = wait_for_events(email, delivery.delivery_id, 1)
        again = events_for(email, delivery.delivery_id)
        later = [e for e in email.collect_events(since=event.at + timedelta(seconds=1))
                 if e.delivery_id == delivery.delivery_id]
        earlier = [e for e in email.collect_events(since=event.at - timedelta(minutes=5))
                   if e.delivery_id == delivery.delivery_id]
    assert [e.event_id for e in again] == [event.event_id]
    assert later == [] and [e.event_id for e in earlier] == [event.event_id]


def test_report_of_another_mta_without_envelope_id_is_matched_by_the_returned_header():
    report = (
        "From: MAILER-DAEMON@mx.example.net\r\nTo: rechnung@musterstadt.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nDate: Mon, 02 Mar 2026 10:15:00 +0100\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        "Final-Recipient: rfc822; weg@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: rechnung@musterstadt.example\r\nSubject: Rechnung\r\n{DELIVERY_HEADER}: dlv-42\r\n\r\n"
        "--B--\r\n").encode()
    [event] = delivery_status_events(report)
    assert event.delivery_id == "dlv-42" and event.state is EventState.FAILED
    assert "das Postfach des Empfängers gibt es nicht" in event.reason
    assert event.at == datetime(2026, 3, 2, 9, 15, tzinfo=timezone.utc)
    assert event.evidence == report
    # an autoreply or any other mail in the bounce mailbox is no event
    assert delivery_status_events(b"From: a@b\r\nSubject: Abwesenheit\r\n\r\nIch bin im Urlaub.\r\n") == []


# ------------------------------------------------------------------------------------------------- failures


def test_greylisting_4xx_is_a_temporary_failure_and_the_retry_goes_through(smtp, settings):
    address = unique_address("grau")
    smtp.greylist(address, times=1)
    delivery = invoice_delivery(address)
    with EmailConnector(settings) as email:
        with pytest.raises(TemporaryFailure) as failed:
            email.send(delivery)
        assert failed.value.code == "451 4.7.1"
        assert "später erneut versuchen" in failed.value.reason
        receipt = email.send(delivery)  # same session, after RSET
    assert receipt.delivery_id == delivery.delivery_id
    assert len(smtp.messages(address)) == 1


def test_unknown_user_5xx_is_a_permanent_failure(smtp, settings):
    address = unique_address("unbekannt")
    smtp.reject(address)
    with EmailConnector(settings) as email:
        with pytest.raises(PermanentFailure) as refused:
            email.send(invoice_delivery(address))
        assert email.send(invoice_delivery(unique_address())).channel == "email"  # the session still works
    e = refused.value
    assert e.code == "550 5.1.1"
    assert "das Postfach des Empfängers gibt es nicht" in e.reason and "anderen Kanal" in e.reason
    assert address not in str(e)  # the clerk's message names no address; the evidence does
    assert address.encode() in e.evidence and b"550 5.1.1" in e.evidence


def test_message_too_large_for_the_server_is_a_permanent_failure(tmp_path, pki, smtp_password):
    sandbox = start(tmp_path, pki=pki, users={"stadtkasse": SMTP_PASSWORD}, max_message_bytes=30_000)
    try:
        with EmailConnector(email_settings(sandbox, pki)) as email:
            with pytest.raises(PermanentFailure) as refused:
                email.send(invoice_delivery(unique_address(), content=b"<x>" + b"a" * 40_000 + b"</x>"))
        assert refused.value.code.startswith("552")
        assert "größer, als der Mailserver annimmt" in refused.value.reason
    finally:
        sandbox.stop()


@pytest.mark.parametrize("at", ["rcpt", "data"])
def test_a_stalled_server_is_a_temporary_failure_within_the_timeout(smtp, settings, pki, at):
    address = unique_address("haengt")
    smtp.stall(address, seconds=30, at=at)
    quick = email_settings(smtp, pki, timeout=1.0)
    with EmailConnector(quick) as email:
        started = time.monotonic()
        with pytest.raises(TemporaryFailure) as failed:
            email.send(invoice_delivery(address))
        assert time.monotonic() - started < 6
        assert "nicht innerhalb von 1 s geantwortet" in failed.value.reason
        if at == "data":
            assert "kann noch ankommen" in failed.value.reason
        assert email.send(invoice_delivery(unique_address())).channel == "email"  # a new session


def test_refused_login_is_temporary_and_never_shows_the_password(smtp, pki, monkeypatch, caplog):
    monkeypatch.setenv("WRONG_SMTP_PASSWORD", "falsch-" + SMTP_PASSWORD)
    caplog.set_level(logging.DEBUG)
    with EmailConnector(email_settings(smtp, pki, password_env="WRONG_SMTP_PASSWORD")) as email:
        with pytest.raises(TemporaryFailure) as failed:
            email.send(invoice_delivery(unique_address()))
    e = failed.value
    assert "SMTP-Benutzer und -Passwort prüfen" in e.reason and e.code == "535"
    for text in (str(e), e.evidence.decode(), caplog.text):
        assert SMTP_PASSWORD not in text


def test_untrusted_server_certificate_sends_nothing(smtp, pki, other_pki, smtp_password):
    received = smtp.received
    with EmailConnector(email_settings(smtp, other_pki)) as email:
        with pytest.raises(TemporaryFailure, match="Zertifikat des Mailservers wird nicht vertraut"):
            email.send(invoice_delivery(unique_address()))
    assert smtp.received == received


def test_password_can_come_from_a_file(smtp, pki, tmp_path, monkeypatch):
    monkeypatch.delenv("UNSET_SMTP_PASSWORD", raising=False)
    secret = tmp_path / "smtp-password"
    secret.write_text(SMTP_PASSWORD + "\n")
    settings = email_settings(smtp, pki, password_env="UNSET_SMTP_PASSWORD", password_file=secret)
    assert SMTP_PASSWORD not in repr(settings)
    with EmailConnector(settings) as email:
        assert email.send(invoice_delivery(unique_address())).channel == "email"


def test_secrets_and_personal_data_stay_out_of_the_logs(smtp, settings, caplog):
    caplog.set_level(logging.DEBUG)
    good, bad = unique_address("erika.mustermann"), unique_address("max.mustermann")
    smtp.reject(bad)
    with EmailConnector(settings) as email:
        ok = email.send(invoice_delivery(good, subject="Rechnung für Erika Mustermann"))
        with pytest.raises(PermanentFailure):
            email.send(invoice_delivery(bad))
        email.send(notice_delivery(good, body="Guten Tag Frau Mustermann"))
    ours = [r for r in caplog.records if r.name.startswith("mailbox_connectors")]
    assert ours, "the connector logs what it does"
    assert any(ok.delivery_id in r.getMessage() for r in ours)
    everything = caplog.text
    assert SMTP_PASSWORD not in everything
    assert base64.b64encode(f"\0stadtkasse\0{SMTP_PASSWORD}".encode()).decode() not in everything
    for r in ours:
        message = r.getMessage()
        assert good not in message and bad not in message and "Mustermann" not in message


def test_email_capabilities_carry_invoices_and_only_notify_of_notices(settings):
    caps = EmailConnector(settings).capabilities
    assert caps.channel == "email" and caps.notices.value == "notify_only"
    assert caps.kinds == {DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE}
    pdfa_invoice = invoice_delivery(unique_address(), format="pdfa", media_type="application/pdf")
    assert "nimmt das Format pdfa nicht an" in caps.refusal(pdfa_invoice)
