"""Helpers for the desks tests: settings from the environment, signed-in people, offices."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from roost.apps.desks.config import settings
from roost.cloud.clock import FrozenClock
from roost.cloud.identity import Grant
from roost.host.bootstrap import Runtime
from support.tokens import Bearers

SECRET = "test-secret-" + "x" * 40
ADMIN = "boss@example.com"
MONDAY = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # the FrozenClock's default start


def configure(monkeypatch, **values: Any) -> None:
    """Set desks settings (ROOST_<NAME>) for this test."""
    for k, v in values.items():
        monkeypatch.setenv(f"ROOST_{k.upper()}", str(v))
    settings.cache_clear()


@dataclass
class Desks:
    client: TestClient
    runtime: Runtime
    clock: FrozenClock
    bearers: Bearers = field(init=False)

    def __post_init__(self) -> None:
        self.bearers = Bearers(self.runtime.identity, self.clock)

    def auth(self, email: str) -> dict[str, str]:
        """A real access token; minted again once the test's clock has moved on."""
        return self.bearers(email)

    def grant(self, email: str, grant: Grant) -> None:
        self.runtime.identity.grant(email, grant, by="test")  # type: ignore[attr-defined]
        self.bearers.forget(email)  # a fresh token carries the new grant

    def office(self, office_id: str = "hq", *, desks: int = 10, parking: int = 2,
               tz: str = "UTC") -> dict[str, Any]:
        r = self.client.post("/desks/offices", headers=self.auth(ADMIN), json={
            "id": office_id, "name": office_id.title(), "tz": tz, "desk_quota": desks,
            "parking_quota": parking})
        assert r.status_code == 201, r.text
        return r.json()

    def book(self, who: str, day: str, office_id: str = "hq", **extra: Any) -> Any:
        return self.client.post("/desks/bookings", headers=self.auth(who),
                                json={"office_id": office_id, "day": day, **extra})

    def outbox(self, event_type: str) -> list[dict[str, Any]]:
        pending = self.runtime.tables.table("roost_outbox").query("pending").items
        return [i["data"] for i in pending if i["type"] == event_type]

    def sent(self) -> list[Any]:
        self.runtime.dispatcher.run_once()
        return self.runtime.mailer.list()  # type: ignore[attr-defined]


