"""Sensors: registered to a room with a secret of their own, they post occupancy readings in
batches. An "occupied" reading in a booking's check-in window checks it in (so it is not
released); rooms admins compare booked with occupied hours per room (utilisation)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import defaultdict
from datetime import datetime, timedelta

from roost.cloud.errors import Invalid, Unauthorized
from roost.cloud.functions import PUBLIC, Ctx, Uses

from . import app, rules, store
from .api import ADMINS
from .models import (
    ReadingBatch,
    ReadingsTaken,
    RoomSummary,
    RoomUse,
    Sensor,
    SensorIn,
    Utilisation,
    UtilisationQuery,
)
from .rules import Hours
from .store import BOOKINGS, DAYS, READINGS, ROOMS, SENSORS
from .vacancy import SUMMARY, matches

SECRET_HEADER = "x-sensor-secret"
FUTURE_SLACK = timedelta(minutes=5)
OLDEST = timedelta(days=7)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@app.route("POST", "/rooms/sensors", roles=[ADMINS], status=201,
           uses=Uses(reads=[ROOMS], writes=[SENSORS]))
def register_sensor(ctx: Ctx, body: SensorIn) -> Sensor:
    """Register a sensor to a room; the answer holds its secret, shown this once."""
    store.room(ctx.tables, body.room_id)
    secret = secrets.token_urlsafe(24)
    item = {"id": ctx.new_id(), "room_id": body.room_id, "name": body.name,
            "digest": _digest(secret)}
    store.put_sensor(ctx.tables, item)
    return Sensor(id=item["id"], room_id=body.room_id, name=body.name, secret=secret)


def _check_in_by(ctx: Ctx, room_id: str, tz: str, at: datetime) -> list[str]:
    done = []
    day = store.room_day(ctx.tables, room_id, rules.local_day(at, Hours(tz=tz)))
    for span in store.spans(day):
        if span.code.startswith(rules.BLOCK_PREFIX) or not (
                span.start - timedelta(minutes=15) <= at < span.end):
            continue
        b = store.booking(ctx.tables, span.code)
        if b["status"] != "booked" or b["checked_in"] or "release_at" not in b:
            continue
        if rules.check_in_by_reading(span.start, rules.unstamp(b["release_at"]), at) \
                and store.mark_checked_in(ctx.tables, b["code"]):
            done.append(b["code"])
    return done


@app.route("POST", "/rooms/sensors/{sensor_id}/readings", roles=[PUBLIC],
           uses=Uses(reads=[SENSORS, ROOMS, DAYS], writes=[READINGS, BOOKINGS]))
def post_readings(ctx: Ctx, body: ReadingBatch, *, sensor_id: str) -> ReadingsTaken:
    """A batch of occupancy readings (up to 100), signed by the X-Sensor-Secret header. A
    batch with any bad reading is refused whole."""
    headers = {k.lower(): v for k, v in (ctx.request.headers if ctx.request else {}).items()}
    item = store.sensor(ctx.tables, sensor_id)
    given = headers.get(SECRET_HEADER, "")
    if item is None or not hmac.compare_digest(item["digest"], _digest(given)):
        raise Unauthorized("unknown sensor or wrong secret", code="sensor_refused")
    now = ctx.now()
    for n, r in enumerate(body.readings):
        if r.at > now + FUTURE_SLACK:
            raise Invalid(f"reading {n} is in the future", code="reading_in_future")
        if r.at < now - OLDEST:
            raise Invalid(f"reading {n} is older than {OLDEST.days} days",
                          code="reading_too_old")
    room = store.room(ctx.tables, item["room_id"])
    readings = sorted({(r.at.astimezone(rules.UTC), r.occupied) for r in body.readings})
    store.put_readings(ctx.tables, room["id"], sensor_id, readings)
    checked: list[str] = []
    for at, occupied in readings:
        if occupied:
            checked += _check_in_by(ctx, room["id"], room["tz"], at)
    return ReadingsTaken(stored=len(readings), checked_in=checked)


@app.route("GET", "/rooms/utilisation", roles=[ADMINS], uses=Uses(reads=[ROOMS, DAYS,
                                                                         READINGS]))
def utilisation(ctx: Ctx, query: UtilisationQuery) -> Utilisation:
    """Booked against occupied hours per room over up to 31 days (UTC days for readings)."""
    rooms = [r for r in store.all_rooms(ctx.tables) if matches(r, query.site, 1, [])]
    booked: dict[str, float] = defaultdict(float)
    seen: dict[str, list[tuple[datetime, bool]]] = defaultdict(list)
    day = query.first_day
    while day <= query.last_day:
        for room_id, item in store.days_on(ctx.tables, day).items():
            for s in store.spans(item):
                if not s.code.startswith(rules.BLOCK_PREFIX):
                    booked[room_id] += (s.end - s.start).total_seconds() / 3600
        for room_id, stamp, occupied in store.readings_on(ctx.tables, day):
            seen[room_id].append((rules.unstamp(stamp), occupied))
        day += timedelta(days=1)
    out = []
    for r in sorted(rooms, key=lambda r: (r["site"], r["name"])):
        hours = round(booked[r["id"]], 2)
        used = round(rules.occupied_minutes(sorted(seen[r["id"]])) / 60, 2)
        out.append(RoomUse(room=RoomSummary(**{k: r[k] for k in SUMMARY}),  # type: ignore[typeddict-item]
                           booked_hours=hours, occupied_hours=used,
                           ratio=round(used / hours, 2) if hours else None))
    return Utilisation(rooms=out)
