"""Property: random sequences of book / cancel / quota changes (office quotas, date-ranged
overrides, weekly quotas) through the real host agree with a model of the rules at every step —
a booking succeeds exactly when no quota would be exceeded and the person has none that office
and day — and the counters always equal the bookings."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import date, timedelta

import pytest
from desks_helpers import ADMIN
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roost.apps.desks.rules import week_of

MONDAY = date(2026, 1, 5)
PEOPLE = 4
OFFICES = 2

book = st.tuples(st.just("book"), st.integers(0, PEOPLE - 1), st.integers(0, 9),
                 st.integers(0, OFFICES - 1), st.booleans())
cancel = st.tuples(st.just("cancel"), st.integers(0, 50))
quota = st.tuples(st.just("quota"), st.integers(0, OFFICES - 1), st.integers(0, 3),
                  st.integers(0, 2))
weekly = st.tuples(st.just("weekly"), st.integers(0, PEOPLE - 1), st.integers(0, 3))
override = st.tuples(st.just("override"), st.integers(0, OFFICES - 1), st.integers(0, 9),
                     st.integers(0, 3), st.integers(0, 3), st.integers(0, 2))
OPS = st.lists(st.one_of(book, book, book, cancel, quota, weekly, override), min_size=1,
               max_size=25)

run = itertools.count()


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    from desks_helpers import MONDAY as START
    from desks_helpers import SECRET, Desks
    from fastapi.testclient import TestClient

    from roost.apps.desks import app as desks_app
    from roost.apps.desks.config import settings as desks_settings
    from roost.cloud.clock import FrozenClock
    from roost.host.app import create_app
    from roost.host.bootstrap import bootstrap, installed_apps
    from roost.host.settings import Settings

    desks_settings.cache_clear()
    clock = FrozenClock(START)
    runtime = bootstrap(Settings(data_dir=tmp_path_factory.mktemp("seq"), secret=SECRET,
                                 run_worker=False, admin_emails=[ADMIN], log_level="warning"),
                        apps=[*installed_apps([], system=True), desks_app], clock=clock)
    yield Desks(TestClient(create_app(runtime=runtime), raise_server_exceptions=False),
                runtime, clock)
    runtime.close()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(OPS)
def test_sequences_never_exceed_a_quota_nor_double_book(host, ops):
    n = next(run)
    offices = [f"o{n}-{i}" for i in range(OFFICES)]
    people = [f"p{i}.{n}@example.com" for i in range(PEOPLE)]
    admin = host.auth(ADMIN)
    quotas = {o: (2, 1) for o in offices}
    overrides: dict[str, list[tuple[date, date, int, int]]] = {o: [] for o in offices}

    def quota_on(office: str, day: date) -> tuple[int, int]:
        covering = [(d, p) for s, e, d, p in overrides[office] if s <= day <= e]
        return covering[-1] if covering else quotas[office]

    weekly = dict.fromkeys(people, 1)
    for o in offices:
        assert host.client.post("/desks/offices", headers=admin, json={
            "id": o, "name": o, "desk_quota": 2, "parking_quota": 1}).status_code == 201
    model: dict[tuple[str, date, str], tuple[str, bool]] = {}  # -> (booking id, parking)

    for op in ops:
        if op[0] == "book":
            _, p, offset, o, parking = op
            office, email, day = offices[o], people[p], MONDAY + timedelta(days=offset)
            on_day = [v for k, v in model.items() if k[0] == office and k[1] == day]
            week = sum(1 for k in model if k[2] == email and week_of(k[1]) == week_of(day))
            broken = set()
            if (office, day, email) in model:
                broken.add("already_booked")
            if len(on_day) >= quota_on(office, day)[0]:
                broken.add("office_full")
            if parking and sum(1 for v in on_day if v[1]) >= quota_on(office, day)[1]:
                broken.add("parking_full")
            if week >= weekly[email]:
                broken.add("weekly_quota_reached")
            r = host.client.post("/desks/bookings", headers=admin, json={
                "office_id": office, "day": day.isoformat(), "parking": parking,
                "email": email})
            if broken:
                assert r.status_code == 409 and r.json()["code"] in broken, (op, r.text)
            else:
                assert r.status_code == 201, (op, r.text)
                model[(office, day, email)] = (r.json()["id"], parking)
        elif op[0] == "cancel" and model:
            key = sorted(model)[op[1] % len(model)]
            r = host.client.delete(f"/desks/bookings/{model[key][0]}", headers=admin)
            assert r.status_code == 204, r.text
            del model[key]
        elif op[0] == "quota":
            _, o, d, pk = op
            r = host.client.put(f"/desks/offices/{offices[o]}", headers=admin, json={
                "id": offices[o], "name": offices[o], "desk_quota": d, "parking_quota": pk})
            assert r.status_code == 200
            quotas[offices[o]] = (d, pk)
        elif op[0] == "override":
            _, o, start, length, d, pk = op
            first = MONDAY + timedelta(days=start)
            last = first + timedelta(days=length)
            r = host.client.post(f"/desks/offices/{offices[o]}/overrides", headers=admin, json={
                "start": first.isoformat(), "end": last.isoformat(), "desk_quota": d,
                "parking_quota": pk})
            assert r.status_code == 201, r.text
            overrides[offices[o]].append((first, last, d, pk))
        elif op[0] == "weekly":
            _, p, wq = op
            r = host.client.patch(f"/desks/people/{people[p]}", headers=admin,
                                  json={"weekly_quota": wq})
            assert r.status_code == 200
            weekly[people[p]] = wq

    counters = host.runtime.tables.table("desks_counters")
    for office in offices:
        per_day = Counter(k[1] for k in model if k[0] == office)
        parked = Counter(k[1] for k, v in model.items() if k[0] == office and v[1])
        for offset in range(10):
            day = MONDAY + timedelta(days=offset)
            item = counters.get({"pk": f"day#{office}", "sk": day.isoformat()}) or {}
            assert item.get("desks", 0) == per_day[day]
            assert item.get("parking", 0) == parked[day]
            stored = host.runtime.tables.table("desks_bookings").query(
                f"{office}#{day.isoformat()}").items
            assert sorted(b["email"] for b in stored) == sorted(
                k[2] for k in model if k[0] == office and k[1] == day)
