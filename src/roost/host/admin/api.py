"""The admin API: the audit trail (per app, per record) and dead letters (list, replay).

System admins see everything; an app's own admins (`<app>:admin`) see that app's trail."""

from __future__ import annotations

from roost.cloud.audit import AUDIT
from roost.cloud.errors import Invalid
from roost.cloud.events import DeadLetter
from roost.cloud.functions import USER, Ctx, Uses
from roost.cloud.identity import SYSTEM_ADMIN, SYSTEM_APP
from roost.cloud.local.dispatcher import DEAD_LETTERS, DELIVERIES, DeadLetters
from roost.host.admin import app

from .models import (
    AuditPage,
    AuditQuery,
    DeadLetterList,
    DeadLetterOut,
    DeadLetterQuery,
    Replay,
    Replayed,
)
from .trail import app_of_record, entries_for_app, entries_for_record

SYSTEM_ADMINS = f"{SYSTEM_APP}:{SYSTEM_ADMIN}"


@app.route("GET", "/admin/audit", roles=[USER], uses=Uses(reads=[AUDIT]))
def audit_trail(ctx: Ctx, query: AuditQuery) -> AuditPage:
    """Who changed what and when, newest first, with each item before and after: one app's
    trail (`app`) or one record's (`record`). Needs system admin or the app's `admin` role."""
    if query.record:
        ctx.require(app_of_record(query.record), "admin")
        return entries_for_record(ctx.tables, query.record, limit=query.limit,
                                  cursor=query.cursor)
    if not query.app:
        raise Invalid("name the app (app=...) or the record (record=...) to list",
                      code="audit_scope_missing")
    ctx.require(query.app, "admin")
    return entries_for_app(ctx.tables, query.app, limit=query.limit, cursor=query.cursor)


def dead_letter_out(d: DeadLetter) -> DeadLetterOut:
    return DeadLetterOut(event_id=d.event.id, event_type=d.event.type, handler=d.handler,
                         attempts=d.attempts, error=d.error, failed_at=d.failed_at.isoformat(),
                         data=dict(d.event.data))


@app.route("GET", "/admin/dead-letters", roles=[SYSTEM_ADMINS], uses=Uses(reads=[DEAD_LETTERS]))
def dead_letters(ctx: Ctx, query: DeadLetterQuery) -> DeadLetterList:
    """Deliveries that failed every attempt, oldest first (optionally one handler's)."""
    found = DeadLetters(ctx.tables, clock=ctx.clock).list(handler=query.handler)
    return DeadLetterList(dead_letters=[dead_letter_out(d) for d in found])


@app.route("POST", "/admin/dead-letters/replay", roles=[SYSTEM_ADMINS],
           uses=Uses(writes=[DEAD_LETTERS, DELIVERIES]))
def replay_dead_letter(ctx: Ctx, body: Replay) -> Replayed:
    """Put a dead letter back in line for its handler, attempts reset."""
    DeadLetters(ctx.tables, clock=ctx.clock).replay(body.event_id, body.handler)
    return Replayed(event_id=body.event_id, handler=body.handler)
