"""Issue 11, a corrected file never bills twice: the error report tells the clerk to deliver the rejected rows
again, and a clerk who delivers the whole file again (with one row fixed, or re-exported under another name)
must not get the documents of the first delivery a second time. A record that became a document is recognised
by its business identity (:mod:`erechnung.intake.identity`): unchanged, it is skipped with a line in the report
("bereits erzeugt als ..."); changed, it is not issued again and the report says what differs and what to do."""
from __future__ import annotations

import csv
import io

from sqlalchemy import select

from tests.pipeline.conftest import BATCHES

STANDESAMT = (BATCHES / "standesamt" / "2026-11-04_standesamt.csv").read_bytes()
ABFALL = (BATCHES / "abfallwirtschaft" / "2026-01-abfallgebuehren.csv").read_bytes()


def _documents(db_url, department):
    from erechnung.state import make_engine, transaction
    from erechnung.state.schema import Document

    engine = make_engine(db_url)
    try:
        with transaction(engine) as s:
            return [n or f"Nr. {i}" for i, n in s.execute(select(Document.id, Document.number).where(
                Document.department == department).order_by(Document.id))]
    finally:
        engine.dispose()


def _report(site, department, name):
    path = site.zone(department) / "fehlerberichte" / f"{name}.fehlerbericht.csv"
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig")), delimiter=";"))


def test_the_same_rows_under_another_name_create_nothing_new(db_url, make_site, tmp_path):
    """Department without numbers of its own (Abfallwirtschaft: one notice per Kassenzeichen): the file
    exported again (other name, other line endings, so not the same bytes) creates no notice a second time."""
    site = make_site(tmp_path / "site", db_url, drop=False)
    site.drop("abfallwirtschaft", "2026-01-abfallgebuehren.csv", ABFALL)
    site.run()
    first = _documents(db_url, "abfallwirtschaft")
    assert first
    again = ABFALL.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert again != ABFALL
    site.drop("abfallwirtschaft", "abfall-nochmal.csv", again)
    site.run()
    assert _documents(db_url, "abfallwirtschaft") == first
    lines = _report(site, "abfallwirtschaft", "abfall-nochmal.csv")
    assert len(lines) == len(first)
    assert all(line["Problem"].startswith("bereits erzeugt als ") for line in lines)
    assert all(any(n in line["Problem"] for n in first) for line in lines)
    assert all(line["Was tun"].startswith("nichts zu tun") for line in lines)
    page = (site.zone("abfallwirtschaft") / "fehlerberichte" / "abfall-nochmal.csv.fehlerbericht.html").read_text()
    assert "Keine Probleme: alle Belege wurden übernommen, waren bereits erzeugt oder wurden berichtigt; die " \
        "Zeilen unten sind Hinweise, es ist nichts zu tun." in page


def test_the_same_bytes_again_stay_a_duplicate_file(db_url, make_site, tmp_path):
    site = make_site(tmp_path / "site", db_url, drop=False)
    site.drop("abfallwirtschaft", "a.csv", ABFALL)
    site.run()
    site.drop("abfallwirtschaft", "b.csv", ABFALL)
    report = site.run()
    assert "b.csv" not in {p.name for p in (site.zone("abfallwirtschaft")).iterdir()}
    assert not (site.zone("abfallwirtschaft") / "fehlerberichte" / "b.csv.fehlerbericht.csv").exists()
    assert report is not None


def test_the_file_with_one_row_fixed_creates_only_that_document(db_url, make_site, tmp_path):
    """Department with its own numbers (Standesamt, with SEPA debits): the file again with STA-2026-0103's
    price fixed creates STA-2026-0103 and nothing else; the documents made before are reported as made, not as
    errors ("Belegnummer bereits vergeben"), and no debit is drawn twice."""
    site = make_site(tmp_path / "site", db_url, drop=False)
    site.drop("standesamt", "2026-11-04_standesamt.csv", STANDESAMT)
    site.run()
    first = _documents(db_url, "standesamt")
    assert "STA-2026-0103" not in first and "STA-2026-0108" in first  # 0108: a SEPA debit
    fixed = STANDESAMT.replace(b"Sterbeurkunde;1;12,3,4;", b"Sterbeurkunde;1;12,30;")
    assert fixed != STANDESAMT
    site.drop("standesamt", "2026-11-04_standesamt_korrigiert.csv", fixed)
    site.run()
    assert _documents(db_url, "standesamt") == first + ["STA-2026-0103"]
    lines = _report(site, "standesamt", "2026-11-04_standesamt_korrigiert.csv")
    problems = " ".join(line["Problem"] for line in lines)
    assert "bereits" in problems and "vergeben" not in problems
    made = [line for line in lines if line["Problem"].startswith("bereits erzeugt als ")]
    assert {line["Problem"].split()[3].rstrip(";") for line in made} == set(first)
    assert len(made) == len(first)
    assert not any("STA-2026-0103" in line["Wert"] for line in lines)


