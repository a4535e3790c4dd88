"""Rooms that need confirmation: bookings start pending and hold the slot; the room's managers
list, accept or reject them; everyone is emailed."""

from __future__ import annotations

from icalendar import Calendar
from rooms_helpers import ADMIN, ANA, BEN

from roost.cloud.identity import Grant

MANAGER = "mo@example.com"


def setup(host) -> None:
    host.add_room(requires_approval=True, manager_emails=[MANAGER])
    host.add_room(id="boreal", name="Boreal", requires_approval=True)
    host.runtime.identity.grant(MANAGER, Grant("rooms", "manager", "atlas"), by="test")


def test_a_pending_booking_holds_the_slot_until_accepted(atlas):
    atlas.client.put("/rooms/rooms/atlas", json={
        "name": "Atlas", "site": "Berlin", "capacity": 6, "requires_approval": True},
        headers=atlas.as_(ADMIN))
    atlas.runtime.identity.grant(MANAGER, Grant("rooms", "manager", "atlas"), by="test")
    b = atlas.book("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z", attendees=[BEN]).json()
    assert b["status"] == "pending"
    clash = atlas.book("2026-01-05T10:00:00Z", "2026-01-05T10:30:00Z", who=BEN)
    assert clash.json()["code"] == "slot_taken"
    listed = atlas.client.get("/rooms/pending", headers=atlas.as_(MANAGER)).json()["bookings"]
    assert [x["code"] for x in listed] == [b["code"]]
    assert atlas.client.get("/rooms/pending", headers=atlas.as_(BEN)).json()["bookings"] == []
    r = atlas.client.post(f"/rooms/bookings/{b['code']}/accept", json={},
                          headers=atlas.as_(BEN))
    assert (r.status_code, r.json()["code"]) == (403, "not_room_manager")
    r = atlas.client.post(f"/rooms/bookings/{b['code']}/accept", json={"reason": "ok"},
                          headers=atlas.as_(MANAGER))
    assert r.json()["status"] == "booked" and r.json()["sequence"] == 1
    again = atlas.client.post(f"/rooms/bookings/{b['code']}/reject", json={},
                              headers=atlas.as_(MANAGER))
    assert (again.status_code, again.json()["code"]) == (409, "not_pending")
    assert atlas.client.get("/rooms/pending", headers=atlas.as_(MANAGER)).json()["bookings"] == []
    atlas.deliver()
    mails = atlas.mails()
    assert [m["Subject"].split(":")[0] for m in mails] == ["Requested", "Confirmed"]
    statuses = []
    for m in mails:
        [part] = [p for p in m.walk() if p.get_content_type() == "text/calendar"]
        statuses.append(str(Calendar.from_ical(part.get_payload(decode=True))
                            .walk("VEVENT")[0]["STATUS"]))
    assert statuses == ["TENTATIVE", "CONFIRMED"]


def test_a_rejected_booking_frees_the_slot_and_managers_see_only_their_rooms(host):
    setup(host)
    a = host.book("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z").json()
    b = host.book("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z", room="boreal").json()
    mine = host.client.get("/rooms/pending", headers=host.as_(MANAGER)).json()["bookings"]
    assert [x["code"] for x in mine] == [a["code"]]
    everything = host.client.get("/rooms/pending", headers=host.as_(ADMIN)).json()["bookings"]
    assert {x["code"] for x in everything} == {a["code"], b["code"]}
    r = host.client.post(f"/rooms/bookings/{b['code']}/reject", json={},
                         headers=host.as_(MANAGER))
    assert r.status_code == 403
    r = host.client.post(f"/rooms/bookings/{a['code']}/reject", json={"reason": "works"},
                         headers=host.as_(MANAGER))
    assert r.json()["status"] == "rejected"
    assert host.book("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z", who=BEN).status_code == 201
    host.deliver()
    asked = [m for m in host.mails() if m["Subject"].startswith("Waiting for you")]
    # atlas's two requests (Ana's, then Ben's); boreal names nobody to tell
    assert [m["To"] for m in asked] == [MANAGER, MANAGER]
    assert a["code"] in asked[0].get_body(("plain",)).get_content()
    rejected = [m for m in host.mails() if m["Subject"].startswith("Rejected")]
    assert len(rejected) == 1 and "works" in rejected[0].get_body(("plain",)).get_content()
    assert ANA in rejected[0]["To"]
