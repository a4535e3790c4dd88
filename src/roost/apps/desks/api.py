"""The desks JSON API: parse -> rules -> store (+ the outbox event), nothing more.

Roles: `user` books for themselves; office admins (`desks:office_admin:<office>`) book, cancel
and view for anyone in their offices and search people; system admins (`roost:admin`, or
`desks:admin` for this app alone) do everything: offices, quotas, people."""

from __future__ import annotations

import hmac
from datetime import date, timedelta
from typing import Any

from pydantic import ValidationError

from roost.cloud.errors import Conflict, Forbidden, Invalid, NotFound, RoostError
from roost.cloud.functions import PUBLIC, USER, Ctx, Uses

from . import app, booking, rules, store
from .booking import CANCELLED, CREATED, check_manages, writable
from .config import settings
from .models import (
    Booking,
    BookingList,
    DayStatus,
    DayView,
    DefaultOffice,
    NewBooking,
    Occupancy,
    Office,
    OfficeImport,
    OfficeIn,
    OfficeList,
    OfficeSaved,
    OverDay,
    OverrideList,
    OverrideSaved,
    PassCheck,
    PassToken,
    PeopleQuery,
    Person,
    PersonChange,
    PersonList,
    PublicConfig,
    QuotaOverride,
    QuotaOverrideIn,
    RangeQuery,
    SelftestKey,
    SelftestReport,
    SelftestStep,
    WaitlistEntry,
    WaitlistIn,
    WaitlistList,
)

SYSTEM = "desks:admin"  # roost:admin holds it too
OFFICE_ADMIN = "desks:office_admin"
MAX_RANGE_DAYS = 366

OFFICE_READ = Uses(reads=[store.OFFICES])
BOOK = Uses(reads=[store.OFFICES], writes=[store.COUNTERS, store.BOOKINGS, store.PEOPLE],
            publishes=[CREATED])
CANCEL = Uses(reads=[store.OFFICES], writes=[store.COUNTERS, store.BOOKINGS],
              publishes=[CANCELLED])
DASHBOARD = Uses(reads=[store.OFFICES, store.COUNTERS, store.BOOKINGS])


# --------------------------------------------------------------------------- conversions


def office_out(item: dict[str, Any]) -> Office:
    return Office(id=item["sk"], name=item["name"], tz=item["tz"],
                  desk_quota=item["desk_quota"], parking_quota=item["parking_quota"],
                  floors=item.get("floors") or [], version=item.get("version", 0))


def booking_out(item: dict[str, Any]) -> Booking:
    return Booking(id=item["id"], office_id=item["office_id"], office_name=item["office_name"],
                   day=date.fromisoformat(item["day"]), email=item["email"],
                   parking=item["parking"], reason=item.get("reason"),
                   created_at=item["created_at"], created_by=item["created_by"])


def person_out(email: str, item: dict[str, Any] | None) -> Person:
    item = item or {}
    return Person(email=email, weekly_quota=item.get("weekly_quota"),
                  effective_weekly_quota=booking.weekly_quota(item or None),
                  auto_approved=bool(item.get("auto_approved")),
                  default_office=item.get("default_office"), version=item.get("version", 0))


def override_out(item: dict[str, Any]) -> QuotaOverride:
    return QuotaOverride(id=item["sk"], office_id=item["office_id"],
                         start=date.fromisoformat(item["start"]),
                         end=date.fromisoformat(item["end"]), desk_quota=item["desk_quota"],
                         parking_quota=item["parking_quota"], note=item.get("note", ""))


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise Invalid(f"{text!r} is not a date (YYYY-MM-DD)", code="invalid_date") from exc


def day_status(ctx: Ctx, office: dict[str, Any], day: date,
               counts: tuple[int, int] | None = None) -> DayStatus:
    desks, parking = counts or store.day_counts(ctx.tables, office["sk"], day)
    q = booking.quotas_on(ctx, office, day)
    return DayStatus(office_id=office["sk"], day=day, desk_quota=q.desks, desks_booked=desks,
                     desks_free=max(0, q.desks - desks), parking_quota=q.parking,
                     parking_booked=parking, parking_free=max(0, q.parking - parking))


def over_quota(ctx: Ctx, office: dict[str, Any]) -> list[OverDay]:
    """Days from today on with more booked than the quota now allows."""
    today = rules.local_today(ctx.now(), office["tz"])
    out: list[OverDay] = []
    for day, counts in sorted(store.counts_from(ctx.tables, office["sk"], today).items()):
        s = day_status(ctx, office, day, counts)
        if rules.over_quota(s.desks_booked, s.parking_booked,
                            rules.Quotas(s.desk_quota, s.parking_quota)):
            out.append(OverDay(day=day, desks_booked=s.desks_booked, desk_quota=s.desk_quota,
                               parking_booked=s.parking_booked,
                               parking_quota=s.parking_quota))
    return out


