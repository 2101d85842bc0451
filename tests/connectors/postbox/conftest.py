"""Fixtures for the postbox channels: each sandbox really started on a free loopback port once per test module
and stopped after it, with TLS from its own test CA (clients trust only that CA), and the connectors wired to
them as an operator would configure them.

This folder is a package, so this conftest does not shadow tests/conftest.py (imported as ``conftest``).
"""
from __future__ import annotations

import io
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import lru_cache

import pikepdf
import pytest

from erechnung.model.delivery import DeliveryFormat
from erechnung.model.documents import DocumentKind
from mailbox_connectors.base import Delivery
from mailbox_connectors.bundid import AuthorIdentity, BundIdBridgeConnector, BundIdSettings
from mailbox_connectors.fitconnect_client import FitConnectSettings
from mailbox_connectors.sandboxes.elster import ElsterSandbox
from mailbox_connectors.sandboxes.fitconnect import FitConnectSandbox
from mailbox_connectors.sandboxes.zbp import ZbpSandbox

CONFIRMATIONS = "abrufbestaetigung@musterstadt.example"
_ids = itertools.count(1)


@lru_cache(maxsize=None)
def pdfa(title: str = "Bescheid") -> bytes:
    """A one-page PDF whose XMP metadata claim PDF/A-3B."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["pdfaid:part"] = "3"
        meta["pdfaid:conformance"] = "B"
        meta["dc:title"] = title
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


@lru_cache(maxsize=None)
def plain_pdf() -> bytes:
    """A PDF without any PDF/A claim."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def make_delivery(address: str, *, kind: DocumentKind = DocumentKind.NOTICE, content: bytes | None = None,
                  fmt: DeliveryFormat = DeliveryFormat.PDFA, subject: str = "Grundsteuerbescheid 2026",
                  body: str = "Ihr Grundsteuerbescheid liegt bei.", filename: str = "bescheid.pdf",
                  media_type: str = "application/pdf", delivery_id: str | None = None) -> Delivery:
    return Delivery(delivery_id or f"dlv-{time.time_ns()}-{next(_ids)}", kind, fmt,
                    pdfa() if content is None else content, filename, media_type, address, subject, body)


def wait_for(collect: Callable[[], list], predicate: Callable[[list], bool], timeout: float = 30.0) -> list:
    """Call ``collect`` until ``predicate`` holds for its result (the sandbox's subscriber works in a thread)."""
    end = time.monotonic() + timeout
    while True:
        result = collect()
        if predicate(result) or time.monotonic() > end:
            return result
        time.sleep(0.05)


# ---- sandboxes, one per module ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def zbp() -> Iterator[ZbpSandbox]:
    sandbox = ZbpSandbox().start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def fit(zbp: ZbpSandbox) -> Iterator[FitConnectSandbox]:
    """The FIT-Connect sandbox; its bridge destination hands messages to the module's ZBP sandbox."""
    sandbox = FitConnectSandbox(bridge_to=zbp).start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def elster() -> Iterator[ElsterSandbox]:
    sandbox = ElsterSandbox().start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(autouse=True)
def _reset_sandboxes(request: pytest.FixtureRequest) -> Iterator[None]:
    """Failure modes commanded by one test do not leak into the next."""
    yield
    for name in ("fit", "zbp", "elster"):
        if name in request.fixturenames:
            request.getfixturevalue(name).reset()


# ---- connectors ---------------------------------------------------------------------------------------------
def fit_settings(sandbox: FitConnectSandbox, **overrides) -> FitConnectSettings:
    settings = FitConnectSettings(submission_url=sandbox.base_url, token_url=sandbox.token_url,
                                  client_id=sandbox.client_id, client_secret=sandbox.client_secret,
                                  trust_roots=sandbox.root_pem, tls_ca=sandbox.ca.root_path, timeout=10.0)
    return replace(settings, **overrides)


@pytest.fixture(scope="module")
def author(fit: FitConnectSandbox) -> AuthorIdentity:
    issued = fit.issue_author("Stadt Musterstadt Stadtkasse")
    return AuthorIdentity(issued.cert_pem, issued.key_pem)


@pytest.fixture
def bundid_settings(zbp: ZbpSandbox) -> BundIdSettings:
    return BundIdSettings(sender="Stadt Musterstadt, Stadtkasse", service="Grundsteuer",
                          retrieval_confirmation_address=CONFIRMATIONS, confirmations_maildir=zbp.confirmation_maildir)


@pytest.fixture
def bridge(fit: FitConnectSandbox, author: AuthorIdentity, bundid_settings: BundIdSettings
           ) -> Iterator[BundIdBridgeConnector]:
    connector = BundIdBridgeConnector(fit_settings(fit), bundid_settings, author,
                                      bridge_destination_id=fit.bridge_destination_id)
    yield connector
    connector.close()
