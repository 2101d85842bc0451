"""The README's Prefect path on a fresh clone, as far as a test can walk it without a Prefect server: the
sandboxes start (with the S3 stand-in for ``s3://`` drop zones), ``erechnung samples`` puts the sample deliveries
into the configuration's drop zones - the Ordnungsamt's S3 zone included - and a run processes every department,
offline, with no AWS credentials in the environment. A drop zone nobody can reach fails alone, in German. The
README and the example configuration name the sandbox folder the configuration includes."""
from __future__ import annotations

import io
import re
import threading
import time
from pathlib import Path

import pytest

from erechnung.entrypoints.demo.pipeline import config_text

ROOT = Path(__file__).resolve().parents[2]
ORDNUNGSAMT_S3 = {"ordnungsamt": "s3://musterstadt-dropzones/ordnungsamt"}
NO_AWS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_PROFILE",
          "ERECHNUNG_S3_ENDPOINT_URL", "ERECHNUNG_S3_REGION")


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No AWS credentials or endpoint anywhere in the environment: only the configuration can make S3 work."""
    for k in NO_AWS:
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    import boto3

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # botocore caches credentials an earlier test set


@pytest.fixture
def sandbox(tmp_path):
    """``erechnung sandbox --dir ROOT/sandbox`` (the folder the site's configuration includes), until the test ends."""
    from erechnung.entrypoints.cli.delivery import run_sandbox

    out, stop, codes = io.StringIO(), threading.Event(), []
    t = threading.Thread(target=lambda: codes.append(run_sandbox(tmp_path / "site" / "sandbox", until=stop,
                                                                 out=out)))
    t.start()
    deadline = time.monotonic() + 90
    while "Strg+C" not in out.getvalue() and t.is_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        yield out.getvalue()
    finally:
        stop.set()
        t.join(30)
    assert codes == [0]


def _site(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "config.toml"
    path.write_text(config_text(root, s3_zones=ORDNUNGSAMT_S3, database_url=f"sqlite:///{root / 'state.sqlite3'}"),
                    encoding="utf-8")
    return path


def _run(config_path: Path):
    from erechnung.pipeline import Options, run

    root = config_path.parent
    return run(config_path, options=Options(workers=1), work_dir=root / "work", report_dir=root / "reports")


@pytest.mark.slow
def test_sandbox_samples_and_run_work_offline_with_the_s3_drop_zone(tmp_path, offline, sandbox):
    from erechnung.config import load_config
    from erechnung.config.s3 import s3_options
    from erechnung.entrypoints.cli.samples import run_samples

    assert re.search(r"S3-Ersatz \(s3://-Ablagen\)\s+http://127\.0\.0\.1:\d+", sandbox), sandbox
    config_path = _site(tmp_path / "site")
    options = s3_options(load_config(config_path))  # read from the include the sandbox wrote
    assert options["endpoint_url"].startswith("http://127.0.0.1:") and options["aws_secret_access_key"]

    out = io.StringIO()
    assert run_samples(config_path, out=out) == 0, out.getvalue()
    assert "Ordnungsamt: 1 Datei(en) abgelegt in s3://musterstadt-dropzones/ordnungsamt" in out.getvalue()
    assert (tmp_path / "site/dropzones/standesamt/2026-11-04_standesamt.csv").is_file()

    summary = _run(config_path)
    assert not summary.problems(), summary.problems()
    rows = {d.department: d for d in summary.departments}
    assert rows["ordnungsamt"].batches == 1 and rows["ordnungsamt"].documents == 5
    assert summary.totals.documents == 22 and summary.totals.handed_over == 22


def test_an_unreachable_drop_zone_fails_alone_in_german(tmp_path, offline):
    from erechnung.config import load_config
    from erechnung.entrypoints.cli.samples import drop_samples

    config_path = _site(tmp_path / "site")  # its include (the sandbox's file) does not exist: no [s3] anywhere
    dropped = drop_samples(load_config(config_path))
    assert set(dropped.failed) == {"ordnungsamt"} and "keine Zugangsdaten gefunden" in dropped.failed["ordnungsamt"]
    assert len(dropped.files) == 5  # the others were filled

    summary = _run(config_path)
    rows = {d.department: d for d in summary.departments}
    error = rows["ordnungsamt"].error
    assert error.startswith("Ablage s3://musterstadt-dropzones/ordnungsamt nicht erreichbar: keine Zugangsdaten")
    assert "erechnung sandbox --dir examples/var/sandbox" in error and "NoCredentialsError" not in error
    assert rows["standesamt"].documents == 5 and rows["steueramt"].documents == 4
    assert summary.failed_departments() == ["Ordnungsamt"]
    assert any(p.startswith("Ordnungsamt: Übernahme abgebrochen: Ablage") for p in summary.problems())


def test_readme_and_configuration_name_the_sandbox_folder_the_configuration_includes():
    from erechnung.config import load_config

    config = load_config(ROOT / "examples/config.toml")
    included = config.path(config.delivery.include).resolve()
    assert included == (ROOT / "examples/var/sandbox/delivery.toml").resolve()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Scheduled runs with Prefect"):]
    section = section[:section.index("\n### ", 5)]
    assert "erechnung sandbox --dir examples/var/sandbox" in section
    assert "erechnung samples --config examples/config.toml" in section
    for line in re.findall(r"prefect deployment run '(erechnung-[a-z-]+/[a-z-]+)'", section):
        assert line.split("/")[0] in {"erechnung-run", "erechnung-deliver", "erechnung-track"}
    assert "erechnung-deliver/zustellen" in section
