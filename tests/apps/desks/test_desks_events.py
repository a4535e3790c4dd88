"""Handlers through the real dispatcher and outbox: mails with iCalendar, cancellations saying
by whom, the waitlist promotion, and the self-test."""

from __future__ import annotations

from desks_helpers import ADMIN, configure
from icalendar import Calendar

ANA = "ana@example.com"
BEN = "ben@example.com"
CY = "cy@example.com"
TUESDAY = "2026-01-06"


def mail(desks, subject_start: str):
    found = [m for m in desks.sent() if m.subject.startswith(subject_start)]
    assert found, [m.subject for m in desks.runtime.mailer.list()]
    return found, desks.runtime.mailer.read(found[0].id)


def calendar_of(message) -> Calendar:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            return Calendar.from_ical(part.get_payload(decode=True))
    raise AssertionError("no text/calendar part")


def test_confirmation_mail_with_an_all_day_event(desks):
    b = desks.book(ANA, TUESDAY, parking=True).json()
    found, msg = mail(desks, "Booked:")
    assert found[0].to == (ANA,)
    assert f"/desks/pass/{b['id']}" in msg.get_body(("plain",)).get_content()
    ev = calendar_of(msg).walk("VEVENT")[0]
    assert str(ev["uid"]) == f"{b['id']}@desks.roost"
    assert ev.decoded("dtstart").isoformat() == TUESDAY  # a date: all day
    assert ev.decoded("dtend").isoformat() == "2026-01-07"
    assert "parking" in str(ev["summary"])
    desks.runtime.dispatcher.run_once()  # delivered once: no second mail
    assert len([m for m in desks.runtime.mailer.list() if m.subject.startswith("Booked")]) == 1


def test_cancellation_mail_says_by_whom_and_withdraws_the_event(desks):
    b = desks.book(ANA, TUESDAY).json()
    desks.client.delete(f"/desks/bookings/{b['id']}", headers=desks.auth(ADMIN))
    found, msg = mail(desks, "Cancelled:")
    assert found[0].to == (ANA,)
    assert f"cancelled by {ADMIN}" in msg.get_body(("plain",)).get_content()
    cal = calendar_of(msg)
    assert str(cal["method"]) == "CANCEL"
    assert str(cal.walk("VEVENT")[0]["uid"]) == f"{b['id']}@desks.roost"


def test_the_waitlist_books_the_first_in_line_who_fits(make_desks):
    desks = make_desks()
    desks.office("hq", desks=1, parking=0)
    first = desks.book(ANA, TUESDAY).json()
    not_full = desks.client.post("/desks/waitlist", headers=desks.auth(BEN),
                                 json={"office_id": "hq", "day": "2026-01-07"})
    assert not_full.status_code == 422 and not_full.json()["code"] == "not_full"
    # Ben queues first but then uses his weekly quota elsewhere; Cy queues second.
    desks.office("annex", desks=5)
    for who in (BEN, CY):
        r = desks.client.post("/desks/waitlist", headers=desks.auth(who),
                              json={"office_id": "hq", "day": TUESDAY})
        assert r.status_code == 201, r.text
    again = desks.client.post("/desks/waitlist", headers=desks.auth(CY),
                              json={"office_id": "hq", "day": TUESDAY})
    assert again.json()["code"] == "already_waiting"
    assert desks.book(BEN, "2026-01-08", "annex").status_code == 201
    desks.client.delete(f"/desks/bookings/{first['id']}", headers=desks.auth(ANA))
    desks.runtime.dispatcher.run_once()
    day = desks.client.get(f"/desks/offices/hq/days/{TUESDAY}", headers=desks.auth(ADMIN))
    assert [b["email"] for b in day.json()["bookings"]] == [CY]
    assert day.json()["bookings"][0]["created_by"] == "waitlist"
    found, _ = mail(desks, "From the waitlist")
    assert found[0].to == (CY,)
    left = desks.runtime.tables.table("desks_waitlist").query(f"hq#{TUESDAY}").items
    assert [w["email"] for w in left] == [BEN]  # still queued: he may fit later


def test_selftest_books_and_cancels(desks, monkeypatch):
    key = "k" * 24
    off = desks.client.post("/desks/selftest", json={"key": key})
    assert off.status_code == 403 and off.json()["code"] == "selftest_off"
    configure(monkeypatch, desks_selftest_key=key, desks_selftest_email="probe@example.com")
    wrong = desks.client.post("/desks/selftest", json={"key": "x" * 24})
    assert wrong.status_code == 403 and wrong.json()["code"] == "selftest_key"
    r = desks.client.post("/desks/selftest", json={"key": key})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["ok"] is True
    assert [s["step"] for s in report["steps"]] == ["writable", "office", "book", "read",
                                                    "cancel"]
    assert desks.runtime.tables.table("desks_bookings").scan().items == []
    again = desks.client.post("/desks/selftest", json={"key": key}).json()
    assert again["ok"] is True  # the cancel gave the week back


def test_selftest_key_must_be_long(monkeypatch):
    from pydantic import ValidationError

    from roost.apps.desks.config_model import DesksSettings

    monkeypatch.setenv("ROOST_DESKS_SELFTEST_KEY", "short")
    try:
        DesksSettings()
    except ValidationError as exc:
        assert "20 characters" in str(exc)
    else:
        raise AssertionError("a short self-test key was accepted")


def test_see_and_leave_the_waitlist(make_desks):
    desks = make_desks()
    desks.office("hq", desks=1)
    assert desks.book(ANA, TUESDAY).status_code == 201
    r = desks.client.post("/desks/waitlist", headers=desks.auth(BEN),
                          json={"office_id": "hq", "day": TUESDAY, "parking": False})
    assert r.status_code == 201
    mine = desks.client.get("/desks/waitlist", headers=desks.auth(BEN)).json()["entries"]
    assert [(e["office_id"], e["day"]) for e in mine] == [("hq", TUESDAY)]
    home = desks.client.get("/desks", headers=desks.auth(BEN))
    assert 'data-testid="my-waitlist"' in home.text
    left = desks.client.post("/desks/queue/leave", headers=desks.auth(BEN),
                             data={"office_id": "hq", "day": TUESDAY}, follow_redirects=False)
    assert left.status_code == 303
    assert desks.client.get("/desks/waitlist", headers=desks.auth(BEN)).json()["entries"] == []
    again = desks.client.delete(f"/desks/waitlist/hq/{TUESDAY}", headers=desks.auth(BEN))
    assert again.status_code == 404 and again.json()["code"] == "not_waiting"
