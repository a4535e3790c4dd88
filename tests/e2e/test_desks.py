"""Desks in a real browser against a real `roost serve --demo`, on a phone: sign in with a code
from /dev/mail, book a desk, see the pass and verify its QR token, book today (after the
confirmation), cancel; an admin sees the booking on the dashboard.

Headless Chromium from the system (/usr/bin/chromium) through Playwright; never a downloaded
browser. Without Chromium the test skips, except on CI (CI=true), where it fails."""

from __future__ import annotations

import re
from pathlib import Path

import segno

from support.browser import PHONE, SHOTS, sign_in
from support.server import serve_roost

ANA = "ana@my-company.example"
BOSS = "boss@my-company.example"


def test_book_see_the_pass_verify_cancel_and_the_admin_sees_it(browser, tmp_path: Path):
    from playwright.sync_api import expect

    env = {"ROOST_ADMIN_EMAILS": BOSS, "ROOST_DESKS_WEEKLY_QUOTA": "3",
           "ROOST_ALLOWED_EMAIL_PATTERN": r"^(.*)@(my-company\.example)$"}
    with serve_roost(tmp_path, env, demo=True) as base_url:
        context = browser.new_context(**PHONE)  # type: ignore[attr-defined]
        try:
            page = sign_in(context, base_url, ANA, "/desks")
            expect(page.get_by_role("heading", level=1)).to_have_text("Book a desk")
            page.get_by_label("Office", exact=True).select_option("london")
            tomorrow = page.get_by_label("Day").get_attribute("min")
            assert tomorrow
            # The form starts on today; choose tomorrow (London time) instead.
            from datetime import date, timedelta

            tomorrow = (date.fromisoformat(tomorrow) + timedelta(days=1)).isoformat()
            page.get_by_label("Day").fill(tomorrow)
            page.get_by_label("Parking too").check()
            page.screenshot(path=str(SHOTS / "roost-desks-1-book.png"), full_page=True)
            page.get_by_role("button", name="Book", exact=True).click()
            page.wait_for_url(re.compile(r".*/desks/pass/.+"))
            expect(page.get_by_test_id("pass-office")).to_have_text("London")
            expect(page.get_by_test_id("pass-day")).to_have_text(tomorrow)
            expect(page.get_by_test_id("pass-name")).to_have_text(ANA)
            page.screenshot(path=str(SHOTS / "roost-desks-2-pass.png"), full_page=True)
            pass_url = page.url
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["viewport"]["width"]  # type: ignore[index]

            # The QR code carries the verify link with the signed token: encoding that link
            # again gives the same code.
            qr = page.get_by_test_id("pass-qr")
            verify_url = qr.get_attribute("data-url")
            assert verify_url and "/desks/passes/verify?token=" in verify_url
            token = page.get_by_test_id("pass-token").inner_text().strip()
            assert token in verify_url.replace("%2E", ".")
            want = segno.make(verify_url, error="m").svg_inline(
                scale=6, border=2, dark="#000", light="#fff", title="Pass QR code")
            path = re.search(r' d="([^"]+)"', want).group(1)  # type: ignore[union-attr]
            assert path in qr.inner_html()

            page.goto(verify_url)
            expect(page.get_by_test_id("verdict")).to_have_attribute("data-status", "not_today")
            page.goto(verify_url[:-4] + "AAAA")
            expect(page.get_by_test_id("verdict")).to_have_attribute("data-status", "not_valid")

            # Today needs a confirmation; then the pass is valid at the door.
            page.goto(f"{base_url}/desks")
            page.get_by_label("Office", exact=True).select_option("new-york")
            page.get_by_role("button", name="Book", exact=True).click()
            expect(page.get_by_test_id("confirm-today")).to_be_visible()
            page.screenshot(path=str(SHOTS / "roost-desks-3-confirm.png"), full_page=True)
            page.get_by_role("button", name="Yes, book for today").click()
            page.wait_for_url(re.compile(r".*/desks/pass/.+"))
            today_verify = page.get_by_test_id("pass-qr").get_attribute("data-url")
            page.goto(today_verify)  # type: ignore[arg-type]
            expect(page.get_by_test_id("verdict")).to_have_attribute("data-status", "valid")
            page.screenshot(path=str(SHOTS / "roost-desks-4-valid.png"), full_page=True)

            # Today's and tomorrow's bookings are both listed.
            page.goto(f"{base_url}/desks")
            expect(page.get_by_test_id("my-bookings").locator("li")).to_have_count(2)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["viewport"]["width"]  # type: ignore[index]

            # The admin sees Ana's booking on the dashboard.
            admin_context = browser.new_context(**PHONE)  # type: ignore[attr-defined]
            try:
                admin = sign_in(admin_context, base_url, BOSS, "/desks")
                admin.goto(f"{base_url}/desks/admin?office=london&day={tomorrow}")
                expect(admin.get_by_test_id("day-bookings")).to_contain_text(ANA)
                expect(admin.get_by_test_id("desks-booked")).to_have_text("1")
                width = admin.evaluate("document.documentElement.scrollWidth")
                assert width <= PHONE["viewport"]["width"]  # type: ignore[index]
                admin.screenshot(path=str(SHOTS / "roost-desks-5-dashboard.png"),
                                 full_page=True)
            finally:
                admin_context.close()

            # Ana cancels tomorrow's booking from its pass.
            page.goto(pass_url)
            page.get_by_role("button", name="Cancel this booking").click()
            page.wait_for_url(f"{base_url}/desks")
            expect(page.get_by_test_id("my-bookings").locator("li")).to_have_count(1)
            page.goto(verify_url)
            expect(page.get_by_test_id("verdict")).to_have_attribute("data-status", "not_valid")

            # The server logged the requests, but neither a pass token nor a credential.
            log = (tmp_path / "roost-serve.log").read_text(errors="replace")
            assert "/desks/passes/verify" in log
            cookies = {c["name"]: c["value"] for c in context.cookies()}
            for secret in (token, token.split(".")[1], cookies["roost_access"]):
                assert secret not in log
        finally:
            context.close()
