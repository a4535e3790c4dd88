"""On a phone, in a real browser against a real `roost serve`: sign in, upload a photo with the
gallery's form, watch its thumbnail appear once the worker has processed it.

Headless Chromium from the system (/usr/bin/chromium) through Playwright; never a downloaded
browser. Without Chromium the test skips, except on CI (CI=true), where it fails."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from support.browser import PHONE, SHOTS, sign_in
from support.server import serve_roost

EMAIL = "ana@example.com"


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
            page = sign_in(context, base_url, EMAIL, "/images/gallery")
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
