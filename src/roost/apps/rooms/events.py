"""Event handlers and schedules: the emails with calendar invitations, and the auto-release of
bookings nobody checked into. Handlers run at least once: mail is keyed by the event id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roost.cloud.errors import Conflict
from roost.cloud.events import Event
from roost.cloud.functions import Ctx, Uses
from roost.cloud.mail import Attachment, Message

from . import app, ical, rules, store
from .api import ACCEPTED, CANCELLED, CREATED, REJECTED, UPDATED
from .rules import Hours
from .store import BOOKINGS, DAYS, QUOTAS

RELEASED = "rooms.booking_released"
MAILING = Uses(mail=True)


def _when(b: Mapping[str, Any]) -> str:
    zone = Hours(tz=b["tz"]).zone
    start, end = (rules.unstamp(b["start"]).astimezone(zone),
                  rules.unstamp(b["end"]).astimezone(zone))
    return f"{start:%a %d %b %Y, %H:%M}-{end:%H:%M} ({b['tz']})"


def _send(ctx: Ctx, event: Event, *, subject: str, lead: str, method: ical.Method,
          to_attendees: bool = True) -> None:
    b = event.data
    people = [b["organiser_email"], *(b["attendees"] if to_attendees else [])]
    to = tuple(dict.fromkeys(p.lower() for p in people))
    text = (f"{lead}\n\n{b['title']}\n{_when(b)}\n{b.get('location') or b['room_name']}\n"
            f"Booking code: {b['code']}\nOrganiser: {b['organiser_email']}\n")
    data = ical.invitation(b, method, ctx.now())
    ctx.mail.send(Message(
        to=to, subject=subject, text=text, idempotency_key=event.id,
        attachments=(Attachment("invite.ics", f"text/calendar; method={method}; charset=utf-8",
                                data),)))


@app.handler(CREATED, uses=MAILING)
def mail_booked(ctx: Ctx, event: Event) -> None:
    """Tell the organiser and attendees, with the invitation."""
    b = event.data
    if b["status"] == "pending":
        _send(ctx, event, subject=f"Requested: {b['title']} in {b['room_name']}",
              lead="The room is held for you; its managers confirm the booking.",
              method="REQUEST")
        if b.get("notify"):
            ctx.mail.send(Message(
                to=tuple(b["notify"]), idempotency_key=f"{event.id}:managers",
                subject=f"Waiting for you: {b['title']} in {b['room_name']}",
                text=f"{b['organiser_email']} asks for {b['room_name']}:\n\n{b['title']}\n"
                     f"{_when(b)}\nBooking code: {b['code']}\n\nAccept or reject it on the "
                     "Rooms page \"Waiting for you\" (/rooms/approvals)."))
        return
    _send(ctx, event, subject=f"Booked: {b['title']} in {b['room_name']}",
          lead="A meeting room is booked for you.", method="REQUEST")


@app.handler(ACCEPTED, uses=MAILING)
def mail_accepted(ctx: Ctx, event: Event) -> None:
    """Tell everyone the room's manager confirmed the booking."""
    b = event.data
    _send(ctx, event, subject=f"Confirmed: {b['title']} in {b['room_name']}",
          lead="The room's manager confirmed this booking." + _reason(b), method="REQUEST")


@app.handler(REJECTED, uses=MAILING)
def mail_rejected(ctx: Ctx, event: Event) -> None:
    """Tell everyone the room's manager turned the booking down."""
    b = event.data
    _send(ctx, event, subject=f"Rejected: {b['title']} in {b['room_name']}",
          lead="The room's manager turned this booking down." + _reason(b), method="CANCEL")


def _reason(b: Mapping[str, Any]) -> str:
    return f" Reason: {b['reason']}" if b.get("reason") else ""


@app.handler(UPDATED, uses=MAILING)
def mail_changed(ctx: Ctx, event: Event) -> None:
    """Tell everyone the new time or room; the invitation replaces the old one."""
    b = event.data
    _send(ctx, event, subject=f"Changed: {b['title']} in {b['room_name']}",
          lead="A room booking has changed.", method="REQUEST")


@app.handler(CANCELLED, uses=MAILING)
def mail_cancelled(ctx: Ctx, event: Event) -> None:
    """Tell everyone, and take the event out of their calendars."""
    b = event.data
    _send(ctx, event, subject=f"Cancelled: {b['title']} in {b['room_name']}",
          lead="A room booking was cancelled.", method="CANCEL")


@app.handler(RELEASED, uses=MAILING)
def mail_released(ctx: Ctx, event: Event) -> None:
    """Tell the organiser the room went back to the pool because nobody checked in."""
    b = event.data
    _send(ctx, event, subject=f"Released: {b['title']} in {b['room_name']}",
          lead="Nobody checked in within the grace time, so the room was released for "
               "others.", method="CANCEL", to_attendees=False)


@app.schedule("release_unused", "* * * * *",
              uses=Uses(writes=[BOOKINGS, DAYS, QUOTAS], publishes=[RELEASED]))
def release_unused(ctx: Ctx) -> None:
    """Release every booking nobody checked into by its start plus the grace time."""
    for b in store.due_for_release(ctx.tables, ctx.now()):
        new = {k: v for k, v in b.items() if k not in ("release_due", "release_at")}
        new.update(status="released", sequence=b["sequence"] + 1)
        day = rules.local_day(rules.unstamp(b["start"]), Hours(tz=b["tz"]))
        try:
            store.write_slots(ctx.tables, code=b["code"], leave=(b["room_id"], day), take=None,
                              ops=[store.release_op(new, b["sequence"]),
                                   ctx.publish(RELEASED, dict(new)),
                                   store.count_op(b["organiser"], rules.week_of(
                                       rules.unstamp(b["start"]), Hours(tz=b["tz"])), -1, None)])
        except Conflict:
            continue  # checked in or changed meanwhile: the next run sees the new state
