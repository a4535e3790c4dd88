"""Kafka ingestion: `roost images consume --topic T`.

A message carries the image's bytes, or a JSON reference to a blob already stored under
`images/` (`{"blob": "images/inbox/cam-7/0001.jpg"}`) for images larger than the broker
allows; its key is the source's id for the image. Each message goes through the same checks as
an HTTP upload (`ingest.accept`) with the key as its idempotency key, so a message delivered
again is recognised and stored once. Offsets are committed only after the image and its event
are stored: at least once. A message that can never be stored (not an image, too large,
corrupt) is logged and skipped, so it cannot block its partition; anything else (the database
or disk failing) stops the consumer with the offset uncommitted, to be retried on restart.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from roost.cloud.errors import Invalid, RoostError
from roost.cloud.functions import Ctx

from . import config, ingest, rules, store

log = structlog.get_logger(__name__)
OWNER = "kafka"
HEADROOM = 1024 * 1024
"""Above the image limit, for the message's key, headers and framing."""


@dataclass
class Tally:
    stored: int = 0
    duplicates: int = 0
    skipped: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def handled(self) -> int:
        return self.stored + self.duplicates + self.skipped


def image_bytes(ctx: Ctx, value: bytes | None) -> bytes:
    """The image a message carries: its value, or the blob its JSON value names."""
    value = value or b""
    if rules.sniff(value[:rules.SNIFF_BYTES]) is not None or not value.lstrip().startswith(b"{"):
        return value
    try:
        ref = json.loads(value)
        key = ref["blob"]
    except (ValueError, KeyError, TypeError):
        raise Invalid("the message is neither an image nor {\"blob\": \"<key>\"}",
                      code="invalid_message") from None
    if not isinstance(key, str) or not key.startswith(store.PREFIX):
        raise Invalid(f"a blob reference must name a key under {store.PREFIX!r}",
                      code="invalid_message")
    info = ctx.blobs.head(key)
    rules.check_size(info.size, config.settings().max_bytes)
    return ctx.blobs.read(key)


def ingest_message(ctx: Ctx, *, topic: str, partition: int, offset: int, key: bytes | None,
                   value: bytes | None) -> str:
    """Store one message's image; "stored", "duplicate", or "skipped:<code>" for a message
    that can never be stored. Other errors propagate (nothing to commit)."""
    source_key = key.decode("utf-8", "replace") if key else f"{partition}:{offset}"
    try:
        data = image_bytes(ctx, value)
        accepted = ingest.accept(ctx, data, owner=OWNER, source=f"kafka:{topic}",
                                 key=f"{topic}:{source_key}"[:200])
    except RoostError as exc:
        if exc.status >= 500 or exc.status == 409:
            raise
        log.warning("kafka_message_skipped", topic=topic, partition=partition, offset=offset,
                    key=source_key, reason=exc.code, detail=exc.message)
        return f"skipped:{exc.code}"
    return "duplicate" if accepted.duplicate else "stored"


async def consume(
    *,
    bootstrap_servers: str,
    topic: str,
    group: str,
    make_ctx: Callable[[], Ctx],
    max_messages: int | None = None,
    idle_seconds: float | None = None,
    stop: asyncio.Event | None = None,
    client_options: dict[str, Any] | None = None,
) -> Tally:
    """Consume `topic` as `group` until `stop` is set, `max_messages` are handled, or nothing
    arrives for `idle_seconds`. Commits each partition's offset after its messages are stored."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    limit = config.settings().max_bytes + HEADROOM
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False,
        auto_offset_reset="earliest", fetch_max_bytes=max(limit, 52_428_800),
        max_partition_fetch_bytes=limit, **(client_options or {}))
    tally = Tally()
    stop = stop or asyncio.Event()
    try:
        await consumer.start()
    except BaseException:
        await consumer.stop()
        raise
    idle_since = asyncio.get_running_loop().time()
    try:
        while not stop.is_set() and (max_messages is None or tally.handled < max_messages):
            batches = await consumer.getmany(timeout_ms=500, max_records=50)
            now = asyncio.get_running_loop().time()
            if not batches:
                if idle_seconds is not None and now - idle_since >= idle_seconds:
                    break
                continue
            idle_since = now
            for tp, messages in batches.items():
                done: int | None = None
                try:
                    for m in messages:
                        if max_messages is not None and tally.handled >= max_messages:
                            break
                        outcome = await asyncio.to_thread(
                            ingest_message, make_ctx(), topic=m.topic, partition=m.partition,
                            offset=m.offset, key=m.key, value=m.value)
                        _count(tally, outcome)
                        done = m.offset
                finally:
                    if done is not None:
                        await consumer.commit({TopicPartition(tp.topic, tp.partition): done + 1})
                if max_messages is not None and tally.handled >= max_messages:
                    break
    finally:
        await consumer.stop()
    log.info("kafka_consumer_stopped", topic=topic, stored=tally.stored,
             duplicates=tally.duplicates, skipped=tally.skipped)
    return tally


def _count(tally: Tally, outcome: str) -> None:
    if outcome == "stored":
        tally.stored += 1
    elif outcome == "duplicate":
        tally.duplicates += 1
    else:
        tally.skipped += 1
        reason = outcome.split(":", 1)[1]
        tally.reasons[reason] = tally.reasons.get(reason, 0) + 1
