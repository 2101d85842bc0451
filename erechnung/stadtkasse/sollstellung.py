"""Sollstellung: every handed-over document with an amount due becomes its open items, once.

``post(p, now=None)`` takes the handed-over documents not posted before (oldest first, so an invoice is posted
before the credit note that reduces it), reads each one's invoice model from the archive (the XML, or the XML a
hybrid PDF or a notice embeds) and

* an invoice or a notice: stores its items (``claims.claims``: one per instalment);
* a credit note: reduces the items of the invoice it names (BT-25), last instalment first;
* an Änderungsbescheid (a notice naming the notice it amends): gives the amended notice's items the new
  amounts (per instalment; one the new notice no longer has drops to 0; a new one becomes an item of the new
  notice), so what was paid on them stays booked;
* a document without a readable claim (a notice demanding nothing), or a dunning letter (a document of
  ``[stadtkasse] dunning_department``, which demands an item already open): posted with nothing to collect.

Each document is posted in its own transaction together with its ``posted_documents`` row, so it is posted
exactly once however often ``post`` runs. The bookings of the call go into one export file for the finance system
(``export.booking_csv``) in ``[stadtkasse] export_location``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import select

from ..config.locations import location_url
from ..config.s3 import s3_options
from ..errors import DocumentReadError
from ..model.documents import DocumentKind
from ..state import receivables as books
from ..state.receivables_schema import PostedDocument
from ..state.schema import Document
from ..storage import open_storage
from .claims import claims, is_credit_note, preceding_number
from .export import Booking, booking_csv, export_name, write_export

log = logging.getLogger(__name__)


@dataclass
class PostReport:
    posted: int = 0  # documents taken into the books
    items: int = 0  # new items
    bookings: list[Booking] = field(default_factory=list)
    export: str | None = None  # the export file's name
    problems: list[str] = field(default_factory=list)  # German, for the Kasse

    def summary(self) -> str:
        total = sum((b.amount for b in self.bookings), Decimal("0"))
        text = (f"{self.posted} Dokument(e) gebucht, {self.items} offene Posten neu, {len(self.bookings)} "
                f"Buchung(en) über {total:.2f} EUR".replace(".", ","))
        return text + (f"; Exportdatei {self.export}" if self.export else "")


def _booking(kind: str, row, amount_cents: int) -> Booking:
    return Booking(kind=kind, kassenzeichen=row.kassenzeichen, number=row.number, instalment=row.instalment,
                   department=row.department, debtor_ref=row.debtor_ref, debtor_name=row.debtor_name,
                   amount=books.euros(amount_cents), due_date=row.due_date, account_iban=row.account_iban,
                   mandate_id=row.mandate_id, document_id=row.document_id)


def _read(p, doc):
    from ..convert import read_any

    if not doc.sha256:
        return None
    try:
        return read_any(p.archive.get(doc.sha256))
    except DocumentReadError as exc:  # a notice demanding nothing embeds no claim
        log.info("document %s has no readable claim: %s", doc.id, exc)
        return None


def _account(p, department: str) -> str:
    try:
        return p.config.account_of(p.config.department(department)).iban.replace(" ", "")
    except KeyError:  # a department no longer configured
        return ""


def _post_one(p, s, doc, invoice, now: datetime) -> list[Booking]:
    out: list[Booking] = []
    if invoice is None or doc.department == p.config.stadtkasse.dunning_department:
        # a dunning letter demands the dunned item (its fee and Säumniszuschläge are the dunning run's record),
        # no claim of its own: posting its embedded claim would collect the item twice
        books.mark_posted(s, doc.id, "none", now=now)
        return out
    before = preceding_number(invoice)
    if is_credit_note(invoice, doc.kind):
        targets = books.items_of_number(s, doc.department, before) if before else []
        remaining = books.cents(invoice.totals.payable_amount)
        for row in reversed(targets):
            cut = min(remaining, row.amount_cents)
            if cut <= 0:
                continue
            row.amount_cents -= cut
            row.updated_at = now
            books.restate(row)
            remaining -= cut
            out.append(_booking("MINDERUNG", row, -cut))
        books.mark_posted(s, doc.id, "reduced", target=targets[0].document_id if targets else None,
                          amount_cents=sum(books.cents(b.amount) for b in out), now=now)
        return out
    new = claims(invoice, document_id=doc.id, kind=doc.kind, department=doc.department,
                 debtor_ref=doc.recipient_ref, number=doc.number, default_account=_account(p, doc.department))
    amended = books.items_of_number(s, doc.department, before) \
        if before and doc.kind == DocumentKind.NOTICE else []
    if amended:
        by_instalment = {r.instalment: r for r in amended}
        for item in new:
            row = by_instalment.pop(item.instalment, None)
            if row is None:
                row, _ = books.add_item(s, item)
                out.append(_booking("SOLL", row, row.amount_cents))
                continue
            delta = books.cents(item.amount) - row.amount_cents
            row.amount_cents, row.due_date, row.updated_at = books.cents(item.amount), item.due_date, now
            books.restate(row)
            if delta:
                out.append(_booking("AENDERUNG", row, delta))
        for row in by_instalment.values():
            if row.amount_cents:
                out.append(_booking("AENDERUNG", row, -row.amount_cents))
                row.amount_cents, row.updated_at = 0, now
                books.restate(row)
        books.mark_posted(s, doc.id, "replaced", target=amended[0].document_id,
                          amount_cents=sum(books.cents(b.amount) for b in out), now=now)
        return out
    for item in new:
        row, created = books.add_item(s, item)
        if created:
            out.append(_booking("SOLL", row, row.amount_cents))
    books.mark_posted(s, doc.id, "items" if new else "none", amount_cents=sum(books.cents(i.amount) for i in new),
                      now=now)
    return out


def post(p, *, now: datetime | None = None, export: bool = True) -> PostReport:
    """Post the handed-over documents not posted yet (see the module docstring)."""
    now = now or datetime.now(timezone.utc)
    report = PostReport()
    with p.transaction() as s:
        docs = list(s.execute(select(Document).where(
            Document.state == "handed_over", Document.kind.in_([k.value for k in DocumentKind]),
            ~select(PostedDocument.document_id).where(PostedDocument.document_id == Document.id).exists())
            .order_by(Document.id)).scalars())
    name = export_name(now)
    for doc in docs:
        invoice = _read(p, doc)
        with p.transaction() as s:
            if books.is_posted(s, doc.id):  # another process was quicker
                continue
            bookings = _post_one(p, s, doc, invoice, now)
            if bookings and export:
                s.get(PostedDocument, doc.id).export_name = name
        report.posted += 1
        report.items += sum(1 for b in bookings if b.kind == "SOLL")
        report.bookings += bookings
    if report.bookings and export:
        storage = open_storage(location_url(p.config, p.config.stadtkasse.export_location),
                               s3_options=s3_options(p.config))
        report.export = write_export(storage, name, booking_csv(report.bookings))
    return report
