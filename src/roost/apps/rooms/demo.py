"""Demo data for `roost serve --demo`: two sites, eight rooms, and a few bookings on the next
working days, so the vacancy grid shows both free and busy time."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from roost.cloud.functions import Ctx

from . import app, rules, store
from .api import room_item
from .models import RoomIn
from .rules import Hours, Span

ROOMS = [  # validated as RoomIn by the loader, not at import (every rooms Lambda imports this)
    dict(id="atlas", name="Atlas", site="Berlin", floor="2", tz="Europe/Berlin", capacity=4,
         equipment=["screen"]),
    dict(id="boreal", name="Boreal", site="Berlin", floor="2", tz="Europe/Berlin",
         capacity=8, equipment=["screen", "video"]),
    dict(id="cirrus", name="Cirrus", site="Berlin", floor="3", tz="Europe/Berlin",
         capacity=12, equipment=["screen", "video", "whiteboard"]),
    dict(id="delta", name="Delta", site="Berlin", floor="3", tz="Europe/Berlin", capacity=2),
    dict(id="ember", name="Ember", site="London", floor="1", tz="Europe/London",
         capacity=6, equipment=["screen"]),
    dict(id="fjord", name="Fjord", site="London", floor="1", tz="Europe/London",
         capacity=10, equipment=["video", "whiteboard"]),
    dict(id="gale", name="Gale", site="London", floor="4", tz="Europe/London", capacity=20,
         equipment=["screen", "video"], max_minutes=480),
    dict(id="harbour", name="Harbour", site="London", floor="4", tz="Europe/London",
         capacity=4, grace_minutes=None),
]
DEMO_ORGANISER = ("demo", "demo@example.com")
BUSY = [("atlas", time(10, 0), 60, "Sprint planning"), ("boreal", time(9, 0), 90, "Design review"),
        ("cirrus", time(14, 0), 120, "All hands"), ("ember", time(11, 0), 30, "1:1"),
        ("gale", time(13, 0), 60, "Customer call")]


@app.demo
def demo_data(ctx: Ctx) -> None:
    """Rooms, and a few bookings by demo@example.com on the next two working days."""
    rooms = [RoomIn.model_validate(r) for r in ROOMS]
    for r in rooms:
        if store.find_room(ctx.tables, r.id or "") is None:
            store.put_room(ctx.tables, room_item(r, r.id or ""))
    by_id = {r.id: r for r in rooms}
    day = ctx.now().date()
    done = 0
    while done < 2:
        day += timedelta(days=1)
        if day.weekday() >= 5:
            continue
        done += 1
        for room_id, at, minutes, title in BUSY:
            r = by_id[room_id]
            start = datetime.combine(day, at, tzinfo=ZoneInfo(r.tz)).astimezone(UTC)
            end = start + timedelta(minutes=minutes)
            code = store.new_code()
            item = {"code": code, "room_id": r.id, "room_name": r.name, "tz": r.tz,
                    "start": rules.stamp(start), "end": rules.stamp(end), "title": title,
                    "organiser": DEMO_ORGANISER[0], "organiser_email": DEMO_ORGANISER[1],
                    "attendees": [], "status": "booked", "sequence": 0,
                    "created_at": rules.stamp(ctx.now()), "checked_in": True,
                    "location": f"{r.name}, {r.site}, floor {r.floor}"}
            store.write_slots(ctx.tables, code=code, leave=None,
                              take=store.Slot(r.id or "", rules.local_day(start, Hours(tz=r.tz)),
                                              Span(start, end, code)),
                              ops=[store.new_booking_op(item), store.count_op(
                                  DEMO_ORGANISER[0], rules.week_of(start, Hours(tz=r.tz)), 1,
                                  None)])
