"""Mixed traffic against a real `roost serve --demo` on loopback, beside `/health` on the same
server in the same run.

Two phases, the same number of concurrent clients:

1. `GET /health` alone — the near-bare endpoint (routing, middleware, one SQLite read): the
   server's ceiling on this machine, now.
2. A realistic mix, `/health` included: password sign-ins (argon2) and code requests from many
   client addresses (127.0.0.x, so per-address rate limits behave as with real people), page
   views, room vacancy and free-room searches, room bookings and cancellations, desk bookings
   and cancellations, image uploads (which the worker then processes in the same process) and
   listings.

It prints requests/s and p50/p95/p99 per route, each route's p50 as a multiple of `/health`'s in
the mix, the mix's throughput as a ratio to phase 1, and the error count (5xx and transport
errors; 4xx such as a full office are expected answers and shown per route). Bounded by count
and time; it stops by itself.

    .venv/bin/python bench/load.py [--requests 3000] [--seconds 30] [--clients 16]
    .venv/bin/python bench/load.py --soak 3600      # the mix for an hour: server RSS growth
"""

from __future__ import annotations

import argparse
import asyncio
import io
import itertools
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench")]

from _util import percentile, table  # noqa: E402

SECRET = "load-secret-" + "x" * 40
ADMIN = "load-admin@example.com"
USERS = 20
PASSWORD_USERS = 6
PASSWORD = "Load test pass 2026!"
ADDRESSES = [f"127.0.0.{i}" for i in range(2, 202)]
ROOMS = [("atlas", "Europe/Berlin"), ("boreal", "Europe/Berlin"), ("cirrus", "Europe/Berlin"),
         ("delta", "Europe/Berlin"), ("ember", "Europe/London"), ("fjord", "Europe/London"),
         ("gale", "Europe/London"), ("harbour", "Europe/London")]
OFFICES = ("london", "new-york")
Action = Callable[[httpx.AsyncClient], Awaitable[tuple[str, int]]]
"""One request of the mix: sends it, returns (route, status)."""


# --------------------------------------------------------------------------- the server


def prepare(data_dir: Path) -> dict[str, Any]:
    """Sessions (access and refresh tokens) and password accounts, made in-process on the data
    dir before the server starts."""
    from roost.cloud.events import OUTBOX
    from roost.cloud.local.identity import SIGNUP_EVENT
    from roost.host.bootstrap import bootstrap
    from roost.host.settings import Settings

    settings = Settings(data_dir=data_dir, secret=SECRET, admin_emails=[ADMIN],
                        run_worker=False)
    with bootstrap(settings) as rt:
        users = [_session(rt.identity, f"user{i}@example.com", client=f"minter-{i}")
                 for i in range(USERS)]
        admin = _session(rt.identity, ADMIN, client="minter-admin")
        for i in range(PASSWORD_USERS):
            who = f"pw{i}@example.com"
            rt.identity.sign_up(who, PASSWORD, client=f"minter-pw{i}")
            data = [e["data"] for e in rt.tables.table(OUTBOX.name).query("pending").items
                    if e["type"] == SIGNUP_EVENT and e["data"]["email"] == who][-1]
            rt.identity.confirm_sign_up(who, rt.identity.code_for(data["code_id"], who),
                                        client=f"minter-pw{i}")
    return {"users": users, "admin": admin}


def _session(identity: Any, email: str, *, client: str) -> tuple[str, str]:
    """(access token, refresh token) of a code sign-in, reading the code the mail would send."""
    from roost.cloud.events import OUTBOX

    identity.request_code(email, client=client)
    data = [i["data"] for i in identity.tables.table(OUTBOX.name).query("pending").items
            if i["type"] == "auth.code_requested" and i["data"]["email"] == email][-1]
    tokens = identity.verify_code(email, identity.code_for(data["code_id"], email),
                                  client=client)
    return tokens.access_token, tokens.refresh_token


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    base_url: str

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0


