"""Blockings: rooms closed over whole days; bookings into them are refused; the blocking lists
the bookings it collides with; lifting it makes the days bookable again."""

from __future__ import annotations

from rooms_helpers import ADMIN, ANA, BEN


def test_a_blocking_closes_rooms_and_lists_collisions(atlas):
    atlas.add_room(id="boreal", name="Boreal")
    there = atlas.book("2026-01-06T10:00:00Z", "2026-01-06T11:00:00Z").json()
    body = {"rooms": ["*"], "first_day": "2026-01-06", "last_day": "2026-01-07",
            "reason": "Painting"}
    assert atlas.client.post("/rooms/blockings", json=body,
                             headers=atlas.as_(ANA)).status_code == 403
    r = atlas.client.post("/rooms/blockings", json=body, headers=atlas.as_(ADMIN))
    assert r.status_code == 201, r.text
    blocking = r.json()
    assert sorted(blocking["rooms"]) == ["atlas", "boreal"]
    assert [b["code"] for b in blocking["collisions"]] == [there["code"]]
    for room in ("atlas", "boreal"):
        refused = atlas.book("2026-01-07T12:00:00Z", "2026-01-07T13:00:00Z", who=BEN, room=room)
        assert (refused.status_code, refused.json()["code"]) == (409, "room_blocked")
    assert atlas.book("2026-01-08T12:00:00Z", "2026-01-08T13:00:00Z").status_code == 201
    vacancy = atlas.client.get("/rooms/vacancy", params={"day": "2026-01-07"},
                               headers=atlas.as_(ANA)).json()["rooms"]
    assert all(v["free"] == [] for v in vacancy)
    free = atlas.client.get("/rooms/free", params={"start": "2026-01-07T10:00:00Z"},
                            headers=atlas.as_(ANA)).json()["rooms"]
    assert free == []
    listed = atlas.client.get("/rooms/blockings", headers=atlas.as_(BEN)).json()["blockings"]
    assert [b["reason"] for b in listed] == ["Painting"]
    r = atlas.client.delete(f"/rooms/blockings/{blocking['id']}", headers=atlas.as_(ADMIN))
    assert r.status_code == 204
    assert atlas.book("2026-01-07T12:00:00Z", "2026-01-07T13:00:00Z", who=BEN).status_code == 201
    # the booking that was there all along is still there
    day = atlas.runtime.tables.table("rooms_days").get({"room": "atlas", "day": "2026-01-06"})
    assert [b.split("|")[2] for b in day["busy"]] == [there["code"]]


def test_bad_blockings_are_refused(atlas):
    for bad in ({"rooms": ["nowhere"]}, {"last_day": "2026-01-01"}, {"last_day": "2026-12-31"},
                {"rooms": []}, {"reason": ""}):
        body = {"rooms": ["atlas"], "first_day": "2026-01-06", "last_day": "2026-01-07",
                "reason": "Works", **bad}
        r = atlas.client.post("/rooms/blockings", json=body, headers=atlas.as_(ADMIN))
        assert r.status_code in (404, 422), (bad, r.text)
    assert atlas.runtime.tables.table("rooms_days").scan().items == []
    assert atlas.client.delete("/rooms/blockings/nope",
                               headers=atlas.as_(ADMIN)).status_code == 404
