"""Validate many documents on all cores.

``validate_many`` (a list, order kept) and ``iter_validate`` (a generator, order kept, memory flat) hand the
documents to a pool of worker processes started with the ``spawn`` context: Saxon (saxonche) crashes in forked
processes, so no worker is ever forked from a process that holds Saxon state. Each worker builds ONE Validator in
its initializer and keeps it for its lifetime, so every stylesheet and schema is compiled once per worker, not
once per document. Documents travel in chunks (one task = many documents) to keep the per-task IPC cost low;
paths travel as paths and are read by the worker, so their bytes are never pickled.

Failure handling, per document: an exception raised while validating a document becomes a ``reject`` result for
that document (message ``PARALLEL-WORKER-ERROR``) and the run goes on. A worker process that dies (a crash inside
Saxon, the OOM killer) breaks the pool; the pool is restarted and the documents that were in flight are redone one
at a time, so that only the document that kills a worker again is rejected (``PARALLEL-WORKER-DIED``). A Validator
that cannot be built at all (missing artifacts) is not a per-document problem: it raises ``WorkerSetupError``.

With ``workers=1`` everything runs in the calling process (no pool, no pickling).
"""
from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import resource
import time
import traceback
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence, Union

Item = Union[tuple[str, bytes], str, os.PathLike]

#: Documents per task when the number of documents is unknown (streaming). Each document costs milliseconds of
#: XSLT work; a task round trip costs tens of microseconds, so 16 documents make the IPC share negligible while
#: keeping the tail (the last chunks finishing on one core) short.
DEFAULT_STREAM_CHUNKSIZE = 16
#: Upper bound for the computed chunk size of a known-length run. Measured with 2 workers on the official cases
#: (about 8 ms per document): 1 document per task keeps the workers busy 90-93 % of the time, 4 about 96 %,
#: 16 about 98 %; larger chunks only lengthen the tail, where one worker finishes its last chunk alone.
MAX_CHUNKSIZE = 16


class WorkerSetupError(RuntimeError):
    """A worker process could not build its Validator (a run-level error, not a per-document verdict)."""


# --------------------------------------------------------------------------------------------------------------
# Results that cross the process boundary
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FailureMessage:
    """A message of a document whose validation did not complete; fields like the engine's messages."""

    id: str
    level: str
    text: str

    def to_json_dict(self) -> dict[str, Any]:
        return {"id": self.id, "level": self.level, "text": self.text}


@dataclass(frozen=True)
class FailedValidation:
    """The ``reject`` result of a document whose validation raised or killed its worker.

    It offers the same reading surface as the engine's ``ValidationResult`` (``name``, ``verdict``, ``scenario``,
    ``messages``, ``to_json_dict()``), so callers need not tell the two apart.
    """

    name: str
    reason: str
    detail: str = ""
    verdict: str = "reject"
    scenario: str | None = None
    messages: tuple[FailureMessage, ...] = field(default=())

    @classmethod
    def of(cls, name: str, code: str, text: str, detail: str = "") -> "FailedValidation":
        return cls(name=name, reason=code, detail=detail, messages=(FailureMessage(code, "error", text),))

    @property
    def accepted(self) -> bool:
        return False

    def to_json_dict(self) -> dict[str, Any]:
        return {"name": self.name, "verdict": self.verdict, "scenario": self.scenario,
                "messages": [m.to_json_dict() for m in self.messages], "failure": self.reason,
                "detail": self.detail}


def _failure(name: str, exc: BaseException) -> FailedValidation:
    return FailedValidation.of(
        name, "PARALLEL-WORKER-ERROR",
        f"validation of this document raised {type(exc).__name__}: {exc}; the document is rejected",
        detail="".join(traceback.format_exception(exc))[-4000:])


def _died(name: str, exc: BaseException) -> FailedValidation:
    return FailedValidation.of(
        name, "PARALLEL-WORKER-DIED",
        f"the worker process validating this document died ({exc}); the document is rejected")


