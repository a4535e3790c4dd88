"""The rooms pages: the vacancy grid (rooms x half hours; a free cell books), the booking form,
my bookings, a booking's page with edit and cancel, and the rooms admin page.

Forms post and redirect (303); a refused form renders again with the reason and the error's
own status. Every page works without JavaScript; htmx only boosts navigation."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from roost.cloud.errors import Invalid, RoostError
from roost.cloud.functions import USER, Ctx, Reply, Uses, redirect
from roost.cloud.table import Item

from . import api, app, approvals, catalog, rules, sensors, series, store, vacancy
from .api import ADMINS, CANCELLING, CHANGING
from .models import (
    BookingIn,
    BookingPatch,
    FreeQuery,
    RoomIn,
    SeriesIn,
    UtilisationQuery,
)
from .rules import Hours
from .store import BOOKINGS, DAYS, QUOTAS, READINGS, ROOMS

SLOT = timedelta(minutes=30)


def _problem(exc: ValidationError) -> Invalid:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return Invalid(f"{where}: {first['msg']}" if where else first["msg"],
                   code="validation_failed")


def _local(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise Invalid(f"{text!r} is not a date and time", code="validation_failed") from exc


def _emails(text: str) -> list[str]:
    return [e for e in (p.strip() for p in text.replace(";", ",").replace("\n", ",")
                        .split(",")) if e]


def _hhmm(when: str, tz: str) -> str:
    return f"{rules.unstamp(when).astimezone(Hours(tz=tz).zone):%H:%M}"


def _view(b: Item) -> dict[str, Any]:
    """A booking with its times in the room's local time, for templates."""
    zone = Hours(tz=b["tz"]).zone
    start, end = rules.unstamp(b["start"]).astimezone(zone), \
        rules.unstamp(b["end"]).astimezone(zone)
    return {**b, "local_start": start, "local_end": end,
            "start_input": f"{start:%Y-%m-%dT%H:%M}", "end_input": f"{end:%Y-%m-%dT%H:%M}",
            "when": f"{start:%a %d %b %Y, %H:%M}-{end:%H:%M}"}


# --------------------------------------------------------------------------- the grid


class GridQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    day: date | None = None
    site: str = Field("", max_length=60)
    capacity: int = Field(1, ge=1, le=1000)


