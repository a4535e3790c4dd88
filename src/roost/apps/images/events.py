"""Processing into variants (the `images.received` handler) and the retention purge (every
15 minutes)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from roost.cloud.errors import Invalid, NotFound
from roost.cloud.events import Event
from roost.cloud.functions import Ctx, Uses
from roost.cloud.logs import get_logger

from . import app, config, ingest, rules, store

log = get_logger(__name__)
PURGE_LOOKBACK_DAYS = 30
"""How far back the purge looks for retention markers (in case it did not run for a while)."""


@app.handler(ingest.RECEIVED, uses=Uses(writes=[store.IMAGES], blobs=[store.PREFIX]))
def process(ctx: Ctx, event: Event) -> None:
    """Make every preset's variant, store them under the image's prefix, record sizes and
    timings; `failed` with the reason when the image cannot be decoded. Idempotent: a
    finished image is left alone, and variants are overwritten by key."""
    image_id = event.data["id"]
    item = store.image(ctx.tables, image_id)
    if item is None or item["status"] != "received":
        return
    attempts = store.count_attempt(ctx.tables, image_id)
    try:
        fields = _variants(ctx, item)
    except Invalid as exc:
        fields = {"status": "failed", "reason": exc.code, "detail": exc.message}
    except NotFound:
        fields = {"status": "failed", "reason": "raw_missing",
                  "detail": "the uploaded original is gone"}
    except Exception as exc:
        if not rules.gives_up(attempts):
            raise  # the dispatcher retries with backoff
        fields = {"status": "failed", "reason": "processing_error",
                  "detail": f"{type(exc).__name__}: {exc}"[:500]}
    fields["processed_at"] = ctx.now().isoformat()
    if store.finish(ctx.tables, image_id, fields):
        log.info("image_processed", image=image_id, status=fields["status"],
                 ms=fields.get("processing_ms"), reason=fields.get("reason"))


def _variants(ctx: Ctx, item: dict[str, Any]) -> dict[str, Any]:
    from . import imaging  # Pillow: imported by the functions that draw (cold start)

    presets = config.settings().presets
    started = time.perf_counter()
    data = ctx.blobs.read(store.raw_key(item["id"]))
    base = imaging.decode(data, presets)
    decode_ms = (time.perf_counter() - started) * 1000
    variants: dict[str, dict[str, Any]] = {}
    for preset in presets:
        t = time.perf_counter()
        out = imaging.render(base, preset, original=(item["width"], item["height"]))
        key = store.variant_key(item["id"], preset.name, preset.extension)
        ctx.blobs.put(key, out.data, content_type=out.content_type)
        variants[preset.name] = {"name": preset.name, "key": key, "format": out.format,
                                 "width": out.width, "height": out.height,
                                 "bytes": len(out.data),
                                 "ms": round((time.perf_counter() - t) * 1000, 2)}
    return {"status": "processed", "variants": variants, "decode_ms": round(decode_ms, 2),
            "processing_ms": round((time.perf_counter() - started) * 1000, 2)}


@app.schedule("purge", "*/15 * * * *", uses=Uses(writes=[store.IMAGES, store.KEYS, store.DUE],
                                                 blobs=[store.PREFIX]))
def purge(ctx: Ctx) -> None:
    """Delete everything of the images whose retention has passed (blobs, then metadata, key
    and marker), and blobs whose image has no metadata any more (orphans)."""
    # The storage's own expiry rule (an S3 lifecycle rule on AWS) as a second line: rules apply
    # to blobs written before them too, so setting it here, each run, covers every upload.
    ctx.blobs.expire_prefix(store.PREFIX, days=config.settings().retention_days)
    now = ctx.now()
    today = now.date()
    gone = 0
    for back in range(PURGE_LOOKBACK_DAYS, -1, -1):
        for marker in list(store.due_on(ctx.tables, today - timedelta(days=back))):
            if marker["expires"] <= now.timestamp():
                _delete_blobs(ctx, marker["sk"])
                store.forget(ctx.tables, marker)
                gone += 1
    orphans = 0
    for infos in store.orphan_blobs(ctx.tables, ctx.blobs, now,
                                    grace_seconds=rules.PURGE_GRACE_SECONDS).values():
        for info in infos:
            ctx.blobs.delete(info.key)
            orphans += 1
    if gone or orphans:
        log.info("images_purged", images=gone, orphan_blobs=orphans)


def _delete_blobs(ctx: Ctx, image_id: str) -> None:
    for info in list(ctx.blobs.list(store.blob_prefix(image_id))):
        ctx.blobs.delete(info.key)
