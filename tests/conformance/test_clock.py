"""The Clock port: every clock gives aware UTC; the system clock moves, the frozen one only
when told to."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from roost.cloud.clock import Clock, FrozenClock, SystemClock, epoch


@pytest.fixture(params=["system", "frozen"])
def any_clock(request: pytest.FixtureRequest) -> Clock:
    return SystemClock() if request.param == "system" else FrozenClock()


def test_every_clock_gives_aware_utc(any_clock: Clock) -> None:
    now = any_clock.now()
    assert isinstance(now, datetime)
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)


def test_system_clock_is_the_real_time_and_moves() -> None:
    clock = SystemClock()
    before = time.time()
    first = clock.now()
    time.sleep(0.01)
    second = clock.now()
    after = time.time()
    assert before - 0.001 <= epoch(first) < epoch(second) <= after + 0.001


def test_frozen_clock_stands_still() -> None:
    clock = FrozenClock()
    first = clock.now()
    time.sleep(0.01)
    assert clock.now() == first == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_frozen_clock_set_and_advance() -> None:
    clock = FrozenClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    assert clock.advance(timedelta(minutes=5)) == datetime(2026, 3, 1, 12, 5, tzinfo=UTC)
    assert clock.advance(hours=1, seconds=30) == datetime(2026, 3, 1, 13, 5, 30, tzinfo=UTC)
    assert clock.now() == datetime(2026, 3, 1, 13, 5, 30, tzinfo=UTC)
    clock.set(datetime(2025, 12, 31, 23, 59, tzinfo=UTC))  # may go back, too
    assert clock.now() == datetime(2025, 12, 31, 23, 59, tzinfo=UTC)


def test_frozen_clock_normalises_other_zones_to_utc() -> None:
    paris = timezone(timedelta(hours=1))
    clock = FrozenClock(datetime(2026, 1, 5, 10, 0, tzinfo=paris))
    assert clock.now() == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert clock.now().utcoffset() == timedelta(0) and clock.now().hour == 9
    clock.set(datetime(2026, 6, 1, 8, 0, tzinfo=timezone(timedelta(hours=-4))))
    assert clock.now().hour == 12 and clock.now().utcoffset() == timedelta(0)


def test_frozen_clock_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FrozenClock(datetime(2026, 1, 5, 9, 0))
    clock = FrozenClock()
    before = clock.now()
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2026, 1, 5, 9, 0))
    assert clock.now() == before


def test_frozen_clock_counts_every_advance_under_threads() -> None:
    clock = FrozenClock()
    start = clock.now()

    def tick() -> None:
        for _ in range(1000):
            clock.advance(microseconds=1)

    threads = [threading.Thread(target=tick) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert clock.now() - start == timedelta(microseconds=8000)
