"""Issue 11, a corrected file never bills twice, where the profile allows corrections (``[identity] on_change =
"correct"``): a record delivered again with other content is not refused but corrected. An invoice is cancelled by
a credit note (BT-3 381) naming it as preceding invoice (BG-3: BT-25, BT-26) and replaced by a new invoice; a
notice becomes an Änderungsbescheid that names the notice it changes. Both parts are valid XRechnung/notices,
the department's report says what was made, and delivering the corrected file once more creates nothing."""
from __future__ import annotations

import csv
import io
import re
import subprocess
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from tests.pipeline.conftest import BATCHES

STANDESAMT = (BATCHES / "standesamt" / "2026-11-04_standesamt.csv").read_bytes()
ABFALL = (BATCHES / "abfallwirtschaft" / "2026-01-abfallgebuehren.csv").read_bytes()
TODAY = date(2026, 11, 20)


def _correcting(site, department: str) -> None:
    """The department's profile with ``[identity] on_change = "correct"`` (a copy beside the configuration)."""
    profile = site.root / f"{department}-correcting.toml"
    profile.write_text((BATCHES.parent / "mappings" / f"{department}.toml").read_text(encoding="utf-8")
                       + '\n[identity]\non_change = "correct"\n', encoding="utf-8")
    text = site.config_path.read_text(encoding="utf-8")
    site.config_path.write_text(re.sub(rf'mapping = "[^"]*{department}.toml"', f'mapping = "{profile.as_posix()}"',
                                       text), encoding="utf-8")


def _documents(db_url, department):
    from erechnung.state import make_engine, transaction
    from erechnung.state.schema import Document

    engine = make_engine(db_url)
    try:
        with transaction(engine) as s:
            return {d.number or f"Nr. {d.id}": d for d in s.execute(select(Document).where(
                Document.department == department).order_by(Document.id)).scalars()}
    finally:
        engine.dispose()


def _corrections(db_url):
    from erechnung.state import make_engine, transaction
    from erechnung.state.schema import DocumentCorrection

    engine = make_engine(db_url)
    try:
        with transaction(engine) as s:
            return list(s.execute(select(DocumentCorrection).order_by(DocumentCorrection.id)).scalars())
    finally:
        engine.dispose()


def _invoice(site, document):
    """The invoice of a rendered document as read back from the archive (UBL/CII, or the XML in a ZUGFeRD PDF)."""
    from erechnung.documents.hybrid import extract_invoice_xml
    from erechnung.syntax import read_invoice

    sha = document.sha256
    data = (site.root / "archive" / "sha256" / sha[:2] / sha[2:4] / sha).read_bytes()
    if data.startswith(b"%PDF"):
        data = extract_invoice_xml(data)[1]
    return read_invoice(data)


def _report(site, department, name):
    path = site.zone(department) / "fehlerberichte" / f"{name}.fehlerbericht.csv"
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig")), delimiter=";"))


def test_a_changed_invoice_is_cancelled_by_a_credit_note_and_replaced(db_url, make_site, tmp_path):
    """STA-2026-0101 delivered again with 3 birth certificates instead of 2: credit note STA-2026-0101-S1 cancels
    it in full (BG-3 names it), STA-2026-0101-K1 bills the corrected amount; the SEPA invoice STA-2026-0108,
    changed too, gets a credit note that debits nothing. Nothing else of the file is made again."""
    site = make_site(tmp_path / "site", db_url, drop=False)
    _correcting(site, "standesamt")
    site.drop("standesamt", "2026-11-04_standesamt.csv", STANDESAMT)
    site.run(today=TODAY)
    first = _documents(db_url, "standesamt")
    original = _invoice(site, first["STA-2026-0101"])
    assert original.totals.payable_amount == Decimal("36.00")
    changed = STANDESAMT.replace(b";2;12,00;;", b";3;12,00;;", 1).replace(b";1.080,00;", b";1.040,00;", 1)
    assert changed.count(b"\n") == STANDESAMT.count(b"\n") and changed != STANDESAMT
    site.drop("standesamt", "2026-11-04_standesamt_korrigiert.csv", changed)
    site.run(today=TODAY)
    now = _documents(db_url, "standesamt")
    assert set(now) - set(first) == {"STA-2026-0101-S1", "STA-2026-0101-K1", "STA-2026-0108-S1", "STA-2026-0108-K1"}

    credit = _invoice(site, now["STA-2026-0101-S1"])
    assert now["STA-2026-0101-S1"].kind == "credit_note" and now["STA-2026-0101-S1"].verdict == "accept"
    assert credit.type_code == "381"
    assert [(p.number, p.issue_date) for p in credit.preceding_invoices] == [("STA-2026-0101", original.issue_date)]
    assert credit.totals.payable_amount == original.totals.payable_amount  # cancelled in full
    assert credit.issue_date == TODAY
    replacement = _invoice(site, now["STA-2026-0101-K1"])
    assert now["STA-2026-0101-K1"].verdict == "accept"
    assert replacement.type_code == "380" and replacement.totals.payable_amount == Decimal("48.00")
    assert replacement.issue_date == TODAY and replacement.due_date == date(2026, 12, 4)  # 14 days, as before
    assert any("ersetzt die Rechnung STA-2026-0101" in n.text for n in replacement.notes)

    sepa_credit = _invoice(site, now["STA-2026-0108-S1"])
    assert all(p.direct_debit is None for p in sepa_credit.payment_instructions)  # a credit note debits nothing
    assert any(p.direct_debit is not None for p in _invoice(site, now["STA-2026-0108-K1"]).payment_instructions)

    corrections = _corrections(db_url)
    assert [(c.revision, c.replaced_document_id, c.credit_note_document_id, c.document_id) for c in corrections] \
        == [(1, first["STA-2026-0101"].id, now["STA-2026-0101-S1"].id, now["STA-2026-0101-K1"].id),
            (1, first["STA-2026-0108"].id, now["STA-2026-0108-S1"].id, now["STA-2026-0108-K1"].id)]

    lines = _report(site, "standesamt", "2026-11-04_standesamt_korrigiert.csv")
    corrected = [line for line in lines if line["Problem"].startswith("geändert gegenüber STA-2026-0101:")]
    assert len(corrected) == 2  # both rows of STA-2026-0101
    assert "Gutschrift STA-2026-0101-S1 storniert STA-2026-0101" in corrected[0]["Problem"]
    assert "STA-2026-0101-K1" in corrected[0]["Problem"] and corrected[0]["Was tun"].startswith("nichts zu tun")
    def problems(report):
        return [(line["Zeile"], line["Problem"]) for line in report if not line["Was tun"].startswith("nichts zu tun")]

    # the sample's broken rows stay what they were; the corrections are notes, no problems
    assert problems(lines) == problems(_report(site, "standesamt", "2026-11-04_standesamt.csv"))

    site.drop("standesamt", "nochmal.csv", changed.replace(b"\r\n", b"\n"))
    site.run(today=TODAY)
    assert set(_documents(db_url, "standesamt")) == set(now)  # the correction is what was made: nothing new
    again = _report(site, "standesamt", "nochmal.csv")
    assert any(line["Problem"].startswith("bereits erzeugt als STA-2026-0101-K1") for line in again)


