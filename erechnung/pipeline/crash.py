"""Crash points for the crash tests: ``ERECHNUNG_CRASH_AT=<point>:<n>`` kills this process with SIGKILL the
``n``-th time the pipeline passes ``<point>`` (``*`` counts every point), exactly as a power cut or the OOM
killer would: no ``finally``, no rollback, no flushing. Unset (always, outside the tests) it costs one dict lookup.

The points are named after the step and what has just happened (``intake.document``: a document and its
records were created, not yet committed; ``archive.committed``: the archive index was committed, the work files
not yet removed). The package docstring of :mod:`erechnung.pipeline` lists them with the crash window each one
opens and how the next run closes it.
"""
from __future__ import annotations

import os
import signal
import threading

ENV = "ERECHNUNG_CRASH_AT"

POINTS = (
    "intake.claimed", "intake.archived", "intake.batch_claimed", "intake.document", "intake.chunk",
    "intake.report", "intake.finished", "render.results", "render.committed", "archive.put",
    "archive.committed", "handover.committed",
)

_lock = threading.Lock()
_count = 0


def _target() -> tuple[str, int] | None:
    spec = os.environ.get(ENV, "")
    if not spec:
        return None
    point, _, n = spec.rpartition(":")
    return point, int(n)


def crashpoint(name: str) -> None:
    """Die here (SIGKILL) if the environment says so; see the module docstring."""
    global _count
    target = _target()
    if target is None or target[0] not in (name, "*"):
        return
    with _lock:
        _count += 1
        if _count >= target[1]:
            os.kill(os.getpid(), signal.SIGKILL)
