"""Issue 11, "Done when": a second sample municipality in ``examples/`` runs end to end. Markt Beispielheim
(``examples/beispielheim``: Bavaria, its own Gemeindeschlüssel, court, accounts, design folder and register)
with five departments whose exports need the mapping language's features (docs/mapping-profiles.md).
The sample city's side (nothing of Beispielheim in Musterstadt's letters) is covered by
test_second_municipality_renders_in_its_own_design and tests/documents/test_municipality_identity_on_every_page.
"""
from __future__ import annotations

from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "beispielheim"
DEPARTMENTS = ("bauhof", "kita", "friedhof", "wasser", "steuer")


def test_beispielheim_s_configuration_loads_with_its_own_design_register_and_profiles():
    from erechnung.config import load_config
    from erechnung.intake import import_recipients_csv, load_profiles
    from erechnung.model.recipients import RecipientKind

    config = load_config(EXAMPLE / "config.toml")
    town = config.municipality
    assert (town.name, town.municipality_key[:2], config.delivery.land) == ("Markt Beispielheim", "09", "BY")
    assert town.court.name == "Bayerisches Verwaltungsgericht Regensburg"
    assert [a.iban for a in town.bank_accounts.values()] == ["DE14750690140002051007", "DE70750500000004471120"]

    design = config.design()  # its own folder, every placeholder filled from its [municipality]
    assert design.letterhead.name == "Markt Beispielheim"
    assert design.letterhead.logo == EXAMPLE / "design" / "wappen.png" and design.letterhead.logo.is_file()
    assert design.bank.iban.replace(" ", "") == "DE14750690140002051007"
    for part in (EXAMPLE / "design").glob("*.toml"):
        assert "Musterstadt" not in part.read_text(encoding="utf-8"), part

    assert sorted(load_profiles(config)) == sorted(DEPARTMENTS)
    assert {k: d.drop_zone.path for k, d in config.departments.items()} == {
        d: f"var/dropzones/{d}" for d in DEPARTMENTS}

    imported = import_recipients_csv(config.path(config.recipients).read_bytes(), "recipients.csv")
    assert not imported.errors
    people = {r.customer_number: r for r in imported.register}
    assert len(people) == 5
    (business,) = [r for r in people.values() if r.kind == RecipientKind.COMPANY]
    assert business.email and business.vat_id
    assert any(r.kind == RecipientKind.CITIZEN and not r.email for r in people.values())


#: What each department's sample export makes: invoice numbers and the data rows (row or line numbers of the
#: file) that became them. Rows not listed are no records: the CSV's "Summe" row, the Excel title rows, the
#: fixed-width Vorlauf and Summensatz.
EXPECTED = {
    "bauhof": ({"BH-2026-0001", "BH-2026-0002", "BH-2026-0003"}, {2, 3, 4, 5}),
    "kita": ({"KG-2026-0001", "KG-2026-0002", "KG-2026-0003"}, {4, 5, 6, 7}),
    "friedhof": ({"FH-2026-0311", "FH-2026-0312"}, {1, 2}),
    "wasser": ({"WA-2026-0001", "WA-2026-0002", "WA-2026-0003"}, {2, 3, 4, 5, 6, 7, 8}),
    "steuer": ({"steuer:B-30001", "steuer:B-30002"}, {1, 2}),  # notices: no number of their own
}
#: What a reader sees of Beispielheim in every letter (PDF), and what of the sample city must never show.
OWN = ("Markt Beispielheim", "Der Erste Bürgermeister", "Marktplatz 7", "93333 Beispielheim",
       "DE14 7506 9014 0002 0510 07", "www.beispielheim.example")
SAMPLE_CITY = ("Musterstadt", "Rathausplatz", "Der Bürgermeister", "DE02 1203 0000 0000 2020 51",
               "DE02 5001 0517 0137 0750 30", "Stadtkasse")
