"""Calendar invitations (RFC 5545 / iTIP): the same UID for every version of a booking and a
SEQUENCE that rises with each change, so Outlook and Google Calendar update or remove the one
event instead of adding another.

icalendar is imported where a calendar is made: it costs 25-70 ms to import, which every rooms
Lambda would otherwise pay at cold start for the few functions that send or serve one."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from .rules import unstamp

if TYPE_CHECKING:
    from icalendar import Event as VEvent

Method = Literal["REQUEST", "CANCEL"]
PRODID = "-//Roost//rooms//EN"


def uid(code: str) -> str:
    return f"{code}@rooms.roost"


def _event(b: Mapping[str, Any], now: datetime, *, cancelled: bool) -> VEvent:
    from icalendar import Event as VEvent
    from icalendar import vCalAddress

    ev = VEvent()
    ev.add("uid", uid(b["code"]))
    ev.add("sequence", int(b["sequence"]))
    ev.add("dtstamp", now)
    ev.add("dtstart", unstamp(b["start"]))
    ev.add("dtend", unstamp(b["end"]))
    ev.add("summary", b["title"])
    ev.add("location", b.get("location") or b["room_name"])
    ev.add("status", "CANCELLED" if cancelled else
           "TENTATIVE" if b.get("status") == "pending" else "CONFIRMED")
    organizer = vCalAddress(f"mailto:{b['organiser_email']}")
    ev.add("organizer", organizer)
    for email in b["attendees"]:
        who = vCalAddress(f"mailto:{email}")
        who.params["ROLE"] = "REQ-PARTICIPANT"
        ev.add("attendee", who, encode=False)
    return ev


def invitation(b: Mapping[str, Any], method: Method, now: datetime) -> bytes:
    """One booking as an iTIP message: REQUEST (new or changed) or CANCEL."""
    from icalendar import Calendar

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", method)
    cal.add_component(_event(b, now, cancelled=method == "CANCEL"))
    return cal.to_ical()


def feed(bookings: list[Mapping[str, Any]], now: datetime, name: str) -> bytes:
    """A subscribable calendar (no METHOD): a person's bookings."""
    from icalendar import Calendar

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    for b in bookings:
        cal.add_component(_event(b, now, cancelled=b["status"] not in ("booked", "pending")))
    return cal.to_ical()
