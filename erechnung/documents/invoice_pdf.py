"""The readable invoice: the EN 16931 model as a DIN 5008 letter in the municipality's design (PDF/A-3b).

``render_invoice(invoice, design=None) -> bytes`` gives the PDF/A-3 alone; ``draw_invoice(canvas, invoice,
frame)`` draws onto a canvas from ``pdfa.new_canvas`` (``hybrid.make_hybrid`` adds the CII). What the reader
finds, in German:

page 1    letterhead, the buyer's address in the address window, the information block (invoice number and
          date, customer number, Leitweg-ID, Kassenzeichen, service period, due date, contact), the subject
body      references (preceding invoice, order, contract, ...), greeting and intro, the lines table (position,
          item with description, period, notes, price details, line allowances and charges; quantity and unit,
          unit price, VAT rate, net amount) whose header repeats on every page, the document allowances and
          charges, the totals with one VAT line per breakdown, exemption reasons, notes, payment terms, the
          payment block (how to pay, IBAN, BIC, Kassenzeichen, amount, due date, and the GiroCode for a
          SEPA credit transfer in euro), closing, the seller's tax and register details
each page "Seite x von y", the footer with the bank details

Layout first, drawing second (``layout.paginate``, as for notices): the body is a list of blocks with known
heights, paginated before anything is drawn, so that the page count is known for "Seite x von y" and a line item
that does not fit moves to the next page (a line item longer than a page is split between its text lines).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from ..model import Invoice, InvoiceLine
from ..model.codes import CREDIT_NOTE_TYPE_CODES, CREDIT_TRANSFER_MEANS, DIRECT_DEBIT_MEANS
from . import german as de
from ..config.design import MM, Design, load_design
from .layout import Block, paginate
from .letter import LetterFrame, format_iban, letter_frame
from .pdfa import DocumentInfo, canvas_bytes, finish, new_canvas, wrap
from .qr import GiroCodeError, draw_qr, epc_payload, qr_rows

LEITWEG_ID = re.compile(r"\d{2,12}(-[A-Za-z0-9]{1,30})?-\d{2}")
SHORT_VAT = {"Z": "0 %", "E": "frei", "AE": "§ 13b", "K": "igL", "G": "Ausfuhr", "O": "n. st."}

BODY, SMALL, TABLE = 9.0, 7.5, 8.5  # font sizes
LEADING, SMALL_LEADING = 11.5, 9.2


# --------------------------------------------------------------------------------------------- blocks


@dataclass
class Pen:
    """Draws text on one canvas, setting font and colour only when they change (also when something else changed
    them, such as a clipped block's restored graphics state)."""

    canvas: Canvas
    font: str = ""
    size: float = 0
    colour: tuple = ()
    state: tuple = ()  # the canvas's font, size and fill colour as this pen last left them

    def _current(self) -> None:
        c = self.canvas
        if self.state and self.state != (c._fontname, c._fontsize, c._fillColorObj):
            self.font, self.size, self.colour = "", 0, ()

    def _remember(self) -> None:
        c = self.canvas
        self.state = (c._fontname, c._fontsize, c._fillColorObj)

    def text(self, x: float, y: float, text: str, font: str, size: float, colour: tuple,
             align: str = "left") -> None:
        c = self.canvas
        self._current()
        if (font, size) != (self.font, self.size):
            c.setFont(font, size)
            self.font, self.size = font, size
        if colour != self.colour:
            c.setFillColorRGB(*colour)
            self.colour = colour
        self._remember()
        if align == "right":
            c.drawRightString(x, y, text)
        else:
            c.drawString(x, y, text)

    def fill(self, colour: tuple) -> None:
        self._current()
        if colour != self.colour:
            self.canvas.setFillColorRGB(*colour)
            self.colour = colour
        self._remember()


@dataclass(frozen=True)
class Span:
    """One line of text in a cell."""

    text: str
    font: str
    size: float
    colour: tuple
    leading: float


@dataclass
class Layout:
    """Everything about one invoice that drawing needs: frame, fonts, colours, columns."""

    invoice: Invoice
    frame: LetterFrame
    design: Design
    pen: Pen | None = None
    currency: str = "EUR"
    columns: dict[str, tuple[float, float]] = field(default_factory=dict)
    salutation: str | None = None  # the recipient register's Anrede; else the design's greeting

    def __post_init__(self) -> None:
        self.currency = self.invoice.currency_code
        f = self.frame
        scale = f.body_width / (165 * MM)
        edges = {"pos": (0, 9), "desc": (9, 78), "qty": (78, 95), "unit": (97, 110), "price": (110, 133),
                 "vat": (133, 144), "amount": (144, 165)}
        self.columns = {k: (f.body_left + a * MM * scale, f.body_left + b * MM * scale) for k, (a, b) in edges.items()}

    @property
    def f(self):
        return self.frame.fonts

    def money(self, value: Decimal | None, signed: bool = False) -> str:
        return "" if value is None else de.money(value, self.currency, signed=signed)

    def wrap(self, text: str, font: str, size: float, width: float) -> list[str]:
        """Wrapped lines of ``text``; its own line breaks kept, blank lines dropped."""
        clean = self.f.clean
        lines = [line for part in text.strip().splitlines() if part.strip()
                 for line in wrap(clean(part), font, size, width)]
        return lines or [""]

    def fit(self, text: str, font: str, size: float, width: float) -> float:
        """The font size (down to 6 pt) at which ``text`` fits into ``width``."""
        while size > 6 and stringWidth(text, font, size) > width:
            size -= 0.5
        return size


# --------------------------------------------------------------------------------------------- public API


def invoice_info(invoice: Invoice, profile: str | None = None) -> DocumentInfo:
    """Title, author, subject and keywords of the invoice's PDF (document information and XMP)."""
    kind = "Gutschrift" if invoice.type_code in CREDIT_NOTE_TYPE_CODES else "Rechnung"
    keywords = [kind, invoice.number] + (["ZUGFeRD", "Factur-X", profile] if profile else [])
    return DocumentInfo(title=f"{kind} {invoice.number}", author=invoice.seller.name,
                        subject=f"{kind} {invoice.number} vom {de.day(invoice.issue_date)} an {invoice.buyer.name}",
                        keywords=", ".join(keywords), creator="erechnung")


def render_invoice(invoice: Invoice, design: Design | None = None, salutation: str | None = None) -> bytes:
    """The invoice as PDF/A-3b (without the XML; see ``hybrid.make_hybrid`` for that); ``salutation``: the
    recipient register's Anrede ("Sehr geehrte Frau Mustermann,"), else the design's greeting."""
    design = design or load_design()
    info = invoice_info(invoice)
    canvas = new_canvas(info, design)
    draw_invoice(canvas, invoice, letter_frame(design), salutation)
    return finish(canvas_bytes(canvas), info)


def draw_invoice(canvas: Canvas, invoice: Invoice, frame: LetterFrame, salutation: str | None = None) -> int:
    """Draw every page of the invoice; returns the page count."""
    lay = Layout(invoice, frame, frame.design, Pen(canvas), salutation=(salutation or "").strip() or None)
    info = _info_entries(lay)
    first_top = frame.first_body_top(_info_bottom(lay, info))
    header = _table_header(lay)
    pages = paginate(_body(lay, header), first_top, frame.next_body_top, frame.body_bottom)
    running = f"{_kind(invoice)} {invoice.number}"
    for number, placed in enumerate(pages, 1):
        lay.pen = Pen(canvas)
        if number == 1:
            frame.first_page(canvas, recipient=_recipient(invoice), info=info, return_address=_return_address(lay))
        else:
            frame.next_page(canvas, running_head=running)
        lay.pen = Pen(canvas)  # the frame changed font and colour
        for y, block in placed:
            block.draw(canvas, y)
        frame.page_number(canvas, number, len(pages))
        canvas.showPage()
    return len(pages)


# --------------------------------------------------------------------------------------------- page 1


def _kind(invoice: Invoice) -> str:
    return "Gutschrift" if invoice.type_code in CREDIT_NOTE_TYPE_CODES else "Rechnung"


def _is_municipality(lay: Layout) -> bool:
    return lay.invoice.seller.name.strip() == lay.design.letterhead.name.strip()


def _return_address(lay: Layout) -> str | None:
    if _is_municipality(lay):
        return None
    s = lay.invoice.seller
    a = s.address
    place = " ".join(p for p in (a.post_code, a.city) if p)
    return " · ".join(p for p in (s.name, a.line1, place, de.country(a.country_code)) if p)


def _recipient(invoice: Invoice) -> list[str]:
    b = invoice.buyer
    a = b.address
    lines = [b.name]
    if b.contact is not None and b.contact.name:
        lines.append(f"z. Hd. {b.contact.name}")
    lines += [line for line in (a.line1, a.line2, a.line3) if line]
    lines.append(" ".join(p for p in (a.post_code, a.city) if p))
    if de.country(a.country_code):
        lines.append(de.country(a.country_code).upper())
    while len(lines) > 6:  # DIN 5008: six lines; the contact person goes first, then the extra address lines
        lines.pop(1 if lines[1].startswith("z. Hd.") else len(lines) - 3)
    return lines


def _payment(invoice: Invoice):
    return invoice.payment_instructions[0] if invoice.payment_instructions else None


def _info_entries(lay: Layout) -> list[tuple[str, str]]:
    inv = lay.invoice
    credit = inv.type_code in CREDIT_NOTE_TYPE_CODES
    entries: list[tuple[str, str]] = []
    if not _is_municipality(lay):
        entries.append(("Rechnungssteller", inv.seller.name))
    entries += [("Gutschriftsnummer" if credit else "Rechnungsnummer", inv.number),
                ("Datum" if credit else "Rechnungsdatum", de.day(inv.issue_date))]
    for before in inv.preceding_invoices:  # BG-3: the invoice a credit note or a corrected invoice refers to
        entries.append(("zur Rechnung" if credit else "ersetzt Rechnung", before.number + (
            f" vom {de.day(before.issue_date)}" if before.issue_date else "")))
    if inv.buyer.identifier is not None:
        entries.append(("Kundennummer", inv.buyer.identifier.value))
    if inv.buyer_reference:
        label = "Leitweg-ID" if LEITWEG_ID.fullmatch(inv.buyer_reference) else "Ihre Referenz"
        entries.append((label, inv.buyer_reference))
    pay = _payment(inv)
    if pay is not None and pay.remittance_information:
        entries.append(("Kassenzeichen", pay.remittance_information))
    if inv.invoicing_period is not None:
        entries.append(("Leistungszeitraum", de.period(inv.invoicing_period.start, inv.invoicing_period.end)))
    elif inv.delivery is not None and inv.delivery.actual_delivery_date is not None:
        entries.append(("Leistungsdatum", de.day(inv.delivery.actual_delivery_date)))
    if inv.tax_point_date is not None:
        entries.append(("Steuerzeitpunkt", de.day(inv.tax_point_date)))
    if inv.due_date is not None and not credit:
        entries.append(("Fällig am", de.day(inv.due_date)))
    contact = inv.seller.contact
    if contact is not None and (contact.name or contact.telephone or contact.email):
        entries.append(("", ""))
        for label, value in (("Ansprechpartner", contact.name), ("Telefon", contact.telephone),
                             ("E-Mail", contact.email)):
            if value:
                entries.append((label, value))
    if _is_municipality(lay) and lay.design.contact.lines:
        entries.append(("", ""))
        entries += [("", line) for line in lay.design.contact.lines]
    return entries


def _info_bottom(lay: Layout, entries: list[tuple[str, str]]) -> float:
    """Where ``LetterFrame.draw_info_block`` will end."""
    return lay.frame.info_layout(entries)[1]


# --------------------------------------------------------------------------------------------- body


def _paragraph(lay: Layout, text: str, *, size: float = BODY, font: str | None = None, colour=None,
               leading: float = LEADING, space_after: float = 4, indent: float = 0,
               keep_with_next: bool = False) -> Block:
    f = lay.f
    font = font or f.regular
    colour = colour or lay.frame.text_colour
    x = lay.frame.body_left + indent
    lines = lay.wrap(text, font, size, lay.frame.body_width - indent)

    def make(part: list[str], after: float) -> Block:
        def draw(canvas: Canvas, y: float) -> None:
            for i, line in enumerate(part):
                lay.pen.text(x, y - size - i * leading, line, font, size, colour)

        def split(room: float):
            k = int((room - after) // leading)
            if k < 1 or k >= len(part):
                return None
            return make(part[:k], 0), make(part[k:], after)
        return Block(len(part) * leading + after + 2, draw, split=split, keep_with_next=keep_with_next)
    return make(lines, space_after)


def _space(height: float) -> Block:
    return Block(height, lambda canvas, y: None)


def _body(lay: Layout, header: Block) -> list[Block]:
    inv, f, frame, texts = lay.invoice, lay.f, lay.frame, lay.design
    credit = inv.type_code in CREDIT_NOTE_TYPE_CODES
    blocks: list[Block] = []
    subject = texts.text("invoice", "subject_credit_note" if credit else "subject", nummer=inv.number,
                         datum=de.day(inv.issue_date))
    blocks.append(_paragraph(lay, subject, size=12, font=f.bold, colour=frame.primary, leading=14,
                             space_after=6, keep_with_next=True))
    references = _references(inv)
    if references:
        blocks.append(_paragraph(lay, " · ".join(references), size=SMALL, colour=frame.muted,
                                 leading=SMALL_LEADING, space_after=6))
    blocks.append(_paragraph(lay, lay.salutation or texts.text("invoice", "greeting"), space_after=2))
    blocks.append(_paragraph(lay, texts.text("invoice", "intro_credit_note" if credit else "intro"),
                             space_after=6, keep_with_next=True))
    blocks.append(header)
    blocks.extend(_line_row(lay, line, header) for line in inv.lines)
    blocks.append(_space(4))
    blocks.append(_totals(lay))
    blocks.extend(_exemptions(lay))
    for note in inv.notes:
        blocks.append(_paragraph(lay, note.text, size=SMALL + 0.5, leading=SMALL_LEADING + 0.5))
    if inv.payment_terms:
        blocks.append(_paragraph(lay, f"Zahlungsbedingungen: {inv.payment_terms}", size=SMALL + 0.5,
                                 leading=SMALL_LEADING + 0.5))
    if inv.delivery is not None:
        blocks.extend(_delivery(lay))
    if inv.supporting_documents:
        docs = "; ".join(d.reference + (f" ({d.description})" if d.description else "")
                         for d in inv.supporting_documents)
        blocks.append(_paragraph(lay, f"Anlagen: {docs}", size=SMALL, colour=frame.muted, leading=SMALL_LEADING))
    blocks.append(_space(3))
    blocks.append(_payment_block(lay))
    blocks.append(_space(6))
    blocks.append(_paragraph(lay, texts.text("invoice", "closing"), space_after=2, keep_with_next=True))
    blocks.append(_paragraph(lay, texts.text("invoice", "signature"), space_after=8))
    blocks.append(_paragraph(lay, _legal_details(inv), size=SMALL - 0.5, colour=frame.muted,
                             leading=SMALL_LEADING - 0.5, space_after=2))
    blocks.append(_paragraph(lay, texts.text("invoice", "hybrid_note"), size=SMALL - 0.5, colour=frame.muted,
                             leading=SMALL_LEADING - 0.5, space_after=0))
    return blocks


def _references(inv: Invoice) -> list[str]:
    refs = [f"Bezug: Rechnung {p.number}" + (f" vom {de.day(p.issue_date)}" if p.issue_date else "")
            for p in inv.preceding_invoices]
    for label, value in (("Bestellung", inv.purchase_order_reference), ("Auftrag", inv.sales_order_reference),
                         ("Vertrag", inv.contract_reference), ("Projekt", inv.project_reference),
                         ("Vergabe/Los", inv.tender_or_lot_reference),
                         ("Wareneingang", inv.receiving_advice_reference),
                         ("Lieferschein", inv.despatch_advice_reference),
                         ("Objekt", inv.invoiced_object_identifier.value if inv.invoiced_object_identifier else None),
                         ("Ihre Kontierung", inv.buyer_accounting_reference)):
        if value:
            refs.append(f"{label}: {value}")
    return refs


def _delivery(lay: Layout) -> list[Block]:
    d = lay.invoice.delivery
    parts = []
    if d.party_name:
        parts.append(d.party_name)
    if d.address is not None:
        a = d.address
        parts += [x for x in (a.line1, a.line2, a.line3, " ".join(p for p in (a.post_code, a.city) if p),
                              de.country(a.country_code)) if x]
    if d.location_id is not None:
        parts.append(f"Ort {d.location_id.value}")
    text = ("Lieferanschrift: " + ", ".join(parts)) if parts else ""
    if d.actual_delivery_date and lay.invoice.invoicing_period is not None:
        text += ("; " if text else "") + f"Lieferdatum: {de.day(d.actual_delivery_date)}"
    return [_paragraph(lay, text, size=SMALL + 0.5, leading=SMALL_LEADING + 0.5)] if text else []


def _legal_details(inv: Invoice) -> str:
    s = inv.seller
    a = s.address
    parts = [s.name + (f" ({s.trading_name})" if s.trading_name else ""),
             ", ".join(x for x in (a.line1, " ".join(p for p in (a.post_code, a.city) if p),
                                   de.country(a.country_code)) if x)]
    if s.vat_id:
        parts.append(f"USt-IdNr. {s.vat_id}")
    if s.tax_registration_id:
        parts.append(f"Steuernummer {s.tax_registration_id}")
    if s.legal_registration_id is not None:
        parts.append(f"Register/Kennung {s.legal_registration_id.value}")
    parts += [f"Kennung {i.value}" for i in s.identifiers]
    if s.additional_legal_info:
        parts.append(s.additional_legal_info)
    if inv.tax_representative is not None:
        t = inv.tax_representative
        parts.append(f"Steuerlicher Vertreter: {t.name}, USt-IdNr. {t.vat_id}")
    if inv.buyer.vat_id:
        parts.append(f"USt-IdNr. des Leistungsempfängers {inv.buyer.vat_id}")
    return "Rechnungssteller: " + " · ".join(p for p in parts if p)


# --------------------------------------------------------------------------------------------- lines table


def _table_header(lay: Layout) -> Block:
    f, frame, cols = lay.f, lay.frame, lay.columns
    height = 16
    labels = (("pos", "Pos.", "left"), ("desc", "Bezeichnung", "left"), ("qty", "Menge", "right"),
              ("unit", "Einheit", "left"), ("price", "Einzelpreis", "right"), ("vat", "USt", "right"),
              ("amount", "Betrag", "right"))
    fill = tuple(int(lay.design.colors.table_header[i:i + 2], 16) / 255 for i in (1, 3, 5))

    def draw(canvas: Canvas, y: float) -> None:
        lay.pen.fill(fill)
        canvas.rect(frame.body_left, y - height + 2, frame.body_width, height - 2, stroke=0, fill=1)
        for key, text, align in labels:
            left, right = cols[key]
            lay.pen.text(right if align == "right" else left + 2, y - 10.5, text, f.bold, 7.5, frame.primary, align)
    return Block(height + 2, draw, keep_with_next=True)


def _line_spans(lay: Layout, line: InvoiceLine) -> list[Span]:
    f, frame = lay.f, lay.frame
    left, right = lay.columns["desc"]
    width = right - left - 4
    spans = [Span(t, f.regular, TABLE, frame.text_colour, 10.5) for t in lay.wrap(line.item.name, f.regular,
                                                                                  TABLE, width)]
    details: list[str] = []
    item = line.item
    if item.description:
        details.append(item.description)
    if line.period is not None and (line.period.start or line.period.end):
        details.append(f"Zeitraum: {de.period(line.period.start, line.period.end)}")
    ids = []
    if item.sellers_id:
        ids.append(f"Art.-Nr. {item.sellers_id}")
    if item.buyers_id:
        ids.append(f"Ihre Art.-Nr. {item.buyers_id}")
    if item.standard_id is not None:
        ids.append(f"Kennung {item.standard_id.value}")
    if item.origin_country:
        ids.append(f"Herkunft {item.origin_country}")
    if ids:
        details.append(" · ".join(ids))
    details += [f"{a.name}: {a.value}" for a in item.attributes]
    price = line.price
    if price.gross_price is not None and price.discount:
        details.append(f"Listenpreis {lay.money(price.gross_price)} abzgl. Preisnachlass {lay.money(price.discount)}")
    if price.base_quantity not in (None, Decimal(1)):
        unit = de.unit(price.base_quantity_unit_code or line.unit_code)
        details.append(f"Preis je {de.number(price.base_quantity)} {unit}".rstrip())
    for a in line.allowances:
        what = _reason(a.reason, a.reason_code, "Nachlass") + _basis(lay, a.percentage, a.base_amount)
        details.append(f"abzgl. {what}: {lay.money(-a.amount)}")
    for c in line.charges:
        what = _reason(c.reason, c.reason_code, "Zuschlag") + _basis(lay, c.percentage, c.base_amount)
        details.append(f"zzgl. {what}: {lay.money(c.amount, signed=True)}")
    if line.note:
        details.append(f"Hinweis: {line.note}")
    for label, value in (("Bestellposition", line.order_line_reference),
                         ("Kontierung", line.buyer_accounting_reference),
                         ("Objekt", line.object_identifier.value if line.object_identifier else None)):
        if value:
            details.append(f"{label}: {value}")
    for text in details:
        spans += [Span(t, f.regular, SMALL, frame.muted, SMALL_LEADING)
                  for t in lay.wrap(text, f.regular, SMALL, width)]
    return spans


def _reason(reason: str | None, code: str | None, default: str) -> str:
    return reason or (f"{default} (Code {code})" if code else default)


def _basis(lay: Layout, percentage: Decimal | None, base: Decimal | None) -> str:
    if percentage is not None and base is not None:
        return f" ({de.percent(percentage)} von {lay.money(base)})"
    return f" ({de.percent(percentage)})" if percentage is not None else ""


def _vat_label(category: str, rate: Decimal | None) -> str:
    if category == "S" or (category in ("L", "M") and rate is not None):
        return de.percent(rate)
    return SHORT_VAT.get(category, category)


def _line_row(lay: Layout, line: InvoiceLine, header: Block) -> Block:
    f, frame, cols = lay.f, lay.frame, lay.columns
    spans = _line_spans(lay, line)
    cells = [("pos", line.id, "left"), ("qty", de.number(line.quantity), "right"),
             ("unit", de.unit(line.unit_code), "left"), ("price", lay.money(line.price.net_price), "right"),
             ("vat", _vat_label(line.vat.category.value, line.vat.rate), "right"),
             ("amount", lay.money(line.net_amount), "right")]

    def make(part: list[Span], with_cells: bool, last: bool) -> Block:
        height = sum(s.leading for s in part) + (5 if last else 0)

        def draw(canvas: Canvas, y: float) -> None:
            baseline = y - 9.5
            if with_cells:
                for key, text, align in cells:
                    left, right = cols[key]
                    width = right - left - 3
                    size = lay.fit(f.clean(text), f.regular, TABLE, width)
                    lay.pen.text(right if align == "right" else left, baseline, f.clean(text), f.regular, size,
                                 frame.text_colour, align)
            x = cols["desc"][0]
            for s in part:
                lay.pen.text(x, baseline, s.text, s.font, s.size, s.colour)
                baseline -= s.leading
            if last:
                canvas.setStrokeColorRGB(*frame.rule)
                canvas.setLineWidth(0.3)
                canvas.line(frame.body_left, y - height + 2, frame.body_right, y - height + 2)

        def split(room: float):
            total, k = 0.0, 0
            while k < len(part) and total + part[k].leading <= room - 6:
                total += part[k].leading
                k += 1
            if k < 1 or k >= len(part):
                return None
            return make(part[:k], with_cells, False), make(part[k:], False, last)
        return Block(height, draw, split=split, header=header)
    return make(spans, True, True)


# --------------------------------------------------------------------------------------------- totals


def _totals(lay: Layout) -> Block:
    inv, f, frame = lay.invoice, lay.f, lay.frame
    t = inv.totals
    credit = inv.type_code in CREDIT_NOTE_TYPE_CODES
    rows: list[tuple[str, str, bool]] = [("Summe der Positionen (netto)", lay.money(t.line_net_total), False)]
    for a in inv.allowances:
        label = f"abzgl. {_reason(a.reason, a.reason_code, 'Nachlass')}{_basis(lay, a.percentage, a.base_amount)}"
        rows.append((f"{label}, USt {_vat_label(a.vat_category.value, a.vat_rate)}", lay.money(-a.amount), False))
    for c in inv.charges:
        label = f"zzgl. {_reason(c.reason, c.reason_code, 'Zuschlag')}{_basis(lay, c.percentage, c.base_amount)}"
        rows.append((f"{label}, USt {_vat_label(c.vat_category.value, c.vat_rate)}", lay.money(c.amount, True), False))
    rows.append(("Gesamtbetrag netto", lay.money(t.tax_exclusive_amount), False))
    for b in inv.vat_breakdown:
        cat = b.category.value
        name = f"USt {de.percent(b.rate)}" if cat == "S" else f"USt {de.VAT_CATEGORIES.get(cat) or cat}"
        if cat in ("L", "M") and b.rate is not None:
            name += f" {de.percent(b.rate)}"
        rows.append((f"{name} auf {lay.money(b.taxable_amount)}", lay.money(b.tax_amount), False))
    if t.tax_amount_in_tax_currency is not None and inv.tax_currency_code:
        rows.append((f"USt in {inv.tax_currency_code}", de.money(t.tax_amount_in_tax_currency,
                                                                   inv.tax_currency_code), False))
    rows.append(("Gesamtbetrag brutto", lay.money(t.tax_inclusive_amount), True))
    if t.prepaid_amount:
        rows.append(("abzgl. bereits gezahlt", lay.money(-t.prepaid_amount), False))
    for p in inv.third_party_payments:
        rows.append((f"zzgl. {p.description} ({p.payment_type})", lay.money(p.amount, True), False))
    if t.rounding_amount:
        rows.append(("Rundung", lay.money(t.rounding_amount, True), False))
    label_left = frame.body_left + 0.36 * frame.body_width
    label_width = frame.body_right - 26 * MM - label_left
    laid: list[tuple[list[str], str, bool]] = []
    for label, amount, bold in rows:
        laid.append((lay.wrap(label, f.bold if bold else f.regular, TABLE, label_width), amount, bold))
    payable_label = "Gutschriftsbetrag" if credit else "Zahlbetrag"
    height = sum(len(lines) * 10.5 + 1.5 for lines, _, _ in laid) + 22

    def draw(canvas: Canvas, y: float) -> None:
        yy = y - 9
        for lines, amount, bold in laid:
            font = f.bold if bold else f.regular
            for i, text in enumerate(lines):
                lay.pen.text(label_left, yy - i * 10.5, text, font, TABLE, frame.text_colour)
            lay.pen.text(frame.body_right, yy, f.clean(amount), font, TABLE, frame.text_colour, "right")
            yy -= len(lines) * 10.5 + 1.5
        canvas.setStrokeColorRGB(*frame.primary)
        canvas.setLineWidth(0.8)
        canvas.line(label_left, yy + 6, frame.body_right, yy + 6)
        lay.pen.text(label_left, yy - 6, payable_label, f.bold, 10, frame.primary)
        lay.pen.text(frame.body_right, yy - 6, f.clean(lay.money(t.payable_amount)), f.bold, 10, frame.primary,
                     "right")
    return Block(height, draw)


def _exemptions(lay: Layout) -> list[Block]:
    texts = []
    for b in lay.invoice.vat_breakdown:
        if b.exemption_reason or b.exemption_reason_code:
            what = de.VAT_CATEGORIES.get(b.category.value) or b.category.value
            reason = b.exemption_reason or ""
            if b.exemption_reason_code:
                reason += f" ({b.exemption_reason_code})" if reason else b.exemption_reason_code
            texts.append(f"Umsatzsteuer {what}: {reason}")
    return [_paragraph(lay, t, size=SMALL + 0.5, leading=SMALL_LEADING + 0.5) for t in texts]


# --------------------------------------------------------------------------------------------- payment


def _payment_block(lay: Layout) -> Block:
    inv, f, frame, design = lay.invoice, lay.f, lay.frame, lay.design
    t = inv.totals
    pay = _payment(inv)
    credit = inv.type_code in CREDIT_NOTE_TYPE_CODES
    amount = lay.money(t.payable_amount)
    reference = pay.remittance_information if pay is not None and pay.remittance_information else inv.number
    rows: list[tuple[str, str]] = []
    qr = None
    transfer = pay.credit_transfers[0] if pay is not None and pay.credit_transfers else None
    if t.payable_amount <= 0 or credit:  # a credit note, or nothing left to pay
        request = design.text("invoice", "refund", betrag=lay.money(abs(t.payable_amount))) \
            if t.payable_amount != 0 else design.text("invoice", "nothing_due")
    elif pay is not None and (pay.means_code in DIRECT_DEBIT_MEANS or pay.direct_debit is not None):
        dd = pay.direct_debit
        request = design.text("invoice", "direct_debit", betrag=amount, faellig=de.day(inv.due_date) or "–",
                              iban=format_iban(dd.debited_account_id) if dd and dd.debited_account_id else "–",
                              mandat=(dd.mandate_reference if dd else None) or "–",
                              glaeubiger=(dd.creditor_id if dd else None) or "–")
    elif transfer is not None or pay is None or pay.means_code in CREDIT_TRANSFER_MEANS:
        key = "pay_by_transfer" if inv.due_date else "pay_by_transfer_no_due_date"
        request = design.text("invoice", key, betrag=amount, faellig=de.day(inv.due_date), kassenzeichen=reference)
    else:
        request = f"Zahlungsart: {pay.means_text or 'Code ' + pay.means_code}. Betrag: {amount}."
    refund = t.payable_amount <= 0 or credit
    if transfer is not None and refund:
        rows += [("Verwendungszweck", reference), ("Betrag", amount)]
    elif transfer is not None:
        iban = transfer.account_id.replace(" ", "")
        ours = iban == design.bank.iban
        holder = transfer.account_name or (inv.payee.name if inv.payee else None) or \
            (design.bank.account_holder if ours else inv.seller.name)
        bic = transfer.service_provider_id or (design.bank.bic if ours else None)
        rows += [("Empfänger", holder), ("IBAN", format_iban(iban))]
        if bic:
            rows.append(("BIC", bic))
        if ours and design.bank.bank_name:
            rows.append(("Bank", design.bank.bank_name))
        for other in pay.credit_transfers[1:]:
            rows.append(("oder IBAN", format_iban(other.account_id)))
        rows += [("Verwendungszweck", reference), ("Betrag", amount)]
        if inv.due_date:
            rows.append(("Fällig am", de.day(inv.due_date)))
        if lay.currency == "EUR" and re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]+", iban):
            try:
                qr = qr_rows(epc_payload(name=holder, iban=iban, amount=t.payable_amount, bic=bic,
                                         remittance=reference))
            except GiroCodeError:
                qr = None
    elif pay is not None and pay.card is not None:
        rows.append(("Karte", f"**** {pay.card.primary_account_number[-4:]}"
                     + (f" ({pay.card.holder_name})" if pay.card.holder_name else "")))
    if inv.payee is not None and not any(r[0] == "Empfänger" and r[1] == inv.payee.name for r in rows):
        rows.insert(0, ("Zahlungsempfänger", inv.payee.name))
    qr_size = 30 * MM if qr else 0
    text_width = frame.body_width - (qr_size + 12 * MM if qr else 8 * MM)
    request_lines = lay.wrap(request, f.regular, BODY, text_width)
    label_w = 30 * MM
    row_lines = [(label, lay.wrap(value, f.regular, BODY - 0.5, text_width - label_w)) for label, value in rows]
    text_height = 16 + len(request_lines) * LEADING + 4 + sum(len(v) * 10.5 for _, v in row_lines)
    caption = lay.wrap(design.text("invoice", "qr_caption"), f.regular, 6.5, qr_size + 6 * MM) if qr else []
    height = max(text_height, (qr_size + 26 + len(caption) * 8) if qr else 0) + 8
    fill = tuple(0.5 + 0.5 * c for c in lay.frame.rule)

    def draw(canvas: Canvas, y: float) -> None:
        top = y - 2
        lay.pen.fill(fill)
        canvas.roundRect(frame.body_left, top - height + 6, frame.body_width, height - 6, 4, stroke=0, fill=1)
        x = frame.body_left + 4 * MM
        yy = top - 13
        lay.pen.text(x, yy, "Zahlung", f.bold, 10, frame.primary)
        yy -= 14
        for line in request_lines:
            lay.pen.text(x, yy, line, f.regular, BODY, frame.text_colour)
            yy -= LEADING
        yy -= 4
        for label, values in row_lines:
            lay.pen.text(x, yy, f.clean(label), f.regular, SMALL, frame.muted)
            for v in values:
                lay.pen.text(x + label_w, yy, v, f.bold if label in ("IBAN", "Betrag") else f.regular, BODY - 0.5,
                             frame.text_colour)
                yy -= 10.5
        if qr:
            quiet = 4 * qr_size / len(qr)  # ISO 18004: four light modules around the symbol
            qx = frame.body_right - qr_size - 4 * MM
            qy = top - 4 - quiet - qr_size
            lay.pen.fill((1, 1, 1))
            canvas.rect(qx - quiet, qy - quiet, qr_size + 2 * quiet, qr_size + 2 * quiet, stroke=0, fill=1)
            lay.pen.fill((0, 0, 0))
            draw_qr(canvas, qr, qx, qy, qr_size)
            cy = qy - quiet - 8
            for line in caption:
                lay.pen.text(qx + qr_size / 2 - stringWidth(line, f.regular, 6.5) / 2, cy, line, f.regular, 6.5,
                             frame.muted)
                cy -= 8
    return Block(height, draw)
