"""Recurring bookings: daily or weekly on chosen days, until a date or N times. Every
occurrence is checked; the person books all, the free ones, or none; one occurrence or the
rest of the series can be cancelled."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from roost.cloud.errors import Conflict, Invalid, NotFound, RoostError
from roost.cloud.functions import USER, Ctx, Uses
from roost.cloud.table import Item

from . import app, rules, store
from .api import CANCELLED, CANCELLING, CREATED, booking_out, end_booking, is_admin, new_item, take
from .models import BookingList, SeriesIn, SeriesOut, Skipped
from .rules import Hours
from .store import BOOKINGS, DAYS, QUOTAS, ROOMS


def _skipped(start: datetime, end: datetime, exc: RoostError) -> dict[str, Any]:
    return {"start": rules.stamp(start), "end": rules.stamp(end), "code": exc.code,
            "detail": exc.message}


def create_series(ctx: Ctx, body: SeriesIn) -> tuple[str, list[Item], list[dict[str, Any]]]:
    """Check every occurrence; book all, the free ones, or (refuse) none but list why."""
    room = store.room(ctx.tables, body.room_id)
    hours = Hours.of(room)
    start, end = rules.utc(body.start, hours.tz), rules.utc(body.end, hours.tz)
    if end <= start:
        raise Invalid("the end must be after the start", code="end_before_start")
    r = body.repeat
    planned = rules.occurrences(start, end, hours.tz, freq=r.freq, weekdays=r.weekdays,
                                until=r.until, count=r.count)
    free: list[tuple[datetime, datetime]] = []
    skipped: list[dict[str, Any]] = []
    for s, e in planned:
        try:
            rules.check_slot(hours, s, e, ctx.now())
            day = store.room_day(ctx.tables, room["id"], rules.local_day(s, hours))
            rules.check_free(store.spans(day), s, e)
            free.append((s, e))
        except RoostError as exc:
            skipped.append(_skipped(s, e, exc))
    if skipped and (body.on_conflict == "refuse" or not free):
        raise Conflict(f"{len(skipped)} of {len(planned)} occurrences cannot be booked; "
                       "book the free ones (on_conflict=skip) or none",
                       code="series_conflicts", skipped=skipped)
    series = ctx.new_id()
    booked: list[Item] = []
    for s, e in free:
        item = new_item(ctx, room, s, e, body, series)
        try:
            take(ctx, room, item)
        except Conflict as exc:  # taken between the check and the write
            if body.on_conflict == "refuse":
                for b in booked:
                    end_booking(ctx, b)
                raise Conflict("an occurrence was booked by someone else just now; nothing "
                               "was booked", code="series_conflicts",
                               skipped=[_skipped(s, e, exc)]) from exc
            skipped.append(_skipped(s, e, exc))
            continue
        booked.append(item)
    return series, booked, skipped


@app.route("POST", "/rooms/series", roles=[USER], status=201,
           uses=Uses(reads=[ROOMS], writes=[BOOKINGS, DAYS, QUOTAS],
                     publishes=[CREATED, CANCELLED]))
def create_booking_series(ctx: Ctx, body: SeriesIn) -> SeriesOut:
    """Book a recurring meeting. 409 `series_conflicts` lists the occurrences that cannot be
    booked; send again with `on_conflict: "skip"` to book the free ones."""
    series, booked, skipped = create_series(ctx, body)
    return SeriesOut(series=series, booked=[booking_out(b) for b in booked],
                     skipped=[Skipped.model_validate(s) for s in skipped])


@app.route("DELETE", "/rooms/series/{series}", roles=[USER], uses=CANCELLING)
def cancel_series(ctx: Ctx, *, series: str) -> BookingList:
    """Cancel every occurrence of a series that has not ended (organiser or rooms admin);
    cancel a single occurrence with DELETE /rooms/bookings/{code}."""
    items = store.bookings_in_series(ctx.tables, series)
    if not items:
        raise NotFound(f"there is no series {series!r}", code="series_not_found")
    rules.may_change(items[0]["organiser"], ctx.user.user_id, is_admin=is_admin(ctx))
    now = ctx.now()
    done = [end_booking(ctx, b) for b in items
            if b["status"] in ("booked", "pending") and rules.unstamp(b["end"]) > now]
    return BookingList(bookings=[booking_out(b) for b in done])
