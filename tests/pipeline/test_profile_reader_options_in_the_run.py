"""The run reads each department's files as its mapping profile's [reader] says (issue 11, "the mapping language
says what real exports need"): a department of a fixed-width export with header and trailer records gets its
documents from the pipeline, not only from map_batch in a test."""
from __future__ import annotations

import textwrap
from pathlib import Path

PROFILE = """
group_by = "Kassenzeichen"
[reader]
record_type = { at = [1, 1], data = ["D"], ignore = ["K", "S"] }
[reader.fields]
Satzart = [1, 1]
Kassenzeichen = [2, 13]
Name = [14, 38]
Mail = [39, 63]
Leistung = [64, 88]
Betrag = [89, 97]
[formats]
implied_decimals = { "lines.unit_price" = 2 }
[columns]
number = "Kassenzeichen"
buyer.name = "Name"
buyer.email = "Mail"
lines.name = "Leistung"
lines.unit_price = "Betrag"
[constants]
buyer.street = "Ring 1"
buyer.post_code = "12345"
buyer.city = "Musterstadt"
lines.vat_category = "O"
vat_exemption_reason = "Nicht steuerbar (§ 2b UStG)"
"""


def _line(kz: str, name: str, what: str, cents: int) -> str:
    return f"D{kz:<12}{name:<25}{'kasse@example.org':<25}{what:<25}{cents:09d}"


def test_a_fixed_width_department_is_read_with_its_profile_s_positions(make_site, tmp_path: Path):
    from erechnung.pipeline import Pipeline, intake

    site = make_site(tmp_path / "site", f"sqlite:///{tmp_path / 'db.sqlite3'}", drop=False)
    profile = tmp_path / "kasse.toml"
    profile.write_text(PROFILE, encoding="utf-8")
    with site.config_path.open("a", encoding="utf-8") as fh:
        fh.write(textwrap.dedent(f"""
            [departments.kasse]
            name = "Stadtkasse"
            drop_zone = "{site.zone('kasse').as_posix()}"
            format = "fixed"
            mapping = "{profile.as_posix()}"
            """))
    text = "\n".join(["K" + "VORLAUF 20261102".ljust(96),
                      _line("5.0100.0001", "Sportverein", "Hallenmiete", 6000),
                      _line("5.0100.0001", "Sportverein", "Reinigung", 1550),
                      _line("5.0100.0002", "Kita e.V.", "Hallenmiete", 2000),
                      "S" + "000000003 000009550".ljust(96)]) + "\n"
    site.drop("kasse", "okv_20261102.dat", text.encode("windows-1252"))

    with Pipeline.open(site.config, db_url=site.db_url, work_dir=site.root / "work",
                       report_dir=site.root / "reports") as p:
        report = intake(p, ["kasse"])

    (batch,) = report.batches
    assert (batch.outcome, batch.records, batch.documents, batch.quarantined) == ("processed", 3, 2, 0), batch
