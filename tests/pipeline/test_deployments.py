"""The deployments finance schedules: prefect.yaml and flows.deployments name flows that exist, with parameters
the flows take, valid cron schedules, and the offline settings."""
from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def flows_module(monkeypatch, tmp_path):
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    import flows.settings

    flows.settings.apply()  # what the command line and ``python -m flows.deployments`` do before Prefect is imported
    import flows.deployments
    import flows.pipeline

    return flows.pipeline


def test_prefect_yaml_names_existing_flows_with_their_parameters(flows_module):
    from prefect.client.schemas.schedules import CronSchedule

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    assert spec["prefect-version"] == "3.8.8"
    names = set()
    for d in spec["deployments"]:
        file, _, func = d["entrypoint"].partition(":")
        assert (ROOT / file).is_file()
        fn = getattr(importlib.import_module(file.removesuffix(".py").replace("/", ".")), func)
        params = inspect.signature(fn.fn).parameters
        assert set(d.get("parameters", {})) <= set(params), (d["name"], d["parameters"])
        for s in d.get("schedules", []):
            assert CronSchedule(cron=s["cron"], timezone=s["timezone"]).timezone == "Europe/Berlin"
        assert d["work_pool"]["name"] == "erechnung"
        names.add(d["name"])
    assert {"nachts", "steueramt-monatlich", "manuell", "zustellen", "verfolgen"} <= names


def test_deployments_served_from_code(flows_module):
    import flows.deployments as fd

    deps = {d.name: d for d in fd.deployments(department_schedules={"standesamt": "0 4 * * 1"})}
    assert deps["nachts"].parameters == {"config": "examples/config.toml", "department": None}
    assert deps["standesamt-geplant"].parameters["department"] == "standesamt"
    assert deps["standesamt-geplant"].schedules[0].schedule.cron == "0 4 * * 1"
    assert not deps["manuell"].schedules
    assert deps["zustellen"].schedules[0].schedule.cron == "*/10 6-20 * * 1-5"
    assert deps["verfolgen"].schedules[0].schedule.cron == "*/30 * * * *"


def test_offline_settings_are_in_effect(flows_module):
    import os

    from flows.settings import OFFLINE

    for key, value in OFFLINE.items():
        assert os.environ[key] == value


def test_importing_the_flows_changes_no_environment():
    """The offline settings are applied where a flow starts (the command line, ``python -m flows.deployments``),
    never as a side effect of importing the flows."""
    import os
    import subprocess
    import sys

    script = ("import os; before = dict(os.environ)\n"
              "import flows, flows.pipeline, flows.delivery, flows.deployments\n"
              "print(sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k)))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") and k != "DO_NOT_TRACK"}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