def start(data_dir: Path, log: Path) -> Server:
    from support.server import _wait_for_health, free_port

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    env.update({"ROOST_DATA_DIR": str(data_dir), "ROOST_SECRET": SECRET,
                "ROOST_ADMIN_EMAILS": ADMIN, "ROOST_BASE_URL": base_url,
                "ROOST_LOG_FORMAT": "json"})
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "roost.host.cli", "serve", "--demo",
                                 "--host", "127.0.0.1", "--port", str(port)], env=env,
                                cwd=data_dir.parent, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    _wait_for_health(proc, base_url, log)
    return Server(proc, base_url)


def stop(server: Server) -> None:
    server.proc.send_signal(signal.SIGTERM)
    try:
        server.proc.wait(15)
    except subprocess.TimeoutExpired:
        server.proc.kill()


# --------------------------------------------------------------------------- the traffic


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    errors: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.perf_counter)
    ended: float = 0.0

    def record(self, route: str, status: int, seconds: float) -> None:
        self.latencies[route].append(seconds * 1000)
        self.statuses[route][status] += 1
        if status >= 500:
            self.errors[f"{route} -> {status}"] += 1

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    @property
    def seconds(self) -> float:
        return (self.ended or time.perf_counter()) - self.started


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.effect_noise((96, 96), 50).convert("RGB").save(out, "PNG")
    return out.getvalue()