def _grid(ctx: Ctx, day: date, rooms: list[Item]) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns (local half hours) and one row per room: each cell free, busy, mine or closed."""
    now = ctx.now()
    if not rooms:
        return [], []
    first = min(time.fromisoformat(r["opens"]) for r in rooms)
    last = max(time.fromisoformat(r["closes"]) for r in rooms)
    columns: list[time] = []
    t = datetime.combine(day, first)
    while t.time() < last and t.date() == day:
        columns.append(t.time())
        t += SLOT
    items = store.days_on(ctx.tables, day)
    rows = []
    for r in rooms:
        hours = Hours.of(r)
        busy = store.spans(items.get(r["id"]))
        cells = []
        for c in columns:
            start = datetime.combine(day, c, tzinfo=hours.zone)
            end = start + SLOT
            clash = rules.overlapping(busy, start, end)
            label = f"{c:%H:%M}"
            if clash:
                cells.append({"state": "busy", "label": label, "code": clash[0].code})
                continue
            try:
                rules.check_slot(hours, start, end, now)
            except Invalid:
                cells.append({"state": "closed", "label": label})
                continue
            cells.append({"state": "free", "label": label, "href": "/rooms/book?" + urlencode(
                {"room": r["id"], "start": f"{day.isoformat()}T{label}"})})
        rows.append({"room": r, "cells": cells})
    return [f"{c:%H:%M}" for c in columns], rows


@app.page("/rooms", roles=[USER], template="rooms_grid.html", uses=Uses(reads=[ROOMS, DAYS]))
def grid(ctx: Ctx, query: GridQuery) -> dict[str, Any]:
    """Which rooms are free when: click a free half hour to book it."""
    day = query.day or ctx.now().date()
    rooms = [r for r in store.all_rooms(ctx.tables)
             if vacancy.matches(r, query.site or None, query.capacity, [])]
    rooms.sort(key=lambda r: (r["site"], r["name"]))
    sites = sorted({r["site"] for r in store.all_rooms(ctx.tables)})
    columns, rows = _grid(ctx, day, rooms)
    now = ctx.now()
    free_now = []
    if day == now.date():
        # Starts on the next 5 minutes, so the booking form accepts it.
        start = now + timedelta(minutes=-now.minute % 5, seconds=-now.second,
                                microseconds=-now.microsecond)
        start = start if start >= now else start + timedelta(minutes=5)
        for r in vacancy.free_rooms(ctx, FreeQuery(start=start, minutes=30,
                                                   capacity=query.capacity,
                                                   site=query.site or None)):
            local = start.astimezone(Hours(tz=r["tz"]).zone)
            free_now.append({"room": r, "href": "/rooms/book?" + urlencode(
                {"room": r["id"], "start": f"{local:%Y-%m-%dT%H:%M}"})})
    return {"title": "Rooms", "day": day, "free_now": free_now, "prev": day - timedelta(days=1),
            "next": day + timedelta(days=1), "columns": columns, "rows": rows,
            "sites": sites, "site": query.site, "capacity": query.capacity,
            "is_admin": api.is_admin(ctx),
            "manages": api.is_admin(ctx) or bool(ctx.user.scopes("rooms", "manager"))}


# --------------------------------------------------------------------------- booking


class BookQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    room: str = Field("", max_length=40)
    start: str = Field("", max_length=40)


class BookForm(BaseModel):
    room_id: str = Field("", max_length=40)
    start: str = Field("", max_length=40)
    end: str = Field("", max_length=40)
    title: str = Field("", max_length=200)
    attendees: str = Field("", max_length=5000)
    repeat: str = Field("", max_length=10)
    until: str = Field("", max_length=10)
    on_conflict: str = Field("refuse", max_length=10)


def _form(ctx: Ctx, room_id: str, start: str, end: str = "", title: str = "",
          attendees: str = "", **extra: Any) -> dict[str, Any]:
    room = store.room(ctx.tables, room_id)
    if start and not end:
        s = _local(start)
        closes = datetime.combine(s.date(), time.fromisoformat(room["closes"]))
        end = f"{min(s + timedelta(hours=1), closes):%Y-%m-%dT%H:%M}"
    return {"title": f"Book {room['name']}", "room": room, "start": start, "end": end,
            "meeting": title, "attendees": attendees, **extra}


@app.page("/rooms/book", roles=[USER], template="rooms_book.html", uses=Uses(reads=[ROOMS]))
def book_form(ctx: Ctx, query: BookQuery) -> dict[str, Any]:
    """The booking form, filled in from the grid's cell."""
    return _form(ctx, query.room, query.start)


@app.page("/rooms/book", method="POST", roles=[USER], template="rooms_book.html",
          uses=Uses(reads=[ROOMS], writes=[BOOKINGS, DAYS, QUOTAS],
                    publishes=[api.CREATED, api.CANCELLED]))
def book(ctx: Ctx, body: BookForm) -> Any:
    """Book (once, or weekly/daily until a date), then show the booking or my bookings. A
    series with conflicts comes back listing them, offering to book the free ones."""
    try:
        try:
            fields = {"room_id": body.room_id, "start": _local(body.start),
                      "end": _local(body.end), "title": body.title or "Meeting",
                      "attendees": _emails(body.attendees)}
            if body.repeat in ("daily", "weekly"):
                repeat = SeriesIn(**fields, on_conflict=body.on_conflict,
                                  repeat={"freq": body.repeat, "until": body.until or None})
            else:
                request = BookingIn(**fields)
        except ValidationError as exc:
            raise _problem(exc) from exc
        if body.repeat in ("daily", "weekly"):
            series.create_series(ctx, repeat)
            return redirect("/rooms/mine")
        item = api.create(ctx, request)
    except RoostError as exc:
        return Reply(body=_form(ctx, body.room_id, body.start, body.end, body.title,
                                body.attendees, error=exc.message, repeat=body.repeat,
                                until=body.until, skipped=[
                                    {**s, "when": _hhmm_day(s["start"], body.room_id, ctx)}
                                    for s in exc.extra.get("skipped", [])]),
                     status=exc.status)
    return redirect(f"/rooms/booking/{item['code']}")


def _hhmm_day(stamp: str, room_id: str, ctx: Ctx) -> str:
    tz = store.room(ctx.tables, room_id)["tz"]
    return f"{rules.unstamp(stamp).astimezone(Hours(tz=tz).zone):%a %d %b %H:%M}"


