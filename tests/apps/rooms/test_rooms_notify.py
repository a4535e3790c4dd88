"""Every create, change and cancel mails the organiser and attendees from the outbox, with an
iCalendar part (REQUEST, REQUEST, CANCEL; one UID, a rising SEQUENCE), parsed back with the
icalendar library; auto-release with the test clock."""

from __future__ import annotations

from datetime import timedelta

from icalendar import Calendar
from rooms_helpers import ANA, BEN, stored_booking


def calendar_of(mail) -> Calendar:
    parts = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    return Calendar.from_ical(parts[0].get_payload(decode=True))


def test_create_change_cancel_mail_everyone_with_calendar_parts(atlas):
    code = atlas.book("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z",
                      attendees=[BEN, "cy@example.com"]).json()["code"]
    assert atlas.mails() == []  # never inside the request: only once the events are delivered
    atlas.client.patch(f"/rooms/bookings/{code}", json={"start": "2026-01-05T14:00:00Z",
                                                        "end": "2026-01-05T15:00:00Z"},
                       headers=atlas.as_(ANA))
    atlas.client.delete(f"/rooms/bookings/{code}", headers=atlas.as_(ANA))
    atlas.deliver()
    atlas.deliver()  # at least once: a second run sends nothing again
    mails = atlas.mails()
    assert [m["Subject"].split(":")[0] for m in mails] == ["Booked", "Changed", "Cancelled"]
    methods, sequences = [], []
    for m in mails:
        assert {a.strip() for a in m["To"].split(",")} == {ANA, BEN, "cy@example.com"}
        cal = calendar_of(m)
        methods.append(str(cal["METHOD"]))
        [ev] = cal.walk("VEVENT")
        assert str(ev["UID"]) == f"{code}@rooms.roost"
        sequences.append(int(ev["SEQUENCE"]))
        assert str(ev["SUMMARY"]) == "Standup"
        assert "Atlas" in str(ev["LOCATION"])
        assert str(ev["ORGANIZER"]) == f"mailto:{ANA}"
        assert {str(a) for a in ev.get("ATTENDEE")} == {f"mailto:{BEN}", "mailto:cy@example.com"}
    assert methods == ["REQUEST", "REQUEST", "CANCEL"]
    assert sequences == [0, 1, 2]
    changed = calendar_of(mails[1]).walk("VEVENT")[0]
    assert changed.decoded("DTSTART").isoformat() == "2026-01-05T14:00:00+00:00"
    assert str(calendar_of(mails[2]).walk("VEVENT")[0]["STATUS"]) == "CANCELLED"


def test_without_check_in_a_booking_is_released_at_start_plus_grace(atlas):
    b = atlas.book("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z", attendees=[BEN]).json()
    atlas.at("2026-01-05T10:14:00+00:00")
    atlas.runtime.scheduler.tick()
    atlas.deliver()
    assert stored_booking(atlas, b['code'])["status"] == "booked"
    atlas.at("2026-01-05T10:15:00+00:00")
    atlas.runtime.scheduler.tick()
    atlas.deliver()
    got = stored_booking(atlas, b['code'])
    assert got["status"] == "released"
    released = atlas.mails()[-1]
    assert released["Subject"].startswith("Released:") and released["To"] == ANA
    assert str(calendar_of(released)["METHOD"]) == "CANCEL"
    # the rest of the slot is free for others
    r = atlas.book("2026-01-05T10:30:00Z", "2026-01-05T11:00:00Z", who=BEN)
    assert r.status_code == 201


def test_a_checked_in_booking_is_kept(atlas):
    code = atlas.book("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z",
                      attendees=[BEN]).json()["code"]
    early = atlas.client.post(f"/rooms/bookings/{code}/checkin", headers=atlas.as_(BEN))
    assert (early.status_code, early.json()["code"]) == (409, "check_in_closed")
    atlas.clock.advance(timedelta(minutes=50))  # 09:50
    stranger = atlas.client.post(f"/rooms/bookings/{code}/checkin",
                                 headers=atlas.as_("zed@example.com"))
    assert stranger.status_code == 403
    r = atlas.client.post(f"/rooms/bookings/{code}/checkin", headers=atlas.as_(BEN))
    assert r.status_code == 200 and r.json()["checked_in"] is True
    atlas.at("2026-01-05T10:30:00+00:00")
    atlas.runtime.scheduler.tick()
    atlas.deliver()
    got = stored_booking(atlas, code)
    assert got["status"] == "booked"


def test_a_room_without_grace_time_never_releases(host):
    host.add_room(grace_minutes=None)
    code = host.book("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z").json()["code"]
    host.at("2026-01-05T10:45:00+00:00")
    host.runtime.scheduler.tick()
    host.deliver()
    got = stored_booking(host, code)
    assert got["status"] == "booked"
