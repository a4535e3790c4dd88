"""Blockings: rooms closed over whole days (holidays, works), by rooms admins. A blocking takes
its rooms' days like a booking does — in the same race-free room-day write — so no booking can
be made into it afterwards, and it lists the bookings already there (they are kept: the admin
decides whether to move or cancel them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from roost.cloud.errors import Invalid
from roost.cloud.functions import USER, Ctx, Uses
from roost.cloud.table import Item

from . import app, rules, store
from .api import ADMINS, booking_out
from .models import Blocking, BlockingIn, BlockingList
from .rules import Hours, Span
from .store import BLOCKINGS, BOOKINGS, DAYS, ROOMS

MAX_ROOM_DAYS = 2000


def _days(item: Item) -> list[date]:
    first, last = (datetime.fromisoformat(item["first_day"]).date(),
                   datetime.fromisoformat(item["last_day"]).date())
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _out(ctx: Ctx, item: Item, collisions: Sequence[str] = ()) -> Blocking:
    found = [store.booking(ctx.tables, c) for c in collisions]
    return Blocking(id=item["id"], rooms=item["rooms"], first_day=item["first_day"],
                    last_day=item["last_day"], reason=item["reason"],
                    created_by=item["created_by"],
                    collisions=[booking_out(b) for b in found
                                if b["status"] in ("booked", "pending")])


@app.route("POST", "/rooms/blockings", roles=[ADMINS], status=201,
           uses=Uses(reads=[ROOMS, BOOKINGS], writes=[BLOCKINGS, DAYS]))
def create_blocking(ctx: Ctx, body: BlockingIn) -> Blocking:
    """Close rooms over whole days; the answer lists the bookings the blocking collides with."""
    rooms = store.all_rooms(ctx.tables) if body.rooms == ["*"] else [
        store.room(ctx.tables, r) for r in dict.fromkeys(body.rooms)]
    days = (body.last_day - body.first_day).days + 1
    if len(rooms) * days > MAX_ROOM_DAYS:
        raise Invalid(f"a blocking covers at most {MAX_ROOM_DAYS} room-days; split it",
                      code="blocking_too_large")
    item = {"id": ctx.new_id(), "rooms": [r["id"] for r in rooms],
            "first_day": body.first_day.isoformat(), "last_day": body.last_day.isoformat(),
            "reason": body.reason, "created_by": ctx.user.email}
    store.put_blocking(ctx.tables, item)
    code = rules.BLOCK_PREFIX + item["id"]
    collisions: list[str] = []
    for r in rooms:
        zone = Hours(tz=r["tz"]).zone
        for day in _days(item):
            start = datetime.combine(day, time(0), tzinfo=zone)
            end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
            clash = store.write_slots(
                ctx.tables, code=code, leave=None, force=True, ops=[],
                take=store.Slot(r["id"], day, Span(rules.utc(start, r["tz"]),
                                                   rules.utc(end, r["tz"]), code)))
            collisions += [s.code for s in clash if not s.code.startswith(rules.BLOCK_PREFIX)]
    return _out(ctx, item, list(dict.fromkeys(collisions)))


@app.route("GET", "/rooms/blockings", roles=[USER], uses=Uses(reads=[BLOCKINGS]))
def list_blockings(ctx: Ctx) -> BlockingList:
    """Every blocking, oldest first."""
    return BlockingList(blockings=[_out(ctx, b) for b in store.all_blockings(ctx.tables)])


@app.route("DELETE", "/rooms/blockings/{blocking_id}", roles=[ADMINS],
           uses=Uses(writes=[BLOCKINGS, DAYS]))
def delete_blocking(ctx: Ctx, *, blocking_id: str) -> None:
    """Lift a blocking: its days are bookable again."""
    item = store.blocking(ctx.tables, blocking_id)
    code = rules.BLOCK_PREFIX + item["id"]
    for room_id in item["rooms"]:
        for day in _days(item):
            store.write_slots(ctx.tables, code=code, leave=(room_id, day), take=None, ops=[])
    store.delete_blocking(ctx.tables, blocking_id)
