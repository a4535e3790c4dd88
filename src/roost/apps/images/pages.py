"""The images pages: upload with progress and a self-updating gallery, the statistics page with
charts, and the statistics as CSV."""

from __future__ import annotations

import csv
import io
from itertools import chain
from typing import Any

from roost.cloud.functions import Ctx, Reply, Uses

from . import app, config, rules, store
from .models import StatsQuery
from .views import ADMIN, ANALYST, image_out

GALLERY = Uses(reads=[store.IMAGES], blobs=[store.PREFIX])
STATS = Uses(reads=[store.IMAGES])
GRID_SIZE = 48


@app.page("/images/gallery", roles=["user"], template="images_gallery.html", uses=GALLERY)
def gallery(ctx: Ctx) -> dict[str, Any]:
    """Upload images and watch them being processed."""
    cfg = config.settings()
    return {"title": "Images", **_grid(ctx), "max_bytes": cfg.max_bytes,
            "retention_days": cfg.retention_days,
            "analyst": ctx.user.has("images", "analyst") or ctx.user.has("images", "admin")}


@app.page("/images/gallery/grid", roles=["user"], template="images_grid.html", uses=GALLERY)
def gallery_grid(ctx: Ctx) -> dict[str, Any]:
    """The gallery's grid alone, polled by htmx while images are being processed."""
    return _grid(ctx)


def _grid(ctx: Ctx) -> dict[str, Any]:
    items, _ = store.images_of(ctx.tables, ctx.user.user_id, limit=GRID_SIZE, cursor=None)
    images = [image_out(ctx, i) for i in items]
    return {"images": images, "pending": any(i.status == "received" for i in images)}


def _stats(ctx: Ctx, days: int) -> dict[str, Any]:
    span = rules.days_back(ctx.now().date(), days)
    records = chain.from_iterable(store.all_images_on(ctx.tables, d) for d in span)
    return rules.stats(records, span)


@app.page("/images/dashboard", roles=[ANALYST, ADMIN], template="images_stats.html",
          uses=STATS)
def dashboard(ctx: Ctx, query: StatsQuery) -> dict[str, Any]:
    """Counts, sizes and processing times per day, variant and source, with charts."""
    stats = _stats(ctx, query.days)
    peak = max([d["received"] + d["processed"] + d["failed"] for d in stats["days"]] + [1])
    slowest = max([d["p95_ms"] or 0 for d in stats["days"]] + [1])
    return {"title": "Image statistics", "stats": stats, "peak": peak, "slowest": slowest,
            "days": query.days}


def _cell(v: Any) -> str:
    """Spreadsheets run cells that start with = + - @: quote them as text."""
    s = "" if v is None else str(v)
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


@app.page("/images/stats.csv", roles=[ANALYST, ADMIN], template="images_export.csv",
          uses=STATS)
def stats_csv(ctx: Ctx, query: StatsQuery) -> Reply:
    """The statistics as CSV: one row per day, per variant, per source and per failure."""
    stats = _stats(ctx, query.days)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["group", "name", "count", "bytes", "p50_ms", "p95_ms", "received",
                "processed", "failed"])
    for d in stats["days"]:
        w.writerow(["day", d["day"], d["count"], d["bytes"], d["p50_ms"], d["p95_ms"],
                    d["received"], d["processed"], d["failed"]])
    for group in ("variants", "sources"):
        for g in stats[group]:
            w.writerow([_cell(x) for x in (group[:-1], g["name"], g["count"], g["bytes"],
                                           g["p50_ms"], g["p95_ms"], "", "", "")])
    for f in stats["failures"]:
        w.writerow([_cell(x) for x in ("failure", f["reason"], f["count"], "", "", "", "", "",
                                       "")])
    name = f"images-stats-{stats['since']}-{stats['until']}.csv"
    return Reply(body={"csv": buf.getvalue()}, headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{name}"'})
