"""Recurring bookings: every occurrence checked, conflicts listed, book the free ones or none;
cancel one occurrence or the series; a series longer than a year is refused."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rooms_helpers import ANA, BEN

from roost.apps.rooms import rules
from roost.cloud.errors import Invalid


def series(host, repeat: dict, *, who: str = ANA, **extra):
    body = {"room_id": "atlas", "start": "2026-01-05T10:00:00Z", "end": "2026-01-05T11:00:00Z",
            "title": "Weekly", "repeat": repeat, **extra}
    return host.client.post("/rooms/series", json=body, headers=host.as_(who))


def booked(host) -> list[dict]:
    return [b for b in host.runtime.tables.table("rooms_bookings").scan().items
            if b["status"] == "booked"]


def test_weekly_on_chosen_days_until_a_date(atlas):
    r = series(atlas, {"freq": "weekly", "weekdays": [0, 2], "until": "2026-01-21"})
    assert r.status_code == 201, r.text
    starts = [b["start"] for b in r.json()["booked"]]
    assert starts == ["2026-01-05T10:00:00Z", "2026-01-07T10:00:00Z", "2026-01-12T10:00:00Z",
                      "2026-01-14T10:00:00Z", "2026-01-19T10:00:00Z", "2026-01-21T10:00:00Z"]
    assert {b["series"] for b in r.json()["booked"]} == {r.json()["series"]}
    assert len(atlas.pending_events("rooms.booking_created")) == 6


def test_conflicts_are_listed_and_nothing_is_booked_unless_asked(atlas):
    atlas.book("2026-01-07T10:30:00Z", "2026-01-07T11:30:00Z", who=BEN)
    repeat = {"freq": "daily", "count": 7}  # Mon..Sun: Sat and Sun are closed
    r = series(atlas, repeat)
    assert r.status_code == 409 and r.json()["code"] == "series_conflicts"
    assert [(s["start"][:10], s["code"]) for s in r.json()["skipped"]] == [
        ("2026-01-07", "slot_taken"), ("2026-01-10", "closed_day"), ("2026-01-11", "closed_day")]
    assert len(booked(atlas)) == 1  # only Ben's
    r = series(atlas, repeat, on_conflict="skip")
    assert r.status_code == 201
    assert [b["start"][:10] for b in r.json()["booked"]] == [
        "2026-01-05", "2026-01-06", "2026-01-08", "2026-01-09"]
    assert len(r.json()["skipped"]) == 3


def test_cancel_one_occurrence_or_the_rest_of_the_series(atlas):
    out = series(atlas, {"freq": "weekly", "count": 4}).json()
    first, second = out["booked"][0]["code"], out["booked"][1]["code"]
    assert atlas.client.delete(f"/rooms/bookings/{second}",
                               headers=atlas.as_(ANA)).status_code == 200
    r = atlas.client.delete(f"/rooms/series/{out['series']}", headers=atlas.as_(BEN))
    assert r.status_code == 403
    r = atlas.client.delete(f"/rooms/series/{out['series']}", headers=atlas.as_(ANA))
    assert r.status_code == 200 and len(r.json()["bookings"]) == 3
    assert booked(atlas) == []
    assert atlas.client.delete("/rooms/series/nope", headers=atlas.as_(ANA)).status_code == 404
    assert first


def test_a_ten_year_recurrence_is_refused_and_writes_nothing(atlas):
    for repeat in ({"freq": "daily", "until": "2036-01-05"}, {"freq": "weekly", "count": 520},
                   {"freq": "weekly"}, {"freq": "daily", "until": "2026-01-01"},
                   {"freq": "monthly", "count": 3}):
        r = series(atlas, repeat)
        assert r.status_code == 422, (repeat, r.text)
    assert booked(atlas) == []
    assert atlas.pending_events("rooms.booking_created") == []


def test_occurrences_keep_local_time_across_daylight_saving():
    start = datetime.fromisoformat("2026-03-23T09:00:00+01:00")  # Berlin, winter time
    occ = rules.occurrences(start, start + timedelta(hours=1), "Europe/Berlin", freq="weekly",
                            weekdays=[], until=date(2026, 4, 6), count=None)
    assert [s.isoformat() for s, _ in occ] == ["2026-03-23T08:00:00+00:00",
                                                 "2026-03-30T07:00:00+00:00",
                                                 "2026-04-06T07:00:00+00:00"]
    with pytest.raises(Invalid):
        rules.occurrences(start, start, "UTC", freq="daily", weekdays=[], until=None, count=400)


@settings(max_examples=60, deadline=None)
@given(first=st.dates(date(2026, 1, 1), date(2026, 12, 31)), hour=st.integers(0, 22),
       days=st.lists(st.integers(0, 6), max_size=7), count=st.integers(1, 50),
       tz=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney"]))
def test_occurrences_keep_their_wall_time_days_and_count(first, hour, days, count, tz):
    zone = ZoneInfo(tz)
    start = datetime.combine(first, time(hour), tzinfo=zone)
    occ = rules.occurrences(start, start + timedelta(hours=1), tz, freq="weekly",
                            weekdays=days, until=None, count=count)
    assert len(occ) == count
    chosen = set(days) or {first.weekday()}
    local = [s.astimezone(zone) for s, _ in occ]
    assert all(t.weekday() in chosen for t in local)
    assert all(t.date() >= first for t in local)
    assert [t.date() for t in local] == sorted({t.date() for t in local})
    # the wall-clock hour holds, except where a daylight-saving gap skips it
    assert sum(t.hour == hour for t in local) >= count - 2
