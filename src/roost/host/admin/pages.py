"""The admin page: dead letters with a replay button, and the audit trail of one app."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from roost.cloud.audit import AUDIT
from roost.cloud.errors import RoostError
from roost.cloud.functions import Ctx, Reply, Uses, redirect
from roost.cloud.local.dispatcher import DEAD_LETTERS, DELIVERIES, DeadLetters
from roost.host.admin import app

from .api import SYSTEM_ADMINS, dead_letter_out
from .trail import entries_for_app


class AdminQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    app: str = Field("admin", max_length=40)
    cursor: str | None = Field(None, max_length=4096)


class ReplayForm(BaseModel):
    event_id: str = Field("", max_length=64)
    handler: str = Field("", max_length=512)


def _overview(ctx: Ctx, audit_app: str, cursor: str | None, **extra: Any) -> dict[str, Any]:
    letters = [dead_letter_out(d) for d in DeadLetters(ctx.tables, clock=ctx.clock).list()]
    trail = entries_for_app(ctx.tables, audit_app, limit=50, cursor=cursor)
    return {"title": "Admin", "dead_letters": letters, "audit_app": audit_app,
            "trail": trail.entries, "next_cursor": trail.cursor, **extra}


@app.page("/admin", roles=[SYSTEM_ADMINS], template="admin.html",
          uses=Uses(reads=[DEAD_LETTERS, AUDIT]))
def overview(ctx: Ctx, query: AdminQuery) -> dict[str, Any]:
    """Dead letters waiting for a decision, and the audit trail of one app."""
    return _overview(ctx, query.app, query.cursor)


@app.page("/admin/replay", method="POST", roles=[SYSTEM_ADMINS], template="admin.html",
          uses=Uses(reads=[AUDIT], writes=[DEAD_LETTERS, DELIVERIES]))
def replay(ctx: Ctx, body: ReplayForm) -> Any:
    """Replay one dead letter, then back to the page."""
    try:
        DeadLetters(ctx.tables, clock=ctx.clock).replay(body.event_id, body.handler)
    except RoostError as exc:
        return Reply(body=_overview(ctx, "admin", None, error=exc.message), status=exc.status)
    return redirect("/admin")
