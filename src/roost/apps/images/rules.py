"""The images rules, pure: records in, decision out (no I/O, no Pillow)."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from roost.cloud.errors import Invalid, TooLarge, UnsupportedMedia

SNIFF_BYTES = 32
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp",
           "AVIF": "image/avif", "HEIF": "image/heic"}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_IDEM = re.compile(r"^[\x21-\x7e]{1,200}$")


def sniff(head: bytes) -> str | None:
    """The image format the first bytes announce (the name and the declared type are not
    trusted), as Pillow names it; None when they announce no image format we know."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp":
        brands = {head[8:12]} | {head[i:i + 4] for i in range(16, min(len(head), 32), 4)}
        if brands & _AVIF_BRANDS:
            return "AVIF"
        if brands & _HEIF_BRANDS:
            return "HEIF"
    return None


def check_size(size: int, limit: int) -> None:
    if size == 0:
        raise Invalid("the upload is empty: send the image's bytes", code="empty_upload")
    if size > limit:
        raise TooLarge(f"the upload is larger than {limit} bytes", max_bytes=limit)


def check_format(fmt: str | None, supported: Iterable[str]) -> str:
    """The sniffed format if we can decode it; 415 otherwise."""
    names = sorted(supported)
    if fmt is None:
        raise UnsupportedMedia(f"this is not an image we read ({', '.join(names)})",
                               code="unsupported_type")
    if fmt not in supported:
        raise UnsupportedMedia(f"{fmt} images are not supported here ({', '.join(names)})",
                               code="unsupported_type", format=fmt)
    return fmt


def check_pixels(width: int, height: int, limit: int) -> None:
    """Refuse decompression bombs from the header alone, before anything is decoded."""
    if width < 1 or height < 1:
        raise Invalid("the image has no pixels", code="corrupt_image")
    if width * height > limit:
        raise Invalid(f"the image is {width}x{height} = {width * height} pixels; at most "
                      f"{limit} are accepted", code="too_many_pixels", max_pixels=limit)


def check_idempotency_key(key: str | None) -> str | None:
    if key is None or key == "":
        return None
    if not _IDEM.match(key):
        raise Invalid("an Idempotency-Key is 1 to 200 visible ASCII characters",
                      code="invalid_idempotency_key")
    return key


def expires_at(received: datetime, days: int) -> datetime:
    return received + timedelta(days=days)


# --------------------------------------------------------------------------- geometry


def fit_size(width: int, height: int, box_w: int, box_h: int | None, *,
             upscale: bool = False) -> tuple[int, int]:
    """The size that fits inside the box, aspect kept (never 0; never larger unless asked)."""
    scale = box_w / width if box_h is None else min(box_w / width, box_h / height)
    if not upscale:
        scale = min(scale, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


def cover_size(width: int, height: int, box_w: int, box_h: int) -> tuple[int, int]:
    """The smallest size, aspect kept, that covers the whole box."""
    scale = max(box_w / width, box_h / height)
    return max(box_w, math.ceil(width * scale)), max(box_h, math.ceil(height * scale))


def crop_offset(length: int, window: int, scores: Sequence[float] | None = None) -> int:
    """Where a `window` starts along an axis of `length`: the centre, or with `scores` (one per
    evenly spaced candidate start) the best-scoring candidate (ties: the one nearest the centre)."""
    room = max(0, length - window)
    if not scores or room == 0:
        return room // 2
    n = len(scores)
    starts = [round(room * i / (n - 1)) if n > 1 else room // 2 for i in range(n)]
    best = max(range(n), key=lambda i: (scores[i], -abs(starts[i] - room / 2)))
    return starts[best]


def candidate_starts(length: int, window: int, n: int = 5) -> list[int]:
    room = max(0, length - window)
    return [round(room * i / (n - 1)) for i in range(n)] if room else [0]


# --------------------------------------------------------------------------- analytics


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return round(ordered[rank - 1], 1)


def _timing(ms: Sequence[float]) -> dict[str, Any]:
    return {"count": len(ms), "p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95)}


def stats(records: Iterable[Mapping[str, Any]], days: Sequence[date]) -> dict[str, Any]:
    """Counts, bytes and processing-time percentiles per day, per variant and per source, and
    the failure reasons, over the image records of `days` (oldest first)."""
    per_day: dict[str, dict[str, Any]] = {
        d.isoformat(): {"received": 0, "processed": 0, "failed": 0, "bytes": 0, "ms": []}
        for d in days}
    variants: dict[str, dict[str, Any]] = {}
    sources: dict[str, dict[str, Any]] = {}
    reasons: dict[str, int] = {}
    total = size = 0
    for r in records:
        day = per_day.get(r["day"])
        if day is None:
            continue
        total += 1
        size += r["bytes"]
        day[r["status"]] += 1
        day["bytes"] += r["bytes"]
        src = sources.setdefault(r["source"], {"bytes": 0, "ms": []})
        src["bytes"] += r["bytes"]
        if r.get("processing_ms") is not None:
            day["ms"].append(r["processing_ms"])
            src["ms"].append(r["processing_ms"])
        for v in (r.get("variants") or {}).values():
            var = variants.setdefault(v["name"], {"bytes": 0, "ms": []})
            var["bytes"] += v["bytes"]
            var["ms"].append(v["ms"])
        if r["status"] == "failed":
            reason = r.get("reason") or "unknown"
            reasons[reason] = reasons.get(reason, 0) + 1
    return {
        "since": days[0].isoformat(), "until": days[-1].isoformat(), "total": total,
        "bytes": size,
        "days": [{"day": d, "received": v["received"], "processed": v["processed"],
                  "failed": v["failed"], "bytes": v["bytes"], **_timing(v["ms"])}
                 for d, v in per_day.items()],
        "variants": [{"name": n, "bytes": v["bytes"], **_timing(v["ms"])}
                     for n, v in sorted(variants.items())],
        "sources": [{"name": n, "bytes": v["bytes"], **_timing(v["ms"])}
                    for n, v in sorted(sources.items())],
        "failures": [{"reason": k, "count": c}
                     for k, c in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))],
    }


def days_back(today: date, n: int) -> list[date]:
    """The `n` days ending today, oldest first."""
    return [today - timedelta(days=i) for i in range(n - 1, -1, -1)]


def render_name(options: Mapping[str, Any]) -> str:
    """A stable name for an on-demand variant's options (the same options, the same blob)."""
    canonical = json.dumps(dict(options), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{text!r} is not a day (YYYY-MM-DD)", code="invalid_day") from None


GIVE_UP_AFTER = 4
"""Processing attempts before an image is marked `failed` (the dispatcher would go on to 8
and park a dead letter; an image should say why it has no variants well before that)."""


def gives_up(attempts: int) -> bool:
    return attempts >= GIVE_UP_AFTER


PURGE_GRACE_SECONDS = 3600
"""The purge deletes a blob without metadata once it is this old: deleting cannot be undone."""
CHECK_GRACE_SECONDS = 300
"""`roost check` reports a blob without metadata once it is this old. An upload writes its blob
just before its metadata transaction, so a younger one may be an upload in progress."""
PURGE_SLACK_SECONDS = 3600
"""How long past its expiry an image's blobs may wait for the purge (every 15 minutes) before
`roost check` calls them overdue."""


def orphaned(has_item: bool, age_seconds: float, *,
             grace_seconds: float = PURGE_GRACE_SECONDS) -> bool:
    """A blob whose image has no metadata item any more (expired, or an upload that crashed
    between the blob and its transaction); the grace spares uploads in progress."""
    return not has_item and age_seconds >= grace_seconds
