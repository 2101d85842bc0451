"""Keeping the coordinator's memory flat over a long run: glibc's malloc thresholds fixed at their defaults.

glibc raises its mmap threshold (and with it the trim threshold, to twice as much) each time a block above the
threshold is freed, up to 32 MiB. After that, the archive's I/O threads take their documents, reports and copies
(tens to hundreds of KiB) from their own malloc arenas, and a thread's arena keeps what it once held: measured on
the pipeline at 10,000 documents, three of the eight I/O threads' arenas had grown from 132 KiB to ~1.9 MiB, all of
it free but never given back, and more arenas followed the longer the run went (the coordinator's peak RSS grew
~0.45 KiB per document; 100,000 documents held ~20 MB more than 10,000). With the thresholds fixed (``mallopt``,
which also turns the adjustment off) the arenas stay at 132 KiB and the peak is flat (+0.5 MB from 2,000 to 10,000
documents), at no measurable cost: a large block is mapped and unmapped, a few per document at most.

Only on glibc; elsewhere (musl, macOS) this does nothing. The setting is process-wide, made once.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
DEFAULT_THRESHOLD = 128 * 1024  # glibc's defaults for both

_done: bool | None = None


def fix_malloc_thresholds() -> bool:
    """Fix glibc's mmap and trim thresholds at 128 KiB (see the module docstring); True when in effect."""
    global _done
    if _done is None:
        _done = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                mallopt = libc.mallopt
            except (OSError, AttributeError):  # not glibc
                return False
            mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
            _done = bool(mallopt(M_MMAP_THRESHOLD, DEFAULT_THRESHOLD)) and \
                bool(mallopt(M_TRIM_THRESHOLD, DEFAULT_THRESHOLD))
    return _done
