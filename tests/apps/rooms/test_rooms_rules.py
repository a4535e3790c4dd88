"""The pure rules: slots, overlaps, free time, who may change — with hypothesis where a
property says more than examples."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.apps.rooms import rules
from roost.apps.rooms.rules import Hours, Span
from roost.cloud.errors import Conflict, Forbidden, Invalid

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday
DAY = date(2026, 1, 5)
BASE = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return BASE + timedelta(minutes=minutes)


spans = st.lists(st.tuples(st.integers(0, 600), st.integers(1, 240)), max_size=12)


def disjoint(raw: list[tuple[int, int]]) -> list[Span]:
    """Spans from raw (start, length) pairs, keeping only those that fit beside the earlier."""
    out: list[Span] = []
    for i, (s, n) in enumerate(raw):
        span = Span(at(s), at(s + n), f"b{i}")
        if not rules.overlapping(out, span.start, span.end):
            out.append(span)
    return out


@given(a=st.tuples(st.integers(0, 600), st.integers(1, 240)),
       b=st.tuples(st.integers(0, 600), st.integers(1, 240)))
def test_overlap_is_symmetric_and_half_open(a, b):
    x, y = Span(at(a[0]), at(a[0] + a[1]), "x"), Span(at(b[0]), at(b[0] + b[1]), "y")
    assert bool(rules.overlapping([x], y.start, y.end)) == \
        bool(rules.overlapping([y], x.start, x.end))
    assert not rules.overlapping([x], x.end, x.end + timedelta(minutes=5))
    assert rules.overlapping([x], x.start, x.end, ignore="x") == []


@settings(max_examples=200)
@given(raw=spans)
def test_free_time_is_exactly_the_open_hours_not_busy(raw):
    hours = Hours(opens=time(8), closes=time(18))
    busy = disjoint(raw)
    free = rules.free_spans(hours, DAY, busy)
    # free spans are ordered, disjoint, inside the opening hours, and touch no busy span
    for a, b in free:
        assert at(0) <= a < b <= at(600)
        assert not rules.overlapping(busy, a, b)
    for (_, e1), (s2, _) in pairwise(free):
        assert e1 < s2
    # every minute of the opening hours is either free or busy
    for m in range(0, 600, 7):
        t = at(m)
        in_free = any(a <= t < b for a, b in free)
        in_busy = any(s.start <= t < s.end for s in busy)
        assert in_free != in_busy, m


def test_free_time_on_a_closed_day_is_none():
    assert rules.free_spans(Hours(), date(2026, 1, 10), []) == []
    assert rules.free_spans(Hours(active=False), DAY, []) == []


def test_free_time_follows_the_rooms_time_zone():
    berlin = Hours(tz="Europe/Berlin", opens=time(8), closes=time(18))
    [(a, b)] = rules.free_spans(berlin, DAY, [])
    assert (a, b) == (datetime(2026, 1, 5, 7, tzinfo=UTC), datetime(2026, 1, 5, 17, tzinfo=UTC))


@pytest.mark.parametrize(("start", "minutes", "code"), [
    (NOW + timedelta(hours=1), 0, "end_before_start"),
    (NOW - timedelta(minutes=1), 30, "in_the_past"),
    (NOW + timedelta(hours=1), 241, "too_long"),
    (NOW + timedelta(days=91), 30, "beyond_window"),
    (datetime(2026, 1, 10, 10, tzinfo=UTC), 30, "closed_day"),
    (datetime(2026, 1, 5, 17, 45, tzinfo=UTC), 30, "outside_hours"),
    (datetime(2026, 1, 6, 7, 45, tzinfo=UTC), 30, "outside_hours"),
])
def test_check_slot_names_the_broken_rule(start, minutes, code):
    with pytest.raises(Invalid) as exc:
        rules.check_slot(Hours(), start, start + timedelta(minutes=minutes), NOW)
    assert exc.value.code == code


def test_check_slot_accepts_the_edges():
    rules.check_slot(Hours(), NOW, datetime(2026, 1, 5, 13, tzinfo=UTC), NOW)  # 240 min
    rules.check_slot(Hours(), datetime(2026, 1, 5, 17, tzinfo=UTC),
                     datetime(2026, 1, 5, 18, tzinfo=UTC), NOW)
    with pytest.raises(Invalid) as exc:
        rules.check_slot(Hours(active=False), NOW, NOW + timedelta(hours=1), NOW)
    assert exc.value.code == "room_inactive"


@given(start=st.integers(0, 600), length=st.integers(1, 600))
def test_check_slot_never_admits_a_slot_outside_the_hours(start, length):
    try:
        rules.check_slot(Hours(max_minutes=1440), at(start), at(start + length), NOW)
    except Invalid:
        return
    assert at(0) <= at(start) and at(start + length) <= at(600) and at(start) >= NOW


def test_a_naive_time_is_the_rooms_local_time():
    assert rules.utc(datetime(2026, 7, 1, 10), "Europe/Berlin") == \
        datetime(2026, 7, 1, 8, tzinfo=UTC)
    assert rules.stamp(datetime(2026, 7, 1, 10, tzinfo=UTC)) == "2026-07-01T10:00:00Z"
    assert rules.unstamp("2026-07-01T10:00:00Z") == datetime(2026, 7, 1, 10, tzinfo=UTC)
    late = datetime(2026, 1, 5, 23, 30, tzinfo=UTC)
    assert rules.local_day(late, Hours(tz="Europe/Berlin")) == date(2026, 1, 6)


def test_check_free_lists_the_conflicts():
    busy = [Span(at(60), at(120), "a")]
    rules.check_free(busy, at(0), at(60))
    with pytest.raises(Conflict) as exc:
        rules.check_free(busy, at(90), at(150))
    assert exc.value.code == "slot_taken"
    assert exc.value.extra["conflicts"] == [{"start": "2026-01-05T09:00:00Z",
                                             "end": "2026-01-05T10:00:00Z"}]


def test_only_the_organiser_or_an_admin_may_change():
    rules.may_change("u1", "u1", is_admin=False)
    rules.may_change("u1", "u2", is_admin=True)
    with pytest.raises(Forbidden):
        rules.may_change("u1", "u2", is_admin=False)


def test_check_in_window():
    start = at(120)
    closes = rules.release_due(start)
    assert closes == start + timedelta(minutes=15)
    assert not rules.may_check_in(start, closes, start - timedelta(minutes=16))
    assert rules.may_check_in(start, closes, start - timedelta(minutes=15))
    assert rules.may_check_in(start, closes, closes - timedelta(seconds=1))
    assert not rules.may_check_in(start, closes, closes)


def test_occupied_minutes_count_each_reading_until_the_next_at_most_15():
    def r(m: int, occupied: bool) -> tuple[datetime, bool]:
        return at(m), occupied

    assert rules.occupied_minutes([]) == 0
    assert rules.occupied_minutes([r(0, True), r(10, True), r(40, False)]) == 25
    assert rules.occupied_minutes([r(0, False), r(5, True)]) == 15
