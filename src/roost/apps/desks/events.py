"""Event handlers: the mails (sent from the outbox, never inside a request) and the waitlist
promotion after a cancellation. Each is idempotent: the event id keys the mail, and a
promotion is a booking whose transaction fails once the place is taken."""

from __future__ import annotations

import logging
from datetime import date

from roost.cloud.errors import Conflict, Invalid
from roost.cloud.events import Event
from roost.cloud.functions import Ctx, Uses

from . import app, booking, mails, store
from .booking import CANCELLED, CREATED, PROMOTED
from .config import settings

log = logging.getLogger(__name__)


def base_url() -> str:
    return settings().base_url.rstrip("/")


@app.handler(CREATED, uses=Uses(mail=True))
def mail_confirmation(ctx: Ctx, event: Event) -> None:
    """Booking confirmed, with the pass link and a calendar entry."""
    ctx.mail.send(mails.confirmed(event.data, base_url=base_url(), stamp=event.at,
                                  key=f"{event.id}:confirmed"))


@app.handler(CREATED, uses=Uses(mail=True))
def mail_reason(ctx: Ctx, event: Event) -> None:
    """The reason to book, to the configured address (when there is a reason and an address)."""
    to = settings().desks_reason_email
    if to and event.data.get("reason"):
        ctx.mail.send(mails.reason(event.data, to=to, key=f"{event.id}:reason"))


@app.handler(CANCELLED, uses=Uses(mail=True))
def mail_cancellation(ctx: Ctx, event: Event) -> None:
    """Cancelled, saying by whom; the calendar entry is withdrawn."""
    ctx.mail.send(mails.cancelled(event.data, stamp=event.at, key=f"{event.id}:cancelled"))


@app.handler(PROMOTED, uses=Uses(mail=True))
def mail_promotion(ctx: Ctx, event: Event) -> None:
    """Booked from the waitlist."""
    ctx.mail.send(mails.promoted(event.data, base_url=base_url(), stamp=event.at,
                                 key=f"{event.id}:promoted"))


@app.handler(CANCELLED, uses=Uses(
    reads=[store.OFFICES],
    writes=[store.COUNTERS, store.BOOKINGS, store.PEOPLE, store.WAITLIST],
    publishes=[PROMOTED]))
def promote_waitlist(ctx: Ctx, event: Event) -> None:
    """Book the first in line who still fits their quotas; the waitlist entry goes in the same
    transaction as the booking. People who no longer fit keep their place for a later one."""
    office_id, day = event.data["office_id"], date.fromisoformat(event.data["day"])
    for entry in store.waitlist(ctx.tables, office_id, day):
        try:
            booking.book(ctx, office_id=office_id, day=day, email=entry["email"],
                         parking=entry["parking"], reason=None, by="waitlist",
                         event=PROMOTED, extra=(store.leave_waitlist_op(entry),))
            return
        except Conflict as exc:
            if exc.code in ("office_full", "parking_full", "busy"):
                if exc.code != "parking_full":
                    return  # no desk: nobody further down fits either
                continue
            if exc.code == "already_booked":
                store.drop_waitlist_entry(ctx.tables, entry)
            log.info("waitlist entry skipped: %s", exc.code)
        except Invalid:
            return  # the day is past or out of the window
