"""A pool of spawned worker processes that render and validate chunks of documents (the ``validators.parallel``
pattern: ``spawn``, one warm Validator and renderer per worker, created in the initializer; chunks, not
documents, per task).

``RenderPool(workers, work_root, hybrid_profile)``: ``workers=1`` renders in the calling process (no pool, nothing
pickled; one chunk at a time, whichever thread asks); ``submit(items)`` gives a future of the chunk's ``Rendered`` list; ``imap(chunks)`` yields
``(chunk, results)`` in order with a bounded number of chunks in flight. A worker that dies (a crash inside a
native library, the OOM killer) breaks the pool: it is restarted and the chunks in flight are redone one document
at a time; a document that kills a worker again is reported as ``Rendered(verdict="failed")`` and stays
``numbered``, so the next run tries it again instead of rejecting it for a machine's problem.
"""
from __future__ import annotations

import multiprocessing
import os
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from .render import Rendered, RenderItem, init_worker, render_chunk, render_items, worker_ping


def resolve_workers(workers: int | None) -> int:
    return max(1, workers if workers is not None else (os.cpu_count() or 1))


class RenderPool:
    def __init__(self, workers: int | None, work_root: str | Path, hybrid_profile: str = "XRECHNUNG",
                 *, warm: bool = True, design: object = None) -> None:
        self.workers = resolve_workers(workers)
        self.design = design  # the municipality's (Config.design()), handed to every worker
        self.work_root = str(work_root)
        self.hybrid_profile = hybrid_profile
        self.warm = warm
        self.restarts = 0
        self._executor: ProcessPoolExecutor | None = None
        self._pings: list[Future] = []

    # -- lifecycle ------------------------------------------------------------------------------------------
    def start(self, wait: bool = True) -> "RenderPool":
        """Start the worker processes (each runs the initializer once: Validator, design, warm-up). With
        ``wait=False`` this returns at once and the workers get ready while the caller does other work (intake);
        the first chunk waits for them, and set-up errors surface there."""
        if self.workers > 1 and self._executor is None:
            ctx = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=init_worker,
                                                 initargs=(self.work_root, self.hybrid_profile, self.warm,
                                                           os.getpid(), self.design))
            # one ping per worker: every process is spawned now, not on demand later
            self._pings = [self._executor.submit(worker_ping, i) for i in range(self.workers)]
        if wait:
            self.ready()
        return self

    def ready(self) -> None:
        for f in self._pings:
            f.result()
        self._pings = []

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _restart(self) -> None:
        self._pings = []
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        self.restarts += 1
        self.start()

    def __enter__(self) -> "RenderPool":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- work -----------------------------------------------------------------------------------------------
    def submit(self, items: Sequence[RenderItem]) -> Future:
        if self.workers == 1:
            future: Future = Future()
            try:
                future.set_result(render_items(items, self.work_root, self.hybrid_profile, self.design))
            except BaseException as exc:  # noqa: BLE001 - delivered through the future like the pool's
                future.set_exception(exc)
            return future
        self.start()
        return self._executor.submit(render_chunk, list(items))

    def render(self, items: Sequence[RenderItem]) -> list[Rendered]:
        """The chunk's results (a dead worker handled as in the module docstring)."""
        try:
            return self.submit(items).result()
        except BrokenProcessPool:
            self._restart()
            return self._isolated(items)

    def _isolated(self, items: Sequence[RenderItem]) -> list[Rendered]:
        out = []
        for item in items:
            try:
                out.extend(self.submit([item]).result())
            except BrokenProcessPool as exc:
                out.append(Rendered(item.id, "failed", reason=f"the worker process died ({exc})"))
                self._restart()
        return out

    def imap(self, chunks: Iterable[Sequence[RenderItem]],
             max_in_flight: int | None = None) -> Iterator[tuple[Sequence[RenderItem], list[Rendered]]]:
        """``(chunk, results)`` in input order; at most ``max_in_flight`` chunks (default 2 per worker) queued."""
        limit = max_in_flight or 2 * self.workers
        pending: deque[tuple[Sequence[RenderItem], Future]] = deque()
        source = iter(chunks)
        exhausted = False
        while True:
            while not exhausted and len(pending) < limit:
                chunk = next(source, None)
                if chunk is None:
                    exhausted = True
                    break
                pending.append((chunk, self.submit(chunk)))
            if not pending:
                return
            chunk, fut = pending.popleft()
            try:
                results = fut.result()
            except BrokenProcessPool:
                redo = [chunk] + [c for c, _ in pending]
                pending.clear()
                self._restart()
                for c in redo:
                    yield c, self._isolated(c)
                continue
            yield chunk, results
