"""The pipeline reads every batch within the configured ``[limits]`` (issue 10, bounded input): a file that
breaks one is refused as a whole, with the limit's name and value in the department's error report, and the
department's other files go on."""
from __future__ import annotations

import csv
import io

from .conftest import BATCHES

GOOD = "abfallwirtschaft"  # one CSV: a header and five lines of records
GOOD_FILE = next((BATCHES / GOOD).iterdir())


def test_a_batch_over_the_configured_row_limit_is_refused_naming_the_limit(make_site, tmp_path):
    from erechnung.pipeline import Pipeline, intake

    site = make_site(tmp_path / "site", f"sqlite:///{tmp_path / 'db.sqlite3'}", drop=False)
    with site.config_path.open("a", encoding="utf-8") as fh:
        fh.write("\n[limits]\nmax_rows = 6\n")
    zone = site.zone(GOOD)
    zone.mkdir(parents=True)
    lines = GOOD_FILE.read_bytes().splitlines(keepends=True)
    (zone / "lang.csv").write_bytes(b"".join(lines + lines[1:2]))  # seven lines: one over the limit
    site.drop(GOOD)

    with Pipeline.open(site.config, db_url=site.db_url, work_dir=site.root / "work",
                       report_dir=site.root / "reports") as p:
        report = intake(p, [GOOD])

    outcomes = {b.name: b.outcome for b in report.batches}
    assert outcomes == {GOOD_FILE.name: "processed", "lang.csv": "failed"}, outcomes
    text = (zone / "fehlerberichte" / "lang.csv.fehlerbericht.csv").read_bytes().decode("utf-8-sig")
    (row,) = csv.DictReader(io.StringIO(text), delimiter=";")
    assert row["Problem"] == "die Datei hat mehr als 6 Zeilen (Grenze limits.max_rows = 6)", row
