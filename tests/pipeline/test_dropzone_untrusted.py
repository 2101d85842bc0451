"""Drop zones are untrusted input (issue 10): a department's folder may hold symlinks, FIFOs, oversized files and
names no key may have. None of them is followed, read or archived; each is refused with a German reason in the
department's error report, and only that entry: the other files of the department are processed."""
from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import textwrap
import threading

from erechnung.pipeline.crash import ENV as CRASH_ENV

from .conftest import BATCHES

GOOD = "abfallwirtschaft"  # one CSV with three good records
GOOD_FILE = next((BATCHES / GOOD).iterdir())


def _site(make_site, tmp_path, extra_config: str = ""):
    site = make_site(tmp_path / "site", f"sqlite:///{tmp_path / 'db.sqlite3'}", drop=False)
    if extra_config:
        with site.config_path.open("a", encoding="utf-8") as fh:
            fh.write("\n" + extra_config + "\n")
    return site


def _intake(site, department: str = GOOD):
    from erechnung.pipeline import Pipeline, intake

    with Pipeline.open(site.config, db_url=site.db_url, work_dir=site.root / "work",
                       report_dir=site.root / "reports") as p:
        return intake(p, [department])


def _archived_bytes(site) -> list[bytes]:
    return [p.read_bytes() for p in (site.root / "archive").rglob("*") if p.is_file()]


def _report_rows(site, name: str, department: str = GOOD) -> list[dict[str, str]]:
    path = site.zone(department) / "fehlerberichte" / f"{name}.fehlerbericht.csv"
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig")), delimiter=";"))


def _processed(report) -> list[str]:
    return [b.name for b in report.batches if b.outcome == "processed"]


def test_a_symlinked_claimed_folder_deletes_and_archives_nothing_of_its_target(make_site, tmp_path):
    site = _site(make_site, tmp_path)
    site.drop(GOOD)
    assert _processed(_intake(site)) == [GOOD_FILE.name]
    archive = site.root / "archive"
    before = {p: p.read_bytes() for p in archive.rglob("*") if p.is_file()}
    assert before
    zone = site.zone(GOOD)
    if (zone / "claimed").exists():
        (zone / "claimed").rmdir()
    os.symlink(archive / "sha256", zone / "claimed")  # the archived (retained) objects behind claimed/
    site.drop(GOOD, name="neu.csv", data=GOOD_FILE.read_bytes().replace(b"2026", b"2027"))

    report = _intake(site)

    after = {p: p.read_bytes() for p in archive.rglob("*") if p.is_file()}
    assert after == before  # nothing deleted, nothing archived from the link's target
    assert (zone / "neu.csv").is_file()  # the department's new file stays where it was, untouched
    errors = [b.error for b in report.batches if b.outcome == "error"]
    assert errors and "claimed" in errors[0]


def test_a_symlinked_file_is_neither_archived_nor_quoted_and_the_next_file_is_processed(make_site, tmp_path):
    site = _site(make_site, tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"Kundennummer;Name\nGEHEIM-4711;Passwort\n")
    zone = site.zone(GOOD)
    zone.mkdir(parents=True)
    os.symlink(secret, zone / "passwd.csv")
    os.symlink("/etc/passwd", zone / "etc.csv")
    site.drop(GOOD)

    report = _intake(site)

    assert _processed(report) == [GOOD_FILE.name]
    assert not any(b"GEHEIM-4711" in data or b"root:" in data for data in _archived_bytes(site))
    for name in ("passwd.csv", "etc.csv"):
        rows = _report_rows(site, name)
        assert len(rows) == 1 and "Verknüpfung" in rows[0]["Problem"], rows
        text = (zone / "fehlerberichte" / f"{name}.fehlerbericht.html").read_text(encoding="utf-8")
        assert "GEHEIM-4711" not in text and "root:" not in text
        assert (zone / name).is_symlink()  # refused, not deleted, not moved
    assert secret.read_bytes() == b"Kundennummer;Name\nGEHEIM-4711;Passwort\n"
    assert {b.name: b.outcome for b in report.batches}["passwd.csv"] == "refused"


