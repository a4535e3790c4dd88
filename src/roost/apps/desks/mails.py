"""The mails Desks sends, each with an all-day iCalendar event for the booking.

icalendar is imported where the event is made: it costs 25-70 ms to import, which every desks
Lambda would otherwise pay at cold start for the handlers that mail."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from roost.cloud.mail import Attachment, Message


def ics(data: Mapping[str, Any], *, stamp: datetime, cancel: bool = False) -> Attachment:
    """An all-day event (DTSTART as a date, DTEND the next day); a cancellation has the same
    UID with METHOD:CANCEL, so calendars remove it."""
    from icalendar import Calendar
    from icalendar import Event as CalendarEvent

    day = date.fromisoformat(data["day"])
    cal = Calendar()
    cal.add("prodid", "-//Roost//Desks//EN")
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if cancel else "PUBLISH")
    ev = CalendarEvent()
    ev.add("uid", f"{data['id']}@desks.roost")
    ev.add("dtstamp", stamp)
    ev.add("dtstart", day)
    ev.add("dtend", day + timedelta(days=1))
    ev.add("summary", f"Desk at {data['office_name']}" + (" + parking" if data["parking"]
                                                            else ""))
    ev.add("status", "CANCELLED" if cancel else "CONFIRMED")
    ev.add("transp", "TRANSPARENT")
    cal.add_component(ev)
    method = "CANCEL" if cancel else "PUBLISH"
    return Attachment("booking.ics", f"text/calendar; method={method}", cal.to_ical())


def _what(data: Mapping[str, Any]) -> str:
    parking = " with parking" if data["parking"] else ""
    return f"a desk{parking} at {data['office_name']} on {data['day']}"


def confirmed(data: Mapping[str, Any], *, base_url: str, stamp: datetime, key: str) -> Message:
    link = f"{base_url}/desks/pass/{data['id']}"
    text = (f"You have {_what(data)}.\n\nYour pass (show it at the door): {link}\n"
            f"Booked by {data['created_by']}.\n")
    return Message(to=(data["email"],), subject=f"Booked: desk at {data['office_name']} on "
                   f"{data['day']}", text=text, attachments=(ics(data, stamp=stamp),),
                   idempotency_key=key)


def promoted(data: Mapping[str, Any], *, base_url: str, stamp: datetime, key: str) -> Message:
    link = f"{base_url}/desks/pass/{data['id']}"
    text = (f"A place came free: you now have {_what(data)}, booked from the waitlist.\n\n"
            f"Your pass: {link}\n")
    return Message(to=(data["email"],), subject=f"From the waitlist: desk at "
                   f"{data['office_name']} on {data['day']}", text=text,
                   attachments=(ics(data, stamp=stamp),), idempotency_key=key)


def cancelled(data: Mapping[str, Any], *, stamp: datetime, key: str) -> Message:
    text = f"Your booking of {_what(data)} was cancelled by {data['cancelled_by']}.\n"
    return Message(to=(data["email"],), subject=f"Cancelled: desk at {data['office_name']} on "
                   f"{data['day']}", text=text, attachments=(ics(data, stamp=stamp,
                                                                     cancel=True),),
                   idempotency_key=key)


def reason(data: Mapping[str, Any], *, to: str, key: str) -> Message:
    text = (f"{data['email']} booked {_what(data)}.\n\nReason given:\n{data['reason']}\n\n"
            f"Booked by {data['created_by']}.\n")
    return Message(to=(to,), subject=f"Reason to book: {data['email']} at "
                   f"{data['office_name']} on {data['day']}", text=text, idempotency_key=key)
