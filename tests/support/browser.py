"""What every browser test shares: the system Chromium through Playwright (never a downloaded
browser), a phone-sized context, and signing in by code read from /dev/mail."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}
SHOTS = Path("/tmp")
CODE_SUBJECT = re.compile(r"^(\d{6}) is your Roost sign-in code$")


@contextmanager
def chromium() -> Iterator[Any]:
    """The system Chromium, headless. Without it: skip, except under CI=true, where it fails."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: the browser tests need the system Chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def read_code(page: Any, base_url: str, email: str, timeout: float = 15.0) -> str:
    """The newest sign-in code mailed to `email`, from /dev/mail (the dispatcher sends it in
    the background, so wait for it)."""
    deadline = time.monotonic() + timeout
    while True:
        page.goto(f"{base_url}/dev/mail")
        for item in page.locator("ul.mails li").all():
            link = item.get_by_role("link", name=CODE_SUBJECT)
            if link.count() and email in item.inner_text():
                match = CODE_SUBJECT.match(link.first.inner_text().strip())
                assert match
                return match.group(1)
        if time.monotonic() > deadline:
            raise AssertionError(f"no sign-in mail for {email} after {timeout} s")
        time.sleep(0.2)


def sign_in(context: Any, base_url: str, email: str, next_path: str) -> Any:
    """Open `next_path`, get sent to sign in, sign in by code, land back; the page."""
    from playwright.sync_api import expect

    page = context.new_page()
    page.goto(f"{base_url}{next_path}")
    page.wait_for_url(re.compile(r".*/signin.*"))
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Email me a code").click()
    page.wait_for_url(re.compile(r".*/signin/code\?.*"))
    mail = context.new_page()
    code = read_code(mail, base_url, email)
    mail.close()
    page.get_by_label("The 6-digit code").fill(code)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}{next_path}")
    expect(page.get_by_test_id("signed-in-email")).to_have_text(email)
    return page