def test_a_changed_amount_is_not_issued_again_and_the_report_says_what_to_do(db_url, make_site, tmp_path):
    site = make_site(tmp_path / "site", db_url, drop=False)
    site.drop("abfallwirtschaft", "2026-01-abfallgebuehren.csv", ABFALL)
    site.run()
    first = _documents(db_url, "abfallwirtschaft")
    changed = ABFALL.decode().replace('"Bioabfallbehälter 120 l",1,Behälter,84.00',
                                      '"Bioabfallbehälter 120 l",1,Behälter,96.00').encode()
    assert changed != ABFALL
    site.drop("abfallwirtschaft", "2026-01-abfallgebuehren-neu.csv", changed)
    site.run()
    assert _documents(db_url, "abfallwirtschaft") == first
    lines = _report(site, "abfallwirtschaft", "2026-01-abfallgebuehren-neu.csv")
    changed_lines = [line for line in lines if line["Problem"].startswith("geändert gegenüber ")]
    assert len(changed_lines) == 2  # both rows of Kassenzeichen 5.0300.100001.4
    assert all(line["Wert"] == "5.0300.100001.4" for line in changed_lines)
    assert "84.00 → 96.00" in changed_lines[0]["Problem"]
    assert "Änderungsbescheid" in changed_lines[0]["Was tun"]
    assert all(line["Problem"].startswith("bereits erzeugt als ") for line in lines if line not in changed_lines)


def test_the_identity_is_configured_per_profile():
    from erechnung.errors import ErechnungError
    from erechnung.intake.mapping import parse_profile

    text = (BATCHES.parent / "mappings" / "abfallwirtschaft.toml").read_text(encoding="utf-8")
    assert parse_profile(text).identity.fields == ()  # the default: Kassenzeichen (or number) and date
    profile = parse_profile(text + '\n[identity]\nfields = ["kassenzeichen", "period"]\n')
    assert profile.identity.fields == ("kassenzeichen", "period")
    try:
        parse_profile(text + '\n[identity]\nfields = ["farbe"]\n')
    except ErechnungError as exc:
        assert "farbe" in str(exc)
    else:
        raise AssertionError("an unknown identity field must be refused")


def _identity_by(site, fields):
    """Abfallwirtschaft's profile with ``[identity] fields`` (a copy beside the site's configuration)."""
    import re

    profile = site.root / "abfall-identity.toml"
    profile.write_text((BATCHES.parent / "mappings" / "abfallwirtschaft.toml").read_text(encoding="utf-8")
                       + f"\n[identity]\nfields = {fields!r}\n".replace("'", '"'), encoding="utf-8")
    text = site.config_path.read_text(encoding="utf-8")
    site.config_path.write_text(re.sub(r'mapping = "[^"]*abfallwirtschaft.toml"',
                                       f'mapping = "{profile.as_posix()}"', text), encoding="utf-8")


def test_the_profile_decides_what_makes_a_document_the_same(db_url, make_site, tmp_path):
    """With ``[identity] fields = ["kassenzeichen"]`` a notice delivered again with another Bescheiddatum is the
    same notice, changed: not issued again, reported with the changed date."""
    site = make_site(tmp_path / "site", db_url, drop=False)
    _identity_by(site, ["kassenzeichen"])
    site.drop("abfallwirtschaft", "2026-01-abfallgebuehren.csv", ABFALL)
    site.run()
    first = _documents(db_url, "abfallwirtschaft")
    redated = ABFALL.replace(b",2026-01-15,", b",2026-01-20,")
    assert redated != ABFALL
    site.drop("abfallwirtschaft", "neu-datiert.csv", redated)
    site.run()
    assert _documents(db_url, "abfallwirtschaft") == first
    lines = _report(site, "abfallwirtschaft", "neu-datiert.csv")
    assert lines and all(line["Problem"].startswith("geändert gegenüber ") for line in lines)
    assert all("Belegdatum 2026-01-15 → 2026-01-20" in line["Problem"] for line in lines)


LIBRARY = BATCHES / "stadtbibliothek"


def test_finished_invoices_delivered_again_are_recognised_not_refused(db_url, make_site, tmp_path):
    """The Stadtbibliothek delivers finished XRechnungen. The same invoice again under another file name (an
    export run twice) is reported as made ("bereits erzeugt als BIB-..."), not as "Rechnungsnummer bereits
    vergeben"; one with the same number and date but another amount is refused with what differs."""
    site = make_site(tmp_path / "site", db_url, drop=False)
    files = sorted(f for f in LIBRARY.iterdir() if f.is_file())
    for f in files:
        site.drop("stadtbibliothek", f.name, f.read_bytes())
    site.run()
    first = _documents(db_url, "stadtbibliothek")
    assert len(first) == len(files)
    ubl = LIBRARY / "BIB-2026-0031_ubl.xml"
    data = ubl.read_bytes()
    again = data.replace(b"?>", b"?>\n<!-- noch einmal exportiert -->", 1)
    assert again != data
    site.drop("stadtbibliothek", "nochmal-" + ubl.name, again)
    site.run()
    assert _documents(db_url, "stadtbibliothek") == first
    [line] = _report(site, "stadtbibliothek", "nochmal-" + ubl.name)
    assert line["Problem"].startswith("bereits erzeugt als BIB-2026-0031 ") and line["Was tun"].startswith("nichts")

    changed = data.replace(b"<cbc:DueDate>2026-12-10<", b"<cbc:DueDate>2026-12-24<", 1)
    assert changed != data
    site.drop("stadtbibliothek", "anders-" + ubl.name, changed)
    site.run()
    assert _documents(db_url, "stadtbibliothek") == first
    [line] = _report(site, "stadtbibliothek", "anders-" + ubl.name)
    assert line["Problem"].startswith("geändert gegenüber BIB-2026-0031 ") and "2026-12-10 → 2026-12-24" in line["Problem"]
    assert "Gutschrift" in line["Was tun"]
