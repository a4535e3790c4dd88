"""The pure rules: time zones, the week, the window, cancel deadlines, roles, quotas, passes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.apps.desks import rules
from roost.cloud.errors import Conflict, Forbidden, Invalid
from roost.cloud.identity import Grant, Principal

DAYS = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1))
ZONES = st.sampled_from(["UTC", "Europe/London", "America/Los_Angeles", "Pacific/Auckland",
                         "Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kolkata"])


def who(*grants: Grant) -> Principal:
    return Principal(user_id="u1", email="ana@example.com", grants=frozenset(grants))


@settings(max_examples=200, deadline=None)
@given(DAYS)
def test_the_week_runs_monday_to_sunday(day):
    monday = rules.week_of(day)
    assert monday.weekday() == 0 and monday <= day < monday + timedelta(days=7)
    assert rules.week_of(monday + timedelta(days=6)) == monday
    assert rules.week_of(monday + timedelta(days=7)) == monday + timedelta(days=7)


def test_today_is_the_offices_today():
    now = datetime(2026, 1, 11, 12, 0, tzinfo=UTC)  # Sunday noon in London
    assert rules.local_today(now, "Europe/London") == date(2026, 1, 11)
    assert rules.local_today(now, "Pacific/Auckland") == date(2026, 1, 12)  # already Monday
    assert rules.local_today(now, "Pacific/Pago_Pago") == date(2026, 1, 11)


@settings(max_examples=200, deadline=None)
@given(DAYS, st.integers(1, 60), st.integers(-5, 70))
def test_the_window_is_today_through_today_plus_n_minus_one(today, n, offset):
    day = today + timedelta(days=offset)
    if 0 <= offset <= n - 1:
        rules.check_window(day, today, n)
    else:
        with pytest.raises(Invalid) as e:
            rules.check_window(day, today, n)
        assert e.value.code == ("day_in_past" if offset < 0 else "outside_window")


@settings(max_examples=300, deadline=None)
@given(DAYS, ZONES, st.integers(-3, 3), st.integers(0, 24 * 60 - 1), st.booleans())
def test_cancel_deadlines(day, tz, offset, minute, admin):
    """Owners until the day starts, admins until it ends, nobody after."""
    local = rules.day_start(day, tz) + timedelta(minutes=minute)
    now = local.astimezone(UTC)
    booking_day = rules.local_today(now, tz) + timedelta(days=offset)
    allowed = booking_day > rules.local_today(now, tz) or (
        admin and booking_day == rules.local_today(now, tz))
    try:
        rules.check_cancel(day=booking_day, now=now, tz=tz, own=True, admin=admin)
        assert allowed
    except Conflict as e:
        assert not allowed
        assert e.code in ("booking_in_past", "cancel_too_late")


def test_cancel_today_refused_for_owner_allowed_for_admin():
    now = datetime(2026, 1, 5, 0, 0, 1, tzinfo=UTC)
    day = date(2026, 1, 5)
    with pytest.raises(Conflict, match="only an admin"):
        rules.check_cancel(day=day, now=now, tz="UTC", own=True, admin=False)
    rules.check_cancel(day=day, now=now, tz="UTC", own=False, admin=True)
    with pytest.raises(Conflict) as e:
        rules.check_cancel(day=day - timedelta(days=1), now=now, tz="UTC", own=True, admin=True)
    assert e.value.code == "booking_in_past"
    with pytest.raises(Forbidden):
        rules.check_cancel(day=day + timedelta(days=1), now=now, tz="UTC", own=False,
                           admin=False)


def test_roles():
    plain = who()
    office_admin = who(Grant("desks", "office_admin", "london"))
    desks_admin = who(Grant("desks", "admin"))
    system = who(Grant("roost", "admin"))
    assert not rules.manages(plain, "london")
    assert rules.manages(office_admin, "london") and not rules.manages(office_admin, "paris")
    assert rules.manages(desks_admin, "paris") and rules.manages(system, "paris")
    assert rules.is_any_admin(office_admin) and not rules.is_system_admin(office_admin)
    rules.check_book_for(plain, "ana@example.com", "ana@example.com", "london")
    with pytest.raises(Forbidden):
        rules.check_book_for(plain, "ana@example.com", "ben@example.com", "london")
    rules.check_book_for(office_admin, "ana@example.com", "ben@example.com", "london")
    with pytest.raises(Forbidden) as e:
        rules.check_book_for(office_admin, "ana@example.com", "ben@example.com", "paris")
    assert e.value.code == "not_office_admin"


def test_reason_rules():
    assert rules.check_reason(None, required=False, auto_approved=False) is None
    assert rules.check_reason("  ", required=True, auto_approved=True) is None
    assert rules.check_reason(" visit ", required=True, auto_approved=False) == "visit"
    with pytest.raises(Invalid) as e:
        rules.check_reason("", required=True, auto_approved=False)
    assert e.value.code == "reason_required"


@settings(max_examples=200, deadline=None)
@given(DAYS, st.lists(st.tuples(st.integers(-5, 5), st.integers(0, 5), st.integers(0, 9)),
                      max_size=5))
def test_the_newest_override_covering_a_day_wins(day, spans):
    base = rules.Quotas(10, 3)
    overrides = [rules.Override(day + timedelta(days=a), day + timedelta(days=a + length),
                                q, q, id=f"{i:03d}") for i, (a, length, q) in enumerate(spans)]
    got = rules.quotas_on(day, base, overrides)
    covering = [o for o in overrides if o.start <= day <= o.end]
    assert got == (rules.Quotas(covering[-1].desks, covering[-1].parking) if covering else base)


def test_zero_quotas_refuse_without_a_counter():
    for q, parking, wq, code in [(rules.Quotas(0, 5), False, 1, "office_full"),
                                 (rules.Quotas(5, 0), True, 1, "parking_full"),
                                 (rules.Quotas(5, 5), True, 0, "weekly_quota_reached")]:
        with pytest.raises(Conflict) as e:
            rules.check_capacity(q, parking=parking, weekly_quota=wq)
        assert e.value.code == code
    rules.check_capacity(rules.Quotas(1, 0), parking=False, weekly_quota=1)


@settings(max_examples=100, deadline=None)
@given(st.text("0123456789ABCDEFGHJKMNPQRSTVWXYZ", min_size=1, max_size=26),
       st.binary(min_size=16, max_size=32))
def test_a_pass_names_its_booking_and_cannot_be_forged(booking_id, key):
    token = rules.sign_pass(key, booking_id)
    assert rules.read_pass(key, token) == booking_id
    assert rules.read_pass(key + b"x", token) is None
    other = "X" + booking_id
    assert rules.read_pass(key, other + token[len(booking_id):]) is None
    assert rules.read_pass(key, token[:-2]) is None
    assert rules.read_pass(key, "garbage") is None
    assert rules.read_pass(key, "a.!!!") is None
