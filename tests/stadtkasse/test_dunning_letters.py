"""Dunning letters (issue 15): a recorded dunning run writes the steps it recorded as a batch into the dunning
department's drop zone; the next pipeline run makes them notices of the kind ``mahnung`` in the municipality's
design (stage, amounts, Kassenzeichen in the PDF); a repeated run writes and issues no second letter for the same
level. The days are passed in, never today."""
from __future__ import annotations

import json
import re
import subprocess
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from erechnung.model.receivables import OpenItem
from erechnung.stadtkasse.dunning import dunning_run
from erechnung.stadtkasse.letters import LetterError
from erechnung.state import make_engine, migrate, transaction
from erechnung.state import receivables as books
from erechnung.state.schema import Document

KZ = "5.2000.777001.3"
ACCOUNT = "DE02500105170137075030"
DUE = date(2026, 10, 1)
FIRST, LATER = date(2026, 10, 20), date(2026, 11, 20)


def _claim(engine) -> int:
    """A handed-over Hundesteuerbescheid of K-10003 (e-mail: her letters embed their claim) with 460 € open since
    1.10.2026."""
    with transaction(engine) as s:
        doc = Document(idempotency_key="test:HST-1", department="steueramt", number="HST-2026-00042", kind="notice",
                       format="notice_pdf", state="handed_over")
        s.add(doc)
        s.flush()
        row, _ = books.add_item(s, OpenItem(document_id=doc.id, number="HST-2026-00042", kassenzeichen=KZ,
                                            department="steueramt", debtor_ref="K-10003", debtor_name="Özlem Yıldız",
                                            amount=Decimal("460.00"), due_date=DUE, account_iban=ACCOUNT,
                                            taxes_or_levies=True))
        return row.id


@pytest.fixture
def site(make_site, db_url, tmp_path):
    site = make_site(tmp_path / "site", db_url, drop=False)
    migrate(db_url)
    return site


def _batches(site) -> list:
    zone = site.zone("mahnwesen")
    return sorted(zone.glob("mahnlauf-*.jsonl")) if zone.exists() else []


def _records(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _letters(db_url) -> list[Document]:
    engine = make_engine(db_url)
    try:
        with transaction(engine) as s:
            docs = s.execute(select(Document).where(Document.department == "mahnwesen")
                             .order_by(Document.id)).scalars().all()
            s.expunge_all()
            return docs
    finally:
        engine.dispose()


def _pdf_text(site, doc: Document) -> str:
    sha = doc.sha256
    pdf = (site.root / "archive" / "sha256" / sha[:2] / sha[2:4] / sha).read_bytes()
    return re.sub(r"\s+", " ", subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf,
                                              capture_output=True, check=True).stdout.decode("utf-8"))


def test_a_recorded_run_writes_the_batch_with_one_record_per_step(site, db_url):
    engine = make_engine(db_url)
    try:
        _claim(engine)
        dry = dunning_run(engine, on=FIRST, land="NW", dry_run=True, config=site.config)
        assert dry.letters is None and _batches(site) == []  # a dry run hands over nothing
        report = dunning_run(engine, on=FIRST, land="NW", dry_run=False, config=site.config)
    finally:
        engine.dispose()
    [batch] = _batches(site)
    assert report.letters == batch.name and batch.name.startswith("mahnlauf-2026-10-20-")
    assert f"Mahnschreiben übergeben als {batch.name}" in report.lines()
    [record] = _records(batch)
    step = report.steps[0]
    assert record["nummer"] == f"{KZ}-M1" and record["kassenzeichen"] == KZ and record["beleg"] == "HST-2026-00042"
    assert record["kunde"] == "K-10003" and record["stufe"] == "Zahlungserinnerung" and record["stufe_nr"] == 1
    assert record["offen"] == "460.00" and record["mahngebuehr"] == "0.00" and record["konto"] == ACCOUNT
    assert record["zahlbar_bis"] == "2026-10-27" and record["datum"] == "2026-10-20"
    assert Decimal(record["saeumniszuschlag"]) == step.surcharge > 0  # § 240 AO: 1 % of 450 € per started month
    assert record["saeumnis_monate"] == step.surcharge_months and record["saeumnis_basis"] == "450.00"
    assert Decimal(record["gesamt"]) == Decimal("460.00") + step.surcharge
    assert [p["betrag"] for p in record["positionen"]] == ["460.00", record["saeumniszuschlag"]]


