"""The images tables: the only module that touches them.

Key design (DynamoDB-ready, no scans in request paths):

- `images_images`: one item per image, pk = the image id (a ULID), sk = "image"; TTL `expires`.
  Index `by_owner` (owner, id): a person's gallery, newest first. Index `by_day` (day, id): the
  analysts' per-day queries (at most `StatsQuery.days` partitions per request).
- `images_keys`: Idempotency-Keys and Kafka message keys -> image id, put with `not_exists` in
  the same transaction as the image, so two uploads with one key store one image; TTL too.
- `images_due`: the retention markers, pk = "due#<day it expires>", sk = image id, *without*
  TTL: expired items vanish from reads, so the purge needs a record that outlives them to find
  the blobs they leave behind.
- `images_reads`: one item per read of an image by someone other than its owner; audited, so
  each lands in the core's audit trail with its actor.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from roost.cloud.blobs import BlobInfo, Blobs
from roost.cloud.errors import ConditionFailed, NotFound, TransactionCanceled
from roost.cloud.table import Delete, IndexSpec, Put, Tables, TableSpec, attr

from . import rules

IMAGES = TableSpec(name="images_images", ttl="expires", indexes=(
    IndexSpec("by_owner", pk="owner", sk="id"),
    IndexSpec("by_day", pk="day", sk="id"),
))
KEYS = TableSpec(name="images_keys", ttl="expires")
DUE = TableSpec(name="images_due")
READS = TableSpec(name="images_reads", ttl="expires", audit=True)
TABLES = (IMAGES, KEYS, DUE, READS)

IMAGE_SK = "image"
PREFIX = "images/"


def blob_prefix(image_id: str) -> str:
    return f"{PREFIX}{image_id}/"


def raw_key(image_id: str) -> str:
    return f"{PREFIX}{image_id}/raw"


def variant_key(image_id: str, name: str, extension: str) -> str:
    return f"{PREFIX}{image_id}/{name}.{extension}"


def render_key(image_id: str, name: str, extension: str) -> str:
    return f"{PREFIX}{image_id}/render/{name}.{extension}"


def _key_id(owner: str, key: str) -> str:
    return f"{owner}#{key}"


# --------------------------------------------------------------------------- reads


def image(tables: Tables, image_id: str) -> dict[str, Any] | None:
    return tables.table(IMAGES.name).get({"pk": image_id, "sk": IMAGE_SK})


def require(tables: Tables, image_id: str) -> dict[str, Any]:
    item = image(tables, image_id)
    if item is None:
        raise NotFound(f"there is no image {image_id!r} (or it has expired)",
                       code="image_not_found")
    return item


def image_for_key(tables: Tables, owner: str, key: str) -> str | None:
    """The image an Idempotency-Key (or Kafka message key) already stored, if any."""
    item = tables.table(KEYS.name).get({"pk": _key_id(owner, key), "sk": "key"})
    return item["image_id"] if item else None


def images_of(tables: Tables, owner: str, *, limit: int, cursor: str | None
              ) -> tuple[list[dict[str, Any]], str | None]:
    """A person's images, newest first."""
    page = tables.table(IMAGES.name).query(owner, index="by_owner", forward=False,
                                           limit=limit, cursor=cursor)
    return page.items, page.cursor


