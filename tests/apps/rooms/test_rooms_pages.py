"""The pages through the real host: grid -> book -> detail -> edit -> cancel, refusals shown on
the form with their status, and the admin page."""

from __future__ import annotations

import re

from rooms_helpers import ADMIN, ANA, BEN


def test_book_from_the_grid_edit_and_cancel(atlas):
    h = atlas.as_(ANA)
    grid = atlas.client.get("/rooms?day=2026-01-05", headers=h)
    assert grid.status_code == 200
    assert 'aria-label="Book Atlas at 10:00"' in grid.text
    assert 'aria-label="Atlas at 08:30 is not bookable"' in grid.text  # already past
    form = atlas.client.get("/rooms/book?room=atlas&start=2026-01-05T10:00", headers=h)
    assert 'value="2026-01-05T11:00"' in form.text  # an hour by default
    r = atlas.client.post("/rooms/book", headers=h, follow_redirects=False, data={
        "room_id": "atlas", "start": "2026-01-05T10:00", "end": "2026-01-05T11:00",
        "title": "Planning", "attendees": f"{BEN}, cy@example.com"})
    assert r.status_code == 303
    code = re.fullmatch(r"/rooms/booking/(\w+)", r.headers["location"]).group(1)
    grid = atlas.client.get("/rooms?day=2026-01-05", headers=h)
    assert 'aria-label="Atlas at 10:00 is busy"' in grid.text
    assert 'aria-label="Book Atlas at 10:00"' not in grid.text
    page = atlas.client.get(f"/rooms/booking/{code}", headers=h)
    assert "Planning" in page.text and "Save changes" in page.text
    other = atlas.client.get(f"/rooms/booking/{code}", headers=atlas.as_(BEN))
    assert "Save changes" not in other.text  # an attendee sees it but cannot change it
    r = atlas.client.post(f"/rooms/booking/{code}/edit", headers=h, follow_redirects=False,
                          data={"start": "2026-01-05T13:00", "end": "2026-01-05T14:00",
                                "title": "Planning II", "attendees": BEN})
    assert r.status_code == 303
    assert "13:00" in atlas.client.get(f"/rooms/booking/{code}", headers=h).text
    assert code in atlas.client.get("/rooms/mine", headers=h).text
    r = atlas.client.post(f"/rooms/booking/{code}/cancel", headers=h, follow_redirects=False,
                          data={"confirm": "yes"})
    assert (r.status_code, r.headers["location"]) == (303, "/rooms/mine")
    assert code not in atlas.client.get("/rooms/mine", headers=h).text


def test_a_refused_booking_shows_why_on_the_form(atlas):
    atlas.book("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z", who=BEN)
    r = atlas.client.post("/rooms/book", headers=atlas.as_(ANA), data={
        "room_id": "atlas", "start": "2026-01-05T10:30", "end": "2026-01-05T11:30",
        "title": "x", "attendees": ""})
    assert r.status_code == 409 and "already booked" in r.text
    r = atlas.client.post("/rooms/book", headers=atlas.as_(ANA), data={
        "room_id": "atlas", "start": "2026-01-05T12:00", "end": "2026-01-05T13:00",
        "title": "x", "attendees": "nobody"})
    assert r.status_code == 422 and "attendees" in r.text
    # a browser signed in by cookie, tricked into posting from another site
    token = atlas.as_(ANA)["Authorization"].removeprefix("Bearer ")
    atlas.client.cookies.set("roost_access", token)
    r = atlas.client.post("/rooms/book", headers={"Origin": "https://evil.example"},
                          data={"room_id": "atlas", "start": "2026-01-05T12:00",
                                "end": "2026-01-05T13:00", "title": "x"})
    assert r.status_code == 403
    assert len(atlas.runtime.tables.table("rooms_bookings").scan().items) == 1


def test_pages_need_sign_in_and_the_admin_page_a_rooms_admin(atlas):
    r = atlas.client.get("/rooms", follow_redirects=False)
    assert r.status_code in (302, 303) and r.headers["location"].startswith("/signin")
    assert atlas.client.get("/rooms/admin", headers=atlas.as_(ANA)).status_code == 403
    r = atlas.client.post("/rooms/admin/rooms", headers=atlas.as_(ADMIN), follow_redirects=False,
                          data={"name": "Nook", "site": "Berlin", "capacity": "2",
                                "tz": "Europe/Berlin", "equipment": "phone, screen",
                                "photo": "https://example.com/nook.jpg"})
    assert r.status_code == 303
    form = atlas.client.get("/rooms/book?room=nook&start=2026-01-05T10:00",
                            headers=atlas.as_(ANA)).text
    assert 'src="https://example.com/nook.jpg" alt="Photo of Nook"' in form
    page = atlas.client.get("/rooms/admin", headers=atlas.as_(ADMIN)).text
    assert "Nook" in page and "phone, screen" in page
    bad = atlas.client.post("/rooms/admin/rooms", headers=atlas.as_(ADMIN),
                            data={"name": "X", "site": "B", "capacity": "0"})
    assert bad.status_code == 422 and "capacity" in bad.text


