"""Documents and recipients in a state database, as the pipeline leaves them for delivery (handed over)."""
from __future__ import annotations

import hashlib
from datetime import date

from erechnung.delivery.config import DeliveryConfig, RetryPolicy
from erechnung.delivery.content import Content
from erechnung.model.recipients import Recipient
from erechnung.state import transaction
from erechnung.state import repository as repo

DEPARTMENT = "kasse"
UUID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"


def recipient(ref: str = "K-1", **kw) -> Recipient:
    data = dict(customer_number=ref, name="Anna Muster", street="Hauptstr. 1", post_code="12345",
                city="Musterstadt")
    data.update(kw)
    return Recipient(**data)


def body(doc_id: int) -> bytes:
    return f"<Invoice><ID>{doc_id}</ID></Invoice>".encode()


def content(session, doc) -> Content:
    return Content(body(doc.id), f"{doc.number}.xml", "application/xml", subject=f"Rechnung {doc.number}")


def add_documents(engine, n: int, *, kind: str = "invoice", who: Recipient | None = None,
                  prefix: str = "RE-2026-") -> list[int]:
    """``n`` handed-over documents to ``who`` (stored in the register)."""
    who = who or recipient(email="anna@example.org", consents=frozenset({"email_invoices"}))
    ids = []
    with transaction(engine) as s:
        repo.upsert_recipient(s, DEPARTMENT, who.customer_number, who)
        start = len(repo.list_documents(s))
        for i in range(n):
            r = repo.create_document(s, idempotency_key=f"{DEPARTMENT}:{kind}:{start + i}", department=DEPARTMENT,
                                     kind=kind, format="ubl" if kind != "notice" else "notice_pdf",
                                     number_prefix=prefix, recipient_ref=who.customer_number,
                                     issue_date=date(2026, 11, 2), state="handed_over", verdict="accept")
            ids.append(r.document.id)
    with transaction(engine) as s:
        for doc_id in ids:
            doc = s.get(repo.Document, doc_id)
            doc.sha256 = hashlib.sha256(body(doc_id)).hexdigest()
    return ids


def config(**kw) -> DeliveryConfig:
    kw.setdefault("retry", RetryPolicy(max_attempts=3))
    kw.setdefault("land", "NW")
    if kw["land"] == "NW":  # as Musterstadt (examples/config.toml): § 122 / § 122a AO via § 12 KAG NRW checked
        kw.setdefault("confirmed", ("NW:ao_122a", "NW:ao_122_2"))
    return DeliveryConfig(**kw)