class Traffic:
    """The mix: a weighted choice per request, with the state writes need (free slots, the
    bookings there are to cancel). Seeded, so two runs send the same requests. Every
    `REFRESH_EVERY` seconds the clients refresh their sessions, as real ones do: access tokens
    live 15 minutes, and a soak with stale tokens measures nothing but 401s."""

    REFRESH_EVERY = 600.0

    def __init__(self, base_url: str, tokens: dict[str, Any], seed: int = 8) -> None:
        self.base_url = base_url
        self.users = [{"Authorization": f"Bearer {a}"} for a, _ in tokens["users"]]
        self.admin = {"Authorization": f"Bearer {tokens['admin'][0]}"}
        self.sessions = [(h, r) for h, (_, r) in zip([*self.users, self.admin],
                                                     [*tokens["users"], tokens["admin"]],
                                                     strict=True)]
        self.refreshed = time.perf_counter()
        self.refreshing = False
        self.rng = random.Random(seed)
        self.png = _png()
        self.slots = self._slots(date.today() + timedelta(days=7))
        desk_days = [date.today() + timedelta(days=i) for i in range(1, 14)]
        self.desk_days = [d for d in desk_days if d.weekday() < 5]
        self.room_bookings: list[tuple[dict[str, str], str]] = []
        self.desk_bookings: list[str] = []
        self.counter = itertools.count()
        self.actions: list[tuple[int, Action]]
        self.actions = [
            (10, self.health), (2, self.sign_in), (1, self.request_code),
            (5, self.page_home), (6, self.page_rooms), (5, self.page_desks),
            (3, self.page_gallery), (12, self.vacancy), (6, self.free_rooms),
            (10, self.book_room), (4, self.cancel_room), (5, self.offices),
            (7, self.book_desk), (3, self.cancel_desk), (2, self.upload_image),
            (4, self.list_images), (4, self.my_bookings),
        ]
        self.weights = [w for w, _ in self.actions]

    @staticmethod
    def _slots(start: date) -> Iterator[tuple[str, str, date, int]]:
        """Half-hours from 09:00 on the weekdays of 80 days (inside the rooms' 90-day booking
        window), again and again: an hour's soak tries ~30,000 bookings, more than there are
        slots, so after the first pass only the slots cancellations freed are booked and the
        rest are 409s (a full calendar), not 422s past the window nor the end of the run
        (StopIteration inside a coroutine)."""
        days = [start + timedelta(days=i) for i in range(80)]
        return itertools.cycle([(room, tz, d, s) for d in days if d.weekday() < 5
                                for s in range(16) for room, tz in ROOMS])

    def pick(self) -> Action:
        if not self.refreshing and time.perf_counter() - self.refreshed > self.REFRESH_EVERY:
            self.refreshing = True
            return self.refresh
        return self.rng.choices([a for _, a in self.actions], self.weights)[0]

    def user(self) -> dict[str, str]:
        return self.rng.choice(self.users)

    async def refresh(self, c: httpx.AsyncClient) -> tuple[str, int]:
        """New tokens for every client (each refresh token works once); the worst status."""
        worst = 200
        try:
            for i, (headers, token) in enumerate(self.sessions):
                r = await c.post("/auth/refresh", json={"refresh_token": token})
                worst = max(worst, r.status_code)
                if r.status_code == 200:
                    body = r.json()
                    headers["Authorization"] = f"Bearer {body['access_token']}"
                    self.sessions[i] = (headers, body["refresh_token"])
        finally:
            self.refreshed = time.perf_counter()
            self.refreshing = False
        return "POST /auth/refresh (all clients)", worst

    async def health(self, c: httpx.AsyncClient) -> tuple[str, int]:
        return "GET /health", (await c.get("/health")).status_code

    async def sign_in(self, c: httpx.AsyncClient) -> tuple[str, int]:
        who = f"pw{self.rng.randrange(PASSWORD_USERS)}@example.com"
        r = await self._from_elsewhere("/auth/signin", {"email": who, "password": PASSWORD})
        return "POST /auth/signin", r

    async def request_code(self, c: httpx.AsyncClient) -> tuple[str, int]:
        r = await self._from_elsewhere("/auth/code",
                                       {"email": f"visitor{next(self.counter)}@example.com"})
        return "POST /auth/code", r

    async def _from_elsewhere(self, path: str, body: dict[str, Any]) -> int:
        """A request from one of many client addresses (per-address limits are per person)."""
        transport = httpx.AsyncHTTPTransport(local_address=self.rng.choice(ADDRESSES))
        async with httpx.AsyncClient(base_url=self.base_url, transport=transport,
                                     timeout=60) as other:
            return (await other.post(path, json=body)).status_code

    async def page_home(self, c: httpx.AsyncClient) -> tuple[str, int]:
        return "GET / (page)", (await c.get("/", headers=self.user())).status_code

    async def page_rooms(self, c: httpx.AsyncClient) -> tuple[str, int]:
        return "GET /rooms (page)", (await c.get("/rooms", headers=self.user())).status_code

    async def page_desks(self, c: httpx.AsyncClient) -> tuple[str, int]:
        return "GET /desks (page)", (await c.get("/desks", headers=self.user())).status_code

    async def page_gallery(self, c: httpx.AsyncClient) -> tuple[str, int]:
        r = await c.get("/images/gallery", headers=self.user())
        return "GET /images/gallery (page)", r.status_code

    async def vacancy(self, c: httpx.AsyncClient) -> tuple[str, int]:
        day = date.today() + timedelta(days=self.rng.randrange(1, 14))
        r = await c.get("/rooms/vacancy", params={"day": day.isoformat()}, headers=self.user())
        return "GET /rooms/vacancy", r.status_code

    async def free_rooms(self, c: httpx.AsyncClient) -> tuple[str, int]:
        day = date.today() + timedelta(days=self.rng.randrange(1, 14))
        start = datetime(day.year, day.month, day.day, 10, tzinfo=ZoneInfo("Europe/Berlin"))
        r = await c.get("/rooms/free", headers=self.user(),
                        params={"start": start.isoformat(), "minutes": 60})
        return "GET /rooms/free", r.status_code

    async def book_room(self, c: httpx.AsyncClient) -> tuple[str, int]:
        room, tz, day, slot = next(self.slots)
        start = datetime(day.year, day.month, day.day, 9, tzinfo=ZoneInfo(tz)) \
            + timedelta(minutes=30 * slot)
        who = self.user()
        r = await c.post("/rooms/bookings", headers=who, json={
            "room_id": room, "start": start.isoformat(),
            "end": (start + timedelta(minutes=30)).isoformat(), "title": "Load test"})
        if r.status_code == 201:
            self.room_bookings.append((who, r.json()["code"]))
        return "POST /rooms/bookings", r.status_code

    async def cancel_room(self, c: httpx.AsyncClient) -> tuple[str, int]:
        if not self.room_bookings:
            return await self.book_room(c)
        who, code = self.room_bookings.pop(self.rng.randrange(len(self.room_bookings)))
        r = await c.delete(f"/rooms/bookings/{code}", headers=who)
        return "DELETE /rooms/bookings/{code}", r.status_code

    async def my_bookings(self, c: httpx.AsyncClient) -> tuple[str, int]:
        return "GET /rooms/bookings", (await c.get("/rooms/bookings",
                                                   headers=self.user())).status_code

    async def offices(self, c: httpx.AsyncClient) -> tuple[str, int]:
        return "GET /desks/offices", (await c.get("/desks/offices",
                                                  headers=self.user())).status_code

    async def book_desk(self, c: httpx.AsyncClient) -> tuple[str, int]:
        r = await c.post("/desks/bookings", headers=self.admin, json={
            "office_id": self.rng.choice(OFFICES), "day": self.rng.choice(self.desk_days)
            .isoformat(), "email": f"desk{next(self.counter)}@example.com"})
        if r.status_code == 201:
            self.desk_bookings.append(r.json()["id"])
        return "POST /desks/bookings", r.status_code

    async def cancel_desk(self, c: httpx.AsyncClient) -> tuple[str, int]:
        if not self.desk_bookings:
            return await self.book_desk(c)
        booking = self.desk_bookings.pop(self.rng.randrange(len(self.desk_bookings)))
        r = await c.delete(f"/desks/bookings/{booking}", headers=self.admin)
        return "DELETE /desks/bookings/{id}", r.status_code

    async def upload_image(self, c: httpx.AsyncClient) -> tuple[str, int]:
        r = await c.post("/images", content=self.png,
                         headers={**self.user(), "Content-Type": "image/png"})
        return "POST /images", r.status_code

    async def list_images(self, c: httpx.AsyncClient) -> tuple[str, int]:
        return "GET /images", (await c.get("/images", headers=self.user())).status_code


