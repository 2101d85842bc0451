"""The Prefect flows ``erechnung-deliver`` and ``erechnung-track`` (the deployments ``zustellen`` and
``verfolgen``), really run in ephemeral mode against the sandboxes: they deliver what the pipeline handed over,
one task per step or chunk (never per document), collect the events, publish the deliveries by state and the dead
letters as artifacts, and a second deliver run sends nothing twice."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = [pytest.mark.xdist_group("delivery_prefect"), pytest.mark.slow]

SCRIPT = textwrap.dedent("""
    import asyncio, json, sys
    from pathlib import Path
    root = Path(sys.argv[1])
    from erechnung.intake.recipients import import_recipients_csv
    from mailbox_connectors.sandboxes.site import SandboxSite
    from flows.settings import apply
    apply()                                         # the offline settings, before Prefect is imported
    from flows.delivery import deliver_flow, track_flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import Artifact
    from prefect.client.schemas.sorting import TaskRunSort

    examples = Path(sys.argv[2])
    with SandboxSite(root / "sandbox") as site:
        site.register(import_recipients_csv((examples / "recipients.csv").read_bytes(), "r.csv").register)
        first = deliver_flow(config=str(root / "config.toml"), chunk_size=5)
        site.fit.wait_processed()
        tracked = track_flow(config=str(root / "config.toml"))
        second = deliver_flow(config=str(root / "config.toml"))
        received = {"zbp": len(site.zbp.messages), "mails": site.smtp.received, "elster": len(site.elster.orders)}

    async def read():
        async with get_client() as client:
            response = await client._client.post("/artifacts/filter", json={"limit": 200, "offset": 0,
                                                                             "sort": "CREATED_DESC"})
            response.raise_for_status()
            return ([Artifact.model_validate(a) for a in response.json()],
                    await client.read_task_runs(sort=TaskRunSort.EXPECTED_START_TIME_ASC, limit=200))

    arts, task_runs = asyncio.run(read())
    print("RESULT:" + json.dumps({"first": first, "tracked": tracked, "second": second, "received": received,
                                  "artifacts": [{"key": a.key, "type": a.type, "data": a.data} for a in arts],
                                  "tasks": [t.name for t in task_runs]}, default=str))
""")


def test_deliver_and_track_flows_deliver_once_in_chunks_and_publish_the_states(tmp_path):
    import io

    from rich.console import Console

    from erechnung.entrypoints.demo.pipeline import EXAMPLES, main

    root = tmp_path / "site"
    assert main(root, console=Console(file=io.StringIO()), deliver=False) == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"PREFECT_HOME": str(tmp_path / "prefect-home"), "DO_NOT_TRACK": "1",
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
                "PREFECT_LOGGING_LEVEL": "WARNING"})
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(root.resolve()), str(EXAMPLES)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    r = json.loads(next(x for x in proc.stdout.splitlines() if x.startswith("RESULT:")).removeprefix("RESULT:"))

    first, second = r["first"], r["second"]
    assert first["planned"] == 22 and first["sent"] == 22 and first["dead"] == 0, first  # Peppol, the portal
    assert first["letters"] > 0 and first["print_batch"]
    assert r["tracked"]["events"] > 0 and r["tracked"]["states"].get("delivered", 0) > 0, r["tracked"]
    assert second["planned"] == 0 and second["sent"] == 0, second
    assert r["received"]["mails"] == sum(1 for _ in (root / "sandbox/smtp/mailboxes").glob("*/*/*")
                                         if _.parent.name in ("new", "cur"))
    tasks = r["tasks"]
    sends = [t for t in tasks if t.startswith("send")]
    assert r["received"]["elster"] == 3  # the notices of the two companies with an ELSTER account, once each
    # first run: 22 deliveries in chunks of at most 5 (5 tasks) and one that finds nothing due; second run: one
    assert len(sends) == 7, tasks
    assert len(tasks) < 40, "a task carries a chunk of deliveries, never one"
    keys = {a["key"] for a in r["artifacts"]}
    assert {"erechnung-deliveries", "erechnung-delivery-report"} <= keys
    report = next(a["data"] for a in r["artifacts"] if a["key"] == "erechnung-delivery-report")
    assert "## Zustellung" in report and "unzustellbar 0" in report  # every document reached a channel (issue 13)
