"""Starting a pipeline run for one department from the console: in a background thread, one at a time per
department here (and across processes by the pipeline's own department leases), the same call as
``erechnung run --no-prefect --department D``."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)


@dataclass
class RunState:
    department: str
    started_by: str
    started_at: datetime
    finished_at: datetime | None = None
    run_id: str | None = None
    outcome: str = "läuft"  # German, shown as it is
    problems: list[str] = field(default_factory=list)


class RunStarter:
    def __init__(self, config_path: Path, clock: Callable[[], datetime]) -> None:
        self.config_path, self.clock = config_path, clock
        self._lock = threading.Lock()
        self.states: dict[str, RunState] = {}
        self._threads: dict[str, threading.Thread] = {}

    def running(self, department: str) -> bool:
        t = self._threads.get(department)
        return t is not None and t.is_alive()

    def start(self, department: str, by: str) -> bool:
        """Start a run of ``department``; False when one of it is running here already."""
        with self._lock:
            if self.running(department):
                return False
            state = RunState(department, by, self.clock())
            self.states[department] = state
            t = threading.Thread(target=self._run, args=(state,), name=f"console-run-{department}", daemon=True)
            self._threads[department] = t
            t.start()
            return True

    def wait(self, department: str, timeout: float | None = None) -> None:
        t = self._threads.get(department)
        if t is not None:
            t.join(timeout)

    def _run(self, state: RunState) -> None:
        from erechnung.pipeline import Options, run

        try:
            summary = run(self.config_path, departments=state.department, options=Options(workers=1))
            state.run_id = summary.run_id
            busy = any(d.busy for d in summary.departments)
            state.problems = list(summary.problems())
            state.outcome = ("von einem anderen Lauf gehalten" if busy else
                             "mit Fehlern beendet" if state.problems else "beendet")
        except Exception as exc:  # shown to finance; the traceback goes to the log
            log.exception("console run of %s failed", state.department)
            state.outcome, state.problems = "abgebrochen", [f"{exc.__class__.__name__}: {exc}"]
        finally:
            state.finished_at = self.clock()
