"""User stories: an operator sets up the delivery channels in the configuration (or includes the file
`erechnung sandbox` writes) and gets working connectors, or a message that names the key and what to do; the
sandboxes run on loopback as one command; secrets stay in their files."""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from erechnung.entrypoints.demo.pipeline import config_text
from erechnung.config import ConfigError, load_config
from erechnung.entrypoints.wiring import ChannelConfigError, open_connectors
from mailbox_connectors.sandboxes.site import SandboxSite

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.xdist_group("delivery_sandbox_site")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with SandboxSite(tmp_path_factory.mktemp("site") / "sandbox") as s:
        yield s


def _config(root: Path, include: Path | None, extra: str = "") -> Path:
    text = config_text(root)
    if include is not None:
        text = text.replace(f'include = "{(root / "sandbox/delivery.toml").as_posix()}"',
                            f'include = "{include.as_posix()}"')
    path = root / "config.toml"
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(text.replace("[delivery.print]", extra + "\n[delivery.print]"), encoding="utf-8")
    return path


def test_the_sandbox_file_sets_up_every_channel_with_secrets_only_in_their_own_files(site, tmp_path):
    cfg = load_config(_config(tmp_path, site.delivery_toml))
    with open_connectors(cfg) as wired:
        assert set(wired.connectors) == {"email", "bundid", "elster", "print", "peppol"}
        assert wired.delivery_config.land == "NW" and wired.delivery_config.key_prefix == "musterstadt"
    text = site.delivery_toml.read_text(encoding="utf-8")
    for secret in (site.fit.client_secret, site.elster.api_token, *site.smtp.users.values()):
        assert secret not in text
    for f in (site.root / "secrets").iterdir():
        assert f.stat().st_mode & 0o077 == 0, f


def test_a_missing_include_file_says_to_start_the_sandboxes(tmp_path):
    cfg = load_config(_config(tmp_path, tmp_path / "nowhere" / "delivery.toml"))
    with pytest.raises(ChannelConfigError, match="erechnung sandbox"):
        open_connectors(cfg)


def test_a_missing_secret_names_the_environment_variable_and_the_file_key(site, tmp_path, monkeypatch):
    monkeypatch.delenv("ERECHNUNG_ELSTER_TOKEN", raising=False)
    extra = f'\n[delivery.elster]\nbase_url = "{site.elster.base_url}"\n'
    cfg = load_config(_config(tmp_path, site.delivery_toml, extra))
    with pytest.raises(ChannelConfigError) as exc:
        open_connectors(cfg)
    assert "ERECHNUNG_ELSTER_TOKEN" in str(exc.value) and "elster.api_token_file" in str(exc.value)
    monkeypatch.setenv("ERECHNUNG_ELSTER_TOKEN", site.elster.api_token)  # from the environment it works
    with open_connectors(cfg) as wired:
        assert "elster" in wired.connectors


def test_an_incomplete_bundid_route_is_a_configuration_error_with_the_missing_keys(tmp_path):
    extra = '\n[delivery.bundid]\nsender = "Stadt Musterstadt"\n'
    with pytest.raises(ConfigError) as exc:
        load_config(_config(tmp_path, None, extra))
    assert "delivery.bundid" in str(exc.value) and "bridge_destination_id" in str(exc.value)


def test_erechnung_sandbox_runs_until_stopped_and_opens_the_registers_postboxes(tmp_path):
    from erechnung.entrypoints.cli.delivery import run_sandbox

    out, stop, codes = io.StringIO(), threading.Event(), []
    t = threading.Thread(target=lambda: codes.append(run_sandbox(
        tmp_path / "sbx", recipients=ROOT / "examples/recipients.csv", fail=("bounce:a@example.org",),
        until=stop, out=out)))
    t.start()
    try:
        deadline = time.monotonic() + 60
        while "Strg+C" not in out.getvalue() and t.is_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        text = out.getvalue()
        assert "1 BundID-Postfach" in text and "ELSTER-Transfer" in text, text
        assert (tmp_path / "sbx/delivery.toml").is_file()
    finally:
        stop.set()
        t.join(30)
    assert codes == [0]


def test_erechnung_sandbox_refuses_an_unknown_failure_mode(tmp_path):
    from erechnung.entrypoints.cli.delivery import run_sandbox

    assert run_sandbox(tmp_path / "sbx", fail=("explode:now",), until=threading.Event()) == 2


def test_the_sandbox_command_as_a_process_stops_on_sigterm(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "erechnung", "sandbox", "--dir", str(tmp_path / "sbx")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "COLUMNS": "200"})
    try:
        deadline = time.monotonic() + 90
        while not (tmp_path / "sbx/delivery.toml").is_file() and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.2)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "FIT-Connect Submission API" in out and "delivery.toml" in out


@pytest.mark.parametrize("spec", ["zbp:503x2", "fitconnect:429", "elster:stall1", "zbp:drop"])
def test_http_failure_modes_from_the_command_line_reach_the_sandbox(site, spec):
    import ssl

    import httpx

    server = {"zbp": site.zbp, "fitconnect": site.fit, "elster": site.elster}[spec.split(":")[0]]
    site.fail(spec)
    try:
        ca = str(site.root / "pki" / {"zbp": "zbp-ca.pem", "fitconnect": "fitconnect-root.pem",
                                      "elster": "elster-ca.pem"}[spec.split(":")[0]])
        try:
            ctx = ssl.create_default_context(cafile=ca)
            if server is site.zbp:  # the ZBP wants the municipality's client certificate (mTLS)
                ctx.load_cert_chain(site.root / "pki/zbp-client.crt", site.root / "pki/zbp-client.key")
            r = httpx.get(server.base_url + "/", verify=ctx, timeout=0.5)
            status = r.status_code
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        expected = {"zbp:503x2": 503, "fitconnect:429": 429}.get(spec)
        if expected is not None:
            assert status == expected
        else:
            assert status in ("ReadTimeout", "RemoteProtocolError", "ReadError"), status
    finally:
        server.reset()


def test_smtp_failure_modes_from_the_command_line(site):
    site.fail("reject:nobody@example.org")
    site.fail("delay:later@example.org")
    try:
        assert "nobody@example.org" in site.smtp._rules and "later@example.org" in site.smtp._rules
    finally:
        site.smtp.clear()


def test_deliver_and_track_commands_report_states_or_explain_a_broken_configuration(site, tmp_path):
    from erechnung.entrypoints.cli.delivery import run_deliver, run_track

    config = _config(tmp_path / "ok", site.delivery_toml)
    out = io.StringIO()
    assert run_deliver(config, out=out) == 0
    assert "Kanäle: email, bundid, elster, print" in out.getvalue() and "geplant 0" in out.getvalue()
    out = io.StringIO()
    assert run_track(config, out=out) == 0 and "Stand:" in out.getvalue()
    broken = _config(tmp_path / "broken", tmp_path / "nowhere" / "delivery.toml")
    assert run_deliver(broken, out=io.StringIO()) == 2 and run_track(broken, out=io.StringIO()) == 2
