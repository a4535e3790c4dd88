"""What `roost check` verifies of images: blobs and metadata agree. No blob outlives its image
(an orphan: an upload that crashed between its blob and its metadata transaction, or a purge
that stopped halfway), and no image lacks its raw blob or a variant it records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from roost.apps.images import app
from roost.cloud.errors import NotFound
from roost.cloud.functions import Ctx, Uses

from . import rules, store


@app.invariant(uses=Uses(reads=[store.IMAGES, store.DUE], blobs=[store.PREFIX]))
def blobs_match_metadata(ctx: Ctx) -> list[str]:
    """Orphan blobs past the grace, expired images the purge left behind, missing blobs."""
    now = ctx.now()
    # Items first, blobs after: a blob is written before its item, so every item read here
    # has its blobs in the listing below (unless they are really gone).
    images = list(store.all_images(ctx.tables))
    keys = {info.key for info in ctx.blobs.list(store.PREFIX)}
    return [*_orphans(ctx, now), *_missing(ctx, images, keys)]


def _orphans(ctx: Ctx, now: datetime) -> list[str]:
    orphans = store.orphan_blobs(ctx.tables, ctx.blobs, now,
                                 grace_seconds=rules.CHECK_GRACE_SECONDS)
    due = store.all_due(ctx.tables) if orphans else {}
    found: list[str] = []
    for image_id, infos in sorted(orphans.items()):
        names = ", ".join(i.key.removeprefix(store.blob_prefix(image_id)) for i in infos)
        oldest = min(i.last_modified for i in infos)
        marker = due.get(image_id)
        if marker is None:
            found.append(f"{len(infos)} orphan blob(s) of image {image_id} ({names}; the oldest "
                         f"of {oldest.isoformat()}): no metadata item, no retention marker")
            continue
        # Expired metadata (TTL hides it at once) with its marker still there: the purge's to do.
        expired = datetime.fromtimestamp(marker["expires"], UTC)
        if (now - expired).total_seconds() > rules.PURGE_SLACK_SECONDS:
            found.append(f"image {image_id} expired at {expired.isoformat()} but "
                         f"{len(infos)} blob(s) remain ({names}): the purge has not run")
    return found


def _missing(ctx: Ctx, images: list[dict[str, Any]], keys: set[str]) -> list[str]:
    found: list[str] = []
    for item in images:
        image_id = str(item["id"])
        wanted = [store.raw_key(image_id)]
        variants = item.get("variants")
        if item.get("status") == "processed" and isinstance(variants, dict):
            wanted += [str(v["key"]) for v in variants.values()]
        gone = [k for k in wanted if k not in keys and not _exists(ctx, k)]
        # Re-read the item: it may have expired and been purged since the scan.
        if gone and store.image(ctx.tables, image_id) is not None:
            names = ", ".join(k.removeprefix(store.blob_prefix(image_id)) for k in gone)
            found.append(f"image {image_id} ({item.get('status')}) is missing blob(s): {names}")
    return found


def _exists(ctx: Ctx, key: str) -> bool:
    try:
        ctx.blobs.head(key)
    except NotFound:
        return False
    return True
