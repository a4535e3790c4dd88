"""The sign-in a person does on a phone, in a real browser against a real `roost serve`: ask for
a code, read it on /dev/mail, enter it, land on the home page signed in.

Headless Chromium from the system (/usr/bin/chromium) through Playwright; never a downloaded
browser. Without Chromium the test skips, except on CI (CI=true), where it fails."""

from __future__ import annotations

import re
import time
from pathlib import Path

from support.browser import CODE_SUBJECT as SUBJECT
from support.browser import PHONE, SHOTS
from support.server import serve_roost

EMAIL = "ana@example.com"


def read_code(page, base_url: str, timeout: float = 15.0) -> str:
    """Open /dev/mail and wait for the sign-in mail (the dispatcher sends it in the
    background), then read the code from its subject."""
    page.goto(f"{base_url}/dev/mail")
    assert page.title().startswith("Dev mail"), (
        "the host does not serve /dev/mail: in dev mode it should mount "
        "roost.host.auth.dev_mail.router (api.include_router)")
    deadline = time.monotonic() + timeout
    while True:
        links = page.get_by_role("link", name=SUBJECT)
        if links.count():
            page.screenshot(path=str(SHOTS / "roost-e2e-3-mail-list.png"), full_page=True)
            subject = links.first.inner_text().strip()
            links.first.click()  # the message itself says the same
            page.get_by_test_id("mail-text").wait_for()
            match = SUBJECT.match(subject)
            assert match and match.group(1) in page.get_by_test_id("mail-text").inner_text()
            return match.group(1)
        if time.monotonic() > deadline:
            raise AssertionError(f"no sign-in mail on /dev/mail after {timeout} s")
        time.sleep(0.2)
        page.reload()


def test_sign_in_by_code_on_a_phone(browser, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with serve_roost(tmp_path) as base_url:
        context = browser.new_context(**PHONE)  # type: ignore[attr-defined]
        try:
            page = context.new_page()
            page.goto(f"{base_url}/")
            page.get_by_role("link", name="Sign in").first.click()
            page.wait_for_url(f"{base_url}/signin**")
            page.get_by_label("Email address").fill(EMAIL)
            page.screenshot(path=str(SHOTS / "roost-e2e-1-signin.png"), full_page=True)
            page.get_by_role("button", name="Email me a code").click()
            page.wait_for_url(re.compile(r".*/signin/code\?.*"))
            expect(page.get_by_role("status")).to_contain_text(EMAIL)
            page.screenshot(path=str(SHOTS / "roost-e2e-2-code.png"), full_page=True)

            mail = context.new_page()
            code = read_code(mail, base_url)
            mail.screenshot(path=str(SHOTS / "roost-e2e-3-mail-message.png"), full_page=True)
            mail.close()

            page.get_by_label("The 6-digit code").fill(code)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{base_url}/")
            expect(page.get_by_test_id("signed-in-email")).to_have_text(EMAIL)
            expect(page.get_by_role("heading", level=1)).to_have_text("Welcome back")
            page.screenshot(path=str(SHOTS / "roost-e2e-4-home.png"), full_page=True)

            # Nothing overflows the phone's width.
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["viewport"]["width"]  # type: ignore[index]

            cookies = {c["name"]: c for c in context.cookies()}
            for name in ("roost_access", "roost_refresh"):
                assert cookies[name]["httpOnly"] and cookies[name]["sameSite"] == "Lax"

            # The server logged the requests, but neither the code nor a token.
            log = (tmp_path / "roost-serve.log").read_text(errors="replace")
            assert "/signin/code" in log
            for secret in (code, cookies["roost_access"]["value"],
                           cookies["roost_refresh"]["value"]):
                assert secret not in log
        finally:
            context.close()
