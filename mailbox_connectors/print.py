"""Print channel, the last fallback: letters collected into a print-ready PDF batch for the print shop.

    printer = PrintConnector(PrintSettings(outbox=Path("/srv/erechnung/print")))
    printer.send(delivery)                   # the PDF joins the open batch (kept on disk until the batch closes)
    batch = printer.close_batch()            # -> PrintBatch: <outbox>/<batch id>.pdf and <batch id>.csv

A letter in the batch is a cover sheet (the municipality's letterhead, the recipient's address in the DIN 5008
window, "Anlage: Rechnung, 3 Seiten"), then the document's pages as rendered; with ``duplex`` every letter is
padded to an even number of pages so that each starts on a new sheet. The cover sheet is what shows in the
envelope window, so a document whose own window holds another address (or none, like a ZUGFeRD invoice of
another design) is still posted right. The batch PDF is made PDF/A-3b (output intent and XMP through
``erechnung.documents.pdfa.finish``; the pages come from PDF/A documents and keep their embedded fonts).
The CSV manifest (UTF-8, ``;``) lists per letter: position, delivery id, kind, first and last page in the batch,
pages, sheets, document sha256, and the address lines: the print shop's address list and the proof of what
went into which envelope.

* Only PDFs can be printed: an XRechnung XML is refused (``PermanentFailure``: render it as ZUGFeRD first).
* ``send`` is idempotent within the open batch: the same delivery id again gives the same receipt.
* The open batch lives in ``<outbox>/open/`` (one PDF per letter and ``letters.jsonl``), so a crash loses no
  letter and another process on the same outbox continues it; one process at a time (a lock file serialises).
* ``collect_events`` reports nothing: what happens after the hand-over to the print shop is not observed (the
  legal date of notification is computed from the posting day, not observed).
"""
from __future__ import annotations

import csv
import fcntl
import io
import json
import logging
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pikepdf

from .base import (
    Capabilities, Delivery, DocumentFormat, DocumentKind, MailboxConnector, NoticeHandling, PermanentFailure,
    Receipt, StatusEvent,
)

__all__ = ["PrintBatch", "PrintConnector", "PrintSettings"]

log = logging.getLogger(__name__)

CHANNEL = "print"
_KIND_TEXT = {DocumentKind.INVOICE: "Rechnung", DocumentKind.CREDIT_NOTE: "Gutschrift",
              DocumentKind.NOTICE: "Bescheid"}
MANIFEST_FIELDS = ("letter", "delivery_id", "kind", "first_page", "last_page", "pages", "sheets", "sha256",
                   "address")


@dataclass(frozen=True)
class PrintSettings:
    outbox: Path  # batches are written here; the open batch lives in outbox/open
    cover_sheets: bool = True  # a cover sheet with the address in the window before every letter
    duplex: bool = False  # pad every letter (with its cover sheet) to an even page count
    return_address: str | None = None  # the line above the address; default: the design's
    design_path: Path | None = None  # default: the design in force (ERECHNUNG_DESIGN or the built-in one)


@dataclass(frozen=True)
class PrintBatch:
    batch_id: str
    pdf: Path
    manifest: Path
    letters: int
    pages: int
    sheets: int


