"""`roost check`: scan the stored data for broken invariants.

The core's own invariant is that nothing a write triggered is lost or stuck: every outbox event
and every delivery is done within `max_event_age`, and nothing sits in the dead-letter table.
Each app adds its own with `@app.invariant` (overlapping bookings, quotas exceeded, orphaned
blobs); they run with read-only guarded contexts, as the functions they are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from roost.cloud.audit import current_actor
from roost.cloud.events import OUTBOX
from roost.cloud.table import query_all
from roost.host.bootstrap import Runtime

CORE = "roost.events"


@dataclass(frozen=True)
class Finding:
    check: str  # the invariant's name ("rooms.no_overlaps") or "roost.events"
    problem: str


def event_findings(runtime: Runtime, *, max_age: timedelta) -> list[Finding]:
    """Events not delivered within `max_age`, and dead letters."""
    from roost.cloud.local.dispatcher import DEAD, DEAD_LETTERS, DELIVERIES, QUEUE

    cutoff = runtime.clock.now() - max_age
    found: list[Finding] = []
    for item in query_all(runtime.tables.table(OUTBOX.name), "pending"):
        if datetime.fromisoformat(item["at"]) < cutoff:
            found.append(Finding(CORE, f"event {item['sk']} ({item['type']}) of {item['at']} "
                                       "was never handed to its handlers"))
    for item in query_all(runtime.tables.table(DELIVERIES.name), QUEUE, index="by_due"):
        if datetime.fromisoformat(item["at"]) < cutoff:
            found.append(Finding(CORE, f"event {item['event']} ({item['type']}) of {item['at']} "
                                       f"is still undelivered to {item['handler']} after "
                                       f"{item['attempts']} attempts"))
    for item in query_all(runtime.tables.table(DEAD_LETTERS.name), DEAD):
        found.append(Finding(CORE, f"event {item['event']} ({item['type']}) is a dead letter "
                                   f"for {item['handler']}: {item['error'][:200]}"))
    return found


def run_checks(runtime: Runtime, *, max_event_age: timedelta) -> list[Finding]:
    """Every finding of the core and of every installed app's invariants."""
    found = event_findings(runtime, max_age=max_event_age)
    token = current_actor.set("system")
    try:
        for fn in runtime.registry.functions("invariant"):
            problems = fn.invoke(fn.context(runtime.resources))
            found.extend(Finding(fn.name, str(p)) for p in problems or ())
    finally:
        current_actor.reset(token)
    return found
