"""An operator sees which files were set aside as poison and why, and gives one back to the runs once the cause
is dealt with (issue 10): `erechnung batches list --set-aside`, `erechnung batches release ID`. The department's
next run processes it again from the archived original, and its records become documents exactly once."""
from __future__ import annotations

import json
import signal

from typer.testing import CliRunner

from erechnung.entrypoints.cli import app

from .test_dropzone_untrusted import GOOD, GOOD_FILE, _run_in_process, _site


def _batches(site, *args: str) -> list[dict]:
    done = CliRunner().invoke(app, ["batches", "list", "--json", "--db", site.db_url, *args])
    assert done.exit_code == 0, done.output
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def test_a_file_set_aside_is_listed_with_its_reason_and_released_becomes_documents_once(make_site, tmp_path):
    site = _site(make_site, tmp_path, "[limits]\nbatch_attempts = 2")
    site.drop(GOOD, name="a-stirbt.csv", data=GOOD_FILE.read_bytes())
    for _ in range(2):  # each run dies (SIGKILL) while making the batch's first document
        assert _run_in_process(site, GOOD, "intake.document:1").returncode == -signal.SIGKILL
    assert _run_in_process(site, GOOD, None).returncode == 0  # the third run sets it aside and goes on

    listed = _batches(site, "--set-aside")
    assert len(listed) == 1, listed
    [aside] = listed
    assert aside["file"] == "a-stirbt.csv" and aside["status"] == "failed" and "2-mal" in aside["reason"]
    assert aside["documents"] == 0

    released = CliRunner().invoke(app, ["batches", "release", str(aside["id"]), "--db", site.db_url])
    assert released.exit_code == 0 and "freigegeben" in released.stdout, released.output
    again = CliRunner().invoke(app, ["batches", "release", str(aside["id"]), "--db", site.db_url])
    assert again.exit_code == 2 and "nicht zurückgestellt" in again.output  # only a set-aside file

    assert _run_in_process(site, GOOD, None).returncode == 0
    batches = _batches(site)
    assert len(batches) == 1, batches
    [batch] = batches
    assert batch["status"] == "done" and not batch["set_aside"] and batch["reason"] is None
    assert batch["records"] == len(GOOD_FILE.read_bytes().splitlines()) - 1 and batch["documents"] == 3 and "freigegeben von" in batch["last_error"]
    assert _batches(site, "--set-aside") == []


def test_only_a_set_aside_file_can_be_released(make_site, tmp_path):
    site = _site(make_site, tmp_path)
    done = CliRunner().invoke(app, ["batches", "release", "99", "--db", site.db_url])
    assert done.exit_code == 2
