"""Issue 11: the recipient register's Anrede is the letter's salutation. Invoices always said "Sehr geehrte
Damen und Herren," whatever the register's Anrede column held (notices used it already)."""
from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

from erechnung.builder import build_invoice, customer, item_line, municipality
from erechnung.documents.invoice_pdf import render_invoice

ROOT = Path(__file__).resolve().parents[2]


def _text(pdf: bytes, path: Path) -> str:
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True,
                          check=True).stdout.decode("utf-8")


def _invoice():
    seller = municipality("Stadt Musterstadt", street="Rathausplatz 1", post_code="12345", city="Musterstadt",
                          contact_name="Stadtkasse", contact_phone="+49 1234 567-0",
                          contact_email="stadtkasse@musterstadt.example",
                          electronic_address="rechnung@musterstadt.example", vat_id="DE123456789")
    buyer = customer("Erika Mustermann", street="Am Weg 3", post_code="12345", city="Musterstadt",
                     electronic_address=None)
    return build_invoice(number="RE-1", issue_date=date(2026, 11, 2), seller=seller, buyer=buyer, leitweg_id="RE-1",
                         iban="DE02120300000000202051", kassenzeichen="K-1", due_date=date(2026, 12, 2),
                         lines=[item_line("Miete", 1, "10.00", vat_rate=19)])


def test_an_invoice_greets_with_the_registers_salutation(tmp_path):
    text = _text(render_invoice(_invoice(), salutation="Sehr geehrte Frau Mustermann,"), tmp_path / "a.pdf")
    assert "Sehr geehrte Frau Mustermann," in text and "Damen und Herren" not in text
    text = _text(render_invoice(_invoice()), tmp_path / "b.pdf")
    assert "Sehr geehrte Damen und Herren," in text  # no Anrede in the register: the design's greeting


def test_the_pipelines_invoices_greet_their_recipients_as_the_register_says(tmp_path):
    from erechnung.entrypoints.demo.pipeline import config_text
    from erechnung.pipeline import Options, run

    (tmp_path / "config.toml").write_text(config_text(tmp_path), encoding="utf-8")
    shutil.copytree(ROOT / "examples" / "batches" / "standesamt", tmp_path / "dropzones" / "standesamt")
    run(tmp_path / "config.toml", db_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", options=Options(workers=1),
        work_dir=tmp_path / "work", report_dir=tmp_path / "reports")
    greetings = set()
    for i, pdf in enumerate(p for p in (tmp_path / "archive").rglob("*") if p.is_file()
                            and p.read_bytes()[:4] == b"%PDF"):
        lines = _text(pdf.read_bytes(), tmp_path / f"{i}.pdf").splitlines()
        if any(line.startswith("Rechnung STA-") for line in lines):  # the invoices (ZUGFeRD) of the batch
            greetings |= {line for line in lines if line.startswith("Sehr geehrte")}
    # examples/recipients.csv: the Anrede of K-10001 and K-10003; firms without one keep the design's greeting
    assert {"Sehr geehrte Frau Mustermann,", "Sehr geehrte Frau Yıldız,"} <= greetings, greetings