# --------------------------------------------------------------------------- public


@app.route("GET", "/desks/config", roles=[PUBLIC])
def public_config(ctx: Ctx) -> PublicConfig:
    """What a client needs before sign-in: the email pattern, the window, whether a reason is
    required, and whether Desks is in read-only mode."""
    s = settings()
    return PublicConfig(email_pattern=s.allowed_email_pattern,
                        email_case_sensitive=s.email_case_sensitive,
                        window_days=s.desks_window_days, reason_required=s.desks_reason_required,
                        read_only=s.read_only)


# --------------------------------------------------------------------------- offices


@app.route("GET", "/desks/offices", roles=[USER], uses=OFFICE_READ)
def list_offices(ctx: Ctx) -> OfficeList:
    """Every office, by id."""
    return OfficeList(offices=[office_out(o) for o in store.offices(ctx.tables)])


@app.route("POST", "/desks/offices", roles=[SYSTEM], status=201,
           uses=Uses(writes=[store.OFFICES]))
def create_office(ctx: Ctx, body: OfficeIn) -> Office:
    """Add an office (system admins)."""
    writable()
    return office_out(store.create_office(ctx.tables, body.model_dump()))


@app.route("PUT", "/desks/offices/{office_id}", roles=[SYSTEM],
           uses=Uses(reads=[store.COUNTERS], writes=[store.OFFICES]))
def change_office(ctx: Ctx, body: OfficeIn, *, office_id: str) -> OfficeSaved:
    """Change an office (system admins). Existing bookings stay; days now over quota are
    listed for an admin to resolve."""
    writable()
    if body.id != office_id:
        raise Invalid("an office's id cannot change", code="office_id_mismatch")
    item = store.change_office(ctx.tables, office_id, body.model_dump())
    return OfficeSaved(office=office_out(item), over_quota=over_quota(ctx, item))


@app.route("GET", "/desks/offices/{office_id}/overrides", roles=[SYSTEM, OFFICE_ADMIN],
           uses=OFFICE_READ)
def list_overrides(ctx: Ctx, *, office_id: str) -> OverrideList:
    """Date-ranged quota overrides of an office."""
    check_manages(ctx.user, office_id)
    store.office(ctx.tables, office_id)
    return OverrideList(overrides=[override_out(o)
                                   for o in store.overrides(ctx.tables, office_id)])


@app.route("POST", "/desks/offices/{office_id}/overrides", roles=[SYSTEM], status=201,
           uses=Uses(reads=[store.COUNTERS], writes=[store.OFFICES]))
def add_override(ctx: Ctx, body: QuotaOverrideIn, *, office_id: str) -> OverrideSaved:
    """Quotas for a date range (a floor closed for works). Bookings already made stay; days
    now over quota are listed for an admin to resolve."""
    writable()
    if body.end < body.start:
        raise Invalid("the range ends before it starts", code="invalid_range")
    fields = body.model_dump(mode="json")
    item = store.add_override(ctx.tables, office_id, ctx.new_id(), fields)
    return OverrideSaved(override=override_out(item),
                         over_quota=over_quota(ctx, store.office(ctx.tables, office_id)))


@app.route("DELETE", "/desks/offices/{office_id}/overrides/{override_id}", roles=[SYSTEM],
           uses=Uses(writes=[store.OFFICES]))
def remove_override(ctx: Ctx, *, office_id: str, override_id: str) -> None:
    """Back to the office's own quotas for that range."""
    writable()
    store.remove_override(ctx.tables, office_id, override_id)


@app.route("GET", "/desks/offices/{office_id}/over-quota", roles=[SYSTEM, OFFICE_ADMIN],
           uses=Uses(reads=[store.OFFICES, store.COUNTERS]))
def list_over_quota(ctx: Ctx, *, office_id: str) -> list[OverDay]:
    """Days from today on with more booked than the quota now allows."""
    check_manages(ctx.user, office_id)
    return over_quota(ctx, store.office(ctx.tables, office_id))


@app.route("GET", "/desks/offices/{office_id}/days/{day}", roles=[SYSTEM, OFFICE_ADMIN],
           uses=DASHBOARD)
def office_day(ctx: Ctx, *, office_id: str, day: str) -> DayView:
    """Booked, free and parking for one office and day, with the bookings."""
    check_manages(ctx.user, office_id)
    d = parse_day(day)
    office = store.office(ctx.tables, office_id)
    status = day_status(ctx, office, d)
    items = store.bookings_on(ctx.tables, office_id, d)
    return DayView(**status.model_dump(), bookings=[booking_out(i) for i in items])