def test_check_in_and_approval_and_utilisation_pages(atlas):
    from roost.cloud.identity import Grant

    atlas.add_room(id="boreal", name="Boreal", requires_approval=True)
    atlas.runtime.identity.grant("mo@example.com", Grant("rooms", "manager", "boreal"),
                                 by="test")
    code = atlas.book("2026-01-05T09:10:00Z", "2026-01-05T09:40:00Z").json()["code"]
    page = atlas.client.get(f"/rooms/booking/{code}", headers=atlas.as_(ANA)).text
    assert "check in" in page
    r = atlas.client.post(f"/rooms/booking/{code}/checkin", headers=atlas.as_(ANA),
                          data={"confirm": "yes"}, follow_redirects=False)
    assert r.status_code == 303
    assert "checked in" in atlas.client.get(f"/rooms/booking/{code}",
                                            headers=atlas.as_(ANA)).text
    pending = atlas.book("2026-01-05T12:00:00Z", "2026-01-05T13:00:00Z", room="boreal").json()
    mo = atlas.as_("mo@example.com")
    listing = atlas.client.get("/rooms/approvals", headers=mo).text
    assert pending["code"] in listing and "Accept" in listing
    assert "Waiting for you" in atlas.client.get("/rooms?day=2026-01-05", headers=mo).text
    r = atlas.client.post(f"/rooms/booking/{pending['code']}/accept", headers=mo, data={},
                          follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/rooms/approvals")
    assert pending["code"] not in atlas.client.get("/rooms/approvals", headers=mo).text
    refused = atlas.client.post(f"/rooms/booking/{pending['code']}/reject", headers=mo,
                                data={})
    assert refused.status_code == 409 and "not waiting" in refused.text
    use = atlas.client.get("/rooms/admin/utilisation?first_day=2026-01-05&last_day=2026-01-05",
                           headers=atlas.as_(ADMIN))
    assert use.status_code == 200 and "Boreal" in use.text
    assert atlas.client.get("/rooms/admin/utilisation", headers=mo).status_code == 403


def test_rooms_admins_switch_a_room_off_and_its_approval_on(atlas):
    h = atlas.as_(ADMIN)
    page = atlas.client.get("/rooms/admin", headers=h).text
    assert 'aria-label="Bookable Atlas: turn off"' in page
    r = atlas.client.post("/rooms/admin/rooms/atlas/switch", headers=h,
                          data={"name": "active", "value": "off"}, follow_redirects=False)
    assert r.status_code == 303
    assert atlas.book("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z").json()["code"] == \
        "room_inactive"
    atlas.client.post("/rooms/admin/rooms/atlas/switch", headers=h,
                      data={"name": "active", "value": "on"})
    atlas.client.post("/rooms/admin/rooms/atlas/switch", headers=h,
                      data={"name": "requires_approval", "value": "on"})
    assert atlas.book("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z").json()["status"] == \
        "pending"
    bad = atlas.client.post("/rooms/admin/rooms/atlas/switch", headers=h,
                            data={"name": "capacity", "value": "on"})
    assert bad.status_code == 422
    assert atlas.client.post("/rooms/admin/rooms/atlas/switch", headers=atlas.as_(ANA),
                             data={"name": "active", "value": "off"}).status_code == 403


def test_the_grid_of_today_lists_rooms_free_now(atlas):
    atlas.add_room(id="boreal", name="Boreal", capacity=12)
    atlas.book("2026-01-05T09:00:00Z", "2026-01-05T10:00:00Z")  # Atlas is taken now
    atlas.at("2026-01-05T09:02:30+00:00")
    page = atlas.client.get("/rooms?day=2026-01-05", headers=atlas.as_(ANA)).text
    free = page[page.index('data-testid="free-now"'):page.index("</ul>",
                                                                page.index("free-now"))]
    assert "Boreal" in free and "Atlas" not in free
    assert "/rooms/book?room=boreal&amp;start=2026-01-05T09%3A05" in free
    assert 'data-testid="free-now"' not in atlas.client.get(
        "/rooms?day=2026-01-06", headers=atlas.as_(ANA)).text


def test_a_weekly_booking_from_the_form_offers_the_free_ones(atlas):
    atlas.book("2026-01-12T10:00:00Z", "2026-01-12T11:00:00Z", who=BEN)
    form = {"room_id": "atlas", "start": "2026-01-05T10:00", "end": "2026-01-05T11:00",
            "title": "Weekly", "attendees": "", "repeat": "weekly", "until": "2026-01-26"}
    r = atlas.client.post("/rooms/book", headers=atlas.as_(ANA), data=form)
    assert r.status_code == 409
    assert "Mon 12 Jan 10:00: the room is already booked at that time" in r.text
    assert "Book only the free ones" in r.text
    r = atlas.client.post("/rooms/book", headers=atlas.as_(ANA), follow_redirects=False,
                          data={**form, "on_conflict": "skip"})
    assert (r.status_code, r.headers["location"]) == (303, "/rooms/mine")
    mine = atlas.client.get("/rooms/mine", headers=atlas.as_(ANA)).text
    assert mine.count("Weekly") == 3
