"""The real Prefect ``run_flow``, once per test session, in ephemeral mode with the offline settings and a
PREFECT_HOME of its own (in a subprocess: Prefect's settings, logging and server belong to that process, not to
the test worker). It must do what the plain run does and publish the run as artifacts, as finance reads them:
German headers, times with their zone, links to the console (``[console] base_url``). A second run, whose
Ordnungsamt drops into S3 without any credentials (the README's old offline failure), must end Failed with the
department named, while the Standesamt's file is processed all the same."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from .invariants import check_exactly_once

pytestmark = [pytest.mark.xdist_group("prefect"), pytest.mark.slow]

SCRIPT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    root, broken = Path(sys.argv[1]), Path(sys.argv[2])
    from flows.settings import apply
    apply()                                         # the offline settings, before Prefect is imported
    from flows.pipeline import run_flow
    from prefect.client.orchestration import get_client
    result = run_flow(config=str(root / "config.toml"), workers=1, work_dir=str(root / "work"),
                      report_dir=str(root / "reports"))
    state = run_flow(config=str(broken / "config.toml"), workers=1, work_dir=str(broken / "work"),
                     report_dir=str(broken / "reports"), return_state=True)
    failed = state.result(raise_on_failure=False)
    import asyncio

    from prefect.client.schemas.objects import Artifact
    from prefect.client.schemas.sorting import FlowRunSort, TaskRunSort

    async def read():
        async with get_client() as client:
            # the artifacts endpoint as the UI calls it: an empty flow/task run filter would join them away
            response = await client._client.post("/artifacts/filter", json={"limit": 200, "offset": 0,
                                                                             "sort": "CREATED_DESC"})
            response.raise_for_status()
            return ([Artifact.model_validate(a) for a in response.json()],
                    await client.read_flow_runs(sort=FlowRunSort.START_TIME_ASC, limit=200),
                    await client.read_task_runs(sort=TaskRunSort.EXPECTED_START_TIME_ASC, limit=200))

    arts, flow_runs, task_runs = asyncio.run(read())
    artifacts = [{"key": a.key, "type": a.type, "data": a.data, "flow_run_id": str(a.flow_run_id)} for a in arts]
    runs = [{"id": str(r.id), "name": r.name, "state": r.state_type.value, "message": r.state.message}
            for r in flow_runs]
    tasks = [{"name": t.name, "flow_run_id": str(t.flow_run_id), "state": t.state_type.value,
              "message": t.state.message} for t in task_runs]
    print("RESULT:" + json.dumps({"result": result, "artifacts": artifacts, "runs": runs, "tasks": tasks,
                                  "failed": {"type": state.type.value, "message": state.message,
                                             "result": getattr(failed, "result", None)}},
                                 default=str))
""")

BASE_URL = "http://127.0.0.1:8080/konsole"


