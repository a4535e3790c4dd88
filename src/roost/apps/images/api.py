"""The images API: upload, status, variants, lists and the analysts' statistics."""

from __future__ import annotations

from itertools import chain

from roost.cloud.errors import NotFound
from roost.cloud.functions import Ctx, Reply, Uses

# `pages` first: the router tries paths in declaration order, and /images/gallery,
# /images/dashboard and /images/stats.csv must be found before /images/{image_id}.
from . import (
    app,
    config,
    ingest,
    pages,  # noqa: F401
    rules,
    store,
)
from .models import ImageList, ImageOut, ListQuery, RenderQuery, Stats, StatsQuery
from .views import ADMIN, ANALYST, audit_reads, image_out, link, readable

UPLOAD = Uses(writes=[store.IMAGES, store.KEYS, store.DUE], blobs=[store.PREFIX],
              publishes=[ingest.RECEIVED])
READ = Uses(reads=[store.IMAGES], writes=[store.READS], blobs=[store.PREFIX])


@app.route("GET", "/images/stats", roles=[ANALYST, ADMIN], uses=Uses(reads=[store.IMAGES]))
def image_stats(ctx: Ctx, query: StatsQuery) -> Stats:
    """Counts, bytes, processing time p50/p95 per day, per variant, per source; failures."""
    days = rules.days_back(ctx.now().date(), query.days)
    records = chain.from_iterable(store.all_images_on(ctx.tables, d) for d in days)
    return Stats(**rules.stats(records, days))


@app.route("POST", "/images", roles=["user"], status=202, uses=UPLOAD,
           max_body=config.max_bytes)
def upload(ctx: Ctx, body: bytes) -> Reply:
    """Upload an image (raw body, or multipart with a `file` part); 202 with its status URL.

    Send `Idempotency-Key` to make retries safe: the same key answers the first image."""
    headers = ctx.request.headers if ctx.request else {}
    key = rules.check_idempotency_key(headers.get("idempotency-key"))
    data = ingest.from_request(body, headers.get("content-type"))
    accepted = ingest.accept(ctx, data, owner=ctx.user.user_id, source="http", key=key)
    return Reply(accepted, status=200 if accepted.duplicate else 202,
                 headers={"Location": accepted.status_url})


@app.route("GET", "/images", roles=["user"], uses=READ)
def list_images(ctx: Ctx, query: ListQuery) -> ImageList:
    """Your images, newest first."""
    items, cursor = store.images_of(ctx.tables, ctx.user.user_id, limit=query.limit,
                                    cursor=query.cursor)
    return ImageList(items=[image_out(ctx, i) for i in items], cursor=cursor)


@app.route("GET", "/images/{image_id}", roles=["user"], uses=READ)
def get_image(ctx: Ctx, *, image_id: str) -> ImageOut:
    """An image's status, metadata and variants (with links valid for 15 minutes)."""
    return image_out(ctx, readable(ctx, image_id))


@app.route("GET", "/images/{image_id}/variants/{name}", roles=["user"], uses=READ)
def get_variant(ctx: Ctx, *, image_id: str, name: str) -> Reply:
    """A redirect to one variant (or `raw`, the original) by a short-lived signed link."""
    item = readable(ctx, image_id)
    if name == "raw":
        key = store.raw_key(image_id)
    else:
        variant = (item.get("variants") or {}).get(name)
        if variant is None:
            raise NotFound(f"image {image_id} has no variant {name!r} (yet)",
                           code="variant_not_found")
        key = variant["key"]
    return Reply(status=307, headers={"Location": link(ctx, key)})


@app.route("GET", "/images/{image_id}/render", roles=["user"], uses=READ)
def render_image(ctx: Ctx, query: RenderQuery, *, image_id: str) -> Reply:
    """A variant made on demand from the original (any size, mode, filter, format), stored
    once under the image's prefix — so it expires with it — and answered as a redirect."""
    item = readable(ctx, image_id)
    preset = query.preset()
    key = store.render_key(image_id, rules.render_name(query.model_dump()), preset.extension)
    try:
        ctx.blobs.head(key)
    except NotFound:
        from . import imaging  # Pillow: imported by the functions that draw (cold start)

        base = imaging.decode(ctx.blobs.read(store.raw_key(image_id)), [preset])
        out = imaging.render(base, preset, original=(item["width"], item["height"]))
        ctx.blobs.put(key, out.data, content_type=out.content_type)
    return Reply(status=307, headers={"Location": link(ctx, key)})


@app.route("GET", "/images/day/{day}", roles=[ADMIN], uses=READ)
def images_of_day(ctx: Ctx, query: ListQuery, *, day: str) -> ImageList:
    """Everyone's images received on one day (admins; each read is audited)."""
    items, cursor = store.images_on(ctx.tables, rules.parse_day(day), limit=query.limit,
                                    cursor=query.cursor)
    audit_reads(ctx, items)
    return ImageList(items=[image_out(ctx, i) for i in items], cursor=cursor)
