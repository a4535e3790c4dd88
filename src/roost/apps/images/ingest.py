"""Taking an image in, the same way from HTTP and from Kafka: size, sniffed type, pixel limit
and a decoder pass; then the raw blob, and the metadata item, its key and its event in one
transaction.

The blob is written first because a blob cannot join a table transaction: if the transaction
fails, the blob is deleted at once, and anything a crash leaves behind is an orphan the purge
removes (a blob under `images/<id>/` with no metadata item, over an hour old)."""

from __future__ import annotations

from roost.cloud.errors import Invalid
from roost.cloud.functions import Ctx

from . import config, rules, store
from .models import Accepted

RECEIVED = "images.received"


def from_request(body: bytes, content_type: str | None) -> bytes:
    """The image in a request: the raw body, or the first file part of a multipart form."""
    if not (content_type or "").lower().startswith("multipart/form-data"):
        return body
    from email.parser import BytesParser  # with its policy, a few ms: multipart uploads only
    from email.policy import HTTP

    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise Invalid("the multipart body cannot be read", code="invalid_multipart")
    for part in message.iter_parts():
        if part.get_filename() is not None or part.get_param("name", header="content-disposition"
                                                              ) in ("file", "image"):
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload
    raise Invalid("the form has no file part (name it 'file')", code="missing_file")


def status_url(image_id: str) -> str:
    return f"/images/{image_id}"


def accept(ctx: Ctx, data: bytes, *, owner: str, source: str, key: str | None) -> Accepted:
    """Validate and store one image; with a `key` seen before, answer the earlier image."""
    cfg = config.settings()
    rules.check_size(len(data), cfg.max_bytes)
    if key is not None:
        earlier = store.image_for_key(ctx.tables, owner, key)
        if earlier is not None:
            return _duplicate(ctx, earlier)
    from . import imaging  # Pillow: imported by the functions that read images (cold start)

    probe = imaging.probe(data, max_pixels=cfg.max_pixels)
    image_id = ctx.new_id()
    now = ctx.now()
    expires = rules.expires_at(now, cfg.retention_days)
    raw = store.raw_key(image_id)
    ctx.blobs.put(raw, data, content_type=probe.content_type, max_bytes=cfg.max_bytes)
    item = {"id": image_id, "owner": owner, "source": source, "status": "received",
            "format": probe.format, "content_type": probe.content_type,
            "width": probe.width, "height": probe.height, "frames": probe.frames,
            "bytes": len(data), "received_at": now.isoformat(), "day": now.date().isoformat(),
            "expires": int(expires.timestamp()), "expires_at": expires.isoformat(),
            "expires_day": expires.date().isoformat()}
    try:
        earlier = store.record_upload(ctx.tables, item, key=(owner, key) if key else None,
                                      event=ctx.publish(RECEIVED, {"id": image_id}))
    except BaseException:
        ctx.blobs.delete(raw)
        raise
    if earlier is not None:
        ctx.blobs.delete(raw)
        return _duplicate(ctx, earlier)
    return Accepted(id=image_id, status="received", status_url=status_url(image_id))


def _duplicate(ctx: Ctx, image_id: str) -> Accepted:
    item = store.image(ctx.tables, image_id)
    return Accepted(id=image_id, status=item["status"] if item else "received",
                    status_url=status_url(image_id), duplicate=True)