@app.page("/rooms/mine", roles=[USER], template="rooms_mine.html", uses=Uses(reads=[BOOKINGS]))
def mine(ctx: Ctx) -> dict[str, Any]:
    """My bookings that have not ended."""
    now = ctx.now()
    items = store.bookings_of(ctx.tables, ctx.user.user_id, now - timedelta(days=1))
    return {"title": "My bookings", "bookings": [
        _view(b) for b in items if rules.unstamp(b["end"]) > now
        and b["status"] in ("booked", "pending")]}


def _detail(ctx: Ctx, code: str, **extra: Any) -> dict[str, Any]:
    b = api.visible_booking(ctx, code)
    may = b["organiser"] == ctx.user.user_id or api.is_admin(ctx)
    open_ = b["status"] in ("booked", "pending") and rules.unstamp(b["end"]) > ctx.now()
    return {"title": b["title"], "b": _view(b), "may_change": may and open_,
            "may_check_in": api.may_check_in(ctx, b),
            "may_decide": b["status"] == "pending" and approvals.is_manager(ctx, b["room_id"]),
            "attendees_text": ", ".join(b["attendees"]), **extra}


@app.page("/rooms/booking/{code}", roles=[USER], template="rooms_booking.html",
          uses=Uses(reads=[BOOKINGS]))
def booking_page(ctx: Ctx, *, code: str) -> dict[str, Any]:
    """One booking: when, where, who; edit and cancel for its organiser."""
    return _detail(ctx, code)


class EditForm(BaseModel):
    start: str = Field("", max_length=40)
    end: str = Field("", max_length=40)
    title: str = Field("", max_length=200)
    attendees: str = Field("", max_length=5000)


@app.page("/rooms/booking/{code}/edit", method="POST", roles=[USER],
          template="rooms_booking.html", uses=CHANGING)
def edit(ctx: Ctx, body: EditForm, *, code: str) -> Any:
    """Change the time, title or attendees."""
    try:
        try:
            patch = BookingPatch(start=_local(body.start), end=_local(body.end),
                                 title=body.title or None, attendees=_emails(body.attendees))
        except ValidationError as exc:
            raise _problem(exc) from exc
        api.change(ctx, code, patch)
    except RoostError as exc:
        return Reply(body=_detail(ctx, code, error=exc.message), status=exc.status)
    return redirect(f"/rooms/booking/{code}")


class CancelForm(BaseModel):
    confirm: str = Field("", max_length=10)


@app.page("/rooms/booking/{code}/cancel", method="POST", roles=[USER],
          template="rooms_booking.html", uses=Uses(reads=[BOOKINGS], writes=CANCELLING.writes,
                                                   publishes=CANCELLING.publishes))
def cancel_page(ctx: Ctx, body: CancelForm, *, code: str) -> Any:
    """Cancel, then back to my bookings."""
    try:
        api.cancel(ctx, code)
    except RoostError as exc:
        return Reply(body=_detail(ctx, code, error=exc.message), status=exc.status)
    return redirect("/rooms/mine")


# --------------------------------------------------------------------------- admin


class RoomForm(BaseModel):
    name: str = Field("", max_length=200)
    site: str = Field("", max_length=200)
    floor: str = Field("", max_length=40)
    tz: str = Field("UTC", max_length=60)
    capacity: str = Field("", max_length=10)
    equipment: str = Field("", max_length=1000)
    opens: str = Field("08:00", max_length=5)
    closes: str = Field("18:00", max_length=5)
    photo: str = Field("", max_length=500)


class SwitchForm(BaseModel):
    name: str = Field("", max_length=40)
    value: str = Field("", max_length=5)


@app.page("/rooms/admin/rooms/{room_id}/switch", method="POST", roles=[ADMINS],
          template="rooms_admin.html", uses=Uses(writes=[ROOMS]))
def switch_room_page(ctx: Ctx, body: SwitchForm, *, room_id: str) -> Any:
    """Turn a room on or off, or its need for approval; then back to the list."""
    try:
        catalog.set_flag(ctx, room_id, body.name, body.value == "on")
    except RoostError as exc:
        return Reply(body=_admin(ctx, error=exc.message), status=exc.status)
    return redirect("/rooms/admin")


def _admin(ctx: Ctx, **extra: Any) -> dict[str, Any]:
    rooms = sorted(store.all_rooms(ctx.tables), key=lambda r: (r["site"], r["name"]))
    return {"title": "Rooms admin", "rooms": rooms, **extra}


