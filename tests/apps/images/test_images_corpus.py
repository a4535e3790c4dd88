"""A corpus of real-world bad (and awkward) files: each is refused with a clear 4xx or
processed — never a 500."""

from __future__ import annotations

import pytest
from images_helpers import (
    ANA,
    animated_gif,
    encode,
    gif_claiming,
    heic_header,
    jpeg,
    jpeg_claiming,
    picture,
    png16,
    png_bad_crc,
    png_bad_stream,
    png_bomb,
)
from PIL import Image

from roost.apps.images import store

GOOD = jpeg(640, 480)

REFUSED = {
    "zero bytes": (b"", 422, "empty_upload"),
    "truncated JPEG": (GOOD[: len(GOOD) // 2], 422, "corrupt_image"),
    "JPEG cut after the header": (GOOD[:700], 422, "corrupt_image"),
    "PNG with a damaged body": (png_bad_crc(), 422, "corrupt_image"),
    "PNG bomb (10 gigapixels)": (png_bomb(), 422, "too_many_pixels"),
    "JPEG claiming 60 MP": (jpeg_claiming(10_000, 6_000), 422, "too_many_pixels"),
    "GIF claiming 65535x65535": (gif_claiming(65_535, 65_535), 422, "too_many_pixels"),
    "text named .jpg": (b"just some text, not a picture\n" * 20, 415, "unsupported_type"),
    "PDF": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", 415,
            "unsupported_type"),
    "HEIC without a HEIF decoder": (heic_header(), 415, "unsupported_type"),
    "SVG": (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', 415,
            "unsupported_type"),
    "JPEG magic, then nothing": (b"\xff\xd8\xff\xe0" + b"\x00" * 30, 422, "corrupt_image"),
}

PROCESSED = {
    "CMYK JPEG": (encode(picture(320, 240, "CMYK"), "JPEG"), (320, 240)),
    "16-bit PNG": (png16(), (300, 200)),
    "animated GIF": (animated_gif(), (120, 80)),
    "PNG with alpha": (encode(picture(200, 100, "RGBA"), "PNG"), (200, 100)),
    "palette PNG": (encode(picture(200, 100).convert("P"), "PNG"), (200, 100)),
    "grey JPEG": (encode(picture(200, 100, "L"), "JPEG"), (200, 100)),
    "1-bit PNG": (encode(picture(64, 32, "1"), "PNG"), (64, 32)),
    "WebP": (encode(picture(300, 200), "WEBP"), (300, 200)),
    "AVIF": (encode(picture(300, 200), "AVIF"), (300, 200)),
    "PNG named .jpg": (encode(picture(90, 60), "PNG"), (90, 60)),
    "1x1 GIF": (encode(Image.new("P", (1, 1)), "GIF"), (1, 1)),
    "very wide JPEG": (jpeg(4000, 10), (4000, 10)),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_bad_files_are_refused_with_a_reason_and_nothing_is_stored(host, name):
    data, status, code = REFUSED[name]
    r = host.upload(data, content_type="image/jpeg")
    assert r.status_code == status, r.text
    assert r.json()["code"] == code and r.json()["detail"]
    assert host.blob_keys() == [] and host.rows(store.IMAGES.name) == []


def test_awkward_files_are_all_processed(host):
    ids = {}
    for name, (data, _) in PROCESSED.items():
        r = host.upload(data, content_type="image/jpeg")
        assert r.status_code == 202, (name, r.text)
        ids[name] = r.json()["id"]
    host.deliver()
    for name, (_, size) in PROCESSED.items():
        got = host.image(ids[name], ANA).json()
        assert got["status"] == "processed", (name, got)
        assert (got["width"], got["height"]) == size, name
        assert got["frames"] == (4 if name == "animated GIF" else 1), name
        for v in got["variants"]:
            assert v["width"] >= 1 and v["height"] >= 1 and v["bytes"] > 0, (name, v)



def test_damage_only_a_decoder_sees_fails_the_image_with_its_reason(host):
    """A PNG is checked by its checksums at upload (the web server holds no pixels); one whose
    checksums are right but whose pixel data is garbage is caught by the worker instead."""
    r = host.upload(png_bad_stream())
    assert r.status_code == 202, r.text
    host.deliver()
    got = host.image(r.json()["id"]).json()
    assert got["status"] == "failed" and got["reason"] == "corrupt_image"
