"""The desks API through the real host: offices, bookings, cancel rules, roles, the pass."""

from __future__ import annotations

from desks_helpers import ADMIN

ANA = "ana@example.com"
BEN = "ben@example.com"
MONDAY = "2026-01-05"
TUESDAY = "2026-01-06"


def test_book_and_see_it(desks):
    r = desks.book(ANA, TUESDAY, parking=True)
    assert r.status_code == 201, r.text
    b = r.json()
    assert (b["office_id"], b["day"], b["email"], b["parking"]) == ("hq", TUESDAY, ANA, True)
    mine = desks.client.get("/desks/bookings", headers=desks.auth(ANA)).json()["bookings"]
    assert [x["id"] for x in mine] == [b["id"]]
    assert desks.client.get(f"/desks/bookings/{b['id']}", headers=desks.auth(ANA)).json() == b
    day = desks.client.get(f"/desks/offices/hq/days/{TUESDAY}", headers=desks.auth(ADMIN)).json()
    assert (day["desks_booked"], day["desks_free"], day["parking_booked"]) == (1, 9, 1)
    assert desks.outbox("desks.booking_created")[0]["id"] == b["id"]
