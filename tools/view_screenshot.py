"""Render invoices with `erechnung show` and take a headless Chromium screenshot of each page, to look at.

    .venv/bin/python tools/view_screenshot.py [INPUT ...]

Writes ``out/test-artifacts/view/<name>.html`` and ``.png``. Chromium (``/usr/bin/chromium`` or ``$CHROMIUM``) is
not a project dependency and this is not a test: without it, only the HTML is written. Chromium runs with
networking features off, a throw-away profile and a time limit.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from erechnung import artifacts  # noqa: E402
from erechnung.view import show  # noqa: E402

OUT = PROJECT / "out" / "test-artifacts" / "view"
DEFAULT = ["validator-configuration-xrechnung/src/test/instances/ubl004.xml",
           "xrechnung-testsuite/src/test/business-cases/standard/01.01a-INVOICE_uncefact.xml",
           "zugferd-ferd-samples/mustangproject/library/src/test/resources/EN16931_Einfach.pdf"]


def screenshot(page: Path, png: Path, size: str = "1200,1600") -> bool:
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        return False
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", f"--window-size={size}", f"--screenshot={png}",
                        page.resolve().as_uri()], capture_output=True, timeout=120, check=False)
    return png.is_file()


def main(argv: list[str]) -> int:
    inputs = [Path(a) for a in argv] or [artifacts.cases_dir() / p for p in DEFAULT]
    OUT.mkdir(parents=True, exist_ok=True)
    for source in inputs:
        page = OUT / f"{source.stem}.html"
        shown = show(source, page, with_report=True)
        png = page.with_suffix(".png")
        taken = screenshot(page, png)
        print(f"{source} -> {page}" + (f", {png}" if taken else " (no chromium: no screenshot)")
              + (f" [{shown.result.verdict}]" if shown.result else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
