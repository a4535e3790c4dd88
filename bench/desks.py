"""The desks app's figure: booking throughput under contention through a real `roost serve`,
as a ratio to the same server's bare endpoint measured in the same run.

32 concurrent clients (one admin token, so every request may book for a different person):

1. `POST /bench/desks/constant` — parses the same booking body behind the same sign-in and
   returns a constant: the server's bare cost.
2. `POST /desks/bookings`, every request for a different person in the SAME office and day
   (quota large enough for all): every transaction updates the one day counter — the hottest
   item there is. All succeed.
3. `POST /desks/bookings`, over-subscribed: 1,000 people for the last 10 desks of a day. Ten
   succeed, 990 are refused (409 office_full).

    .venv/bin/python bench/desks.py [requests_per_round]

This module is also the bare app the server loads (`ROOST_APPS=desks,bench.desks`).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from roost.apps.desks.models import NewBooking
from roost.cloud.functions import USER, App, Ctx

app = App("desks_bench", "Desks bench", tables=[])


class Pong(BaseModel):
    ok: bool = True


@app.route("POST", "/bench/desks/constant", roles=[USER], status=201)
def constant(ctx: Ctx, body: NewBooking) -> Pong:
    """Parses a booking like `POST /desks/bookings`, then returns a constant."""
    return Pong()


ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-" + "x" * 40
ADMIN = "bench-admin@example.com"
CLIENTS = 32
ROUNDS = 2  # interleaved: a noisy neighbour hurts every endpoint alike; best round counts


def pct(samples: list[float], p: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[p - 1]


def prepare(data_dir: Path) -> str:
    """Offices and an admin token, on the data dir the server will use."""
    from roost.apps.desks import app as desks_app
    from roost.apps.desks import store
    from roost.cloud.identity import Grant
    from roost.host.bootstrap import bootstrap
    from roost.host.settings import Settings

    sys.path.insert(0, str(ROOT / "tests"))
    from support.tokens import access_token

    rt = bootstrap(Settings(data_dir=data_dir, secret=SECRET, run_worker=False,
                            log_level="warning"), apps=[desks_app, app])
    try:
        for office_id, quota in (("big", 1_000_000), *((f"last10-{r}", 10)
                                                        for r in range(ROUNDS))):
            store.create_office(rt.tables, {"id": office_id, "name": office_id, "tz": "UTC",
                                            "desk_quota": quota, "parking_quota": 0,
                                            "floors": []})
        access_token(rt.identity, ADMIN)
        rt.identity.grant(ADMIN, Grant("desks", "admin"), by="bench")
        return access_token(rt.identity, ADMIN)
    finally:
        rt.close()


async def round_(base_url: str, token: str, path: str, bodies: list[dict[str, Any]]
                 ) -> tuple[float, list[float], Counter]:
    import httpx

    lat: list[float] = []
    codes: Counter = Counter()
    queue = list(reversed(bodies))
    headers = {"Authorization": f"Bearer {token}"}

    async def client(c: httpx.AsyncClient) -> None:
        while queue:
            body = queue.pop()
            t = time.perf_counter()
            r = await c.post(path, json=body, headers=headers)
            lat.append((time.perf_counter() - t) * 1000)
            codes[r.status_code] += 1

    limits = httpx.Limits(max_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as c:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(c) for _ in range(CLIENTS)))
        return len(bodies) / (time.perf_counter() - t0), lat, codes


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    day = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        token = prepare(data / "var")
        sys.path.insert(0, str(ROOT / "tests"))
        from support.server import serve_roost

        env = {"ROOST_APPS": "desks,bench.desks", "ROOST_SECRET": SECRET,
               "ROOST_LOG_LEVEL": "warning", "ROOST_RUN_WORKER": "false",
               "ROOST_DESKS_WEEKLY_QUOTA": "7", "PYTHONPATH": str(ROOT)}
        os.environ["PYTHONPATH"] = str(ROOT)

        def bodies(office: str, tag: str, k: int = n) -> list[dict[str, Any]]:
            return [{"office_id": office, "day": day, "email": f"{tag}{i}@example.com"}
                    for i in range(k)]

        runs: dict[str, list[tuple[float, list[float], Counter]]] = {
            "bare": [], "hot": [], "full": []}
        with serve_roost(data, env) as base_url:
            asyncio.run(round_(base_url, token, "/bench/desks/constant", bodies("big", "w")))
            for r in range(ROUNDS):
                runs["bare"].append(asyncio.run(round_(
                    base_url, token, "/bench/desks/constant", bodies("big", f"a{r}-"))))
                runs["hot"].append(asyncio.run(round_(
                    base_url, token, "/desks/bookings", bodies("big", f"h{r}-"))))
                runs["full"].append(asyncio.run(round_(
                    base_url, token, "/desks/bookings", bodies(f"last10-{r}", f"f{r}-", 1000))))
        best = {k: max(v, key=lambda x: x[0]) for k, v in runs.items()}
        base_rate = best["bare"][0]
        rows = [(name, best[k][0], best[k][1], best[k][0] / base_rate, best[k][2])
                for k, name in (("bare", "POST /bench/desks/constant (bare)"),
                                ("hot", "POST /desks/bookings, one office-day"),
                                ("full", "POST /desks/bookings, 1000 for last 10"))]
        wins = [run[2][201] for run in runs["full"]]
    print(f"\nbooking throughput under contention, {CLIENTS} concurrent clients, real server")
    print(f"{'endpoint':40} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'ratio':>6}  statuses")
    for name, rate, lat, ratio, codes in rows:
        print(f"{name:40} {rate:7.0f} {pct(lat, 50):7.1f} {pct(lat, 99):7.1f} {ratio:6.2f}  "
              f"{dict(sorted(codes.items()))}")
    if wins != [10] * ROUNDS:
        raise SystemExit(f"expected exactly 10 bookings of the last 10 desks, got {wins}")


if __name__ == "__main__":
    main()
