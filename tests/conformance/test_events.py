"""The Events port's behaviour: what every dispatcher must do, over every Table adapter."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from roost.cloud.audit import current_actor
from roost.cloud.clock import FrozenClock
from roost.cloud.errors import NotFound, TransactionCanceled
from roost.cloud.events import Dispatcher, Event, publish
from roost.cloud.ids import new_id
from roost.cloud.local.dispatcher import TABLES, LocalDispatcher
from roost.cloud.table import Op, Put, Tables, TableSpec, attr

DATA = TableSpec(name="test_items")


@pytest.fixture
def tables(make_tables: Callable[[Iterable[TableSpec]], Tables]) -> Tables:
    return make_tables([DATA, *TABLES])


def dispatcher(tables: Tables, clock: FrozenClock, **kwargs: Any) -> LocalDispatcher:
    kwargs.setdefault("jitter", 0.0)
    return LocalDispatcher(tables, clock=clock, **kwargs)


def emit(tables: Tables, clock: FrozenClock, type: str = "rooms.booked",
         data: dict[str, Any] | None = None, ops: Iterable[Op] = ()) -> Event:
    event = Event(type=type, data=data if data is not None else {"n": 1}, id=new_id(clock.now()),
                  at=clock.now(), actor="user-1")
    tables.transact([*ops, publish(event)])
    return event


class Recorder:
    """A handler that remembers each call, the actor it ran as, and can fail on demand."""

    def __init__(self, name: str, fail_times: int = 0) -> None:
        self.name = name
        self.fail_times = fail_times
        self.calls: list[Event] = []
        self.actors: list[str | None] = []

    def __call__(self, event: Event) -> None:
        self.calls.append(event)
        self.actors.append(current_actor.get())
        if len(self.calls) <= self.fail_times:
            raise ValueError(f"{self.name} failed on call {len(self.calls)}")


def test_local_dispatcher_is_a_dispatcher(tables: Tables, clock: FrozenClock) -> None:
    d: Dispatcher = dispatcher(tables, clock)
    assert d.run_once() == 0


def test_each_subscribed_handler_gets_the_event_once(tables: Tables, clock: FrozenClock) -> None:
    d = dispatcher(tables, clock)
    mail, report, other = Recorder("mail"), Recorder("report"), Recorder("other")
    d.subscribe("rooms.booked", "rooms.mail", mail)
    d.subscribe("rooms.booked", "rooms.report", report)
    d.subscribe("rooms.cancelled", "rooms.other", other)
    event = emit(tables, clock, data={"room": "A1", "seats": [1, 2], "meta": {"x": None}})

    assert d.run_once() == 2
    assert mail.calls == [event] and report.calls == [event] and other.calls == []
    assert mail.actors == ["handler:rooms.mail"] and report.actors == ["handler:rooms.report"]
    assert current_actor.get() is None  # restored after the handler
    assert d.run_once() == 0 and d.pending() == 0
    assert len(mail.calls) == 1


def test_events_of_a_cancelled_transaction_are_never_delivered(
        tables: Tables, clock: FrozenClock) -> None:
    d = dispatcher(tables, clock)
    seen = Recorder("seen")
    d.subscribe("rooms.booked", "rooms.seen", seen)
    refused = Put(DATA.name, {"pk": "x", "sk": "y"}, condition=attr("pk").exists())
    with pytest.raises(TransactionCanceled):
        emit(tables, clock, ops=[refused])
    assert d.pending() == 0
    assert d.run_once() == 0
    assert seen.calls == []
    assert tables.table(DATA.name).get({"pk": "x", "sk": "y"}) is None


def test_event_without_subscriber_is_dropped(tables: Tables, clock: FrozenClock) -> None:
    d = dispatcher(tables, clock)
    emit(tables, clock, type="rooms.nobody_listens")
    assert d.pending() == 1
    assert d.run_once() == 0
    assert d.pending() == 0


def test_failing_handler_is_retried_with_exponential_backoff(
        tables: Tables, clock: FrozenClock) -> None:
    d = dispatcher(tables, clock, base_delay=1.0, max_delay=300.0)
    flaky = Recorder("flaky", fail_times=3)
    d.subscribe("rooms.booked", "rooms.flaky", flaky)
    event = emit(tables, clock)

    assert d.run_once() == 1  # attempt 1 fails
    for delay in (1.0, 2.0, 4.0):  # retry n waits base * 2**(n-1)
        clock.advance(seconds=delay - 0.001)
        assert d.run_once() == 0, "retried before its backoff ran out"
        clock.advance(seconds=0.001)
        assert d.run_once() == 1
    assert len(flaky.calls) == 4 and all(e == event for e in flaky.calls)
    assert d.pending() == 0 and d.dead_letters() == []


def test_backoff_is_capped(tables: Tables, clock: FrozenClock) -> None:
    d = dispatcher(tables, clock, base_delay=10.0, max_delay=15.0, max_attempts=5)
    flaky = Recorder("flaky", fail_times=2)
    d.subscribe("rooms.booked", "rooms.flaky", flaky)
    emit(tables, clock)
    d.run_once()
    clock.advance(seconds=10)
    assert d.run_once() == 1
    clock.advance(seconds=14.9)  # 20 s uncapped; capped at 15
    assert d.run_once() == 0
    clock.advance(seconds=0.1)
    assert d.run_once() == 1 and d.pending() == 0


def test_dead_letter_after_max_attempts_then_replay(tables: Tables, clock: FrozenClock) -> None:
    d = dispatcher(tables, clock, max_attempts=3, base_delay=1.0)
    broken, fine = Recorder("broken", fail_times=3), Recorder("fine")
    d.subscribe("rooms.booked", "rooms.broken", broken)
    d.subscribe("rooms.booked", "rooms.fine", fine)
    event = emit(tables, clock)

    d.run_once()
    clock.advance(seconds=1)
    d.run_once()
    clock.advance(seconds=2)
    d.run_once()
    assert len(broken.calls) == 3 and len(fine.calls) == 1
    assert d.pending() == 0
    [dead] = d.dead_letters()
    assert dead.event == event and dead.handler == "rooms.broken" and dead.attempts == 3
    assert dead.error == "ValueError: broken failed on call 3"
    assert dead.failed_at == clock.now()
    assert "ValueError" in dead.extra["traceback"]
    assert d.dead_letters(handler="rooms.broken") == [dead]
    assert d.dead_letters(handler="rooms.fine") == []

    clock.advance(hours=1)
    assert d.run_once() == 0 and len(broken.calls) == 3  # parked, not retried

    d.replay(event.id, "rooms.broken")
    assert d.dead_letters() == [] and d.pending() == 1
    assert d.run_once() == 1
    assert broken.calls[-1] == event and len(broken.calls) == 4
    assert len(fine.calls) == 1 and d.pending() == 0


def test_replay_restarts_the_attempt_count(tables: Tables, clock: FrozenClock) -> None:
    d = dispatcher(tables, clock, max_attempts=2, base_delay=1.0)
    broken = Recorder("broken", fail_times=10)
    d.subscribe("rooms.booked", "rooms.broken", broken)
    event = emit(tables, clock)
    d.run_once()
    clock.advance(seconds=1)
    d.run_once()
    assert len(d.dead_letters()) == 1
    d.replay(event.id, "rooms.broken")
    d.run_once()  # attempt 1 of the replay: a retry is owed, not a dead letter
    assert d.dead_letters() == [] and d.pending() == 1
    clock.advance(seconds=1)
    d.run_once()
    assert [x.attempts for x in d.dead_letters()] == [2]


def test_replay_of_unknown_dead_letter_is_not_found(tables: Tables, clock: FrozenClock) -> None:
    d = dispatcher(tables, clock)
    with pytest.raises(NotFound) as err:
        d.replay(new_id(), "rooms.nobody")
    assert err.value.code == "dead_letter_not_found"
