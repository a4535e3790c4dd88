"""The Events port: a transactional outbox.

A function that must cause something later (an email, a report, image processing) adds
`publish(event)` to the same `Tables.transact` as the data that caused it: both are written or
neither. A dispatcher (local: in-process; AWS: the outbox stream -> SQS per handler) delivers each
event to every handler subscribed to its type at least once, retrying with exponential backoff;
what keeps failing is parked as a dead letter an admin can see and replay. Handlers are idempotent
(use `event.id`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from roost.cloud.errors import Invalid
from roost.cloud.table import Put, TableSpec, attr

OUTBOX = TableSpec(name="roost_outbox", pk="pk", sk="sk")
"""Pending events: pk = "pending", sk = event id (a ULID, so time-ordered)."""


@dataclass(frozen=True)
class Event:
    type: str  # "<app>.<what happened>", e.g. "rooms.booking_created"
    data: Mapping[str, Any]
    id: str
    at: datetime  # when it happened (the publisher's clock)
    actor: str | None = None  # who caused it, for the audit trail and mails

    def __post_init__(self) -> None:
        if "." not in self.type or not self.type.replace(".", "").replace("_", "").isalnum():
            raise Invalid(f"event type {self.type!r} must read '<app>.<name>'",
                          code="invalid_event")

    @property
    def app(self) -> str:
        return self.type.split(".", 1)[0]

    def to_item(self) -> dict[str, Any]:
        return {"pk": "pending", "sk": self.id, "type": self.type, "data": dict(self.data),
                "at": self.at.isoformat(), "actor": self.actor}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Event:
        return cls(type=item["type"], data=item["data"], id=item["sk"],
                   at=datetime.fromisoformat(item["at"]), actor=item.get("actor"))


def publish(event: Event) -> Put:
    """The outbox write for `event`, to put in the same transaction as the data."""
    return Put(OUTBOX.name, event.to_item(), condition=attr("sk").not_exists())


Handler = Callable[[Event], None]


@dataclass
class DeadLetter:
    event: Event
    handler: str
    attempts: int
    error: str
    failed_at: datetime
    extra: dict[str, Any] = field(default_factory=dict)


class Dispatcher(Protocol):
    """Delivers outbox events to handlers. The host runs one; `roost worker` runs one alone."""

    def subscribe(self, event_type: str, name: str, handler: Handler) -> None:
        """`name` is the handler's stable identity (its registry name), used for retries and
        dead letters."""
        ...

    def run_once(self) -> int:
        """Deliver what is due now; returns how many deliveries were attempted."""
        ...

    def dead_letters(self, *, handler: str | None = None) -> list[DeadLetter]: ...

    def replay(self, event_id: str, handler: str) -> None:
        """Put a dead letter back in line for delivery."""
        ...
