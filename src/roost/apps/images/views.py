"""Who may see an image, the audit of reads by others, and the image as the API shows it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from roost.cloud.errors import NotFound
from roost.cloud.functions import Ctx

from . import store
from .models import ImageOut, Variant

APP = "images"
ADMIN = "images:admin"
ANALYST = "images:analyst"
LINK_SECONDS = 900


def is_admin(ctx: Ctx) -> bool:
    return ctx.principal is not None and ctx.principal.has(APP, "admin")


def readable(ctx: Ctx, image_id: str) -> dict[str, Any]:
    """The image if the caller owns it or is an admin (the read then goes to the audit
    trail); 404 for everyone else, so ids of other people's images reveal nothing."""
    item = store.image(ctx.tables, image_id)
    user = ctx.user
    if item is None or (item["owner"] != user.user_id and not is_admin(ctx)):
        raise NotFound(f"there is no image {image_id!r} of yours (or it has expired)",
                       code="image_not_found")
    audit_reads(ctx, [item])
    return item


def audit_reads(ctx: Ctx, items: Sequence[Mapping[str, Any]]) -> None:
    """One audited record per image read by someone other than its owner."""
    reader = ctx.user.user_id
    others = [i for i in items if i["owner"] != reader]
    store.record_reads(ctx.tables, [
        {"image_id": i["id"], "id": ctx.new_id(), "reader": reader, "owner": i["owner"],
         "at": ctx.now().isoformat(), "expires": i["expires"],
         "path": ctx.request.path if ctx.request else None} for i in others])


def link(ctx: Ctx, key: str) -> str:
    return ctx.blobs.signed_url(key, expires_in=LINK_SECONDS)


def image_out(ctx: Ctx, item: Mapping[str, Any], *, links: bool = True) -> ImageOut:
    variants = [Variant(**{k: v[k] for k in ("name", "format", "width", "height", "bytes",
                                              "ms")},
                        url=link(ctx, v["key"]) if links else None)
                for v in (item.get("variants") or {}).values()]
    return ImageOut(
        id=item["id"], owner=item["owner"], source=item["source"], status=item["status"],
        content_type=item["content_type"], width=item["width"], height=item["height"],
        frames=item.get("frames", 1), bytes=item["bytes"], received_at=item["received_at"],
        expires_at=item["expires_at"],
        processed_at=item.get("processed_at"), processing_ms=item.get("processing_ms"),
        reason=item.get("reason"), variants=variants)
