"""validators.parallel: same results as one-by-one validation, input order kept, failures isolated per document.

No timing here (the throughput comparison is ``make bench-validate``). The pools are real ``spawn`` pools; the
fake validators below are built inside the worker processes, which import this module by name to unpickle the
factories (pytest puts this folder on sys.path, and spawn children inherit sys.path).
"""
from __future__ import annotations

import csv
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from erechnung import artifacts
from validators.parallel import (FailedValidation, ValidationPool, WorkerSetupError, auto_chunksize, iter_validate,
                                 validate_many)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("parallel-pools")]

WORKERS = 2


def _official_sample(n: int = 20) -> list[str]:
    """``n`` official cases spread over OBSERVED_KOSIT_EMULATION.tsv: accepted and rejected ones, UBL and CII."""
    with (artifacts.cases_dir() / "OBSERVED_KOSIT_EMULATION.tsv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    step = max(1, len(rows) // n)
    return [r["path"] for r in rows[::step][:n]]


def _file(tsv_path: str) -> Path:
    return artifacts.cases_dir() / tsv_path.removeprefix("cases/")


def _comparable(result) -> dict:
    d = result.to_json_dict()
    d.pop("duration_ms", None)  # wall time of this run, the only field allowed to differ
    return d


@pytest.fixture(scope="module")
def sample() -> list[tuple[str, bytes]]:
    return [(p, _file(p).read_bytes()) for p in _official_sample()]


@pytest.fixture(scope="module")
def parallel_results(sample):
    return validate_many(sample, workers=WORKERS, chunksize=3)


# ----------------------------------------------------------------------------------------------------------------
# the real engine
# ----------------------------------------------------------------------------------------------------------------

def test_sample_mixes_verdicts_and_syntaxes(sample, case_result):
    verdicts = {case_result(name).verdict for name, _ in sample}
    assert verdicts == {"accept", "reject"}
    assert any("/cii/" in name.lower() or "cii" in name.lower() for name, _ in sample)
    assert any("ubl" in name.lower() for name, _ in sample)


def test_parallel_results_equal_sequential_in_input_order(sample, parallel_results, case_result):
    assert [r.name for r in parallel_results] == [name for name, _ in sample]
    for (name, _), got in zip(sample, parallel_results):
        assert _comparable(got) == _comparable(case_result(name)), name
        assert got.report_xml().startswith(b"<?xml")


def test_results_cross_the_process_boundary_whole(parallel_results):
    r = parallel_results[0]
    assert pickle.loads(pickle.dumps(r)) == r
    assert r.steps and r.messages is not None


def test_paths_are_read_by_the_workers_and_keep_their_order(sample, case_result):
    paths = [_file(name) for name, _ in sample][::-1]  # reversed: order must follow the input, not the cache
    results = validate_many(paths, workers=WORKERS)
    assert [r.name for r in results] == [str(p) for p in paths]
    for p, got in zip(paths, results):
        expected = _comparable(case_result(next(n for n, _ in sample if _file(n) == p)))
        expected["name"] = str(p)
        assert _comparable(got) == expected


def test_streaming_yields_in_order_and_pulls_input_lazily(sample):
    pulled = []

    def source():
        for i, item in enumerate(sample * 2):
            pulled.append(i)
            yield item

    stream = iter_validate(source(), workers=WORKERS, chunksize=2, max_in_flight=2)
    first = next(stream)
    assert first.name == sample[0][0]
    assert len(pulled) < len(sample) * 2  # not everything was read up front
    rest = list(stream)
    assert [r.name for r in [first, *rest]] == [name for name, _ in sample * 2]


def test_workers_1_runs_in_this_process(sample, case_result):
    results = validate_many(sample[:3], workers=1)
    assert [_comparable(r) for r in results] == [_comparable(case_result(n)) for n, _ in sample[:3]]


def test_a_reused_pool_reports_peak_rss_per_worker(sample):
    with ValidationPool(WORKERS) as pool:
        assert len(pool.pids) == WORKERS  # every worker started and warmed before the first document
        first = pool.validate_many(sample[:4], chunksize=1)
        second = pool.validate_many(sample[:4])
        assert [r.verdict for r in first] == [r.verdict for r in second]
        assert all(kb > 0 for kb in pool.peak_rss_kb.values())


def test_auto_chunksize_sends_several_documents_per_task():
    assert auto_chunksize(2000, 2) == 16
    assert auto_chunksize(20, 2) == 2
    assert auto_chunksize(1, 8) == 1
    assert auto_chunksize(None, 2) >= 8


# ----------------------------------------------------------------------------------------------------------------
# failures, with fake validators (built inside the workers)
# ----------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FakeResult:
    name: str
    verdict: str
    scenario: str | None = "fake"
    messages: tuple = field(default=())
    pid: int = 0

    def to_json_dict(self) -> dict:
        return {"name": self.name, "verdict": self.verdict}


class FakeValidator:
    """Accepts everything, except: a name with ``boom`` raises, a name with ``die`` kills the worker process."""

    def validate(self, data: bytes, name: str) -> FakeResult:
        if "boom" in name:
            raise ValueError(f"cannot handle {name}")
        if "die" in name:
            os._exit(3)  # as a crash inside Saxon would
        return FakeResult(name, "accept", pid=os.getpid())


def fake_factory(bundle):
    return FakeValidator()


def broken_factory(bundle):
    raise FileNotFoundError("scenarios.xml is missing")


def _docs(names):
    return [(n, b"<x/>") for n in names]


def test_an_exception_rejects_that_document_only():
    names = [f"doc{i}" for i in range(10)] + ["boom-1"] + [f"doc{i}" for i in range(10, 20)] + ["boom-2"]
    results = validate_many(_docs(names), workers=WORKERS, chunksize=4, validator_factory=fake_factory)
    assert [r.name for r in results] == names
    for r in results:
        if r.name.startswith("boom"):
            assert isinstance(r, FailedValidation)
            assert r.verdict == "reject" and r.reason == "PARALLEL-WORKER-ERROR"
            assert "ValueError: cannot handle" in r.messages[0].text
            assert r.to_json_dict()["verdict"] == "reject"
        else:
            assert r.verdict == "accept" and r.pid != os.getpid()


def test_an_exception_rejects_that_document_in_process_too():
    results = validate_many(_docs(["a", "boom", "b"]), workers=1, validator_factory=fake_factory)
    assert [r.verdict for r in results] == ["accept", "reject", "accept"]
    assert results[0].pid == os.getpid()


def test_a_dying_worker_rejects_only_the_document_that_kills_it():
    names = [f"doc{i}" for i in range(12)] + ["die-here"] + [f"doc{i}" for i in range(12, 30)]
    with ValidationPool(WORKERS, validator_factory=fake_factory) as pool:
        results = pool.validate_many(_docs(names), chunksize=4)
        assert pool.restarts >= 1
        after = pool.validate_many(_docs(["again"]))  # the restarted pool still works
    assert [r.name for r in results] == names
    assert [r.name for r in results if r.verdict == "reject"] == ["die-here"]
    assert results[names.index("die-here")].reason == "PARALLEL-WORKER-DIED"
    assert after[0].verdict == "accept"


def test_a_validator_that_cannot_be_built_fails_the_run_not_the_documents():
    with pytest.raises(WorkerSetupError, match="scenarios.xml is missing"):
        validate_many(_docs(["a", "b", "c"]), workers=WORKERS, validator_factory=broken_factory)
