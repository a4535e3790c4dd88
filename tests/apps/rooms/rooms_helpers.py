"""Helpers for the rooms tests: people signed in for real on the real host, and a few helpers
that read like the tests' sentences. (Its own module: `conftest` names clash across folders.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import uvicorn
from fastapi.testclient import TestClient

from roost.cloud.clock import FrozenClock
from roost.cloud.identity import Grant
from roost.host.app import create_app
from roost.host.bootstrap import Runtime
from support.server import free_port
from support.tokens import Bearers

SECRET = "rooms-test-secret-" + "x" * 40
ADMIN = "rita@example.com"
ANA = "ana@example.com"
BEN = "ben@example.com"
ROOM = {"id": "atlas", "name": "Atlas", "site": "Berlin", "floor": "2", "tz": "UTC",
        "capacity": 6, "equipment": ["screen"], "opens": "08:00", "closes": "18:00"}


@dataclass
class Host:
    client: TestClient
    runtime: Runtime
    clock: FrozenClock
    bearers: Bearers = field(init=False)

    def __post_init__(self) -> None:
        self.bearers = Bearers(self.runtime.identity, self.clock)

    def as_(self, email: str) -> dict[str, str]:
        """Headers of `email` signed in (again, once the clock has moved past their token)."""
        if email == ADMIN and not self.bearers.known(email):
            self.runtime.identity.grant(ADMIN, Grant("rooms", "admin"), by="test")
        return self.bearers(email)

    def add_room(self, **overrides: Any) -> dict[str, Any]:
        r = self.client.post("/rooms/rooms", json={**ROOM, **overrides}, headers=self.as_(ADMIN))
        assert r.status_code == 201, r.text
        return r.json()

    def book(self, start: str, end: str, *, who: str = ANA, room: str = "atlas",
             **extra: Any) -> Any:
        body = {"room_id": room, "start": start, "end": end, "title": "Standup", **extra}
        return self.client.post("/rooms/bookings", json=body, headers=self.as_(who))

    def deliver(self) -> None:
        while self.runtime.dispatcher.run_once():
            pass

    def mails(self) -> list[EmailMessage]:
        """Every mail the rooms app sent (sign-in codes left out), oldest first."""
        box = self.runtime.mailer
        out = [box.read(m.id) for m in reversed(box.list(limit=500))]
        return [m for m in out if "sign-in code" not in str(m["Subject"])]

    def pending_events(self, type: str) -> list[dict[str, Any]]:
        items = self.runtime.tables.table("roost_outbox").query("pending").items
        return [i for i in items if i["type"] == type]

    def at(self, when: str) -> None:
        self.clock.set(datetime.fromisoformat(when))


@contextmanager
def served(runtime: Runtime) -> Iterator[str]:
    """The host on a real socket (uvicorn in a thread of this process), so many clients can
    race it for real; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(runtime=runtime), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def stored_booking(host: Host, code: str) -> dict[str, Any]:
    """The booking as stored (after the clock moved, tests' access tokens may have expired)."""
    item = host.runtime.tables.table("rooms_bookings").get({"code": code})
    assert item is not None
    return item