async def run_phase(base_url: str, clients: int, requests: int, seconds: float,
                    choose: Callable[[], Action],
                    on_tick: Callable[[Results], None] | None = None) -> Results:
    """`clients` concurrent loops until `requests` are answered or `seconds` pass."""
    results = Results()
    deadline = time.perf_counter() + seconds
    sent = itertools.count()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def loop(c: httpx.AsyncClient) -> None:
        while next(sent) < requests and time.perf_counter() < deadline:
            action = choose()
            t = time.perf_counter()
            try:
                route, status = await action(c)
            except httpx.HTTPError as exc:
                results.errors[f"{action.__name__}: {type(exc).__name__}"] += 1
                continue
            results.record(route, status, time.perf_counter() - t)

    async def ticker() -> None:
        while on_tick is not None and time.perf_counter() < deadline:
            await asyncio.sleep(10)
            on_tick(results)

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as c:
        tick = asyncio.create_task(ticker())
        await asyncio.gather(*(loop(c) for _ in range(clients)))
        tick.cancel()
    results.ended = time.perf_counter()
    return results


# --------------------------------------------------------------------------- the report


def rows(results: Results, health_p50: float) -> list[tuple[Any, ...]]:
    out = []
    for route in sorted(results.latencies, key=lambda r: -len(results.latencies[r])):
        lat = results.latencies[route]
        p50 = percentile(lat, 50)
        out.append((route, len(lat), len(lat) / results.seconds, p50, percentile(lat, 95),
                    percentile(lat, 99), f"{p50 / health_p50:.1f}x",
                    " ".join(f"{s}:{n}" for s, n in sorted(results.statuses[route].items()))))
    return out


