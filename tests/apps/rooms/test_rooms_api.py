"""Rooms and bookings through the real host: create, read, change, cancel, the booking rules,
who may do what, and bad input answered with a clear 4xx and nothing written."""

from __future__ import annotations

from rooms_helpers import ADMIN, ANA, BEN


def rows(host, table: str) -> list[dict]:
    return host.runtime.tables.table(table).scan().items


def test_a_booking_takes_the_slot_and_answers_with_a_code(atlas):
    r = atlas.book("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z", attendees=[BEN])
    assert r.status_code == 201, r.text
    b = r.json()
    assert len(b["code"]) == 6 and b["status"] == "booked" and b["organiser_email"] == ANA
    assert b["attendees"] == [BEN] and b["sequence"] == 0
    got = atlas.client.get(f"/rooms/bookings/{b['code']}", headers=atlas.as_(BEN)).json()
    assert got["start"] == "2026-01-05T10:00:00Z"
    mine = atlas.client.get("/rooms/bookings", headers=atlas.as_(ANA)).json()["bookings"]
    assert [m["code"] for m in mine] == [b["code"]]
    assert atlas.client.get("/rooms/bookings", headers=atlas.as_(BEN)).json()["bookings"] == []


def test_overlapping_bookings_are_refused_and_touching_ones_are_not(atlas):
    assert atlas.book("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z").status_code == 201
    clash = atlas.book("2026-01-05T10:30:00Z", "2026-01-05T11:30:00Z", who=BEN)
    assert clash.status_code == 409
    assert clash.json()["code"] == "slot_taken"
    assert clash.json()["conflicts"] == [{"start": "2026-01-05T10:00:00Z",
                                          "end": "2026-01-05T11:00:00Z"}]
    assert atlas.book("2026-01-05T11:00:00Z", "2026-01-05T12:00:00Z").status_code == 201
    assert atlas.book("2026-01-05T09:00:00Z", "2026-01-05T10:00:00Z").status_code == 201


def test_a_time_without_offset_is_the_rooms_local_time(host):
    host.add_room(tz="Europe/Berlin")
    b = host.book("2026-01-05T10:00", "2026-01-05T11:00").json()
    assert b["start"] == "2026-01-05T09:00:00Z"  # 10:00 in Berlin in winter


def test_the_booking_rules(atlas):
    cases = {
        ("2026-01-05T11:00:00Z", "2026-01-05T10:00:00Z"): "end_before_start",
        ("2026-01-05T08:00:00Z", "2026-01-05T08:30:00Z"): "in_the_past",
        ("2026-01-05T10:00:00Z", "2026-01-05T14:30:00Z"): "too_long",
        ("2026-04-06T10:00:00Z", "2026-04-06T11:00:00Z"): "beyond_window",
        ("2026-01-05T17:30:00Z", "2026-01-05T18:30:00Z"): "outside_hours",
        ("2026-01-05T07:00:00Z", "2026-01-05T07:30:00Z"): "in_the_past",
        ("2026-01-06T07:30:00Z", "2026-01-06T08:30:00Z"): "outside_hours",
        ("2026-01-10T10:00:00Z", "2026-01-10T11:00:00Z"): "closed_day",
    }
    for (start, end), code in cases.items():
        r = atlas.book(start, end)
        assert (r.status_code, r.json()["code"]) == (422, code), (start, end, r.text)
    assert rows(atlas, "rooms_bookings") == [] and rows(atlas, "rooms_days") == []
    assert atlas.pending_events("rooms.booking_created") == []


def test_bad_input_is_a_clear_4xx_and_writes_nothing(atlas):
    unknown = atlas.book("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z", room="nowhere")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "room_not_found")
    for bad in ({"attendees": ["not-an-email"]}, {"title": ""}, {"start": "yesterday"},
                {"colour": "red"}):
        body = {"room_id": "atlas", "start": "2026-01-05T10:00:00Z",
                "end": "2026-01-05T11:00:00Z", "title": "x", **bad}
        r = atlas.client.post("/rooms/bookings", json=body, headers=atlas.as_(ANA))
        assert r.status_code == 422, bad
    assert rows(atlas, "rooms_bookings") == [] and rows(atlas, "rooms_days") == []
    assert atlas.client.post("/rooms/bookings", json={}).status_code == 401


def test_only_the_organiser_or_a_rooms_admin_changes_or_cancels(atlas):
    code = atlas.book("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z").json()["code"]
    for method, path, body in (("PATCH", f"/rooms/bookings/{code}", {"title": "Mine now"}),
                               ("DELETE", f"/rooms/bookings/{code}", None)):
        r = atlas.client.request(method, path, json=body, headers=atlas.as_(BEN))
        assert (r.status_code, r.json()["code"]) == (403, "not_organiser")
    r = atlas.client.patch(f"/rooms/bookings/{code}", json={"title": "Renamed"},
                           headers=atlas.as_(ADMIN))
    assert r.json()["title"] == "Renamed" and r.json()["sequence"] == 1
    r = atlas.client.delete(f"/rooms/bookings/{code}", headers=atlas.as_(ANA))
    assert r.json()["status"] == "cancelled" and r.json()["sequence"] == 2
    again = atlas.client.delete(f"/rooms/bookings/{code}", headers=atlas.as_(ANA))
    assert (again.status_code, again.json()["code"]) == (409, "booking_cancelled")
    # the slot is free again
    assert atlas.book("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z", who=BEN).status_code == 201


