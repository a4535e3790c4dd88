"""Races through a real socket: many clients at once, and the store still never holds two
overlapping bookings of a room — the room-day version makes all but one writer re-decide."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import datetime, timedelta
from itertools import pairwise

import httpx
from rooms_helpers import served

START = datetime.fromisoformat("2026-01-05T10:00:00+00:00")


def race(base_url: str, requests: list[tuple[dict, dict]]) -> list[httpx.Response]:
    async def main() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(requests))
        async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as c:
            return await asyncio.gather(*(c.post("/rooms/bookings", json=body, headers=h)
                                          for body, h in requests))

    return asyncio.run(main())


def stored(host) -> list[dict]:
    return [b for b in host.runtime.tables.table("rooms_bookings").scan().items
            if b["status"] == "booked"]


def test_200_concurrent_requests_for_one_slot_book_exactly_one(atlas):
    people = [atlas.as_(f"p{i}@example.com") for i in range(20)]
    body = {"room_id": "atlas", "start": "2026-01-05T10:00:00Z", "end": "2026-01-05T11:00:00Z",
            "title": "Mine!"}
    with served(atlas.runtime) as base_url:
        answers = race(base_url, [(body, people[i % 20]) for i in range(200)])
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {201: 1, 409: 199}, statuses
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"slot_taken"}
    assert len(stored(atlas)) == 1
    assert len(atlas.pending_events("rooms.booking_created")) == 1


def test_concurrent_overlapping_requests_store_no_overlap(atlas):
    rng = random.Random(7)
    people = [atlas.as_(f"q{i}@example.com") for i in range(10)]
    requests = []
    for i in range(80):
        start = START + timedelta(minutes=15 * rng.randrange(0, 24))
        end = start + timedelta(minutes=15 * rng.randrange(1, 8))
        requests.append(({"room_id": "atlas", "start": start.isoformat(),
                          "end": end.isoformat(), "title": f"r{i}"}, people[i % 10]))
    with served(atlas.runtime) as base_url:
        answers = race(base_url, requests)
    assert {a.status_code for a in answers} <= {201, 409}
    won = sorted((b["start"], b["end"]) for b in stored(atlas))
    assert len(won) == sum(a.status_code == 201 for a in answers) >= 1
    for (_, end), (start, _) in pairwise(won):
        assert end <= start, won
    day = atlas.runtime.tables.table("rooms_days").get({"room": "atlas", "day": "2026-01-05"})
    assert sorted(tuple(b.split("|")[:2]) for b in day["busy"]) == won