def test_a_symlinked_error_report_folder_writes_nothing_outside_the_drop_zone(make_site, tmp_path):
    site = _site(make_site, tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    site.drop("standesamt")  # a delivery with broken rows: it gets an error report
    os.symlink(outside, site.zone("standesamt") / "fehlerberichte")

    report = _intake(site, "standesamt")

    assert list(outside.iterdir()) == []
    errors = [b.error for b in report.batches if b.outcome == "error"]
    assert errors and "fehlerberichte" in errors[0]


def test_a_fifo_in_the_drop_zone_does_not_hang_the_run(make_site, tmp_path):
    site = _site(make_site, tmp_path)
    zone = site.zone(GOOD)
    (zone / "claimed").mkdir(parents=True)
    os.mkfifo(zone / "aaa-pipe.csv")
    os.mkfifo(zone / "claimed" / "bbb-pipe.csv")  # the drop zone is the department's: claimed/ too
    site.drop(GOOD)
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(report=_intake(site)), daemon=True)
    thread.start()
    thread.join(60)
    if thread.is_alive():  # unblock the reader so the process can end, then fail
        for fifo in (zone / "claimed" / "aaa-pipe.csv", zone / "claimed" / "bbb-pipe.csv"):
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        thread.join(30)
        raise AssertionError("the run hung reading a FIFO from the drop zone")
    report = result["report"]
    assert _processed(report) == [GOOD_FILE.name]
    for name in ("aaa-pipe.csv", "bbb-pipe.csv"):
        assert "Sonderdatei" in _report_rows(site, name)[0]["Problem"]


def test_a_file_name_with_a_control_character_or_backslash_is_refused_alone(make_site, tmp_path):
    site = _site(make_site, tmp_path)
    zone = site.zone(GOOD)
    zone.mkdir(parents=True)
    data = GOOD_FILE.read_bytes()
    (zone / "a\x01steuer.csv").write_bytes(data.replace(b"2026", b"2025"))
    (zone / "b\\back.csv").write_bytes(data.replace(b"2026", b"2024"))
    (zone / "c-gut.csv").write_bytes(data)

    report = _intake(site)

    assert _processed(report) == ["c-gut.csv"]
    refused = [b for b in report.batches if b.outcome == "refused"]
    assert len(refused) == 2
    assert (zone / "a\x01steuer.csv").is_file() and (zone / "b\\back.csv").is_file()  # left for the clerk
    reports = sorted(p.name for p in (zone / "fehlerberichte").iterdir())
    assert any(n.endswith(".fehlerbericht.csv") and "steuer" in n for n in reports), reports
    for name in reports:
        assert "\x01" not in name and "\\" not in name
    rows = [r for n in reports if n.endswith(".csv")
            for r in csv.DictReader(io.StringIO((zone / "fehlerberichte" / n).read_bytes().decode("utf-8-sig")),
                                    delimiter=";")]
    assert len(rows) == 2 and all("Dateiname" in r["Problem"] for r in rows)


def test_an_oversized_file_is_refused_unread_and_nothing_of_it_archived(make_site, tmp_path):
    site = _site(make_site, tmp_path, "[limits]\nfile_bytes = 4000")
    zone = site.zone(GOOD)
    zone.mkdir(parents=True)
    big = GOOD_FILE.read_bytes() + b"\n" * 5000
    (zone / "gross.csv").write_bytes(big)
    site.drop(GOOD)

    report = _intake(site)

    assert _processed(report) == [GOOD_FILE.name]
    assert big not in _archived_bytes(site)
    assert (zone / "gross.csv").read_bytes() == big  # left for the clerk, not lost
    row = _report_rows(site, "gross.csv")[0]
    assert "file_bytes" in row["Problem"] and "4000" in row["Problem"], row


def test_files_the_local_storage_creates_are_private_and_error_reports_only_for_the_department(
        make_site, tmp_path):
    """Archive and work area: the pipeline's user only. The drop zone's error reports are written for the
    department: its group (the drop zone's) reads them, nobody else does."""
    site = _site(make_site, tmp_path)
    site.drop("standesamt")
    _intake(site, "standesamt")
    reports = list((site.zone("standesamt") / "fehlerberichte").iterdir())
    archived = [p for p in (site.root / "archive").rglob("*") if p.is_file()]
    assert reports and archived
    for path in archived:
        assert path.stat().st_mode & 0o777 == 0o600, path
    for path in reports:
        assert path.stat().st_mode & 0o777 == 0o640, path
    assert (site.zone("standesamt") / "fehlerberichte").stat().st_mode & 0o777 == 0o750
    models = list((site.root / "work" / "models").iterdir())
    assert models and all(m.stat().st_mode & 0o777 == 0o600 for m in models)  # documents as built, for rendering
    assert (site.root / "work" / "models").stat().st_mode & 0o777 == 0o700
    for folder in [p for p in (site.root / "archive" / "sha256").rglob("*") if p.is_dir()]:
        assert folder.stat().st_mode & 0o777 == 0o700, folder


