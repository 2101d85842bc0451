"""What a postbox adapter sent, per ``delivery_id``: so that ``send`` is idempotent and ``collect_events`` knows
which FIT-Connect cases to read and which channel ids belong to which delivery.

In memory by default; with a path, every change is appended to a JSON-lines file and read back on start, so
a restarted worker still finds its submissions. Records hold ids, times, digests and evidence (never secrets
or documents), and who was written to: the file is created 0600 in a folder created 0700 (an existing journal
is made 0600 when opened).
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from erechnung.errors import ErechnungError

__all__ = ["Journal", "JournalError"]

FILE_MODE, DIR_MODE = 0o600, 0o700


class JournalError(ErechnungError):
    """A journal file holds a line that is no record (damaged or edited): the adapter cannot know what it sent."""


def _complete_lines(path: Path) -> list[str]:
    """The journal's complete lines. A crash while appending leaves the last line without its newline (a record
    half written, so never acted on): it is cut off the file, so that the next record starts on a line of its own
    instead of being glued to the torn one."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        with open(path, "r+b") as fh:
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
        data = data[:keep]
    return data.decode("utf-8").splitlines()


class Journal:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._records: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        if path is not None:
            if not path.parent.is_dir():
                path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE))
            os.chmod(path, FILE_MODE)
            for number, line in enumerate(_complete_lines(path), 1):
                if line.strip():
                    try:
                        entry = json.loads(line)
                        self._records.setdefault(entry["delivery_id"], {}).update(entry)
                    except (ValueError, KeyError, TypeError, AttributeError):
                        raise JournalError(f"{path}, line {number}: not a journal record ({line[:60]!r}); the "
                                           "file was changed by hand or damaged. Restore it from the backup; "
                                           "do not delete it (it says what was already sent)") from None

    def get(self, delivery_id: str) -> dict[str, Any] | None:
        with self._lock:
            record = self._records.get(delivery_id)
            return dict(record) if record is not None else None

    def update(self, delivery_id: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            record = self._records.setdefault(delivery_id, {"delivery_id": delivery_id})
            record.update(fields)
            if self.path is not None:
                with os.fdopen(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE), "a",
                               encoding="utf-8") as fh:
                    fh.write(json.dumps({"delivery_id": delivery_id, **fields}, separators=(",", ":")) + "\n")
            return dict(record)

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._records.values()]
