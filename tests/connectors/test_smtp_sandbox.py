"""The SMTP sandbox itself, spoken to with plain smtplib: the DSN extension as RFC 3461 says (ENVID kept as sent,
NOTIFY honoured, RET chooses headers or the full message), and the stand-alone process benches use."""
from __future__ import annotations

import json
import smtplib
import ssl
import subprocess
import sys

from mailbox_connectors.sandboxes.smtp import start

from .conftest import SMTP_PASSWORD, SMTP_USER, unique_address

MESSAGE = b"From: rechnung@musterstadt.example\r\nSubject: Test\r\nMessage-ID: <t1@musterstadt.example>\r\n\r\nText\r\n"


def _client(sandbox, pki) -> smtplib.SMTP:
    client = smtplib.SMTP("localhost", sandbox.port, timeout=10)
    client.starttls(context=pki.client_context())
    client.login(SMTP_USER, SMTP_PASSWORD)
    return client


def test_dsn_parameters_honoured_envid_case_kept_and_ret_full_returns_the_message(smtp, pki):
    quiet, loud = unique_address("still"), unique_address("laut")
    reports_before = len(smtp.reports())
    with _client(smtp, pki) as client:
        assert client.has_extn("dsn")
        client.mail("rechnung@musterstadt.example", ["RET=FULL", "ENVID=MixedCase+2Bplus"])
        assert client.rcpt(quiet, ["NOTIFY=NEVER"])[0] == 250
        assert client.rcpt(loud, ["NOTIFY=SUCCESS", f"ORCPT=rfc822;{loud}"])[0] == 250
        assert client.data(MESSAGE)[0] == 250
        assert client.mail("rechnung@musterstadt.example", ["RET=SOMETIMES"])[0] == 501
    assert smtp.wait_for_reports(1, 10, envid="MixedCase+plus")
    new = smtp.reports()[reports_before:]
    assert len(new) == 1  # NOTIFY=NEVER: no report for the quiet recipient
    report = new[0].as_string()
    assert "Original-Envelope-Id: MixedCase+plus" in report  # xtext decoded, case as sent
    assert f"Original-Recipient: rfc822;{loud}" in report and "Action: delivered" in report
    assert "Content-Type: message/rfc822" in report and "Text" in report  # RET=FULL
    assert len(smtp.messages(quiet)) == 1 and len(smtp.messages(loud)) == 1


def test_authentication_and_starttls_are_required(smtp, pki):
    with smtplib.SMTP("localhost", smtp.port, timeout=10) as client:
        client.ehlo()
        assert client.mail("rechnung@musterstadt.example")[0] == 530  # STARTTLS first
    with smtplib.SMTP("localhost", smtp.port, timeout=10) as client:
        client.starttls(context=pki.client_context())
        try:
            client.login(SMTP_USER, "falsch")
        except smtplib.SMTPAuthenticationError as e:
            assert e.smtp_code == 535
        else:
            raise AssertionError("a wrong password must be refused")
        assert client.mail("rechnung@musterstadt.example")[0] == 530  # AUTH first


def test_sandbox_runs_as_its_own_process(tmp_path):
    """``python -m mailbox_connectors.sandboxes.smtp`` prints where it listens and serves until stopped."""
    proc = subprocess.Popen([sys.executable, "-m", "mailbox_connectors.sandboxes.smtp", "--root", str(tmp_path),
                             "--tls", "--user", "kasse:pw", "--reject", "weg@example.org"],
                            stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        with smtplib.SMTP(info["host"], info["port"], timeout=10) as client:
            client.starttls(context=ssl.create_default_context(cafile=info["ca_file"]))
            client.login("kasse", "pw")
            client.mail("rechnung@musterstadt.example")
            assert client.rcpt("weg@example.org")[0] == 550
            client.rset()
            client.sendmail("rechnung@musterstadt.example", ["da@example.org"], MESSAGE)
        assert len(list((tmp_path / "mailboxes" / "da@example.org" / "new").iterdir())) == 1
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0


def test_stopped_sandbox_frees_its_port(tmp_path):
    sandbox = start(tmp_path)
    port = sandbox.port
    sandbox.stop()
    again = start(tmp_path, port=port)  # the same port can be taken again at once
    again.stop()


def test_message_is_stored_as_sent_with_dots_unstuffed_and_too_much_data_refused(tmp_path, pki):
    sandbox = start(tmp_path, pki=pki, users={SMTP_USER: SMTP_PASSWORD}, max_message_bytes=20_000)
    try:
        body = b"Subject: Punkte\r\n\r\n.eine Zeile mit Punkt\r\n..zwei Punkte\r\n.\r\nText\r\n" + b"x" * 70 + b"\r\n"
        with _client(sandbox, pki) as client:
            client.sendmail("rechnung@musterstadt.example", ["punkt@example.org"], body)  # smtplib stuffs dots
            client.mail("rechnung@musterstadt.example")  # no SIZE=: the server finds out after the data
            client.rcpt("gross@example.org")
            code, _ = client.data(b"Subject: gross\r\n\r\n" + (b"y" * 998 + b"\r\n") * 30)
            assert code == 552
            assert client.noop()[0] == 250  # the session goes on
        [stored] = (tmp_path / "mailboxes" / "punkt@example.org" / "new").iterdir()
        assert stored.read_bytes().split(b"\n\n", 1)[1] == body.split(b"\r\n\r\n", 1)[1].replace(b"\r\n", b"\n")
        assert sandbox.messages("gross@example.org") == []
    finally:
        sandbox.stop()
