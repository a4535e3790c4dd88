"""The rooms app's figures, each beside a baseline measured in the same run.

1. Vacancy for 500 rooms over one day with 200,000 bookings stored: p50/p95 time of
   `GET /rooms/vacancy` answered in-process (the whole server path: gate, query, rules,
   serialisation), beside a bare `GET /bench/ping` of the same host returning a constant.
   Goal: p95 under 20 ms.
2. Booking creation through HTTP: a real `roost serve` (subprocess), 32 concurrent clients each
   booking its own room slot after slot, against `POST /bench/constant` of the same server —
   same body, same sign-in, returns a constant. Goal: throughput ratio >= 0.5, p99 < 20 ms.

    .venv/bin/python bench/rooms.py [bookings_per_client]

This module is also the bare app the server loads (`ROOST_APPS=rooms,bench.rooms`).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from roost.apps.rooms.models import BookingIn
from roost.cloud.functions import USER, App, Ctx

app = App("rooms_bench", "Bench", tables=[])


class Pong(BaseModel):
    ok: bool = True


@app.route("GET", "/bench/ping", roles=[USER])
def ping(ctx: Ctx) -> Pong:
    """A constant, behind the same sign-in as the rooms API."""
    return Pong()


@app.route("POST", "/bench/constant", roles=[USER], status=201)
def constant(ctx: Ctx, body: BookingIn) -> Pong:
    """Parses a booking like `POST /rooms/bookings`, then returns a constant."""
    return Pong()


# --------------------------------------------------------------------------- helpers

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-" + "x" * 40
ROOMS, BOOKINGS, PER_DAY = 500, 200_000, 4


def pct(samples: list[float], p: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[p - 1] if p < 100 else \
        max(samples)


def sign_in(identity: Any, email: str, client: str = "127.0.0.1") -> str:
    """A real access token through the one-time-code flow (as tests/support/tokens.py)."""
    identity.request_code(email, client=client)
    pending = identity.tables.table("roost_outbox").query("pending").items
    data = [i["data"] for i in pending if i["type"] == "auth.code_requested"
            and i["data"]["email"] == email][-1]
    code = identity.code_for(data["code_id"], data["email"])
    return str(identity.verify_code(email, code, client=client).access_token)


def runtime_on(data_dir: Path, clock: Any = None) -> Any:
    from roost.apps.rooms import app as rooms_app
    from roost.host.bootstrap import bootstrap
    from roost.host.settings import Settings

    settings = Settings(data_dir=data_dir, secret=SECRET, run_worker=False,
                        log_level="warning")
    return bootstrap(settings, apps=[rooms_app, app], clock=clock)


def room(i: int, **kw: Any) -> dict[str, Any]:
    base = {"id": f"r{i:03d}", "name": f"Room {i:03d}", "site": f"Site {i % 5}", "floor": "1",
            "tz": "UTC", "capacity": 2 + i % 20, "equipment": ["screen"] if i % 2 else [],
            "photo": None, "opens": "08:00", "closes": "18:00", "weekdays": [0, 1, 2, 3, 4],
            "max_minutes": 240, "window_days": 730, "grace_minutes": None, "active": True}
    return {**base, **kw}


# --------------------------------------------------------------------------- 1. vacancy


def load(rt: Any, first_day: datetime) -> datetime:
    """200,000 bookings over 500 rooms, 4 a room-day on working days; returns a loaded day."""
    from roost.apps.rooms import rules, store
    from roost.cloud.table import Put

    for k in range(ROOMS // 50):
        store.put_rooms(rt.tables, [room(i) for i in range(k * 50, (k + 1) * 50)])
    days, day = [], first_day
    while len(days) * ROOMS * PER_DAY < BOOKINGS:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    ops: list[Any] = []
    n = 0
    for d in days:
        for i in range(ROOMS):
            busy = []
            for j in range(PER_DAY):
                start = d + timedelta(hours=8 + 2 * j + (i % 2))
                code = f"B{n:07d}"
                n += 1
                s, e = rules.stamp(start), rules.stamp(start + timedelta(hours=1))
                busy.append(f"{s}|{e}|{code}")
                ops.append(Put(store.BOOKINGS.name, {
                    "code": code, "room_id": f"r{i:03d}", "room_name": f"Room {i:03d}",
                    "tz": "UTC", "start": s, "end": e, "title": "Standup", "organiser": "u1",
                    "organiser_email": "ana@example.com", "attendees": ["ben@example.com"],
                    "status": "booked", "sequence": 0, "created_at": s, "checked_in": False,
                    "location": f"Room {i:03d}"}))
            ops.append(Put(store.DAYS.name, {"room": f"r{i:03d}", "day": d.date().isoformat(),
                                             "version": 1, "busy": busy}))
            if len(ops) >= 95:
                rt.tables.transact(ops)
                ops = []
    if ops:
        rt.tables.transact(ops)
    return days[len(days) // 2]


def bench_vacancy(work: Path) -> list[tuple[Any, ...]]:
    from fastapi.testclient import TestClient

    from roost.cloud.clock import FrozenClock
    from roost.host.app import create_app

    first = datetime(2026, 1, 5, tzinfo=UTC)
    rt = runtime_on(work / "vacancy", FrozenClock(first))
    t0 = time.perf_counter()
    day = load(rt, first)
    loaded = time.perf_counter() - t0
    print(f"loaded {BOOKINGS:,} bookings into {ROOMS} rooms in {loaded:.0f} s", flush=True)
    client = TestClient(create_app(runtime=rt))
    headers = {"Authorization": f"Bearer {sign_in(rt.identity, 'ana@example.com')}"}
    url = f"/rooms/vacancy?day={day.date().isoformat()}"
    r = client.get(url, headers=headers)
    assert r.status_code == 200 and len(r.json()["rooms"]) == ROOMS
    assert sum(len(x["busy"]) for x in r.json()["rooms"]) == ROOMS * PER_DAY

    def timings(path: str, n: int) -> list[float]:
        out = []
        for _ in range(n):
            t = time.perf_counter()
            client.get(path, headers=headers)
            out.append((time.perf_counter() - t) * 1000)
        return out

    from roost.apps.rooms import vacancy
    from roost.apps.rooms.models import VacancyQuery

    fn = rt.registry.function("rooms.vacancy")
    query = VacancyQuery(day=day.date())

    def inside(n: int) -> list[float]:
        """The function and the JSON of its answer: the server's own time, without HTTP."""
        out = []
        for _ in range(n):
            t = time.perf_counter()
            vacancy.vacancy_json(fn.context(rt.resources), query)  # what the route sends
            out.append((time.perf_counter() - t) * 1000)
        return out

    timings("/bench/ping", 20)
    base, vac, own = [], [], []
    for _ in range(3):  # interleaved rounds: a noisy neighbour hurts all alike
        base += timings("/bench/ping", 100)
        vac += timings(url, 40)
        own += inside(40)
    rt.close()
    return [("GET /bench/ping (constant)", pct(base, 50), pct(base, 95), 1.0),
            (f"GET /rooms/vacancy, {ROOMS} rooms", pct(vac, 50), pct(vac, 95),
             pct(vac, 95) / pct(base, 95)),
            ("vacancy function + JSON (no HTTP)", pct(own, 50), pct(own, 95),
             pct(own, 95) / pct(base, 95))]


