"""The notice as people read it: a PDF/A-3 letter in the design of the invoices, the claim embedded where
payment is due, the address in the window and no text over text or over the page's edge.

Page 1 of every sample is rendered to ``out/test-artifacts/notices/<sample>.png`` (pdftoppm, 60 dpi) for a
look by eye.
"""
from __future__ import annotations

import io
import re
import subprocess
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import pikepdf
import pytest
from lxml import etree

from erechnung.documents.checks import pdfa_problems
from erechnung.documents.hybrid import extract_invoice_xml
from erechnung.notices import Notice, NoticeDraft, assess
from erechnung.notices.claim import claim_xml
from erechnung.notices.render import render_notice

from .samples import SAMPLES, draft

ARTIFACTS = Path(__file__).resolve().parents[2] / "out" / "test-artifacts" / "notices"
MM = 72 / 25.4


@lru_cache(maxsize=None)
def _notice(name: str) -> Notice:
    return assess(draft(name))


@lru_cache(maxsize=None)
def _pdf(name: str) -> bytes:
    return render_notice(_notice(name))


def _words(pdf: bytes, tmp_path: Path, page: int | None = None) -> list[list[tuple[float, float, float, float, str]]]:
    """Per page: the words with their boxes (x0, top, x1, bottom in points from the top left)."""
    source = tmp_path / "words.pdf"
    source.write_bytes(pdf)
    pages = ["-f", str(page), "-l", str(page)] if page else []
    html = subprocess.run(["pdftotext", "-bbox", *pages, str(source), "-"], check=True, capture_output=True).stdout
    tree = etree.fromstring(html, etree.HTMLParser(encoding="utf-8"))
    return [[(float(w.get("xmin")), float(w.get("ymin")), float(w.get("xmax")), float(w.get("ymax")), w.text or "")
             for w in p.iter("word")] for p in tree.iter("page")]


def _text(pdf: bytes, tmp_path: Path) -> str:
    source = tmp_path / "text.pdf"
    source.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(source), "-"], check=True, capture_output=True,
                          text=True).stdout


@pytest.mark.xdist_group("validator")
@pytest.mark.parametrize("name", SAMPLES)
def test_notice_is_pdfa3_with_embedded_xrechnung_claim(name, validator):
    pdf = _pdf(name)
    assert pdfa_problems(pdf) == []
    filename, xml, profile = extract_invoice_xml(pdf)
    assert (filename, profile) == ("xrechnung.xml", "XRECHNUNG")
    assert xml == claim_xml(_notice(name))
    result = validator.validate(xml, f"{name}/xrechnung.xml")
    assert result.verdict == "accept", [(m.code, m.text) for m in result.errors]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(ARTIFACTS / f"{name}.pdf"),
                    str(ARTIFACTS / name)], check=True)
    assert (ARTIFACTS / f"{name}.png").stat().st_size > 10_000


def test_notice_without_payment_embeds_nothing(tmp_path):
    data = draft("hundesteuerbescheid").model_dump(mode="json")
    data["already_paid"] = "300.00"  # paid more than assessed: a refund
    notice = assess(NoticeDraft.model_validate(data))
    pdf = render_notice(notice)
    assert pdfa_problems(pdf) == []
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        assert "/AF" not in doc.Root and not doc.attachments
    text = _text(pdf, tmp_path)
    assert "Zu erstatten" in text and "72,00 €" in text and "erstattet" in text
    assert "GiroCode" not in text and "xrechnung.xml" not in text


@pytest.mark.parametrize("name", SAMPLES)
def test_addressee_sits_in_the_din_5008_address_window(name, tmp_path):
    notice = _notice(name)
    words = _words(_pdf(name), tmp_path, page=1)[0]
    window = (20 * MM, (45 + 17.7) * MM, 105 * MM, 90 * MM)  # Form B: Anschriftzone under the Vermerkzone
    for line in (notice.addressee.name, notice.addressee.address.street,
                 f"{notice.addressee.address.post_code} {notice.addressee.address.city}"):
        first = line.split()[0]
        boxes = [w for w in words if w[4] == first and window[0] <= w[0] and w[2] <= window[2]
                 and window[1] <= w[1] and w[3] <= window[3]]
        assert boxes, f"{line!r} is not inside the address window"


