"""Write Markt Beispielheim's sample files: the logo ``design/wappen.png`` and one export per department under
``batches/``, as the specialist systems deliver them (the files are committed; this script is how they were
made). Run: ``.venv/bin/python examples/beispielheim/make_batches.py``. All data fictitious.

* ``bauhof``: CSV from the cost accounting, Windows-1252, ``;``, German numbers, a ``Summe`` row at the end
* ``kita``: Excel list on the sheet "Elternbeiträge" (a notes sheet before it), a title row above the header,
  amounts stored as text ("185,00"), three amount columns per child
* ``friedhof``: JSON with the records under ``export.vorgaenge`` and the positions nested in each record
* ``wasser``: fixed-width text of the old billing system: Vorlauf and Summensatz, amounts in cents, the sign
  in a column of its own after the amount

``batches/steuer/HST_Veranlagung_2026.xml`` (the Steueramt's XML in its own schema) is written by hand.
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
BATCHES = HERE / "batches"

BAUHOF = [
    ("Auftrag", "Datum", "Kundennummer", "Vorname", "Nachname", "Straße", "Hausnr", "PLZ", "Ort", "Leistung",
     "Einsatzort", "Menge", "Einheit", "Einzelpreis", "USt"),
    ("BH-A-0101", "03.11.2026", "B-30004", "", "", "", "", "", "", "Radlader mit Fahrer", "Gewerbering 9",
     "3,5", "Std", "78,50", "voll"),
    ("BH-A-0101", "03.11.2026", "B-30004", "", "", "", "", "", "", "Absperrbaken", "", "12", "Stk", "4,20",
     "voll"),
    ("BH-A-0102", "04.11.2026", "", "Anton", "Kellermeier", "Dorfstraße", "15", "93333", "Beispielheim",
     "Grüngutabfuhr mit Anhänger", "Dorfstraße 15", "1", "pausch", "45,00", "voll"),
    ("BH-A-0103", "05.11.2026", "B-30002", "", "", "", "", "", "", "Hecke am Straßenrand zurückschneiden",
     "Am Anger 12", "2", "Std", "52,00", "voll"),
    ("Summe", "", "", "", "", "", "", "", "", "", "", "", "", "474,15", ""),
]

KITA_HEADER = ("Kundennummer", "Kind", "Gruppe", "Buchungszeit", "Monat", "Rechnungsdatum", "Betreuung",
               "Verpflegung", "Spielgeld")
KITA = [
    ("B-30001", "Lena Huber", "Sonnenkäfer", "6-7 Std.", "November 2026", "02.11.2026", "185,00", "62,00",
     "5,00"),
    ("B-30001", "Paul Huber", "Sonnenkäfer", "4-5 Std.", "November 2026", "02.11.2026", "142,50", "62,00",
     "5,00"),
    ("B-30003", "Emil Gruber", "Regenbogen", "4-5 Std.", "November 2026", "02.11.2026", "142,50", "0,00",
     "5,00"),
    ("B-30005", "Sophie Wimmer", "Regenbogen", "8-9 Std.", "November 2026", "02.11.2026", "228,00", "62,00",
     "5,00"),
]

FRIEDHOF = {
    "kopf": {"system": "FriedhofPro 7.2", "mandant": "Markt Beispielheim", "erstellt": "2026-11-06T07:45:00"},
    "export": {"vorgaenge": [
        {"belegnr": "FH-2026-0311", "datum": "2026-11-06", "kunde": {"nr": "B-30003"},
         "grab": {"feld": "A", "nummer": "17"},
         "positionen": [
             {"text": "Verlängerung des Grabnutzungsrechts (Familiengrab)", "menge": 10, "einheit": "Jahr",
              "preis": 48.0},
             {"text": "Grabmalgenehmigung", "menge": 1, "einheit": "Stk", "preis": 35.0}]},
        {"belegnr": "FH-2026-0312", "datum": "2026-11-06", "kunde": {"nr": "B-30002"},
         "grab": {"feld": "C", "nummer": "4"},
         "positionen": [
             {"text": "Benutzung der Aussegnungshalle", "menge": 1, "einheit": "pausch", "preis": 120.0},
             {"text": "Grabnutzungsgebühr Urnengrab", "menge": 15, "einheit": "Jahr", "preis": 22.0}]},
    ]},
}

#: Fixed-width record layout (first and last character, counted from 1), as mappings/wasser.toml reads it.
WASSER_FIELDS = (("Satzart", 1), ("Rechnungsnummer", 12), ("Kassenzeichen", 12), ("Kundennummer", 7),
                 ("Datum", 10), ("Leistung", 30), ("Menge", 6), ("Einheit", 3), ("Betrag", 9), ("Vorzeichen", 1))
WASSER = [
    ("WA-2026-0001", "6.8100.00011", "B-30001", "Verbrauch 01.11.25-31.10.26", 86, "m3", 215, " "),
    ("WA-2026-0001", "6.8100.00011", "B-30001", "Grundgebühr Zähler Qn 2,5", 12, "Mon", 450, " "),
    ("WA-2026-0002", "6.8100.00029", "B-30004", "Verbrauch 01.11.25-31.10.26", 412, "m3", 215, " "),
    ("WA-2026-0002", "6.8100.00029", "B-30004", "Grundgebühr Zähler Qn 6", 12, "Mon", 1050, " "),
    ("WA-2026-0002", "6.8100.00029", "B-30004", "Gutschrift Zählerwechsel", 1, "Stk", 1200, "-"),
    ("WA-2026-0003", "6.8100.00037", "B-30002", "Verbrauch 01.11.25-31.10.26", 54, "m3", 215, " "),
    ("WA-2026-0003", "6.8100.00037", "B-30002", "Grundgebühr Zähler Qn 2,5", 12, "Mon", 450, " "),
]


def logo() -> Path:
    out = HERE / "design" / "wappen.png"
    img = Image.new("RGB", (120, 140), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    draw.polygon([(10, 10), (110, 10), (110, 80), (60, 130), (10, 80)], fill=(46, 107, 48))
    draw.polygon([(60, 25), (90, 75), (30, 75)], fill=(255, 255, 255))  # a fir tree on green
    draw.rectangle((55, 75, 65, 95), fill=(255, 255, 255))
    img.save(out, optimize=True)
    return out


def bauhof() -> Path:
    out = BATCHES / "bauhof" / "KLR_Fremdleistungen_2026-11.csv"
    out.write_bytes(("\r\n".join(";".join(r) for r in BAUHOF) + "\r\n").encode("windows-1252"))
    return out


def kita() -> Path:
    out = BATCHES / "kita" / "Elternbeitraege_2026-11.xlsx"
    book = Workbook()
    notes = book.active
    notes.title = "Hinweise"
    notes.append(("Export aus KiTa-Verwaltung, Beträge in Euro",))
    sheet = book.create_sheet("Elternbeiträge")
    sheet.append(("Elternbeiträge Kindergarten St. Martin – November 2026",))
    sheet.append(())
    sheet.append(KITA_HEADER)
    for row in KITA:
        sheet.append(row)  # every value a text cell, the amounts too ("185,00"), as the export writes them
    book.properties.creator = "Kindergarten St. Martin"
    book.properties.created = book.properties.modified = datetime(2026, 11, 2, 7, 30)
    book.save(out)
    return out


def friedhof() -> Path:
    out = BATCHES / "friedhof" / "friedhof_export_20261106.json"
    out.write_text(json.dumps(FRIEDHOF, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return out


def _fixed(values: tuple) -> str:
    line = ""
    for (name, width), value in zip(WASSER_FIELDS, values):
        line += f"{value:0{width}d}" if isinstance(value, int) else f"{value:<{width}}"[:width]
    return line


def wasser() -> Path:
    out = BATCHES / "wasser" / "WAB_RECHNUNGEN_20261102.dat"
    data = [_fixed(("D", number, kz, cust, "02.11.2026", text, qty, unit, cents, sign))
            for number, kz, cust, text, qty, unit, cents, sign in WASSER]
    width = len(data[0])
    total = sum(q * c * (-1 if s == "-" else 1) for *_, q, _u, c, s in WASSER)
    lines = [("K" + "VORLAUF WAB GEMEINDEWERKE BEISPIELHEIM 20261102").ljust(width), *data,
             ("S" + f"{len(data):09d} {total:012d}").ljust(width)]
    out.write_bytes(("\r\n".join(lines) + "\r\n").encode("windows-1252"))
    return out


def main() -> list[Path]:
    for dep in ("bauhof", "kita", "friedhof", "wasser"):
        (BATCHES / dep).mkdir(parents=True, exist_ok=True)
    return [logo(), bauhof(), kita(), friedhof(), wasser()]


if __name__ == "__main__":
    for path in main():
        print(path)
