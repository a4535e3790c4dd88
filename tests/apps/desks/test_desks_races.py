"""Races: many clients at once against the real host (threads through its ASGI app, real SQLite
underneath). Exactly the allowed number win; everyone else gets the rule's 409; the counters
end equal to the bookings."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from desks_helpers import ADMIN

THREADS = 24
DAY = "2026-01-06"


def race(desks, bodies: list[dict[str, Any]], who: str) -> Counter:
    headers = desks.auth(who)

    def post(body: dict[str, Any]) -> tuple[int, str]:
        r = desks.client.post("/desks/bookings", headers=headers, json=body)
        return r.status_code, r.json().get("code", "") if r.status_code != 201 else ""

    with ThreadPoolExecutor(THREADS) as pool:
        return Counter(pool.map(post, bodies))


def assert_counters_match(desks, office_id: str, day: str) -> None:
    bookings = desks.runtime.tables.table("desks_bookings").query(f"{office_id}#{day}").items
    counter = desks.runtime.tables.table("desks_counters").get(
        {"pk": f"day#{office_id}", "sk": day}) or {}
    assert counter.get("desks", 0) == len(bookings)
    assert counter.get("parking", 0) == sum(1 for b in bookings if b["parking"])


def test_a_thousand_requests_for_the_last_ten_desks_book_exactly_ten(make_desks):
    desks = make_desks()
    desks.office("hq", desks=50, parking=0)
    for i in range(40):
        assert desks.book(ADMIN, DAY, email=f"early{i}@example.com").status_code == 201
    bodies = [{"office_id": "hq", "day": DAY, "email": f"p{i}@example.com"}
              for i in range(1000)]
    results = race(desks, bodies, ADMIN)
    assert results == Counter({(201, ""): 10, (409, "office_full"): 990})
    assert_counters_match(desks, "hq", DAY)


def test_one_person_racing_twenty_requests_against_a_weekly_quota_of_one(make_desks):
    desks = make_desks()
    for office_id in ("a", "b", "c"):
        desks.office(office_id, desks=10)
    days = [f"2026-01-{d:02d}" for d in range(5, 12)]  # Monday to Sunday
    bodies = [{"office_id": o, "day": d} for o in ("a", "b", "c") for d in days][:20]
    results = race(desks, bodies, "ana@example.com")
    assert results == Counter({(201, ""): 1, (409, "weekly_quota_reached"): 19})
    week = desks.runtime.tables.table("desks_counters").get(
        {"pk": "week#ana@example.com", "sk": "2026-01-05"})
    assert week is not None and week["n"] == 1


def test_one_person_racing_the_same_day_gets_one_booking(make_desks):
    desks = make_desks()
    desks.office("hq", desks=10)
    bodies = [{"office_id": "hq", "day": DAY}] * 20
    results = race(desks, bodies, "ana@example.com")
    assert results[(201, "")] == 1 and sum(results.values()) == 20
    assert set(results) <= {(201, ""), (409, "already_booked"), (409, "weekly_quota_reached")}
    assert_counters_match(desks, "hq", DAY)


def test_two_hundred_requests_for_the_last_two_parking_spaces(make_desks):
    desks = make_desks()
    desks.office("hq", desks=500, parking=3)
    assert desks.book(ADMIN, DAY, parking=True, email="early@example.com").status_code == 201
    bodies = [{"office_id": "hq", "day": DAY, "parking": True, "email": f"p{i}@example.com"}
              for i in range(200)]
    results = race(desks, bodies, ADMIN)
    assert results == Counter({(201, ""): 2, (409, "parking_full"): 198})
    assert_counters_match(desks, "hq", DAY)