def test_a_second_change_is_revision_two(db_url, make_site, tmp_path):
    site = make_site(tmp_path / "site", db_url, drop=False)
    _correcting(site, "standesamt")
    site.drop("standesamt", "a.csv", STANDESAMT)
    site.run(today=TODAY)
    site.drop("standesamt", "b.csv", STANDESAMT.replace(b";2;12,00;;", b";3;12,00;;", 1))
    site.run(today=TODAY)
    site.drop("standesamt", "c.csv", STANDESAMT.replace(b";2;12,00;;", b";4;12,00;;", 1))
    site.run(today=TODAY)
    now = _documents(db_url, "standesamt")
    assert {"STA-2026-0101-S2", "STA-2026-0101-K2"} <= set(now)
    credit = _invoice(site, now["STA-2026-0101-S2"])
    assert [p.number for p in credit.preceding_invoices] == ["STA-2026-0101-K1"]  # cancels the one in force
    assert credit.totals.payable_amount == Decimal("48.00")
    assert _invoice(site, now["STA-2026-0101-K2"]).totals.payable_amount == Decimal("60.00")
    assert [c.revision for c in _corrections(db_url)] == [1, 2]


def test_without_on_change_correct_nothing_is_issued(db_url, make_site, tmp_path):
    """The default stays: a changed invoice is reported with what to do, and the advice names the option."""
    site = make_site(tmp_path / "site", db_url, drop=False)
    site.drop("standesamt", "a.csv", STANDESAMT)
    site.run(today=TODAY)
    first = _documents(db_url, "standesamt")
    site.drop("standesamt", "b.csv", STANDESAMT.replace(b";2;12,00;;", b";3;12,00;;", 1))
    site.run(today=TODAY)
    assert set(_documents(db_url, "standesamt")) == set(first)
    changed = [line for line in _report(site, "standesamt", "b.csv") if line["Problem"].startswith("geändert")]
    assert changed and 'on_change = "correct"' in changed[0]["Was tun"]
    assert _corrections(db_url) == []


