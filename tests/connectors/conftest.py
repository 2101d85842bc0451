"""Fixtures for the delivery channels: a test CA, the SMTP sandbox on a free loopback port (one per test module,
its rules cleared for every test), email settings pointing at it, and documents to deliver.

This folder is a package, so this conftest does not shadow tests/conftest.py (imported as ``conftest``)."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from mailbox_connectors.base import Delivery
from mailbox_connectors.email import EmailSettings
from mailbox_connectors.sandboxes.smtp import SmtpSandbox, start
from mailbox_connectors.sandboxes.tls import Pki, make_pki

SMTP_USER = "stadtkasse"
SMTP_PASSWORD = "Kassen-Geheimnis-7f3a"  # the tests look for it in logs, errors and evidence
PASSWORD_ENV = "ERECHNUNG_TEST_SMTP_PASSWORD"
SENDER = "rechnung@musterstadt.example"

XRECHNUNG = (b'<?xml version="1.0" encoding="UTF-8"?>\n<ubl:Invoice xmlns:ubl="urn:oasis:names:specification:ubl:'
             b'schema:xsd:Invoice-2"><cbc:ID xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:'
             b'CommonBasicComponents-2">RE-2026-0001</cbc:ID>' + b"<!-- padding -->" * 500 + b"</ubl:Invoice>\n")
NOTICE_PDF = b"%PDF-1.7\n% Grundsteuerbescheid 2026 fuer Erika Mustermann, Steuernummer 123/456/78901\n" + \
    b"0" * 4000 + b"\n%%EOF\n"


def unique_address(name: str = "buerger") -> str:
    return f"{name}-{uuid.uuid4().hex[:10]}@example.org"


def invoice_delivery(address: str, *, content: bytes = XRECHNUNG, delivery_id: str | None = None,
                     kind: str = "invoice", format: str = "xrechnung", filename: str = "RE-2026-0001.xml",
                     media_type: str = "application/xml", subject: str = "Ihre Rechnung RE-2026-0001",
                     body: str = "") -> Delivery:
    return Delivery(delivery_id=delivery_id or f"dlv-{uuid.uuid4().hex[:12]}", kind=kind, format=format,
                    content=content, filename=filename, media_type=media_type, address=address, subject=subject,
                    body=body)


def notice_delivery(address: str, *, body: str = "") -> Delivery:
    return Delivery(delivery_id=f"dlv-{uuid.uuid4().hex[:12]}", kind="notice", format="pdfa", content=NOTICE_PDF,
                    filename="Grundsteuerbescheid-2026.pdf", media_type="application/pdf", address=address,
                    subject="Ein Bescheid liegt in Ihrem Postfach bereit", body=body)


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), hosts=("localhost", "127.0.0.1"))


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory) -> Pki:
    """A second, unrelated CA: a client trusting only it must refuse the sandbox."""
    return make_pki(tmp_path_factory.mktemp("other-pki"), hosts=("localhost", "127.0.0.1"))


@pytest.fixture(scope="module")
def smtp_server(tmp_path_factory, pki):
    """A real SMTP server on a free loopback port with STARTTLS, AUTH and DSN, for the whole test module."""
    sandbox = start(tmp_path_factory.mktemp("smtp"), host="127.0.0.1", pki=pki, users={SMTP_USER: SMTP_PASSWORD},
                    hostname="mx.sandbox.test")
    yield sandbox
    sandbox.stop()


@pytest.fixture
def smtp(smtp_server: SmtpSandbox) -> SmtpSandbox:
    smtp_server.clear()
    yield smtp_server
    smtp_server.clear()


@pytest.fixture
def smtp_password(monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, SMTP_PASSWORD)
    return SMTP_PASSWORD


def email_settings(sandbox: SmtpSandbox, pki: Pki, **overrides) -> EmailSettings:
    """Settings for ``sandbox`` trusting ``pki``'s CA (keywords override, e.g. ``timeout=1.0``)."""
    values = dict(host="localhost", port=sandbox.port, sender=SENDER, sender_name="Stadt Musterstadt, Stadtkasse",
                  username=SMTP_USER, password_env=PASSWORD_ENV, ca_file=pki.ca_file,
                  bounce_maildir=Path(sandbox.bounce_maildir), timeout=10.0, helo_name="erechnung.test")
    values.update(overrides)
    return EmailSettings(**values)


@pytest.fixture
def settings(smtp, pki, smtp_password) -> EmailSettings:
    return email_settings(smtp, pki)
