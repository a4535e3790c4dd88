"""The presets' operations on real images: modes, smart crop, filters, formats, metadata."""

from __future__ import annotations

import io

import pytest
from images_helpers import encode, jpeg, jpeg_with_exif, picture
from PIL import Image, ImageDraw

from roost.apps.images import imaging
from roost.apps.images.models import Preset


def make(data: bytes, **preset) -> Image.Image:
    p = Preset(**{"name": "v", **preset})
    base = imaging.decode(data, [p])
    with Image.open(io.BytesIO(data)) as im:
        exif = im.getexif().get(0x0112, 1)
        size = im.size[::-1] if exif in (5, 6, 7, 8) else im.size
    out = imaging.render(base, p, original=size)
    im = Image.open(io.BytesIO(out.data))
    assert (im.width, im.height) == (out.width, out.height)
    assert im.format == p.format.upper()
    return im


@pytest.mark.parametrize("preset, size", [
    ({"width": 300, "height": 300, "mode": "fit"}, (300, 200)),
    ({"width": 300, "mode": "fit"}, (300, 200)),
    ({"width": 200, "height": 200, "mode": "fill"}, (200, 200)),
    ({"width": 120, "height": 240, "mode": "fill"}, (120, 240)),
    ({"width": 100, "height": 50, "mode": "crop"}, (100, 50)),
    ({"width": 2000, "height": 2000, "mode": "fit"}, (900, 600)),  # never upscaled
    ({"width": 1800, "height": 1800, "mode": "fit", "upscale": True}, (1800, 1200)),
    ({"width": 300, "height": 300, "rotate": 90}, (200, 300)),
])
def test_modes_give_the_promised_size(preset, size):
    assert make(jpeg(900, 600), **preset).size == size


def test_smart_crop_keeps_the_detailed_part():
    im = Image.new("RGB", (1000, 200), (128, 128, 128))
    im.paste(picture(200, 200), (800, 0))  # all the detail at the right end
    out = make(encode(im, "PNG"), width=200, height=200, mode="fill", smart=True, format="png")
    centre = make(encode(im, "PNG"), width=200, height=200, mode="fill", format="png")
    assert out.convert("L").entropy() > 3 * max(centre.convert("L").entropy(), 0.1)


def test_filters_change_the_pixels():
    data = jpeg(400, 300)
    plain = make(data, width=200, format="png")
    grey = make(data, width=200, format="png", grayscale=True)
    assert grey.mode == "L"
    blurred = make(data, width=200, format="png", blur=3)
    sharp = make(data, width=200, format="png", sharpen=True)
    assert blurred.convert("L").entropy() < plain.convert("L").entropy()
    assert sharp.tobytes() != plain.tobytes()


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "avif"])
def test_every_output_format_encodes(fmt):
    im = make(encode(picture(300, 200, "RGBA"), "PNG"), width=150, format=fmt)
    assert im.size == (150, 100)
    assert im.mode in (("RGB", "L") if fmt == "jpeg" else ("RGB", "RGBA", "L", "LA"))


def test_orientation_is_applied_and_the_exif_is_gone():
    im = make(jpeg_with_exif(600, 400, orientation=6), width=300, height=300)
    assert im.size == (200, 300)
    assert not im.getexif() and "exif" not in im.info


def test_a_draft_decode_still_covers_the_largest_variant():
    big = jpeg(3200, 2400)
    presets = [Preset(name="a", width=200, height=200), Preset(name="b", width=1000)]
    base = imaging.decode(big, presets)
    assert base.width >= 1000 and base.width < 3200  # scaled by the JPEG decoder itself


def test_transparency_is_flattened_on_white_for_jpeg():
    im = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    ImageDraw.Draw(im).rectangle((0, 0, 19, 39), fill=(255, 0, 0, 255))
    out = make(encode(im, "PNG"), width=40, format="jpeg")
    assert out.getpixel((30, 20))[0] > 240 and out.getpixel((30, 20))[1] > 240  # white
    assert out.getpixel((5, 20))[0] > 200 and out.getpixel((5, 20))[1] < 60  # red


def test_a_png_orientation_is_read_without_decoding():
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(picture(60, 40), "PNG", exif=exif.tobytes())
    probe = imaging.probe(data, max_pixels=10_000)
    assert (probe.width, probe.height) == (40, 60)
    assert make(data, width=100, format="png").size == (40, 60)
