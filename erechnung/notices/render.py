"""A notice as people read it: a DIN 5008 letter (PDF/A-3b) in the municipality's design, with the payment
claim embedded as XRechnung where the notice demands payment.

``render_notice(notice, design=None, config=None, embed_claim=True, sealed=False) -> bytes``

The page frame (letterhead, return address, address window, information block, fold marks, footer with the
bank details, page numbers) is the invoices' ``documents.letter.LetterFrame``; the fonts, the PDF/A-3 finish
and the associated file are ``documents.pdfa`` and ``documents.embed``. What a notice adds, in this order:

page 1    the addressee in the address window; the information block (office, Aktenzeichen, notice number,
          Kassenzeichen, customer number, date, the official in charge and how to reach them)
body      the subject "Bescheid über ...", the notice's kind and file number, salutation, the intro of the kind,
          the assessment table (item, basis, rate, amount) with the total and what is left to pay or refunded,
          the due date or the instalment table, the payment block (recipient, IBAN, BIC, bank, Kassenzeichen,
          amount; a GiroCode for the single or first payment), the reasons, the legal basis, remarks, the
          Rechtsbehelfsbelehrung in its own section, and the closing with "Im Auftrag" and the official's name;
          notes on automation, the embedded claim and the seal in small print
each page "Seite x von y"; from page 2 a running head naming the notice

Layout first, drawing second (``documents.layout.paginate``, as for invoices): the body is a list of blocks of
known height, paginated before drawing, so the page count is known; a heading stays with what follows it, and a
long paragraph breaks between its lines.
"""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from ..documents import german as de
from ..config.design import MM, Design, load_design
from ..documents.embed import invoice_attachment
from ..documents.layout import Block, paginate
from ..documents.letter import LetterFrame, format_iban, letter_frame
from ..documents.pdfa import DocumentInfo, canvas_bytes, finish, new_canvas, rgb, wrap
from ..documents.qr import GiroCodeError, draw_qr, epc_payload, qr_rows
from .claim import claim_xml
from .config import NoticeConfig, load_config
from .model import AssessmentItem, Notice, NoticeKind

BODY, SMALL, TABLE = 9.0, 7.5, 8.5  # font sizes, pt
LEADING, SMALL_LEADING, TABLE_LEADING = 11.5, 9.2, 10.5
CLAIM_PROFILE = "XRECHNUNG"


# --------------------------------------------------------------------------------------------- blocks


