"""The desks API through the real host: offices, bookings, quotas, the window, cancel rules,
roles, reasons, people, bad input, read-only mode, the public config."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from desks_helpers import ADMIN, configure

from roost.cloud.identity import Grant

ANA = "ana@example.com"
BEN = "ben@example.com"
MONDAY = "2026-01-05"  # the clock's today (09:00 UTC)
TUESDAY = "2026-01-06"
NEXT_MONDAY = "2026-01-12"


def counters(desks) -> list[dict]:
    return desks.runtime.tables.table("desks_counters").scan().items


def test_book_and_see_it(desks):
    r = desks.book(ANA, TUESDAY, parking=True)
    assert r.status_code == 201, r.text
    b = r.json()
    assert (b["office_id"], b["day"], b["email"], b["parking"]) == ("hq", TUESDAY, ANA, True)
    mine = desks.client.get("/desks/bookings", headers=desks.auth(ANA)).json()["bookings"]
    assert [x["id"] for x in mine] == [b["id"]]
    assert desks.client.get(f"/desks/bookings/{b['id']}", headers=desks.auth(ANA)).json() == b
    day = desks.client.get(f"/desks/offices/hq/days/{TUESDAY}",
                           headers=desks.auth(ADMIN)).json()
    assert (day["desks_booked"], day["desks_free"], day["parking_booked"]) == (1, 9, 1)
    assert [x["email"] for x in day["bookings"]] == [ANA]
    assert desks.outbox("desks.booking_created")[0]["id"] == b["id"]


def test_todays_bookings_are_among_the_upcoming(desks):
    configure_weekly(desks, ANA, 3)
    today = desks.book(ANA, MONDAY).json()
    later = desks.book(ANA, TUESDAY).json()
    desks.clock.set(datetime(2026, 1, 5, 23, 0, tzinfo=UTC))
    mine = desks.client.get("/desks/bookings", headers=desks.auth(ANA)).json()["bookings"]
    assert [x["id"] for x in mine] == [today["id"], later["id"]]
    desks.clock.set(datetime(2026, 1, 6, 0, 30, tzinfo=UTC))
    mine = desks.client.get("/desks/bookings", headers=desks.auth(ANA)).json()["bookings"]
    assert [x["id"] for x in mine] == [later["id"]]


def configure_weekly(desks, email: str, n: int | None) -> None:
    body = {"weekly_quota": n} if n is not None else {"reset_weekly_quota": True}
    r = desks.client.patch(f"/desks/people/{email}", headers=desks.auth(ADMIN), json=body)
    assert r.status_code == 200, r.text


def test_one_booking_per_person_per_office_per_day(desks):
    desks.office("annex")
    assert desks.book(ANA, TUESDAY).status_code == 201
    again = desks.book(ANA, TUESDAY)  # said before the weekly quota, which is also used up
    assert again.status_code == 409 and again.json()["code"] == "already_booked"
    configure_weekly(desks, ANA, 5)
    assert desks.book(ANA, TUESDAY, "annex").status_code == 201  # another office: fine


def test_weekly_quota_default_one_and_the_next_week(desks):
    assert desks.book(ANA, TUESDAY).status_code == 201
    r = desks.book(ANA, "2026-01-11")  # Sunday: the same week
    assert r.status_code == 409 and r.json()["code"] == "weekly_quota_reached"
    assert desks.book(ANA, NEXT_MONDAY).status_code == 201


def test_weekly_quota_zero_and_changed_per_person(desks):
    configure_weekly(desks, ANA, 0)
    r = desks.book(ANA, TUESDAY)
    assert r.status_code == 409 and r.json()["code"] == "weekly_quota_reached"
    configure_weekly(desks, ANA, 2)
    assert desks.book(ANA, TUESDAY).status_code == 201
    assert desks.book(ANA, "2026-01-07").status_code == 201
    assert desks.book(ANA, "2026-01-08").json()["code"] == "weekly_quota_reached"
    me = desks.client.get("/desks/me", headers=desks.auth(ANA)).json()
    assert (me["weekly_quota"], me["effective_weekly_quota"]) == (2, 2)
    configure_weekly(desks, ANA, None)
    assert desks.client.get("/desks/me", headers=desks.auth(ANA)).json()[
        "effective_weekly_quota"] == 1


def test_default_weekly_quota_is_configurable(desks, monkeypatch):
    configure(monkeypatch, desks_weekly_quota=2)
    assert desks.book(ANA, TUESDAY).status_code == 201
    assert desks.book(ANA, "2026-01-07").status_code == 201
    assert desks.book(ANA, "2026-01-08").status_code == 409


def test_the_week_boundary_is_in_the_offices_time_zone(make_desks):
    d = make_desks()
    d.office("akl", tz="Pacific/Auckland")  # UTC+13 in January
    d.clock.set(datetime(2026, 1, 10, 9, 0, tzinfo=UTC))  # Saturday 22:00 in Auckland
    assert d.book(ANA, "2026-01-11", "akl").status_code == 201  # Sunday: week of the 5th
    assert d.book(ANA, "2026-01-12", "akl").status_code == 201  # Monday: a new week
    r = d.book(ANA, "2026-01-13", "akl")
    assert r.status_code == 409 and r.json()["code"] == "weekly_quota_reached"
    # Sunday 12:00 UTC is already Monday in Auckland: Sunday is past there, not in London.
    d.office("lon", tz="Europe/London")
    d.clock.set(datetime(2026, 1, 11, 12, 0, tzinfo=UTC))
    r = d.book(BEN, "2026-01-11", "akl")
    assert r.status_code == 422 and r.json()["code"] == "day_in_past"
    assert d.book(BEN, "2026-01-11", "lon").status_code == 201


def test_the_booking_window(desks, monkeypatch):
    last = "2026-01-18"  # today + 14 - 1
    assert desks.book(ANA, last).status_code == 201
    r = desks.book(BEN, "2026-01-19")
    assert r.status_code == 422 and r.json()["code"] == "outside_window"
    r = desks.book(BEN, "2026-01-04")
    assert r.status_code == 422 and r.json()["code"] == "day_in_past"
    configure(monkeypatch, desks_window_days=2)
    assert desks.book(BEN, "2026-01-07").json()["code"] == "outside_window"
    assert desks.book(BEN, TUESDAY).status_code == 201


def test_desk_and_parking_quotas(make_desks):
    d = make_desks()
    d.office("tiny", desks=2, parking=1)
    d.office("closed", desks=0, parking=0)
    assert d.book(ANA, TUESDAY, "tiny", parking=True).status_code == 201
    r = d.book(BEN, TUESDAY, "tiny", parking=True)
    assert r.status_code == 409 and r.json()["code"] == "parking_full"
    assert d.book(BEN, TUESDAY, "tiny").status_code == 201
    r = d.book("cy@example.com", TUESDAY, "tiny")
    assert r.status_code == 409 and r.json()["code"] == "office_full"
    r = d.book("cy@example.com", TUESDAY, "closed")
    assert r.status_code == 409 and r.json()["code"] == "office_full"


def test_cancel_own_until_the_day_starts_admin_until_it_ends(desks):
    configure_weekly(desks, ANA, 7)
    today = desks.book(ANA, MONDAY).json()
    tomorrow = desks.book(ANA, TUESDAY).json()
    r = desks.client.delete(f"/desks/bookings/{today['id']}", headers=desks.auth(ANA))
    assert r.status_code == 409 and r.json()["code"] == "cancel_too_late"
    assert desks.client.delete(f"/desks/bookings/{tomorrow['id']}",
                               headers=desks.auth(ANA)).status_code == 204
    assert desks.client.delete(f"/desks/bookings/{today['id']}",
                               headers=desks.auth(ADMIN)).status_code == 204
    assert all(c.get("desks", 0) == 0 and c.get("n", 0) == 0 for c in counters(desks))
    gone = desks.client.get(f"/desks/bookings/{today['id']}", headers=desks.auth(ANA))
    assert gone.status_code == 404 and gone.json()["code"] == "booking_not_found"
    mails = desks.outbox("desks.booking_cancelled")
    assert {m["cancelled_by"] for m in mails} == {ANA, ADMIN}


def test_past_bookings_are_never_cancelled(desks):
    b = desks.book(ANA, TUESDAY).json()
    desks.clock.set(datetime(2026, 1, 7, 0, 0, 1, tzinfo=UTC))
    r = desks.client.delete(f"/desks/bookings/{b['id']}", headers=desks.auth(ADMIN))
    assert r.status_code == 409 and r.json()["code"] == "booking_in_past"


def test_someone_elses_or_a_missing_booking_is_404(desks):
    b = desks.book(ANA, TUESDAY).json()
    for path in (f"/desks/bookings/{b['id']}", "/desks/bookings/nope"):
        assert desks.client.get(path, headers=desks.auth(BEN)).status_code == 404
        assert desks.client.delete(path, headers=desks.auth(BEN)).status_code == 404
    assert desks.client.get(f"/desks/bookings/{b['id']}", headers=desks.auth(ANA)).status_code \
        == 200


def test_office_admins_book_and_cancel_in_their_offices_only(desks):
    desks.office("paris")
    desks.grant(BEN, Grant("desks", "office_admin", "hq"))
    r = desks.book(BEN, TUESDAY, email="Cy@Example.com")
    assert r.status_code == 201 and r.json()["email"] == "cy@example.com"
    assert r.json()["created_by"] == BEN
    other = desks.book(BEN, TUESDAY, "paris", email="cy@example.com")
    assert other.status_code == 403 and other.json()["code"] == "not_office_admin"
    # Quotas apply to admins too: cy already has this week's booking.
    again = desks.book(BEN, "2026-01-07", email="cy@example.com")
    assert again.json()["code"] == "weekly_quota_reached"
    ana = desks.book(ANA, TUESDAY, "paris").json()
    assert desks.client.delete(f"/desks/bookings/{ana['id']}",
                               headers=desks.auth(BEN)).status_code == 404
    assert desks.client.delete(f"/desks/bookings/{r.json()['id']}",
                               headers=desks.auth(BEN)).status_code == 204
    # View users, change nothing else.
    assert desks.client.get("/desks/people", headers=desks.auth(BEN)).status_code == 200
    assert desks.client.patch(f"/desks/people/{ANA}", headers=desks.auth(BEN),
                              json={"weekly_quota": 3}).status_code == 403
    assert desks.client.post("/desks/offices", headers=desks.auth(BEN), json={
        "id": "x", "name": "X"}).status_code == 403
    assert desks.client.get("/desks/offices/paris/days/2026-01-06",
                            headers=desks.auth(BEN)).status_code == 403


def test_default_users_book_only_for_themselves(desks):
    r = desks.book(ANA, TUESDAY, email=BEN)
    assert r.status_code == 403 and r.json()["code"] == "not_office_admin"
    assert desks.client.get("/desks/people", headers=desks.auth(ANA)).status_code == 403
    assert desks.client.get("/desks/offices/hq/days/2026-01-06",
                            headers=desks.auth(ANA)).status_code == 403


def test_desks_admin_grant_is_a_system_admin_of_desks(desks):
    desks.grant(BEN, Grant("desks", "admin"))
    r = desks.client.post("/desks/offices", headers=desks.auth(BEN),
                          json={"id": "rome", "name": "Rome", "desk_quota": 3})
    assert r.status_code == 201
    assert desks.book(BEN, TUESDAY, "rome", email=ANA).status_code == 201


def test_admin_booking_for_an_address_outside_the_pattern_is_refused(desks, monkeypatch):
    configure(monkeypatch, allowed_email_pattern=r"^(.*)@(example\.com)$")
    r = desks.book(ADMIN, TUESDAY, email="eve@evil.example")
    assert r.status_code == 422 and r.json()["code"] == "email_not_allowed"
    assert desks.book(ADMIN, TUESDAY, email="EVE@EXAMPLE.COM").status_code == 201


def test_reason_to_book(desks, monkeypatch):
    configure(monkeypatch, desks_reason_required="true", desks_reason_email="ops@example.com")
    r = desks.book(ANA, TUESDAY)
    assert r.status_code == 422 and r.json()["code"] == "reason_required"
    assert counters(desks) == []
    assert desks.book(ANA, TUESDAY, reason="client visit").status_code == 201
    # An auto-approved person books without one.
    r = desks.client.patch(f"/desks/people/{BEN}", headers=desks.auth(ADMIN),
                           json={"auto_approved": True})
    assert r.json()["auto_approved"] is True
    assert desks.book(BEN, TUESDAY).status_code == 201
    sent = desks.sent()
    reasons = [m for m in sent if m.subject.startswith("Reason to book")]
    assert [m.to for m in reasons] == [("ops@example.com",)]
    assert "client visit" in desks.runtime.mailer.read(reasons[0].id).get_body(
        ("plain",)).get_content()


def test_default_office(desks):
    r = desks.client.put("/desks/me/default-office", headers=desks.auth(ANA),
                         json={"office_id": "hq"})
    assert r.status_code == 200 and r.json()["default_office"] == "hq"
    r = desks.client.put("/desks/me/default-office", headers=desks.auth(ANA),
                         json={"office_id": "nowhere"})
    assert r.status_code == 404
    r = desks.client.put("/desks/me/default-office", headers=desks.auth(ANA),
                         json={"office_id": None})
    assert r.json()["default_office"] is None


def test_quota_drop_keeps_bookings_and_lists_them(desks):
    for email in (ANA, BEN, "cy@example.com"):
        assert desks.book(email, TUESDAY).status_code == 201
    r = desks.client.put("/desks/offices/hq", headers=desks.auth(ADMIN), json={
        "id": "hq", "name": "HQ", "tz": "UTC", "desk_quota": 2, "parking_quota": 2})
    assert r.status_code == 200
    assert [(d["day"], d["desks_booked"], d["desk_quota"]) for d in r.json()["over_quota"]] == [
        (TUESDAY, 3, 2)]
    assert desks.book("dan@example.com", TUESDAY).json()["code"] == "office_full"
    day = desks.client.get(f"/desks/offices/hq/days/{TUESDAY}", headers=desks.auth(ADMIN))
    assert (day.json()["desks_booked"], day.json()["desks_free"]) == (3, 0)


def test_date_ranged_quota_override(desks):
    assert desks.book(ANA, "2026-01-07").status_code == 201
    r = desks.client.post("/desks/offices/hq/overrides", headers=desks.auth(ADMIN), json={
        "start": TUESDAY, "end": "2026-01-08", "desk_quota": 0, "parking_quota": 0,
        "note": "floor closed"})
    assert r.status_code == 201, r.text
    assert [d["day"] for d in r.json()["over_quota"]] == ["2026-01-07"]
    assert desks.book(BEN, TUESDAY).json()["code"] == "office_full"
    assert desks.book(BEN, "2026-01-09").status_code == 201  # outside the range
    occ = desks.client.get("/desks/offices/hq/occupancy", headers=desks.auth(ADMIN),
                           params={"start": MONDAY, "end": "2026-01-09"}).json()["days"]
    assert [d["desk_quota"] for d in occ] == [10, 0, 0, 0, 10]
    oid = r.json()["override"]["id"]
    assert desks.client.delete(f"/desks/offices/hq/overrides/{oid}",
                               headers=desks.auth(ADMIN)).status_code == 204
    assert desks.book("cy@example.com", TUESDAY).status_code == 201
    bad = desks.client.post("/desks/offices/hq/overrides", headers=desks.auth(ADMIN), json={
        "start": "2026-01-08", "end": TUESDAY, "desk_quota": 1, "parking_quota": 0})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_range"


def test_bad_input_is_a_4xx_with_nothing_written(desks):
    before = desks.runtime.tables.table("desks_bookings").scan().items
    cases = [
        {"office_id": "hq", "day": "not-a-day"},
        {"office_id": "HQ!", "day": TUESDAY},
        {"office_id": "hq", "day": TUESDAY, "surprise": 1},
        {"office_id": "hq", "day": TUESDAY, "reason": "x" * 501},
    ]
    for body in cases:
        r = desks.client.post("/desks/bookings", headers=desks.auth(ANA), json=body)
        assert r.status_code == 422, body
    r = desks.book(ANA, TUESDAY, "nowhere")
    assert r.status_code == 404 and r.json()["code"] == "office_not_found"
    assert desks.runtime.tables.table("desks_bookings").scan().items == before
    assert counters(desks) == []
    bad_office = desks.client.post("/desks/offices", headers=desks.auth(ADMIN), json={
        "id": "x", "name": "X", "tz": "Mars/Olympus"})
    assert bad_office.status_code == 422
    assert desks.client.post("/desks/offices", headers=desks.auth(ADMIN), json={
        "id": "hq", "name": "Again"}).json()["code"] == "office_exists"
    assert desks.client.get("/desks/offices/hq/days/2026-13-01",
                            headers=desks.auth(ADMIN)).json()["code"] == "invalid_date"


def test_people_search_is_a_prefix_never_a_filter(desks):
    for email in (ANA, BEN):
        desks.book(email, TUESDAY)
    found = desks.client.get("/desks/people", headers=desks.auth(ADMIN),
                             params={"q": "AN"}).json()["people"]
    assert [p["email"] for p in found] == [ANA]
    for q in ("' OR 1=1 --", "*", ")(|(mail=*)", "\\"):
        r = desks.client.get("/desks/people", headers=desks.auth(ADMIN), params={"q": q})
        assert r.status_code == 200 and r.json()["people"] == []


def test_read_only_mode(desks, monkeypatch):
    b = desks.book(ANA, TUESDAY).json()
    configure(monkeypatch, read_only="true")
    r = desks.book(BEN, TUESDAY)
    assert r.status_code == 503 and r.json()["code"] == "read_only"
    assert "read-only" in r.json()["detail"]
    assert desks.client.delete(f"/desks/bookings/{b['id']}",
                               headers=desks.auth(ANA)).status_code == 503
    assert desks.client.get("/desks/bookings", headers=desks.auth(ANA)).status_code == 200
    assert desks.client.get("/desks/config").json()["read_only"] is True


def test_public_config(desks, monkeypatch):
    configure(monkeypatch, allowed_email_pattern=r"^(.*)@(my-company\.example)$",
              desks_window_days=21, desks_reason_required="true")
    assert desks.client.get("/desks/config").json() == {
        "email_pattern": r"^(.*)@(my-company\.example)$", "email_case_sensitive": False,
        "window_days": 21, "reason_required": True, "read_only": False}


def test_sign_in_is_limited_to_the_pattern(make_desks):
    d = make_desks(allowed_email_pattern=r"^(.*)@(my-company\.example)$")
    refused = d.client.post("/auth/code", json={"email": "eve@elsewhere.example"})
    allowed = d.client.post("/auth/code", json={"email": "Ana@My-Company.example"})
    assert refused.status_code >= 400 and allowed.status_code < 300


def test_every_change_is_in_the_audit_trail(desks):
    b = desks.book(ANA, TUESDAY).json()
    desks.client.delete(f"/desks/bookings/{b['id']}", headers=desks.auth(ANA))
    trail = desks.client.get("/admin/audit", headers=desks.auth(ADMIN),
                             params={"app": "desks", "limit": 100}).json()["entries"]
    ops = {(e["table"], e["op"]) for e in trail}
    assert {("desks_offices", "put"), ("desks_bookings", "put"), ("desks_bookings", "delete"),
            ("desks_counters", "update"), ("desks_people", "update")} <= ops
    actors = {e["actor"] for e in trail if e["table"] == "desks_bookings"}
    assert len(actors) == 1 and "system" not in actors


def test_offices_import_from_a_config_file(desks):
    toml = b'''
[[office]]
id = "hq"
name = "Head office"
tz = "Europe/London"
desk_quota = 12
parking_quota = 3

[[office]]
id = "lisbon"
name = "Lisbon"
tz = "Europe/Lisbon"
desk_quota = 4
floors = ["1", "2"]
'''
    r = desks.client.post("/desks/offices/import", headers={**desks.auth(ADMIN),
                          "Content-Type": "application/toml"}, content=toml)
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["changed"]) == (["lisbon"], ["hq"])
    offices = {o["id"]: o for o in desks.client.get(
        "/desks/offices", headers=desks.auth(ANA)).json()["offices"]}
    assert offices["hq"]["desk_quota"] == 12 and offices["lisbon"]["floors"] == ["1", "2"]
    bad = desks.client.post("/desks/offices/import", headers=desks.auth(ADMIN),
                            content=b'[[office]]\nid = "ok"\n[[office]]\nid = "BAD"\n')
    assert bad.status_code == 422
    assert "ok" not in {o["id"] for o in desks.client.get(
        "/desks/offices", headers=desks.auth(ANA)).json()["offices"]}


def test_pass_verification(desks):
    b = desks.book(ANA, MONDAY).json()
    later = desks.book(BEN, TUESDAY).json()

    def verify(token: str) -> dict:
        r = desks.client.post("/desks/passes/verify", headers=desks.auth(ADMIN),
                              json={"token": token})
        assert r.status_code == 200
        return r.json()

    token = desks.client.get(f"/desks/bookings/{b['id']}/pass",
                             headers=desks.auth(ANA)).json()["token"]
    ok = verify(token)
    assert (ok["status"], ok["email"], ok["office_name"]) == ("valid", ANA, "Hq")
    other = desks.client.get(f"/desks/bookings/{later['id']}/pass",
                             headers=desks.auth(BEN)).json()["token"]
    assert verify(other)["status"] == "not_today"
    assert verify(token[:-3] + "AAA")["status"] == "not_valid"
    assert verify(later["id"] + ".x")["status"] == "not_valid"
    desks.client.delete(f"/desks/bookings/{later['id']}", headers=desks.auth(BEN))
    assert verify(other)["status"] == "not_valid"
    desks.clock.advance(timedelta(days=1))
    assert verify(token)["status"] == "not_today"
