"""Issue 16, the installation file: it names the municipalities (tenants) of one installation, each with its own
configuration; loading it never fails because one municipality's configuration is broken (that one is reported,
alone), and its check refuses two municipalities that share a place where data is kept, naming both, the keys
and the fix."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import EXAMPLES


def _set(config: Path, pattern: str, replacement: str) -> None:
    """Change one line of a copied configuration (the test's own change, asserted to have happened)."""
    text = config.read_text(encoding="utf-8")
    changed = re.sub(pattern, replacement, text, count=1, flags=re.M)
    assert changed != text, pattern
    config.write_text(changed, encoding="utf-8")


def test_the_example_installation_names_both_sample_municipalities_and_is_sound():
    from erechnung.config.tenants import load_installation, run_label, run_tags

    installation = load_installation(EXAMPLES / "installation.toml")
    assert {t.id: (t.name, t.config_path) for t in installation.tenants.values()} == {
        "musterstadt": ("Stadt Musterstadt", (EXAMPLES / "config.toml").resolve()),
        "beispielheim": ("Markt Beispielheim", (EXAMPLES / "beispielheim" / "config.toml").resolve())}
    check = installation.check()
    assert check.ok and not check.conflicts, [str(c) for c in check.conflicts]
    assert check.runnable()["beispielheim"].municipality.name == "Markt Beispielheim"
    beispielheim = installation.tenant("beispielheim")
    # work and report folders: next to each configuration, so distinct for municipalities in their own folders
    assert beispielheim.work_dir == (EXAMPLES / "beispielheim" / "var" / "work").resolve()
    assert installation.tenant("musterstadt").report_dir == (EXAMPLES / "var" / "reports").resolve()
    assert run_label(beispielheim) == "beispielheim (Markt Beispielheim)"
    assert run_tags(beispielheim) == ["tenant:beispielheim"]


def test_an_unknown_tenant_is_a_typed_error_listing_the_known_ones():
    from erechnung.config.tenants import UnknownTenant, load_installation
    from erechnung.errors import ErechnungError

    installation = load_installation(EXAMPLES / "installation.toml")
    with pytest.raises(UnknownTenant) as caught:
        installation.tenant("musterdorf")
    assert isinstance(caught.value, ErechnungError)
    assert "keine Kommune 'musterdorf'" in str(caught.value)
    assert "bekannt: musterstadt, beispielheim" in str(caught.value)


def test_the_installation_file_defaults_to_the_environment_and_its_own_mistakes_are_told(tmp_path, monkeypatch):
    from erechnung.config import ConfigError
    from erechnung.config.tenants import load_installation

    monkeypatch.delenv("ERECHNUNG_INSTALLATION", raising=False)
    with pytest.raises(ConfigError, match="keine Installationsdatei angegeben"):
        load_installation()
    monkeypatch.setenv("ERECHNUNG_INSTALLATION", str(EXAMPLES / "installation.toml"))
    assert set(load_installation().tenants) == {"musterstadt", "beispielheim"}

    bad = tmp_path / "installation.toml"
    bad.write_text('[tenants."Muster Stadt"]\nname = "x"\nconfig = "c.toml"\n[tenants.b]\nconfig = "b.toml"\n',
                   encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_installation(bad)
    told = str(caught.value)
    assert "keine gültige Kennung einer Kommune: 'Muster Stadt'" in told
    assert "tenants.b.name" in told and "fehlt" in told


def test_a_broken_configuration_is_reported_for_that_tenant_alone(tmp_path, make_installation):
    from erechnung.config import Config, ConfigError
    from erechnung.config.tenants import load_installation

    path = make_installation(tmp_path)
    _set(tmp_path / "beispielheim" / "config.toml", r'^municipality_key = "09375999"', 'municipality_key = "0937"')

    installation = load_installation(path)  # loading the installation does not fail
    check = installation.check()
    assert isinstance(check.configs["musterstadt"], Config)
    assert isinstance(check.configs["beispielheim"], ConfigError)
    assert check.broken == ["beispielheim"] and not check.ok
    assert set(check.runnable()) == {"musterstadt"}
    assert any("municipality.municipality_key" in p for p in check.problems_of("beispielheim"))
    assert check.problems_of("musterstadt") == []


#: Two municipalities sharing something, made so in Beispielheim's copy: the line changed, the keys the check
#: names (Musterstadt's, Beispielheim's) and a word of the problem.
SHARED = {
    "the same SQLite file": (r'^url = "sqlite:///var/erechnung.sqlite3"', 'url = "sqlite:///{root}/musterstadt/var/erechnung.sqlite3"',
                             ("database", "database"), "dieselbe Datenbank"),
    "the archive inside the other's": (r'^location = "var/archive"', 'location = "{root}/musterstadt/var/archive/beispielheim"',
                                       ("archive.location", "archive.location"), "ein Ort liegt im anderen"),
    "a drop zone of the other": (r'^drop_zone = "var/dropzones/bauhof"', 'drop_zone = "{root}/musterstadt/var/dropzones/standesamt"',
                                 ("departments.standesamt.drop_zone", "departments.bauhof.drop_zone"), "derselbe Ort"),
    "the print outbox": (r'^outbox = "var/print"', 'outbox = "{root}/musterstadt/var/print"',
                         ("delivery.print.outbox", "delivery.print.outbox"), "derselbe Ort"),
    "the delivery key prefix": (r'^key_prefix = "beispielheim"', 'key_prefix = "musterstadt"',
                                ("delivery.key_prefix", "delivery.key_prefix"), "Zustellschlüssel"),
}


@pytest.mark.parametrize("what", SHARED)
def test_two_municipalities_sharing_storage_are_refused_naming_both_the_keys_and_the_fix(tmp_path, make_installation,
                                                                                       what):
    from erechnung.config.tenants import load_installation

    pattern, line, keys, problem = SHARED[what]
    path = make_installation(tmp_path)
    _set(tmp_path / "beispielheim" / "config.toml", pattern, line.format(root=tmp_path.resolve().as_posix()))

    check = load_installation(path).check()
    assert [(c.tenants, c.keys) for c in check.conflicts] == [(("musterstadt", "beispielheim"), keys)]
    told = str(check.conflicts[0])
    assert told.startswith("musterstadt und beispielheim: ") and problem in told and " - " in told
    assert f"musterstadt.{keys[0]}" in told and f"beispielheim.{keys[1]}" in told
    assert check.broken == ["musterstadt", "beispielheim"] and not check.runnable()


def test_an_equal_number_range_prefix_is_a_hint_not_a_refusal_as_a_number_is_unique_per_seller(tmp_path,
                                                                                            make_installation):
    """BT-1 is unique per seller (BT-27): two municipalities may both number HST-2026-00001; the check says so as a
    hint naming both keys, and both may run."""
    from erechnung.config.tenants import load_installation

    path = make_installation(tmp_path)
    _set(tmp_path / "beispielheim" / "config.toml", r'prefix = "BH-2026-"', 'prefix = "HST-2026-"')
    check = load_installation(path).check()
    assert [(c.keys, c.blocking) for c in check.conflicts] == [
        (("departments.steueramt.number_range.prefix", "departments.bauhof.number_range.prefix"), False)]
    assert check.ok and set(check.runnable()) == {"musterstadt", "beispielheim"}
    assert "Nummernkreis" in check.hints_of("beispielheim")[0] and check.problems_of("beispielheim") == []


def test_two_configurations_in_one_folder_share_work_and_report_folders_unless_the_installation_separates_them(
        tmp_path, make_installation):
    from erechnung.config.tenants import load_installation

    path = make_installation(tmp_path)
    town = tmp_path / "beispielheim"
    (town / "zweite.toml").write_text((town / "config.toml").read_text(encoding="utf-8").replace(
        'key_prefix = "beispielheim"', 'key_prefix = "zweite"').replace("var/", "zweite/").replace(
        '"BH-2026-"', '"Z-BH-"').replace('"KG-2026-"', '"Z-KG-"') + '[stadtkasse]\nexport_location = '
        '"zweite/kasse/export"\nstatements = "zweite/kasse/auszuege"\n', encoding="utf-8")
    text = path.read_text(encoding="utf-8") + '[tenants.zweite]\nname = "Zweite"\nconfig = "beispielheim/zweite.toml"\n'
    path.write_text(text, encoding="utf-8")
    keys = {c.keys for c in load_installation(path).check().conflicts}
    assert keys == {("work_dir", "work_dir"), ("report_dir", "report_dir")}

    path.write_text(text + 'work_dir = "zweite/work"\nreport_dir = "zweite/reports"\n', encoding="utf-8")
    installation = load_installation(path)
    assert installation.check().ok
    assert installation.tenant("zweite").work_dir == (tmp_path / "zweite" / "work").resolve()


def test_one_postgresql_database_holds_many_municipalities_by_schema(tmp_path, make_installation, pg_schemas):
    from erechnung.config import database_url
    from erechnung.config.tenants import load_installation

    path = make_installation(tmp_path, "postgresql")
    check = load_installation(path).check()
    assert check.ok
    urls = {t: database_url(c) for t, c in check.runnable().items()}
    assert all("?schema=t" in u and u.endswith(f"_{t}") for t, u in urls.items())

    config = tmp_path / "beispielheim" / "config.toml"
    _set(config, r'^schema = "(\w+)_beispielheim"', r'schema = "\1_musterstadt"')
    _set(config, r'^schema = "t\w+_musterstadt"', 'schema = "{}"'.format(
        re.search(r'^schema = "(\w+)"', (tmp_path / "musterstadt" / "config.toml").read_text(), re.M)[1]))
    conflicts = load_installation(path).check().conflicts
    assert [c.keys for c in conflicts] == [("database", "database")]
    assert "[database] schema" in conflicts[0].fix


def test_a_schema_is_for_postgresql_and_a_plain_name(tmp_path):
    from erechnung.config import ConfigError, load_config

    town = tmp_path / "town"
    import shutil

    shutil.copytree(EXAMPLES / "beispielheim", town, ignore=shutil.ignore_patterns("var", "batches"))
    config = town / "config.toml"
    _set(config, r'^url = "sqlite:///var/erechnung.sqlite3"', 'url = "sqlite:///var/erechnung.sqlite3"\nschema = "bh"')
    with pytest.raises(ConfigError, match="database.schema = 'bh': gilt nur für PostgreSQL"):
        load_config(config)
    _set(config, r'^url = "sqlite:///var/erechnung.sqlite3"\nschema = "bh"',
         'url = "postgresql://db.example/erechnung"\nschema = "Beispiel-heim"')
    with pytest.raises(ConfigError, match="database.schema = 'Beispiel-heim': kein gültiger Schemaname"):
        load_config(config)