#: The business in the register gets its invoices as XRechnung (XML) only; they name Beispielheim as seller.
OWN_XML = ("Markt Beispielheim", "Marktplatz 7", "09375999")
SAMPLE_CITY_XML = ("Musterstadt", "Rathausplatz", "DE02120300000000202051", "DE02500105170137075030", "05999001")
#: A feature of each department's mapping, seen in its documents (template, value table, amounts, sign, account).
SHOWN = {
    "BH-2026-0002": ("Anton Kellermeier", "Dorfstraße 15", "Grüngutabfuhr mit Anhänger (Dorfstraße 15)"),
    "BH-2026-0001": ("Schreinerei Brandl GmbH", "Radlader mit Fahrer (Gewerbering 9)", 'unitCode="HUR"',
                     "DE14750690140002051007"),
    "KG-2026-0002": ("Elternbeitrag November 2026: Emil Gruber", "Spiel- und Bastelgeld", "147,50 €"),
    "FH-2026-0312": ("Benutzung der Aussegnungshalle, Grab C/4", "Urnengrab, Grab C/4", "450,00 €"),
    "WA-2026-0001": ("DE70 7505 0000 0004 4711 20", "6.8100.00011", "Grundgebühr Zähler Qn 2,5"),
    "WA-2026-0002": ("Gutschrift Zählerwechsel", "-12.00", "DE70750500000004471120", "6.8100.00029"),
    "steuer:B-30001": ("Hundesteuerbescheid", "2. Hund (Resi, Mischling)", "150,00 €", "Art. 3 Kommunalabgabengesetz",
                       "Widerspruch", "Bayerisches Verwaltungsgericht Regensburg, Haidplatz 1", "Art. 13 KAG"),
    "steuer:B-30002": ("Hundesteuerbescheid", "Bruno, Berner Sennenhund", "30,00 €", "Widerspruch"),
}


def _pdf_text(pdf: Path) -> str:
    import re
    import subprocess

    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True).stdout
    return re.sub(r"\s+", " ", out.decode("utf-8"))


def test_beispielheim_s_departments_run_end_to_end_in_its_own_design(tmp_path):
    import shutil

    from erechnung.pipeline import Options, run

    from .invariants import state

    town = tmp_path / "beispielheim"
    shutil.copytree(EXAMPLE, town, ignore=shutil.ignore_patterns("var", "batches"))
    for dep in DEPARTMENTS:  # the departments drop their exports where config.toml says: var/dropzones/<id>
        shutil.copytree(EXAMPLE / "batches" / dep, town / "var" / "dropzones" / dep)
    db_url = f"sqlite:///{tmp_path / 'state.sqlite3'}"

    summary = run(town / "config.toml", db_url=db_url, options=Options(workers=1), work_dir=tmp_path / "work",
                  report_dir=tmp_path / "reports")

    batches, documents, records, quarantine, archived = state(db_url)
    assert not summary.totals.rejected and not summary.totals.quarantined
    # no problems; the one line in a report is the note that Bauhof's "Summe" row is no record
    assert [(batch_of_row.department, q.row, q.problem, q.fix.startswith("nichts zu tun")) for q in quarantine
            for batch_of_row in batches if batch_of_row.id == q.batch_id] == [
        ("bauhof", 6, "Summen- oder Gesamtzeile, kein Beleg: nicht übernommen", True)]
    assert summary.totals.handed_over == len(documents) == 13
    batch_of = {b.id: b.department for b in batches}
    name_of = {d.id: d.number or f"{d.department}:{d.recipient_ref}" for d in documents}
    for dep, (numbers, rows) in EXPECTED.items():
        assert {name_of[d.id] for d in documents if d.department == dep} == numbers, dep
        assert {r.row_first for r in records if batch_of[r.batch_id] == dep} == rows, dep
    assert {r.status for r in records} == {"documented"}
    assert {(d.department == "steuer", d.kind, d.state) for d in documents} == {
        (False, "invoice", "handed_over"), (True, "notice", "handed_over")}  # validation accepted each

    made = {name_of[a.document_id]: (a.media_type, town / "var" / "archive" / "sha256" / a.sha256[:2]
                                       / a.sha256[2:4] / a.sha256)
            for a in archived if a.kind == "document"}
    assert set(made) == set(name_of.values())
    assert {n for n, (media, _) in made.items() if media != "application/pdf"} == {"BH-2026-0001", "WA-2026-0002"}
    for number, (media, path) in made.items():
        if media == "application/pdf":
            shown, own, sample = _pdf_text(path), OWN, SAMPLE_CITY
        else:
            shown, own, sample = path.read_text(encoding="utf-8"), OWN_XML, SAMPLE_CITY_XML
        for text in own + SHOWN.get(number, ()):
            assert text in shown, (number, text)
        for text in sample:
            assert text not in shown, (number, text)
