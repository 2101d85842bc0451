"""Issue 14, departments: a clerk uploads an export file with a bad row into their own drop zone (bounded, with a
safe name, through the storage interface); finance starts the department's run from the console; the clerk
reads what became of the file: the document made, the row quarantined with its error and the error report."""
from __future__ import annotations

import pytest

from .conftest import csrf_of

pytestmark = pytest.mark.xdist_group("console")

HEADER = ("Rechnungsnummer;Rechnungsdatum;Kundennummer;Name;Straße;PLZ;Ort;E-Mail;Leistung;Menge;Einzelpreis;"
          "Lastschrift-IBAN;Mandatsreferenz\n")
GOOD = "STA-2026-0901;03.11.2026;K-10001;;;;;;Eheurkunde – zusätzliche Ausfertigung;1;12,00;;\n"
BAD = "STA-2026-0902;03.11.2026;K-10001;;;;;;Geburtsurkunde;zwei;12,00;;\n"


def _upload(client, name: str, data: bytes, department: str = "standesamt"):
    token = csrf_of(client.get("/ablage").text)
    return client.post("/ablage", data={"csrf": token, "abteilung": department},
                       files={"datei": (name, data, "text/csv")})


def test_upload_with_a_bad_row_shows_its_error(site, client_for):
    clerk = client_for("standesamt")
    r = _upload(clerk, "../../etc/Export November<b>.csv", (HEADER + GOOD + BAD).encode("windows-1252"))
    assert r.status_code == 200 and "liegt in der Ablage der Abteilung Standesamt" in r.text, r.text
    dropped = [p for p in (site.root / "dropzones" / "standesamt").iterdir() if "Export" in p.name]
    assert len(dropped) == 1 and dropped[0].name.endswith("_Export_November_b_.csv"), dropped  # a safe name

    kasse = client_for("kasse")
    r = kasse.post("/laeufe", data={"csrf": csrf_of(kasse.get("/laeufe").text), "abteilung": "standesamt"})
    assert r.status_code == 200 and "Lauf für Standesamt gestartet" in r.text
    site.app.state.console.runs.wait("standesamt", timeout=300)
    runs = kasse.get("/laeufe").text
    assert "beendet" in runs and "kasse" in runs

    listing = clerk.get("/ablage").text
    assert "_Export_November_b_.csv" in listing
    batch_id = int(listing.split('_Export_November_b_.csv')[0].rsplit('href="/dateien/', 1)[1].split('"')[0])
    page = clerk.get(f"/dateien/{batch_id}").text
    assert "Zeilen mit Fehlern (1)" in page and "zwei" in page and "keine Zahl" in page, page
    assert "Erzeugte Dokumente (1)" in page
    report = clerk.get(f"/dateien/{batch_id}/fehlerbericht/html")
    assert report.status_code == 200 and "zwei" in report.text
    assert "default-src 'none'" in report.headers["content-security-policy"]
    assert clerk.get(f"/dateien/{batch_id}/fehlerbericht/csv").headers["content-disposition"].startswith(
        "attachment")
    # another department's clerk does not see it
    other = client_for("steueramt")
    assert other.get(f"/dateien/{batch_id}").status_code == 404
    assert "_Export_November_b_.csv" not in other.get("/ablage").text


def test_upload_is_bounded_and_needs_a_file(site, client_for):
    clerk = client_for("standesamt")
    limit = site.app.state.console.config.limits.file_bytes
    big = clerk.post("/ablage", content=b"x", headers={"content-length": str(limit + 10 ** 6),
                                                       "content-type": "multipart/form-data; boundary=x"})
    assert big.status_code == 413
    r = _upload(clerk, "leer.csv", b"")
    assert r.status_code == 400 and "Die Datei ist leer" in r.text
