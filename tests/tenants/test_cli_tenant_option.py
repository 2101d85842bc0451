"""Issue 16 on the command line: ``erechnung --tenant ID <command>`` (or ``erechnung <command> --tenant ID``)
works on that municipality's configuration and database; an explicit ``--config`` still wins; without
``--tenant`` nothing changes. ``erechnung tenants`` lists the municipalities and names a broken one (exit 1),
which fails alone: the others still run."""
from __future__ import annotations

import json
import re

import pytest

from .conftest import EXAMPLES


@pytest.mark.parametrize("argv, expected", [
    (["run", "--tenant", "a", "--no-prefect"], ["--tenant", "a", "run", "--no-prefect"]),
    (["batches", "list", "--tenant=a", "--installation", "i.toml"],
     ["--tenant=a", "--installation", "i.toml", "batches", "list"]),
    (["--tenant", "a", "run"], ["--tenant", "a", "run"]),
    (["run", "--", "--tenant", "x"], ["run", "--", "--tenant", "x"]),
    (["validate", "x.xml"], ["validate", "x.xml"]),
])
def test_tenant_and_installation_may_follow_the_command(argv, expected):
    from erechnung.entrypoints.cli.tenants import tenant_options_first

    assert tenant_options_first(argv) == expected


def _missing_database(capsys) -> str:
    """The database a command looked for (its message when there is none yet)."""
    err = re.sub(r"\s+", " ", capsys.readouterr().err)
    found = re.search(r"(?:keine Zustandsdatenbank unter|no state database at) (\S+)", err)
    assert found, err
    return found[1]


def test_a_tenant_s_commands_use_its_configuration_and_database_and_an_explicit_config_wins(
        tmp_path, make_installation, capsys, monkeypatch):
    from erechnung.entrypoints.cli import main

    monkeypatch.setenv("COLUMNS", "400")  # the messages on one line
    installation = str(make_installation(tmp_path))
    beispielheim = (tmp_path / "beispielheim" / "var" / "erechnung.sqlite3").resolve()
    musterstadt = (tmp_path / "musterstadt" / "var" / "erechnung.sqlite3").resolve()
    for argv in (["--installation", installation, "--tenant", "beispielheim", "documents"],
                 ["documents", "--tenant", "beispielheim", "--installation", installation],
                 ["batches", "list", "--tenant", "beispielheim", "--installation", installation]):
        assert main(argv) == 2
        assert _missing_database(capsys) == str(beispielheim), argv
    assert main(["status", "--tenant", "beispielheim", "--installation", installation, "--config",
                 str(tmp_path / "musterstadt" / "config.toml")]) == 2
    assert _missing_database(capsys) == str(musterstadt)

    # without --tenant: as before, even with an installation in the environment
    monkeypatch.setenv("ERECHNUNG_INSTALLATION", installation)
    monkeypatch.setenv("ERECHNUNG_DB", f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}")
    assert main(["documents"]) == 2
    assert _missing_database(capsys) == str(tmp_path / "elsewhere.sqlite3")
    assert main(["documents", "--tenant", "musterstadt"]) == 2  # the installation from the environment
    assert _missing_database(capsys) == str(musterstadt)


def test_an_unknown_tenant_is_refused_with_the_known_ones(capsys):
    from erechnung.entrypoints.cli import main

    assert main(["run", "--tenant", "musterdorf", "--installation", str(EXAMPLES / "installation.toml")]) == 2
    assert "keine Kommune 'musterdorf'" in capsys.readouterr().err


def test_erechnung_tenants_lists_the_municipalities_and_whether_each_may_run(tmp_path, make_installation, capsys):
    from erechnung.entrypoints.cli import main

    installation = str(make_installation(tmp_path, "postgresql"))
    assert main(["tenants", "--installation", installation]) == 0
    out = capsys.readouterr().out
    assert "musterstadt: Stadt Musterstadt - OK" in out and "beispielheim: Markt Beispielheim - OK" in out
    assert re.search(r"Datenbank: .*\(Schema t\w+_beispielheim\)", out)
    assert main(["tenants", "--json", "--installation", installation]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["tenant"], r["ok"], r["schema"].endswith(r["tenant"])) for r in rows] == [
        ("musterstadt", True, True), ("beispielheim", True, True)]
    assert rows[1]["archive"] == str((tmp_path / "beispielheim" / "var" / "archive").resolve())


def test_a_broken_municipality_fails_alone(tmp_path, make_installation, capsys):
    from erechnung.entrypoints.cli import main
    from erechnung.entrypoints.cli.samples import drop_samples
    from erechnung.config.tenants import load_installation

    installation = make_installation(tmp_path)
    config = tmp_path / "beispielheim" / "config.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('land = "BY"', 'land = "XY"'), encoding="utf-8")

    assert main(["tenants", "--installation", str(installation)]) == 1
    out = capsys.readouterr().out
    assert "musterstadt: Stadt Musterstadt - OK" in out
    assert "beispielheim: Markt Beispielheim - FEHLERHAFT" in out and "delivery.land = 'XY'" in out

    assert main(["run", "--no-prefect", "--tenant", "beispielheim", "--installation", str(installation)]) == 2
    assert "delivery.land" in capsys.readouterr().err

    musterstadt = load_installation(installation).tenant("musterstadt")
    assert drop_samples(musterstadt.load_config(), ["steueramt"]).files
    assert main(["run", "--no-prefect", "--workers", "1", "--tenant", "musterstadt", "--installation",
                 str(installation)]) == 0
    assert "übergeben" in capsys.readouterr().out
    assert list(musterstadt.report_dir.glob("*.html")) and musterstadt.work_dir.is_dir()
    assert not (tmp_path / "beispielheim" / "var").exists()  # nothing of the run in the broken one's folders
