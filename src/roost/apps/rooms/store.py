"""The rooms app's tables and named queries: the only module that touches a Table.

Key design (works the same on DynamoDB):

- `rooms_rooms`     pk "room", sk room id. One partition: a building's rooms are hundreds, not
                    millions, and vacancy needs them all.
- `rooms_bookings`  pk booking code. Index `by_organiser` (organiser, start) for "my bookings";
                    `by_series` (series, start) for recurring bookings; two sparse indexes hold
                    only the items that carry their key: `by_release` ("due", release_at) the
                    bookings nobody checked into yet, for the auto-release job, and
                    `by_pending` ("pending", room|start) those waiting for a room manager.
- `rooms_quotas`    pk user id, sk ISO week ("2026-W02"): how many bookings the person holds
                    that week, counted in the booking's own transaction with a `lt(limit)`
                    condition, so the weekly limit holds under any concurrency.
- `rooms_feeds`     key "t:<sha256 of a feed secret>" -> its person; "u:<user id>" -> the hash
                    of their current secret (so a new one retires the old).
- `rooms_sensors`   pk sensor id -> its room and the hash of its secret.
- `rooms_readings`  pk UTC day, sk "<room>|<time>|<sensor>": occupancy readings, one partition
                    a day so utilisation reads a day of every room at once; kept 400 days (TTL).
- `rooms_days`      pk room id, sk local day: the room-day's busy spans and a `version`. Every
                    booking write rewrites its room-day in the same transaction, conditioned on
                    the version it read — two writers for one room-day cannot both commit, so
                    no overlap can be stored, whatever the concurrency. Index `by_day` (day,
                    room) answers vacancy for every room of a day in one query.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from roost.cloud.errors import Conflict, NotFound, RoostError, TransactionCanceled
from roost.cloud.ids import new_id
from roost.cloud.table import (
    Delete,
    IndexSpec,
    Item,
    Op,
    Put,
    SortKey,
    Tables,
    TableSpec,
    Update,
    attr,
    query_all,
)

from . import rules
from .rules import Span

ROOMS = TableSpec("rooms_rooms", pk="pk", sk="id", audit=True)
BOOKINGS = TableSpec("rooms_bookings", pk="code", sk=None, audit=True, indexes=(
    IndexSpec("by_organiser", pk="organiser", sk="start"),
    IndexSpec("by_release", pk="release_due", sk="release_at"),
    IndexSpec("by_series", pk="series", sk="start"),
    IndexSpec("by_pending", pk="pending", sk="pending_at"),
))
DAYS = TableSpec("rooms_days", pk="room", sk="day", indexes=(
    IndexSpec("by_day", pk="day", sk="room"),
))
BLOCKINGS = TableSpec("rooms_blockings", pk="pk", sk="id", audit=True)
QUOTAS = TableSpec("rooms_quotas", pk="user", sk="week")
FEEDS = TableSpec("rooms_feeds", pk="key", sk=None)
SENSORS = TableSpec("rooms_sensors", pk="id", sk=None, audit=True)
READINGS = TableSpec("rooms_readings", pk="day", sk="at", ttl="expires")
TABLES = [ROOMS, BOOKINGS, DAYS, BLOCKINGS, QUOTAS, FEEDS, SENSORS, READINGS]
READINGS_KEPT_DAYS = 400

ROOM_PARTITION = "room"
CATALOG = {"pk": "catalog", "id": "version"}
DUE = "due"
ATTEMPTS = 20
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def new_code() -> str:
    """A short booking code people can read out: 6 characters, no 0/O or 1/I."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))


# --------------------------------------------------------------------------- rooms


def room(tables: Tables, room_id: str) -> Item:
    item = tables.table(ROOMS.name).get({"pk": ROOM_PARTITION, "id": room_id})
    if item is None:
        raise NotFound(f"there is no room {room_id!r}", code="room_not_found")
    return item


