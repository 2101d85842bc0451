"""Print, the last fallback: undeliverable letters become one print-ready PDF batch (a cover sheet with the
address in the DIN 5008 window before each letter) and a CSV manifest for the print shop."""
from __future__ import annotations

import csv
import subprocess
from functools import lru_cache

import pikepdf
import pytest

from erechnung.documents.pdfa import DocumentInfo, render
from mailbox_connectors.base import Delivery, PermanentFailure
from mailbox_connectors.print import PrintConnector, PrintSettings

ERIKA = "Erika Mustermann\nHauptstraße 5\n12345 Musterstadt"
MAX = "Max Müller GmbH\nz. Hd. Buchhaltung\nIndustriestr. 12\n54321 Beispielstadt"


@lru_cache(maxsize=None)
def invoice_pdf() -> bytes:
    from erechnung.entrypoints.demo.invoices import sample_invoices
    from erechnung.documents.hybrid import make_hybrid

    return make_hybrid(next(iter(sample_invoices().values())))


@lru_cache(maxsize=None)
def notice_pdf(pages: int = 3) -> bytes:
    def draw(canvas):
        for n in range(1, pages + 1):
            canvas.drawString(72, 700, f"Bescheid Seite {n}")
            canvas.showPage()
    return render(draw, DocumentInfo(title="Bescheid", author="Stadt Musterstadt"))


def letter(delivery_id: str, address: str, *, kind: str = "invoice", content: bytes | None = None,
           format: str = "zugferd") -> Delivery:
    content = content if content is not None else (notice_pdf() if kind == "notice" else invoice_pdf())
    return Delivery(delivery_id=delivery_id, kind=kind, format=format, content=content, filename=f"{delivery_id}.pdf",
                    media_type="application/pdf", address=address, subject="Brief")


def page_text(pdf, page: int) -> str:
    return subprocess.run(["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout


def pages_of(data: bytes) -> int:
    import io
    with pikepdf.open(io.BytesIO(data)) as pdf:
        return len(pdf.pages)


def test_undeliverable_letters_become_one_print_batch_with_address_sheets(tmp_path):
    printer = PrintConnector(PrintSettings(outbox=tmp_path))
    receipts = [printer.send(letter("dlv-a", ERIKA)), printer.send(letter("dlv-b", MAX, kind="notice",
                                                                          format="pdfa"))]
    assert printer.open_letters() == 2
    batch = printer.close_batch()

    invoice_pages, notice_pages = pages_of(invoice_pdf()), pages_of(notice_pdf())
    assert batch.letters == 2 and batch.pages == 2 + invoice_pages + notice_pages
    with pikepdf.open(batch.pdf) as pdf:
        assert len(pdf.pages) == batch.pages
        assert "/OutputIntents" in pdf.Root  # PDF/A: output intent and XMP claim
        assert b"<pdfaid:part>3</pdfaid:part>" in pdf.Root.Metadata.read_bytes()

    cover_a = page_text(batch.pdf, 1)
    for line in ERIKA.splitlines():
        assert line in cover_a
    assert "Anlage: Rechnung" in cover_a and "Stadt Musterstadt" in cover_a
    cover_b = page_text(batch.pdf, 2 + invoice_pages)
    assert "Max Müller GmbH" in cover_b and "54321 Beispielstadt" in cover_b and "Anlage: Bescheid, 3 Seiten" in cover_b
    assert "Bescheid Seite 1" in page_text(batch.pdf, 3 + invoice_pages)
    assert "Bescheid Seite 3" in page_text(batch.pdf, batch.pages)

    with batch.manifest.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    assert [r["delivery_id"] for r in rows] == ["dlv-a", "dlv-b"]
    assert rows[0]["first_page"] == "1" and rows[0]["last_page"] == str(1 + invoice_pages)
    assert rows[1]["first_page"] == str(2 + invoice_pages) and rows[1]["last_page"] == str(batch.pages)
    assert rows[1]["address"] == "Max Müller GmbH | z. Hd. Buchhaltung | Industriestr. 12 | 54321 Beispielstadt"
    assert rows[0]["sha256"] == letter("dlv-a", ERIKA).sha256

    assert [r.channel_message_id for r in receipts] == [f"{batch.batch_id}/1", f"{batch.batch_id}/2"]
    assert printer.open_letters() == 0 and printer.close_batch() is None


def test_duplex_starts_every_letter_on_a_new_sheet(tmp_path):
    printer = PrintConnector(PrintSettings(outbox=tmp_path, duplex=True))
    printer.send(letter("dlv-1", ERIKA, kind="notice", format="pdfa"))  # cover + 3 pages = 4
    printer.send(letter("dlv-2", MAX, kind="notice", format="pdfa", content=notice_pdf(2)))  # cover + 2 -> 4
    batch = printer.close_batch()
    assert batch.pages == 8 and batch.sheets == 4
    assert page_text(batch.pdf, 4).strip() == "Bescheid Seite 3" and page_text(batch.pdf, 8).strip() == ""


def test_the_open_batch_survives_a_restart_and_a_letter_is_taken_once(tmp_path):
    first = PrintConnector(PrintSettings(outbox=tmp_path))
    receipt = first.send(letter("dlv-1", ERIKA))
    again = PrintConnector(PrintSettings(outbox=tmp_path))  # e.g. after a crash
    assert again.send(letter("dlv-1", ERIKA)) == receipt
    again.send(letter("dlv-2", MAX))
    batch = again.close_batch()
    assert batch.letters == 2 and batch.batch_id == receipt.channel_message_id.split("/")[0]


def test_only_pdfs_with_a_postal_address_can_be_printed(tmp_path):
    printer = PrintConnector(PrintSettings(outbox=tmp_path))
    with pytest.raises(PermanentFailure, match="nimmt das Format xrechnung nicht an"):
        printer.send(letter("dlv-x", ERIKA, format="xrechnung", content=b"<Invoice/>"))
    with pytest.raises(PermanentFailure, match="kein lesbares PDF"):
        printer.send(letter("dlv-y", ERIKA, content=b"%PDF-1.7 broken"))
    with pytest.raises(PermanentFailure, match="Postanschrift"):
        printer.send(letter("dlv-z", "erika@example.org"))
    assert printer.capabilities.notices.value == "carry" and printer.collect_events() == []
    assert printer.open_letters() == 0
