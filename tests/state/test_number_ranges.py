"""Gap-free document numbers under concurrency (§ 14 Abs. 4 Nr. 4 UStG asks for unique numbers; a municipality's
auditors also expect no gaps): many writers at once, some of whose transactions fail after taking a number."""
from __future__ import annotations

import multiprocessing
import threading

from sqlalchemy import select

from erechnung.state import make_engine, transaction
from erechnung.state import repository as repo
from erechnung.state.schema import NumberRange


class RenderFailed(Exception):
    pass


def _create_many(url: str, worker: int, count: int, fail_every: int, engine=None) -> int:
    """Create ``count`` documents, one transaction each; every ``fail_every``-th transaction fails after its
    number was allocated (as a crash during rendering would). Returns how many committed."""
    own = engine is None
    engine = engine or make_engine(url)
    committed = 0
    try:
        for i in range(count):
            try:
                with transaction(engine) as s:
                    repo.create_document(s, idempotency_key=f"w{worker}-{i}", department="kasse", kind="invoice",
                                         format="ubl", number_prefix="RE-2026-")
                    if fail_every and i % fail_every == fail_every - 1:
                        raise RenderFailed
                committed += 1
            except RenderFailed:
                pass
    finally:
        if own:
            engine.dispose()
    return committed


def _assert_gap_free(engine, committed: int) -> None:
    with transaction(engine) as s:
        numbers = [d.number for d in repo.list_documents(s)]
        next_value = s.execute(select(NumberRange.next_value)).scalar_one()
    values = sorted(int(n.removeprefix("RE-2026-")) for n in numbers)
    assert values == list(range(1, committed + 1)), "a number was skipped or handed out twice"
    assert next_value == committed + 1


def test_number_range_is_gap_free_under_concurrent_allocation(engine, db_url):
    """Six threads, each with its own connection, create documents at once; every third transaction fails."""
    results: list[int] = []
    barrier = threading.Barrier(6)

    def work(w: int) -> None:
        barrier.wait()
        results.append(_create_many(db_url, w, 12, 3, engine=engine))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 6 * 8
    _assert_gap_free(engine, sum(results))


def test_number_range_is_gap_free_across_processes(engine, db_url):
    """Two worker processes (as a flow's process pool would start them) allocate from the same range."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        committed = pool.starmap(_create_many, [(db_url, 1, 20, 4), (db_url, 2, 20, 4)])
    assert committed == [15, 15]
    _assert_gap_free(engine, 30)
