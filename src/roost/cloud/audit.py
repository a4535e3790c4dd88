"""The audit trail: who changed what, when, with the item before and after.

Tables declared with `TableSpec(audit=True)` are audited by the Table adapter itself, inside the
same transaction as the write (SQLite: the adapter sees both images; DynamoDB: the adapter reads
the item, and writes the change and its record in one TransactWriteItems guarded on the item it
read), so no write escapes it and no record lies about a write that did not commit. The actor
comes from `current_actor`, which the host sets per request and per event delivery.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from roost.cloud.ids import new_id
from roost.cloud.table import MAX_ITEM_BYTES, IndexSpec, TableSpec, encode_key, item_size

AUDIT = TableSpec(
    name="roost_audit",
    pk="pk",  # the app, e.g. "desks"
    sk="sk",  # "<ISO time>#<ULID>": newest last
    indexes=(IndexSpec("by_record", pk="record", sk="sk"),),
)

current_actor: ContextVar[str | None] = ContextVar("roost_actor", default=None)
"""Who is acting: a user id, "system", or "handler:<name>" for event handlers."""


def record_id(table: str, key: dict[str, Any]) -> str:
    """The audit trail's name for one item: "<table>#<encoded key>"."""
    return f"{table}#{encode_key(key)}"


def audit_item(
    *, table: TableSpec, key: dict[str, Any], op: str, before: dict[str, Any] | None,
    after: dict[str, Any] | None, at: datetime,
) -> dict[str, Any]:
    """The audit record one write produces, by `current_actor` at `at`, made to fit in 400 KB.
    `op` is "put", "update" or "delete"."""
    at_iso = at.astimezone(UTC).isoformat(timespec="microseconds")  # fixed width: sorts by time
    record = {
        "pk": table.app,
        "sk": f"{at_iso}#{new_id(at)}",
        "record": record_id(table.name, key),
        "table": table.name,
        "key": dict(key),
        "op": op,
        "before": before,
        "after": after,
        "actor": current_actor.get() or "system",
        "at": at_iso,
    }
    return fit_audit(record, key)


def fit_audit(record: dict[str, Any], key: dict[str, Any]) -> dict[str, Any]:
    """An audit record that fits in 400 KB: when before+after do not, keep the key and the names
    of the changed attributes, marked `"truncated": True`, rather than failing the write."""
    if item_size(record) <= MAX_ITEM_BYTES:
        return record
    before, after = record["before"] or {}, record["after"] or {}
    changed = sorted(n for n in set(before) | set(after) if before.get(n) != after.get(n))
    slim = {**record, "before": dict(key) if record["before"] is not None else None,
            "after": dict(key) if record["after"] is not None else None,
            "truncated": True, "changed": changed}
    if item_size(slim) > MAX_ITEM_BYTES:
        slim["changed"] = None
    return slim