@app.route("GET", "/desks/offices/{office_id}/occupancy", roles=[SYSTEM, OFFICE_ADMIN],
           uses=Uses(reads=[store.OFFICES, store.COUNTERS]))
def occupancy(ctx: Ctx, query: RangeQuery, *, office_id: str) -> Occupancy:
    """Booked and free per day over a range (at most a year)."""
    check_manages(ctx.user, office_id)
    if query.end < query.start or (query.end - query.start).days >= MAX_RANGE_DAYS:
        raise Invalid(f"give a range of 1 to {MAX_RANGE_DAYS} days", code="invalid_range")
    office = store.office(ctx.tables, office_id)
    counts = store.counts_between(ctx.tables, office_id, query.start, query.end)
    days = []
    d = query.start
    while d <= query.end:
        days.append(day_status(ctx, office, d, counts.get(d, (0, 0))))
        d += timedelta(days=1)
    return Occupancy(office_id=office_id, days=days)


# --------------------------------------------------------------------------- bookings


@app.route("POST", "/desks/bookings", roles=[USER], status=201, uses=BOOK)
def create_booking(ctx: Ctx, body: NewBooking) -> Booking:
    """Book a desk (and parking) for a whole day, for yourself — or, as an admin of the office,
    for someone else. Quotas apply to everyone."""
    writable()
    p = ctx.user
    email = booking.target_email(p, body.email)
    rules.check_book_for(p, settings().normalize(p.email), email, body.office_id)
    item = booking.book(ctx, office_id=body.office_id, day=body.day, email=email,
                        parking=body.parking, reason=body.reason, by=p.email)
    return booking_out(item)


@app.route("GET", "/desks/bookings", roles=[USER],
           uses=Uses(reads=[store.BOOKINGS, store.OFFICES]))
def my_bookings(ctx: Ctx) -> BookingList:
    """Your bookings from today on (today's included, in each office's zone), soonest first."""
    return BookingList(bookings=[booking_out(i) for i in upcoming(ctx)])


def upcoming(ctx: Ctx) -> list[dict[str, Any]]:
    zones = {o["sk"]: o["tz"] for o in store.offices(ctx.tables)}
    since = (ctx.now() - timedelta(days=1)).date()  # every zone's today is on or after this
    items = store.bookings_of(ctx.tables, settings().normalize(ctx.user.email), since)
    return [i for i in items
            if date.fromisoformat(i["day"]) >= rules.local_today(ctx.now(),
                                                                 zones.get(i["office_id"], "UTC"))]


@app.route("GET", "/desks/bookings/{booking_id}", roles=[USER],
           uses=Uses(reads=[store.BOOKINGS]))
def get_booking(ctx: Ctx, *, booking_id: str) -> Booking:
    """One booking: yours, or in an office you administer (else 404)."""
    return booking_out(booking.visible_booking(ctx, booking_id))


@app.route("DELETE", "/desks/bookings/{booking_id}", roles=[USER], uses=CANCEL)
def cancel_booking(ctx: Ctx, *, booking_id: str) -> None:
    """Cancel: your own until the day starts (office time); admins until it ends; never a past
    one."""
    writable()
    booking.cancel(ctx, booking_id)


@app.route("GET", "/desks/bookings/{booking_id}/pass", roles=[USER],
           uses=Uses(reads=[store.BOOKINGS], writes=[store.KEYS]))
def booking_pass(ctx: Ctx, *, booking_id: str) -> PassToken:
    """The signed token the pass's QR code carries."""
    item = booking.visible_booking(ctx, booking_id)
    return PassToken(token=rules.sign_pass(store.pass_key(ctx.tables), item["id"]))


@app.route("POST", "/desks/passes/verify", roles=[USER],
           uses=Uses(reads=[store.BOOKINGS, store.OFFICES], writes=[store.KEYS]))
def verify_pass(ctx: Ctx, body: PassToken) -> PassCheck:
    """For security staff at the door: valid, not valid, or not today."""
    return check_pass(ctx, body.token)


def check_pass(ctx: Ctx, token: str) -> PassCheck:
    booking_id = rules.read_pass(store.pass_key(ctx.tables), token)
    if booking_id is None:
        return PassCheck(status="not_valid", message="Not valid: this is not a Desks pass.")
    try:
        item = store.booking(ctx.tables, booking_id)
    except NotFound:
        return PassCheck(status="not_valid", message="Not valid: the booking was cancelled.")
    office = store.office(ctx.tables, item["office_id"])
    day = date.fromisoformat(item["day"])
    found = {"office_name": item["office_name"], "day": day, "email": item["email"]}
    if day != rules.local_today(ctx.now(), office["tz"]):
        return PassCheck(status="not_today", message=f"Not today: the booking is for {day}.",
                         **found)
    return PassCheck(status="valid", message="Valid for today.", **found)


