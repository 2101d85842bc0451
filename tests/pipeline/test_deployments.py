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
