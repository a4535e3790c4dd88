"""Requests and answers of the rooms API. Times travel as ISO 8601; a time without an offset
means the room's own local time, so a form in the room's building needs no time-zone maths."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator
from typing_extensions import TypedDict

from roost.cloud.fields import LocalTime

ROOM_ID = r"^[a-z0-9][a-z0-9-]{0,39}$"
_TAG = re.compile(r"^[a-z0-9][a-z0-9 _-]{0,29}$")
Status = Literal["pending", "booked", "cancelled", "released", "rejected"]


def _tags(values: list[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        tag = v.strip().lower()
        if not _TAG.match(tag):
            raise ValueError(f"equipment tag {v!r}: letters, digits, spaces, '-' or '_', "
                             "up to 30 characters")
        if tag not in out:
            out.append(tag)
    return out


class RoomIn(BaseModel):
    """A room as a rooms admin describes it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    id: str | None = Field(None, pattern=ROOM_ID, description="a slug; made from the name if "
                                                               "absent")
    name: str = Field(min_length=1, max_length=80)
    site: str = Field(min_length=1, max_length=60)
    floor: str = Field("", max_length=20)
    tz: str = Field("UTC", max_length=60, description="IANA time zone of the room")
    capacity: int = Field(ge=1, le=1000)
    equipment: list[str] = Field(default_factory=list, max_length=20)
    photo: str | None = Field(None, max_length=500, pattern=r"^https?://\S+$")
    opens: LocalTime = Field(time(8, 0), description="bookable from (local)")
    closes: LocalTime = Field(time(18, 0), description="bookable until (local)")
    weekdays: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4],
                                description="bookable days, Monday = 0")
    max_minutes: int = Field(240, ge=15, le=24 * 60, description="longest booking")
    window_days: int = Field(90, ge=1, le=730, description="how far ahead one may book")
    grace_minutes: int | None = Field(15, ge=1, le=240, description="a booking nobody checks "
                                      "into this long after its start is released; null: never")
    active: bool = True
    requires_approval: bool = Field(False, description="bookings start pending until a room "
                                    "manager (rooms:manager for this room) accepts them")
    manager_emails: list[EmailStr] = Field(default_factory=list, max_length=10,
                                           description="told when a booking waits for approval")

    @field_validator("tz")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{v!r} is not a time zone (e.g. Europe/Berlin)") from exc
        return v

    @field_validator("equipment")
    @classmethod
    def _equipment(cls, v: list[str]) -> list[str]:
        return _tags(v)

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, v: list[int]) -> list[int]:
        if any(d < 0 or d > 6 for d in v):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return sorted(set(v))

    @model_validator(mode="after")
    def _hours(self) -> RoomIn:
        if self.closes <= self.opens:
            raise ValueError("a room closes after it opens")
        return self


class Room(RoomIn):
    id: str


class RoomList(BaseModel):
    rooms: list[Room]


class BookingIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    room_id: str = Field(pattern=ROOM_ID)
    start: datetime
    end: datetime
    title: str = Field(min_length=1, max_length=120)
    attendees: list[EmailStr] = Field(default_factory=list, max_length=50)


class Repeat(BaseModel):
    """Daily, or weekly on chosen days; until a date or N times (at most a year, 100 times)."""

    model_config = ConfigDict(extra="forbid")
    freq: Literal["daily", "weekly"]
    weekdays: list[int] = Field(default_factory=list, description="weekly: Monday = 0; "
                                "empty means the first occurrence's day")
    until: date | None = Field(None, description="last day (inclusive, room-local)")
    count: int | None = Field(None, ge=1, le=100)

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, v: list[int]) -> list[int]:
        if any(d < 0 or d > 6 for d in v):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return sorted(set(v))

    @model_validator(mode="after")
    def _end(self) -> Repeat:
        if (self.until is None) == (self.count is None):
            raise ValueError("say when the series ends: until a date, or a count")
        return self


class SeriesIn(BookingIn):
    repeat: Repeat
    on_conflict: Literal["refuse", "skip"] = Field(
        "refuse", description="refuse: book nothing if any occurrence conflicts (the answer "
        "lists them); skip: book the free ones")


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weekly_limit: int | None = Field(None, ge=1, le=100, description="most bookings one person "
                                     "may hold in a week (null: no limit)")


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: str = Field("", max_length=500)


