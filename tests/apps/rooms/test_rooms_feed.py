"""The personal calendar feed: a secret URL, valid iCalendar of the person's bookings, a new
URL retires the old one, and nobody else's address works."""

from __future__ import annotations

from icalendar import Calendar
from rooms_helpers import ANA, BEN


def test_a_personal_feed_lists_my_bookings(atlas):
    kept = atlas.book("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z").json()["code"]
    gone = atlas.book("2026-01-06T10:00:00Z", "2026-01-06T11:00:00Z").json()["code"]
    atlas.client.delete(f"/rooms/bookings/{gone}", headers=atlas.as_(ANA))
    atlas.book("2026-01-07T10:00:00Z", "2026-01-07T11:00:00Z", who=BEN)
    r = atlas.client.post("/rooms/feed", headers=atlas.as_(ANA))
    assert r.status_code == 201
    url = r.json()["url"]
    path = url[url.index("/rooms/feed/"):]
    answer = atlas.client.get(path)  # no sign-in: the secret is the key
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(answer.content)
    events = {str(e["UID"]).split("@")[0]: str(e["STATUS"]) for e in cal.walk("VEVENT")}
    assert events == {kept: "CONFIRMED", gone: "CANCELLED"}
    newer = atlas.client.post("/rooms/feed", headers=atlas.as_(ANA)).json()["url"]
    assert atlas.client.get(path).status_code == 404
    assert atlas.client.get(newer[newer.index("/rooms/feed/"):]).status_code == 200
    assert atlas.client.get("/rooms/feed/guess.ics").status_code == 404
