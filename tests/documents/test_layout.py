"""The one layout engine of invoices and notices (documents.layout): a block longer than a page is split across
pages, never dropped and never drawn over the bottom margin, whether it can split itself (a paragraph, a table row)
or not; and an invoice and a notice with such a block both paginate it. Text is read back with pdftotext."""
from __future__ import annotations

import json
import re
import subprocess
from datetime import date
from pathlib import Path

from lxml import etree

from erechnung.builder import build_invoice, customer, item_line
from erechnung.entrypoints.demo.invoices import _stadt
from erechnung.documents.checks import pdfa_problems
from erechnung.documents.invoice_pdf import render_invoice
from erechnung.documents.layout import Block, paginate
from erechnung.documents.letter import letter_frame
from erechnung.notices import NoticeDraft, assess
from erechnung.notices.render import render_notice

EXAMPLE_NOTICE = Path(__file__).resolve().parents[2] / "examples" / "notices" / "gebuehrenbescheid-sondernutzung.json"
PAGE_HEIGHT = 842.0  # A4 in points


def _noop(canvas, y) -> None:
    return None


def _lines_block(lines: int, leading: float = 10.0) -> Block:
    """A block of ``lines`` lines that splits between them."""
    def split(room: float):
        k = int(room // leading)
        return None if k < 1 or k >= lines else (_lines_block(k, leading), _lines_block(lines - k, leading))
    return Block(lines * leading, _noop, split=split)


def _check(pages, top: float, bottom: float) -> None:
    for placed in pages:
        for y, block in placed:
            assert y <= top and y - block.height >= bottom - 1e-6, (y, block.height)


def test_a_block_that_splits_itself_runs_over_as_many_pages_as_it_needs():
    pages = paginate([_lines_block(3), _lines_block(250)], first_top=700, next_top=800, bottom=100)
    _check(pages, 800, 100)
    assert len(pages) == 4
    assert sum(block.height for placed in pages for _, block in placed) == 2530


def test_a_block_that_cannot_split_is_cut_at_the_bottom_and_continued_not_dropped():
    header = Block(20, _noop, keep_with_next=True)
    tall = Block(1500, _noop, header=header)
    pages = paginate([Block(30, _noop), header, tall, Block(40, _noop)], first_top=700, next_top=800, bottom=100)
    _check(pages, 800, 100)
    assert sum(block.height for placed in pages for _, block in placed if block is not header) == 1570
    for placed in pages[1:]:
        assert placed[0][1] is header  # the table's header again on every page the row continues on


def test_a_block_whose_split_refuses_the_whole_room_is_split_with_less():
    def no_orphans(lines: int):
        def split(room: float):
            k = int(room // 10)
            if k < 2 or lines - k < 2:
                return None
            return no_orphans(k), no_orphans(lines - k)
        return Block(lines * 10.0, _noop, split=split)
    pages = paginate([no_orphans(71)], first_top=800, next_top=800, bottom=100)  # 70 lines a page
    _check(pages, 800, 100)
    assert [block.height for placed in pages for _, block in placed] == [520, 190]


def test_a_block_longer_than_a_page_is_split_even_as_the_first_on_its_page():
    pages = paginate([_lines_block(100)], first_top=500, next_top=800, bottom=100)
    _check(pages, 800, 100)
    assert len(pages) == 2


def _words(pdf: bytes) -> list[list[tuple[float, str]]]:
    """Per page: (bottom of the word in points from the page's top, word)."""
    html = subprocess.run(["pdftotext", "-bbox", "-", "-"], input=pdf, capture_output=True, check=True,
                          timeout=60).stdout
    tree = etree.fromstring(html, etree.HTMLParser(encoding="utf-8"))
    return [[(float(w.get("ymax")), w.text or "") for w in page.iter("word")] for page in tree.iter("page")]


def _assert_all_lines_inside_the_body(pdf: bytes, marker: str, count: int) -> None:
    bottom = PAGE_HEIGHT - letter_frame().body_bottom
    pages = _words(pdf)
    assert len(pages) >= 2
    found = [int(m) for words in pages for i, (ymax, word) in enumerate(words)
             if word == marker and i + 1 < len(words) and ymax <= bottom + 1
             for m in re.findall(r"^(\d+)$", words[i + 1][1])]
    assert sorted(found) == list(range(1, count + 1))  # every line once, each above the bottom margin


def test_an_invoice_note_longer_than_a_page_is_paginated():
    note = "\n".join(f"Vermerk {i} zur Abrechnung des Winterdienstes" for i in range(1, 151))
    invoice = build_invoice(number="RE-2026-0815", issue_date=date(2026, 12, 31), seller=_stadt(),
                            buyer=customer("Sportverein Musterstadt e. V.", street="Am Sportplatz 3",
                                           post_code="12345", city="Musterstadt",
                                           electronic_address="kasse@sv-musterstadt.example"),
                            leitweg_id="991-33333TEST-33", iban="DE02120300000000202051",
                            due_date=date(2027, 1, 31), notes=[note],
                            lines=[item_line("Winterdienst Dezember", 1, "980.00", vat_rate=19)])
    pdf = render_invoice(invoice)
    assert pdfa_problems(pdf) == []
    _assert_all_lines_inside_the_body(pdf, "Vermerk", 150)


def test_a_notice_item_and_reason_longer_than_a_page_are_paginated():
    data = json.loads(EXAMPLE_NOTICE.read_text(encoding="utf-8"))
    data["assessment"]["items"][0]["description"] = "\n".join(f"Stellplatz {i} am Markt" for i in range(1, 121))
    data["reasons"] = ["\n".join(f"Grund {i} der Festsetzung" for i in range(1, 121))]
    pdf = render_notice(assess(NoticeDraft.model_validate(data)))
    assert pdfa_problems(pdf) == []
    _assert_all_lines_inside_the_body(pdf, "Stellplatz", 120)
    _assert_all_lines_inside_the_body(pdf, "Grund", 120)
