"""What `roost check` verifies of desks: every counter the quotas are enforced on agrees with
the bookings it counts (one transaction writes both, so a mismatch means corruption)."""

from __future__ import annotations

from roost.apps.desks import app
from roost.cloud.functions import Ctx, Uses

from . import store


@app.invariant(uses=Uses(reads=[store.OFFICES, store.COUNTERS, store.BOOKINGS]))
def counters_match_bookings(ctx: Ctx) -> list[str]:
    """Day counters (desks, parking) and week counters equal the bookings they count."""
    return store.counter_mismatches(ctx.tables)
