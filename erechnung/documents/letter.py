"""The DIN 5008 letter frame (Form B) in the municipality's design, for invoices and notices alike.

    frame = letter_frame(design)                 # laid out once per process and design
    frame.first_page(canvas, recipient=[...], info=[("Rechnungsnummer", "R-1"), ...])
    ... body from frame.first_body_top(info_bottom) down to frame.body_bottom ...
    frame.next_page(canvas, running_head="Rechnung R-1")
    frame.page_number(canvas, 2, 3)              # "Seite 2 von 3"

The static parts of a page (letterhead with logo, return address, fold and hole marks, footer with the bank
details; on following pages a running head) are one form XObject per kind, drawn once per document and
placed on each page; the text they show is cleaned, measured and wrapped once per process.

Coordinates are reportlab points from the bottom left; ``Design.x``/``Design.y`` convert DIN 5008's
millimetres from the top left.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from ..config.design import MM, Design, load_design
from .pdfa import FontSet, draw_image, fonts, image_size, rgb, wrap

FIRST_FORM, NEXT_FORM = "erechnungLetterFirst", "erechnungLetterNext"


@dataclass(frozen=True)
class Line:
    """One line of text placed once per process: position, font, size, colour, alignment."""

    x: float
    y: float
    text: str
    font: str
    size: float
    colour: tuple[float, float, float]
    align: str = "left"  # left, right


class LetterFrame:
    """The page frame of one design (see the module docstring)."""

    def __init__(self, design: Design) -> None:
        self.design = design
        d, page = design, design.page
        self.fonts: FontSet = fonts(design)
        f = self.fonts
        self.text_colour, self.muted = rgb(d.colors.text), rgb(d.colors.muted)
        self.primary, self.rule = rgb(d.colors.primary), rgb(d.colors.rule)
        self.body_left = d.x(page.margin_left)
        self.body_right = d.x(210 - page.margin_right)
        self.body_width = self.body_right - self.body_left
        self.body_bottom = d.y(297 - page.margin_bottom)
        self.next_body_top = d.y(page.margin_top + 6)
        window = page.address_window
        self.window_left = d.x(window.left + 5)  # DIN 5008: text 5 mm inside the window
        self.window_width = (window.width - 5) * MM
        self.recipient_top = d.y(window.top + window.return_address_zone)
        self.recipient_bottom = d.y(window.top + window.height)
        self.info_left = d.x(page.info_block.left)
        self.info_width = page.info_block.width * MM
        self.info_top = d.y(page.info_block.top)
        self.subject_y = d.y(page.subject_top)

        head: list[Line] = []
        name_size = 15
        logo_w = d.letterhead.logo_width * MM
        head.append(Line(self.body_left, d.y(20), f.clean(d.letterhead.name), f.bold, name_size, self.primary))
        for i, text in enumerate(d.letterhead.lines):
            head.append(Line(self.body_left, d.y(20) - 12 - i * 10, f.clean(text), f.regular, 8.5, self.muted))
        self.logo = None
        if d.letterhead.logo is not None:
            w_px, h_px = image_size(d.letterhead.logo)
            logo_h = logo_w * h_px / w_px
            self.logo = (str(d.letterhead.logo), self.body_right - logo_w, d.y(10) - logo_h, logo_w, logo_h)
        return_size = 6.5
        return_text = f.clean(d.letterhead.return_address)
        while stringWidth(return_text, f.regular, return_size) > self.window_width and return_size > 5:
            return_size -= 0.25
        self.return_line = Line(self.window_left, self.recipient_top + 1.5 * MM, return_text, f.regular,
                                return_size, self.muted)
        self.head_lines = tuple(head)
        self.footer_lines = self._footer()
        self.running_name = Line(self.body_left, d.y(page.margin_top) + 6, f.clean(d.letterhead.name), f.bold,
                                 8, self.primary)

    # ----------------------------------------------------------------------------------------- static parts

    def _footer(self) -> tuple[Line, ...]:
        d, f = self.design, self.fonts
        bank = d.bank
        columns = [list(c) for c in d.footer.columns]
        columns.append([bank.account_holder] + ([bank.bank_name] if bank.bank_name else [])
                       + ["IBAN " + format_iban(bank.iban)]
                       + ([f"BIC {bank.bic}"] if bank.bic else []))
        width = self.body_width / len(columns)
        size, lines = 6.5, []
        top = self.body_bottom - 8 * MM
        for i, column in enumerate(columns):
            for j, text in enumerate(column):
                text = f.clean(text)
                while stringWidth(text, f.regular, size) > width - 4 and len(text) > 4:
                    text = text[:-2] + "…"
                lines.append(Line(self.body_left + i * width, top - j * 8.5, text, f.regular, size, self.muted))
        return tuple(lines)

    def _draw_lines(self, canvas: Canvas, lines: Sequence[Line]) -> None:
        for line in lines:
            canvas.setFont(line.font, line.size)
            canvas.setFillColorRGB(*line.colour)
            if line.align == "right":
                canvas.drawRightString(line.x, line.y, line.text)
            else:
                canvas.drawString(line.x, line.y, line.text)

    def _marks(self, canvas: Canvas) -> None:
        page = self.design.page
        canvas.setStrokeColorRGB(*self.rule)
        canvas.setLineWidth(0.5)
        for mark in page.fold_marks:
            canvas.line(3 * MM, self.design.y(mark), 8 * MM, self.design.y(mark))
        if page.hole_mark is not None:
            canvas.line(3 * MM, self.design.y(page.hole_mark), 10 * MM, self.design.y(page.hole_mark))
        canvas.line(self.body_left, self.body_bottom - 4.5 * MM, self.body_right, self.body_bottom - 4.5 * MM)

    def _forms(self, canvas: Canvas) -> None:
        """Define this document's two page forms (once per document)."""
        if getattr(canvas, "_erechnung_letter_forms", False):
            return
        canvas.beginForm(FIRST_FORM)
        self._draw_lines(canvas, self.head_lines)
        if self.logo is not None:
            path, x, y, w, h = self.logo
            draw_image(canvas, path, x, y, w, h)
        self._draw_lines(canvas, (self.return_line,))
        self._marks(canvas)
        self._draw_lines(canvas, self.footer_lines)
        canvas.endForm()
        canvas.beginForm(NEXT_FORM)
        self._draw_lines(canvas, (self.running_name,))
        canvas.setStrokeColorRGB(*self.rule)
        canvas.setLineWidth(0.5)
        canvas.line(self.body_left, self.running_name.y - 4, self.body_right, self.running_name.y - 4)
        self._marks(canvas)
        self._draw_lines(canvas, self.footer_lines)
        canvas.endForm()
        canvas._erechnung_letter_forms = True  # type: ignore[attr-defined]

    # ----------------------------------------------------------------------------------------- per document

    def first_page(self, canvas: Canvas, *, recipient: Sequence[str], info: Sequence[tuple[str, str]],
                   return_address: str | None = None) -> float:
        """Page 1's frame, the recipient in the address window and the information block; returns the
        y below the information block (the body starts at ``first_body_top`` of it)."""
        self._forms(canvas)
        canvas.doForm(FIRST_FORM)
        f = self.fonts
        if return_address is not None:  # another sender than the letterhead (in place of the design's line)
            canvas.setFillColorRGB(1, 1, 1)
            canvas.rect(self.window_left - 1, self.return_line.y - 2, self.window_width + 2, 9, stroke=0, fill=1)
            text, size = f.clean(return_address), self.return_line.size
            while stringWidth(text, f.regular, size) > self.window_width and size > 5:
                size -= 0.25
            canvas.setFont(f.regular, size)
            canvas.setFillColorRGB(*self.muted)
            canvas.drawString(self.window_left, self.return_line.y, text)
        self.draw_recipient(canvas, recipient)
        return self.draw_info_block(canvas, info)

    def draw_recipient(self, canvas: Canvas, lines: Sequence[str]) -> None:
        """Up to six lines in the address window's Anschriftzone (long lines wrapped, the rest left out)."""
        f = self.fonts
        size, leading = 10, 12
        wrapped: list[str] = []
        for line in lines:
            wrapped.extend(wrap(f.clean(line), f.regular, size, self.window_width))
        canvas.setFillColorRGB(*self.text_colour)
        canvas.setFont(f.regular, size)
        y = self.recipient_top - 10
        for line in wrapped[:6]:
            canvas.drawString(self.window_left, y, line)
            y -= leading

    def info_layout(self, entries: Sequence[tuple[str, str]]) -> tuple[list[tuple[float, str, float, str]], float]:
        """Where the information block's lines go: ([(y, label, value x, value line)], y below the block).
        Values start 2 mm right of the longest label; a value without label (contact lines) uses the block's
        full width."""
        f = self.fonts
        labels = [stringWidth(f.clean(label), f.regular, 7) for label, _ in entries if label]
        label_width = max([18 * MM, *labels]) + 2 * MM
        placed: list[tuple[float, str, float, str]] = []
        y = self.info_top - 8
        for label, value in entries:
            if not label and not value:
                y -= 5
                continue
            indent = label_width if label else 0
            for i, line in enumerate(wrap(f.clean(value), f.regular, 8, self.info_width - indent)):
                placed.append((y, f.clean(label) if i == 0 else "", self.info_left + indent, line))
                y -= 10
        return placed, y

    def draw_info_block(self, canvas: Canvas, entries: Sequence[tuple[str, str]]) -> float:
        """Label/value pairs beside the address field (labels muted, values wrapped); returns the y below."""
        placed, bottom = self.info_layout(entries)
        f = self.fonts
        for y, label, x, line in placed:
            if label:
                canvas.setFont(f.regular, 7)
                canvas.setFillColorRGB(*self.muted)
                canvas.drawString(self.info_left, y, label)
            canvas.setFont(f.regular, 8)
            canvas.setFillColorRGB(*self.text_colour)
            canvas.drawString(x, y, line)
        return bottom

    def first_body_top(self, below_info: float) -> float:
        """Where page 1's body (the subject line) starts: DIN 5008's subject position, lower when the
        information block reaches further down."""
        return min(self.subject_y, below_info - 4 * MM)

    def next_page(self, canvas: Canvas, running_head: str = "") -> None:
        self._forms(canvas)
        canvas.doForm(NEXT_FORM)
        if running_head:
            canvas.setFont(self.fonts.regular, 8)
            canvas.setFillColorRGB(*self.muted)
            canvas.drawRightString(self.body_right, self.running_name.y, self.fonts.clean(running_head))

    def page_number(self, canvas: Canvas, number: int, total: int) -> None:
        canvas.setFont(self.fonts.regular, 7.5)
        canvas.setFillColorRGB(*self.muted)
        canvas.drawRightString(self.body_right, self.body_bottom - 3 * MM, f"Seite {number} von {total}")


def format_iban(iban: str) -> str:
    compact = iban.replace(" ", "")
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


_FRAMES: dict[tuple[str, tuple[tuple[str, str], ...]], LetterFrame] = {}


def letter_frame(design: Design | None = None) -> LetterFrame:
    """The frame of ``design`` (default design if None), laid out once per process per design folder and
    municipality (one folder may serve several municipalities, each with its own values)."""
    design = design or load_design()
    key = (str(design.source), design.values)
    if key not in _FRAMES:
        if len(_FRAMES) >= 16:
            _FRAMES.pop(next(iter(_FRAMES)))
        _FRAMES[key] = LetterFrame(design)
    return _FRAMES[key]