def find_room(tables: Tables, room_id: str) -> Item | None:
    return tables.table(ROOMS.name).get({"pk": ROOM_PARTITION, "id": room_id})


_catalog: dict[str, list[Item]] = {}  # catalog version -> the rooms it names (this process)


def all_rooms(tables: Tables) -> list[Item]:
    """Every room. Rooms change rarely and vacancy needs them all on every call, so the list is
    kept per catalog version: a fresh id written with every room change, read with one get."""
    table = tables.table(ROOMS.name)
    marker = table.get(CATALOG)
    version = marker["v"] if marker else None
    if version is not None and version in _catalog:
        return _catalog[version]
    rooms = list(query_all(table, ROOM_PARTITION))
    if version is not None:
        if len(_catalog) > 64:
            _catalog.clear()
        _catalog[version] = rooms
    return rooms


def put_room(tables: Tables, item: Item) -> None:
    put_rooms(tables, [item])


def put_rooms(tables: Tables, items: Sequence[Item]) -> None:
    """Many rooms (up to 99), all or nothing, with a new catalog version."""
    tables.transact([*(Put(ROOMS.name, {**i, "pk": ROOM_PARTITION}) for i in items),
                     Put(ROOMS.name, {**CATALOG, "v": new_id()})])


# --------------------------------------------------------------------------- room-days


def spans(day_item: Item | None) -> list[Span]:
    if not day_item:
        return []
    return [Span(rules.unstamp(b[:20]), rules.unstamp(b[21:41]), b[42:])
            for b in day_item.get("busy", [])]


def busy_entries(day_item: Item | None) -> list[str]:
    """The busy spans as stored (`busy_entry`), unparsed: for vacancy."""
    return day_item.get("busy", []) if day_item else []


def busy_stamp(entry: str) -> tuple[str, str, str]:
    """A stored busy entry's (start, end, code) stamps, unparsed."""
    return entry[:20], entry[21:41], entry[42:]


def span_stamps(entry: str) -> tuple[str, str]:
    """A stored busy entry's (start, end) stamps: they sort as the times do."""
    return entry[:20], entry[21:41]


def busy_entry(span: Span) -> str:
    """A busy span as stored in its room-day: "<start>|<end>|<code>" (compact: vacancy reads
    every room-day of a day at once)."""
    return f"{rules.stamp(span.start)}|{rules.stamp(span.end)}|{span.code}"


def room_day(tables: Tables, room_id: str, day: date) -> Item | None:
    return tables.table(DAYS.name).get({"room": room_id, "day": day.isoformat()})


def days_on(tables: Tables, day: date) -> dict[str, Item]:
    """Every room's room-day item of `day`, by room id (rooms with no booking are absent)."""
    return {i["room"]: i for i in query_all(tables.table(DAYS.name), day.isoformat(),
                                       index="by_day")}


@dataclass(frozen=True)
class Slot:
    room_id: str
    day: date
    span: Span


def write_slots(tables: Tables, *, code: str, leave: tuple[str, date] | None,
                take: Slot | None, ops: Sequence[Op], force: bool = False,
                explain: Mapping[int, RoostError] | None = None) -> list[Span]:
    """Take `take` for booking `code` and/or leave its old room-day, with `ops` (the booking and
    its event), in one transaction conditioned on each room-day's version. Another writer of the
    same room-day in between makes it fail; then re-read and decide again. `force` (blockings)
    takes the slot over whatever is there; the spans in the way are returned. `explain` maps
    an index of `ops` to the error to raise when that operation's condition fails."""
    table = tables.table(DAYS.name)
    keys: list[tuple[str, date]] = []
    for k in (leave, (take.room_id, take.day) if take else None):
        if k is not None and k not in keys:
            keys.append(k)
    for _ in range(ATTEMPTS):
        day_ops: list[Op] = []
        clash: list[Span] = []
        for room_id, day in keys:
            key = {"room": room_id, "day": day.isoformat()}
            item = table.get(key)
            busy = [s for s in spans(item) if s.code != code]
            if take and (take.room_id, take.day) == (room_id, day):
                clash = rules.overlapping(busy, take.span.start, take.span.end)
                if not force:
                    rules.check_free(busy, take.span.start, take.span.end)
                busy.append(take.span)
            busy.sort(key=lambda s: s.start)
            cond = attr("version").eq(item["version"]) if item else attr("room").not_exists()
            day_ops.append(Update(DAYS.name, key, condition=cond, add={"version": 1},
                                  set={"busy": [busy_entry(s) for s in busy]}))
        try:
            tables.transact([*day_ops, *ops])
            return clash
        except TransactionCanceled as exc:
            if any(i < len(day_ops) for i in exc.failed):
                continue  # a room-day changed under us: decide again on fresh data
            for i in exc.failed:
                if explain and i - len(day_ops) in explain:
                    raise explain[i - len(day_ops)] from exc
            raise Conflict("the booking changed meanwhile; reload it and try again",
                           code="booking_changed") from exc
    raise Conflict("the room is in high demand right now; try again", code="try_again")


