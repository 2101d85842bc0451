"""Sollstellung after a real pipeline run: every handed-over document with an amount due became its open items
(the run posts them), a notice's instalments one item each, posting again changes nothing, a credit note reduces
the invoice it names, an Änderungsbescheid gives the amended notice's items the new amounts, and the bookings go
into an export file whose checksum line adds up."""
from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from erechnung.model.receivables import ItemState
from erechnung.pipeline.context import Pipeline
from erechnung.stadtkasse.sollstellung import post
from erechnung.state import transaction
from erechnung.state.receivables import list_items
from erechnung.state.receivables_schema import OpenItemRow, PostedDocument
from tests.pipeline.conftest import BATCHES

from .conftest import TODAY

STANDESAMT = (BATCHES / "standesamt" / "2026-11-04_standesamt.csv").read_bytes()
ABFALL = (BATCHES / "abfallwirtschaft" / "2026-01-abfallgebuehren.csv").read_bytes()


def _items(site) -> dict[tuple[str, int], object]:
    with Pipeline.open(site.config, db_url=site.db_url, work_dir=site.root / "work") as p, p.transaction() as s:
        return {(i.number, i.instalment): i for i in list_items(s)}


def _exports(site) -> list[list[list[str]]]:
    folder = site.root / "var" / "kasse" / "export"
    return [list(csv.reader(io.StringIO(f.read_bytes().decode("utf-8"), newline=""), delimiter=";"))
            for f in sorted(folder.glob("buchungen-*.csv"))]


def _correcting(site, department: str) -> None:
    profile = site.root / f"{department}-correcting.toml"
    profile.write_text((BATCHES.parent / "mappings" / f"{department}.toml").read_text(encoding="utf-8")
                       + '\n[identity]\non_change = "correct"\n', encoding="utf-8")
    text = site.config_path.read_text(encoding="utf-8")
    site.config_path.write_text(re.sub(rf'mapping = "[^"]*{department}.toml"', f'mapping = "{profile.as_posix()}"',
                                       text), encoding="utf-8")


def test_the_run_posts_each_handed_over_document_once(site_with_documents):
    site = site_with_documents
    items = _items(site)
    invoice = items[("STA-2026-0101", 0)]
    assert (invoice.amount, invoice.kassenzeichen, invoice.department, invoice.state) == (
        Decimal("36.00"), "STA-2026-0101", "standesamt", ItemState.OPEN)
    sepa = items[("STA-2026-0108", 0)]
    assert sepa.mandate_id == "STA-M-0108" and sepa.account_iban  # the department's account, though none is named
    assert {("BIB-2026-0031", 0), ("BIB-2026-0032", 0)} <= set(items)  # finished XML a department delivered
    # Gewerbesteuer-Vorauszahlungen: four instalments, due 15.2., 15.5., 15.8., 15.11.
    gewst = sorted((k, v) for k, v in items.items() if v.department == "gewerbesteuer")
    numbers = {k[0] for k, _ in gewst}
    for number in numbers:
        mine = [v for k, v in gewst if k[0] == number]
        assert [i.instalment for i in mine] == [1, 2, 3, 4]
        assert [(i.due_date.month, i.due_date.day) for i in mine] == [(2, 15), (5, 15), (8, 15), (11, 15)]
        assert all(i.taxes_or_levies and i.kassenzeichen == number for i in mine)
    with Pipeline.open(site.config, db_url=site.db_url, work_dir=site.root / "work") as p:
        with p.transaction() as s:
            handed = s.execute(select(func.count()).select_from(PostedDocument)).scalar_one()
            count = s.execute(select(func.count()).select_from(OpenItemRow)).scalar_one()
        again = post(p)
        with p.transaction() as s:
            assert s.execute(select(func.count()).select_from(OpenItemRow)).scalar_one() == count
    assert handed > 0 and (again.posted, again.items, again.bookings, again.export) == (0, 0, [], None)
    [export] = _exports(site)  # the run's export; posting again wrote none
    header, lines, checksum = export[0], export[1:-1], export[-1]
    assert header[:3] == ["Buchungsart", "Kassenzeichen", "Belegnummer"]
    assert len(lines) == count and {line[0] for line in lines} == {"SOLL"}
    total = sum(Decimal(line[7].replace(",", ".")) for line in lines)
    assert checksum == ["SUMME", str(count), f"{total:.2f}".replace(".", ",")]
    assert total == sum((i.amount for i in items.values()), Decimal("0"))


