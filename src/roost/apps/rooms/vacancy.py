"""Vacancy: free and busy time of every matching room over a day or a week, and "find me a free
room now / at this time for N people"."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from functools import cache
from typing import Any

from pydantic import TypeAdapter

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
_summaries: dict[int, tuple[Item, str]] = {}  # id(room item) -> the item, its summary JSON


@cache
def _summary_adapter() -> TypeAdapter[RoomSummary]:
    """Built on first use: a TypedDict's adapter builds its schema at once, and most rooms
    Lambdas never list vacancy."""
    return TypeAdapter(RoomSummary)


def _summary_json(room: Item) -> str:
    """A room's summary as JSON, kept per stored item: the cached catalog hands out the same
    items until a room changes."""
    hit = _summaries.get(id(room))
    if hit is not None and hit[0] is room:
        return hit[1]
    if len(_summaries) > 4096:
        _summaries.clear()
    out = _summary_adapter().dump_json({k: room[k] for k in SUMMARY}).decode()  # type: ignore[misc]
    _summaries[id(room)] = (room, out)
    return out


RoomDay = tuple[Item, date, list[str], list[tuple[str, str]]]


def room_days(ctx: Ctx, query: VacancyQuery) -> Iterator[RoomDay]:
    """Every matching room's (room, day, busy, free) over the query's days: busy as its stored
    entries (`store.busy_entries`), free as (start, end) stamps."""
    rooms = [r for r in store.all_rooms(ctx.tables)
             if matches(r, query.site, query.capacity, query.equipment)]
    rooms.sort(key=lambda r: (r["site"], r["name"]))
    hours = [(r["tz"], r["opens"], r["closes"], tuple(r["weekdays"]), r["active"])
             for r in rooms]
    for n in range(query.days):
        day = query.day + timedelta(days=n)
        items = store.days_on(ctx.tables, day)
        bounds: dict[tuple[Any, ...], tuple[str, str] | None] = {}  # rooms share their hours
        for r, key in zip(rooms, hours, strict=True):
            busy = store.busy_entries(items.get(r["id"]))
            if key not in bounds:
                b = rules.day_bounds(Hours.of(r), day)
                bounds[key] = (rules.stamp(b[0]), rules.stamp(b[1])) if b else None
            open_ = bounds[key]
            free = rules.gaps(*open_, (store.span_stamps(e) for e in busy)) if open_ else []
            yield r, day, busy, free


def vacancy_of(ctx: Ctx, query: VacancyQuery) -> Vacancy:
    described: dict[str, RoomSummary] = {}
    out: list[dict[str, Any]] = []
    for r, day, busy, free in room_days(ctx, query):
        if r["id"] not in described:
            described[r["id"]] = {k: r[k] for k in SUMMARY}  # type: ignore[assignment]
        out.append({"room": described[r["id"]], "day": day,
                    "busy": [{"start": s, "end": e, "code": c}
                             for s, e, c in map(store.busy_stamp, busy)],
                    "free": [{"start": a, "end": b, "code": None} for a, b in free]})
    # Built from validated, stored records: no second validation of thousands of stretches.
    return Vacancy.model_construct(rooms=out)


def _text(value: str) -> str:
    """A JSON string's inside: stamps and booking codes need no escaping, anything else is."""
    return value if value.isascii() and value.isalnum() else json.dumps(value)[1:-1]


def _stretch(entry: str) -> str:
    s, e, c = store.busy_stamp(entry)
    return f'{{"start":"{s}","end":"{e}","code":"{_text(c)}"}}'


def vacancy_json(ctx: Ctx, query: VacancyQuery) -> bytes:
    """The same answer as `vacancy_of`, written straight to JSON: no tree of thousands of
    small dicts to build, serialise and collect (their garbage collections set the p95)."""
    parts: list[str] = []
    for r, day, busy, free in room_days(ctx, query):
        gaps = ",".join([f'{{"start":"{a}","end":"{b}","code":null}}' for a, b in free])
        parts.append(f'{{"room":{_summary_json(r)},"day":"{day.isoformat()}",'
                     f'"busy":[{",".join(map(_stretch, busy))}],"free":[{gaps}]}}')
    return ('{"rooms":[' + ",".join(parts) + "]}").encode()


@app.route("GET", "/rooms/vacancy", roles=[USER], uses=READING)
def vacancy(ctx: Ctx, query: VacancyQuery) -> Vacancy:
    """Free and busy time of every matching room over a day (or `days=7`: a week)."""
    # A Reply of ready JSON: the answer can hold thousands of intervals.
    return Reply(body=vacancy_json(ctx, query))  # type: ignore[return-value]


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