# --------------------------------------------------------------------------- people


@app.route("GET", "/desks/me", roles=[USER], uses=Uses(reads=[store.PEOPLE]))
def me(ctx: Ctx) -> Person:
    """Your quota, auto-approval and default office."""
    email = settings().normalize(ctx.user.email)
    return person_out(email, store.person(ctx.tables, email))


@app.route("PUT", "/desks/me/default-office", roles=[USER],
           uses=Uses(reads=[store.OFFICES], writes=[store.PEOPLE]))
def set_default_office(ctx: Ctx, body: DefaultOffice) -> Person:
    """Pick (or clear, with null) the office the booking form starts on."""
    writable()
    email = settings().normalize(ctx.user.email)
    if body.office_id is None:
        item = store.change_person(ctx.tables, email, set={}, remove=["default_office"])
    else:
        store.office(ctx.tables, body.office_id)
        item = store.change_person(ctx.tables, email, set={"default_office": body.office_id})
    return person_out(email, item)


@app.route("GET", "/desks/people", roles=[SYSTEM, OFFICE_ADMIN],
           uses=Uses(reads=[store.PEOPLE]))
def search_people(ctx: Ctx, query: PeopleQuery) -> PersonList:
    """People who have used Desks, by email prefix (office and system admins)."""
    prefix = settings().normalize(query.q)
    items = store.search_people(ctx.tables, prefix, query.limit)
    return PersonList(people=[person_out(i["email"], i) for i in items])


@app.route("PATCH", "/desks/people/{email}", roles=[SYSTEM], uses=Uses(writes=[store.PEOPLE]))
def change_person(ctx: Ctx, body: PersonChange, *, email: str) -> Person:
    """Change a person's weekly quota (0 included; reset to the default) or auto-approval
    (system admins). Roles are grants: give `desks:office_admin:<office>` on /admin/people."""
    writable()
    if not rules.is_system_admin(ctx.user):
        raise Forbidden("only system admins change people", code="missing_role")
    address = booking.target_email(ctx.user, email)
    changes: dict[str, Any] = {}
    remove: list[str] = []
    if body.reset_weekly_quota:
        remove.append("weekly_quota")
    elif body.weekly_quota is not None:
        changes["weekly_quota"] = body.weekly_quota
    if body.auto_approved is not None:
        changes["auto_approved"] = body.auto_approved
    return person_out(address, store.change_person(ctx.tables, address, set=changes,
                                                   remove=remove))


# --------------------------------------------------------------------------- waitlist


@app.route("POST", "/desks/waitlist", roles=[USER], status=201,
           uses=Uses(reads=[store.OFFICES, store.COUNTERS, store.BOOKINGS],
                     writes=[store.WAITLIST]))
def join_waitlist(ctx: Ctx, body: WaitlistIn) -> WaitlistEntry:
    """Queue for a day that is full; a cancellation books the first in line who still fits
    their quotas, and mails them."""
    writable()
    email = settings().normalize(ctx.user.email)
    office = store.office(ctx.tables, body.office_id)
    rules.check_window(body.day, rules.local_today(ctx.now(), office["tz"]),
                       settings().desks_window_days)
    s = day_status(ctx, office, body.day)
    if s.desks_free > 0 and (not body.parking or s.parking_free > 0):
        raise Invalid("there is still room that day: book instead", code="not_full")
    if any(b["email"] == email for b in store.bookings_on(ctx.tables, body.office_id,
                                                          body.day)):
        raise Conflict("you already have a booking that day", code="already_booked")
    item = store.join_waitlist(ctx.tables, body.office_id, body.day, email, ctx.new_id(),
                               body.parking)
    return WaitlistEntry(id=item["sk"], office_id=body.office_id, day=body.day, email=email,
                         parking=body.parking)


def entry_out(item: dict[str, Any]) -> WaitlistEntry:
    return WaitlistEntry(id=item["sk"], office_id=item["office_id"],
                         day=date.fromisoformat(item["day"]), email=item["email"],
                         parking=item["parking"])


@app.route("GET", "/desks/waitlist", roles=[USER], uses=Uses(reads=[store.WAITLIST]))
def my_waitlist(ctx: Ctx) -> WaitlistList:
    """The days you are queued for, from today on."""
    since = (ctx.now() - timedelta(days=1)).date()
    items = store.waiting_of(ctx.tables, settings().normalize(ctx.user.email), since)
    return WaitlistList(entries=[entry_out(i) for i in items])