def test_a_credit_note_reduces_the_invoice_it_names(make_site, db_url, tmp_path):
    site = make_site(tmp_path / "site", db_url, drop=False)
    _correcting(site, "standesamt")
    site.drop("standesamt", "a.csv", STANDESAMT)
    site.run(today=TODAY)
    assert _items(site)[("STA-2026-0101", 0)].amount == Decimal("36.00")
    changed = STANDESAMT.replace(b";2;12,00;;", b";3;12,00;;", 1).replace(b";1.080,00;", b";1.040,00;", 1)
    site.drop("standesamt", "b.csv", changed)
    site.run(today=TODAY)
    items = _items(site)
    assert items[("STA-2026-0101", 0)].amount == Decimal("0.00")  # cancelled in full by STA-2026-0101-S1
    assert items[("STA-2026-0101", 0)].state is ItemState.PAID  # nothing left to collect
    assert items[("STA-2026-0101-K1", 0)].amount == Decimal("48.00")
    assert ("STA-2026-0101-S1", 0) not in items  # a credit note is no claim
    second = _exports(site)[-1]
    assert [line[7] for line in second if line[:3] == ["MINDERUNG", "STA-2026-0101", "STA-2026-0101"]] == ["-36,00"]


def test_an_amending_notice_replaces_the_amounts(make_site, db_url, tmp_path):
    site = make_site(tmp_path / "site", db_url, drop=False)
    _correcting(site, "abfallwirtschaft")
    site.drop("abfallwirtschaft", "a.csv", ABFALL)
    site.run(today=TODAY)
    before = _items(site)
    assert before[("5.0300.100001.4", 0)].amount == Decimal("282.00")
    changed = ABFALL.decode().replace('"Bioabfallbehälter 120 l",1,Behälter,84.00',
                                      '"Bioabfallbehälter 120 l",1,Behälter,96.00').encode()
    site.drop("abfallwirtschaft", "neu.csv", changed)
    site.run(today=TODAY)
    after = _items(site)
    assert set(after) == set(before)  # the item is corrected, not doubled
    corrected = after[("5.0300.100001.4", 0)]
    assert corrected.amount == Decimal("294.00") and corrected.item_id == before[("5.0300.100001.4", 0)].item_id
    lines = _exports(site)[-1]
    assert [line[0] for line in lines[1:-1]] == ["AENDERUNG"] and lines[1][7] == "12,00"
    assert lines[-1] == ["SUMME", "1", "12,00"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_export_goes_where_the_configuration_says(make_site, db_url, tmp_path):
    site = make_site(tmp_path / "site", db_url, drop=False)
    site.config_path.write_text(site.config_path.read_text(encoding="utf-8")
                                + f'\n[stadtkasse]\nexport_location = "{(tmp_path / "fibu").as_posix()}"\n',
                                encoding="utf-8")
    site.drop("standesamt", "a.csv", STANDESAMT)
    site.run(today=TODAY)
    [export] = list((tmp_path / "fibu").glob("buchungen-*.csv"))
    assert export.read_bytes().endswith(b"\r\n") and export.read_bytes().split(b"\r\n")[-2].startswith(b"SUMME;")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_export_goes_to_a_bucket(make_site, db_url, tmp_path, s3):
    bucket = s3.bucket()
    site = make_site(tmp_path / "site", db_url, drop=False)
    site.config_path.write_text(site.config_path.read_text(encoding="utf-8")
                                + f'\n[stadtkasse]\nexport_location = "s3://{bucket}/kasse/export"\n',
                                encoding="utf-8")
    site.drop("standesamt", "a.csv", STANDESAMT)
    site.run(today=TODAY)
    [key] = s3.keys(bucket, "kasse/export/")
    assert key.startswith("kasse/export/buchungen-") and s3.get(bucket, key).split(b"\r\n")[-2].startswith(b"SUMME;")