@pytest.mark.parametrize("name", SAMPLES)
def test_no_text_overlaps_or_leaves_the_page(name, tmp_path):
    pages = _words(_pdf(name), tmp_path)
    width, height = 210 * MM, 297 * MM
    for number, words in enumerate(pages, 1):
        for x0, top, x1, bottom, text in words:
            assert 8 * MM <= x0 and x1 <= width - 8 * MM and 5 * MM <= top and bottom <= height - 5 * MM, \
                f"page {number}: {text!r} is outside the printable area"
        for i, a in enumerate(words):  # boxes of different words must not intersect (0.5 pt tolerance)
            for b in words[i + 1:]:
                if a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5 and a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5:
                    raise AssertionError(f"page {number}: {a[4]!r} overlaps {b[4]!r}")


def test_letter_states_what_the_law_requires(tmp_path):
    notice = _notice("grundsteuerbescheid")
    text = _text(_pdf("grundsteuerbescheid"), tmp_path)
    flat = re.sub(r"\s+", " ", text)
    for expected in ("Stadt Musterstadt", "Aktenzeichen", notice.file_number, "Kassenzeichen", "19.01.2026",
                     "Sachbearbeitung", "Petra Probe", "Bescheid über die Grundsteuer B",
                     "Sehr geehrter Herr Mustermann,", "Festsetzung", "123,47 € Messbetrag", "495 % Hebesatz",
                     "611,18 €", "Fälligkeit", "15.02.2026", "152,81 €", "15.11.2026", "152,79 €",
                     "DE02 1203 0000 0000 2020 51", "BYLADEM1001", "Rechtsgrundlagen", "§§ 1, 25, 27 und 28",
                     "Rechtsbehelfsbelehrung", "Verwaltungsgericht Musterstadt", "Grundsteuermessbescheid",
                     "Im Auftrag", "Seite 1 von 2", "Seite 2 von 2", "§ 155 Abs. 4 AO", "XRechnung"):
        assert expected in flat, expected
    # the appeal instructions come after their heading and before the closing
    assert flat.index("Rechtsbehelfsbelehrung") < flat.index("innerhalb eines Monats") < flat.index("Im Auftrag")


def test_instalments_are_listed_with_their_due_dates(tmp_path):
    notice = _notice("grundsteuerbescheid")
    text = _text(_pdf("grundsteuerbescheid"), tmp_path)
    for inst in notice.instalments:
        assert re.search(rf"{inst.due_date:%d.%m.%Y}\s+{str(inst.amount).replace('.', ',')}\s€", text)


def test_document_information_names_the_notice():
    with pikepdf.open(io.BytesIO(_pdf("hundesteuerbescheid"))) as doc:
        assert str(doc.docinfo["/Title"]) == "Bescheid über die Hundesteuer 2026"
        assert str(doc.docinfo["/Author"]) == "Stadt Musterstadt"
        assert "22.1-HSt-0042" in str(doc.docinfo["/Keywords"])
        assert str(doc.docinfo["/Keywords"]).endswith(", Art hundesteuerbescheid")  # the kind's id (issue 17)


def test_a_long_notice_breaks_across_pages_with_numbers(tmp_path):
    data = draft("gebuehrenbescheid-sondernutzung").model_dump(mode="json")
    data["assessment"]["items"] = [{"description": f"Sondernutzung Stellplatz {i}", "quantity": "3",
                                    "unit": "Tag", "rate": "12.50"} for i in range(1, 41)]
    data["reasons"] = ["Begründung. " * 120]
    notice = assess(NoticeDraft.model_validate(data))
    assert notice.total == Decimal("1500.00")
    pdf = render_notice(notice)
    assert pdfa_problems(pdf) == []
    pages = _words(pdf, tmp_path)
    assert len(pages) >= 3
    text = _text(pdf, tmp_path)
    assert f"Seite {len(pages)} von {len(pages)}" in text and "Stellplatz 40" in text
    assert any(w[4] == "Bemessungsgrundlage" for w in pages[1]), "the table header is repeated on page 2"
    for number, words in enumerate(pages, 1):
        assert all(5 * MM <= w[1] and w[3] <= 292 * MM for w in words), number
