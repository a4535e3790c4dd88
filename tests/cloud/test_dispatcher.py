"""LocalDispatcher specifics: backoff math, leases, racing dispatchers, the background loop."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from roost.cloud.clock import FrozenClock
from roost.cloud.errors import Conflict, Invalid
from roost.cloud.events import Event, publish
from roost.cloud.ids import new_id
from roost.cloud.local.dispatcher import LocalDispatcher, backoff
from roost.cloud.table import Op, Table, Tables

pytest_plugins = ["events_fixtures"]


def emit(tables: Tables, clock: FrozenClock, type: str = "rooms.booked", **data: Any) -> Event:
    event = Event(type=type, data=data, id=new_id(clock.now()), at=clock.now())
    tables.transact([publish(event)])
    return event


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


class ProcessDied(BaseException):
    """Stands in for the process dying mid-handler: no `except Exception` catches it."""


# --------------------------------------------------------------------------- backoff math


@settings(max_examples=200, deadline=None)
@given(attempt=st.integers(1, 200), base=st.floats(0, 100), cap=st.floats(0, 10_000),
       jitter=st.floats(0, 1), r=st.floats(0, 1, exclude_max=True))
def test_backoff_stays_within_its_band(attempt: int, base: float, cap: float, jitter: float,
                                       r: float) -> None:
    full = min(cap, base * 2.0 ** min(attempt - 1, 64))
    got = backoff(attempt, base=base, cap=cap, jitter=jitter, rand=lambda: r)
    assert full * (1 - jitter) - 1e-9 <= got <= full + 1e-9


def test_backoff_doubles_until_the_cap() -> None:
    delays = [backoff(a, base=1.0, cap=30.0, jitter=0.0) for a in range(1, 9)]
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]
    with pytest.raises(Invalid):
        backoff(0, base=1.0, cap=30.0)


def test_jittered_retry_lands_between_half_and_full_delay(tables: Tables,
                                                          clock: FrozenClock) -> None:
    d = LocalDispatcher(tables, clock=clock, base_delay=8.0, jitter=0.5)
    calls: list[Event] = []

    def flaky(event: Event) -> None:
        calls.append(event)
        if len(calls) == 1:
            raise RuntimeError("first call fails")

    d.subscribe("rooms.booked", "rooms.flaky", flaky)
    emit(tables, clock)
    d.run_once()
    clock.advance(seconds=3.99)
    assert d.run_once() == 0
    clock.advance(seconds=4.01)
    assert d.run_once() == 1 and len(calls) == 2


# --------------------------------------------------------------------------- configuration


def test_subscribe_checks_its_input(tables: Tables, clock: FrozenClock) -> None:
    d = LocalDispatcher(tables, clock=clock)

    def handler(event: Event) -> None: ...

    with pytest.raises(Invalid) as err:
        d.subscribe("nodot", "h", handler)
    assert err.value.code == "invalid_event"
    with pytest.raises(Invalid) as err:
        d.subscribe("rooms.booked", "", handler)
    assert err.value.code == "invalid_handler_name"
    d.subscribe("rooms.booked", "rooms.h", handler)
    d.subscribe("rooms.booked", "rooms.h", handler)  # the same handler again: harmless
    with pytest.raises(Conflict):
        d.subscribe("rooms.booked", "rooms.h", lambda e: None)
    with pytest.raises(Invalid):
        LocalDispatcher(tables, clock=clock, max_attempts=0)
    with pytest.raises(Invalid):
        LocalDispatcher(tables, clock=clock, base_delay=10, max_delay=1)


def test_failures_are_logged_with_event_handler_and_attempt(tables: Tables,
                                                            clock: FrozenClock) -> None:
    d = LocalDispatcher(tables, clock=clock, max_attempts=2, base_delay=1.0, jitter=0.0)

    def broken(event: Event) -> None:
        raise KeyError("no such room")

    d.subscribe("rooms.booked", "rooms.broken", broken)
    event = emit(tables, clock)
    with capture_logs() as logs:
        d.run_once()
        clock.advance(seconds=1)
        d.run_once()
    failed = [e for e in logs if e["event"] == "delivery_failed"]
    dead = [e for e in logs if e["event"] == "delivery_dead"]
    assert failed == [{"event": "delivery_failed", "event_id": event.id,
                       "handler": "rooms.broken", "attempt": 1, "error": "KeyError: 'no such room'",
                       "retry_in": 1.0, "log_level": "warning"}]
    assert dead[0]["attempt"] == 2 and dead[0]["log_level"] == "error"


# --------------------------------------------------------------------------- leases


def test_delivery_abandoned_mid_handler_comes_back_after_the_lease(
        tables: Tables, clock: FrozenClock) -> None:
    d = LocalDispatcher(tables, clock=clock, lease=30.0)
    calls: list[str] = []

    def dies_once(event: Event) -> None:
        calls.append(event.id)
        if len(calls) == 1:
            raise ProcessDied

    d.subscribe("rooms.booked", "rooms.h", dies_once)
    event = emit(tables, clock)
    with pytest.raises(ProcessDied):
        d.run_once()
    assert d.pending() == 1
    clock.advance(seconds=29.9)
    assert d.run_once() == 0, "redelivered while the lease still held"
    clock.advance(seconds=0.1)
    assert d.run_once() == 1
    assert calls == [event.id, event.id] and d.pending() == 0


def test_handler_outliving_its_lease_is_delivered_again_and_settles_quietly(
        open_tables: Callable[[], Tables], clock: FrozenClock) -> None:
    tables_a, tables_b = open_tables(), open_tables()
    a = LocalDispatcher(tables_a, clock=clock, lease=10.0)
    b = LocalDispatcher(tables_b, clock=clock, lease=10.0)
    calls: list[str] = []

    def slow(event: Event) -> None:  # in a: time passes the lease, and b takes the delivery
        calls.append("a")
        clock.advance(seconds=11)
        assert b.run_once() == 1

    a.subscribe("rooms.booked", "rooms.h", slow)
    b.subscribe("rooms.booked", "rooms.h", lambda e: calls.append("b"))
    emit(tables_a, clock)
    assert a.run_once() == 1
    assert calls == ["a", "b"]  # at-least-once: both ran; neither settle broke
    assert a.pending() == 0 and a.dead_letters() == []


def test_deliveries_for_handlers_served_elsewhere_are_left_alone(
        open_tables: Callable[[], Tables], clock: FrozenClock) -> None:
    both = LocalDispatcher(open_tables(), clock=clock)
    only_mail = LocalDispatcher(open_tables(), clock=clock)
    seen: list[str] = []
    both.subscribe("rooms.booked", "rooms.mail", lambda e: seen.append("both:mail"))
    both.subscribe("rooms.booked", "rooms.report", lambda e: seen.append("both:report"))
    only_mail.subscribe("rooms.booked", "rooms.mail", lambda e: seen.append("only:mail"))
    emit(open_tables(), clock)
    assert both.fan_out() == 1
    assert only_mail.run_once() == 1 and seen == ["only:mail"]
    assert both.run_once() == 1 and seen == ["only:mail", "both:report"]
    assert both.pending() == 0


def test_fan_out_of_a_backlog_larger_than_one_transaction(tables: Tables,
                                                          clock: FrozenClock) -> None:
    d = LocalDispatcher(tables, clock=clock)
    got: Counter[tuple[str, str]] = Counter()
    for name in ("a", "b", "c"):
        d.subscribe("rooms.booked", f"rooms.{name}", lambda e, n=name: got.update([(n, e.id)]))
    ids = {emit(tables, clock, i=i).id for i in range(120)}  # 480 writes to fan out
    assert d.run_once() == 360
    assert set(got) == {(n, i) for n in "abc" for i in ids}
    assert set(got.values()) == {1}


# --------------------------------------------------------------------------- racing dispatchers


def test_two_dispatchers_in_threads_deliver_each_event_to_each_handler_once(
        open_tables: Callable[[], Tables], clock: FrozenClock) -> None:
    got: Counter[tuple[str, str]] = Counter()
    lock = threading.Lock()

    def record(name: str) -> Callable[[Event], None]:
        def handler(event: Event) -> None:
            with lock:
                got[(name, event.id)] += 1
        return handler

    dispatchers = [LocalDispatcher(open_tables(), clock=clock) for _ in range(2)]
    for d in dispatchers:
        d.subscribe("rooms.booked", "rooms.mail", record("mail"))
        d.subscribe("rooms.booked", "rooms.report", record("report"))
    publisher = open_tables()
    ids = [emit(publisher, clock, i=i).id for i in range(150)]
    counts = [0, 0]
    errors: list[BaseException] = []

    def drain(k: int) -> None:
        try:
            while dispatchers[k].pending():
                counts[k] += dispatchers[k].run_once()
        except BaseException as exc:  # surfaced below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert set(got) == {(h, i) for h in ("mail", "report") for i in ids}
    assert set(got.values()) == {1}
    assert sum(counts) == 300


# --------------------------------------------------------------------------- background loop


def test_started_dispatcher_delivers_soon_after_notify(tables: Tables,
                                                       clock: FrozenClock) -> None:
    d = LocalDispatcher(tables, clock=clock, poll=60.0)  # only notify() can make it quick
    got: list[str] = []
    d.subscribe("rooms.booked", "rooms.h", lambda e: got.append(e.id))
    d.start()
    try:
        time.sleep(0.05)  # let the first (empty) pass finish, so the loop is asleep on its poll
        event = emit(tables, clock)
        d.notify()
        assert wait_until(lambda: got == [event.id]), "not delivered within 5 s of notify()"
        assert wait_until(lambda: d.pending() == 0)
    finally:
        assert d.stop(5.0)
    assert d.stop(1.0)  # stopping twice is harmless


def test_started_dispatcher_runs_handlers_on_its_workers_at_once(tables: Tables,
                                                                 clock: FrozenClock) -> None:
    d = LocalDispatcher(tables, clock=clock, workers=2, poll=0.05)
    both_in = threading.Barrier(2, timeout=5)
    done: list[str] = []

    def meet(event: Event) -> None:
        both_in.wait()  # breaks (and fails twice) unless two handlers run side by side
        done.append(event.id)

    d.subscribe("rooms.booked", "rooms.meet", meet)
    emit(tables, clock)
    emit(tables, clock)
    d.start()
    try:
        assert wait_until(lambda: len(done) == 2)
    finally:
        assert d.stop(5.0)
    assert d.dead_letters() == [] and d.pending() == 0


def test_stop_reports_a_handler_still_running(tables: Tables, clock: FrozenClock) -> None:
    d = LocalDispatcher(tables, clock=clock, poll=0.05)
    entered, release = threading.Event(), threading.Event()

    def stuck(event: Event) -> None:
        entered.set()
        release.wait(5)

    d.subscribe("rooms.booked", "rooms.stuck", stuck)
    emit(tables, clock)
    d.start()
    assert entered.wait(5)
    assert d.stop(0.2) is False
    release.set()
    assert wait_until(lambda: d.pending() == 0)


class RivalFirst:
    """The real tables, except that a rival dispatcher runs a whole pass just before our next
    transaction: the race in which both read the same outbox and both try to fan it out."""

    def __init__(self, tables: Tables, rival: LocalDispatcher) -> None:
        self._tables = tables
        self.rival: LocalDispatcher | None = rival

    def table(self, name: str) -> Table:
        return self._tables.table(name)

    def transact(self, ops: Sequence[Op]) -> None:
        rival, self.rival = self.rival, None
        if rival is not None:
            assert rival.run_once() > 0
        self._tables.transact(ops)

    def purge_expired(self) -> int:
        return self._tables.purge_expired()


def test_fan_out_lost_to_a_rival_delivers_nothing_twice(
        open_tables: Callable[[], Tables], clock: FrozenClock) -> None:
    got: Counter[str] = Counter()
    rival = LocalDispatcher(open_tables(), clock=clock)
    racing = RivalFirst(open_tables(), rival)
    late = LocalDispatcher(racing, clock=clock)
    for d in (rival, late):
        d.subscribe("rooms.booked", "rooms.h", lambda e: got.update([e.id]))
    ids = [emit(open_tables(), clock, i=i).id for i in range(5)]
    assert late.run_once() == 0  # its fan-out lost: the rival had moved and delivered them all
    assert racing.rival is None
    assert got == Counter(ids) and late.pending() == 0
