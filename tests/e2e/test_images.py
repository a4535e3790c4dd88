"""On a phone, in a real browser against a real `roost serve`: sign in, upload a photo with the
gallery's form, watch its thumbnail appear once the worker has processed it.

Headless Chromium from the system (/usr/bin/chromium) through Playwright; never a downloaded
browser. Without Chromium the test skips, except on CI (CI=true), where it fails."""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from support.server import serve_roost

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}
SHOTS = Path("/tmp")
EMAIL = "ana@example.com"
CODE_SUBJECT = re.compile(r"^(\d{6}) is your Roost sign-in code$")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: the browser tests need the system Chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def sign_in(page, base_url: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base_url}/images/gallery")
    page.wait_for_url(re.compile(r".*/signin.*"))
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_role("button", name="Email me a code").click()
    page.wait_for_url(re.compile(r".*/signin/code\?.*"))
    mail = page.context.new_page()
    deadline = time.monotonic() + 15
    mail.goto(f"{base_url}/dev/mail")
    while not mail.get_by_role("link", name=CODE_SUBJECT).count():
        assert time.monotonic() < deadline, "no sign-in mail"
        time.sleep(0.2)
        mail.reload()
    code = CODE_SUBJECT.match(mail.get_by_role("link", name=CODE_SUBJECT).first.inner_text()
                              .strip()).group(1)
    mail.close()
    page.get_by_label("The 6-digit code").fill(code)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/images/gallery")
    expect(page.get_by_test_id("signed-in-email")).to_have_text(EMAIL)


def photo(path: Path) -> Path:
    im = Image.merge("RGB", [Image.effect_noise((1600, 1200), 40),
                             Image.linear_gradient("L").resize((1600, 1200)),
                             Image.radial_gradient("L").resize((1600, 1200))])
    out = io.BytesIO()
    im.save(out, "JPEG", quality=85)
    path.write_bytes(out.getvalue())
    return path


def test_upload_on_a_phone_and_see_the_thumbnail_appear(browser, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with serve_roost(tmp_path, {"ROOST_APPS": "images"}) as base_url:
        context = browser.new_context(**PHONE)  # type: ignore[attr-defined]
        try:
            page = context.new_page()
            sign_in(page, base_url)
            expect(page.get_by_test_id("gallery")).to_contain_text("No images yet")
            page.get_by_label("Choose images").set_input_files(str(photo(tmp_path / "cat.jpg")))
            page.get_by_role("button", name="Upload").click()
            expect(page.get_by_test_id("upload-message")).to_contain_text("cat.jpg: uploaded",
                                                                         timeout=15_000)
            card = page.get_by_test_id("image-card").first
            thumb = card.get_by_test_id("thumbnail")
            expect(thumb).to_be_visible(timeout=20_000)
            expect(card).to_have_attribute("data-status", "processed")
            assert page.evaluate("el => el.naturalWidth", thumb.element_handle()) == 400
            expect(card).to_contain_text("1600\u00d71200")
            page.screenshot(path=str(SHOTS / "roost-e2e-images-gallery.png"), full_page=True)
        finally:
            context.close()