class Page:
    """Drawing helpers for one notice: fonts, colours, the frame's text column."""

    def __init__(self, frame: LetterFrame, design: Design) -> None:
        self.frame, self.design, self.f = frame, design, frame.fonts
        self.left, self.right, self.width = frame.body_left, frame.body_right, frame.body_width
        self.text_colour, self.muted, self.primary = frame.text_colour, frame.muted, frame.primary
        self.header_fill = rgb(design.colors.table_header)

    def lines(self, text: str, font: str, size: float, width: float) -> list[str]:
        """``text`` wrapped to ``width``, its own line breaks kept, blank lines dropped."""
        out = [line for part in text.strip().splitlines() if part.strip()
               for line in wrap(self.f.clean(part), font, size, width)]
        return out or [""]

    def paragraph(self, text: str, *, size: float = BODY, font: str | None = None, colour=None,
                  leading: float = LEADING, space_after: float = 4, indent: float = 0,
                  keep_with_next: bool = False) -> Block:
        font = font or self.f.regular
        colour = colour or self.text_colour
        x = self.left + indent
        lines = self.lines(text, font, size, self.width - indent)

        def make(part: list[str], after: float) -> Block:
            def draw(canvas: Canvas, y: float) -> None:
                canvas.setFont(font, size)
                canvas.setFillColorRGB(*colour)
                for i, line in enumerate(part):
                    canvas.drawString(x, y - size - i * leading, line)

            def split(room: float):
                k = int((room - after - 2) // leading)
                if k < 2 or len(part) - k < 2:  # no single line left behind or carried over
                    return None
                return make(part[:k], 0), make(part[k:], after)
            return Block(len(part) * leading + after + 2, draw, keep_with_next=keep_with_next, split=split,
                         breakable=True)
        return make(lines, space_after)

    def heading(self, text: str) -> Block:
        return self.paragraph(text, size=10, font=self.f.bold, colour=self.primary, leading=13, space_after=3,
                              keep_with_next=True)

    def space(self, height: float) -> Block:
        return Block(height, lambda canvas, y: None)

    def text(self, canvas: Canvas, x: float, y: float, text: str, font: str, size: float, colour,
             align: str = "left") -> None:
        canvas.setFont(font, size)
        canvas.setFillColorRGB(*colour)
        (canvas.drawRightString if align == "right" else canvas.drawString)(x, y, text)


# --------------------------------------------------------------------------------------------- public API


def _title(notice: Notice) -> str:
    """"Bescheid", or "Änderungsbescheid" for a notice that changes an earlier one (``Notice.amends``)."""
    return "Änderungsbescheid" if notice.amends is not None else "Bescheid"


def _heading(notice: Notice) -> str:
    """The letter's heading: "Bescheid über <subject>"; a dunning letter is headed by its subject alone, which
    names its stage ("1. Mahnung zum Kassenzeichen ...")."""
    if notice.kind == NoticeKind.DUNNING:
        return notice.subject
    return f"{_title(notice)} über {notice.subject}"


#: The keyword naming the notice kind's id (``Art gebuehrenbescheid``): what the delivery service reads to find
#: the kind's form of service (``delivery.service.notice_facts``), stable when a municipality rewords its title.
KIND_KEYWORD = "Art "


def notice_info(notice: Notice, config: NoticeConfig) -> DocumentInfo:
    """Title, author, subject and keywords of the notice's PDF (document information and XMP)."""
    title = config.texts(notice.kind).title
    keywords = ["Bescheid", title, f"Aktenzeichen {notice.file_number}"]
    if notice.payment is not None:
        keywords.append(f"Kassenzeichen {notice.payment.kassenzeichen}")
    if notice.amends is not None:
        keywords.append(f"ändert {notice.amends.number} vom {de.day(notice.amends.issue_date)}")
    keywords.append(f"{KIND_KEYWORD}{notice.kind.value}")  # the kind's id: its title may be reworded later
    return DocumentInfo(title=_heading(notice), author=notice.authority.name,
                        subject=f"{title} vom {de.day(notice.issue_date)} an {notice.addressee.name}",
                        keywords=", ".join(keywords), creator="erechnung")


def render_notice(notice: Notice, design: Design | str | None = None, config: NoticeConfig | None = None, *,
                  embed_claim: bool = True, sealed: bool = False) -> bytes:
    """The notice as PDF/A-3b; with ``xrechnung.xml`` (profile XRECHNUNG) embedded when payment is due and
    ``embed_claim``; ``sealed`` prints that an electronic seal follows (``seal.seal_pdf`` adds it)."""
    design = design if isinstance(design, Design) else load_design(design)
    config = (config or load_config(design.source.parent)).for_municipality(dict(design.values))
    xml = claim_xml(notice, config) if embed_claim and notice.payment_due else None  # errors before drawing
    info = notice_info(notice, config)
    canvas = new_canvas(info, design)
    draw_notice(canvas, notice, letter_frame(design), config, claim_embedded=xml is not None, sealed=sealed)
    if xml is None:
        return finish(canvas_bytes(canvas), info)
    attachment, schema = invoice_attachment(xml, CLAIM_PROFILE)
    return finish(canvas_bytes(canvas), info, associated_files=[attachment], schemas=[schema])


def draw_notice(canvas: Canvas, notice: Notice, frame: LetterFrame, config: NoticeConfig, *,
                claim_embedded: bool = False, sealed: bool = False) -> int:
    """Draw every page of the notice; returns the page count."""
    page = Page(frame, frame.design)
    info = _fit_info(frame, _info_entries(notice))
    first_top = frame.first_body_top(frame.info_layout(info)[1])
    pages = paginate(_body(page, notice, config, claim_embedded, sealed), first_top, frame.next_body_top,
                     frame.body_bottom)
    title = config.texts(notice.kind).title
    running = f"{title} vom {de.day(notice.issue_date)} · Az. {notice.file_number}"
    for number, placed in enumerate(pages, 1):
        if number == 1:
            frame.first_page(canvas, recipient=_recipient(notice), info=info,
                             return_address=_return_address(notice, frame.design))
        else:
            frame.next_page(canvas, running_head=running)
        for y, block in placed:
            block.draw(canvas, y)
        frame.page_number(canvas, number, len(pages))
        canvas.showPage()
    return len(pages)


# --------------------------------------------------------------------------------------------- page 1


def _return_address(notice: Notice, design: Design) -> str | None:
    """The authority's return address when it is not the letterhead's (another authority using the design)."""
    a = notice.authority
    if a.name.strip() == design.letterhead.name.strip():
        return None
    return " · ".join((a.name, a.address.street, f"{a.address.post_code} {a.address.city}"))


def _recipient(notice: Notice) -> list[str]:
    who = notice.addressee
    a = who.address
    lines = [who.name] + ([a.supplement] if a.supplement else []) + [a.street, f"{a.post_code} {a.city}"]
    if de.country(a.country_code):
        lines.append(de.country(a.country_code).upper())
    return lines


def _fit_info(frame: LetterFrame, entries: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Entries whose value would wrap beside its label (a long e-mail address) but fits the block's full
    width go under their label, so that no address is broken inside a word."""
    f = frame.fonts
    label_width = max([18 * MM, *(stringWidth(f.clean(k), f.regular, 7) for k, _ in entries if k)]) + 2 * MM
    out: list[tuple[str, str]] = []
    for label, value in entries:
        text = f.clean(value)
        if label and " " not in text.strip() and \
                label_width + stringWidth(text, f.regular, 8) > frame.info_width >= stringWidth(text, f.regular, 8):
            out += [(label, ""), ("", value)]
        else:
            out.append((label, value))
    return out


def _info_entries(notice: Notice) -> list[tuple[str, str]]:
    a, o = notice.authority, notice.official
    entries = [("Dienststelle", a.office), ("Aktenzeichen", notice.file_number)]
    if notice.number:
        entries.append(("Bescheid-Nr.", notice.number))
    if notice.payment is not None:
        entries.append(("Kassenzeichen", notice.payment.kassenzeichen))
    if notice.addressee.customer_number:
        entries.append(("Kundennummer", notice.addressee.customer_number))
    entries.append(("Datum", de.day(notice.issue_date)))
    entries.append(("", ""))
    entries.append(("Sachbearbeitung", o.name))
    for label, value in (("Zimmer", o.room), ("Telefon", o.phone or a.phone), ("E-Mail", o.email or a.email)):
        if value:
            entries.append((label, value))
    if a.opening_hours:
        entries.append(("Sprechzeiten", a.opening_hours))
    return entries


# --------------------------------------------------------------------------------------------- body


def _body(p: Page, notice: Notice, config: NoticeConfig, claim_embedded: bool, sealed: bool) -> list[Block]:
    f, a = p.f, notice.authority
    texts = config.texts(notice.kind)

    def letter(key: str, **values: str) -> str:
        return config.letter_text(key, a, **values)

    header = _assessment_header(p)
    blocks = [
        p.paragraph(_heading(notice), size=12, font=f.bold, colour=p.primary, leading=14,
                    space_after=1, keep_with_next=True),
        p.paragraph(f"{texts.title} · Aktenzeichen {notice.file_number}"
                    + (f" · Zeitraum {de.period(notice.period.start, notice.period.end)}" if notice.period else ""),
                    size=SMALL, colour=p.muted, leading=SMALL_LEADING, space_after=8, keep_with_next=True),
        *([p.paragraph(letter("amends", bescheid=notice.amends.number, datum=de.day(notice.amends.issue_date)),
                       space_after=6)] if notice.amends else []),
        p.paragraph(notice.addressee.salutation, space_after=3),
        p.paragraph(config.intro(notice.kind, a), space_after=6, keep_with_next=True),
        p.heading(letter("heading_assessment")),
        header,
        *(_assessment_row(p, i, item, header) for i, item in enumerate(notice.items, 1)),
        _totals(p, notice),
        p.space(6),
    ]
    blocks += _due(p, notice, letter)
    if notice.payment is not None and notice.payment_due:
        blocks += [p.space(3), _payment_block(p, notice), p.space(6)]
    if notice.reasons:
        blocks.append(p.heading(letter("heading_reasons")))
        blocks += [p.paragraph(r) for r in notice.reasons]
        blocks.append(p.space(4))
    blocks.append(p.heading(letter("heading_legal_basis")))
    blocks += [p.paragraph(f"–  {norm}", space_after=1, indent=0) for norm in notice.legal_basis]
    blocks.append(p.space(6))
    remarks = list(notice.remarks)
    if notice.payment_due and config.payment_hint:
        remarks.append(config.payment_hint)
    if remarks:
        blocks.append(p.heading(letter("heading_remarks")))
        blocks += [p.paragraph(r) for r in remarks]
        blocks.append(p.space(4))
    blocks.append(p.heading(letter("heading_appeal")))
    blocks += [p.paragraph(part, space_after=3) for part in notice.appeal_instructions.split("\n") if part.strip()]
    blocks.append(p.space(8))
    o = notice.official
    closing = [p.paragraph(letter("closing"), space_after=2, keep_with_next=True)]
    if a.head:
        closing.append(p.paragraph(a.head, space_after=2, keep_with_next=True))
    closing += [p.paragraph(o.signs_as, space_after=14 if not notice.automated and not sealed else 2,
                            keep_with_next=True),
                p.paragraph(o.name, space_after=8)]
    blocks += closing
    small = [note for note in (notice.automation_note, letter("seal_note") if sealed else None,
                               letter("claim_note") if claim_embedded else None) if note]
    blocks += [p.paragraph(n, size=SMALL, colour=p.muted, leading=SMALL_LEADING, space_after=2) for n in small]
    return blocks


# --------------------------------------------------------------------------------------------- assessment table

#: Columns of the assessment table: mm from the text column's left edge (of 165 mm, scaled to the design).
COLUMNS = {"pos": (0, 7), "desc": (7, 73), "basis": (73, 109), "rate": (109, 142), "amount": (142, 165)}


def _columns(p: Page) -> dict[str, tuple[float, float]]:
    scale = p.width / (165 * MM)
    return {k: (p.left + a * MM * scale, p.left + b * MM * scale) for k, (a, b) in COLUMNS.items()}


def _assessment_header(p: Page) -> Block:
    cols, f = _columns(p), p.f
    height = 16
    labels = (("pos", "Nr.", "left"), ("desc", "Gegenstand", "left"), ("basis", "Bemessungsgrundlage", "right"),
              ("rate", "Satz", "right"), ("amount", "Betrag", "right"))

    def draw(canvas: Canvas, y: float) -> None:
        canvas.setFillColorRGB(*p.header_fill)
        canvas.rect(p.left, y - height + 2, p.width, height - 2, stroke=0, fill=1)
        for key, text, align in labels:
            left, right = cols[key]
            size = _fit(text, f.bold, 7.5, right - left - 2)
            p.text(canvas, right - 2 if align == "right" else left + 2, y - 10.5, text, f.bold, size, p.primary,
                   align)
    return Block(height + 2, draw, keep_with_next=True)


def _fit(text: str, font: str, size: float, width: float) -> float:
    while size > 5.5 and stringWidth(text, font, size) > width:
        size -= 0.25
    return size


def _with_unit(value: Decimal, unit: str) -> tuple[str, str]:
    """(number with its currency or percent sign, the rest of the unit): ``495 %`` + ``Hebesatz``,
    ``96,00 €`` + ``je Hund und Jahr``, ``1`` + ``Hund``. Euro amounts get at least two decimals."""
    unit = unit.strip()
    sign = next((s for s in ("€", "%") if unit.startswith(s)), "")
    rest = unit[len(sign):].strip()
    if sign == "€":
        exponent = value.normalize().as_tuple().exponent
        number = de.number(value, max(2, -exponent) if isinstance(exponent, int) else 2)
    else:
        number = de.number(value)
    return (f"{number}\u00a0{sign}" if sign else number), rest


def _unit_cell(p: Page, value: Decimal, unit: str, width: float) -> list[tuple[str, bool]]:
    """The lines of a basis or rate cell: one line when number and unit fit, else the number and under it the
    unit in small print. (text, small)"""
    number, rest = _with_unit(value, unit)
    f = p.f
    whole = f.clean(f"{number}\u00a0{rest}" if rest else number)
    if stringWidth(whole, f.regular, TABLE) <= width:
        return [(whole, False)]
    return [(f.clean(number), False)] + [(line, True) for line in p.lines(rest, f.regular, SMALL, width)]


def _assessment_row(p: Page, number: int, item: AssessmentItem, header: Block) -> Block:
    cols, f = _columns(p), p.f

    def cell(key: str, text: str, font: str = f.regular, size: float = TABLE) -> list[str]:
        left, right = cols[key]
        return p.lines(text, font, size, right - left - 4)

    desc = cell("desc", item.description)
    details = []
    if item.months is not None:
        details += cell("desc", f"anteilig für {item.months} von 12 Monaten", size=SMALL)
    basis = _unit_cell(p, item.basis, item.basis_unit, cols["basis"][1] - cols["basis"][0] - 4)
    rate = _unit_cell(p, item.rate, item.rate_unit, cols["rate"][1] - cols["rate"][0] - 4)
    amount = de.money(item.amount)

    def depth(lines: list[tuple[str, bool]]) -> float:
        return sum(SMALL_LEADING if small else TABLE_LEADING for _, small in lines)

    def make(lines: list[str], first: bool, last: bool) -> Block:
        """The row, or a part of it when its description is longer than a page: the first part carries the
        number, basis, rate and amount, the last the details and the rule below the row."""
        more = details if last else []
        cells = (basis, rate) if first else ([], [])
        height = max(len(lines) * TABLE_LEADING + len(more) * SMALL_LEADING, *map(depth, cells)) + (6 if last else 0)

        def draw(canvas: Canvas, y: float) -> None:
            base = y - 9.5
            if first:
                p.text(canvas, cols["pos"][0] + 2, base, str(number), f.regular, TABLE, p.text_colour)
            for i, line in enumerate(lines):
                p.text(canvas, cols["desc"][0] + 2, base - i * TABLE_LEADING, line, f.regular, TABLE, p.text_colour)
            for i, line in enumerate(more):
                p.text(canvas, cols["desc"][0] + 2, base - len(lines) * TABLE_LEADING - i * SMALL_LEADING, line,
                       f.regular, SMALL, p.muted)
            for key, cell_lines in zip(("basis", "rate"), cells):
                yy = base
                for line, small in cell_lines:
                    p.text(canvas, cols[key][1] - 2, yy, line, f.regular, SMALL if small else TABLE,
                           p.muted if small else p.text_colour, "right")
                    yy -= SMALL_LEADING if small else TABLE_LEADING
            if first:
                p.text(canvas, cols["amount"][1] - 2, base, f.clean(amount), f.regular, TABLE, p.text_colour,
                       "right")
            if last:
                canvas.setStrokeColorRGB(*p.frame.rule)
                canvas.setLineWidth(0.3)
                canvas.line(p.left, y - height + 2, p.right, y - height + 2)

        def split(room: float):
            k = int((room - 6) // TABLE_LEADING)
            if k < 1 or k >= len(lines) or max(map(depth, cells)) > room:
                return None
            return make(lines[:k], first, False), make(lines[k:], False, last)
        return Block(height, draw, header=header, split=split)
    return make(desc, True, True)


def _totals(p: Page, notice: Notice) -> Block:
    f = p.f
    rows: list[tuple[str, str, bool]] = [("Festgesetzter Betrag", de.money(notice.total), not notice.already_paid)]
    if notice.already_paid:
        rows.append(("abzüglich bereits gezahlt", de.money(-notice.already_paid), False))
        if notice.balance > 0:
            rows.append(("Noch zu zahlen", de.money(notice.balance), True))
        elif notice.balance < 0:
            rows.append(("Zu erstatten", de.money(-notice.balance), True))
        else:
            rows.append(("Noch zu zahlen", de.money(Decimal("0.00")), True))
    label_left = p.left + 0.45 * p.width
    height = len(rows) * 13 + 10

    def draw(canvas: Canvas, y: float) -> None:
        yy = y - 15
        for label, amount, strong in rows:
            font, size, colour = (f.bold, 10, p.primary) if strong else (f.regular, TABLE, p.text_colour)
            if strong:
                canvas.setStrokeColorRGB(*p.primary)
                canvas.setLineWidth(0.8)
                canvas.line(label_left, yy + 10, p.right, yy + 10)
            p.text(canvas, label_left + 2, yy, label, font, size, colour)
            p.text(canvas, p.right - 2, yy, f.clean(amount), font, size, colour, "right")
            yy -= 13
    return Block(height, draw)


# --------------------------------------------------------------------------------------------- due dates, payment


def _due(p: Page, notice: Notice, letter: Callable[..., str]) -> list[Block]:
    f = p.f
    blocks = [p.heading(letter("heading_due"))]
    kassenzeichen = notice.payment.kassenzeichen if notice.payment else ""
    if notice.balance < 0:
        return blocks + [p.paragraph(letter("refund", betrag=de.money(-notice.balance)))]
    if not notice.payment_due:
        return blocks + [p.paragraph(letter("nothing_due"))]
    if len(notice.instalments) == 1:
        (one,) = notice.instalments
        return blocks + [p.paragraph(letter("due_once", betrag=de.money(one.amount), faellig=de.day(one.due_date),
                                            kassenzeichen=kassenzeichen))]
    blocks.append(p.paragraph(letter("due_instalments", kassenzeichen=kassenzeichen), space_after=3,
                              keep_with_next=True))
    amount_right = p.left + 75 * MM
    rows = [(de.day(i.due_date), de.money(i.amount)) for i in notice.instalments]
    height = (len(rows) + 1) * 12 + 6

    def draw(canvas: Canvas, y: float) -> None:
        yy = y - 10
        p.text(canvas, p.left + 2, yy, "Fällig am", f.bold, 7.5, p.primary)
        p.text(canvas, amount_right, yy, "Betrag", f.bold, 7.5, p.primary, "right")
        canvas.setStrokeColorRGB(*p.frame.rule)
        canvas.setLineWidth(0.3)
        canvas.line(p.left, yy - 3, amount_right + 2, yy - 3)
        for day, amount in rows:
            yy -= 12
            p.text(canvas, p.left + 2, yy, day, f.regular, BODY, p.text_colour)
            p.text(canvas, amount_right, yy, f.clean(amount), f.regular, BODY, p.text_colour, "right")
    return blocks + [Block(height, draw)]


_BOLD_ROWS = ("IBAN", "Verwendungszweck", "Betrag", "Mandatsreferenz")


def _pre_notification_rows(notice: Notice, holder: str) -> list[tuple[str, str]]:
    """The SEPA pre-notification (Vorabankündigung) of a notice whose addressee gave a mandate: what is collected
    when, from which account, under which mandate reference and creditor id (SEPA Core Rulebook)."""
    dd = notice.payment.direct_debit  # type: ignore[union-attr]
    dates = "; ".join(f"{de.money(i.amount)} am {de.day(i.due_date)}" for i in notice.instalments)
    return [("Lastschrift", f"{holder} zieht {dates} von Ihrem Konto {format_iban(dd.debited_iban)} ein. "
                            "Bitte sorgen Sie für Deckung; überweisen Sie nicht zusätzlich."),
            ("Mandatsreferenz", dd.mandate_reference), ("Gläubiger-ID", dd.creditor_id),
            ("Verwendungszweck", notice.payment.kassenzeichen)]  # type: ignore[union-attr]


def _payment_block(p: Page, notice: Notice) -> Block:
    f, design = p.f, p.design
    pay = notice.payment
    account = pay.accounts[0]
    first = notice.instalments[0]
    holder = account.account_holder or (design.bank.account_holder if account.iban == design.bank.iban
                                        else notice.authority.name)
    bic = account.bic or (design.bank.bic if account.iban == design.bank.iban else None)
    bank = account.bank_name or (design.bank.bank_name if account.iban == design.bank.iban else None)
    several = len(notice.instalments) > 1
    if pay.direct_debit is not None:  # SEPA pre-notification: amount, date, mandate reference, creditor id
        rows = _pre_notification_rows(notice, holder)
        qr = None
    else:
        rows = [("Empfänger", holder), ("IBAN", format_iban(account.iban))]
        if bic:
            rows.append(("BIC", bic))
        if bank:
            rows.append(("Bank", bank))
        rows += [("oder IBAN", format_iban(other.iban) + (f" ({other.bank_name})" if other.bank_name else ""))
                 for other in pay.accounts[1:]]
        rows.append(("Verwendungszweck", pay.kassenzeichen))
        rows.append(("Betrag", de.money(first.amount) + (f" (1. Fälligkeit, {de.day(first.due_date)})" if several
                                                          else f", fällig am {de.day(first.due_date)}")))
        try:
            qr = qr_rows(epc_payload(name=holder, iban=account.iban, amount=first.amount, bic=bic,
                                     remittance=pay.kassenzeichen))
        except GiroCodeError:
            qr = None
    caption_text = (f"GiroCode für die Zahlung zum {de.day(first.due_date)}" if several
                    else design.text("invoice", "qr_caption"))
    qr_size = 28 * MM if qr else 0
    text_width = p.width - (qr_size + 14 * MM if qr else 8 * MM)
    label_w = 30 * MM
    row_lines = [(label, p.lines(value, f.regular, BODY - 0.5, text_width - label_w)) for label, value in rows]
    caption = p.lines(caption_text, f.regular, 6.5, qr_size + 6 * MM) if qr else []
    text_height = 16 + sum(len(v) * 10.5 for _, v in row_lines) + 6
    height = max(text_height, (qr_size + 30 + len(caption) * 8) if qr else 0) + 6
    fill = tuple(0.5 + 0.5 * c for c in p.frame.rule)

    def draw(canvas: Canvas, y: float) -> None:
        top = y - 2
        canvas.setFillColorRGB(*fill)
        canvas.roundRect(p.left, top - height + 6, p.width, height - 6, 4, stroke=0, fill=1)
        x = p.left + 4 * MM
        yy = top - 13
        p.text(canvas, x, yy, "Zahlung", f.bold, 10, p.primary)
        yy -= 15
        for label, values in row_lines:
            p.text(canvas, x, yy, f.clean(label), f.regular, SMALL, p.muted)
            for v in values:
                p.text(canvas, x + label_w, yy, v, f.bold if label in _BOLD_ROWS else f.regular, BODY - 0.5,
                       p.text_colour)
                yy -= 10.5
        if qr:
            quiet = 4 * qr_size / len(qr)  # ISO 18004: four light modules around the symbol
            qx = p.right - qr_size - 5 * MM
            qy = top - 6 - quiet - qr_size
            canvas.setFillColorRGB(1, 1, 1)
            canvas.rect(qx - quiet, qy - quiet, qr_size + 2 * quiet, qr_size + 2 * quiet, stroke=0, fill=1)
            canvas.setFillColorRGB(0, 0, 0)
            draw_qr(canvas, qr, qx, qy, qr_size)
            cy = qy - quiet - 8
            for line in caption:
                p.text(canvas, qx + qr_size / 2 - stringWidth(line, f.regular, 6.5) / 2, cy, line, f.regular, 6.5,
                       p.muted)
                cy -= 8
    return Block(height, draw)