class BookingPatch(BaseModel):
    """What to change; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    room_id: str | None = Field(None, pattern=ROOM_ID)
    start: datetime | None = None
    end: datetime | None = None
    title: str | None = Field(None, min_length=1, max_length=120)
    attendees: list[EmailStr] | None = Field(None, max_length=50)


class Booking(BaseModel):
    code: str
    room_id: str
    room_name: str
    tz: str
    start: datetime
    end: datetime
    title: str
    organiser: str
    organiser_email: str
    attendees: list[str]
    status: Status
    sequence: int
    created_at: datetime
    checked_in: bool = False
    series: str | None = None


class BookingList(BaseModel):
    bookings: list[Booking]


class Skipped(BaseModel):
    start: datetime
    end: datetime
    code: str = Field(description="why: slot_taken, outside_hours, closed_day, ...")
    detail: str


class SeriesOut(BaseModel):
    series: str
    booked: list[Booking]
    skipped: list[Skipped]


def _check_days(first: date, last: date, most: int, too_long: str) -> None:
    """A range of whole days: in order, and at most `most` days long."""
    if last < first:
        raise ValueError("the last day comes on or after the first")
    if (last - first).days >= most:
        raise ValueError(too_long)


class BlockingIn(BaseModel):
    """Rooms closed over whole days (room-local), e.g. holidays or works."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    rooms: list[str] = Field(min_length=1, max_length=500, description='room ids, or ["*"]')
    first_day: date
    last_day: date
    reason: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _days(self) -> BlockingIn:
        _check_days(self.first_day, self.last_day, 92,
                    "a blocking lasts at most 92 days; add another for more")
        return self


class Blocking(BaseModel):
    id: str
    rooms: list[str]
    first_day: date
    last_day: date
    reason: str
    created_by: str
    collisions: list[Booking] = Field(default_factory=list,
                                      description="bookings inside the blocked time")


class BlockingList(BaseModel):
    blockings: list[Blocking]


# Vacancy answers hold thousands of stretches built from validated, stored records: they are
# TypedDicts, so the answer is serialised straight from plain dicts (no model per stretch).


class RoomSummary(TypedDict):
    """A room as vacancy lists it; `GET /rooms/rooms` has the whole description."""

    id: str
    name: str
    site: str
    floor: str
    tz: str
    capacity: int
    equipment: list[str]


class Stretch(TypedDict):
    """A stretch of time in UTC, as "2026-01-05T10:00:00Z" (the busy ones name the booking)."""

    start: str
    end: str
    code: str | None


class RoomVacancy(TypedDict):
    room: RoomSummary
    day: date
    busy: list[Stretch]
    free: list[Stretch]


class VacancyQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    day: date
    days: int = Field(1, ge=1, le=7, description="1 for a day, 7 for a week")
    site: str | None = Field(None, max_length=60)
    capacity: int = Field(1, ge=1, le=1000, description="at least this many seats")
    equipment: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("equipment")
    @classmethod
    def _equipment(cls, v: list[str]) -> list[str]:
        return _tags(v)


class Vacancy(BaseModel):
    rooms: list[RoomVacancy]


class FreeQuery(BaseModel):
    """Find a free room: `start` absent means now; naive times are each room's local time."""

    model_config = ConfigDict(extra="forbid")
    start: datetime | None = None
    minutes: int = Field(60, ge=5, le=24 * 60)
    capacity: int = Field(1, ge=1, le=1000)
    site: str | None = Field(None, max_length=60)
    equipment: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("equipment")
    @classmethod
    def _equipment(cls, v: list[str]) -> list[str]:
        return _tags(v)


class SensorIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    room_id: str = Field(pattern=ROOM_ID)
    name: str = Field(min_length=1, max_length=80)


class Sensor(BaseModel):
    id: str
    room_id: str
    name: str
    secret: str | None = Field(None, description="shown once, when registered: the sensor "
                               "sends it as the X-Sensor-Secret header")


class Reading(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: datetime = Field(description="when, with its offset")
    occupied: bool

    @field_validator("at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("give the time with its offset, e.g. 2026-01-05T10:00:00Z")
        return v


class ReadingBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    readings: list[Reading] = Field(min_length=1, max_length=100)


class ReadingsTaken(BaseModel):
    stored: int
    checked_in: list[str] = Field(description="bookings this batch checked in")


class UtilisationQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    first_day: date
    last_day: date
    site: str | None = Field(None, max_length=60)

    @model_validator(mode="after")
    def _days(self) -> UtilisationQuery:
        _check_days(self.first_day, self.last_day, 31, "at most 31 days at a time")
        return self


class RoomUse(BaseModel):
    room: RoomSummary
    booked_hours: float
    occupied_hours: float
    ratio: float | None = Field(description="occupied / booked (null without bookings)")


class Utilisation(BaseModel):
    rooms: list[RoomUse]
