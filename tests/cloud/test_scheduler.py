"""Scheduler: cron firings become outbox events, once per period, across schedulers."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from roost.cloud.clock import FrozenClock
from roost.cloud.errors import Conflict, Invalid
from roost.cloud.events import Event
from roost.cloud.local.dispatcher import LocalDispatcher
from roost.cloud.local.scheduler import SCHEDULES, Scheduler
from roost.cloud.table import Op, Table, Tables

MONDAY_0850 = datetime(2026, 1, 5, 8, 50, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(MONDAY_0850)


pytest_plugins = ["events_fixtures"]


class Inbox:
    """A dispatcher with one recording handler per schedule event type."""

    def __init__(self, tables: Tables, clock: FrozenClock, *types: str) -> None:
        self.dispatcher = LocalDispatcher(tables, clock=clock, jitter=0.0)
        self.events: list[Event] = []
        for t in types:
            self.dispatcher.subscribe(t, f"test.{t}", self.events.append)

    def drain(self) -> list[str]:
        self.dispatcher.run_once()
        fired = [str(e.data["fire_at"]) for e in self.events]
        self.events.clear()
        return fired


@pytest.mark.parametrize(("name", "cron", "tz", "code"), [
    ("reports.weekly", "every monday", "UTC", "invalid_cron"),
    ("reports.weekly", "61 * * * *", "UTC", "invalid_cron"),
    ("reports.weekly", "0 0 31 2 *", "UTC", "invalid_cron"),  # February 31st never comes
    ("reports.weekly", "0 9 * * mon", "Mars/Olympus", "invalid_timezone"),
    ("reports weekly", "0 9 * * mon", "UTC", "invalid_schedule_name"),
    ("", "0 9 * * mon", "UTC", "invalid_schedule_name"),
])
def test_bad_schedules_are_refused_at_add(tables: Tables, clock: FrozenClock, name: str,
                                          cron: str, tz: str, code: str) -> None:
    s = Scheduler(tables, clock=clock)
    with pytest.raises(Invalid) as err:
        s.add(name, cron, tz=tz)
    assert err.value.code == code
    assert repr(cron) in err.value.message or repr(tz) in err.value.message or \
        repr(name) in err.value.message
    assert s.schedules == []


def test_a_name_is_added_once(tables: Tables, clock: FrozenClock) -> None:
    s = Scheduler(tables, clock=clock)
    s.add("reports.hourly", "0 * * * *")
    with pytest.raises(Conflict):
        s.add("reports.hourly", "30 * * * *")


def test_fires_once_per_period_as_an_event(tables: Tables, clock: FrozenClock) -> None:
    s = Scheduler(tables, clock=clock)
    s.add("reports.hourly", "0 * * * *")
    inbox = Inbox(tables, clock, "schedule.reports.hourly")
    assert s.tick() == []  # 08:50: the 08:00 firing was before the schedule existed
    clock.set(MONDAY_0850.replace(minute=59, second=59))
    assert s.tick() == []
    clock.set(MONDAY_0850.replace(hour=9, minute=0))
    assert s.tick() == ["reports.hourly"]
    assert s.tick() == []
    clock.advance(minutes=30)
    assert s.tick() == []
    clock.advance(minutes=30)
    assert s.tick() == ["reports.hourly"]
    assert inbox.drain() == ["2026-01-05T09:00:00Z", "2026-01-05T10:00:00Z"]


def test_the_event_carries_the_schedule(tables: Tables, clock: FrozenClock) -> None:
    s = Scheduler(tables, clock=clock)
    s.add("reports.hourly", "0 * * * *")
    got: list[Event] = []
    d = LocalDispatcher(tables, clock=clock)
    d.subscribe("schedule.reports.hourly", "reports.mail", got.append)
    clock.advance(minutes=10, seconds=3)
    s.tick()
    d.run_once()
    [event] = got
    assert event.type == "schedule.reports.hourly" and event.actor == "system"
    assert event.at == clock.now()
    assert dict(event.data) == {"schedule": "reports.hourly", "fire_at": "2026-01-05T09:00:00Z",
                                "cron": "0 * * * *", "tz": "UTC"}


def test_two_schedulers_fire_each_period_once(open_tables: Callable[[], Tables],
                                              clock: FrozenClock) -> None:
    a, b = Scheduler(open_tables(), clock=clock), Scheduler(open_tables(), clock=clock)
    for s in (a, b):
        s.add("reports.quarter", "*/15 * * * *")
        s.add("reports.hourly", "0 * * * *")
    inbox = Inbox(open_tables(), clock, "schedule.reports.quarter", "schedule.reports.hourly")
    fired: list[str] = []
    for _ in range(12):  # 08:50 .. 11:40 in 15-minute steps; b sometimes ticks first
        clock.advance(minutes=15)
        first, second = (a, b) if clock.now().minute % 2 else (b, a)
        fired += first.tick() + second.tick()
    assert fired.count("reports.quarter") == 12
    assert fired.count("reports.hourly") == 3
    assert len(inbox.drain()) == 15


def test_catch_up_after_downtime_fires_once(open_tables: Callable[[], Tables],
                                            clock: FrozenClock) -> None:
    before = Scheduler(open_tables(), clock=clock)
    before.add("reports.hourly", "0 * * * *")
    inbox = Inbox(open_tables(), clock, "schedule.reports.hourly")
    clock.set(MONDAY_0850.replace(hour=9, minute=0, second=5))
    assert before.tick() == ["reports.hourly"]

    clock.set(datetime(2026, 1, 5, 14, 20, tzinfo=UTC))  # down from 09:01 to 14:20
    after = Scheduler(open_tables(), clock=clock)  # a new process
    after.add("reports.hourly", "0 * * * *")
    assert after.tick() == ["reports.hourly"]  # the missed 10..14 o'clock firings: once
    assert after.tick() == []
    clock.advance(minutes=40)
    assert after.tick() == ["reports.hourly"]
    assert inbox.drain() == ["2026-01-05T09:00:00Z", "2026-01-05T14:00:00Z",
                             "2026-01-05T15:00:00Z"]


def test_catch_up_survives_the_claims_expiring(open_tables: Callable[[], Tables],
                                               clock: FrozenClock) -> None:
    weekly = Scheduler(open_tables(), clock=clock)
    weekly.add("reports.weekly", "0 9 * * mon")
    clock.set(MONDAY_0850.replace(hour=9, minute=1))
    assert weekly.tick() == ["reports.weekly"]
    clock.advance(days=7, hours=5)  # the next Monday's 09:00 passed while down; claims expired
    later = Scheduler(open_tables(), clock=clock)
    later.add("reports.weekly", "0 9 * * mon")
    assert later.tick() == ["reports.weekly"]


def test_time_zone_of_the_schedule(tables: Tables, clock: FrozenClock) -> None:
    s = Scheduler(tables, clock=clock)
    s.add("desks.morning", "0 9 * * *", tz="Europe/Berlin")  # 09:00 in Berlin is 08:00 UTC
    inbox = Inbox(tables, clock, "schedule.desks.morning")
    clock.set(datetime(2026, 1, 6, 7, 59, tzinfo=UTC))
    assert s.tick() == []
    clock.set(datetime(2026, 1, 6, 8, 0, tzinfo=UTC))
    assert s.tick() == ["desks.morning"]
    clock.set(datetime(2026, 7, 6, 7, 0, tzinfo=UTC))  # summer time: 09:00 is 07:00 UTC
    assert s.tick() == ["desks.morning"]
    assert inbox.drain() == ["2026-01-06T08:00:00Z", "2026-07-06T07:00:00Z"]


def test_claims_expire_but_the_last_firing_stays(tables: Tables, clock: FrozenClock) -> None:
    s = Scheduler(tables, clock=clock)
    s.add("reports.hourly", "0 * * * *")
    clock.advance(minutes=10)
    s.tick()
    table = tables.table(SCHEDULES.name)
    assert [i["fire"] for i in table.query("reports.hourly").items] == \
        ["2026-01-05T09:00:00Z", "last"]
    clock.advance(days=4)
    assert [i["fire"] for i in table.query("reports.hourly").items] == ["last"]


def test_started_scheduler_fires_and_wakes_the_dispatcher(tables: Tables) -> None:
    from roost.cloud.clock import SystemClock

    clock = SystemClock()
    d = LocalDispatcher(tables, clock=clock, poll=60.0)
    got: list[Event] = []
    d.subscribe("schedule.tick.every_second", "test.tick", got.append)
    s = Scheduler(tables, clock=clock, poll=0.2, notify=d.notify)
    s.add("tick.every_second", "* * * * * *")  # six fields: the last one is seconds
    d.start()
    s.start()
    try:
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            time.sleep(0.02)
        assert got, "no firing delivered within 5 s"
    finally:
        assert s.stop(5.0)
        assert d.stop(5.0)
    assert got[0].type == "schedule.tick.every_second"


def test_catch_up_is_bounded_even_with_many_schedulers(open_tables: Callable[[], Tables],
                                                       clock: FrozenClock) -> None:
    schedulers = [Scheduler(open_tables(), clock=clock) for _ in range(3)]
    for s in schedulers:
        s.add("reports.minutely", "* * * * *")
    clock.advance(minutes=1)
    assert sum(len(s.tick()) for s in schedulers) == 1
    clock.advance(timedelta(hours=3))
    assert sum(len(s.tick()) for s in schedulers) == 1


class RivalFirst:
    """The real tables, except that a rival scheduler ticks just before our next transaction:
    the race in which both have read "not fired yet" and both try to fire."""

    def __init__(self, tables: Tables, rival: Scheduler) -> None:
        self._tables = tables
        self.rival: Scheduler | None = rival

    def table(self, name: str) -> Table:
        return self._tables.table(name)

    def transact(self, ops: Sequence[Op]) -> None:
        rival, self.rival = self.rival, None
        if rival is not None:
            assert rival.tick() != []
        self._tables.transact(ops)

    def purge_expired(self) -> int:
        return self._tables.purge_expired()


def test_a_firing_lost_to_a_rival_mid_tick_is_not_fired_again(
        open_tables: Callable[[], Tables], clock: FrozenClock) -> None:
    rival = Scheduler(open_tables(), clock=clock)
    racing = RivalFirst(open_tables(), rival)
    late = Scheduler(racing, clock=clock)
    for s in (rival, late):
        s.add("reports.hourly", "0 * * * *")
    inbox = Inbox(open_tables(), clock, "schedule.reports.hourly")
    clock.advance(minutes=10)
    assert late.tick() == []
    assert racing.rival is None  # the rival did run in between
    assert inbox.drain() == ["2026-01-05T09:00:00Z"]
