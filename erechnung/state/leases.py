"""Who holds a lease, and whether that holder is gone: one rule for every lease of the project.

A lease (a department's run lock, a batch being taken in, a delivery being sent) names its holder as
``host:pid:tag`` (:func:`worker_id`). A live holder renews its lease; a holder that stops renewing loses it when
the lease runs out. A holder known to be dead - a process of *this* host that no longer runs, or a zombie -
loses it at once (:func:`holder_is_dead`): a crashed run or worker is never waited out. A holder of another host,
or one written in another form (a worker named by an operator, ``w1``), can only be waited out.
"""
from __future__ import annotations

import os
import socket
import uuid


def host_name() -> str:
    """This machine's name in leases: ``ERECHNUNG_HOST`` when set (several workers on one host that must behave
    as separate machines, as in ``make demo-cluster``), else the host name."""
    return os.environ.get("ERECHNUNG_HOST") or socket.gethostname()


def worker_id() -> str:
    """This process as a lease holder: ``host:pid:tag`` (the tag tells two holders of one process apart)."""
    return f"{host_name()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_is_dead(holder: str | None) -> bool:
    """Whether the lease holder ``host:pid:tag`` was a process of this host that no longer runs (no holder at
    all counts as dead: nobody holds the lease)."""
    if not holder:
        return True
    parts = holder.split(":")
    if len(parts) != 3 or parts[0] != host_name() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


def dead_holders(holders) -> list[str]:
    """Those of ``holders`` that are dead (:func:`holder_is_dead`), each once, in order."""
    return [h for h in dict.fromkeys(holders) if h and holder_is_dead(h)]


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


__all__ = ["dead_holders", "holder_is_dead", "host_name", "worker_id"]
