"""Run tests with the system clock moved ahead, to prove that no test depends on today's date.

    python tools/clock_ahead.py leap-day -- tests/delivery tests/connectors ...
    python tools/clock_ahead.py years:7 -- tests/delivery ...
    python tools/clock_ahead.py 2031-07-01T10:00:00Z -- tests/...

The clock is moved by libfaketime (Debian's ``faketime``/``libfaketime``, which ``make system-tools`` installs)
as an *offset* (``FAKETIME=+<seconds>``): every process of the run, the test workers, the sandboxes and the
subprocesses the tests start, sees the same moved clock, ticking at real speed, so certificates, leases and
deadlines made in one process hold in another. (An absolute ``@<time>`` would start each new process at that
same instant again: a certificate issued by the test at 10:02 is not yet valid for a worker that starts at 10:00.)
Timed waits (``Event.wait(timeout)`` and the like) need ``tools/faketime_sem_clockwait.c``, compiled here with
the machine's C compiler and preloaded before libfaketime (its comment says why). PostgreSQL's server keeps the
real clock:
the code must never mix server time with the process's clock, and these runs would show it if it did.

Moments:
  ``leap-day``  29 February, 10:00 UTC, of the first leap year at least one year ahead of today
  ``years:N``   today plus N years (same month and day; 28 Feb for a 29 Feb), 10:00 UTC
  an ISO 8601 date-time (UTC if no offset is given)
"""
from __future__ import annotations

import calendar
import glob
import hashlib
import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIBRARIES = ("/usr/lib/*/faketime/libfaketimeMT.so.1", "/usr/lib/faketime/libfaketimeMT.so.1",
             "/usr/local/lib/faketime/libfaketimeMT.so.1")


def moment(spec: str, today: datetime) -> datetime:
    """The moment ``spec`` names, seen from ``today`` (aware UTC)."""
    if spec == "leap-day":
        year = today.year + 1
        while not calendar.isleap(year):
            year += 1
        return datetime(year, 2, 29, 10, 0, tzinfo=timezone.utc)
    if spec.startswith("years:"):
        year = today.year + int(spec.removeprefix("years:"))
        day = min(today.day, calendar.monthrange(year, today.month)[1])
        return datetime(year, today.month, day, 10, 0, tzinfo=timezone.utc)
    at = datetime.fromisoformat(spec.replace("Z", "+00:00"))
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def library() -> str:
    for pattern in LIBRARIES:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    raise SystemExit("clock_ahead: libfaketime is not installed (Debian: apt-get install faketime); "
                     "`make system-tools` installs it")


def sem_clockwait_shim() -> str:
    """``tools/faketime_sem_clockwait.c`` compiled (once per source version) into ``build/``."""
    source = ROOT / "tools" / "faketime_sem_clockwait.c"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
    target = ROOT / "build" / f"faketime-sem-clockwait-{digest}.so"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            raise SystemExit("clock_ahead: no C compiler (cc) to build tools/faketime_sem_clockwait.c")
        tmp = target.with_suffix(".tmp")
        subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", str(tmp), str(source)], check=True)
        tmp.replace(target)
    return str(target)


def main(argv: list[str]) -> int:
    if len(argv) < 1 or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 2
    spec, rest = argv[0], argv[1:]
    if rest[:1] == ["--"]:
        rest = rest[1:]
    now = datetime.now(timezone.utc)
    target = moment(spec, now)
    if target <= now:
        raise SystemExit(f"clock_ahead: {target.isoformat()} is not ahead of today ({now.date()})")
    offset = int((target - now).total_seconds())
    env = {**os.environ, "LD_PRELOAD": f"{sem_clockwait_shim()} {library()}", "FAKETIME": f"+{offset}",
           "ERECHNUNG_CLOCK_AHEAD": target.isoformat()}
    shown = subprocess.run(["date", "-u", "+%Y-%m-%d %H:%M:%S %Z"], env=env, capture_output=True, text=True)
    try:  # the clock moved, and a timed wait still times out (see sem_clockwait_shim)
        moved = subprocess.run([sys.executable, "-c", "import datetime, threading; threading.Event().wait(0.05); "
                                "print(datetime.date.today())"], env=env, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise SystemExit("clock_ahead: a timed wait did not time out under the moved clock") from None
    if moved.stdout.strip() != str(target.date()):
        raise SystemExit(f"clock_ahead: the clock did not move (Python sees {moved.stdout.strip() or moved.stderr})")
    print(f"clock_ahead: {spec}: the clock reads {shown.stdout.strip()} (real: {now:%Y-%m-%d %H:%M:%S} UTC)",
          flush=True)
    return subprocess.call([sys.executable, "-m", "pytest", *rest], env=env, cwd=ROOT)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