def test_the_pipeline_makes_notices_of_them_and_a_repeated_run_makes_no_second_letter(site, db_url):
    engine = make_engine(db_url)
    try:
        _claim(engine)
        dunning_run(engine, on=FIRST, land="NW", dry_run=False, config=site.config)
        again = dunning_run(engine, on=FIRST, land="NW", dry_run=False, config=site.config)
        assert again.letters is None and len(_batches(site)) == 1  # the same day again: no second batch
        first_batch = _batches(site)[0]
        first_bytes = first_batch.read_bytes()
        site.run(today=FIRST)
        [reminder] = _letters(db_url)
        assert reminder.kind == "notice" and reminder.number == f"{KZ}-M1" and reminder.verdict == "accept"
        text = _pdf_text(site, reminder)
        assert f"Zahlungserinnerung zum Kassenzeichen {KZ}" in text and "460,00" in text and KZ in text
        assert "Mahngebühr (" not in text and "§ 240 AO (Säumniszuschläge)" in text  # no fee, the surcharge's law
        assert "Säumniszuschläge nach § 240 AO" in text and "464,50" in text and "27.10.2026" in text
        assert "DE02 5001 0517 0137 0750 30" in text  # paid to the claim's account (Steuern), not the default

        later = dunning_run(engine, on=LATER, land="NW", dry_run=False, config=site.config)
        assert [s.level for s in later.steps] == [2] and later.steps[0].fee > 0
    finally:
        engine.dispose()
    site.drop("mahnwesen", "erneut.jsonl", first_bytes)  # the first stage delivered once more
    site.run(today=LATER)
    letters = _letters(db_url)
    assert [d.number for d in letters] == [f"{KZ}-M1", f"{KZ}-M2"]  # no second Zahlungserinnerung
    engine = make_engine(db_url)
    try:
        with transaction(engine) as s:  # the letters claim nothing of their own: still the one item of the claim
            assert [i.kassenzeichen for i in books.list_items(s)] == [KZ]
    finally:
        engine.dispose()
    text = _pdf_text(site, letters[1])
    fee = later.steps[0].fee
    assert f"1. Mahnung zum Kassenzeichen {KZ}" in text and f"Mahngebühr ({later.steps[0].fee_rule[:20]}" in text
    assert f"{fee:.2f}".replace(".", ",") in text and f"{later.steps[0].total_due:.2f}".replace(".", ",") in text


def test_an_unknown_dunning_department_is_a_clear_error(site, db_url):
    config = site.config
    config = config.model_copy(update={"stadtkasse": config.stadtkasse.model_copy(
        update={"dunning_department": "gibtsnicht"})})
    engine = make_engine(db_url)
    try:
        _claim(engine)
        with pytest.raises(LetterError, match="gibtsnicht"):
            dunning_run(engine, on=FIRST, land="NW", dry_run=False, config=config)
    finally:
        engine.dispose()


def test_a_letter_to_an_account_the_configuration_does_not_know_is_refused(site, db_url):
    engine = make_engine(db_url)
    try:
        _claim(engine)
        report = dunning_run(engine, on=FIRST, land="NW", dry_run=False, config=site.config)
    finally:
        engine.dispose()
    [batch] = _batches(site)
    record = _records(batch)[0] | {"konto": "DE89370400440532013000"}
    batch.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    site.run(today=FIRST)
    assert report.recorded == 1 and [d.verdict for d in _letters(db_url)] != ["accept"]
    reports = " ".join(p.read_text(encoding="utf-8", errors="replace") for p in site.root.rglob("*")
                       if p.is_file() and p.suffix in (".html", ".csv", ".txt", ".json"))
    assert "keines der Konten der Gemeinde" in reports
