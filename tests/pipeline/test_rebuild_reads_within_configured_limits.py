"""A document whose model was lost from the work area is rebuilt from its archived batch under the same
configured ``[limits]`` that intake read it with (issue 10, bounded input): an operator who raised a limit for a
large department must not find the batch refused on the rebuild after intake accepted it."""
from __future__ import annotations

import shutil

from sqlalchemy import select

from .conftest import BATCHES

GOOD = "abfallwirtschaft"  # one CSV: a header and five lines of records
GOOD_FILE = next((BATCHES / GOOD).iterdir())


def _wide(csv_bytes: bytes, extra: int) -> bytes:
    """The same export with ``extra`` empty columns more (a Fachverfahren that exports every field it has)."""
    text = csv_bytes.decode("utf-8-sig")
    delimiter = ";" if text.splitlines()[0].count(";") >= text.splitlines()[0].count(",") else ","
    lines = text.splitlines()
    head = lines[0] + "".join(f"{delimiter}Zusatz{i}" for i in range(extra))
    body = [line + delimiter * extra for line in lines[1:] if line.strip()]
    return ("\n".join([head, *body]) + "\n").encode("utf-8")


def test_rebuild_reads_the_archived_batch_within_the_configured_limits(make_site, tmp_path):
    from erechnung.pipeline import Pipeline, intake
    from erechnung.pipeline.rebuild import rebuild_models
    from erechnung.state.schema import Document

    site = make_site(tmp_path / "site", f"sqlite:///{tmp_path / 'db.sqlite3'}", drop=False)
    with site.config_path.open("a", encoding="utf-8") as fh:
        fh.write("\n[limits]\nmax_columns = 1500\n")  # the default is 1000
    zone = site.zone(GOOD)
    zone.mkdir(parents=True)
    (zone / "breit.csv").write_bytes(_wide(GOOD_FILE.read_bytes(), 1200))

    with Pipeline.open(site.config, db_url=site.db_url, work_dir=site.root / "work",
                       report_dir=site.root / "reports") as p:
        report = intake(p, [GOOD])
        assert {b.name: b.outcome for b in report.batches} == {"breit.csv": "processed"}, report.batches
        with p.transaction() as s:
            ids = list(s.execute(select(Document.id)).scalars())
        assert ids
        shutil.rmtree(p.work.models)  # the work area was cleaned while the documents waited
        p.work.models.mkdir()
        assert rebuild_models(p, ids) == len(ids)
