"""`roost check` for rooms: a clean store passes; a stored overlap or a booking that lost its
room-day is found. (The corruptions are written under the store, as only a bug or a hand edit
could.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from roost.apps.rooms import rules, store
from roost.host.checks import run_checks

MONDAY_10 = "2026-01-05T10:00"


def _findings(host) -> list[str]:
    return [f.problem for f in run_checks(host.runtime, max_event_age=timedelta(days=365))
            if f.check == "rooms.no_double_bookings"]


def test_bookings_changes_and_cancellations_keep_the_store_consistent(atlas):
    a = atlas.book(MONDAY_10, "2026-01-05T11:00").json()
    b = atlas.book("2026-01-05T11:00", "2026-01-05T12:00").json()
    cancelled = atlas.client.delete(f"/rooms/bookings/{b['code']}",
                                    headers=atlas.as_("ana@example.com"))
    assert cancelled.status_code < 300, cancelled.text
    assert a["code"] and _findings(atlas) == []


def test_a_stored_overlap_is_found(atlas):
    code = atlas.book(MONDAY_10, "2026-01-05T11:00").json()["code"]
    days = atlas.runtime.tables.table(store.DAYS.name)
    [(room_id, day)] = store.all_room_days(atlas.runtime.tables)
    [span] = store.spans(day)
    intruder = rules.Span(span.start + timedelta(minutes=30), span.end + timedelta(minutes=30),
                          "ZZZZZZ")
    days.update({"room": room_id, "day": day["day"]},
                set={"busy": [store.busy_entry(span), store.busy_entry(intruder)]})
    found = _findings(atlas)
    assert f"room atlas on 2026-01-05: bookings {code} and ZZZZZZ overlap" in found


def test_a_booking_missing_from_its_room_day_is_found(atlas):
    code = atlas.book(MONDAY_10, "2026-01-05T11:00").json()["code"]
    days = atlas.runtime.tables.table(store.DAYS.name)
    [(room_id, day)] = store.all_room_days(atlas.runtime.tables)
    days.update({"room": room_id, "day": day["day"]}, set={"busy": []})
    assert _findings(atlas) == [f"booking {code} (booked) is missing from its room-day"]


def test_blockings_may_close_a_room_over_bookings(atlas):
    assert rules.double_bookings([
        rules.Span(*_hour(10), "AAAAAA"), rules.Span(*_hour(10), rules.BLOCK_PREFIX + "x")]) == []


def _hour(h: int) -> tuple[datetime, datetime]:
    start = datetime(2026, 1, 5, h, tzinfo=UTC)
    return start, start + timedelta(hours=1)
