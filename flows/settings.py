"""Prefect without the internet: the settings every entry point applies before Prefect is imported.

Measured (../shared/docs/prefect.md): with these only loopback connections are made. ``PREFECT_HOME`` defaults to
``var/prefect`` in the working directory (a home of our own, never the user's ``~/.prefect``); the ephemeral
server gets 120 s to start (18-19 s were measured on a fresh home, close to Prefect's default of 20 s).
``PREFECT_API_URL`` is left alone: unset, flows run against an ephemeral in-process server; set (``prefect server
start`` prints it), they report to that server. Values already in the environment win, so ``make`` or an operator
can override any of them.
"""
from __future__ import annotations

import os
from pathlib import Path

OFFLINE = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_UI_SHOW_PROMOTIONAL_CONTENT": "false",
}


def apply(home: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Set the offline settings where the environment does not already; returns what is in effect."""
    for key, value in OFFLINE.items():
        os.environ.setdefault(key, value)
    if home is not None:
        os.environ["PREFECT_HOME"] = str(Path(home).absolute())
    else:
        os.environ.setdefault("PREFECT_HOME", str(Path("var/prefect").absolute()))
    try:  # Prefect creates its home without parents
        Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    except OSError:
        pass
    return {k: os.environ[k] for k in (*OFFLINE, "PREFECT_HOME")}