HEADER = ("route", "n", "req/s", "p50 ms", "p95 ms", "p99 ms", "p50 vs /health", "statuses")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="mixed requests (bound)")
    parser.add_argument("--seconds", type=float, default=30.0, help="mixed phase time bound")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--soak", type=float, default=0.0,
                        help="run the mix this many seconds and report the server's RSS growth")
    args = parser.parse_args()
    from roost.host.logs import configure_logging

    configure_logging("warning")

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "var"
        t0 = time.perf_counter()
        tokens = prepare(data)
        server = start(data, Path(tmp) / "roost-serve.log")
        print(f"server up with demo data in {time.perf_counter() - t0:.1f} s "
              f"(pid {server.proc.pid}, {args.clients} clients)", flush=True)
        try:
            traffic = Traffic(server.base_url, tokens)
            if args.soak:
                soak(server, traffic, args)
                return
            health_only = asyncio.run(run_phase(server.base_url, args.clients, 2000, 6.0,
                                                lambda: traffic.health))
            mixed = asyncio.run(run_phase(server.base_url, args.clients, args.requests,
                                          args.seconds, traffic.pick))
        finally:
            stop(server)

    bare_p50 = percentile(health_only.latencies["GET /health"], 50)
    print(f"\nphase 1, GET /health alone: {health_only.count} requests in "
          f"{health_only.seconds:.1f} s")
    print(table(rows(health_only, bare_p50), HEADER))
    mixed_health = percentile(mixed.latencies.get("GET /health", [bare_p50]), 50)
    print(f"\nphase 2, the mix: {mixed.count} requests in {mixed.seconds:.1f} s")
    print(table(rows(mixed, mixed_health), HEADER))
    rate_health = health_only.count / health_only.seconds
    rate_mix = mixed.count / mixed.seconds
    print(f"\nthroughput: /health alone {rate_health:,.0f} req/s, the mix {rate_mix:,.0f} req/s"
          f" -> ratio {rate_mix / rate_health:.2f}")
    errors = mixed.errors + health_only.errors
    print(f"errors (5xx + transport): {sum(errors.values())}"
          + "".join(f"\n  {k}: {n}" for k, n in errors.items()))
    if mixed.errors or health_only.errors:
        raise SystemExit(1)


def soak(server: Server, traffic: Traffic, args: argparse.Namespace) -> None:
    """The mix for `--soak` seconds; the server's resident memory every 10 s."""
    samples: list[tuple[float, int, int]] = []

    def tick(results: Results) -> None:
        samples.append((results.seconds, results.count, server.rss_kib()))
        print(f"  {results.seconds:7.0f} s  {results.count:8d} requests  "
              f"RSS {samples[-1][2] / 1024:7.1f} MiB", flush=True)

    results = asyncio.run(run_phase(server.base_url, args.clients, sys.maxsize, args.soak,
                                    traffic.pick, on_tick=tick))
    tick(results)
    warm = next((s for s in samples if s[0] >= min(60.0, args.soak / 4)), samples[0])
    end = samples[-1]
    grown = (end[2] - warm[2]) / 1024
    per_k = grown / max(1, (end[1] - warm[1]) / 1000)
    print(f"\nsoak: {results.count} requests in {results.seconds:.0f} s "
          f"({results.count / results.seconds:,.0f} req/s), errors {sum(results.errors.values())}")
    print(table(rows(results, percentile(results.latencies["GET /health"], 50)), HEADER))
    print(f"RSS after warm-up ({warm[0]:.0f} s) {warm[2] / 1024:.1f} MiB -> end "
          f"{end[2] / 1024:.1f} MiB: {grown:+.1f} MiB ({per_k:+.3f} MiB per 1,000 requests)")
    every = 300.0 if args.soak >= 1200 else max(10.0, args.soak / 6)
    marks = [next(s for s in samples if s[0] >= m)
             for m in itertools.takewhile(lambda m: m <= end[0], itertools.count(every, every))]
    print(f"\nRSS every {every:.0f} s (median of the samples in the window, max, requests):")
    prev = 0.0
    for mark in [*marks, end] if marks[-1:] != [end] else marks:
        window = [s[2] / 1024 for s in samples if prev < s[0] <= mark[0]]
        prev = mark[0]
        print(f"  {mark[0]:7.0f} s  {mark[1]:8d} requests  RSS {mark[2] / 1024:7.1f} MiB  "
              f"median {sorted(window)[len(window) // 2]:7.1f}  max {max(window):7.1f}")


if __name__ == "__main__":
    main()
