"""One configuration file, validated: every mistake reported with file, key, value, problem and fix."""
from __future__ import annotations

from pathlib import Path

import pytest

from erechnung.config import ConfigError, load_config, parse_config
from erechnung.config import parse_location

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "config.toml"


def test_example_configuration_of_stadt_musterstadt_loads(config):
    m = config.municipality
    assert m.name == "Stadt Musterstadt" and m.municipality_key == "05999001"
    assert config.database.url == "sqlite:///var/erechnung.sqlite3"
    assert config.archive.retention_years.invoices == 8
    assert set(config.departments) == {"standesamt", "ordnungsamt", "steueramt", "gewerbesteuer", "abfallwirtschaft",
                                       "mahnwesen", "stadtbibliothek"}
    standesamt = config.department("standesamt")
    assert (standesamt.format, standesamt.encoding, standesamt.delimiter) == (("csv",), "windows-1252", ";")
    assert config.department("steueramt").format == ("xlsx", "csv")
    assert config.account_of(config.department("steueramt")).account_holder.endswith("Steuern")
    assert config.account_of(standesamt) == m.default_account
    assert config.contact_of(standesamt).name == "Standesamt Musterstadt"
    assert config.contact_of(config.department("ordnungsamt")) == m.contact
    drop = config.department("ordnungsamt").drop_zone
    assert (drop.kind, drop.bucket, drop.prefix) == ("s3", "musterstadt-dropzones", "ordnungsamt")
    assert config.department("steueramt").number_range.format(42) == "HST-2026-00042"
    assert config.path("mappings/x.toml") == EXAMPLE.parent / "mappings" / "x.toml"


def test_defaults_for_database_and_archive(config):
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text[:text.index("[database]")] + text[text.index("[departments.standesamt]"):]
    parsed = parse_config(text, "config.toml")
    assert parsed.database.url == "sqlite:///var/erechnung.sqlite3"
    assert str(parsed.archive.location) == "var/archive" and parsed.archive.retention_years.invoices == 8


def _problems(text: str) -> dict[str, tuple[str | None, str, str]]:
    with pytest.raises(ConfigError) as err:
        parse_config(text, "stadt.toml")
    assert all(p.file == "stadt.toml" for p in err.value.problems)
    return {p.key: (p.value, p.problem, p.fix) for p in err.value.problems}


def _problems_or_none(text: str) -> dict[str, tuple[str | None, str, str]]:
    try:
        parse_config(text, "stadt.toml")
    except ConfigError as err:
        return {p.key: (p.value, p.problem, p.fix) for p in err.problems}
    return {}


def test_config_mistakes_are_all_reported_with_their_key():
    text = EXAMPLE.read_text(encoding="utf-8")
    broken = (text.replace('municipality_key = "05999001"', 'municipality_key = "5999001"')
              .replace('iban = "DE02120300000000202051"', 'iban = "DE02120300000000202052"')
              .replace('email = "stadtkasse@musterstadt.example"', 'email = "stadtkasse at musterstadt"')
              .replace('encoding = "windows-1252"', 'encoding = "latin1"')
              .replace('location = "var/archive"', 'location = "ftp://archiv"')
              .replace("retention_years = { invoices = 8, notices = 10 }", "retention_years = { invoices = 6 }")
              .replace('bank_account = "steuern"', 'bank_account = "steuer"')
              .replace('format = "jsonl"', 'format = "jsonl"\ndelimter = ";"')
              .replace('leitweg_id = "05999001-RECHNUNG-11"', 'leitweg_id = "05999001-RECHNUNG-12"'))
    problems = _problems(broken)
    assert set(problems) == {
        "municipality.municipality_key", "municipality.bank_accounts.stadtkasse.iban", "municipality.contact.email",
        "departments.standesamt.encoding", "archive.location", "archive.retention_years.invoices",
        "departments.steueramt.bank_account", "departments.gewerbesteuer.bank_account",  # both name "steuern"
        "departments.ordnungsamt.delimter", "departments.mahnwesen.delimter",  # both read "jsonl"
        "municipality.leitweg_id"}
    assert problems["municipality.municipality_key"] == ("'5999001'", "kein Amtlicher Gemeindeschlüssel",
                                                         "der AGS hat 8 Ziffern, z. B. 05999001")
    assert "Prüfziffer" in problems["municipality.bank_accounts.stadtkasse.iban"][1]
    value, problem, fix = problems["departments.standesamt.encoding"]
    assert value == "'latin1'" and problem == "ist kein erlaubter Wert" and "windows-1252" in fix
    assert "§ 147" in problems["archive.retention_years.invoices"][2]
    assert "stadtkasse, steuern" in problems["departments.steueramt.bank_account"][2]
    assert "meinten Sie 'delimiter'?" in problems["departments.ordnungsamt.delimter"][2]
    assert "erwartet 11" in problems["municipality.leitweg_id"][1]


def test_missing_keys_and_wrong_types_are_named():
    problems = _problems("""
[municipality]
name = "Stadt X"
municipality_key = 5999001
[departments.amt]
name = "Amt"
drop_zone = "var/x"
format = "csv"
""")
    assert problems["municipality.municipality_key"][1] == "ist kein Text"
    for key in ("municipality.address", "municipality.contact", "municipality.bank_accounts",
                "municipality.electronic_address"):
        assert problems[key][1] == "fehlt", key
    assert "mapping" in problems["departments.amt.mapping"][2]
    assert "vat_id" in problems["municipality.vat_id"][2]


def test_broken_toml_names_the_line():
    problems = _problems('[municipality]\nname = "Stadt X\n')
    (value, problem, fix), = problems.values()
    assert "kein gültiges TOML" in problem and "line 2" in problem


def test_two_departments_may_not_share_a_drop_zone_and_finished_documents_take_no_mapping():
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        'drop_zone = "var/dropzones/abfallwirtschaft"', 'drop_zone = "var/dropzones/standesamt/"').replace(
        'format = ["xml", "pdf"]', 'format = ["xml", "pdf"]\nmapping = "mappings/x.toml"\nencoding = "utf-8"')
    problems = _problems(text)
    assert "departments.standesamt" in problems["departments.abfallwirtschaft.drop_zone"][1]
    assert problems["departments.stadtbibliothek.mapping"][1].startswith("fertige Dokumente")
    assert problems["departments.stadtbibliothek.encoding"][1] == "gilt nur für CSV und fixed"


def test_a_fixed_width_export_may_name_its_encoding_but_no_delimiter():
    """Fixed-width text is decoded like CSV: an older system's Windows-1252 export names its encoding."""
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        'format = "csv"\nencoding = "utf-8"\ndelimiter = ","', 'format = "fixed"\nencoding = "windows-1252"', 1)
    assert 'format = "fixed"' in text
    assert "departments.abfallwirtschaft.encoding" not in _problems_or_none(text)
    problems = _problems(text.replace('format = "fixed"\nencoding = "windows-1252"',
                                      'format = "fixed"\nencoding = "windows-1252"\ndelimiter = ";"', 1))
    assert problems["departments.abfallwirtschaft.delimiter"][1] == "gilt nur für CSV"


@pytest.mark.parametrize("text, kind", [("var/dropzones/x", "local"), ("/srv/x", "local"),
                                        ("s3://bucket-1/a/b/", "s3"), ("s3://bucket-1", "s3")])
def test_locations_are_local_folders_or_s3(text, kind):
    assert parse_location(text).kind == kind


def test_unreadable_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="kann nicht gelesen werden"):
        load_config(tmp_path / "missing.toml")
