"""What `roost check` verifies of rooms: no two bookings of a room overlap, and every held
booking is in its room-day (the item every booking write is conditioned on) and vice versa."""

from __future__ import annotations

from roost.apps.rooms import app
from roost.cloud.functions import Ctx, Uses

from . import rules, store

HOLDING = ("booked", "pending")  # the states that hold a slot


@app.invariant(uses=Uses(reads=[store.ROOMS, store.DAYS, store.BOOKINGS]))
def no_double_bookings(ctx: Ctx) -> list[str]:
    """No overlap in any room-day; room-days and held bookings agree."""
    found: list[str] = []
    in_days: set[tuple[str, str]] = set()
    for room_id, day in store.all_room_days(ctx.tables):
        spans = store.spans(day)
        for a, b in rules.double_bookings(spans):
            found.append(f"room {room_id} on {day['day']}: bookings {a.code} and {b.code} "
                         "overlap")
        in_days.update((room_id, s.code) for s in spans)
    for b in store.all_bookings(ctx.tables):
        held = (b["room_id"], b["code"]) in in_days
        if b["status"] in HOLDING and not held:
            found.append(f"booking {b['code']} ({b['status']}) is missing from its room-day")
        elif b["status"] not in HOLDING and held:
            found.append(f"booking {b['code']} ({b['status']}) still holds its slot")
    return found
