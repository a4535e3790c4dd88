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

    with desks.client as client:  # one event loop for every thread, as a server has

        def post(body: dict[str, Any]) -> tuple[int, str]:
            r = client.post("/desks/bookings", headers=headers, json=body)
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


# ------------------------------------------------------------------ the transaction alone
# Over HTTP most late requests are refused by the read before the transaction. Here every
# contender has read the same state (a barrier) and goes straight to the one transaction, so
# the conditional counter updates alone decide — a missing condition fails these every time.


def commit_all(desks, plans_and_items) -> Counter:
    from threading import Barrier

    from roost.apps.desks import store
    from roost.cloud.errors import Conflict

    barrier = Barrier(len(plans_and_items))

    def commit(pair) -> str:
        plan, item = pair
        barrier.wait()
        try:
            store.commit_booking(desks.runtime.tables, plan, item)
        except Conflict as exc:
            return exc.code
        except store.Stale:
            return "stale"
        return "booked"

    with ThreadPoolExecutor(len(plans_and_items)) as pool:
        return Counter(pool.map(commit, plans_and_items))


def plans(desks, office_id: str, emails: list[str], days: list[str], *, parking: bool,
          weekly: int = 1, person_version: int | None = None):
    from datetime import date

    from roost.apps.desks import store
    from roost.apps.desks.rules import Quotas

    office = store.office(desks.runtime.tables, office_id)
    out = []
    for i, (email, day) in enumerate(zip(emails, days, strict=True)):
        plan = store.Plan(office_version=office["version"], person_version=person_version,
                          quotas=Quotas(office["desk_quota"], office["parking_quota"]),
                          weekly_quota=weekly)
        item = store.booking_item(booking_id=f"B{i:04d}", office=office,
                                  day=date.fromisoformat(day), email=email, parking=parking,
                                  reason=None, created_at="t", created_by="test")
        out.append((plan, item))
    return out


def test_transaction_alone_desks(make_desks):
    desks = make_desks()
    desks.office("hq", desks=10, parking=0)
    emails = [f"p{i}@example.com" for i in range(60)]
    got = commit_all(desks, plans(desks, "hq", emails, [DAY] * 60, parking=False))
    assert got == Counter({"booked": 10, "office_full": 50})
    assert_counters_match(desks, "hq", DAY)


def test_transaction_alone_weekly_quota(make_desks):
    desks = make_desks()
    desks.office("hq", desks=10, parking=0)
    from roost.apps.desks import store

    person = store.change_person(desks.runtime.tables, "ana@example.com", set={})
    days = [f"2026-01-{d:02d}" for d in range(5, 12)]
    got = commit_all(desks, plans(desks, "hq", ["ana@example.com"] * 7, days, parking=False,
                                  person_version=person["version"]))
    assert got == Counter({"booked": 1, "weekly_quota_reached": 6})


def test_transaction_alone_parking(make_desks):
    desks = make_desks()
    desks.office("hq", desks=100, parking=2)
    emails = [f"p{i}@example.com" for i in range(40)]
    got = commit_all(desks, plans(desks, "hq", emails, [DAY] * 40, parking=True))
    assert got == Counter({"booked": 2, "parking_full": 38})
    assert_counters_match(desks, "hq", DAY)
