"""Demo data for `roost serve --demo`: three offices in three time zones. Idempotent."""

from __future__ import annotations

import contextlib

from roost.cloud.errors import Conflict
from roost.cloud.functions import Ctx

from . import app, store

OFFICES = [
    {"id": "london", "name": "London", "tz": "Europe/London", "desk_quota": 40,
     "parking_quota": 5, "floors": ["Ground", "First"]},
    {"id": "new-york", "name": "New York", "tz": "America/New_York", "desk_quota": 25,
     "parking_quota": 2, "floors": []},
    {"id": "tokyo", "name": "Tokyo", "tz": "Asia/Tokyo", "desk_quota": 3,
     "parking_quota": 0, "floors": []},
]


@app.demo
def demo_offices(ctx: Ctx) -> None:
    """Create the demo offices that are not there yet."""
    for office in OFFICES:
        with contextlib.suppress(Conflict):
            store.create_office(ctx.tables, dict(office))
