"""Requests, responses and records of the desks app."""

from __future__ import annotations

from datetime import date
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

OFFICE_ID = r"^[a-z0-9][a-z0-9-]{0,39}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OfficeIn(Strict):
    """An office as a system admin creates or changes it."""

    id: str = Field(pattern=OFFICE_ID, examples=["london"],
                    description="lower-case letters, digits and '-'")
    name: str = Field(min_length=1, max_length=100)
    tz: str = Field("UTC", max_length=64, examples=["Europe/London"])
    desk_quota: int = Field(0, ge=0, le=100_000)
    parking_quota: int = Field(0, ge=0, le=100_000)
    floors: list[str] = Field(default_factory=list, max_length=50)

    @field_validator("tz")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{v!r} is not a time zone (e.g. Europe/London)") from exc
        return v


class Office(BaseModel):
    id: str
    name: str
    tz: str
    desk_quota: int
    parking_quota: int
    floors: list[str] = []
    version: int = 0


class OfficeList(BaseModel):
    offices: list[Office]


class QuotaOverrideIn(Strict):
    """Quotas for a date range (a floor closed for works); the office's own apply otherwise."""

    start: date
    end: date
    desk_quota: int = Field(ge=0, le=100_000)
    parking_quota: int = Field(ge=0, le=100_000)
    note: str = Field("", max_length=200)


class QuotaOverride(BaseModel):
    id: str
    office_id: str
    start: date
    end: date
    desk_quota: int
    parking_quota: int
    note: str = ""


class OverDay(BaseModel):
    """A day on which more is booked than the quota now allows: for an admin to resolve."""

    day: date
    desks_booked: int
    desk_quota: int
    parking_booked: int
    parking_quota: int


class OfficeSaved(BaseModel):
    office: Office
    over_quota: list[OverDay] = []


class OverrideSaved(BaseModel):
    override: QuotaOverride
    over_quota: list[OverDay] = []


class OverrideList(BaseModel):
    overrides: list[QuotaOverride]


class NewBooking(Strict):
    office_id: str = Field(pattern=OFFICE_ID)
    day: date
    parking: bool = False
    email: str | None = Field(None, max_length=320,
                              description="book for someone else (office and system admins)")
    reason: str | None = Field(None, max_length=500)


class Booking(BaseModel):
    id: str
    office_id: str
    office_name: str
    day: date
    email: str
    parking: bool
    reason: str | None = None
    created_at: str
    created_by: str


class BookingList(BaseModel):
    bookings: list[Booking]


class DayStatus(BaseModel):
    office_id: str
    day: date
    desk_quota: int
    desks_booked: int
    desks_free: int
    parking_quota: int
    parking_booked: int
    parking_free: int


class DayView(DayStatus):
    bookings: list[Booking]


class Occupancy(BaseModel):
    office_id: str
    days: list[DayStatus]


class RangeQuery(Strict):
    start: date
    end: date


class Person(BaseModel):
    email: str
    weekly_quota: int | None = None  # None: the default
    effective_weekly_quota: int
    auto_approved: bool = False
    default_office: str | None = None
    version: int = 0


class PersonList(BaseModel):
    people: list[Person]


class PeopleQuery(Strict):
    q: str = Field("", max_length=320, description="email prefix")
    limit: int = Field(50, ge=1, le=200)


class PersonChange(Strict):
    """System admins: quota (null = back to default) and auto-approval."""

    weekly_quota: int | None = Field(None, ge=0, le=7)
    reset_weekly_quota: bool = False
    auto_approved: bool | None = None


class DefaultOffice(Strict):
    office_id: str | None = Field(None, pattern=OFFICE_ID)


class PassToken(Strict):
    token: str = Field(min_length=1, max_length=400)


class PassCheck(BaseModel):
    status: Literal["valid", "not_valid", "not_today"]
    message: str
    office_name: str | None = None
    day: date | None = None
    email: str | None = None


class PublicConfig(BaseModel):
    email_pattern: str | None
    email_case_sensitive: bool
    window_days: int
    reason_required: bool
    read_only: bool


class SelftestStep(BaseModel):
    step: str
    ok: bool
    detail: str = ""


class SelftestReport(BaseModel):
    ok: bool
    steps: list[SelftestStep]


class SelftestKey(Strict):
    key: str = Field(min_length=1, max_length=400)


class WaitlistIn(Strict):
    office_id: str = Field(pattern=OFFICE_ID)
    day: date
    parking: bool = False


class WaitlistEntry(BaseModel):
    id: str
    office_id: str
    day: date
    email: str
    parking: bool


class OfficeImport(BaseModel):
    created: list[str]
    changed: list[str]
    over_quota: dict[str, list[OverDay]] = {}


class WaitlistList(BaseModel):
    entries: list[WaitlistEntry]
