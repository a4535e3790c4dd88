"""The desks pages: book and see your passes (phone first), verify a pass at the door, the
admin dashboard and the offices page. Forms re-render with the reason when refused."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from roost.cloud.errors import Invalid, RoostError
from roost.cloud.functions import USER, Ctx, Reply, Uses, redirect

from . import api, app, booking, rules, store
from .config import settings
from .models import DefaultOffice, NewBooking, OfficeIn, PersonChange, QuotaOverrideIn

SYSTEM, OFFICE_ADMIN = api.SYSTEM, api.OFFICE_ADMIN
OCCUPANCY_DAYS = 14


class Form(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class HomeQuery(Form):
    office: str = Field("", max_length=40)
    day: str = Field("", max_length=10)


class BookForm(Form):
    office_id: str = Field("", max_length=40)
    day: str = Field("", max_length=10)
    parking: str = Field("", max_length=10)
    reason: str = Field("", max_length=500)
    email: str = Field("", max_length=320)
    confirm_today: str = Field("", max_length=10)
    back: str = Field("", max_length=200)


class OfficeForm(Form):
    office: str = Field("", max_length=40)


class CancelForm(Form):
    back: str = Field("", max_length=200)


class TokenQuery(Form):
    token: str = Field("", max_length=400)


class DashboardQuery(Form):
    office: str = Field("", max_length=40)
    day: str = Field("", max_length=10)
    q: str = Field("", max_length=320)
    start: str = Field("", max_length=10)
    end: str = Field("", max_length=10)


class PersonForm(Form):
    email: str = Field("", max_length=320)
    weekly_quota: str = Field("", max_length=3)
    auto_approved: str = Field("", max_length=10)
    back: str = Field("", max_length=200)


class OfficeEditForm(Form):
    id: str = Field("", max_length=40)
    name: str = Field("", max_length=100)
    tz: str = Field("UTC", max_length=64)
    desk_quota: str = Field("0", max_length=7)
    parking_quota: str = Field("0", max_length=7)
    floors: str = Field("", max_length=2000)
    new: str = Field("", max_length=10)


class OverrideForm(Form):
    office_id: str = Field("", max_length=40)
    start: str = Field("", max_length=10)
    end: str = Field("", max_length=10)
    desk_quota: str = Field("0", max_length=7)
    parking_quota: str = Field("0", max_length=7)
    note: str = Field("", max_length=200)


class ImportForm(Form):
    toml: str = Field("", max_length=200_000)


class ExportQuery(Form):
    office: str = Field("", max_length=40)
    start: str = Field("", max_length=10)
    end: str = Field("", max_length=10)


def safe_back(back: str, default: str) -> str:
    return back if back.startswith("/desks") and "//" not in back else default


def message_of(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        e = exc.errors()[0]
        field = ".".join(str(x) for x in e["loc"])
        return f"{field}: {e['msg']}" if field else str(e["msg"])
    return exc.message if isinstance(exc, RoostError) else str(exc)


def status_of(exc: Exception) -> int:
    return exc.status if isinstance(exc, RoostError) else 422


# --------------------------------------------------------------------------- home: book


HOME_USES = Uses(reads=[store.OFFICES, store.BOOKINGS, store.PEOPLE, store.COUNTERS,
                        store.WAITLIST])


def _home(ctx: Ctx, office_id: str = "", day: str = "", **extra: Any) -> dict[str, Any]:
    s = settings()
    email = s.normalize(ctx.user.email)
    person = store.person(ctx.tables, email)
    offices = [api.office_out(o) for o in store.offices(ctx.tables)]
    default = (person or {}).get("default_office")
    chosen = next((o for o in offices if o.id == (office_id or default)),
                  offices[0] if offices else None)
    today = rules.local_today(ctx.now(), chosen.tz if chosen else "UTC")
    first, last = rules.window(today, s.desks_window_days)
    mine = [api.booking_out(i) for i in api.upcoming(ctx)]
    waiting = api.my_waitlist(ctx).entries
    return {"title": "Desks", "offices": offices, "office": chosen, "default_office": default,
            "today": today, "first": first, "last": last, "day": day or today.isoformat(),
            "bookings": mine, "waiting": waiting, "person": api.person_out(email, person),
            "config": s,
            "is_admin": rules.is_any_admin(ctx.user),
            "is_system_admin": rules.is_system_admin(ctx.user), **extra}


@app.page("/desks", roles=[USER], template="desks.html", uses=HOME_USES)
def home(ctx: Ctx, query: HomeQuery) -> dict[str, Any]:
    """Book a desk; your upcoming bookings (today's included) with their passes."""
    return _home(ctx, query.office, query.day)


@app.page("/desks/book", method="POST", roles=[USER], template="desks.html",
          uses=Uses(reads=[store.OFFICES], writes=[store.COUNTERS, store.BOOKINGS, store.PEOPLE,
                                                   store.WAITLIST],
                    publishes=[booking.CREATED]))
def book_form(ctx: Ctx, body: BookForm) -> Any:
    """Book from the form; booking for today needs a confirmation first."""
    back = safe_back(body.back, "/desks")
    try:
        booking.writable()
        req = NewBooking(office_id=body.office_id, day=body.day, parking=bool(body.parking),
                         reason=body.reason or None, email=body.email or None)
        office = store.office(ctx.tables, req.office_id)
        if req.day == rules.local_today(ctx.now(), office["tz"]) and not body.confirm_today:
            return _home(ctx, req.office_id, body.day, confirm=body.model_dump())
        created = api.create_booking(ctx, req)
    except (RoostError, ValidationError) as exc:
        if back.startswith("/desks/admin"):
            return Reply(body=_home(ctx, body.office_id, body.day, error=message_of(exc)),
                         status=status_of(exc))
        full = isinstance(exc, RoostError) and exc.code in ("office_full",)
        return Reply(body=_home(ctx, body.office_id, body.day, error=message_of(exc),
                                waitlist=body.model_dump() if full else None),
                     status=status_of(exc))
    if back.startswith("/desks/admin"):
        return redirect(back)
    return redirect(f"/desks/pass/{created.id}")


@app.page("/desks/queue", method="POST", roles=[USER], template="desks.html",
          uses=Uses(reads=[store.OFFICES, store.COUNTERS, store.BOOKINGS, store.PEOPLE],
                    writes=[store.WAITLIST]))
def waitlist_form(ctx: Ctx, body: BookForm) -> Any:
    """Queue for a full day; a cancellation books the first in line who fits."""
    try:
        booking.writable()
        api.join_waitlist(ctx, api.WaitlistIn(office_id=body.office_id, day=body.day,
                                              parking=bool(body.parking)))
    except (RoostError, ValidationError) as exc:
        return Reply(body=_home(ctx, body.office_id, body.day, error=message_of(exc)),
                     status=status_of(exc))
    return Reply(body=_home(ctx, body.office_id, body.day,
                            notice=f"You are on the waitlist for {body.day}."))


@app.page("/desks/queue/leave", method="POST", roles=[USER], template="desks.html",
          uses=Uses(reads=[store.OFFICES, store.BOOKINGS, store.PEOPLE, store.COUNTERS],
                    writes=[store.WAITLIST]))
def leave_queue_form(ctx: Ctx, body: BookForm) -> Any:
    """Leave a waitlist."""
    try:
        booking.writable()
        api.leave_waitlist(ctx, office_id=body.office_id, day=body.day)
    except RoostError as exc:
        return Reply(body=_home(ctx, error=message_of(exc)), status=exc.status)
    return redirect("/desks")


@app.page("/desks/default-office", method="POST", roles=[USER], template="desks.html",
          uses=Uses(reads=[store.OFFICES, store.BOOKINGS, store.COUNTERS, store.WAITLIST],
                    writes=[store.PEOPLE]))
def default_office_form(ctx: Ctx, body: OfficeForm) -> Any:
    try:
        api.set_default_office(ctx, DefaultOffice(office_id=body.office or None))
    except (RoostError, ValidationError) as exc:
        return Reply(body=_home(ctx, error=message_of(exc)), status=status_of(exc))
    return redirect("/desks")


@app.page("/desks/cancel/{booking_id}", method="POST", roles=[USER], template="desks.html",
          uses=Uses(reads=[store.OFFICES, store.PEOPLE, store.WAITLIST],
                    writes=[store.COUNTERS, store.BOOKINGS], publishes=[booking.CANCELLED]))
def cancel_form(ctx: Ctx, body: CancelForm, *, booking_id: str) -> Any:
    try:
        booking.writable()
        booking.cancel(ctx, booking_id)
    except RoostError as exc:
        return Reply(body=_home(ctx, error=message_of(exc)), status=exc.status)
    return redirect(safe_back(body.back, "/desks"))


# --------------------------------------------------------------------------- the pass


def qr_svg(text: str) -> str:
    """The pass's QR code as inline SVG (segno imported here: only the pass page draws one)."""
    import segno

    return segno.make(text, error="m").svg_inline(scale=6, border=2, dark="#000",
                                                  light="#fff", title="Pass QR code")


PASS_USES = Uses(reads=[store.BOOKINGS, store.OFFICES], writes=[store.KEYS])


def _pass(ctx: Ctx, booking_id: str) -> dict[str, Any]:
    item = booking.visible_booking(ctx, booking_id)
    office = store.office(ctx.tables, item["office_id"])
    token = rules.sign_pass(store.pass_key(ctx.tables), item["id"])
    base = ctx.request.base_url.rstrip("/") if ctx.request else ""
    url = f"{base}/desks/passes/verify?token={quote(token)}"
    day = date.fromisoformat(item["day"])
    today = rules.local_today(ctx.now(), office["tz"])
    return {"title": "Pass", "booking": api.booking_out(item), "token": token, "verify_url": url,
            "qr": qr_svg(url), "is_today": day == today, "can_cancel": day >= today}


@app.page("/desks/pass/{booking_id}", roles=[USER], template="pass.html", uses=PASS_USES)
def pass_page(ctx: Ctx, *, booking_id: str) -> dict[str, Any]:
    """The pass to show at the door: office, date, name and a QR code with a signed token."""
    return _pass(ctx, booking_id)


@app.page("/desks/pass/{booking_id}/print", roles=[USER], template="pass_print.html",
          uses=PASS_USES)
def pass_print(ctx: Ctx, *, booking_id: str) -> dict[str, Any]:
    """The pass on a plain page for printing."""
    return _pass(ctx, booking_id)


@app.page("/desks/passes/verify", roles=[USER], template="verify.html",
          uses=Uses(reads=[store.BOOKINGS, store.OFFICES], writes=[store.KEYS]))
def verify_page(ctx: Ctx, query: TokenQuery) -> dict[str, Any]:
    """For security staff: scan the QR code; the page says valid, not valid or not today."""
    check = api.check_pass(ctx, query.token) if query.token else None
    return {"title": "Verify a pass", "check": check, "token": query.token}


# --------------------------------------------------------------------------- admin dashboard


DASH_USES = Uses(reads=[store.OFFICES, store.COUNTERS, store.BOOKINGS, store.PEOPLE])


def _dashboard(ctx: Ctx, office_id: str = "", day: str = "", q: str = "", start: str = "",
               end: str = "", **extra: Any) -> dict[str, Any]:
    p = ctx.user
    offices = [api.office_out(o) for o in store.offices(ctx.tables)
               if rules.manages(p, o["sk"])]
    chosen = next((o for o in offices if o.id == office_id), offices[0] if offices else None)
    out: dict[str, Any] = {"title": "Desks admin", "offices": offices, "office": chosen,
                           "q": q, "is_system_admin": rules.is_system_admin(p), **extra}
    if chosen is not None:
        today = rules.local_today(ctx.now(), chosen.tz)
        d = api.parse_day(day) if day else today
        item = store.office(ctx.tables, chosen.id)
        out["day"] = d
        out["view"] = api.office_day(ctx, office_id=chosen.id, day=d.isoformat())
        first = api.parse_day(start) if start else today
        last = api.parse_day(end) if end else first + timedelta(days=OCCUPANCY_DAYS - 1)
        occ = api.occupancy(ctx, api.RangeQuery(start=first, end=last), office_id=chosen.id)
        out["occupancy"] = occ.days
        out["start"], out["end"] = first, last
        out["over_quota"] = api.over_quota(ctx, item)
        out["export_end"] = today + timedelta(days=settings().desks_window_days - 1)
        out["today"] = today
    out["people"] = api.search_people(ctx, api.PeopleQuery(q=q, limit=50)).people
    return out


@app.page("/desks/admin", roles=[SYSTEM, OFFICE_ADMIN], template="dashboard.html",
          uses=DASH_USES)
def dashboard(ctx: Ctx, query: DashboardQuery) -> Any:
    """Per office and day: booked, free, parking, the bookings (cancel, book for someone),
    occupancy ahead, people (quota changes for system admins), CSV export."""
    try:
        return _dashboard(ctx, query.office, query.day, query.q, query.start, query.end)
    except Invalid as exc:
        return Reply(body=_dashboard(ctx, query.office, "", query.q, error=exc.message),
                     status=exc.status)


@app.page("/desks/admin/person", method="POST", roles=[SYSTEM], template="dashboard.html",
          uses=Uses(reads=[store.OFFICES, store.COUNTERS, store.BOOKINGS],
                    writes=[store.PEOPLE]))
def person_form(ctx: Ctx, body: PersonForm) -> Any:
    """Change a person's weekly quota (blank: the default) and auto-approval."""
    try:
        booking.writable()
        quota = body.weekly_quota.strip()
        change = PersonChange(weekly_quota=int(quota) if quota else None,
                              reset_weekly_quota=not quota,
                              auto_approved=bool(body.auto_approved))
        api.change_person(ctx, change, email=body.email)
    except (RoostError, ValidationError, ValueError) as exc:
        return Reply(body=_dashboard(ctx, q=body.email, error=message_of(exc)),
                     status=status_of(exc))
    return redirect(safe_back(body.back, "/desks/admin"))


def _csv_cell(v: Any) -> str:
    """Spreadsheets run cells that start with = + - @: quote them as text."""
    s = "" if v is None else str(v)
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


@app.page("/desks/admin/export.csv", roles=[SYSTEM, OFFICE_ADMIN], template="export.csv",
          uses=Uses(reads=[store.OFFICES, store.BOOKINGS]))
def export_csv(ctx: Ctx, query: ExportQuery) -> Reply:
    """The bookings of one office over a date range (at most 92 days), as CSV."""
    booking.check_manages(ctx.user, query.office)
    start, end = api.parse_day(query.start), api.parse_day(query.end)
    if end < start or (end - start).days > 92:
        raise Invalid("give a range of 1 to 93 days", code="invalid_range")
    store.office(ctx.tables, query.office)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["day", "office", "email", "parking", "reason", "booked_by", "booked_at", "id"])
    d = start
    while d <= end:
        for i in store.bookings_on(ctx.tables, query.office, d):
            w.writerow([_csv_cell(x) for x in (i["day"], i["office_id"], i["email"],
                                                "yes" if i["parking"] else "no",
                                                i.get("reason"), i["created_by"],
                                                i["created_at"], i["id"])])
        d += timedelta(days=1)
    name = f"desks-{query.office}-{start}-{end}.csv"
    return Reply(body={"csv": buf.getvalue()}, headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{name}"'})


# --------------------------------------------------------------------------- offices


def _offices(ctx: Ctx, **extra: Any) -> dict[str, Any]:
    items = store.offices(ctx.tables)
    return {"title": "Offices", "offices": [api.office_out(o) for o in items],
            "overrides": {o["sk"]: [api.override_out(x)
                                    for x in store.overrides(ctx.tables, o["sk"])]
                          for o in items}, **extra}


@app.page("/desks/admin/offices", roles=[SYSTEM], template="offices.html",
          uses=Uses(reads=[store.OFFICES]))
def offices_page(ctx: Ctx) -> dict[str, Any]:
    """Offices with their quotas and date-ranged overrides (system admins)."""
    return _offices(ctx)


@app.page("/desks/admin/offices", method="POST", roles=[SYSTEM], template="offices.html",
          uses=Uses(reads=[store.COUNTERS], writes=[store.OFFICES]))
def office_form(ctx: Ctx, body: OfficeEditForm) -> Any:
    try:
        data = OfficeIn(id=body.id, name=body.name, tz=body.tz, desk_quota=body.desk_quota,
                        parking_quota=body.parking_quota,
                        floors=[f.strip() for f in body.floors.split(",") if f.strip()])
        if body.new:
            api.create_office(ctx, data)
            over: list[Any] = []
        else:
            over = api.change_office(ctx, data, office_id=data.id).over_quota
    except (RoostError, ValidationError) as exc:
        return Reply(body=_offices(ctx, error=message_of(exc)), status=status_of(exc))
    return Reply(body=_offices(ctx, notice=f"Saved {body.id}.", over_quota=over))


@app.page("/desks/admin/overrides", method="POST", roles=[SYSTEM], template="offices.html",
          uses=Uses(reads=[store.COUNTERS], writes=[store.OFFICES]))
def override_form(ctx: Ctx, body: OverrideForm) -> Any:
    try:
        saved = api.add_override(ctx, QuotaOverrideIn(
            start=body.start, end=body.end, desk_quota=body.desk_quota,
            parking_quota=body.parking_quota, note=body.note), office_id=body.office_id)
    except (RoostError, ValidationError) as exc:
        return Reply(body=_offices(ctx, error=message_of(exc)), status=status_of(exc))
    return Reply(body=_offices(ctx, notice=f"Quotas set for {body.start} to {body.end}.",
                               over_quota=saved.over_quota))


@app.page("/desks/admin/offices/import", method="POST", roles=[SYSTEM], template="offices.html",
          uses=Uses(reads=[store.COUNTERS], writes=[store.OFFICES]))
def import_form(ctx: Ctx, body: ImportForm) -> Any:
    """Create or change offices from a pasted TOML file (`[[office]]` tables)."""
    try:
        done = api.import_offices(ctx, body.toml.encode())
    except RoostError as exc:
        return Reply(body=_offices(ctx, error=message_of(exc)), status=exc.status)
    over = [d for days in done.over_quota.values() for d in days]
    return Reply(body=_offices(ctx, notice=f"Imported: {len(done.created)} created, "
                               f"{len(done.changed)} changed.", over_quota=over))
