"""The rooms app in a real browser on a phone against a real `roost serve --demo`: sign in,
book a free half hour on the vacancy grid, see it busy, edit it, cancel it — and the outbox
holds the three mails with valid iCalendar parts, parsed back with the icalendar library.

Headless Chromium from the system (/usr/bin/chromium) through Playwright; never a downloaded
browser. Without Chromium the test skips, except on CI (CI=true), where it fails."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

from icalendar import Calendar

from support.browser import PHONE, SHOTS, sign_in
from support.server import serve_roost

EMAIL = "ana@example.com"


def next_working_day() -> date:
    day = date.today() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def booking_mails(outbox: Path, want: int, timeout: float = 15.0) -> list:
    deadline = time.monotonic() + timeout
    while True:
        mails = [BytesParser(policy=policy.default).parse(p.open("rb"))
                 for p in sorted(outbox.glob("*.eml"))]
        mails = [m for m in mails if "sign-in code" not in str(m["Subject"])]
        if len(mails) >= want or time.monotonic() > deadline:
            return mails
        time.sleep(0.2)


def test_book_on_the_grid_edit_and_cancel_on_a_phone(browser, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    day = next_working_day()
    with serve_roost(tmp_path, {"ROOST_APPS": "rooms"}, demo=True) as base_url:
        context = browser.new_context(**PHONE)  # type: ignore[attr-defined]
        try:
            page = sign_in(context, base_url, EMAIL, "/rooms")
            page.goto(f"{base_url}/rooms?day={day.isoformat()}")
            grid = page.get_by_test_id("vacancy-grid")
            expect(grid).to_be_visible()
            expect(grid.get_by_label("Atlas at 10:00 is busy")).to_have_count(1)  # demo data
            page.screenshot(path=str(SHOTS / "roost-rooms-1-grid.png"), full_page=True)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["viewport"]["width"]  # type: ignore[index]

            grid.get_by_role("link", name="Book Delta at 10:00").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Book Delta")
            page.get_by_label("Title").fill("Design sync")
            page.get_by_label("Attendees").fill("ben@example.com")
            page.screenshot(path=str(SHOTS / "roost-rooms-2-book.png"), full_page=True)
            page.get_by_role("button", name="Book the room").click()
            page.wait_for_url(re.compile(r".*/rooms/booking/\w+$"))
            code = page.get_by_test_id("booking-code").inner_text().strip()
            expect(page.get_by_test_id("booking-when")).to_contain_text("10:00-11:00")

            page.goto(f"{base_url}/rooms?day={day.isoformat()}")
            expect(page.get_by_label("Delta at 10:00 is busy")).to_have_count(1)
            expect(page.get_by_role("link", name="Book Delta at 10:00")).to_have_count(0)

            page.goto(f"{base_url}/rooms/booking/{code}")
            page.get_by_label("Starts").fill(f"{day.isoformat()}T13:00")
            page.get_by_label("Ends").fill(f"{day.isoformat()}T14:00")
            page.get_by_role("button", name="Save changes").click()
            expect(page.get_by_test_id("booking-when")).to_contain_text("13:00-14:00")
            page.screenshot(path=str(SHOTS / "roost-rooms-3-edited.png"), full_page=True)

            page.get_by_role("button", name="Cancel this booking").click()
            page.wait_for_url(f"{base_url}/rooms/mine")
            expect(page.get_by_role("heading", level=1)).to_have_text("My bookings")
            expect(page.get_by_text(code)).to_have_count(0)
            page.screenshot(path=str(SHOTS / "roost-rooms-4-mine.png"), full_page=True)
        finally:
            context.close()

        mails = booking_mails(tmp_path / "var" / "outbox", 3)
    assert [str(m["Subject"]).split(":")[0] for m in mails] == ["Booked", "Changed", "Cancelled"]
    seen = []
    for m in mails:
        [part] = [p for p in m.walk() if p.get_content_type() == "text/calendar"]
        cal = Calendar.from_ical(part.get_payload(decode=True))
        [ev] = cal.walk("VEVENT")
        seen.append((str(cal["METHOD"]), str(ev["UID"]), int(ev["SEQUENCE"])))
        assert "ben@example.com" in str(m["To"]) and EMAIL in str(m["To"])
    uid = f"{code}@rooms.roost"
    assert seen == [("REQUEST", uid, 0), ("REQUEST", uid, 1), ("CANCEL", uid, 2)]
