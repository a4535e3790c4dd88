"""Helpers for the images tests: people signed in for real on the real host, and a corpus of
real-world image files (good and bad) made with Pillow or by hand, byte for byte.
(Its own module: `conftest` names clash across folders.)"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image

from roost.cloud.clock import FrozenClock
from roost.cloud.identity import Grant
from roost.host.bootstrap import Runtime
from support.tokens import Bearers

SECRET = "images-test-secret-" + "x" * 40
ANA = "ana@example.com"
BEN = "ben@example.com"
ADMIN = "ada@example.com"
ANALYST = "abe@example.com"


@dataclass
class Host:
    client: TestClient
    runtime: Runtime
    clock: FrozenClock
    bearers: Bearers = field(init=False)

    def __post_init__(self) -> None:
        self.bearers = Bearers(self.runtime.identity, self.clock)

    def as_(self, email: str) -> dict[str, str]:
        """Headers of `email` signed in (again, once the clock has moved past their token)."""
        if not self.bearers.known(email):
            role = {ADMIN: "admin", ANALYST: "analyst"}.get(email)
            if role:
                self.runtime.identity.grant(email, Grant("images", role), by="test")
        return self.bearers(email)

    def user_id(self, email: str) -> str:
        token = self.as_(email)["Authorization"].removeprefix("Bearer ")
        return str(self.runtime.identity.authenticate(token).user_id)

    def upload(self, data: bytes, *, who: str = ANA, content_type: str = "image/jpeg",
               key: str | None = None) -> Any:
        headers = {**self.as_(who), "Content-Type": content_type}
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.post("/images", content=data, headers=headers)

    def deliver(self) -> None:
        while self.runtime.dispatcher.run_once():
            pass

    def image(self, image_id: str, who: str = ANA) -> Any:
        return self.client.get(f"/images/{image_id}", headers=self.as_(who))

    def blob_keys(self) -> list[str]:
        return [b.key for b in self.runtime.blobs.list("images/")]

    def rows(self, table: str) -> list[dict[str, Any]]:
        return self.runtime.tables.table(table).scan().items


# --------------------------------------------------------------------------- the corpus


def picture(width: int = 640, height: int = 480, mode: str = "RGB") -> Image.Image:
    """A picture with detail (noise over a gradient), so encoders and smart crop have work."""
    noise = Image.effect_noise((width, height), 40)
    ramp = Image.linear_gradient("L").resize((width, height))
    rgb = Image.merge("RGB", (noise, ramp, ramp.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    return rgb.convert(mode) if mode != "RGB" else rgb


def encode(im: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **options)
    return out.getvalue()


def jpeg(width: int = 640, height: int = 480, **options: Any) -> bytes:
    options.setdefault("quality", 85)
    return encode(picture(width, height), "JPEG", **options)


def jpeg_with_exif(width: int = 600, height: int = 400, orientation: int = 6) -> bytes:
    """A JPEG stored landscape with EXIF orientation 6 (shown portrait) and a GPS position."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)}
    return encode(picture(width, height), "JPEG", exif=exif.tobytes(), quality=85)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header claiming 10 gigapixels, with a tiny compressed body: a
    decompression bomb that only a check before decoding stops cheaply."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = zlib.compress(b"\x00" * 65536, 9)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", body)
            + _chunk(b"IEND", b""))


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header (SOF0) is patched to claim another size."""
    data = bytearray(jpeg(64, 48))
    at = data.index(b"\xff\xc0")
    data[at + 5:at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gif_claiming(width: int, height: int) -> bytes:
    data = bytearray(encode(Image.new("P", (8, 8)), "GIF"))
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


def animated_gif() -> bytes:
    frames = [Image.new("P", (120, 80), i * 40) for i in range(4)]
    for i, f in enumerate(frames):
        f.putpalette([c for n in range(256) for c in ((n * 7 + i) % 256, n, 255 - n)])
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100,
                  loop=0)


def png16() -> bytes:
    return encode(Image.linear_gradient("L").resize((300, 200)).convert("I").point(
        lambda v: v * 256).convert("I;16"), "PNG")


def png_bad_crc() -> bytes:
    data = bytearray(encode(picture(64, 48), "PNG"))
    at = data.index(b"IDAT")
    data[at + 10] ^= 0xFF  # flip bits inside the compressed data
    return bytes(data)


def png_bad_stream() -> bytes:
    """Checksums all correct, but the compressed pixel data is garbage."""
    ihdr = struct.pack(">IIBBBBB", 64, 48, 8, 2, 0, 0, 0)
    garbage = b"\x78\x9c" + b"\xff" * 200  # a zlib header, then nonsense
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", garbage)
            + _chunk(b"IEND", b""))


def heic_header() -> bytes:
    return struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic" + b"\x00" * 64
