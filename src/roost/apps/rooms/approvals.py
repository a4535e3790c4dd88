"""Approvals: a room that requires confirmation starts its bookings pending (holding the
slot); its managers (`rooms:manager` for the room, or rooms admins) accept or reject them."""

from __future__ import annotations

from roost.cloud.errors import Conflict, Forbidden
from roost.cloud.functions import USER, Ctx, Uses
from roost.cloud.table import Item

from . import app, rules, store
from .api import (
    ACCEPTED,
    REJECTED,
    booking_out,
    end_booking,
    is_admin,
    snapshot,
    state_fields,
    without_state,
)
from .models import Booking, BookingList, Decision
from .store import BOOKINGS, DAYS, QUOTAS, ROOMS


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
    new = without_state(old)
    new.update(status="booked", sequence=old["sequence"] + 1, decided_by=ctx.user.email,
               reason=reason, **state_fields(room, rules.unstamp(old["start"]), "booked",
                                              old["checked_in"]))
    ctx.tables.transact([store.replace_booking_op(new, old["sequence"]),
                         ctx.publish(ACCEPTED, snapshot(new))])
    return new


def reject(ctx: Ctx, code: str, reason: str = "") -> Item:
    return end_booking(ctx, _pending(ctx, code), status="rejected", event=REJECTED,
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
