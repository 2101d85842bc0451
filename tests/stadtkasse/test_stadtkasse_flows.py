"""The Stadtkasse's Prefect flows (deployments ``kontoauszuege-taeglich`` and ``mahnlauf-woechentlich``), really run
in ephemeral mode: the daily flow posts the handed-over documents, imports the bank's file from the statements
drop zone (booked, moved to eingelesen/) and publishes its summary; the dunning flow's dry run lists and records
nothing, its real run records the stages."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap

import pytest
from rich.console import Console

pytestmark = [pytest.mark.xdist_group("stadtkasse_prefect"), pytest.mark.slow]

SCRIPT = textwrap.dedent("""
    import asyncio, json, sys
    from pathlib import Path
    from flows.settings import apply
    apply()
    from flows.stadtkasse import dunning_flow, statements_flow
    from prefect.client.orchestration import get_client

    config = sys.argv[1]
    first = statements_flow(config=config)
    dry = dunning_flow(config=config, dry_run=True, on="2027-06-01")
    real = dunning_flow(config=config, on="2027-06-01")

    async def keys():
        async with get_client() as client:
            response = await client._client.post("/artifacts/filter", json={"limit": 50, "offset": 0})
            return [a["key"] for a in response.json()]

    print("RESULT:" + json.dumps({"first": first, "dry": dry, "real": real, "keys": asyncio.run(keys())}))
""")


def test_daily_statements_and_weekly_dunning_run_as_flows(tmp_path):
    from datetime import date, datetime, timezone
    from decimal import Decimal

    from erechnung.entrypoints.demo.pipeline import main
    from erechnung.payments.demo_statement import DemoPayment, demo_camt053

    root = tmp_path / "site"
    assert main(root, console=Console(file=io.StringIO()), deliver=False) == 0
    zone = root / "var" / "kasse" / "kontoauszuege"
    zone.mkdir(parents=True)
    (zone / "auszug.xml").write_bytes(demo_camt053(
        [DemoPayment(Decimal("87.30"), "Unbekannt GmbH", "DE44500105175407324931", "Rechnung 4711")],
        account_iban="DE02120300000000202051", booking_date=date(2026, 12, 4),
        created=datetime(2026, 12, 4, 18, tzinfo=timezone.utc), statement_id="FLOW-1"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"PREFECT_HOME": str(tmp_path / "prefect-home"), "DO_NOT_TRACK": "1",
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
                "PREFECT_LOGGING_LEVEL": "WARNING"})
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(root / "config.toml")], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    r = json.loads(next(x for x in proc.stdout.splitlines() if x.startswith("RESULT:")).removeprefix("RESULT:"))
    assert r["first"]["imported"] == ["auszug.xml"] and r["first"]["clarification"] == 1
    assert (zone / "eingelesen" / "auszug.xml").is_file() and not (zone / "auszug.xml").exists()
    assert r["dry"]["steps"] > 0 and r["dry"]["recorded"] == 0
    assert r["real"]["recorded"] == r["dry"]["steps"]
    assert r["dry"]["letters"] is None and r["real"]["letters"].startswith("mahnlauf-2027-06-01-")
    [letters] = list(root.rglob(r["real"]["letters"]))  # the letters' batch in the dunning department's drop zone
    assert letters.parent.name == "mahnwesen"
    assert len(letters.read_text(encoding="utf-8").splitlines()) == r["real"]["recorded"]
    assert {"erechnung-kontoauszuege", "erechnung-mahnlauf"} <= set(r["keys"])