def test_a_changed_notice_becomes_an_amending_notice(db_url, make_site, tmp_path):
    """Abfallwirtschaft (no numbers of its own, one notice per Kassenzeichen): the bio bin's fee changed, the
    notice for 5.0300.100001.4 is issued again as Änderungsbescheid naming the first notice, with its claim's BG-3
    pointing to it; the other notices are not made again."""
    import pikepdf

    from erechnung.documents.hybrid import extract_invoice_xml
    from erechnung.syntax import read_invoice

    site = make_site(tmp_path / "site", db_url, drop=False)
    _correcting(site, "abfallwirtschaft")
    site.drop("abfallwirtschaft", "2026-01-abfallgebuehren.csv", ABFALL)
    site.run(today=TODAY)
    first = _documents(db_url, "abfallwirtschaft")
    changed = ABFALL.decode().replace('"Bioabfallbehälter 120 l",1,Behälter,84.00',
                                      '"Bioabfallbehälter 120 l",1,Behälter,96.00').encode()
    site.drop("abfallwirtschaft", "neu.csv", changed)
    site.run(today=TODAY)
    now = _documents(db_url, "abfallwirtschaft")
    added = [d for key, d in now.items() if key not in first]
    assert len(added) == 1 and added[0].kind == "notice" and added[0].verdict == "accept"
    sha = added[0].sha256
    pdf = (site.root / "archive" / "sha256" / sha[:2] / sha[2:4] / sha).read_bytes()
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        title = str(doc.open_metadata().get("dc:title"))
    assert title.startswith("Änderungsbescheid über")
    text = re.sub(r"\s+", " ", subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf,
                                               capture_output=True, check=True).stdout.decode("utf-8"))
    assert "Dieser Bescheid ändert den Bescheid 5.0300.100001.4 vom 15.01.2026 und tritt an dessen Stelle" in text
    claim = read_invoice(extract_invoice_xml(pdf)[1])
    assert [(p.number, p.issue_date) for p in claim.preceding_invoices] == [("5.0300.100001.4", date(2026, 1, 15))]
    assert claim.totals.payable_amount == Decimal("294.00")  # 198.00 + 96.00
    assert claim.issue_date == TODAY  # the Änderungsbescheid has its own date
    [correction] = _corrections(db_url)
    assert correction.credit_note_document_id is None and correction.document_id == added[0].id
    lines = _report(site, "abfallwirtschaft", "neu.csv")
    notes = [line for line in lines if line["Problem"].startswith("geändert gegenüber")]
    assert len(notes) == 2 and "Änderungsbescheid" in notes[0]["Problem"] and "84.00 → 96.00" in notes[0]["Problem"]


def test_a_correction_made_one_by_one_after_a_conflict_is_the_same(db_url, make_site, tmp_path, monkeypatch):
    """When a chunk's bulk insert meets a conflict, its drafts go one by one: a correction still makes its credit
    note and its new invoice together, with the same numbers and trail."""
    from sqlalchemy.exc import IntegrityError

    from erechnung.pipeline import bulk

    site = make_site(tmp_path / "site", db_url, drop=False)
    _correcting(site, "standesamt")
    site.drop("standesamt", "a.csv", STANDESAMT)
    site.run(today=TODAY)

    def conflict(s, documents):
        raise IntegrityError("INSERT", {}, Exception("simulated: a concurrent writer"))

    monkeypatch.setattr(bulk, "create_documents", conflict)
    site.drop("standesamt", "b.csv", STANDESAMT.replace(b";2;12,00;;", b";3;12,00;;", 1))
    site.run(today=TODAY)
    now = _documents(db_url, "standesamt")
    assert {"STA-2026-0101-S1", "STA-2026-0101-K1"} <= set(now)
    assert now["STA-2026-0101-S1"].kind == "credit_note" and now["STA-2026-0101-S1"].verdict == "accept"
    [c] = _corrections(db_url)
    assert (c.credit_note_document_id, c.document_id) == (now["STA-2026-0101-S1"].id, now["STA-2026-0101-K1"].id)
    lines = _report(site, "standesamt", "b.csv")
    assert sum(line["Problem"].startswith("geändert gegenüber STA-2026-0101:") for line in lines) == 2


def test_a_correction_s_documents_are_rebuilt_when_the_work_area_is_lost(db_url, make_site, tmp_path):
    """The work area is scratch: a correction's credit note and new invoice, lost from it after intake, are built
    again from the archived batch and the parts the correction recorded, with the numbers they were given, and
    come out as they would have (the credit note cancels the invoice in full)."""
    import shutil

    from erechnung.config import load_config
    from erechnung.pipeline import Options, Pipeline, intake, pending, render_and_validate

    site = make_site(tmp_path / "site", db_url, drop=False)
    _correcting(site, "standesamt")
    site.drop("standesamt", "a.csv", STANDESAMT)
    site.run(today=TODAY)
    site.drop("standesamt", "b.csv", STANDESAMT.replace(b";2;12,00;;", b";3;12,00;;", 1))
    with Pipeline.open(load_config(site.config_path), db_url=db_url, work_dir=site.root / "work",
                       options=Options(workers=1, today=TODAY)) as p:
        intake(p)
        ids = pending(p, "render")
        assert len(ids) == 2  # the credit note and the new invoice
        shutil.rmtree(site.root / "work" / "models")
        (site.root / "work" / "models").mkdir()
        report = render_and_validate(p, ids)
        assert len(report.rendered) == 2 and not report.failed
    site.run(today=TODAY)  # archive and hand over
    now = _documents(db_url, "standesamt")
    assert now["STA-2026-0101-S1"].verdict == now["STA-2026-0101-K1"].verdict == "accept"
    credit = _invoice(site, now["STA-2026-0101-S1"])
    assert credit.type_code == "381" and credit.totals.payable_amount == Decimal("36.00")
    assert [p.number for p in credit.preceding_invoices] == ["STA-2026-0101"]
    replacement = _invoice(site, now["STA-2026-0101-K1"])
    assert replacement.totals.payable_amount == Decimal("48.00") and replacement.issue_date == TODAY