# --------------------------------------------------------------------------------------------------------------
# Worker side (runs in every pool process, and in the caller's process when workers=1)
# --------------------------------------------------------------------------------------------------------------

def default_validator_factory(bundle: Any = None):
    """Build the engine's Validator (imported here: worker processes import the engine, not the parent)."""
    from validators.engine import Validator
    return Validator.for_bundle(bundle)


_VALIDATOR: Any = None
_SETUP_ERROR: str | None = None
_SETUP_SECONDS: float = 0.0
_BARRIER: Any = None
_LOCAL: dict[tuple[int, Any], Any] = {}  # in-process validators for workers=1, per (factory, bundle)


def _init_worker(factory: Callable[[Any], Any], bundle: Any, warmup: Sequence[tuple[str, bytes]],
                 barrier: Any = None) -> None:
    """Pool initializer: one Validator per worker process, all its stylesheets and schemas compiled now
    (``Validator.warm_up()``), then warmed on the ``warmup`` documents."""
    global _VALIDATOR, _SETUP_ERROR, _SETUP_SECONDS, _BARRIER
    started = time.perf_counter()
    _BARRIER = barrier
    try:
        _VALIDATOR = factory(bundle)
        warm_up = getattr(_VALIDATOR, "warm_up", None)
        if callable(warm_up):
            warm_up()
        for name, data in warmup:
            _VALIDATOR.validate(data, name)
    except BaseException as exc:  # reported to the parent by the first task; a raising initializer breaks the pool
        _SETUP_ERROR = "".join(traceback.format_exception(exc))
    _SETUP_SECONDS = time.perf_counter() - started