# --------------------------------------------------------------------------- policy and quotas

POLICY = {"pk": "policy", "id": "limits"}


def policy(tables: Tables) -> Item:
    return tables.table(ROOMS.name).get(POLICY) or {}


def put_policy(tables: Tables, values: Mapping[str, Any]) -> None:
    tables.table(ROOMS.name).put({**POLICY, **values})


def count_op(user_id: str, week: str, delta: int, limit: int | None) -> Update:
    """Add `delta` to a person's bookings in `week`; taking one more checks the limit."""
    cond = None
    if delta > 0 and limit is not None:
        cond = attr("count").lt(limit) | attr("user").not_exists()
    return Update(QUOTAS.name, {"user": user_id, "week": week}, add={"count": delta},
                  condition=cond)


def week_count(tables: Tables, user_id: str, week: str) -> int:
    item = tables.table(QUOTAS.name).get({"user": user_id, "week": week})
    return int(item["count"]) if item else 0


# --------------------------------------------------------------------------- calendar feeds


def feed_owner(tables: Tables, digest: str) -> Item | None:
    return tables.table(FEEDS.name).get({"key": f"t:{digest}"})


def replace_feed(tables: Tables, user_id: str, email: str, digest: str) -> None:
    """Make `digest` the person's feed secret, retiring the one before."""
    old = tables.table(FEEDS.name).get({"key": f"u:{user_id}"})
    ops: list[Op] = [Put(FEEDS.name, {"key": f"t:{digest}", "user": user_id, "email": email}),
                     Put(FEEDS.name, {"key": f"u:{user_id}", "digest": digest},
                         condition=attr("digest").eq(old["digest"]) if old
                         else attr("key").not_exists())]
    if old:
        ops.append(Delete(FEEDS.name, {"key": f"t:{old['digest']}"}))
    tables.transact(ops)


# --------------------------------------------------------------------------- sensors


def sensor(tables: Tables, sensor_id: str) -> Item | None:
    return tables.table(SENSORS.name).get({"id": sensor_id})


def put_sensor(tables: Tables, item: Item) -> None:
    tables.table(SENSORS.name).put(item, condition=attr("id").not_exists())


def put_readings(tables: Tables, room_id: str, sensor_id: str,
                 readings: Sequence[tuple[datetime, bool]]) -> None:
    """A batch of readings, all or nothing (at most 100)."""
    ops: list[Op] = []
    for at, occupied in readings:
        stamp = rules.stamp(at)
        ops.append(Put(READINGS.name, {
            "day": stamp[:10], "at": f"{room_id}|{stamp}|{sensor_id}", "occupied": occupied,
            "expires": int(at.timestamp()) + READINGS_KEPT_DAYS * 86400}))
    tables.transact(ops)


