"""Vacancy: free and busy time of every matching room over a day or a week, and "find me a free
room now / at this time for N people"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from roost.cloud.errors import Invalid
from roost.cloud.functions import USER, Ctx, Reply, Uses
from roost.cloud.table import Item

from . import app, rules, store
from .api import room_out
from .models import FreeQuery, RoomList, RoomSummary, Vacancy, VacancyQuery
from .rules import Hours
from .store import DAYS, ROOMS

READING = Uses(reads=[ROOMS, DAYS])


def matches(room: Item, site: str | None, capacity: int, equipment: list[str]) -> bool:
    return (room["active"] and (site is None or room["site"].lower() == site.strip().lower())
            and room["capacity"] >= capacity and set(equipment) <= set(room["equipment"]))


SUMMARY = tuple(RoomSummary.__annotations__)


def vacancy_of(ctx: Ctx, query: VacancyQuery) -> Vacancy:
    rooms = [r for r in store.all_rooms(ctx.tables)
             if matches(r, query.site, query.capacity, query.equipment)]
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
        if not matches(r, query.site, query.capacity, query.equipment):
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
