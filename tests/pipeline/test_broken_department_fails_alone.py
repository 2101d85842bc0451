"""One broken department fails alone (issue 10): a department whose mapping profile is broken (a typo'd table, a
missing file) is skipped before any of its files is claimed and named in the report with the file, what is
wrong and how to fix it; the other departments run; ``erechnung run`` exits non-zero (with and without Prefect),
and the Prefect flow run ends Failed. Run through the real command line in a subprocess."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import EXAMPLES

ROOT = Path(__file__).resolve().parents[2]


def _break_two_departments(site) -> None:
    """standesamt: its profile with ``[colums]`` for ``[columns]``; abfallwirtschaft: a profile that is not
    there. steueramt stays sound."""
    typo = site.root / "standesamt-typo.toml"
    typo.write_text((EXAMPLES / "mappings" / "standesamt.toml").read_text(encoding="utf-8")
                    .replace("[columns]", "[colums]"), encoding="utf-8")
    text = site.config_path.read_text(encoding="utf-8")
    text = re.sub(r'mapping = "[^"]*standesamt.toml"', f'mapping = "{typo.as_posix()}"', text)
    text = re.sub(r'mapping = "[^"]*abfallwirtschaft.toml"',
                  f'mapping = "{(site.root / "fehlt" / "abfall.toml").as_posix()}"', text)
    site.config_path.write_text(text, encoding="utf-8")


def _run_cli(site, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"PREFECT_HOME": str(site.root / "prefect-home"), "DO_NOT_TRACK": "1",
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
                "PREFECT_LOGGING_LEVEL": "WARNING", "COLUMNS": "200"})
    return subprocess.run([sys.executable, "-m", "erechnung", "run", "--config", str(site.config_path),
                           "--workers", "1", "--db", site.db_url, *extra], cwd=site.root, env=env,
                          capture_output=True, text=True, timeout=600)


def _check(site, proc) -> None:
    assert proc.returncode == 4, (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
    # the broken departments' files were not touched: still in the drop zone, nothing under claimed/
    for dep in ("standesamt", "abfallwirtschaft"):
        zone = site.zone(dep)
        assert sorted(p.name for p in zone.iterdir() if p.is_file()) == \
            sorted(p.name for p in (EXAMPLES / "batches" / dep).iterdir()), dep
        assert not (zone / "claimed").exists() or not any((zone / "claimed").iterdir()), dep
    # the sound department made its documents
    from erechnung.state import make_engine, transaction
    from erechnung.state.repository import list_documents

    engine = make_engine(site.db_url)
    try:
        with transaction(engine) as s:
            docs = list_documents(s)
    finally:
        engine.dispose()
    by_dep = {d.department for d in docs}
    assert by_dep == {"steueramt"} and sum(d.state == "handed_over" for d in docs) == 4
    # the report names each broken department, its file, what is wrong and how to fix it
    err = " ".join(proc.stderr.split())
    assert "Standesamt: übersprungen" in err and "standesamt-typo.toml: colums" in err
    assert "meinten Sie 'columns'?" in err
    assert "Abfallwirtschaft: übersprungen" in err and "abfall.toml" in err and "kann nicht gelesen werden" in err
    report = next(site.root.rglob("lauf-*.html")).read_text(encoding="utf-8")
    assert "Standesamt</strong>: übersprungen" in report and "colums" in report


def test_a_broken_mapping_profile_fails_only_its_department(db_url, make_site, tmp_path):
    site = make_site(tmp_path / "site", db_url, drop=False)
    for dep in ("standesamt", "abfallwirtschaft", "steueramt"):
        site.drop(dep)
    _break_two_departments(site)
    _check(site, _run_cli(site, "--no-prefect"))


@pytest.mark.slow
def test_a_broken_mapping_profile_ends_the_prefect_flow_run_failed(make_site, tmp_path):
    site = make_site(tmp_path / "site", f"sqlite:///{tmp_path / 'site' / 'state.sqlite3'}", drop=False)
    for dep in ("standesamt", "abfallwirtschaft", "steueramt"):
        site.drop(dep)
    _break_two_departments(site)
    proc = _run_cli(site)
    _check(site, proc)
    # the flow run itself ended Failed (read from the ephemeral server's own database)
    import sqlite3

    with sqlite3.connect(site.root / "prefect-home" / "prefect.db") as db:
        runs = db.execute("SELECT flow.name, flow_run.state_type, flow_run.state_name FROM flow_run "
                          "JOIN flow ON flow.id = flow_run.flow_id").fetchall()
    assert runs == [("erechnung-run", "FAILED", "Failed")], runs


def test_the_typo_hint_of_a_mapping_profile_lists_the_profiles_keys():
    from erechnung.config import ConfigError
    from erechnung.intake.mapping import parse_profile

    text = (EXAMPLES / "mappings" / "standesamt.toml").read_text(encoding="utf-8").replace("[columns]", "[colums]")
    with pytest.raises(ConfigError) as caught:
        parse_profile(text, "standesamt.toml")
    [problem] = [p for p in caught.value.problems if p.key == "colums"]
    assert problem.fix.startswith("meinten Sie 'columns'?")
    allowed = problem.fix.split("erlaubt sind: ")[1].split(", ")
    assert allowed == ["description", "group_by", "values", "skip", "amounts", "reader", "kind", "formats",
                       "columns", "constants", "identity"]
    assert "municipality" not in problem.fix and "departments" not in problem.fix