POISON_RUN = textwrap.dedent("""
    import sys
    from pathlib import Path
    from erechnung.pipeline import Options, run
    root = Path(sys.argv[1])
    run(root / "config.toml", departments=[sys.argv[2]], db_url=sys.argv[3], options=Options(workers=1),
        work_dir=root / "work", report_dir=root / "reports")
""")


def _run_in_process(site, department: str, crash: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    if crash:
        env[CRASH_ENV] = crash
    return subprocess.run([sys.executable, "-c", POISON_RUN, str(site.root), department, site.db_url], env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_batch_whose_runs_die_in_it_is_set_aside_after_the_configured_attempts_and_later_runs_go_on(
        make_site, tmp_path):
    from erechnung.state import make_engine, transaction
    from erechnung.state.repository import poisoned_batches

    site = _site(make_site, tmp_path, "[limits]\nbatch_attempts = 2")
    site.drop(GOOD, name="a-stirbt.csv", data=GOOD_FILE.read_bytes())
    for _ in range(2):  # each run dies (SIGKILL) while making the batch's first document
        died = _run_in_process(site, GOOD, "intake.document:1")
        assert died.returncode == -signal.SIGKILL, died.stderr[-2000:]
    site.drop(GOOD, name="b-neu.csv", data=GOOD_FILE.read_bytes().replace(b"2026", b"2027"))

    from erechnung.pipeline import Options, run

    summary = run(site.config_path, departments=[GOOD], db_url=site.db_url, options=Options(workers=1),
                  work_dir=site.root / "work", report_dir=site.root / "reports")

    engine = make_engine(site.db_url)
    try:
        with transaction(engine) as s:
            poisoned = [(b.source_key, b.attempts, b.poison_reason) for b in poisoned_batches(s, GOOD)]
    finally:
        engine.dispose()
    assert [(k, n) for k, n, _ in poisoned] == [("a-stirbt.csv", 3)]
    assert "2-mal" in poisoned[0][2]
    dep = next(d for d in summary.departments if d.department == GOOD)
    assert dep.error is None and dep.documents == 3 and dep.handed_over == 3  # b-neu.csv went through
    rows = _report_rows(site, "a-stirbt.csv")
    assert len(rows) == 1 and "beiseitegelegt" in rows[0]["Problem"]
    assert any(k.endswith("a-stirbt.csv.fehlerbericht.csv") for _, k in summary.error_reports)
    assert not (site.zone(GOOD) / "claimed" / "a-stirbt.csv").exists()  # archived, no longer in the way
    # a later run dies on it no more: a run with the same crash point finds nothing left to make
    assert _run_in_process(site, GOOD, "intake.document:1").returncode == 0


def test_s3_keys_with_dot_dot_or_control_characters_are_refused_and_the_listing_goes_on(make_site, tmp_path, s3):
    bucket = s3.bucket()
    site = make_site(tmp_path / "site", f"sqlite:///{tmp_path / 'db.sqlite3'}", drop=False,
                     s3_zones={GOOD: f"s3://{bucket}/zone"})
    s3.put(bucket, "zone/a/../b.csv", GOOD_FILE.read_bytes().replace(b"2026", b"2025"))
    s3.put(bucket, "zone/c\x01.csv", GOOD_FILE.read_bytes().replace(b"2026", b"2024"))
    site.drop(GOOD, s3=s3)

    report = _intake(site)

    assert _processed(report) == [GOOD_FILE.name]
    assert len([b for b in report.batches if b.outcome == "refused"]) == 2
    keys = s3.keys(bucket, "zone/")
    assert "zone/a/../b.csv" in keys and "zone/c\x01.csv" in keys  # left for the clerk
    reports = [k for k in keys if k.startswith("zone/fehlerberichte/") and k.endswith(".csv")]
    assert len(reports) == 2, keys
    for key in reports:
        assert "Dateiname" in s3.get(bucket, key).decode("utf-8-sig")