@pytest.fixture(scope="session")
def prefect_run(tmp_path_factory, make_site_session):
    root = tmp_path_factory.mktemp("prefect")
    site = make_site_session(root / "site", f"sqlite:///{root / 'site' / 'state.sqlite3'}", base_url=BASE_URL)
    broken = make_site_session(root / "broken", f"sqlite:///{root / 'broken' / 'state.sqlite3'}",
                               s3_zones={"ordnungsamt": "s3://musterstadt-dropzones/ordnungsamt"},
                               only=["standesamt"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AWS_", "ERECHNUNG_S3_"))}
    env.update({"PREFECT_HOME": str(root / "prefect-home"), "DO_NOT_TRACK": "1",
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
                "PREFECT_LOGGING_LEVEL": "WARNING",
                # no credentials anywhere: the Ordnungsamt's S3 drop zone of the second run cannot be reached
                "AWS_SHARED_CREDENTIALS_FILE": str(root / "none"), "AWS_CONFIG_FILE": str(root / "none"),
                "AWS_EC2_METADATA_DISABLED": "true"})
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(site.root), str(broken.root)], env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT:"))
    return site, json.loads(line.removeprefix("RESULT:"))


@pytest.fixture(scope="session")
def make_site_session():
    from .conftest import Site
    from erechnung.entrypoints.demo.pipeline import config_text

    def make(root, db_url, *, base_url=None, s3_zones=None, only=None):
        root.mkdir(parents=True, exist_ok=True)
        path = root / "config.toml"
        text = config_text(root, database_url=db_url, s3_zones=s3_zones)
        if base_url:  # the example's [console] at another address
            text, n = re.subn(r'^base_url = "[^"]*"', f'base_url = "{base_url}"', text, flags=re.MULTILINE)
            assert n == 1
        else:  # no console set up at all
            text = _without_console(text)
        path.write_text(text, encoding="utf-8")
        site = Site(root, path, db_url, dict(s3_zones or {}))
        if only:
            for dep in only:
                site.drop(dep)
        else:
            site.drop_all()
        return site

    return make


def _without_console(text: str) -> str:
    """The configuration without its ``[console]`` and ``[[console.users]]`` tables."""
    out, skip = [], False
    for line in text.splitlines():
        if re.match(r"^\[\[?[^\]]+\]\]?", line):
            skip = re.match(r"^\[\[?console[.\]]", line) is not None
        if not skip:
            out.append(line)
    return "\n".join(out) + "\n"


def _first_run(out) -> str:
    return next(r["id"] for r in out["runs"] if r["state"] == "COMPLETED")


def _artifacts_of(out, run_id: str) -> dict:
    return {a["key"]: a for a in out["artifacts"] if a["flow_run_id"] == run_id}


def test_run_flow_processes_every_delivery_like_the_plain_run(prefect_run):
    site, out = prefect_run
    check_exactly_once(site)
    total = out["result"]["table"][-1]
    assert total["documents"] == total["rendered"] == total["handed_over"] == 22 and total["quarantined"] == 5
    assert [r["state"] for r in out["runs"] if r["name"]] == ["COMPLETED", "FAILED"]


def test_tasks_carry_chunks_not_documents_and_intake_tasks_name_their_department(prefect_run):
    _, out = prefect_run
    first = _first_run(out)
    tasks = [t["name"] for t in out["tasks"] if t["flow_run_id"] == first]
    intake = sorted(t for t in tasks if t.startswith("intake"))
    assert intake == ["intake-abfallwirtschaft", "intake-gewerbesteuer", "intake-mahnwesen", "intake-ordnungsamt",
                      "intake-stadtbibliothek", "intake-standesamt", "intake-steueramt"]  # one per department
    assert 1 <= sum(t.startswith("render-validate") for t in tasks) <= 4  # 22 documents: a few chunks


def test_the_run_is_published_as_artifacts_finance_can_read(prefect_run):
    site, out = prefect_run
    first = _first_run(out)
    arts = _artifacts_of(out, first)
    assert {"erechnung-run-summary", "erechnung-run-report", "erechnung-run-report-html"} <= set(arts)
    table = arts["erechnung-run-summary"]["data"]
    table = json.loads(table) if isinstance(table, str) else table
    assert list(table[0]) == ["Abteilung", "Dateien", "Duplikate", "Datensätze", "Belege", "erzeugt", "abgelehnt",
                              "Quarantäne", "übergeben"]  # German headers, no snake_case
    rows = {r["Abteilung"]: r for r in table}
    assert rows["Standesamt"]["Datensätze"] == 13 and rows["Standesamt"]["Quarantäne"] == 5
    assert rows["Gesamt"]["erzeugt"] == 22 and rows["Gesamt"]["abgelehnt"] == 0
    report = arts["erechnung-run-report"]["data"]
    assert "Standesamt" in report
    assert re.search(r"\d\d\.\d\d\.\d{4} \d\d:\d\d:\d\d (MEZ|MESZ) – \d\d:\d\d:\d\d (MEZ|MESZ)", report)
    assert "UTC" not in report, report
    assert "file://" not in report, report
    assert f"({BASE_URL}/laeufe)" in report  # the console's page of the runs per department
    # the Standesamt's error report: the console's page of that file (its batch), which shows it
    assert re.search(rf"- Standesamt: \[Fehlerbericht in der Konsole\]\({re.escape(BASE_URL)}/dateien/\d+\)", report)
    assert f"liegt auf dem Server unter `{out['result']['report_html']}`" in report
    link = arts["erechnung-run-report-html"]["data"]  # Prefect keeps a link artifact as markdown: [text](url)
    assert link == f"[Läufe in der Konsole]({BASE_URL}/laeufe)"
    assert os.path.isfile(out["result"]["report_html"])


def test_a_run_whose_department_failed_ends_failed_naming_it(prefect_run):
    _, out = prefect_run
    failed = out["failed"]
    assert failed["type"] == "FAILED"
    assert failed["message"].startswith("Fehlgeschlagen: Ordnungsamt.")
    assert "keine Zugangsdaten gefunden" in failed["message"] and "erechnung sandbox" in failed["message"]
    assert "NoCredentialsError" not in failed["message"]
    # the other department was processed all the same
    rows = {r["department"]: r for r in failed["result"]["table"]}
    assert rows["Standesamt"]["documents"] == 5 and rows["Ordnungsamt"]["batches"] == 0
    broken_run = next(r for r in out["runs"] if r["state"] == "FAILED")
    assert "Ordnungsamt" in broken_run["message"]
    intake = {t["name"]: t for t in out["tasks"] if t["flow_run_id"] == broken_run["id"]
              and t["name"].startswith("intake-")}
    assert intake["intake-ordnungsamt"]["state"] == "FAILED"  # red in the UI, with the reason
    assert intake["intake-ordnungsamt"]["message"].startswith("Ordnungsamt: Übernahme abgebrochen: Ablage s3://")
    assert intake["intake-standesamt"]["state"] == "COMPLETED"
    arts = _artifacts_of(out, broken_run["id"])
    assert "**Fehlgeschlagen: Ordnungsamt**" in arts["erechnung-run-report"]["data"]
    # no console configured: the report says where the HTML file lies instead of a dead link
    note = arts["erechnung-run-report-html"]
    assert "liegt auf dem Server unter" in note["data"] and "file://" not in note["data"] and "](" not in note["data"]


def test_the_run_is_named_after_the_municipality_so_a_shared_prefect_ui_shows_whose_it_is(prefect_run):
    """Issue 16: many municipalities report to one Prefect server; each flow run says whose run it is."""
    _, out = prefect_run
    assert [r["name"] for r in out["runs"]] == ["Stadt Musterstadt", "Stadt Musterstadt"]