def peak_rss_kb() -> int:
    """This process's peak resident set size (VmHWM) in kB."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _validate_one(validator: Any, name: str, data: bytes | None):
    try:
        if data is None:  # a path: read here, in the worker, no more of it than the Validator's limits allow
            by_path = getattr(validator, "validate_path", None)
            return by_path(name) if by_path else validator.validate(Path(name).read_bytes(), name)
        return validator.validate(data, name)
    except (Exception, SystemExit) as exc:  # SystemExit too: one document must not end the worker's run
        return _failure(name, exc)


@dataclass(frozen=True)
class ChunkResult:
    pid: int
    peak_rss_kb: int
    seconds: float
    results: list


def _validate_chunk(chunk: list[tuple[str, bytes | None]]) -> ChunkResult:
    if _SETUP_ERROR is not None or _VALIDATOR is None:
        raise WorkerSetupError(f"worker {os.getpid()} has no Validator:\n{_SETUP_ERROR}")
    t0 = time.perf_counter()
    results = [_validate_one(_VALIDATOR, name, data) for name, data in chunk]
    return ChunkResult(os.getpid(), peak_rss_kb(), time.perf_counter() - t0, results)


def _worker_ping(_: int) -> tuple[int, int, float]:
    """Start-up check, one per worker: waits at the barrier until every worker holds one ping, so no worker can
    answer two; returns (pid, peak RSS kB, seconds the initializer took)."""
    if _SETUP_ERROR is not None:
        if _BARRIER is not None:
            _BARRIER.abort()
        raise WorkerSetupError(f"worker {os.getpid()} has no Validator:\n{_SETUP_ERROR}")
    if _BARRIER is not None:
        _BARRIER.wait(timeout=600)
    return os.getpid(), peak_rss_kb(), _SETUP_SECONDS


# --------------------------------------------------------------------------------------------------------------
# Parent side
# --------------------------------------------------------------------------------------------------------------

def _normalize(item: Item) -> tuple[str, bytes | None]:
    if isinstance(item, tuple):
        name, data = item
        return str(name), bytes(data) if not isinstance(data, bytes) else data
    return os.fspath(item), None


def _chunks(items: Iterable[Item], size: int) -> Iterator[list[tuple[str, bytes | None]]]:
    it = iter(items)
    while True:
        chunk = [_normalize(i) for i in itertools.islice(it, size)]
        if not chunk:
            return
        yield chunk


def resolve_workers(workers: int | None) -> int:
    return max(1, workers if workers is not None else (os.cpu_count() or 1))


def auto_chunksize(n_docs: int | None, workers: int) -> int:
    """About eight chunks per worker (load balance at the tail), at most MAX_CHUNKSIZE documents per chunk."""
    if n_docs is None:
        return DEFAULT_STREAM_CHUNKSIZE
    return max(1, min(MAX_CHUNKSIZE, math.ceil(n_docs / (workers * 8))))


class ValidationPool:
    """A started pool of ``workers`` spawn processes, each holding one warm Validator; reusable across runs.

    >>> with ValidationPool(workers=4) as pool:          # doctest: +SKIP
    ...     results = pool.validate_many(paths)

    ``warmup``: documents every worker validates in its initializer (so that all the stylesheets they need are
    compiled before the first real task); ``start()`` returns once every worker is up and warm.
    ``peak_rss_kb``: VmHWM per worker pid, as last reported by the worker.
    """

    def __init__(self, workers: int | None = None, *, bundle: Any = None,
                 validator_factory: Callable[[Any], Any] = default_validator_factory,
                 warmup: Sequence[tuple[str, bytes]] = ()) -> None:
        self.workers = resolve_workers(workers)
        self.bundle = bundle
        self.factory = validator_factory
        self.warmup = list(warmup)
        self.peak_rss_kb: dict[int, int] = {}
        self.setup_seconds: dict[int, float] = {}
        self.busy_seconds = 0.0  # time the workers spent validating (sum over chunks), for utilization figures
        self.documents = 0
        self.restarts = 0
        self._executor: ProcessPoolExecutor | None = None

    # -- lifecycle --------------------------------------------------------------------------------------------
    def start(self) -> "ValidationPool":
        if self._executor is None:
            ctx = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=ctx, initializer=_init_worker,
                initargs=(self.factory, self.bundle, self.warmup, ctx.Barrier(self.workers)))
            try:
                self._ping_all()
            except BaseException:
                self.close()
                raise
        return self

    def _ping_all(self) -> None:
        # A spawn executor starts its processes on demand, one per submitted task while none is idle: `workers`
        # pings start them all, and the barrier in the ping makes each worker take exactly one, so this returns
        # once every worker is up, initialized and warm.
        futures = [self._executor.submit(_worker_ping, i) for i in range(self.workers)]
        errors = [f.exception() for f in futures]
        if any(errors):  # the setup error itself, not the broken barrier it causes in the other workers
            raise next((e for e in errors if isinstance(e, WorkerSetupError)), next(e for e in errors if e))
        for f in futures:
            pid, rss, setup = f.result()
            self.peak_rss_kb[pid] = max(rss, self.peak_rss_kb.get(pid, 0))
            self.setup_seconds[pid] = setup

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _restart(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        self.restarts += 1
        self.start()

    def __enter__(self) -> "ValidationPool":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def pids(self) -> list[int]:
        return sorted(self.peak_rss_kb)

    # -- work ---------------------------------------------------------------------------------------------------
    def _collect(self, cr: ChunkResult) -> list:
        self.peak_rss_kb[cr.pid] = max(cr.peak_rss_kb, self.peak_rss_kb.get(cr.pid, 0))
        self.busy_seconds += cr.seconds
        self.documents += len(cr.results)
        return cr.results

    def _submit(self, chunk: list[tuple[str, bytes | None]]) -> Future:
        """Submit a chunk; a pool that broke since the last submission gives a failed future instead of raising
        here, so the chunk is redone like every other chunk that was in flight."""
        try:
            return self._executor.submit(_validate_chunk, chunk)
        except BrokenProcessPool as exc:
            failed: Future = Future()
            failed.set_exception(exc)
            return failed

    def _isolated(self, chunk: list[tuple[str, bytes | None]]) -> list:
        """Redo the documents of a chunk that was in flight when a worker died, one document per task."""
        out = []
        for doc in chunk:
            try:
                out.extend(self._collect(self._executor.submit(_validate_chunk, [doc]).result()))
            except BrokenProcessPool as exc:
                out.append(_died(doc[0], exc))
                self._restart()
        return out

    def imap(self, items: Iterable[Item], chunksize: int | None = None,
             max_in_flight: int | None = None) -> Iterator:
        """Results in input order, as they become available; at most ``max_in_flight`` chunks are queued
        (default: 2 per worker), so memory stays flat however many documents ``items`` yields."""
        self.start()
        size = chunksize or auto_chunksize(len(items) if isinstance(items, Sequence) else None, self.workers)
        limit = max_in_flight or 2 * self.workers
        pending: deque[tuple[list, Future]] = deque()
        source = _chunks(items, size)
        exhausted = False
        while True:
            while not exhausted and len(pending) < limit:
                chunk = next(source, None)
                if chunk is None:
                    exhausted = True
                    break
                pending.append((chunk, self._submit(chunk)))
            if not pending:
                return
            chunk, fut = pending.popleft()
            try:
                results = self._collect(fut.result())
            except BrokenProcessPool:
                # Every queued future of the broken pool fails too; redo them all one document at a time, so the
                # culprit is the only document that gets rejected.
                redo = [chunk] + [c for c, _ in pending]
                pending.clear()
                self._restart()
                for c in redo:
                    yield from self._isolated(c)
                continue
            yield from results

    def validate_many(self, items: Iterable[Item], chunksize: int | None = None) -> list:
        return list(self.imap(items, chunksize))


def _local_validator(factory: Callable[[Any], Any], bundle: Any):
    key = (id(factory), bundle if _hashable(bundle) else id(bundle))
    v = _LOCAL.get(key)
    if v is None:
        v = _LOCAL[key] = factory(bundle)
    return v


def _hashable(x: Any) -> bool:
    try:
        hash(x)
        return True
    except TypeError:
        return False


def iter_validate(items: Iterable[Item], workers: int | None = None, chunksize: int | None = None, *,
                  bundle: Any = None, validator_factory: Callable[[Any], Any] = default_validator_factory,
                  max_in_flight: int | None = None) -> Iterator:
    """Streaming ``validate_many``: yields one result per item, in input order, holding only a bounded number
    of documents in memory. ``items``: ``(name, bytes)`` pairs or paths (read by the workers)."""
    n = resolve_workers(workers)
    if n == 1:
        validator = _local_validator(validator_factory, bundle)
        for item in items:
            yield _validate_one(validator, *_normalize(item))
        return
    with ValidationPool(n, bundle=bundle, validator_factory=validator_factory) as pool:
        yield from pool.imap(items, chunksize, max_in_flight)


def validate_many(items: Iterable[Item], workers: int | None = None, chunksize: int | None = None, *,
                  bundle: Any = None,
                  validator_factory: Callable[[Any], Any] = default_validator_factory) -> list:
    """Validate every item on ``workers`` processes (default: all cores); results in input order.

    ``items``: ``(name, bytes)`` pairs or paths. ``chunksize``: documents per task (default: about eight chunks
    per worker, at most 16). ``validator_factory(bundle)`` builds the Validator in each worker (a module-level,
    picklable callable; default: ``Validator.for_bundle(bundle)``).
    """
    if not isinstance(items, Sequence):
        items = list(items)
    n = resolve_workers(workers)
    size = chunksize or auto_chunksize(len(items), n)
    return list(iter_validate(items, n, size, bundle=bundle, validator_factory=validator_factory))
