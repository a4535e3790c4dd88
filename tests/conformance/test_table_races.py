"""Races: many threads at once on the same items. Conditions are checked against the item as it
is at the moment of the write, so a capped counter reaches its cap exactly, and a transaction
under contention is still all or nothing. (Processes race too: tests/cloud, per adapter.)"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from roost.cloud.errors import ConditionFailed, TransactionCanceled
from roost.cloud.table import Put, TableSpec, Update, attr

COUNTERS = TableSpec("test_counters", sk=None)
LOG = TableSpec("test_log", sk=None)
THREADS = 16


@pytest.fixture
def tables(make_tables):
    return make_tables([COUNTERS, LOG])


def _race(n: int, work: Callable[[int], int]) -> list[int]:
    """Run `work(i)` on n threads released together; returns each one's result."""
    start = threading.Barrier(n)
    results = [0] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = work(i)
        except BaseException as exc:  # surfaced below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


@pytest.mark.parametrize("round_", range(3))
def test_a_capped_counter_admits_exactly_cap(tables, round_):
    cap, tries = 37, 5  # 80 attempts for 37 places
    counters = tables.table(COUNTERS.name)
    key = {"pk": f"seats{round_}"}

    def work(_: int) -> int:
        won = 0
        for _ in range(tries):
            try:
                counters.update(key, add={"n": 1},
                                condition=attr("n").not_exists() | attr("n").lt(cap))
                won += 1
            except ConditionFailed:
                pass
        return won

    assert sum(_race(THREADS, work)) == cap
    assert counters.get(key) == {**key, "n": cap}


def test_only_one_put_if_absent_wins(tables):
    counters = tables.table(COUNTERS.name)

    def work(i: int) -> int:
        try:
            counters.put({"pk": "claim", "by": i}, condition=attr("pk").not_exists())
            return 1
        except ConditionFailed:
            return 0

    wins = _race(THREADS, work)
    assert sum(wins) == 1
    assert counters.get({"pk": "claim"})["by"] == wins.index(1)


def test_transactions_under_contention_are_all_or_nothing(tables):
    """Each sale takes a seat from a capped counter, writes its own receipt and adds to a
    running total, in one transaction: receipts, seats and total must always agree."""
    cap, tries = 29, 4
    counters, log = tables.table(COUNTERS.name), tables.table(LOG.name)

    def work(i: int) -> int:
        won = 0
        for j in range(tries):
            try:
                tables.transact([
                    Update(COUNTERS.name, {"pk": "seats"}, add={"n": 1},
                           condition=attr("n").not_exists() | attr("n").lt(cap)),
                    Put(LOG.name, {"pk": f"receipt-{i}-{j}", "by": i},
                        condition=attr("pk").not_exists()),
                    Update(COUNTERS.name, {"pk": "total"}, add={"amount": 10}),
                ])
                won += 1
            except TransactionCanceled as exc:
                assert exc.reasons == ["condition_failed", None, None]
        return won

    assert sum(_race(THREADS, work)) == cap
    assert counters.get({"pk": "seats"})["n"] == cap
    assert counters.get({"pk": "total"})["amount"] == 10 * cap
    assert len(log.scan().items) == cap


def test_concurrent_increments_without_condition_all_land(tables):
    counters = tables.table(COUNTERS.name)

    def work(_: int) -> int:
        for _ in range(10):
            counters.update({"pk": "hits"}, add={"n": 1})
        return 10

    assert sum(_race(THREADS, work)) == 160
    assert counters.get({"pk": "hits"})["n"] == 160