def readings_on(tables: Tables, day: date) -> list[tuple[str, str, bool]]:
    """(room, UTC stamp, occupied) of every reading of a UTC day, by room and time."""
    out = []
    for i in query_all(tables.table(READINGS.name), day.isoformat()):
        room_id, stamp, _ = i["at"].split("|")
        out.append((room_id, stamp, bool(i["occupied"])))
    return out


# --------------------------------------------------------------------------- blockings

def blocking(tables: Tables, blocking_id: str) -> Item:
    item = tables.table(BLOCKINGS.name).get({"pk": "blocking", "id": blocking_id})
    if item is None:
        raise NotFound(f"there is no blocking {blocking_id!r}", code="blocking_not_found")
    return item


def all_blockings(tables: Tables) -> list[Item]:
    return list(query_all(tables.table(BLOCKINGS.name), "blocking"))


def put_blocking(tables: Tables, item: Item) -> None:
    tables.table(BLOCKINGS.name).put({**item, "pk": "blocking"})


def delete_blocking(tables: Tables, blocking_id: str) -> None:
    tables.table(BLOCKINGS.name).delete({"pk": "blocking", "id": blocking_id})


# --------------------------------------------------------------------------- bookings


def booking(tables: Tables, code: str) -> Item:
    item = tables.table(BOOKINGS.name).get({"code": code.strip().upper().replace("-", "")})
    if item is None:
        raise NotFound(f"there is no booking {code!r}", code="booking_not_found")
    return item


def new_booking_op(item: Item) -> Put:
    return Put(BOOKINGS.name, item, condition=attr("code").not_exists())


def replace_booking_op(item: Item, sequence: int) -> Put:
    """Write the new state of a booking unless someone changed it since `sequence`."""
    return Put(BOOKINGS.name, item, condition=attr("sequence").eq(sequence))


def release_op(item: Item, sequence: int) -> Put:
    """Release a booking unless it was checked into or changed since it was read."""
    return Put(BOOKINGS.name, item, condition=attr("sequence").eq(sequence)
               & attr("checked_in").eq(False) & attr("status").eq("booked"))


def bookings_of(tables: Tables, organiser: str, since: datetime) -> list[Item]:
    return list(query_all(tables.table(BOOKINGS.name), organiser, index="by_organiser",
                     sort=SortKey.ge(rules.stamp(since))))


PENDING = "pending"


def pending_bookings(tables: Tables) -> list[Item]:
    """Bookings waiting for a room manager, by room then start (a sparse index)."""
    return list(query_all(tables.table(BOOKINGS.name), PENDING, index="by_pending"))


def bookings_in_series(tables: Tables, series: str) -> list[Item]:
    return list(query_all(tables.table(BOOKINGS.name), series, index="by_series"))


def due_for_release(tables: Tables, now: datetime) -> list[Item]:
    return list(query_all(tables.table(BOOKINGS.name), DUE, index="by_release",
                     sort=SortKey.le(rules.stamp(now))))


def mark_checked_in(tables: Tables, code: str) -> bool:
    """Check in once; False if it was already checked in, cancelled or released."""
    try:
        tables.table(BOOKINGS.name).update(
            {"code": code}, set={"checked_in": True}, remove=["release_due", "release_at"],
            condition=attr("status").eq("booked") & attr("checked_in").eq(False))
    except Conflict:
        return False
    return True


# --------------------------------------------------------------------------- invariants


def all_room_days(tables: Tables) -> list[tuple[str, Item]]:
    """Every stored room-day, as (room id, item): for `roost check`, not for requests."""
    table = tables.table(DAYS.name)
    return [(r["id"], d) for r in all_rooms(tables) for d in query_all(table, r["id"])]


def all_bookings(tables: Tables) -> list[Item]:
    """Every booking, whatever its state: for `roost check`, not for requests."""
    items: list[Item] = []
    cursor: str | None = None
    while True:
        page = tables.table(BOOKINGS.name).scan(limit=500, cursor=cursor)
        items.extend(page.items)
        if page.cursor is None:
            return items
        cursor = page.cursor
