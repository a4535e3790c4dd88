"""The rooms themselves (rooms admins add, replace and import them) and the rules that hold
across rooms (the per-person weekly limit)."""

from __future__ import annotations

from pydantic import BaseModel

from roost.cloud.errors import Conflict, Invalid
from roost.cloud.functions import USER, Ctx, Uses
from roost.cloud.table import Item

from . import app, importing, store
from .api import ADMINS, room_item, room_out, slug, weekly_limit
from .models import Policy, Room, RoomIn, RoomList
from .store import ROOMS

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


def set_flag(ctx: Ctx, room_id: str, name: str, value: bool) -> Item:
    """Switch a room's `active` or `requires_approval`; existing bookings stay."""
    if name not in ("active", "requires_approval"):
        raise Invalid(f"{name!r} is not a switch of a room", code="unknown_switch")
    item = {k: v for k, v in store.room(ctx.tables, room_id).items() if k != "pk"}
    item[name] = value
    store.put_room(ctx.tables, item)
    return item
