"""The personal calendar feed: a secret URL per person listing their bookings as iCalendar, for
Outlook or Google Calendar to subscribe to. Only a hash of the secret is stored, so a copy of
the table does not hand out anyone's feed; asking for a new URL retires the old one."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from pydantic import BaseModel

from roost.cloud.errors import NotFound
from roost.cloud.functions import PUBLIC, USER, Ctx, Reply, Uses

from . import app, ical, store
from .store import BOOKINGS, FEEDS


class FeedUrl(BaseModel):
    url: str
    detail: str = "subscribe to this address in your calendar; keep it to yourself"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@app.route("POST", "/rooms/feed", roles=[USER], status=201, uses=Uses(writes=[FEEDS]))
def new_feed(ctx: Ctx) -> FeedUrl:
    """Make (or replace) your personal calendar feed URL."""
    user = ctx.user
    token = secrets.token_urlsafe(24)
    store.replace_feed(ctx.tables, user.user_id, user.email, _digest(token))
    base = ctx.request.base_url.rstrip("/") if ctx.request else ""
    return FeedUrl(url=f"{base}/rooms/feed/{token}.ics")


@app.page("/rooms/feed/{token}.ics", roles=[PUBLIC], template="rooms_feed.ics",
          uses=Uses(reads=[FEEDS, BOOKINGS]))
def feed(ctx: Ctx, *, token: str) -> Reply:
    """The bookings you organise, from a month back, as a subscribable calendar."""
    owner = store.feed_owner(ctx.tables, _digest(token))
    if owner is None:
        raise NotFound("this calendar address is unknown or was replaced", code="feed_not_found")
    items = store.bookings_of(ctx.tables, owner["user"], ctx.now() - timedelta(days=31))
    body = ical.feed([i for i in items if i["status"] != "rejected"], ctx.now(),
                     f"Room bookings of {owner['email']}")
    return Reply(body={"ics": body.decode()}, headers={
        "Content-Type": "text/calendar; charset=utf-8", "Cache-Control": "private, max-age=300"})

