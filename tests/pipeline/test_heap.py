"""The coordinator's peak memory stays flat over a long run: the archive's I/O threads do not keep growing
malloc arenas (``erechnung/pipeline/heap.py``). Each case runs in a fresh interpreter, as the setting is
process-wide."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = textwrap.dedent("""
    import ctypes, os, re, sys, tempfile, threading
    if sys.argv[1] == "fixed":
        from erechnung.pipeline.heap import fix_malloc_thresholds
        assert fix_malloc_thresholds()
    libc = ctypes.CDLL("libc.so.6"); libc.fopen.restype = ctypes.c_void_p
    keep = []
    def archive_thread():
        big = bytearray(1 << 20); del big  # a freed mapped block: glibc raises its thresholds, unless fixed
        for i in range(200):
            document = bytes(300_000 + i); copy = bytes(document)  # a document and the copy written out
            keep.append(bytearray(600))  # something small that stays
            del document, copy
    t = threading.Thread(target=archive_thread); t.start(); t.join()
    path = tempfile.mktemp()
    fh = libc.fopen(path.encode(), b"w"); libc.malloc_info(0, ctypes.c_void_p(fh)); libc.fclose(ctypes.c_void_p(fh))
    info = open(path).read(); os.unlink(path)
    arenas = [int(s) for s in re.findall(r'<heap nr="\\d+">.*?<system type="current" size="(\\d+)"', info, re.S)]
    print(max(arenas[1:]) // 1024)  # the largest thread arena, KiB
""")


def _largest_thread_arena_kib(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, cwd=ROOT, check=True)
    return int(out.stdout.strip())


def test_io_threads_malloc_arenas_stay_small_with_fixed_thresholds():
    assert _largest_thread_arena_kib("fixed") <= 256


def test_the_probe_shows_the_growth_glibc_has_without_them():
    """Without the fix the same work leaves a thread arena several times larger: the probe above is a real test."""
    assert _largest_thread_arena_kib("dynamic") >= 2 * _largest_thread_arena_kib("fixed")
