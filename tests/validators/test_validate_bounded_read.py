"""``erechnung validate`` and ``show`` refuse a file over the size limit before reading it (issue 10: a 1 GB XML
was read whole, 1.09 GB resident, before its size was checked).

The files are sparse (``os.truncate`` to 2 GB: no disk used). Each command runs in a child process whose address
space is capped (``RLIMIT_AS``), so that reading the file whole fails cleanly instead of filling the machine.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HUGE = 2 * 1024**3
ADDRESS_SPACE = 1024 * 1024 * 1024
PEAK_MB = 200
SECONDS = 60.0  # start-up of the interpreter and the bundle included; reading 2 GB is what must not happen

UBL_HEAD = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Invoice xmlns="urn:oasis:names:specification:ubl:schema:'
            b'xsd:Invoice-2"><cbc:Note xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:'
            b'CommonBasicComponents-2">')


def sparse(path: Path, head: bytes, size: int = HUGE) -> Path:
    path.write_bytes(head)
    os.truncate(path, size)
    assert path.stat().st_blocks * 512 < 1024 * 1024, "the file must be sparse"
    return path


def run_capped(code: str) -> dict:
    """``code`` in a child with a capped address space; it prints one JSON line, here with the child's peak RSS."""
    script = textwrap.dedent(f"""
        import json, resource, sys, time
        resource.setrlimit(resource.RLIMIT_AS, ({ADDRESS_SPACE}, {ADDRESS_SPACE}))
        started = time.perf_counter()
    """) + textwrap.dedent(code) + textwrap.dedent("""
        out["seconds"] = time.perf_counter() - started
        # VmHWM: this program's own peak. ru_maxrss also keeps the peak of the process it was forked (vforked)
        # from, the test worker, which can be far larger than anything the child does.
        out["peak_mb"] = int(next(line.split()[1] for line in open("/proc/self/status")
                                  if line.startswith("VmHWM:"))) / 1024
        print(json.dumps(out))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.stdout.strip(), f"the child failed (read the whole file?):\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name, head, reason", [("riesig.xml", UBL_HEAD, "xml-too-large"),
                                                ("riesig.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "pdf-too-large")])
def test_validate_refuses_a_huge_file_before_reading_it(tmp_path, name, head, reason):
    path = sparse(tmp_path / name, head)
    out = run_capped(f"""
        import contextlib, io
        from erechnung.entrypoints.cli.validate import run_validate
        from pathlib import Path
        buffer = io.StringIO()
        code = run_validate([Path({str(path)!r})], as_json=True, out=buffer)
        out = {{"code": code, "lines": buffer.getvalue().splitlines()}}
    """)
    assert out["code"] == 1
    (line,) = out["lines"]
    result = json.loads(line)
    assert (result["verdict"], result["reason"]) == ("reject", reason)
    assert "2,147,483,648 bytes" in result["errors"][0]["message"], result["errors"]
    assert out["peak_mb"] < PEAK_MB and out["seconds"] < SECONDS, out


def test_validate_with_workers_reads_paths_within_the_limits_too(tmp_path):
    """The parallel path reads files in the workers (one worker here: the same function, in this process)."""
    path = sparse(tmp_path / "riesig.xml", UBL_HEAD)
    out = run_capped(f"""
        from validators.parallel import iter_validate
        (result,) = iter_validate([{str(path)!r}], workers=1)
        out = {{"reason": result.reason}}
    """)
    assert out["reason"] == "xml-too-large"
    assert out["peak_mb"] < PEAK_MB, out


def test_show_refuses_a_huge_file_before_reading_it(tmp_path):
    path = sparse(tmp_path / "riesig.xml", UBL_HEAD)
    out = run_capped(f"""
        import contextlib, io
        from erechnung.entrypoints.cli.convert import run_show
        from pathlib import Path
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = run_show(Path({str(path)!r}), Path({str(tmp_path / "seite.html")!r}))
        out = {{"code": code, "stderr": err.getvalue()}}
    """)
    assert out["code"] == 1
    assert "2,147,483,648 bytes, more than the limit of 20,971,520" in out["stderr"], out
    assert out["peak_mb"] < PEAK_MB and out["seconds"] < SECONDS, out
    assert not (tmp_path / "seite.html").exists()


def test_a_file_that_says_nothing_of_its_size_is_read_no_further_than_the_limit(tmp_path):
    """A FIFO's size is 0: the read itself stops at the limit and one byte."""
    from validators.xmlsafe import ValidationInputError, read_untrusted

    fifo = tmp_path / "rohr.xml"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(b"<a>" + b"x" * 5_000 + b"</a>"))
    writer.start()
    try:
        with pytest.raises(ValidationInputError) as exc:
            read_untrusted(fifo, 1_000)
    finally:
        writer.join(timeout=10)
    assert exc.value.code == "xml-too-large"
    assert "more than the limit of 1,000" in exc.value.problem


def test_a_file_within_the_limit_is_validated_as_before(validator, tmp_path):
    from erechnung import artifacts

    case = next(p for p in sorted(artifacts.cases_dir().rglob("*.xml")) if "ubl" in p.name.lower())
    copy = tmp_path / case.name
    copy.write_bytes(case.read_bytes())
    by_path = validator.validate_path(copy)
    by_bytes = validator.validate(case.read_bytes(), str(copy))
    assert (by_path.verdict, by_path.reason, by_path.scenario) == (by_bytes.verdict, by_bytes.reason,
                                                                   by_bytes.scenario)
    assert by_path.sha256 == by_bytes.sha256