def images_on(tables: Tables, day: date, *, limit: int | None = None,
              cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """Images received on one day, newest first."""
    page = tables.table(IMAGES.name).query(day.isoformat(), index="by_day", forward=False,
                                           limit=limit, cursor=cursor)
    return page.items, page.cursor


def all_images_on(tables: Tables, day: date) -> Iterator[dict[str, Any]]:
    cursor: str | None = None
    while True:
        items, cursor = images_on(tables, day, limit=500, cursor=cursor)
        yield from items
        if cursor is None:
            return


def due_on(tables: Tables, day: date) -> Iterator[dict[str, Any]]:
    """Retention markers of images that expire on `day`."""
    cursor: str | None = None
    while True:
        page = tables.table(DUE.name).query(f"due#{day.isoformat()}", limit=500, cursor=cursor)
        yield from page.items
        cursor = page.cursor
        if cursor is None:
            return


def all_images(tables: Tables) -> Iterator[dict[str, Any]]:
    """Every image's metadata item: for `roost check`, not for requests."""
    yield from _scan(tables, IMAGES.name)


def all_due(tables: Tables) -> dict[str, dict[str, Any]]:
    """Every retention marker by image id: for `roost check`, not for requests."""
    return {m["sk"]: m for m in _scan(tables, DUE.name)}


def _scan(tables: Tables, name: str) -> Iterator[dict[str, Any]]:
    cursor: str | None = None
    while True:
        page = tables.table(name).scan(limit=500, cursor=cursor)
        yield from page.items
        cursor = page.cursor
        if cursor is None:
            return


def orphan_blobs(tables: Tables, blobs: Blobs, now: datetime, *, grace_seconds: float
                 ) -> dict[str, list[BlobInfo]]:
    """Blobs under the images prefix whose image has no metadata item, by image id, those at
    least `grace_seconds` old: what the purge deletes and `roost check` reports, found once."""
    found: dict[str, list[BlobInfo]] = {}
    known: dict[str, bool] = {}
    for info in list(blobs.list(PREFIX)):
        image_id = info.key[len(PREFIX):].split("/", 1)[0]
        if image_id not in known:
            known[image_id] = image(tables, image_id) is not None
        age = (now - info.last_modified).total_seconds()
        if rules.orphaned(known[image_id], age, grace_seconds=grace_seconds):
            found.setdefault(image_id, []).append(info)
    return found


# --------------------------------------------------------------------------- writes


def record_upload(tables: Tables, item: Mapping[str, Any], *, key: tuple[str, str] | None,
                  event: Put) -> str | None:
    """The image, its key, its retention marker and its event, all or nothing. Returns None
    when stored, or the id of the image an earlier upload with the same key stored."""
    image_id = item["id"]
    ops: list[Any] = [Put(IMAGES.name, {"pk": image_id, "sk": IMAGE_SK, **item},
                          condition=attr("pk").not_exists())]
    if key is not None:
        ops.append(Put(KEYS.name, {"pk": _key_id(*key), "sk": "key", "image_id": image_id,
                                   "expires": item["expires"]},
                       condition=attr("pk").not_exists()))
    ops.append(Put(DUE.name, {"pk": f"due#{item['expires_day']}", "sk": image_id,
                              "expires": item["expires"], "key": _key_id(*key) if key else None}))
    ops.append(event)
    try:
        tables.transact(ops)
    except TransactionCanceled as exc:
        if key is not None and 1 in exc.failed:
            earlier = image_for_key(tables, *key)
            if earlier is not None:
                return earlier
        raise
    return None


def finish(tables: Tables, image_id: str, fields: Mapping[str, Any]) -> bool:
    """Record the processing outcome, once: False if another delivery got there first."""
    try:
        tables.table(IMAGES.name).update(
            {"pk": image_id, "sk": IMAGE_SK}, set=dict(fields),
            condition=attr("pk").exists() & attr("status").eq("received"))
    except ConditionFailed:
        return False
    return True


def count_attempt(tables: Tables, image_id: str) -> int:
    """One more processing attempt of an image; how many there have been."""
    item = tables.table(IMAGES.name).update({"pk": image_id, "sk": IMAGE_SK}, add={"attempts": 1},
                                            condition=attr("pk").exists())
    return int(item["attempts"])


def record_reads(tables: Tables, reads: Sequence[Mapping[str, Any]]) -> None:
    """Reads of images by someone other than their owner (audited by the table itself)."""
    for start in range(0, len(reads), 100):
        tables.transact([Put(READS.name, {"pk": r["image_id"], "sk": r["id"], **r})
                         for r in reads[start:start + 100]])


def forget(tables: Tables, marker: Mapping[str, Any]) -> None:
    """The metadata, key and marker of an expired image (its blobs are deleted first)."""
    ops: list[Any] = [Delete(IMAGES.name, {"pk": marker["sk"], "sk": IMAGE_SK})]
    if marker.get("key"):
        ops.append(Delete(KEYS.name, {"pk": marker["key"], "sk": "key"}))
    ops.append(Delete(DUE.name, {"pk": marker["pk"], "sk": marker["sk"]}))
    tables.transact(ops)
