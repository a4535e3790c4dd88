"""The booking rules, pure: records in, decision out. No clock, no tables — the caller passes
`now` and what the store read, so every rule can be tested (and property-tested) on its own.

Intervals are half-open, [start, end): a meeting ending at 10:00 and one starting at 10:00 do
not overlap. Every stored time is UTC; bookable hours are the room's local wall-clock time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from roost.cloud.errors import Conflict, Forbidden, Invalid

DEFAULT_GRACE = timedelta(minutes=15)
BLOCK_PREFIX = "BLOCK-"
"""Busy spans whose code starts so are blockings (rooms closed), not bookings."""


@dataclass(frozen=True)
class Hours:
    """What the rules need to know about a room."""

    tz: str = "UTC"
    opens: time = time(8, 0)
    closes: time = time(18, 0)
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    max_minutes: int = 240
    window_days: int = 90
    active: bool = True

    @classmethod
    def of(cls, room: Mapping[str, Any]) -> Hours:
        return cls(tz=room["tz"], opens=time.fromisoformat(room["opens"]),
                   closes=time.fromisoformat(room["closes"]),
                   weekdays=tuple(room["weekdays"]), max_minutes=room["max_minutes"],
                   window_days=room["window_days"], active=room["active"])

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)


@dataclass(frozen=True)
class Span:
    """One busy interval of a room (a booking's slot)."""

    start: datetime
    end: datetime
    code: str


def utc(when: datetime, tz: str) -> datetime:
    """An aware UTC time; a naive one is read as the room's local wall-clock time."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo(tz))
    return when.astimezone(UTC)


def stamp(when: datetime) -> str:
    """The stored form of a time: UTC, second precision, sorts as text."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def unstamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def week_of(start: datetime, hours: Hours) -> str:
    """The ISO week of a booking's room-local start, e.g. "2026-W02": the per-person limit
    counts bookings by the week they take place in."""
    year, week, _ = start.astimezone(hours.zone).isocalendar()
    return f"{year}-W{week:02d}"


def local_day(start: datetime, hours: Hours) -> date:
    """The room's local date of a booking's start: the room-day it belongs to."""
    return start.astimezone(hours.zone).date()


def check_slot(hours: Hours, start: datetime, end: datetime, now: datetime) -> None:
    """Raise `Invalid` unless [start, end) is a slot one may book in this room now."""
    if end <= start:
        raise Invalid("the end must be after the start", code="end_before_start")
    if not hours.active:
        raise Invalid("this room is not bookable at the moment", code="room_inactive")
    if start < now:
        raise Invalid("that time has passed; choose a time from now on", code="in_the_past")
    if end - start > timedelta(minutes=hours.max_minutes):
        raise Invalid(f"a booking of this room lasts at most {hours.max_minutes} minutes",
                      code="too_long")
    if start > now + timedelta(days=hours.window_days):
        raise Invalid(f"this room can be booked at most {hours.window_days} days ahead",
                      code="beyond_window")
    ls, le = start.astimezone(hours.zone), end.astimezone(hours.zone)
    if ls.weekday() not in hours.weekdays:
        raise Invalid(f"the room is not bookable on {ls:%A}s", code="closed_day")
    closes_at = datetime.combine(ls.date(), hours.closes, tzinfo=hours.zone)
    opens_at = datetime.combine(ls.date(), hours.opens, tzinfo=hours.zone)
    if ls < opens_at or le > closes_at:
        raise Invalid(f"the room is bookable from {hours.opens:%H:%M} to {hours.closes:%H:%M} "
                      f"({hours.tz})", code="outside_hours")


def overlapping(busy: Iterable[Span], start: datetime, end: datetime,
                ignore: str | None = None) -> list[Span]:
    """The busy spans that overlap [start, end), except the booking `ignore` (being moved)."""
    return [s for s in busy if s.code != ignore and s.start < end and start < s.end]


def check_free(busy: Iterable[Span], start: datetime, end: datetime,
               ignore: str | None = None) -> None:
    clash = overlapping(busy, start, end, ignore)
    blocked = [s for s in clash if s.code.startswith(BLOCK_PREFIX)]
    if blocked:
        raise Conflict("the room is closed at that time", code="room_blocked")
    if clash:
        raise Conflict("the room is already booked at that time", code="slot_taken",
                       conflicts=[{"start": stamp(s.start), "end": stamp(s.end)} for s in clash])


def day_bounds(hours: Hours, day: date) -> tuple[datetime, datetime] | None:
    """The bookable hours of the room's local `day`, in UTC; None when it is closed that day."""
    if day.weekday() not in hours.weekdays or not hours.active:
        return None
    return (datetime.combine(day, hours.opens, tzinfo=hours.zone).astimezone(UTC),
            datetime.combine(day, hours.closes, tzinfo=hours.zone).astimezone(UTC))


def gaps(low: Any, high: Any, busy: Iterable[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """The parts of [low, high) that no busy interval covers. Works on anything ordered: times,
    or stored stamps (which sort as text), so vacancy need not parse thousands of them."""
    cursor = low
    out: list[tuple[Any, Any]] = []
    for start, end in sorted(busy):
        if start > cursor:
            out.append((cursor, min(start, high)))
        cursor = max(cursor, end)
    if cursor < high:
        out.append((cursor, high))
    return [(a, b) for a, b in out if a < b]


def free_spans(hours: Hours, day: date, busy: Sequence[Span]) -> list[tuple[datetime, datetime]]:
    """The free intervals of the room's bookable hours on `day` (local), in UTC."""
    bounds = day_bounds(hours, day)
    if bounds is None:
        return []
    return gaps(*bounds, [(s.start, s.end) for s in busy])


MAX_SERIES_DAYS = 366


def occurrences(start: datetime, end: datetime, tz: str, *, freq: str,
                weekdays: Sequence[int], until: date | None, count: int | None
                ) -> list[tuple[datetime, datetime]]:
    """The (start, end) of every occurrence in UTC, stepping by room-local days, so a weekly
    09:00 stays at 09:00 across a daylight-saving change. Raises `Invalid` for a series longer
    than a year or 100 occurrences."""
    zone = ZoneInfo(tz)
    first, last = start.astimezone(zone), end.astimezone(zone)
    length = last - first
    horizon = first.date() + timedelta(days=MAX_SERIES_DAYS)
    if until is not None and until > horizon:
        raise Invalid("a series runs at most a year; book again next year",
                      code="series_too_long")
    if until is not None and until < first.date():
        raise Invalid("the series ends before it starts", code="end_before_start")
    days = set(weekdays) if freq == "weekly" and weekdays else (
        {first.weekday()} if freq == "weekly" else set(range(7)))
    out: list[tuple[datetime, datetime]] = []
    day = first.date()
    while day <= (until or horizon) and (count is None or len(out) < count):
        if day.weekday() in days:
            s = datetime.combine(day, first.timetz().replace(tzinfo=None), tzinfo=zone)
            out.append((s.astimezone(UTC), (s + length).astimezone(UTC)))
        day += timedelta(days=1)
    if count is not None and len(out) < count:
        raise Invalid("a series runs at most a year; book again next year",
                      code="series_too_long")
    if len(out) > 100:
        raise Invalid("a series has at most 100 occurrences", code="series_too_long")
    return out


def may_change(organiser: str, user_id: str, *, is_admin: bool) -> None:
    """Only the organiser or a rooms admin may change or cancel a booking."""
    if organiser != user_id and not is_admin:
        raise Forbidden("only the organiser or a rooms admin may change this booking",
                        code="not_organiser")


def release_due(start: datetime, grace: timedelta = DEFAULT_GRACE) -> datetime:
    """When a booking nobody checked into is released."""
    return start + grace


def may_check_in(start: datetime, closes: datetime, now: datetime) -> bool:
    """Check-in opens 15 minutes before the start and closes at `closes` (the release time)."""
    return start - timedelta(minutes=15) <= now < closes


READING_COVERS = timedelta(minutes=15)
"""An "occupied" reading counts for the time until the room's next reading, at most this."""


def occupied_minutes(readings: Sequence[tuple[datetime, bool]],
                     cover: timedelta = READING_COVERS) -> float:
    """Minutes a room was occupied, from its readings in time order."""
    total = timedelta()
    if not readings:
        return 0.0
    for (at, occupied), nxt in zip(readings, [*readings[1:], None], strict=True):
        if occupied:
            until = at + cover if nxt is None else min(nxt[0], at + cover)
            total += until - at
    return total.total_seconds() / 60


def check_in_by_reading(start: datetime, closes: datetime, at: datetime) -> bool:
    """An "occupied" reading checks a booking in if it falls in the check-in window."""
    return may_check_in(start, closes, at)


def double_bookings(busy: Iterable[Span]) -> list[tuple[Span, Span]]:
    """Pairs of bookings (blockings aside: they may close a room over bookings on purpose) whose
    spans overlap — what must never be stored."""
    booked = sorted((s for s in busy if not s.code.startswith(BLOCK_PREFIX)),
                    key=lambda s: s.start)
    pairs: list[tuple[Span, Span]] = []
    for i, a in enumerate(booked):
        for b in booked[i + 1:]:
            if b.start >= a.end:
                break
            pairs.append((a, b))
    return pairs
