"""The real Prefect ``run_flow``, once per test session, in ephemeral mode with the offline settings and a
PREFECT_HOME of its own (in a subprocess: Prefect's settings, logging and server belong to that process, not to
the test worker). It must do what the plain run does and publish the run as artifacts."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from .invariants import check_exactly_once

pytestmark = [pytest.mark.xdist_group("prefect"), pytest.mark.slow]

SCRIPT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    root = Path(sys.argv[1])
    from flows.settings import apply
    apply()                                         # the offline settings, before Prefect is imported
    from flows.pipeline import run_flow
    from prefect.client.orchestration import get_client
    result = run_flow(config=str(root / "config.toml"), workers=1, work_dir=str(root / "work"),
                      report_dir=str(root / "reports"))
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
    runs = [{"id": str(r.id), "name": r.name, "state": r.state_type.value} for r in flow_runs]
    tasks = [t.name for t in task_runs]
    print("RESULT:" + json.dumps({"result": result, "artifacts": artifacts, "runs": runs, "tasks": tasks},
                                 default=str))
""")


@pytest.fixture(scope="session")
def prefect_run(tmp_path_factory, make_site_session):
    root = tmp_path_factory.mktemp("prefect")
    site = make_site_session(root / "site", f"sqlite:///{root / 'site' / 'state.sqlite3'}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"PREFECT_HOME": str(root / "prefect-home"), "DO_NOT_TRACK": "1",
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
                "PREFECT_LOGGING_LEVEL": "WARNING"})
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(site.root)], env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT:"))
    return site, json.loads(line.removeprefix("RESULT:"))


@pytest.fixture(scope="session")
def make_site_session():
    from .conftest import Site
    from erechnung.entrypoints.demo.pipeline import config_text

    def make(root, db_url):
        root.mkdir(parents=True, exist_ok=True)
        path = root / "config.toml"
        path.write_text(config_text(root, database_url=db_url), encoding="utf-8")
        site = Site(root, path, db_url, {})
        site.drop_all()
        return site

    return make


def test_run_flow_processes_every_delivery_like_the_plain_run(prefect_run):
    site, out = prefect_run
    check_exactly_once(site)
    total = out["result"]["table"][-1]
    assert total["documents"] == total["rendered"] == total["handed_over"] == 22 and total["quarantined"] == 5
    assert [r["state"] for r in out["runs"] if r["name"]] == ["COMPLETED"]


def test_tasks_carry_chunks_not_documents(prefect_run):
    _, out = prefect_run
    tasks = out["tasks"]
    assert sum(t.startswith("intake") for t in tasks) == 6  # one per department
    assert 1 <= sum(t.startswith("render-validate") for t in tasks) <= 4  # 22 documents: a few chunks


def test_the_run_is_published_as_artifacts(prefect_run):
    site, out = prefect_run
    arts = {a["key"]: a for a in out["artifacts"]}
    assert {"erechnung-run-summary", "erechnung-run-report", "erechnung-run-report-html"} <= set(arts)
    table = arts["erechnung-run-summary"]["data"]
    table = json.loads(table) if isinstance(table, str) else table
    rows = {r["department"]: r for r in table}
    assert rows["Standesamt"]["received"] == 13 and rows["Standesamt"]["quarantined"] == 5
    assert rows["Gesamt"]["rendered"] == 22 and rows["Gesamt"]["rejected"] == 0
    assert "Standesamt" in arts["erechnung-run-report"]["data"]
    link = arts["erechnung-run-report-html"]["data"]
    assert "(file://" in link and out["result"]["report_html"].endswith(".html")
    assert os.path.isfile(out["result"]["report_html"])
