"""Decoding and rendering with Pillow: the header probe at upload and the variants.

Pillow over pyvips and `vipsthumbnail`: with `draft()` a JPEG is decoded at 1/2..1/8 scale by
the JPEG library itself (DCT scaling), which is what made it the fastest here at a fraction of
the memory (bench/images.py measures it against both in the same run)."""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError, features

from roost.cloud.errors import Invalid

from . import rules
from .models import Preset

_BROKEN = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, IndexError,
           TypeError, ZeroDivisionError, struct.error, Image.DecompressionBombError)
"""What Pillow's decoders raise on a broken file (it has no one error for "corrupt")."""
_ORIENTATION = 0x0112
_SWAPS = {5, 6, 7, 8}
_NO_ALPHA = {"jpeg"}


@cache
def supported_formats() -> frozenset[str]:
    """What this Pillow build decodes (AVIF when built with libavif; HEIF needs a plug-in)."""
    names = {"JPEG", "PNG", "GIF", "WEBP"}
    if features.check("avif"):
        names.add("AVIF")
    Image.init()
    if "HEIF" in Image.OPEN:
        names.add("HEIF")
    return frozenset(names)


@dataclass(frozen=True)
class Probe:
    format: str
    content_type: str
    width: int  # as displayed: after the EXIF orientation
    height: int
    frames: int


@dataclass(frozen=True)
class Rendered:
    data: bytes
    width: int
    height: int
    format: str
    content_type: str


def _open(data: bytes, fmt: str) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data), formats=[fmt])


def _corrupt(exc: BaseException) -> Invalid:
    text = str(exc).strip() or type(exc).__name__
    return Invalid(f"the image cannot be read: {text}", code="corrupt_image")


