"""Cron schedules that publish events, fired once per period across any number of processes.

A firing is not a call: it is an outbox event `schedule.<name>` written in the same transaction
as the claim of that firing, so the handler subscribed to it gets the dispatcher's retries and
dead letters, and two schedulers racing for the same firing cannot both win (the claim is a
conditional put). Only the `Tables` port is used, so any Table adapter will do. croniter is
imported where an expression is stepped, not with the module: the admin Lambda imports this
module for a table name.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from roost.cloud.clock import Clock
from roost.cloud.errors import Conflict, Invalid, TransactionCanceled
from roost.cloud.events import Event, publish
from roost.cloud.ids import new_id
from roost.cloud.logs import get_logger
from roost.cloud.table import Put, Tables, TableSpec, attr

log = get_logger(__name__)

SCHEDULES = TableSpec(name="roost_schedule", pk="name", sk="fire", ttl="expires")
"""Per schedule: one claim per firing (sk = fire time, ISO UTC; expires after `CLAIM_TTL`) and
one `last` item (sk = "last") remembering the latest firing, which outlives the claims so
catch-up after a long downtime still knows the schedule had been running."""

CLAIM_TTL = timedelta(days=3)
LAST = "last"
_NAME = re.compile(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*")


def fire_key(when: datetime) -> str:
    """Fixed-width UTC text, so string order is time order."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Schedule:
    name: str
    cron: str
    tz: str
    added_at: datetime  # firings before this are not owed unless the schedule ran before

    @property
    def event_type(self) -> str:
        return f"schedule.{self.name}"

    def latest_fire(self, now: datetime) -> datetime | None:
        """The most recent firing time at or before `now` (UTC), None if there never was one."""
        from croniter import CroniterBadDateError, croniter

        local = now.astimezone(ZoneInfo(self.tz)) + timedelta(microseconds=1)
        try:
            fire: datetime = croniter(self.cron, local).get_prev(datetime)
        except CroniterBadDateError:
            return None
        fire = fire.astimezone(UTC)
        return fire if fire <= now else None

    def next_fire(self, now: datetime) -> datetime | None:
        """The first firing time after `now` (UTC), None if there is none any more."""
        from croniter import CroniterBadDateError, croniter

        try:
            fire: datetime = croniter(self.cron, now.astimezone(ZoneInfo(self.tz))).get_next(
                datetime)
        except CroniterBadDateError:
            return None
        return fire.astimezone(UTC)


def parse_schedule(name: str, cron: str, tz: str, added_at: datetime) -> Schedule:
    """Validate everything up front, so a bad schedule fails at `add` and not at 3 a.m."""
    if not isinstance(name, str) or len(name) > 200 or not _NAME.fullmatch(name):
        raise Invalid(f"schedule name {name!r}: use letters, digits and '_', parts joined by '.' "
                      "(at most 200 characters)", code="invalid_schedule_name")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise Invalid(f"schedule {name!r}: {tz!r} is not a known time zone (e.g. 'Europe/Berlin')",
                      code="invalid_timezone") from exc
    if not isinstance(cron, str):
        raise Invalid(f"schedule {name!r}: the cron expression must be text",
                      code="invalid_cron")
    from croniter import CroniterBadDateError, CroniterError, croniter

    try:
        croniter(cron, added_at.astimezone(zone)).get_next(datetime)
    except CroniterBadDateError as exc:
        raise Invalid(f"schedule {name!r}: {cron!r} never fires", code="invalid_cron") from exc
    except (CroniterError, ValueError, TypeError, KeyError) as exc:
        raise Invalid(f"schedule {name!r}: {cron!r} is not a valid cron expression "
                      f"('minute hour day-of-month month day-of-week', e.g. '0 9 * * mon'): {exc}",
                      code="invalid_cron") from exc
    return Schedule(name=name, cron=cron, tz=tz, added_at=added_at)


class Scheduler:
    """Fires due schedules on `tick()`; `start()` ticks in a background thread.

    After downtime a schedule fires once for everything it missed (the latest missed time), not
    once per missed period. A schedule that has never fired in this deployment does not fire for
    times before it was added, so a fresh start at 10:30 does not run the 10:00 job at once.
    """

    def __init__(self, tables: Tables, *, clock: Clock, poll: float = 1.0,
                 notify: Callable[[], None] | None = None) -> None:
        self._tables = tables
        self._table = tables.table(SCHEDULES.name)
        self._clock = clock
        self._poll = poll
        self._notify = notify  # e.g. the dispatcher's `notify`, to deliver a firing at once
        self._schedules: dict[str, Schedule] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, name: str, cron: str, *, tz: str = "UTC") -> None:
        schedule = parse_schedule(name, cron, tz, self._clock.now())
        with self._lock:
            if name in self._schedules:
                raise Conflict(f"a schedule named {name!r} is already added",
                               code="duplicate_schedule")
            self._schedules[name] = schedule

    @property
    def schedules(self) -> list[Schedule]:
        with self._lock:
            return list(self._schedules.values())

    def tick(self) -> list[str]:
        """Fire every schedule that is due and not yet fired; returns the names fired here."""
        now = self._clock.now()
        fired = [s.name for s in self.schedules if self._fire(s, now)]
        if fired and self._notify is not None:
            self._notify()
        return fired

    def _fire(self, schedule: Schedule, now: datetime) -> bool:
        fire = schedule.latest_fire(now)
        if fire is None:
            return False
        key = fire_key(fire)
        last = self._table.get({"name": schedule.name, "fire": LAST})
        if last is None and fire < schedule.added_at:
            return False
        if last is not None and last["at"] >= key:
            return False
        event = Event(type=schedule.event_type, id=new_id(now), at=now, actor="system",
                      data={"schedule": schedule.name, "fire_at": key, "cron": schedule.cron,
                            "tz": schedule.tz})
        claim = {"name": schedule.name, "fire": key, "event": event.id,
                 "expires": int((fire + CLAIM_TTL).timestamp())}
        newer = attr("name").not_exists() | attr("at").lt(key)
        try:
            self._tables.transact([
                Put(SCHEDULES.name, claim, condition=attr("name").not_exists()),
                Put(SCHEDULES.name, {"name": schedule.name, "fire": LAST, "at": key},
                    condition=newer),
                publish(event),
            ])
        except TransactionCanceled:
            log.debug("schedule_already_fired", schedule=schedule.name, fire_at=key)
            return False
        log.info("schedule_fired", schedule=schedule.name, fire_at=key, event_id=event.id)
        return True

    def seconds_to_next(self) -> float:
        """Seconds until the soonest next firing (the background loop sleeps at most this)."""
        now = self._clock.now()
        nexts = [n for s in self.schedules if (n := s.next_fire(now)) is not None]
        return max(0.0, min((n - now).total_seconds() for n in nexts)) if nexts else self._poll

    # ----------------------------------------------------------------------- background

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="roost-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop ticking; True if the thread ended within `timeout` seconds."""
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        self._stopping.set()
        thread.join(timeout)
        return not thread.is_alive()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.tick()
                wait = min(self._poll, self.seconds_to_next())
            except Exception:  # a busy disk must not end the schedules; try again shortly
                log.exception("scheduler_tick_failed")
                wait = self._poll
            self._stopping.wait(max(wait, 0.01))
