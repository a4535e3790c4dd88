"""The bookings API: create, read, change, cancel, check in. Each route: parse -> rules -> store
(+ the event, in the same write). Series, approvals, vacancy and the rooms themselves have
modules of their own (`series`, `approvals`, `vacancy`, `catalog`).

The booking operations are plain functions (`create`, `change`, `cancel`, `take`,
`end_booking`) so the pages and the other modules run the very same code as the API."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from typing import Any

from roost.cloud.errors import Conflict, Forbidden
from roost.cloud.functions import USER, Ctx, Uses
from roost.cloud.table import Item

from . import app, rules, store
from .models import (
    Booking,
    BookingIn,
    BookingList,
    BookingPatch,
    Room,
    RoomIn,
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


def state_fields(room: Item, start: datetime, status: str, checked_in: bool
                  ) -> dict[str, Any]:
    """The transient index keys for a booking in `status`."""
    if status == "pending":
        return {"pending": store.PENDING, "pending_at": f"{room['id']}|{rules.stamp(start)}"}
    if status == "booked" and not checked_in:
        return _release_fields(room, start)
    return {}


def without_state(item: Item) -> Item:
    return {k: v for k, v in item.items() if k not in TRANSIENT}


def _release_fields(room: Item, start: datetime) -> dict[str, Any]:
    grace = room.get("grace_minutes")
    if grace is None:
        return {}
    return {"release_due": store.DUE,
            "release_at": rules.stamp(rules.release_due(start, timedelta(minutes=grace)))}


def new_item(ctx: Ctx, room: Item, start: datetime, end: datetime, body: BookingIn,
              series: str | None = None) -> Item:
    user = ctx.user
    status = "pending" if room.get("requires_approval") else "booked"
    item: Item = {
        "code": store.new_code(), "room_id": room["id"], "room_name": room["name"],
        "tz": room["tz"], "start": rules.stamp(start), "end": rules.stamp(end),
        "title": body.title, "organiser": user.user_id, "organiser_email": user.email,
        "attendees": [str(a).lower() for a in body.attendees], "status": status,
        "sequence": 0, "created_at": rules.stamp(ctx.now()), "checked_in": False,
        **state_fields(room, start, status, False), **({"series": series} if series else {}),
    }
    item["location"] = snapshot(item, room)["location"]
    if status == "pending" and room.get("manager_emails"):
        item["notify"] = list(room["manager_emails"])
    return item


def weekly_limit(ctx: Ctx) -> int | None:
    limit = store.policy(ctx.tables).get("weekly_limit")
    return int(limit) if limit is not None else None


def _over_limit(limit: int | None) -> Conflict:
    return Conflict(f"you hold {limit} bookings that week already, the most one person may",
                    code="weekly_limit")


def _week(item: Item) -> str:
    return rules.week_of(rules.unstamp(item["start"]), Hours(tz=item["tz"]))


def take(ctx: Ctx, room: Item, item: Item) -> None:
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
    item = new_item(ctx, room, start, end, body)
    take(ctx, room, item)
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
    new = without_state(old)
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
    new.update(state_fields(room, start, status, new["checked_in"]))
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


def end_booking(ctx: Ctx, old: Item, status: str = "cancelled", event: str = CANCELLED,
            **extra: Any) -> Item:
    new = without_state(old)
    new.update(status=status, sequence=old["sequence"] + 1, **extra)
    old_day = rules.local_day(rules.unstamp(old["start"]), Hours(tz=old["tz"]))
    store.write_slots(ctx.tables, code=old["code"], leave=(old["room_id"], old_day), take=None,
                      ops=[store.replace_booking_op(new, old["sequence"]),
                           ctx.publish(event, snapshot(new)),
                           store.count_op(old["organiser"], _week(old), -1, None)])
    return new


def cancel(ctx: Ctx, code: str) -> Item:
    """Cancel: the slot is free again at once; everyone gets the calendar cancellation."""
    return end_booking(ctx, _open_booking(ctx, code))



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
    """One booking, by its code (its organiser, attendees, room managers and rooms admins)."""
    return booking_out(visible_booking(ctx, code))


def visible_booking(ctx: Ctx, code: str) -> Item:
    """A booking the caller may see: it names people and their meeting, so only those in it,
    the room's managers and rooms admins read it (vacancy shows everyone just busy time)."""
    item = store.booking(ctx.tables, code)
    user = ctx.user
    if user.user_id != item["organiser"] and user.email not in item["attendees"] \
            and not user.has("rooms", "manager", item["room_id"]) and not is_admin(ctx):
        raise Forbidden("this booking is not yours to see", code="not_yours")
    return item


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
