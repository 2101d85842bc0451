"""The whole pipeline on Stadt Musterstadt's sample deliveries, on SQLite and PostgreSQL, from folders and from
an S3 bucket: every good record one accepted document, broken rows quarantined with reasons and reported to the
department, and a file delivered again (or a run repeated) creating nothing twice."""
from __future__ import annotations

import csv
import io

import pytest

from .conftest import BATCHES
from .invariants import (EXPECTED_DOCUMENTS, check_drop_zones_clean, check_exactly_once, check_work_area_empty,
                         state)


def _counts(summary) -> dict[str, dict[str, int]]:
    return {d.department: {k: getattr(d, k) for k in ("batches", "duplicates", "received", "documents", "rendered",
                                                       "rejected", "quarantined", "handed_over")}
            for d in summary.departments}


def test_every_good_record_becomes_one_accepted_document_and_broken_rows_are_quarantined(db_url, make_site,
                                                                                        tmp_path):
    site = make_site(tmp_path / "site", db_url)
    summary = site.run()
    counts = _counts(summary)
    assert counts["standesamt"] == {"batches": 1, "duplicates": 0, "received": 13, "documents": 5, "rendered": 5,
                                    "rejected": 0, "quarantined": 5, "handed_over": 5}
    for dep, n in EXPECTED_DOCUMENTS.items():
        assert counts[dep]["documents"] == counts[dep]["rendered"] == counts[dep]["handed_over"] == n, counts[dep]
    assert not summary.rejected and not summary.failed
    check_exactly_once(site)
    check_drop_zones_clean(site)
    check_work_area_empty(site.root)
    assert summary.report_html.is_file() and b"Standesamt" in summary.report_html.read_bytes()


