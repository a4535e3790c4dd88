"""Demo data for `roost serve --demo`: a few generated images, uploaded as the demo user would."""

from __future__ import annotations

import io

from roost.cloud.functions import Ctx, Uses

from . import app, ingest, store

DEMO_OWNER = "demo"


def _picture(i: int) -> bytes:
    from PIL import Image, ImageDraw  # here, not at import: the Lambdas import this module

    im = Image.linear_gradient("L").resize((960, 640)).convert("RGB")
    draw = ImageDraw.Draw(im)
    colours = [(220, 80, 60), (60, 140, 220), (90, 180, 90)]
    draw.ellipse((200 + 120 * i, 160, 520 + 120 * i, 480), fill=colours[i % 3])
    out = io.BytesIO()
    im.save(out, "JPEG", quality=85)
    return out.getvalue()


@app.demo(uses=Uses(writes=[store.IMAGES, store.KEYS, store.DUE], blobs=[store.PREFIX],
                    publishes=[ingest.RECEIVED]))
def demo_images(ctx: Ctx) -> None:
    """Three pictures owned by "demo" (idempotent by key), processed by the worker."""
    for i in range(3):
        ingest.accept(ctx, _picture(i), owner=DEMO_OWNER, source="demo", key=f"demo-{i}")