# --------------------------------------------------------------------------- 2. throughput


def bench_create(work: Path, per_client: int, *, worker: bool, clients: int = 32
                 ) -> list[tuple[Any, ...]]:
    import httpx

    sys.path.insert(0, str(ROOT / "tests"))
    from roost.apps.rooms import store
    from support.server import serve_roost

    data = work / f"create-{worker}"
    rt = runtime_on(data / "var")
    store.put_rooms(rt.tables, [room(i, opens="00:00", closes="23:59",
                                     weekdays=list(range(7)), max_minutes=60)
                                for i in range(clients * 2)])
    tokens = [sign_in(rt.identity, f"c{i}@example.com", f"10.0.0.{i}") for i in range(clients)]
    rt.close()
    day0 = (datetime.now(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0,
                                                           microsecond=0)

    async def run(base_url: str, path: str, offset: int) -> tuple[float, list[float]]:
        lat: list[float] = []

        async def client(i: int, c: httpx.AsyncClient) -> None:
            h = {"Authorization": f"Bearer {tokens[i]}"}
            for k in range(per_client):
                start = day0 + timedelta(minutes=15 * k)
                body = {"room_id": f"r{offset + i:03d}", "start": start.isoformat(),
                        "end": (start + timedelta(minutes=15)).isoformat(), "title": "Bench"}
                t = time.perf_counter()
                r = await c.post(path, json=body, headers=h)
                lat.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 201, r.text

        limits = httpx.Limits(max_connections=clients)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as c:
            t0 = time.perf_counter()
            await asyncio.gather(*(client(i, c) for i in range(clients)))
            return (clients * per_client) / (time.perf_counter() - t0), lat

    env = {"ROOST_APPS": "rooms,bench.rooms", "ROOST_SECRET": SECRET,
           "ROOST_LOG_LEVEL": "warning", "PYTHONPATH": str(ROOT),
           "ROOST_RUN_WORKER": "true" if worker else "false"}
    os.environ["PYTHONPATH"] = str(ROOT)
    with serve_roost(data, env) as base_url:
        asyncio.run(run(base_url, "/bench/constant", 0))  # warm up
        bare_rate, bare = asyncio.run(run(base_url, "/bench/constant", 0))
        rate, lat = asyncio.run(run(base_url, "/rooms/bookings", 0))
        rate2, lat2 = asyncio.run(run(base_url, "/rooms/bookings", clients))
        bare_rate2, bare2 = asyncio.run(run(base_url, "/bench/constant", 0))
    bare_rate, rate = max(bare_rate, bare_rate2), max(rate, rate2)
    bare, lat = bare + bare2, lat + lat2
    return [("POST /bench/constant (constant)", bare_rate, pct(bare, 50), pct(bare, 99), 1.0),
            ("POST /rooms/bookings", rate, pct(lat, 50), pct(lat, 99), rate / bare_rate)]


def main() -> None:
    """`bench/rooms.py [bookings_per_client] [create|vacancy]` (both by default)."""
    per_client = int(sys.argv[1]) if len(sys.argv) > 1 else 25
    only = sys.argv[2] if len(sys.argv) > 2 else None
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for worker in (False, True) if only in (None, "create") else ():
            rows = bench_create(work, per_client, worker=worker)
            where = ("mails sent by the dispatcher inside the same server" if worker else
                     "mails left to `roost worker`, not running")
            print(f"\nbooking creation through HTTP, 32 concurrent clients, {where} "
                  f"({32 * per_client} requests per round, best of 2)")
            print(f"{'endpoint':34} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6}")
            for name, r, p50, p99, ratio in rows:
                print(f"{name:34} {r:8.0f} {p50:8.1f} {p99:8.1f} {ratio:6.2f}")
        if only == "create":
            return
        vac = bench_vacancy(work)
        print(f"\nvacancy of one day, {ROOMS} rooms, {BOOKINGS:,} bookings stored (in-process)")
        print(f"{'endpoint':34} {'p50 ms':>8} {'p95 ms':>8} {'p95 ratio':>10}")
        for name, p50, p95, ratio in vac:
            print(f"{name:34} {p50:8.1f} {p95:8.1f} {ratio:10.1f}")


if __name__ == "__main__":
    main()
