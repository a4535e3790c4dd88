"""The booking rules, pure: records and times in, a decision (or an error) out. No I/O.

Times: a booking is for a whole office-local day. "Today", the week (Monday to Sunday) and the
moment a day starts or ends are all in the office's time zone."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from roost.cloud.errors import Conflict, Forbidden, Invalid
from roost.cloud.identity import Principal

APP = "desks"
SYSTEM_ADMIN_ROLE = "admin"  # desks:admin, or roost:admin (holds every role)
OFFICE_ADMIN_ROLE = "office_admin"  # desks:office_admin:<office id>


def local_today(now: datetime, tz: str) -> date:
    return now.astimezone(ZoneInfo(tz)).date()


def day_start(day: date, tz: str) -> datetime:
    """00:00 of `day` in the office's zone, as an aware datetime."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz))


def week_of(day: date) -> date:
    """The Monday of the week (Monday to Sunday) that holds `day`."""
    return day - timedelta(days=day.weekday())


def window(today: date, days: int) -> tuple[date, date]:
    """The bookable days: today through today + N - 1."""
    return today, today + timedelta(days=days - 1)


def check_window(day: date, today: date, days: int) -> None:
    first, last = window(today, days)
    if day < first:
        raise Invalid(f"{day} is in the past; book from {first}", code="day_in_past")
    if day > last:
        raise Invalid(f"{day} is beyond the booking window: book up to {last} "
                      f"({days} days ahead)", code="outside_window")


# --------------------------------------------------------------------------- roles


def is_system_admin(p: Principal) -> bool:
    return p.has(APP, SYSTEM_ADMIN_ROLE)


def manages(p: Principal, office_id: str) -> bool:
    """Office admins manage the offices they are assigned; system admins manage every office."""
    return is_system_admin(p) or p.has(APP, OFFICE_ADMIN_ROLE, office_id)


def is_any_admin(p: Principal) -> bool:
    return is_system_admin(p) or p.has(APP, OFFICE_ADMIN_ROLE)


def check_book_for(p: Principal, caller_email: str, target_email: str, office_id: str) -> None:
    """Anyone books for themselves; admins of the office (or system admins) for anyone."""
    if target_email != caller_email and not manages(p, office_id):
        raise Forbidden(f"only admins of office {office_id} may book for someone else",
                        code="not_office_admin")


def check_cancel(*, day: date, now: datetime, tz: str, own: bool, admin: bool) -> None:
    """Owners cancel until the day starts (00:00 office time); admins until the day ends;
    past bookings never."""
    today = local_today(now, tz)
    if day < today:
        raise Conflict("a past booking cannot be cancelled", code="booking_in_past")
    if admin:
        return
    if not own:
        raise Forbidden("this booking is someone else's", code="not_your_booking")
    if day == today:
        raise Conflict("the day has started; only an admin can cancel today's booking",
                       code="cancel_too_late")


def check_reason(reason: str | None, *, required: bool, auto_approved: bool) -> str | None:
    reason = (reason or "").strip() or None
    if required and not auto_approved and reason is None:
        raise Invalid("give a reason to book (you are not auto-approved)",
                      code="reason_required")
    return reason


# --------------------------------------------------------------------------- quotas


@dataclass(frozen=True)
class Quotas:
    desks: int
    parking: int


@dataclass(frozen=True)
class Override:
    start: date
    end: date
    desks: int
    parking: int
    id: str = ""


def quotas_on(day: date, base: Quotas, overrides: Iterable[Override]) -> Quotas:
    """The office's quotas on `day`: the newest override (highest id) covering it, else base."""
    covering = [o for o in overrides if o.start <= day <= o.end]
    if not covering:
        return base
    o = max(covering, key=lambda o: o.id)
    return Quotas(o.desks, o.parking)


def check_capacity(q: Quotas, *, parking: bool, weekly_quota: int) -> None:
    """Refusals that need no counter: a zero quota can never be met."""
    if q.desks <= 0:
        raise Conflict("this office has no desks to book that day", code="office_full")
    if parking and q.parking <= 0:
        raise Conflict("this office has no parking to book that day", code="parking_full")
    if weekly_quota <= 0:
        raise Conflict("your weekly quota is 0 bookings", code="weekly_quota_reached")


def check_counts(q: Quotas, *, desks: int, parking_booked: int, parking: bool, week: int,
                 weekly_quota: int) -> None:
    """The refusals the counters already show. Only a fast path: the transaction checks the
    same conditions again, so a stale read can never let a booking through."""
    if desks >= q.desks:
        raise Conflict("no desk is free that day", code="office_full")
    if parking and parking_booked >= q.parking:
        raise Conflict("no parking space is free that day", code="parking_full")
    if week >= weekly_quota:
        raise Conflict(f"the weekly quota of {weekly_quota} booking(s) is reached",
                       code="weekly_quota_reached")


def over_quota(booked_desks: int, booked_parking: int, q: Quotas) -> bool:
    return booked_desks > q.desks or booked_parking > q.parking


# --------------------------------------------------------------------------- the pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_pass(key: bytes, booking_id: str) -> str:
    """A token naming the booking, signed so a pass cannot be forged: `<id>.<mac>`."""
    mac = hmac.new(key, f"desks-pass:{booking_id}".encode(), hashlib.sha256).digest()[:16]
    return f"{booking_id}.{_b64(mac)}"


def read_pass(key: bytes, token: str) -> str | None:
    """The booking id a genuine token names, else None."""
    booking_id, _, mac = token.strip().partition(".")
    if not booking_id or not mac:
        return None
    try:
        given = _unb64(mac)
    except ValueError:
        return None
    want = hmac.new(key, f"desks-pass:{booking_id}".encode(), hashlib.sha256).digest()[:16]
    return booking_id if hmac.compare_digest(given, want) else None
