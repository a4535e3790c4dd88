"""Booking and cancelling as one step each, shared by the API, the pages, the waitlist handler
and the self-test: read what the rules need, decide with `rules`, commit with `store`."""

from __future__ import annotations

from datetime import date
from typing import Any

from roost.cloud.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from roost.cloud.functions import Ctx
from roost.cloud.identity import Principal
from roost.cloud.table import Item, Op

from . import rules, store
from .config import settings

ATTEMPTS = 8
CREATED = "desks.booking_created"
CANCELLED = "desks.booking_cancelled"
PROMOTED = "desks.waitlist_promoted"


def writable() -> None:
    """Read-only mode (maintenance): every write answers 503, reads go on."""
    if settings().read_only:
        raise Unavailable("Desks is in read-only mode for maintenance; bookings cannot be "
                          "made or changed right now. Please try again later.",
                          code="read_only")


def target_email(p: Principal, email: str | None) -> str:
    """Whom a booking is for: the caller, or (admins) the address given, if it may sign in."""
    s = settings()
    if not email:
        return s.normalize(p.email)
    email = s.normalize(email)
    if "@" not in email or not s.email_allowed(email):
        raise Invalid(f"{email} is not an address that may use Desks", code="email_not_allowed")
    return email


def weekly_quota(person: Item | None) -> int:
    if person is not None and person.get("weekly_quota") is not None:
        return int(person["weekly_quota"])
    return settings().desks_weekly_quota


def quotas_on(ctx: Ctx, office: Item, day: date) -> rules.Quotas:
    overrides = [store.as_override(o) for o in store.overrides(ctx.tables, office["sk"])]
    return rules.quotas_on(day, store.quotas(office), overrides)


def booking_event_data(item: Item, tz: str, **extra: Any) -> dict[str, Any]:
    keep = ("id", "office_id", "office_name", "day", "email", "parking", "reason",
            "created_by")
    return {**{k: item.get(k) for k in keep}, "tz": tz, **extra}


def book(ctx: Ctx, *, office_id: str, day: date, email: str, parking: bool,
         reason: str | None, by: str, event: str = CREATED, extra: tuple[Op, ...] = ()
         ) -> Item:
    """Book `email` a desk; every quota is checked again inside the one transaction."""
    s = settings()
    for _ in range(ATTEMPTS):
        office = store.office(ctx.tables, office_id)
        today = rules.local_today(ctx.now(), office["tz"])
        rules.check_window(day, today, s.desks_window_days)
        person = store.person(ctx.tables, email)
        wq = weekly_quota(person)
        why = rules.check_reason(reason, required=s.desks_reason_required and event == CREATED,
                                 auto_approved=bool(person and person.get("auto_approved")))
        q = quotas_on(ctx, office, day)
        rules.check_capacity(q, parking=parking, weekly_quota=wq)
        if store.has_booking(ctx.tables, office_id, day, email):
            raise Conflict(f"{email} already has a booking in this office on {day}",
                           code="already_booked")
        desks, parked = store.day_counts(ctx.tables, office_id, day)
        rules.check_counts(q, desks=desks, parking_booked=parked, parking=parking,
                           week=store.week_count(ctx.tables, email, day), weekly_quota=wq)
        item = store.booking_item(booking_id=ctx.new_id(), office=office, day=day, email=email,
                                  parking=parking, reason=why,
                                  created_at=ctx.now().isoformat(), created_by=by)
        plan = store.Plan(office_version=office["version"],
                          person_version=None if person is None else person.get("version", 0),
                          quotas=q, weekly_quota=wq)
        publish = ctx.publish(event, booking_event_data(item, office["tz"]))
        try:
            store.commit_booking(ctx.tables, plan, item, [publish, *extra])
        except store.Stale:
            continue
        return item
    raise Conflict("the office or the person changed while booking; try again", code="busy")


def visible_booking(ctx: Ctx, booking_id: str) -> Item:
    """The booking, if the caller owns it or administers its office — else 404, the same as a
    booking that does not exist (so ids reveal nothing)."""
    item = store.booking(ctx.tables, booking_id)
    p = ctx.user
    if item["email"] != settings().normalize(p.email) and not rules.manages(p, item["office_id"]):
        raise NotFound(f"no booking {booking_id!r}", code="booking_not_found")
    return item


def cancel(ctx: Ctx, booking_id: str) -> Item:
    item = visible_booking(ctx, booking_id)
    p = ctx.user
    office = store.office(ctx.tables, item["office_id"])
    own = item["email"] == settings().normalize(p.email)
    admin = rules.manages(p, item["office_id"])
    rules.check_cancel(day=date.fromisoformat(item["day"]), now=ctx.now(), tz=office["tz"],
                       own=own, admin=admin)
    event = ctx.publish(CANCELLED, booking_event_data(item, office["tz"],
                                                     cancelled_by=p.email))
    store.cancel_booking(ctx.tables, item, [event])
    return item


def check_manages(p: Principal, office_id: str) -> None:
    if not rules.manages(p, office_id):
        raise Forbidden(f"this needs the admin role for office {office_id}",
                        code="not_office_admin")
