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
* Exactly once across crashes: a delivery id is taken into one batch only, ever. ``send`` answers a delivery id
  it has seen before (in the open batch, a batch being closed, or any batch closed before: ``letters.jsonl`` in
  the outbox, the ledger of every letter handed to the print shop) with the first receipt, so a resend after a
  crash between our ``send`` and the service's commit never puts a letter into a second batch.
* The open batch lives in ``<outbox>/open/`` (one PDF per letter and ``letters.jsonl``), so a crash loses no
  letter and another process on the same outbox continues it; one process at a time (a lock file serialises).
* Closing is one ``rename`` of ``open/`` to ``closing/<batch id>/`` (from then on the letters belong to that
  batch), then the PDF and the manifest written atomically (temporary file, rename; not written again once
  there), then the letters entered into the ledger, then the folder removed. A crash at any step leaves the
  folder, and the next ``send`` or ``close_batch`` finishes the same batch with the same id, letters and date.
* Private: the outbox, its folders and every file (letters, batches, manifests, ledger) are created 0700/0600:
  they hold citizens' addresses and notices.
* The manifest is formula-escaped as the intake error reports are (a name like ``=HYPERLINK(...)`` stays text in
  Excel).
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
from typing import Any

import pikepdf

from erechnung.intake.errors_report import csv_safe
from erechnung.model.delivery import Channel
from erechnung.model.documents import DocumentKind
from erechnung.pipeline.crash import crashpoint
from erechnung.storage.local import write_durably

from .base import Capabilities, Delivery, MailboxConnector, PermanentFailure, Receipt, StatusEvent
from .registry import entry

__all__ = ["PrintBatch", "PrintConnector", "PrintSettings"]

log = logging.getLogger(__name__)

CHANNEL = Channel.PRINT
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
    #: the municipality's own design, filled from its configuration (``Config.design()``): with several
    #: municipalities in one installation each cover sheet must carry the sender's letterhead, not the default
    design: Any = None


@dataclass(frozen=True)
class PrintBatch:
    batch_id: str
    pdf: Path
    manifest: Path
    letters: int
    pages: int
    sheets: int


#: Where the closing batches wait (one folder per batch id) and the ledger of every letter of a closed batch.
CLOSING = "closing"
LEDGER = "letters.jsonl"
#: Files and folders of the outbox: private to the service's user (addresses, notices).
FILE_MODE, DIR_MODE = 0o600, 0o700


def _private_dir(path: Path) -> None:
    """``path`` (and missing parents) as a folder only its owner can read (0700)."""
    if not path.is_dir():
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        os.chmod(path, DIR_MODE)


def _write_private(path: Path, data: bytes) -> None:
    """``path`` holds ``data`` complete or not at all (temporary file, fsync, rename), 0600."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        write_durably(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _read_lines(path: Path) -> list[dict]:
    """The JSON lines of ``path``; a last line cut short by a crash (no newline) is not there."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.split("\n")[:-1] if line.strip()]