def test_a_change_follows_the_same_rules_and_frees_the_old_slot(atlas):
    atlas.add_room(id="boreal", name="Boreal")
    code = atlas.book("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z").json()["code"]
    atlas.book("2026-01-05T12:00:00Z", "2026-01-05T13:00:00Z", who=BEN)
    path = f"/rooms/bookings/{code}"
    clash = atlas.client.patch(path, json={"start": "2026-01-05T12:30:00Z",
                                           "end": "2026-01-05T13:30:00Z"},
                               headers=atlas.as_(ANA))
    assert (clash.status_code, clash.json()["code"]) == (409, "slot_taken")
    bad = atlas.client.patch(path, json={"end": "2026-01-05T09:30:00Z"}, headers=atlas.as_(ANA))
    assert (bad.status_code, bad.json()["code"]) == (422, "end_before_start")
    # moving within its own time (overlapping itself) is fine
    r = atlas.client.patch(path, json={"start": "2026-01-05T10:30:00Z",
                                       "end": "2026-01-05T11:30:00Z"}, headers=atlas.as_(ANA))
    assert r.status_code == 200, r.text
    # to another room on another day
    r = atlas.client.patch(path, json={"room_id": "boreal", "start": "2026-01-06T10:00:00Z",
                                       "end": "2026-01-06T11:00:00Z"}, headers=atlas.as_(ANA))
    assert r.json()["room_id"] == "boreal" and r.json()["sequence"] == 2
    assert atlas.book("2026-01-05T10:00:00Z", "2026-01-05T12:00:00Z", who=BEN).status_code == 201
    days = {(d["room"], d["day"]): [b.split("|")[2] for b in d["busy"]]
            for d in rows(atlas, "rooms_days")}
    assert days[("boreal", "2026-01-06")] == [code]
    assert code not in days[("atlas", "2026-01-05")]


def test_rooms_are_managed_by_rooms_admins(host):
    room = {"name": "Cirrus Room", "site": "Berlin", "capacity": 8}
    assert host.client.post("/rooms/rooms", json=room, headers=host.as_(ANA)).status_code == 403
    made = host.client.post("/rooms/rooms", json=room, headers=host.as_(ADMIN))
    assert made.status_code == 201 and made.json()["id"] == "cirrus-room"
    again = host.client.post("/rooms/rooms", json=room, headers=host.as_(ADMIN))
    assert (again.status_code, again.json()["code"]) == (409, "room_exists")
    for bad in ({"tz": "Mars/Olympus"}, {"capacity": 0}, {"opens": "18:00", "closes": "08:00"},
                {"weekdays": [7]}, {"equipment": ["<script>"]},
                {"opens": "08:00+02:00"}):  # an offset once made closes <= opens a 500
        r = host.client.post("/rooms/rooms", json={**room, "id": "x", **bad},
                             headers=host.as_(ADMIN))
        assert r.status_code == 422, bad
    r = host.client.put("/rooms/rooms/cirrus-room", json={**room, "active": False},
                        headers=host.as_(ADMIN))
    assert r.json()["active"] is False
    listed = host.client.get("/rooms/rooms", headers=host.as_(ANA)).json()["rooms"]
    assert [x["id"] for x in listed] == ["cirrus-room"]
    r = host.book("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z", room="cirrus-room")
    assert r.json()["code"] == "room_inactive"
    assert host.client.put("/rooms/rooms/nope", json=room,
                           headers=host.as_(ADMIN)).status_code == 404


def test_a_booking_is_seen_by_those_in_it_its_managers_and_admins(atlas):
    from roost.cloud.identity import Grant

    code = atlas.book("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z",
                      attendees=[BEN]).json()["code"]
    atlas.runtime.identity.grant("mo@example.com", Grant("rooms", "manager", "atlas"),
                                 by="test")
    for who, status in ((ANA, 200), (BEN, 200), (ADMIN, 200), ("mo@example.com", 200),
                        ("zed@example.com", 403)):
        r = atlas.client.get(f"/rooms/bookings/{code}", headers=atlas.as_(who))
        assert r.status_code == status, who
        page = atlas.client.get(f"/rooms/booking/{code}", headers=atlas.as_(who))
        assert page.status_code == status, who
    assert atlas.client.get("/rooms/bookings/ZZZZZZ", headers=atlas.as_(ANA)).status_code == 404