@app.route("DELETE", "/desks/waitlist/{office_id}/{day}", roles=[USER],
           uses=Uses(writes=[store.WAITLIST]))
def leave_waitlist(ctx: Ctx, *, office_id: str, day: str) -> None:
    """Leave the waitlist of an office and day."""
    writable()
    store.leave_waitlist(ctx.tables, office_id, parse_day(day),
                         settings().normalize(ctx.user.email))


# --------------------------------------------------------------------------- config import


@app.route("POST", "/desks/offices/import", roles=[SYSTEM],
           uses=Uses(reads=[store.COUNTERS], writes=[store.OFFICES]))
def import_offices(ctx: Ctx, body: bytes) -> OfficeImport:
    """Create or change offices from a TOML file: `[[office]]` tables with id, name, tz,
    desk_quota, parking_quota and floors. All entries are checked before any is written."""
    writable()
    import tomllib  # here: its parser compiles regexes at import, and one route reads TOML

    try:
        data = tomllib.loads(body.decode("utf-8"))
        entries = [OfficeIn(**o) for o in data.get("office", [])]
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise Invalid(f"not a TOML file: {exc}", code="invalid_file") from exc
    except (ValidationError, TypeError) as exc:
        raise Invalid(f"an office in the file is invalid: {exc}", code="invalid_office") from exc
    if not entries:
        raise Invalid("the file has no [[office]] entries", code="invalid_file")
    out = OfficeImport(created=[], changed=[])
    existing = {o["sk"] for o in store.offices(ctx.tables)}
    for o in entries:
        if o.id in existing:
            saved = change_office(ctx, o, office_id=o.id)
            out.changed.append(o.id)
            if saved.over_quota:
                out.over_quota[o.id] = saved.over_quota
        else:
            store.create_office(ctx.tables, o.model_dump())
            out.created.append(o.id)
    return out


# --------------------------------------------------------------------------- self-test


@app.route("POST", "/desks/selftest", roles=[PUBLIC],
           uses=Uses(reads=[store.OFFICES], writes=[store.COUNTERS, store.BOOKINGS,
                                                    store.PEOPLE],
                     publishes=[CREATED, CANCELLED]))
def selftest(ctx: Ctx, body: SelftestKey) -> SelftestReport:
    """The smoke test after a deploy: books and cancels as the configured self-test user,
    reporting each step. Needs the self-test key (at least 20 characters)."""
    return run_selftest(ctx, body.key)


def run_selftest(ctx: Ctx, key: str) -> SelftestReport:
    s = settings()
    want = s.desks_selftest_key.get_secret_value() if s.desks_selftest_key else None
    if not want or not s.desks_selftest_email:
        raise Forbidden("the self-test is not configured (ROOST_DESKS_SELFTEST_KEY, "
                        "ROOST_DESKS_SELFTEST_EMAIL)", code="selftest_off")
    if not hmac.compare_digest(key.encode(), want.encode()):
        raise Forbidden("wrong self-test key", code="selftest_key")
    steps: list[SelftestStep] = []
    email = s.normalize(s.desks_selftest_email)
    try:
        writable()
        steps.append(SelftestStep(step="writable", ok=True))
        offices = store.offices(ctx.tables)
        if not offices:
            steps.append(SelftestStep(step="office", ok=False, detail="no office configured"))
            return SelftestReport(ok=False, steps=steps)
        office = offices[0]
        steps.append(SelftestStep(step="office", ok=True, detail=office["sk"]))
        today = rules.local_today(ctx.now(), office["tz"])
        day = today + timedelta(days=min(1, s.desks_window_days - 1))
        item = booking.book(ctx, office_id=office["sk"], day=day, email=email, parking=False,
                            reason="self-test", by="selftest")
        steps.append(SelftestStep(step="book", ok=True, detail=f"{item['id']} on {day}"))
        store.booking(ctx.tables, item["id"])
        steps.append(SelftestStep(step="read", ok=True))
        event = ctx.publish(CANCELLED, booking.booking_event_data(
            item, office["tz"], cancelled_by="selftest"))
        store.cancel_booking(ctx.tables, item, [event])
        steps.append(SelftestStep(step="cancel", ok=True))
    except RoostError as exc:
        steps.append(SelftestStep(step="failed", ok=False, detail=f"{exc.code}: {exc.message}"))
        return SelftestReport(ok=False, steps=steps)
    return SelftestReport(ok=True, steps=steps)