def _append_lines(path: Path, rows: list[dict]) -> None:
    """Append ``rows`` durably (0600); a last line cut short by a crash is cut off first."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        size = os.fstat(fd).st_size
        if size:
            tail = os.pread(fd, min(size, 1 << 16), max(0, size - (1 << 16)))
            if not tail.endswith(b"\n"):
                keep = size - len(tail) + tail.rfind(b"\n") + 1 if b"\n" in tail else 0
                os.ftruncate(fd, keep)
                size = keep
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
        os.pwrite(fd, data, size)
        os.fsync(fd)
    finally:
        os.close(fd)


class PrintConnector(MailboxConnector):
    """The print channel (see the module docstring)."""

    def __init__(self, settings: PrintSettings) -> None:
        self.settings = settings
        self._open_dir = settings.outbox / "open"
        self._closing_dir = settings.outbox / CLOSING
        self._ledger = settings.outbox / LEDGER
        self._ledger_seen: tuple[int, int] | None = None  # (inode, size) of the ledger read into _closed
        self._closed: dict[str, dict] = {}  # delivery id -> its row in a closed batch (with "batch")
        self._thread_lock = threading.Lock()
        self._capabilities = entry(CHANNEL).accepts.capabilities(CHANNEL, None)

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    # ------------------------------------------------------------------------------------------- batch on disk

    @contextmanager
    def _locked(self) -> Iterator[None]:
        _private_dir(self.settings.outbox)
        with self._thread_lock:
            fd = os.open(self.settings.outbox / ".lock", os.O_RDWR | os.O_CREAT, FILE_MODE)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def _letters(self, folder: Path | None = None) -> list[dict]:
        return _read_lines((folder or self._open_dir) / "letters.jsonl")

    def _batch_id(self) -> str:
        marker = self._open_dir / "batch_id"
        if not marker.exists():
            _private_dir(self._open_dir)
            batch_id = datetime.now(timezone.utc).strftime("print-%Y%m%dT%H%M%S%fZ")
            _write_private(marker, batch_id.encode("utf-8"))
        return marker.read_text(encoding="utf-8").strip()

    def _closed_letters(self) -> dict[str, dict]:
        """Every letter of a closed batch by delivery id (the ledger, read again only when it grew)."""
        try:
            st = os.stat(self._ledger)
        except FileNotFoundError:
            return {}
        if self._ledger_seen != (st.st_ino, st.st_size):
            self._closed = {row["delivery_id"]: row for row in _read_lines(self._ledger)}
            self._ledger_seen = (st.st_ino, st.st_size)
        return self._closed

    def _closing(self) -> list[Path]:
        """The batches a crash left half closed, oldest first."""
        if not self._closing_dir.is_dir():
            return []
        return sorted(p for p in self._closing_dir.iterdir() if p.is_dir())

    def _seen(self, delivery_id: str) -> tuple[dict, str] | None:
        """(row, batch id) of the letter ``delivery_id`` if any batch (closed, closing or open) holds it."""
        row = self._closed_letters().get(delivery_id)
        if row is not None:
            return row, row["batch"]
        for folder in self._closing():
            for row in self._letters(folder):
                if row["delivery_id"] == delivery_id:
                    return row, folder.name
        return None

    def open_letters(self) -> int:
        """How many letters wait in the open batch."""
        with self._locked():
            return len(self._letters())

    # ------------------------------------------------------------------------------------------- send

    def send(self, delivery: Delivery) -> Receipt:
        self.check(delivery)
        address = [line.strip() for line in delivery.address.splitlines() if line.strip()]
        if len(address) < 2:
            raise PermanentFailure("ein Brief braucht eine Postanschrift aus mindestens zwei Zeilen (Name, Straße "
                                   "oder Postfach, Postleitzahl und Ort)", channel=CHANNEL,
                                   delivery_id=delivery.delivery_id)
        try:
            with pikepdf.open(io.BytesIO(delivery.content)) as pdf:
                pages = len(pdf.pages)
        except pikepdf.PdfError:
            raise PermanentFailure("das Dokument ist kein lesbares PDF und kann nicht gedruckt werden", channel=CHANNEL,
                                   delivery_id=delivery.delivery_id) from None
        if pages == 0:
            raise PermanentFailure("das Dokument hat keine Seiten", channel=CHANNEL, delivery_id=delivery.delivery_id)
        with self._locked():
            seen = self._seen(delivery.delivery_id)
            if seen is not None:  # a batch being closed or closed before holds it: never a second letter
                return self._receipt(*seen)
            batch_id = self._batch_id()
            letters = self._letters()
            for row in letters:
                if row["delivery_id"] == delivery.delivery_id:
                    return self._receipt(row, batch_id)
            number = len(letters) + 1
            name = f"{number:05d}.pdf"
            _write_private(self._open_dir / name, delivery.content)
            row = {"letter": number, "file": name, "delivery_id": delivery.delivery_id, "kind": delivery.kind.value,
                   "pages": pages, "sha256": delivery.sha256, "address": address,
                   "accepted_at": datetime.now(timezone.utc).isoformat()}
            _append_lines(self._open_dir / "letters.jsonl", [row])
        crashpoint("print.letter_taken")
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
        """Write the open batch as ``<batch id>.pdf`` and ``<batch id>.csv`` into the outbox and start a new one
        (a batch a crash left half closed is finished first); the batch closed, or None when no letter waits."""
        with self._locked():
            batch = None
            for folder in self._closing():
                batch = self._finish(folder)
            if self._letters():
                batch_id = self._batch_id()
                _write_private(self._open_dir / "closed_at", datetime.now(timezone.utc).isoformat().encode())
                _private_dir(self._closing_dir)
                os.rename(self._open_dir, self._closing_dir / batch_id)  # from here the letters are this batch's
                crashpoint("print.batch_closing")
                batch = self._finish(self._closing_dir / batch_id)
        return batch

    def _finish(self, folder: Path) -> PrintBatch:
        """Write the batch of ``folder`` (what is written already stays as it is), enter its letters into the
        ledger, remove the folder."""
        batch_id = folder.name
        letters = self._letters(folder)
        closed_at = datetime.fromisoformat((folder / "closed_at").read_text(encoding="utf-8").strip())
        pdf_path = self.settings.outbox / f"{batch_id}.pdf"
        csv_path = self.settings.outbox / f"{batch_id}.csv"
        rows, total_pages = self._write_pdf(batch_id, letters, pdf_path, folder, closed_at)
        if not csv_path.exists():
            out = io.StringIO()
            writer = csv.writer(out, delimiter=";")
            writer.writerow(MANIFEST_FIELDS)
            writer.writerows([csv_safe(str(r[f])) for f in MANIFEST_FIELDS] for r in rows)
            _write_private(csv_path, out.getvalue().encode("utf-8"))
        crashpoint("print.batch_written")
        closed = self._closed_letters()
        new = [dict(row, batch=batch_id) for row in letters if row["delivery_id"] not in closed]
        if new:
            _append_lines(self._ledger, new)
        shutil.rmtree(folder)
        sheets = sum(r["sheets"] for r in rows)
        log.info("print batch %s closed: %d letters, %d pages", batch_id, len(rows), total_pages)
        return PrintBatch(batch_id, pdf_path, csv_path, len(rows), total_pages, sheets)

    def _write_pdf(self, batch_id: str, letters: list[dict], target: Path, folder: Path,
                   closed_at: datetime) -> tuple[list[dict], int]:
        """The manifest's rows and the batch's pages; the PDF written to ``target`` unless it is there (a batch
        is written once: after a crash only what is missing)."""
        from erechnung.documents.pdfa import DocumentInfo, finish

        s = self.settings
        covers = self._covers(batch_id, letters, closed_at) if s.cover_sheets else None
        rows = []
        sources: list[pikepdf.Pdf] = []  # qpdf copies page contents when saving: the sources stay open until then
        with pikepdf.new() as batch:
            for i, letter in enumerate(letters):
                first = len(batch.pages) + 1
                if covers is not None:
                    batch.pages.append(covers.pages[i])
                doc = pikepdf.open(io.BytesIO((folder / letter["file"]).read_bytes()))
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
        if not target.exists():
            info = DocumentInfo(title=f"Druckauftrag {batch_id}", author=self._design().letterhead.name,
                                subject=f"{len(letters)} Briefe, {total} Seiten")
            _write_private(target, finish(raw.getvalue(), info))
        return rows, total

    def _design(self):  # type: ignore[no-untyped-def]
        from erechnung.config.design import load_design

        return self.settings.design if self.settings.design is not None else load_design(self.settings.design_path)

    def _covers(self, batch_id: str, letters: list[dict], closed_at: datetime) -> pikepdf.Pdf:
        """One cover sheet per letter, all in one PDF (one reportlab document: fonts and letterhead once)."""
        from erechnung.documents.letter import letter_frame
        from erechnung.documents.pdfa import DocumentInfo, canvas_bytes, new_canvas

        design = self._design()
        frame = letter_frame(design)
        f = frame.fonts
        canvas = new_canvas(DocumentInfo(title=f"Deckblätter {batch_id}", author=design.letterhead.name), design)
        today = closed_at.astimezone().strftime("%d.%m.%Y")  # the closing day, also when finished after a crash
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
