"""The per-person weekly limit: counted in the booking's own transaction, so it holds under a
race; cancelling gives the place back; the week is the booking's, not today's."""

from __future__ import annotations

from rooms_helpers import ADMIN, ANA, BEN, served
from test_rooms_races import race


def set_limit(host, limit) -> None:
    r = host.client.put("/rooms/policy", json={"weekly_limit": limit}, headers=host.as_(ADMIN))
    assert r.status_code == 200, r.text


def test_the_weekly_limit_counts_bookings_in_their_week(atlas):
    assert atlas.client.put("/rooms/policy", json={"weekly_limit": 2},
                            headers=atlas.as_(ANA)).status_code == 403
    set_limit(atlas, 2)
    assert atlas.client.get("/rooms/policy", headers=atlas.as_(BEN)).json() == {"weekly_limit": 2}
    a = atlas.book("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z").json()["code"]
    b = atlas.book("2026-01-06T10:00:00Z", "2026-01-06T11:00:00Z").json()["code"]
    third = atlas.book("2026-01-07T10:00:00Z", "2026-01-07T11:00:00Z")
    assert (third.status_code, third.json()["code"]) == (409, "weekly_limit")
    assert atlas.book("2026-01-07T10:00:00Z", "2026-01-07T11:00:00Z", who=BEN).status_code == 201
    assert atlas.book("2026-01-12T10:00:00Z", "2026-01-12T11:00:00Z").status_code == 201
    # moving one into the next week counts it there; into a full week is refused
    moved = atlas.client.patch(f"/rooms/bookings/{a}", json={"start": "2026-01-12T12:00:00Z",
                                                             "end": "2026-01-12T13:00:00Z"},
                               headers=atlas.as_(ANA))
    assert moved.status_code == 200, moved.text
    full = atlas.client.patch(f"/rooms/bookings/{b}", json={"start": "2026-01-14T12:00:00Z",
                                                            "end": "2026-01-14T13:00:00Z"},
                              headers=atlas.as_(ANA))
    assert (full.status_code, full.json()["code"]) == (409, "weekly_limit")
    again = atlas.book("2026-01-13T10:00:00Z", "2026-01-13T11:00:00Z")
    assert again.json()["code"] == "weekly_limit"
    atlas.client.delete(f"/rooms/bookings/{a}", headers=atlas.as_(ANA))
    assert atlas.book("2026-01-13T10:00:00Z", "2026-01-13T11:00:00Z").status_code == 201
    set_limit(atlas, None)
    assert atlas.book("2026-01-13T12:00:00Z", "2026-01-13T13:00:00Z").status_code == 201


def test_the_limit_holds_when_one_person_races_for_many_slots(atlas):
    set_limit(atlas, 3)
    atlas.add_room(id="boreal", name="Boreal")
    h = atlas.as_(ANA)
    requests = [({"room_id": room, "start": f"2026-01-{day:02d}T10:00:00Z",
                  "end": f"2026-01-{day:02d}T11:00:00Z", "title": "x"}, h)
                for day in (5, 6, 7, 8, 9) for room in ("atlas", "boreal")]
    with served(atlas.runtime) as base_url:
        answers = race(base_url, requests * 2)
    assert sum(a.status_code == 201 for a in answers) == 3
    assert {a.json()["code"] for a in answers if a.status_code == 409} <= {"weekly_limit",
                                                                          "slot_taken"}