def probe(data: bytes, *, max_pixels: int) -> Probe:
    """Check an upload: the sniffed type, the pixel count from the header (before decoding
    anything), then a cheap full pass over the data (a JPEG decoded at 1/8 scale, a PNG's
    chunk checksums) so truncated and corrupt files are refused now, not found by the worker."""
    fmt = rules.check_format(rules.sniff(data[:rules.SNIFF_BYTES]), supported_formats())
    try:
        im = _open(data, fmt)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Invalid(f"the image has more than {max_pixels} pixels",
                      code="too_many_pixels", max_pixels=max_pixels) from None
    except _BROKEN as exc:
        raise _corrupt(exc) from exc
    with im:
        w, h = im.size
        rules.check_pixels(w, h, max_pixels)
        try:
            orientation = _orientation(im, fmt)
            frames = getattr(im, "n_frames", 1)
            if fmt == "PNG":
                with _open(data, fmt) as fresh:  # verify() must come first after open
                    fresh.verify()  # every chunk's checksum and the end, without pixels
            else:
                if fmt == "JPEG":
                    im.draft(im.mode if im.mode in ("L", "RGB", "CMYK") else "RGB",
                             (max(1, w // 8), max(1, h // 8)))
                im.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise Invalid(f"the image has more than {max_pixels} pixels",
                          code="too_many_pixels", max_pixels=max_pixels) from None
        except _BROKEN as exc:
            raise _corrupt(exc) from exc
    if orientation in _SWAPS:
        w, h = h, w
    return Probe(format=fmt, content_type=rules.FORMATS[fmt], width=w, height=h, frames=frames)


def _orientation(im: Image.Image, fmt: str) -> int:
    """The EXIF orientation, without decoding: Pillow's `getexif()` loads a PNG's pixels to
    find an eXIf chunk after the image data, so a PNG's is read only if it comes before."""
    if fmt != "PNG":
        return int(im.getexif().get(_ORIENTATION, 1))
    raw = im.info.get("exif")
    if not raw:
        return 1
    exif = Image.Exif()
    exif.load(raw)
    return int(exif.get(_ORIENTATION, 1))


def _normalise(im: Image.Image, keep_alpha: bool) -> Image.Image:
    """8-bit RGB(A) or L, whatever came in (CMYK, 16-bit, palette, 1-bit)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        im = im.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if im.mode in ("P", "PA"):
        im = im.convert("RGBA" if "transparency" in im.info or im.mode == "PA" else "RGB")
    if im.mode in ("LA", "La", "RGBa"):
        im = im.convert("RGBA")
    if im.mode not in ("RGB", "RGBA", "L"):
        im = im.convert("RGB")
    if im.mode == "RGBA" and not keep_alpha:
        flat = Image.new("RGB", im.size, (255, 255, 255))
        flat.paste(im, mask=im.getchannel("A"))
        im = flat
    return im


def _smart_offset(im: Image.Image, box: tuple[int, int]) -> tuple[int, int]:
    """The crop window with the most detail (entropy), along the axis that has room."""
    bw, bh = box
    w, h = im.size
    small = im.convert("L")
    xs, ys = rules.candidate_starts(w, bw), rules.candidate_starts(h, bh)
    if len(xs) > 1:
        scores = [small.crop((x, 0, x + bw, h)).entropy() for x in xs]
        return rules.crop_offset(w, bw, scores), rules.crop_offset(h, bh)
    if len(ys) > 1:
        scores = [small.crop((0, y, w, y + bh)).entropy() for y in ys]
        return rules.crop_offset(w, bw), rules.crop_offset(h, bh, scores)
    return 0, 0


def _crop(im: Image.Image, box: tuple[int, int], smart: bool) -> Image.Image:
    bw, bh = min(box[0], im.width), min(box[1], im.height)
    if (bw, bh) == im.size:
        return im
    x, y = _smart_offset(im, (bw, bh)) if smart else (
        rules.crop_offset(im.width, bw), rules.crop_offset(im.height, bh))
    return im.crop((x, y, x + bw, y + bh))


def _target(preset: Preset, w: int, h: int) -> tuple[int, int]:
    """The size to scale the (oriented) image to before any crop."""
    if preset.mode == "fit":
        return rules.fit_size(w, h, preset.width, preset.height, upscale=preset.upscale)
    if preset.mode == "fill":
        assert preset.height is not None
        cw, ch = rules.cover_size(w, h, preset.width, preset.height)
        if not preset.upscale and (cw > w or ch > h):
            return w, h
        return cw, ch
    return w, h


def decode(data: bytes, presets: Sequence[Preset]) -> Image.Image:
    """Decode once for every preset: a JPEG at the smallest DCT scale that still covers the
    largest variant (`draft`), then oriented (EXIF) and normalised to 8-bit RGB(A) or L."""
    fmt = rules.sniff(data[:rules.SNIFF_BYTES]) or "JPEG"
    try:
        im = _open(data, fmt)
        orientation = im.getexif().get(_ORIENTATION, 1)
        w, h = im.size
        ow, oh = (h, w) if orientation in _SWAPS else (w, h)
        targets = [_target(p, ow, oh) for p in presets] or [(ow, oh)]
        tw, th = max(t[0] for t in targets), max(t[1] for t in targets)
        if fmt == "JPEG" and (tw, th) != (ow, oh):
            im.draft("L" if im.mode == "L" else "RGB",
                     (th, tw) if orientation in _SWAPS else (tw, th))
        icc = im.info.get("icc_profile")
        im = ImageOps.exif_transpose(im)
        im = _normalise(im, keep_alpha=True)
    except _BROKEN as exc:
        raise _corrupt(exc) from exc
    im.info = {"icc_profile": icc} if icc else {}
    return im


def render(base: Image.Image, preset: Preset, *, original: tuple[int, int] | None = None
           ) -> Rendered:
    """One variant of a decoded image: scale, crop, filter, encode — without any of the
    original's metadata (EXIF with GPS, XMP, comments); only the colour profile is kept.
    `original` is the full size before any draft scaling (the scale is relative to it)."""
    icc = base.info.get("icc_profile")
    ow, oh = original or base.size
    tw, th = _target(preset, ow, oh)
    im = base
    if im.mode == "RGBA" and preset.format in _NO_ALPHA:
        im = _normalise(im, keep_alpha=False)
    if im.size != (tw, th):
        im = im.resize((tw, th), Image.Resampling.LANCZOS, reducing_gap=3.0)
    if preset.mode in ("fill", "crop"):
        assert preset.height is not None
        im = _crop(im, (preset.width, preset.height), preset.smart)
    if preset.grayscale:
        im = ImageOps.grayscale(im) if im.mode != "RGBA" else im.convert("LA").convert("RGBA")
    if preset.blur:
        im = im.filter(ImageFilter.GaussianBlur(preset.blur))
    if preset.sharpen:
        im = im.filter(ImageFilter.UnsharpMask(radius=1, percent=80, threshold=2))
    if preset.rotate:
        im = im.rotate(-preset.rotate, expand=True)
    if im is base:
        im = im.copy()
    im.info = {}
    out = io.BytesIO()
    options: dict[str, object] = {"quality": preset.quality}
    if icc:
        options["icc_profile"] = icc
    if preset.format == "webp":
        options["method"] = 4
    elif preset.format == "avif":
        options["speed"] = 8
    elif preset.format == "png":
        options = {"compress_level": 6, **({"icc_profile": icc} if icc else {})}
    im.save(out, format=preset.format.upper(), **options)
    return Rendered(data=out.getvalue(), width=im.width, height=im.height,
                    format=preset.format, content_type=f"image/{preset.format}")