def test_the_department_reads_why_each_broken_row_was_held_back(make_site, tmp_path):
    site = make_site(tmp_path / "site", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    site.run()
    report = site.zone("standesamt") / "fehlerberichte" / "2026-11-04_standesamt.csv.fehlerbericht.csv"
    rows = list(csv.DictReader(io.StringIO(report.read_bytes().decode("utf-8-sig")), delimiter=";"))
    by_row = {r["Zeile"]: r for r in rows}
    assert set(by_row) == {"6", "7", "8", "9", "10"}
    assert by_row["6"]["Wert"] == "12,3,4" and by_row["6"]["Problem"] == "keine Zahl"
    assert "Februar" in by_row["7"]["Problem"]
    assert "Kundennummer" in by_row["9"]["Problem"] and by_row["9"]["Wert"] == "K-99999"
    assert "IBAN" in by_row["10"]["Problem"]
    assert all(r["Was tun"] for r in rows)
    html = (report.parent / "2026-11-04_standesamt.csv.fehlerbericht.html").read_text(encoding="utf-8")
    assert "Standesamt" in html and "12,3,4" in html


def test_the_same_files_dropped_again_create_nothing(db_url, make_site, tmp_path):
    site = make_site(tmp_path / "site", db_url)
    site.run()
    before = [(d.id, d.number, d.sha256) for d in state(db_url)[1]]
    site.drop_all()  # every sample delivered a second time, under the same names
    site.drop("ordnungsamt", name="nochmal-anderer-name.jsonl",
              data=next(f for f in (BATCHES / "ordnungsamt").iterdir()).read_bytes())
    again = site.run()
    counts = _counts(again)
    assert all(c["documents"] == 0 and c["rendered"] == 0 and c["received"] == 0 for c in counts.values()), counts
    assert sum(c["duplicates"] for c in counts.values()) == 8  # the 7 sample files and the renamed copy
    assert [(d.id, d.number, d.sha256) for d in state(db_url)[1]] == before
    check_exactly_once(site)
    check_drop_zones_clean(site)


def test_a_run_with_nothing_new_changes_nothing(make_site, tmp_path):
    site = make_site(tmp_path / "site", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    site.run()
    before = state(site.db_url)[1]
    nothing = site.run()
    assert all(v == 0 for c in _counts(nothing).values() for v in c.values())
    assert [(d.id, d.state) for d in state(site.db_url)[1]] == [(d.id, d.state) for d in before]


def test_a_corrected_redelivery_gets_new_rows_and_refuses_numbers_already_sent(make_site, tmp_path):
    site = make_site(tmp_path / "site", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    site.run()
    original = next((BATCHES / "standesamt").iterdir()).read_bytes().decode("windows-1252")
    corrected = original.replace("12,3,4", "12,34")  # row 6 fixed; the good rows delivered once more
    site.drop("standesamt", name="2026-11-04_standesamt_korrigiert.csv", data=corrected.encode("windows-1252"))
    summary = site.run()
    sta = _counts(summary)["standesamt"]
    assert sta["documents"] == 1 and sta["rendered"] == 1  # STA-2026-0103, now readable
    docs = [d for d in state(site.db_url)[1] if d.department == "standesamt"]
    assert sorted(d.number for d in docs) == ["STA-2026-0101", "STA-2026-0102", "STA-2026-0103", "STA-2026-0108",
                                              "STA-2026-0109", "STA-2026-0110"]
    report = (site.zone("standesamt") / "fehlerberichte" /
              "2026-11-04_standesamt_korrigiert.csv.fehlerbericht.csv").read_bytes().decode("utf-8-sig")
    # the five documents sent before: recognised (issue 11), reported as made, not as numbers given twice
    assert report.count("bereits erzeugt als") == 5 and "bereits für einen anderen Beleg" not in report


def test_recipient_decides_the_form(make_site, tmp_path):
    site = make_site(tmp_path / "site", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    site.run()
    forms = {(d.department, d.number or d.recipient_ref): d.format for d in state(site.db_url)[1]}
    assert forms[("ordnungsamt", "OA-2026-000003")] == "ubl"  # Landkreis: public body with a Leitweg-ID
    assert forms[("ordnungsamt", "OA-2026-000001")] == "cii"  # a business by e-mail
    assert forms[("standesamt", "STA-2026-0102")] == "zugferd"  # a citizen: the PDF with the XML inside
    assert {f for (dep, _), f in forms.items() if dep == "steueramt"} == {"notice_pdf"}
    assert {f for (dep, _), f in forms.items() if dep == "stadtbibliothek"} == {"passthrough"}


def test_drop_zone_and_archive_in_s3(db_url, make_site, s3, tmp_path):
    zones, archive = s3.bucket(), s3.bucket()
    s3_zones = {"ordnungsamt": f"s3://{zones}/ordnungsamt", "standesamt": f"s3://{zones}/standesamt"}
    site = make_site(tmp_path / "site", db_url, s3_zones=s3_zones, archive=f"s3://{archive}/erechnung", s3=s3)
    summary = site.run()
    counts = _counts(summary)
    assert counts["ordnungsamt"]["handed_over"] == 5 and counts["standesamt"]["quarantined"] == 5
    check_exactly_once(site)
    assert s3.keys(zones, "ordnungsamt/") == []  # claimed, processed, removed
    assert s3.keys(zones, "standesamt/") == ["standesamt/fehlerberichte/2026-11-04_standesamt.csv.fehlerbericht.csv",
                                            "standesamt/fehlerberichte/2026-11-04_standesamt.csv.fehlerbericht.html"]
    assert "keine Zahl" in s3.get(zones, "standesamt/fehlerberichte/2026-11-04_standesamt.csv.fehlerbericht.csv"
                                  ).decode("utf-8-sig")
    site.drop("ordnungsamt", s3=s3)
    again = _counts(site.run())
    assert again["ordnungsamt"]["duplicates"] == 1 and again["ordnungsamt"]["documents"] == 0
    check_exactly_once(site)


def test_a_spawned_worker_pool_renders_chunks(make_site, tmp_path):
    site = make_site(tmp_path / "site", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    summary = site.run(workers=2, chunk_size=10)  # the pool starts before intake and warms up meanwhile
    assert summary.workers == 2 and "pool_ready" in summary.timings
    assert summary.totals.rendered == 22 and not summary.rejected and not summary.failed
    check_exactly_once(site)
    check_work_area_empty(site.root)


def test_a_department_held_by_a_live_run_is_left_alone(make_site, tmp_path):
    from erechnung.pipeline import Pipeline
    from erechnung.pipeline.locks import DepartmentBusy, acquire, release

    site = make_site(tmp_path / "site", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with Pipeline.open(site.config, db_url=site.db_url, work_dir=site.root / "work") as other:
        acquire(other, "standesamt")  # a live holder (this process): not taken over
        with pytest.raises(DepartmentBusy):
            with Pipeline.open(site.config, db_url=site.db_url, work_dir=site.root / "work") as p:
                acquire(p, "standesamt")
        summary = site.run()
        busy = {d.department: d.busy for d in summary.departments}
        assert busy["standesamt"] and not busy["ordnungsamt"]
        assert _counts(summary)["standesamt"]["documents"] == 0
        release(other)
    assert _counts(site.run())["standesamt"]["documents"] == 5


def test_a_drop_zone_out_of_reach_stops_only_its_department(make_site, s3, tmp_path):
    missing = f"p-missing-{tmp_path.name[-8:].lower()}".replace("_", "-")
    site = make_site(tmp_path / "site", f"sqlite:///{tmp_path / 'db.sqlite3'}",
                     s3_zones={"ordnungsamt": f"s3://{missing}/ordnungsamt"}, drop=False)
    for dep in ("standesamt", "steueramt"):
        site.drop(dep)
    summary = site.run()
    by = {d.department: d for d in summary.departments}
    assert by["ordnungsamt"].error == (f"Ablage s3://{missing}/ordnungsamt nicht erreichbar: den Bucket gibt es "
                                       "nicht. Legen Sie den Bucket an oder korrigieren Sie den Ort in der "
                                       "Konfiguration.")  # German, for finance: what, where, what to do
    assert by["standesamt"].documents == 5 and by["steueramt"].handed_over == 4
    assert "Ordnungsamt" in summary.report_html.read_text(encoding="utf-8")


def test_a_lost_work_area_is_rebuilt_from_the_archived_batches(make_site, tmp_path):
    """The work area is scratch: models lost after intake are rebuilt from the archived originals (with the
    numbers the database gave), renderings lost before archiving are made again; nothing is created twice."""
    import shutil

    from erechnung.pipeline import Options, Pipeline, archive, hand_over, intake, pending, render_and_validate

    site = make_site(tmp_path / "site", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with Pipeline.open(site.config, db_url=site.db_url, work_dir=site.root / "work",
                       options=Options(workers=1)) as p:
        intake(p)
        ids = pending(p, "render")
        assert len(ids) == 22
        shutil.rmtree(site.root / "work" / "models")  # lost: every document must be rebuilt
        (site.root / "work" / "models").mkdir()
        half = ids[:9]
        report = render_and_validate(p, half)
        assert len(report.rendered) == 9 and not report.failed
        for f in (site.root / "work" / "rendered").iterdir():  # renderings lost before archiving
            f.unlink()
        rest = render_and_validate(p, ids[9:])
        assert len(rest.rendered) == 13
        archived = archive(p, ids)
        assert sorted(archived.archived) == ids and sorted(archived.rerendered) == half
        assert sorted(hand_over(p, ids)) == ids
        assert not pending(p, "render") and not pending(p, "archive") and not pending(p, "hand_over")
    check_exactly_once(site)
