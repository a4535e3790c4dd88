"""The rooms API: rooms (admins), bookings (create, read, change, cancel, check in), vacancy and
"find me a free room". Each route: parse -> rules -> store (+ the event, in the same write).

The booking operations are plain functions (`create`, `change`, `cancel`) so the pages call the
very same code as the API."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from roost.cloud.errors import Conflict, Forbidden, Invalid, NotFound, RoostError
from roost.cloud.functions import USER, Ctx, Reply, Uses
from roost.cloud.table import Item

from . import app, importing, rules, store
from .models import (
    Booking,
    BookingIn,
    BookingList,
    BookingPatch,
    Decision,
    FreeQuery,
    Policy,
    Room,
    RoomIn,
    RoomList,
    RoomSummary,
    SeriesIn,
    SeriesOut,
    Skipped,
    Vacancy,
    VacancyQuery,
)
from .rules import Hours, Span
from .store import BOOKINGS, DAYS, QUOTAS, ROOMS

ADMINS = "rooms:admin"
CREATED, UPDATED, CANCELLED = ("rooms.booking_created", "rooms.booking_updated",
                               "rooms.booking_cancelled")
ACCEPTED, REJECTED = "rooms.booking_accepted", "rooms.booking_rejected"
CREATING = Uses(reads=[ROOMS], writes=[BOOKINGS, DAYS, QUOTAS], publishes=[CREATED])
CHANGING = Uses(reads=[ROOMS], writes=[BOOKINGS, DAYS, QUOTAS], publishes=[UPDATED])
CANCELLING = Uses(writes=[BOOKINGS, DAYS, QUOTAS], publishes=[CANCELLED])
READING = Uses(reads=[ROOMS, DAYS])


# --------------------------------------------------------------------------- conversions


def room_item(room: RoomIn, room_id: str) -> Item:
    data = room.model_dump(mode="json", exclude={"id"})
    data["opens"], data["closes"] = f"{room.opens:%H:%M}", f"{room.closes:%H:%M}"
    return {**data, "id": room_id}


def room_out(item: Item) -> Room:
    return Room.model_validate({k: v for k, v in item.items() if k != "pk"})


def booking_out(item: Item) -> Booking:
    return Booking(code=item["code"], room_id=item["room_id"], room_name=item["room_name"],
                   tz=item["tz"], start=rules.unstamp(item["start"]),
                   end=rules.unstamp(item["end"]), title=item["title"],
                   organiser=item["organiser"], organiser_email=item["organiser_email"],
                   attendees=list(item["attendees"]), status=item["status"],
                   sequence=item["sequence"], created_at=rules.unstamp(item["created_at"]),
                   checked_in=item["checked_in"], series=item.get("series"))


def snapshot(item: Item, room: Item | None = None) -> dict[str, Any]:
    """What an event carries: the booking as it was written, so handlers need no reads."""
    where = f"{room['name']}, {room['site']}" + (f", floor {room['floor']}"
                                                 if room and room.get("floor") else "") \
        if room else item.get("location", item["room_name"])
    return {**{k: v for k, v in item.items() if k not in TRANSIENT}, "location": where}


def slug(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:40] or "room"


def is_admin(ctx: Ctx) -> bool:
    return ctx.principal is not None and ctx.principal.has("rooms", "admin")


# --------------------------------------------------------------------------- bookings


def _slot(room: Item, start: datetime, end: datetime, now: datetime
          ) -> tuple[datetime, datetime]:
    hours = Hours.of(room)
    s, e = rules.utc(start, hours.tz), rules.utc(end, hours.tz)
    rules.check_slot(hours, s, e, now)
    return s, e


TRANSIENT = ("release_due", "release_at", "pending", "pending_at")
"""Index keys a booking carries only while it waits for check-in or for approval."""


def _state_fields(room: Item, start: datetime, status: str, checked_in: bool
                  ) -> dict[str, Any]:
    """The transient index keys for a booking in `status`."""
    if status == "pending":
        return {"pending": store.PENDING, "pending_at": f"{room['id']}|{rules.stamp(start)}"}
    if status == "booked" and not checked_in:
        return _release_fields(room, start)
    return {}


def _without_state(item: Item) -> Item:
    return {k: v for k, v in item.items() if k not in TRANSIENT}


def _release_fields(room: Item, start: datetime) -> dict[str, Any]:
    grace = room.get("grace_minutes")
    if grace is None:
        return {}
    return {"release_due": store.DUE,
            "release_at": rules.stamp(rules.release_due(start, timedelta(minutes=grace)))}


def _new_item(ctx: Ctx, room: Item, start: datetime, end: datetime, body: BookingIn,
              series: str | None = None) -> Item:
    user = ctx.user
    status = "pending" if room.get("requires_approval") else "booked"
    item: Item = {
        "code": store.new_code(), "room_id": room["id"], "room_name": room["name"],
        "tz": room["tz"], "start": rules.stamp(start), "end": rules.stamp(end),
        "title": body.title, "organiser": user.user_id, "organiser_email": user.email,
        "attendees": [str(a).lower() for a in body.attendees], "status": status,
        "sequence": 0, "created_at": rules.stamp(ctx.now()), "checked_in": False,
        **_state_fields(room, start, status, False), **({"series": series} if series else {}),
    }
    item["location"] = snapshot(item, room)["location"]
    return item


def weekly_limit(ctx: Ctx) -> int | None:
    limit = store.policy(ctx.tables).get("weekly_limit")
    return int(limit) if limit is not None else None


def _over_limit(limit: int | None) -> Conflict:
    return Conflict(f"you hold {limit} bookings that week already, the most one person may",
                    code="weekly_limit")


def _week(item: Item) -> str:
    return rules.week_of(rules.unstamp(item["start"]), Hours(tz=item["tz"]))


def _take(ctx: Ctx, room: Item, item: Item) -> None:
    """Write a new booking and take its slot, race-free, with its event and the organiser's
    weekly count (checked against the limit in the same transaction)."""
    start, end = rules.unstamp(item["start"]), rules.unstamp(item["end"])
    day = rules.local_day(start, Hours.of(room))
    limit = weekly_limit(ctx)
    store.write_slots(ctx.tables, code=item["code"], leave=None,
                      take=store.Slot(room["id"], day, Span(start, end, item["code"])),
                      ops=[store.new_booking_op(item), ctx.publish(CREATED, snapshot(item)),
                           store.count_op(item["organiser"], _week(item), 1, limit)],
                      explain={2: _over_limit(limit)})


def create(ctx: Ctx, body: BookingIn) -> Item:
    """Book a room for the caller: the rules, then the slot taken race-free."""
    room = store.room(ctx.tables, body.room_id)
    start, end = _slot(room, body.start, body.end, ctx.now())
    item = _new_item(ctx, room, start, end, body)
    _take(ctx, room, item)
    return item


def _open_booking(ctx: Ctx, code: str) -> Item:
    item = store.booking(ctx.tables, code)
    rules.may_change(item["organiser"], ctx.user.user_id, is_admin=is_admin(ctx))
    if item["status"] not in ("booked", "pending"):
        raise Conflict(f"this booking is {item['status']}", code=f"booking_{item['status']}")
    if rules.unstamp(item["end"]) <= ctx.now():
        raise Conflict("this booking is over", code="booking_over")
    return item


def change(ctx: Ctx, code: str, patch: BookingPatch) -> Item:
    """Change time, room, title or attendees under the same rules as a new booking."""
    old = _open_booking(ctx, code)
    room = store.room(ctx.tables, patch.room_id or old["room_id"])
    start = rules.utc(patch.start, room["tz"]) if patch.start else rules.unstamp(old["start"])
    end = rules.utc(patch.end, room["tz"]) if patch.end else rules.unstamp(old["end"])
    moved = (room["id"], rules.stamp(start), rules.stamp(end)) != (
        old["room_id"], old["start"], old["end"])
    if moved:
        start, end = _slot(room, start, end, ctx.now())
    new = _without_state(old)
    status = old["status"]
    if room["id"] != old["room_id"]:
        status = "pending" if room.get("requires_approval") else "booked"
    new.update(room_id=room["id"], room_name=room["name"], tz=room["tz"],
               start=rules.stamp(start), end=rules.stamp(end), status=status,
               sequence=old["sequence"] + 1)
    if patch.title is not None:
        new["title"] = patch.title
    if patch.attendees is not None:
        new["attendees"] = [str(a).lower() for a in patch.attendees]
    new.update(_state_fields(room, start, status, new["checked_in"]))
    new["location"] = snapshot(new, room)["location"]
    old_day = rules.local_day(rules.unstamp(old["start"]), Hours(tz=old["tz"]))
    day = rules.local_day(start, Hours.of(room))
    ops = [store.replace_booking_op(new, old["sequence"]), ctx.publish(UPDATED, snapshot(new))]
    limit = None
    if _week(old) != _week(new):
        limit = weekly_limit(ctx)
        ops += [store.count_op(old["organiser"], _week(new), 1, limit),
                store.count_op(old["organiser"], _week(old), -1, None)]
    store.write_slots(ctx.tables, code=old["code"], leave=(old["room_id"], old_day),
                      take=store.Slot(room["id"], day, Span(start, end, old["code"])),
                      ops=ops, explain={2: _over_limit(limit)})
    return new


def _cancel(ctx: Ctx, old: Item, status: str = "cancelled", event: str = CANCELLED,
            **extra: Any) -> Item:
    new = _without_state(old)
    new.update(status=status, sequence=old["sequence"] + 1, **extra)
    old_day = rules.local_day(rules.unstamp(old["start"]), Hours(tz=old["tz"]))
    store.write_slots(ctx.tables, code=old["code"], leave=(old["room_id"], old_day), take=None,
                      ops=[store.replace_booking_op(new, old["sequence"]),
                           ctx.publish(event, snapshot(new)),
                           store.count_op(old["organiser"], _week(old), -1, None)])
    return new


def cancel(ctx: Ctx, code: str) -> Item:
    """Cancel: the slot is free again at once; everyone gets the calendar cancellation."""
    return _cancel(ctx, _open_booking(ctx, code))


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
        item = _new_item(ctx, room, s, e, body, series)
        try:
            _take(ctx, room, item)
        except Conflict as exc:  # taken between the check and the write
            if body.on_conflict == "refuse":
                for b in booked:
                    _cancel(ctx, b)
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
    done = [_cancel(ctx, b) for b in items
            if b["status"] in ("booked", "pending") and rules.unstamp(b["end"]) > now]
    return BookingList(bookings=[booking_out(b) for b in done])


@app.route("POST", "/rooms/bookings", roles=[USER], status=201, uses=CREATING)
def create_booking(ctx: Ctx, body: BookingIn) -> Booking:
    """Book a room. 409 `slot_taken` lists the bookings in the way."""
    return booking_out(create(ctx, body))


@app.route("GET", "/rooms/bookings", roles=[USER], uses=Uses(reads=[BOOKINGS]))
def my_bookings(ctx: Ctx) -> BookingList:
    """Your bookings that have not ended yet, soonest first."""
    now = ctx.now()
    items = store.bookings_of(ctx.tables, ctx.user.user_id, now - timedelta(days=1))
    return BookingList(bookings=[booking_out(i) for i in items
                                 if rules.unstamp(i["end"]) > now])


@app.route("GET", "/rooms/bookings/{code}", roles=[USER], uses=Uses(reads=[BOOKINGS]))
def get_booking(ctx: Ctx, *, code: str) -> Booking:
    """One booking, by its code."""
    return booking_out(store.booking(ctx.tables, code))


@app.route("PATCH", "/rooms/bookings/{code}", roles=[USER], uses=CHANGING)
def change_booking(ctx: Ctx, body: BookingPatch, *, code: str) -> Booking:
    """Change a booking (organiser or rooms admin)."""
    return booking_out(change(ctx, code, body))


@app.route("DELETE", "/rooms/bookings/{code}", roles=[USER], uses=CANCELLING)
def cancel_booking(ctx: Ctx, *, code: str) -> Booking:
    """Cancel a booking (organiser or rooms admin)."""
    return booking_out(cancel(ctx, code))


def may_check_in(ctx: Ctx, item: Item) -> bool:
    """The caller may check in now (organiser, attendee or rooms admin; the window open)."""
    user = ctx.user
    if user.user_id != item["organiser"] and user.email not in item["attendees"] \
            and not is_admin(ctx):
        return False
    closes = rules.unstamp(item.get("release_at") or item["end"])
    return item["status"] == "booked" and not item["checked_in"] and rules.may_check_in(
        rules.unstamp(item["start"]), closes, ctx.now())


def check_in_now(ctx: Ctx, code: str) -> Item:
    item = store.booking(ctx.tables, code)
    user = ctx.user
    if user.user_id != item["organiser"] and user.email not in item["attendees"] \
            and not is_admin(ctx):
        raise Forbidden("only the organiser or an attendee can check in",
                        code="not_attendee")
    if item["status"] != "booked":
        raise Conflict(f"this booking is {item['status']}", code=f"booking_{item['status']}")
    if not item["checked_in"]:
        if not may_check_in(ctx, item):
            raise Conflict("check-in is open from 15 minutes before the start until the "
                           "grace time ends", code="check_in_closed")
        store.mark_checked_in(ctx.tables, item["code"])
    return store.booking(ctx.tables, code)


@app.route("POST", "/rooms/bookings/{code}/checkin", roles=[USER],
           uses=Uses(writes=[BOOKINGS]))
def check_in(ctx: Ctx, *, code: str) -> Booking:
    """Say you are there, so the booking is not released (from 15 minutes before the start
    until the grace time ends)."""
    return booking_out(check_in_now(ctx, code))


# --------------------------------------------------------------------------- approvals


def is_manager(ctx: Ctx, room_id: str) -> bool:
    """Rooms admins manage every room; `rooms:manager` for a room id (or "*") manages it."""
    return is_admin(ctx) or ctx.user.has("rooms", "manager", room_id)


def _pending(ctx: Ctx, code: str) -> Item:
    item = store.booking(ctx.tables, code)
    if not is_manager(ctx, item["room_id"]):
        raise Forbidden("only this room's managers decide on its bookings",
                        code="not_room_manager")
    if item["status"] != "pending":
        raise Conflict(f"this booking is {item['status']}, not waiting for a decision",
                       code="not_pending")
    return item


def accept(ctx: Ctx, code: str, reason: str = "") -> Item:
    old = _pending(ctx, code)
    room = store.room(ctx.tables, old["room_id"])
    new = _without_state(old)
    new.update(status="booked", sequence=old["sequence"] + 1, decided_by=ctx.user.email,
               reason=reason, **_state_fields(room, rules.unstamp(old["start"]), "booked",
                                              old["checked_in"]))
    ctx.tables.transact([store.replace_booking_op(new, old["sequence"]),
                         ctx.publish(ACCEPTED, snapshot(new))])
    return new


def reject(ctx: Ctx, code: str, reason: str = "") -> Item:
    return _cancel(ctx, _pending(ctx, code), status="rejected", event=REJECTED,
                   decided_by=ctx.user.email, reason=reason)


@app.route("GET", "/rooms/pending", roles=[USER], uses=Uses(reads=[BOOKINGS]))
def pending(ctx: Ctx) -> BookingList:
    """Bookings waiting for a decision in the rooms you manage, by room and start."""
    items = [b for b in store.pending_bookings(ctx.tables) if is_manager(ctx, b["room_id"])]
    return BookingList(bookings=[booking_out(b) for b in items])


@app.route("POST", "/rooms/bookings/{code}/accept", roles=[USER],
           uses=Uses(reads=[ROOMS], writes=[BOOKINGS], publishes=[ACCEPTED]))
def accept_booking(ctx: Ctx, body: Decision, *, code: str) -> Booking:
    """Accept a pending booking (its room's managers); the organiser and attendees are told."""
    return booking_out(accept(ctx, code, body.reason))


@app.route("POST", "/rooms/bookings/{code}/reject", roles=[USER],
           uses=Uses(writes=[BOOKINGS, DAYS, QUOTAS], publishes=[REJECTED]))
def reject_booking(ctx: Ctx, body: Decision, *, code: str) -> Booking:
    """Reject a pending booking (its room's managers): the slot is free again; they are told."""
    return booking_out(reject(ctx, code, body.reason))


# --------------------------------------------------------------------------- policy


@app.route("GET", "/rooms/policy", roles=[USER], uses=Uses(reads=[ROOMS]))
def get_policy(ctx: Ctx) -> Policy:
    """The rules that hold across rooms: the per-person weekly limit."""
    return Policy(weekly_limit=weekly_limit(ctx))


@app.route("PUT", "/rooms/policy", roles=[ADMINS], uses=Uses(writes=[ROOMS]))
def set_policy(ctx: Ctx, body: Policy) -> Policy:
    """Set the per-person weekly limit (null: none). Bookings already made stay."""
    store.put_policy(ctx.tables, {"weekly_limit": body.weekly_limit})
    return body


# --------------------------------------------------------------------------- vacancy


def _matches(room: Item, site: str | None, capacity: int, equipment: list[str]) -> bool:
    return (room["active"] and (site is None or room["site"].lower() == site.strip().lower())
            and room["capacity"] >= capacity and set(equipment) <= set(room["equipment"]))


SUMMARY = tuple(RoomSummary.__annotations__)


def vacancy_of(ctx: Ctx, query: VacancyQuery) -> Vacancy:
    rooms = [r for r in store.all_rooms(ctx.tables)
             if _matches(r, query.site, query.capacity, query.equipment)]
    rooms.sort(key=lambda r: (r["site"], r["name"]))
    described = {r["id"]: {k: r[k] for k in SUMMARY} for r in rooms}
    bounds: dict[tuple[Any, ...], tuple[str, str] | None] = {}  # rooms share their hours
    out: list[dict[str, Any]] = []
    for n in range(query.days):
        day = query.day + timedelta(days=n)
        items = store.days_on(ctx.tables, day)
        for r in rooms:
            busy = store.busy_stamps(items.get(r["id"]))
            key = (r["tz"], r["opens"], r["closes"], tuple(r["weekdays"]), r["active"], day)
            if key not in bounds:
                b = rules.day_bounds(Hours.of(r), day)
                bounds[key] = (rules.stamp(b[0]), rules.stamp(b[1])) if b else None
            open_ = bounds[key]
            free = rules.gaps(*open_, [(s, e) for s, e, _ in busy]) if open_ else []
            out.append({"room": described[r["id"]], "day": day,
                        "busy": [{"start": s, "end": e, "code": c} for s, e, c in busy],
                        "free": [{"start": a, "end": b, "code": None} for a, b in free]})
    # Built from validated, stored records: no second validation of thousands of stretches.
    return Vacancy.model_construct(rooms=out)


@app.route("GET", "/rooms/vacancy", roles=[USER], uses=READING)
def vacancy(ctx: Ctx, query: VacancyQuery) -> Vacancy:
    """Free and busy time of every matching room over a day (or `days=7`: a week)."""
    # A Reply is serialised straight from the model, skipping a second validation pass of
    # an answer that can hold thousands of intervals.
    return Reply(body=vacancy_of(ctx, query))  # type: ignore[return-value]


def free_rooms(ctx: Ctx, query: FreeQuery) -> list[Item]:
    now = ctx.now()
    found: list[Item] = []
    days: dict[Any, dict[str, Item]] = {}
    for r in store.all_rooms(ctx.tables):
        if not _matches(r, query.site, query.capacity, query.equipment):
            continue
        start = rules.utc(query.start, r["tz"]) if query.start else now
        start = max(start, now)
        end = start + timedelta(minutes=query.minutes)
        hours = Hours.of(r)
        try:
            rules.check_slot(hours, start, end, now)
        except Invalid:
            continue
        day = rules.local_day(start, hours)
        if day not in days:
            days[day] = store.days_on(ctx.tables, day)
        if not rules.overlapping(store.spans(days[day].get(r["id"])), start, end):
            found.append(r)
    found.sort(key=lambda r: (r["capacity"], r["name"]))
    return found


@app.route("GET", "/rooms/free", roles=[USER], uses=READING)
def find_free_room(ctx: Ctx, query: FreeQuery) -> RoomList:
    """Rooms free now (or from `start`) for `minutes`, with room for `capacity`, smallest
    first."""
    return RoomList(rooms=[room_out(r) for r in free_rooms(ctx, query)])


# --------------------------------------------------------------------------- rooms


@app.route("GET", "/rooms/rooms", roles=[USER], uses=Uses(reads=[ROOMS]))
def list_rooms(ctx: Ctx) -> RoomList:
    """Every room, by site and name."""
    rooms = sorted(store.all_rooms(ctx.tables), key=lambda r: (r["site"], r["name"]))
    return RoomList(rooms=[room_out(r) for r in rooms])


def add_room(ctx: Ctx, body: RoomIn) -> Item:
    room_id = body.id or slug(body.name)
    if store.find_room(ctx.tables, room_id) is not None:
        raise Conflict(f"a room {room_id!r} exists already", code="room_exists")
    item = room_item(body, room_id)
    store.put_room(ctx.tables, item)
    return item


@app.route("POST", "/rooms/rooms", roles=[ADMINS], status=201, uses=Uses(writes=[ROOMS]))
def create_room(ctx: Ctx, body: RoomIn) -> Room:
    """Add a room (rooms admins)."""
    return room_out(add_room(ctx, body))


@app.route("PUT", "/rooms/rooms/{room_id}", roles=[ADMINS], uses=Uses(writes=[ROOMS]))
def update_room(ctx: Ctx, body: RoomIn, *, room_id: str) -> Room:
    """Replace a room's description (rooms admins). Existing bookings stay."""
    store.room(ctx.tables, room_id)
    if body.id is not None and body.id != room_id:
        raise Invalid("a room's id cannot change", code="room_id_changed")
    item = room_item(body, room_id)
    store.put_room(ctx.tables, item)
    return room_out(item)


class Imported(BaseModel):
    created: list[str]
    replaced: list[str]


@app.route("POST", "/rooms/rooms/import", roles=[ADMINS], status=201,
           uses=Uses(writes=[ROOMS]))
def import_rooms(ctx: Ctx, body: bytes) -> Imported:
    """Create or replace rooms from a CSV file (UTF-8); every row is checked first, so a bad
    file imports nothing. Also `roost rooms import rooms.csv`."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid("the file is not UTF-8 text", code="csv_encoding") from exc
    rooms = importing.parse_rooms(text)
    items = [room_item(r, r.id or slug(r.name)) for r in rooms]
    ids = [i["id"] for i in items]
    if len(set(ids)) != len(ids):
        raise Invalid("two rows name the same room id", code="csv_duplicate")
    known = {r["id"] for r in store.all_rooms(ctx.tables)}
    for n in range(0, len(items), 50):
        store.put_rooms(ctx.tables, items[n:n + 50])
    return Imported(created=[i for i in ids if i not in known],
                    replaced=[i for i in ids if i in known])
