"""The pages a print batch adds for a notice served by post (förmliche Zustellung), before the letter's cover:

* **Zustellumschlag** (every form): the page the print shop puts on / into the envelope: the sender, the
  addressee in the DIN 5008 window, the Aktenzeichen and the marking the form prescribes ("Vermerk: Bitte mit
  Zustellungsurkunde zustellen", "Einschreiben mit Rückschein"), with the paragraph of the form of service;
* **Zustellungsauftrag / Zustellungsurkunde** (§ 3 VwZG, form ``pzu``): the PZU form pre-filled with the
  addressee, the sender (to whom the PZU goes back, § 3 Abs. 1 VwZG), the Aktenzeichen and the delivery id, with
  the boxes the postal officer fills (persönlich § 177 ZPO, Ersatzzustellung § 178/§ 180 ZPO, Niederlegung
  § 181 ZPO, date, signature);
* **Rückschein** (§ 4 VwZG, form ``rueckschein``): the return card's details pre-filled (sender as return
  address, Aktenzeichen, delivery id).

The official PZU forms (Anlage zur ZustVV) are the post's and the authority's to print in their layout; these
pages carry the same entries for the print shop to transfer or to use where the contract allows plain paper.
"""
from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime

import pikepdf

#: Pages per served letter, by the form's proof (the envelope first).
PAGES_FOR_PROOF = {"pzu": ("envelope", "pzu"), "rueckschein": ("envelope", "rueckschein"),
                   "empfangsbekenntnis": ("envelope",), "": ("envelope",)}


def pages_of(service: dict) -> tuple[str, ...]:
    return PAGES_FOR_PROOF.get(service.get("proof", ""), ("envelope",))


def service_pages(design, batch_id: str, letters: Sequence[dict], closed_at: datetime,
                  return_address: str | None) -> pikepdf.Pdf:
    """The service pages of every served letter of ``letters`` (those with a ``service``), in letter order, all in
    one PDF (``pages_of`` says how many each has)."""
    from erechnung.documents.letter import letter_frame
    from erechnung.documents.pdfa import DocumentInfo, canvas_bytes, new_canvas

    frame = letter_frame(design)
    f = frame.fonts
    canvas = new_canvas(DocumentInfo(title=f"Zustellunterlagen {batch_id}", author=design.letterhead.name), design)
    today = closed_at.astimezone().strftime("%d.%m.%Y")
    sender = return_address or frame.return_line.text or design.letterhead.name  # the post's return address

    def text(x: float, y: float, value: str, size: float = 10, bold: bool = False) -> None:
        canvas.setFont(f.bold if bold else f.regular, size)
        canvas.drawString(x, y, f.clean(value))

    for letter in letters:
        service = letter.get("service")
        if not service:
            continue
        address = list(service.get("addressee") or letter["address"])
        reference = service.get("reference") or "-"
        for page in pages_of(service):
            canvas.setFillColorRGB(*frame.text_colour)
            if page == "envelope":
                below = frame.first_page(canvas, recipient=address, return_address=return_address,
                                         info=[("Aktenzeichen", reference), ("Datum", today)])
                y = frame.first_body_top(below)
                text(frame.body_left, y, "Zustellumschlag", 14, bold=True)
                text(frame.body_left, y - 24, service["marking"], 13, bold=True)
                text(frame.body_left, y - 44, f"{service['title']} ({service['paragraph']})")
                text(frame.body_left, y - 60, f"Absender: {service.get('sender') or sender}")
                text(frame.body_left, y - 76, f"Aktenzeichen: {reference}")
                text(frame.body_left, y - 92, f"Sendung: {letter['delivery_id']}", 8)
            else:
                title = ("Zustellungsauftrag / Zustellungsurkunde" if page == "pzu"
                         else "Rückschein (Einschreiben mit Rückschein)")
                y = frame.next_body_top
                text(frame.body_left, y, title, 14, bold=True)
                text(frame.body_left, y - 20, f"{service['title']} ({service['paragraph']})", 9)
                rows = [("Absender (Rücksendung an)", service.get("sender") or sender), ("", sender),
                        ("Aktenzeichen", reference), ("Sendung", letter["delivery_id"]),
                        ("Empfänger", address[0] if address else "-")]
                rows += [("", line) for line in address[1:]]
                rows += [("Vermerk", service["marking"])]
                for i, (label, value) in enumerate(rows):
                    text(frame.body_left, y - 50 - i * 15, label, 9, bold=True)
                    text(frame.body_left + 150, y - 50 - i * 15, value, 10)
                y -= 60 + len(rows) * 15
                if page == "pzu":
                    boxes = ["[ ] persönlich übergeben (§ 177 ZPO)",
                             "[ ] Ersatzzustellung (§ 178 ZPO) an: ______________________",
                             "[ ] in den Briefkasten eingelegt (§ 180 ZPO)",
                             "[ ] niedergelegt (§ 181 ZPO) bei: ______________________",
                             "Datum der Zustellung: ____________   Uhrzeit: ________",
                             "Name und Unterschrift der Zustellerin / des Zustellers: ______________________"]
                else:
                    boxes = ["Datum der Aushändigung: ____________",
                             "Unterschrift der Empfängerin / des Empfängers: ______________________"]
                for i, line in enumerate(boxes):
                    text(frame.body_left, y - i * 20, line, 10)
            canvas.showPage()
    return pikepdf.open(io.BytesIO(canvas_bytes(canvas)))
