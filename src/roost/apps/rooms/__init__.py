"""Meeting-room booking: rooms, race-free bookings, vacancy, notifications with calendar
invitations, check-in and auto-release."""

from __future__ import annotations

from roost.cloud.functions import App

from .store import TABLES

app = App("rooms", "Rooms", tables=TABLES,
          description="Find a free meeting room, book it, change or cancel it.")

from . import (  # noqa: E402, F401  (they declare on `app`)
    api,
    approvals,
    blockings,
    catalog,
    demo,
    events,
    feeds,
    invariants,
    pages,
    sensors,
    series,
    vacancy,
)

__all__ = ["app"]