class PrintConnector(MailboxConnector):
    """The print channel (see the module docstring)."""

    def __init__(self, settings: PrintSettings) -> None:
        self.settings = settings
        self._open_dir = settings.outbox / "open"
        self._thread_lock = threading.Lock()
        self._capabilities = Capabilities(
            channel=CHANNEL, kinds=frozenset(DocumentKind), formats=frozenset({DocumentFormat.ZUGFERD,
                                                                              DocumentFormat.PDFA}),
            max_bytes=None, notices=NoticeHandling.CARRY)

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    # ------------------------------------------------------------------------------------------- batch on disk

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.settings.outbox.mkdir(parents=True, exist_ok=True)
        with self._thread_lock, open(self.settings.outbox / ".lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _letters(self) -> list[dict]:
        index = self._open_dir / "letters.jsonl"
        if not index.exists():
            return []
        with index.open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    def _batch_id(self) -> str:
        marker = self._open_dir / "batch_id"
        if not marker.exists():
            self._open_dir.mkdir(parents=True, exist_ok=True)
            batch_id = datetime.now(timezone.utc).strftime("print-%Y%m%dT%H%M%S%fZ")
            marker.write_text(batch_id, encoding="utf-8")
        return marker.read_text(encoding="utf-8").strip()

    def open_letters(self) -> int:
        """How many letters wait in the open batch."""
        with self._locked():
            return len(self._letters())

    # ------------------------------------------------------------------------------------------- send

    def send(self, delivery: Delivery) -> Receipt:
        self.check(delivery)
        address = [line.strip() for line in delivery.address.splitlines() if line.strip()]
        if len(address) < 2:
            raise PermanentFailure("a letter needs a postal address of at least two lines (name, street or PO box, "
                                   "post code and town)", channel=CHANNEL, delivery_id=delivery.delivery_id)
        try:
            with pikepdf.open(io.BytesIO(delivery.content)) as pdf:
                pages = len(pdf.pages)
        except pikepdf.PdfError:
            raise PermanentFailure("the document is not a readable PDF and cannot be printed", channel=CHANNEL,
                                   delivery_id=delivery.delivery_id) from None
        if pages == 0:
            raise PermanentFailure("the document has no pages", channel=CHANNEL, delivery_id=delivery.delivery_id)
        with self._locked():
            batch_id = self._batch_id()
            letters = self._letters()
            for row in letters:
                if row["delivery_id"] == delivery.delivery_id:
                    return self._receipt(row, batch_id)
            number = len(letters) + 1
            name = f"{number:05d}.pdf"
            (self._open_dir / name).write_bytes(delivery.content)
            row = {"letter": number, "file": name, "delivery_id": delivery.delivery_id, "kind": delivery.kind.value,
                   "pages": pages, "sha256": delivery.sha256, "address": address,
                   "accepted_at": datetime.now(timezone.utc).isoformat()}
            with (self._open_dir / "letters.jsonl").open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        log.info("delivery %s: letter %d of print batch %s (%d pages)", delivery.delivery_id, number, batch_id, pages)
        return self._receipt(row, batch_id)

    @staticmethod
    def _receipt(row: dict, batch_id: str) -> Receipt:
        evidence = {k: row[k] for k in ("letter", "delivery_id", "kind", "pages", "sha256")} | {"batch": batch_id}
        return Receipt(delivery_id=row["delivery_id"], channel=CHANNEL,
                       channel_message_id=f"{batch_id}/{row['letter']}",
                       accepted_at=datetime.fromisoformat(row["accepted_at"]),
                       evidence=json.dumps(evidence, sort_keys=True).encode(), evidence_type="application/json")

    def collect_events(self, since: datetime | None = None) -> list[StatusEvent]:
        return []

    # ------------------------------------------------------------------------------------------- close

    def close_batch(self) -> PrintBatch | None:
        """Write the open batch as ``<batch id>.pdf`` and ``<batch id>.csv`` into the outbox and start a new one;
        None when no letter waits."""
        with self._locked():
            letters = self._letters()
            if not letters:
                return None
            batch_id = self._batch_id()
            pdf_path = self.settings.outbox / f"{batch_id}.pdf"
            csv_path = self.settings.outbox / f"{batch_id}.csv"
            rows, total_pages = self._write_pdf(batch_id, letters, pdf_path)
            tmp = csv_path.with_suffix(".csv.tmp")
            with tmp.open("w", encoding="utf-8", newline="") as fh:
                writer = csv.writer(fh, delimiter=";")
                writer.writerow(MANIFEST_FIELDS)
                writer.writerows([r[f] for f in MANIFEST_FIELDS] for r in rows)
            os.replace(tmp, csv_path)
            shutil.rmtree(self._open_dir)
        sheets = sum(r["sheets"] for r in rows)
        log.info("print batch %s closed: %d letters, %d pages", batch_id, len(rows), total_pages)
        return PrintBatch(batch_id, pdf_path, csv_path, len(rows), total_pages, sheets)

    def _write_pdf(self, batch_id: str, letters: list[dict], target: Path) -> tuple[list[dict], int]:
        from erechnung.documents.pdfa import DocumentInfo, finish

        s = self.settings
        covers = self._covers(batch_id, letters) if s.cover_sheets else None
        rows = []
        sources: list[pikepdf.Pdf] = []  # qpdf copies page contents when saving: the sources stay open until then
        with pikepdf.new() as batch:
            for i, letter in enumerate(letters):
                first = len(batch.pages) + 1
                if covers is not None:
                    batch.pages.append(covers.pages[i])
                doc = pikepdf.open(io.BytesIO((self._open_dir / letter["file"]).read_bytes()))
                sources.append(doc)
                for page in doc.pages:
                    batch.pages.append(page)
                box = doc.pages[-1].mediabox
                count = len(batch.pages) + 1 - first
                if s.duplex and count % 2:
                    batch.add_blank_page(page_size=(float(box[2]) - float(box[0]), float(box[3]) - float(box[1])))
                    count += 1
                rows.append({"letter": letter["letter"], "delivery_id": letter["delivery_id"],
                             "kind": letter["kind"], "first_page": first, "last_page": first + count - 1,
                             "pages": count, "sheets": (count + 1) // 2 if s.duplex else count,
                             "sha256": letter["sha256"], "address": " | ".join(letter["address"])})
            total = len(batch.pages)
            raw = io.BytesIO()
            batch.save(raw)
        for source in [*sources, *([covers] if covers is not None else [])]:
            source.close()
        info = DocumentInfo(title=f"Druckauftrag {batch_id}", author=self._design().letterhead.name,
                            subject=f"{len(letters)} Briefe, {total} Seiten")
        data = finish(raw.getvalue(), info)
        tmp = target.with_suffix(".pdf.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        return rows, total

    def _design(self):  # type: ignore[no-untyped-def]
        from erechnung.documents.design import load_design

        return load_design(self.settings.design_path)

    def _covers(self, batch_id: str, letters: list[dict]) -> pikepdf.Pdf:
        """One cover sheet per letter, all in one PDF (one reportlab document: fonts and letterhead once)."""
        from erechnung.documents.letter import letter_frame
        from erechnung.documents.pdfa import DocumentInfo, canvas_bytes, new_canvas

        design = self._design()
        frame = letter_frame(design)
        f = frame.fonts
        canvas = new_canvas(DocumentInfo(title=f"Deckblätter {batch_id}", author=design.letterhead.name), design)
        today = datetime.now().strftime("%d.%m.%Y")
        for i, letter in enumerate(letters, start=1):
            below = frame.first_page(canvas, recipient=letter["address"], info=[("Datum", today)],
                                     return_address=self.settings.return_address)
            y = frame.first_body_top(below)
            kind = _KIND_TEXT.get(DocumentKind(letter["kind"]), "Schreiben")
            pages = letter["pages"]
            canvas.setFillColorRGB(*frame.text_colour)
            canvas.setFont(f.bold, 11)
            canvas.drawString(frame.body_left, y, f.clean(f"Anlage: {kind}, {pages} Seite{'n' if pages != 1 else ''}"))
            canvas.setFont(f.regular, 6)
            canvas.setFillColorRGB(*frame.muted)
            canvas.drawString(frame.body_left, frame.body_bottom - 7,
                              f.clean(f"{batch_id} · Brief {i} von {len(letters)} · {letter['delivery_id']}"))
            canvas.showPage()
        return pikepdf.open(io.BytesIO(canvas_bytes(canvas)))