@app.page("/rooms/admin", roles=[ADMINS], template="rooms_admin.html", uses=Uses(reads=[ROOMS]))
def admin_page(ctx: Ctx) -> dict[str, Any]:
    """Every room, and a form to add one."""
    return _admin(ctx)


@app.page("/rooms/admin/rooms", method="POST", roles=[ADMINS], template="rooms_admin.html",
          uses=Uses(writes=[ROOMS]))
def add_room_page(ctx: Ctx, body: RoomForm) -> Any:
    """Add a room, then back to the list."""
    try:
        try:
            room = RoomIn(name=body.name, site=body.site, floor=body.floor, tz=body.tz,
                          capacity=body.capacity,  # type: ignore[arg-type]
                          equipment=[e for e in body.equipment.split(",") if e.strip()],
                          opens=body.opens, closes=body.closes,  # type: ignore[arg-type]
                          photo=body.photo or None)
        except ValidationError as exc:
            raise _problem(exc) from exc
        catalog.add_room(ctx, room)
    except RoostError as exc:
        return Reply(body=_admin(ctx, error=exc.message, form=body), status=exc.status)
    return redirect("/rooms/admin")


@app.page("/rooms/booking/{code}/checkin", method="POST", roles=[USER],
          template="rooms_booking.html", uses=Uses(writes=[BOOKINGS]))
def check_in_page(ctx: Ctx, body: CancelForm, *, code: str) -> Any:
    """Check in, then back to the booking."""
    try:
        api.check_in_now(ctx, code)
    except RoostError as exc:
        return Reply(body=_detail(ctx, code, error=exc.message), status=exc.status)
    return redirect(f"/rooms/booking/{code}")


# --------------------------------------------------------------------------- approvals


class DecisionForm(BaseModel):
    reason: str = Field("", max_length=500)


def _pending_page(ctx: Ctx, **extra: Any) -> dict[str, Any]:
    items = [b for b in store.pending_bookings(ctx.tables)
             if approvals.is_manager(ctx, b["room_id"])]
    return {"title": "Waiting for you", "bookings": [_view(b) for b in items], **extra}


@app.page("/rooms/approvals", roles=[USER], template="rooms_pending.html",
          uses=Uses(reads=[BOOKINGS]))
def pending_page(ctx: Ctx) -> dict[str, Any]:
    """Bookings of the rooms you manage that wait for your decision."""
    return _pending_page(ctx)


@app.page("/rooms/booking/{code}/accept", method="POST", roles=[USER],
          template="rooms_pending.html", uses=Uses(reads=[ROOMS], writes=[BOOKINGS],
                                                   publishes=[api.ACCEPTED]))
def accept_page(ctx: Ctx, body: DecisionForm, *, code: str) -> Any:
    """Accept, then back to the list."""
    try:
        approvals.accept(ctx, code, body.reason)
    except RoostError as exc:
        return Reply(body=_pending_page(ctx, error=exc.message), status=exc.status)
    return redirect("/rooms/approvals")


@app.page("/rooms/booking/{code}/reject", method="POST", roles=[USER],
          template="rooms_pending.html", uses=Uses(writes=[BOOKINGS, DAYS, QUOTAS],
                                                   publishes=[api.REJECTED]))
def reject_page(ctx: Ctx, body: DecisionForm, *, code: str) -> Any:
    """Reject, then back to the list."""
    try:
        approvals.reject(ctx, code, body.reason)
    except RoostError as exc:
        return Reply(body=_pending_page(ctx, error=exc.message), status=exc.status)
    return redirect("/rooms/approvals")


# --------------------------------------------------------------------------- utilisation


class UseQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    first_day: date | None = None
    last_day: date | None = None


@app.page("/rooms/admin/utilisation", roles=[ADMINS], template="rooms_utilisation.html",
          uses=Uses(reads=[ROOMS, DAYS, READINGS]))
def utilisation_page(ctx: Ctx, query: UseQuery) -> dict[str, Any]:
    """Booked against occupied hours per room (the last 7 days unless told)."""
    last = query.last_day or ctx.now().date()
    first = query.first_day or last - timedelta(days=6)
    try:
        q = UtilisationQuery(first_day=first, last_day=last)
    except ValidationError as exc:
        raise _problem(exc) from exc
    return {"title": "Utilisation", "first": first, "last": last,
            "rooms": sensors.utilisation(ctx, q).rooms}
