"""A property over random sequences of create, change and cancel through the real host: the
store never holds two overlapping bookings of a room, and every answer matches a model that
knows only the overlap rule."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rooms_helpers import ANA

BASE = datetime.fromisoformat("2026-01-05T10:00:00+00:00")
ops = st.lists(st.one_of(
    st.tuples(st.just("create"), st.integers(0, 15), st.integers(1, 6)),
    st.tuples(st.just("change"), st.integers(0, 20), st.integers(0, 15), st.integers(1, 6)),
    st.tuples(st.just("cancel"), st.integers(0, 20)),
), min_size=1, max_size=14)
rooms = itertools.count()


def when(slot: int, length: int) -> tuple[str, str]:
    start = BASE + timedelta(minutes=15 * slot)
    return start.isoformat(), (start + timedelta(minutes=15 * length)).isoformat()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=ops)
def test_random_sequences_never_store_an_overlap(atlas, sequence):
    room = f"r{next(rooms)}"
    atlas.add_room(id=room, name=room)
    headers = atlas.as_(ANA)
    model: dict[str, tuple[datetime, datetime]] = {}  # code -> live interval
    codes: list[str] = []

    def free(start: datetime, end: datetime, ignore: str | None = None) -> bool:
        return all(not (s < end and start < e) for c, (s, e) in model.items() if c != ignore)

    for op in sequence:
        if op[0] == "create":
            start, end = when(op[1], op[2])
            r = atlas.client.post("/rooms/bookings", headers=headers, json={
                "room_id": room, "start": start, "end": end, "title": "t"})
            s, e = datetime.fromisoformat(start), datetime.fromisoformat(end)
            assert r.status_code == (201 if free(s, e) else 409), r.text
            if r.status_code == 201:
                model[r.json()["code"]] = (s, e)
                codes.append(r.json()["code"])
        elif not codes:
            continue
        elif op[0] == "change":
            code = codes[op[1] % len(codes)]
            start, end = when(op[2], op[3])
            r = atlas.client.patch(f"/rooms/bookings/{code}", headers=headers,
                                   json={"start": start, "end": end})
            s, e = datetime.fromisoformat(start), datetime.fromisoformat(end)
            if code not in model:
                assert r.status_code == 409
            else:
                assert r.status_code == (200 if free(s, e, code) else 409), r.text
                if r.status_code == 200:
                    model[code] = (s, e)
        else:
            code = codes[op[1] % len(codes)]
            r = atlas.client.delete(f"/rooms/bookings/{code}", headers=headers)
            assert r.status_code == (200 if code in model else 409)
            model.pop(code, None)
        day = atlas.runtime.tables.table("rooms_days").get({"room": room, "day": "2026-01-05"})
        busy = sorted(tuple(b.split("|")[:2]) for b in (day or {}).get("busy", []))
        for (_, e1), (s2, _) in pairwise(busy):
            assert e1 <= s2, busy
        assert len(busy) == len(model)
