"""Write the Stadtbibliothek's two finished e-invoices (``batches/stadtbibliothek/``): one UBL, one CII, built
with ``erechnung.builder`` and written with our own writers, as a library system would deliver them.
Run: ``.venv/bin/python examples/make_finished_documents.py``. All data fictitious."""
from __future__ import annotations

from datetime import date
from pathlib import Path

from erechnung.builder import build_invoice, customer, item_line, municipality
from erechnung.syntax import write_invoice

OUT = Path(__file__).resolve().parent / "batches" / "stadtbibliothek"


def _library():
    return municipality(
        "Stadt Musterstadt", street="Rathausplatz 1", post_code="12345", city="Musterstadt",
        contact_name="Stadtbibliothek Musterstadt", contact_phone="+49 1234 567-4100",
        contact_email="bibliothek@musterstadt.example", electronic_address="rechnung@musterstadt.example",
        vat_id="DE123456789", tax_number="123/456/78901", legal_registration_id="05999001")


def documents() -> dict[str, bytes]:
    kreis = customer("Landkreis Beispielkreis", street="Kreishaus 2", post_code="12300", city="Kreisstadt",
                     electronic_address="05999-KREIS01-90", electronic_address_scheme="0204")
    firma = customer("Bauunternehmen Schmidt GmbH", street="Industriestraße 7", post_code="12349",
                     city="Musterstadt", electronic_address="rechnung@schmidt-bau.example", vat_id="DE812345675")
    fuehrungen = build_invoice(
        number="BIB-2026-0031", issue_date=date(2026, 11, 10), seller=_library(), buyer=kreis,
        leitweg_id="05999-KREIS01-90", iban="DE02120300000000202051", kassenzeichen="5.0410.000031.2",
        due_date=date(2026, 12, 10), invoicing_period=(date(2026, 10, 1), date(2026, 10, 31)),
        lines=[item_line("Bibliotheksführung für Kurse der Kreisvolkshochschule", 4, "60.00", vat_category="O",
                         unit_code="C62"),
               item_line("Medienkiste 'Lesestart' (Leihgebühr je Woche)", 6, "15.00", vat_category="O",
                         unit_code="WEE")],
        exemption_reasons={"O": "Nicht steuerbar: hoheitliche Tätigkeit (§ 2b UStG)"})
    saal = build_invoice(
        number="BIB-2026-0032", issue_date=date(2026, 11, 12), seller=_library(), buyer=firma,
        leitweg_id="K-20002", iban="DE02120300000000202051", kassenzeichen="5.0410.000032.0",
        due_date=date(2026, 12, 12), delivery_date=date(2026, 11, 7),
        lines=[item_line("Miete Veranstaltungssaal der Stadtbibliothek (Stunden)", 5, "40.00", vat_rate=19,
                         unit_code="HUR"),
               item_line("Beamer und Tonanlage", 1, "35.00", vat_rate=19)])
    return {"BIB-2026-0031_ubl.xml": write_invoice(fuehrungen, "ubl"),
            "BIB-2026-0032_cii.xml": write_invoice(saal, "cii")}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in documents().items():
        (OUT / name).write_bytes(data)
        print(OUT / name)


if __name__ == "__main__":
    main()
