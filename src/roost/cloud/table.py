"""The Table port: DynamoDB semantics, so the DynamoDB adapter is a thin translation.

A *table* is declared by a `TableSpec` (key attribute names and types, secondary indexes, the TTL
attribute). Items are plain dicts of attribute values. Values allowed: `str`, `int`, `float`
(finite), `bool`, `None`, `bytes`, `list` and `dict` of these, and `set` of str / numbers (string
and number sets). Key attributes must be `S` (str), `N` (int or float) or `B` (bytes), as declared.

Limits enforced by every adapter, before anything is written (raising `Invalid`):
item size 400 KB (DynamoDB's rules of measure), 100 operations per transaction, one operation per
item per transaction, partition key 1..2048 bytes, sort key 1..1024 bytes, key type as declared.

Reads never return expired items (TTL attribute, epoch seconds, in the past by the table's clock):
DynamoDB deletes them lazily, up to 48 h late, so every adapter filters them at read time.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, Protocol, TypeAlias

from roost.cloud.errors import Invalid

Value: TypeAlias = Any
Item: TypeAlias = dict[str, Value]
Key: TypeAlias = dict[str, Value]
KeyType = Literal["S", "N", "B"]

MAX_ITEM_BYTES = 400 * 1024
MAX_TRANSACT_OPS = 100
MAX_PK_BYTES = 2048
MAX_SK_BYTES = 1024
MAX_INDEXES = 20


# --------------------------------------------------------------------------- declarations


@dataclass(frozen=True)
class IndexSpec:
    """A global secondary index. Items lacking the index's partition attribute (or its sort
    attribute, when it has one) are not in the index: indexes are sparse, as in DynamoDB."""

    name: str
    pk: str
    sk: str | None = None
    pk_type: KeyType = "S"
    sk_type: KeyType = "S"


@dataclass(frozen=True)
class TableSpec:
    name: str
    pk: str = "pk"
    sk: str | None = "sk"
    pk_type: KeyType = "S"
    sk_type: KeyType = "S"
    indexes: tuple[IndexSpec, ...] = ()
    ttl: str | None = None
    audit: bool = False  # record every write's before/after in the audit trail (roost.cloud.audit)

    @property
    def app(self) -> str:
        """The app that owns the table: the name's first part ("rooms_bookings" -> "rooms")."""
        return self.name.split("_", 1)[0]

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"table name {self.name!r}: use letters, digits, '_' and '-'")
        if len(self.indexes) > MAX_INDEXES:
            raise ValueError(f"table {self.name}: at most {MAX_INDEXES} indexes")
        names = [ix.name for ix in self.indexes]
        if len(set(names)) != len(names):
            raise ValueError(f"table {self.name}: index names must be unique")

    def index(self, name: str) -> IndexSpec:
        for ix in self.indexes:
            if ix.name == name:
                return ix
        raise Invalid(f"table {self.name} has no index {name!r}", code="unknown_index")

    def key_of(self, item: Mapping[str, Value]) -> Key:
        """The primary key of an item (validated)."""
        key = {self.pk: item.get(self.pk)}
        if self.sk is not None:
            key[self.sk] = item.get(self.sk)
        check_key(self, key)
        return key


# --------------------------------------------------------------------------- conditions


@dataclass(frozen=True)
class Cond:
    """A condition on an item's current state: `attr("n").lt(5) & attr("x").exists()`."""

    op: str
    args: tuple[Any, ...]

    def __and__(self, other: Cond) -> Cond:
        return Cond("and", (self, other))

    def __or__(self, other: Cond) -> Cond:
        return Cond("or", (self, other))

    def __invert__(self) -> Cond:
        return Cond("not", (self,))


@dataclass(frozen=True)
class attr:
    """Names an attribute in a condition; lower-case so conditions read as phrases."""

    name: str

    def exists(self) -> Cond:
        return Cond("exists", (self.name,))

    def not_exists(self) -> Cond:
        return Cond("not_exists", (self.name,))

    def eq(self, value: Value) -> Cond:
        return Cond("eq", (self.name, value))

    def ne(self, value: Value) -> Cond:
        return Cond("ne", (self.name, value))

    def lt(self, value: Value) -> Cond:
        return Cond("lt", (self.name, value))

    def le(self, value: Value) -> Cond:
        return Cond("le", (self.name, value))

    def gt(self, value: Value) -> Cond:
        return Cond("gt", (self.name, value))

    def ge(self, value: Value) -> Cond:
        return Cond("ge", (self.name, value))

    def between(self, low: Value, high: Value) -> Cond:
        return Cond("between", (self.name, low, high))

    def begins_with(self, prefix: str | bytes) -> Cond:
        return Cond("begins_with", (self.name, prefix))

    def is_in(self, values: Iterable[Value]) -> Cond:
        return Cond("in", (self.name, tuple(values)))


def _comparable(a: Value, b: Value) -> bool:
    num = (int, float, Decimal)
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    if isinstance(a, num) and isinstance(b, num):
        return True
    return type(a) is type(b) and isinstance(a, (str, bytes))


def _equal(a: Value, b: Value) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float, Decimal)) and isinstance(b, (int, float, Decimal)):
        return a == b
    return type(a) is type(b) and a == b


def evaluate(cond: Cond | None, item: Mapping[str, Value] | None) -> bool:
    """Evaluate a condition against an item (None = the item does not exist), with DynamoDB's
    rules: comparisons with a missing attribute or across types are false."""
    if cond is None:
        return True
    cur: Mapping[str, Value] = item or {}
    op, args = cond.op, cond.args
    if op == "and":
        return evaluate(args[0], item) and evaluate(args[1], item)
    if op == "or":
        return evaluate(args[0], item) or evaluate(args[1], item)
    if op == "not":
        return not evaluate(args[0], item)
    name = args[0]
    if op == "exists":
        return name in cur
    if op == "not_exists":
        return name not in cur
    if name not in cur:
        return op == "ne"  # DynamoDB: <> against a missing attribute is true
    value = cur[name]
    if op == "eq":
        return _equal(value, args[1])
    if op == "ne":
        return not _equal(value, args[1])
    if op == "in":
        return any(_equal(value, v) for v in args[1])
    if op == "begins_with":
        prefix = args[1]
        return type(value) is type(prefix) and isinstance(value, (str, bytes)) and \
            value.startswith(prefix)
    if op == "between":
        low, high = args[1], args[2]
        return _comparable(value, low) and _comparable(value, high) and low <= value <= high
    other = args[1]
    if not _comparable(value, other):
        return False
    return {"lt": value < other, "le": value <= other, "gt": value > other,
            "ge": value >= other}[op]


def cond_attrs(cond: Cond | None) -> set[str]:
    """Attribute names a condition reads (for adapters that must name them)."""
    if cond is None:
        return set()
    if cond.op in ("and", "or"):
        return cond_attrs(cond.args[0]) | cond_attrs(cond.args[1])
    if cond.op == "not":
        return cond_attrs(cond.args[0])
    return {cond.args[0]}


# --------------------------------------------------------------------------- sort-key ranges


@dataclass(frozen=True)
class SortKey:
    """A sort-key condition for `query`: `SortKey.between(a, b)`, `SortKey.begins_with("2026-")`."""

    op: Literal["eq", "lt", "le", "gt", "ge", "between", "begins_with"]
    args: tuple[Value, ...]

    @classmethod
    def eq(cls, v: Value) -> SortKey:
        return cls("eq", (v,))

    @classmethod
    def lt(cls, v: Value) -> SortKey:
        return cls("lt", (v,))

    @classmethod
    def le(cls, v: Value) -> SortKey:
        return cls("le", (v,))

    @classmethod
    def gt(cls, v: Value) -> SortKey:
        return cls("gt", (v,))

    @classmethod
    def ge(cls, v: Value) -> SortKey:
        return cls("ge", (v,))

    @classmethod
    def between(cls, low: Value, high: Value) -> SortKey:
        """Inclusive at both ends, as in DynamoDB."""
        return cls("between", (low, high))

    @classmethod
    def begins_with(cls, prefix: str | bytes) -> SortKey:
        return cls("begins_with", (prefix,))

    def matches(self, v: Value) -> bool:
        return evaluate(Cond(self.op, ("k", *self.args)), {"k": v})


# --------------------------------------------------------------------------- operations


@dataclass(frozen=True)
class Put:
    table: str
    item: Item
    condition: Cond | None = None


@dataclass(frozen=True)
class Update:
    """Set fields, add to numeric counters (a missing counter starts at 0; adding to a set adds
    members), remove fields. Keys cannot be changed. Creates the item if absent (DynamoDB upsert)
    unless the condition says otherwise (`attr(pk).exists()`)."""

    table: str
    key: Key
    set: Mapping[str, Value] = field(default_factory=dict)
    add: Mapping[str, Value] = field(default_factory=dict)
    remove: Sequence[str] = ()
    condition: Cond | None = None


@dataclass(frozen=True)
class Delete:
    table: str
    key: Key
    condition: Cond | None = None


@dataclass(frozen=True)
class Check:
    """A condition on another item that must hold for the transaction to commit."""

    table: str
    key: Key
    condition: Cond


Op: TypeAlias = Put | Update | Delete | Check


@dataclass(frozen=True)
class Page:
    items: list[Item]
    cursor: str | None  # None when there is nothing more


# --------------------------------------------------------------------------- the port


class Table(Protocol):
    """One table. Obtain through `Tables.table(name)`. Every method validates its input first
    and raises `Invalid` (nothing written), `ConditionFailed` when a condition does not hold."""

    spec: TableSpec

    def get(self, key: Key) -> Item | None: ...

    def put(self, item: Item, *, condition: Cond | None = None) -> None: ...

    def update(
        self,
        key: Key,
        *,
        set: Mapping[str, Value] | None = None,
        add: Mapping[str, Value] | None = None,
        remove: Sequence[str] = (),
        condition: Cond | None = None,
    ) -> Item:
        """Apply the update atomically and return the item as it is afterwards."""
        ...

    def delete(self, key: Key, *, condition: Cond | None = None) -> Item | None:
        """Delete and return the old item (None if there was none)."""
        ...

    def query(
        self,
        partition: Value,
        *,
        sort: SortKey | None = None,
        index: str | None = None,
        forward: bool = True,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page:
        """Items of one partition (of the table or of `index`) in sort-key order. `limit` caps
        the page; pass the returned cursor to continue."""
        ...

    def scan(self, *, limit: int | None = None, cursor: str | None = None) -> Page:
        """Every item, in no promised order. For admin tools and `roost check`, not requests."""
        ...


class Tables(Protocol):
    """All tables of one deployment, and transactions across them."""

    def table(self, name: str) -> Table: ...

    def transact(self, ops: Sequence[Op]) -> None:
        """All or nothing. Raises `TransactionCanceled` naming the operations that failed."""
        ...

    def purge_expired(self) -> int:
        """Delete expired items now (a background job calls it); returns how many."""
        ...


def query_all(
    table: Table,
    partition: Value,
    *,
    sort: SortKey | None = None,
    index: str | None = None,
    forward: bool = True,
    page_size: int = 500,
) -> Iterator[Item]:
    """Every item of a partition, page after page (the one way to read a whole partition)."""
    cursor: str | None = None
    while True:
        page = table.query(partition, sort=sort, index=index, forward=forward, limit=page_size,
                           cursor=cursor)
        yield from page.items
        if page.cursor is None:
            return
        cursor = page.cursor


# --------------------------------------------------------------------------- shared validation


def _utf8_len(s: str) -> int:
    return len(s.encode("utf-8"))


def _number_size(n: int | float | Decimal) -> int:
    digits = len(str(abs(n)).replace(".", "").replace("e", "").lstrip("0")) or 1
    return (digits + 1) // 2 + 1


def value_size(v: Value) -> int:
    """DynamoDB's measure of a value's size in bytes."""
    if v is None or isinstance(v, bool):
        return 1
    if isinstance(v, str):
        return _utf8_len(v)
    if isinstance(v, (bytes, bytearray)):
        return len(v)
    if isinstance(v, (int, float, Decimal)):
        return _number_size(v)
    if isinstance(v, (list, tuple)):
        return 3 + sum(1 + value_size(x) for x in v)
    if isinstance(v, (set, frozenset)):
        return sum(value_size(x) for x in v)
    if isinstance(v, Mapping):
        return 3 + sum(1 + _utf8_len(k) + value_size(x) for k, x in v.items())
    raise Invalid(f"unsupported attribute value type {type(v).__name__}", code="invalid_value")


def item_size(item: Mapping[str, Value]) -> int:
    return sum(_utf8_len(k) + value_size(v) for k, v in item.items())


def check_value(name: str, v: Value, depth: int = 0) -> None:
    if depth > 32:
        raise Invalid(f"attribute {name!r} nests deeper than 32 levels", code="invalid_value")
    if v is None or isinstance(v, (bool, str, bytes, int, Decimal)):
        return
    if isinstance(v, float):
        if not math.isfinite(v):
            raise Invalid(f"attribute {name!r} is {v}; numbers must be finite",
                          code="invalid_value")
        return
    if isinstance(v, (list, tuple)):
        for x in v:
            check_value(name, x, depth + 1)
        return
    if isinstance(v, (set, frozenset)):
        if not v:
            raise Invalid(f"attribute {name!r} is an empty set; DynamoDB has none",
                          code="invalid_value")
        kinds = {str if isinstance(x, str) else "num" if isinstance(x, (int, float)) and
                 not isinstance(x, bool) else type(x) for x in v}
        if len(kinds) != 1 or not kinds <= {str, "num"}:
            raise Invalid(f"attribute {name!r}: a set holds only strings or only numbers",
                          code="invalid_value")
        return
    if isinstance(v, Mapping):
        for k, x in v.items():
            if not isinstance(k, str):
                raise Invalid(f"attribute {name!r}: map keys must be strings",
                              code="invalid_value")
            check_value(name, x, depth + 1)
        return
    raise Invalid(f"attribute {name!r} has unsupported type {type(v).__name__}",
                  code="invalid_value")


def _check_key_value(table: str, name: str, v: Value, kind: KeyType, max_bytes: int) -> None:
    ok = {"S": isinstance(v, str), "B": isinstance(v, bytes),
          "N": isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)}[kind]
    if not ok:
        want = {"S": "a string", "N": "a number", "B": "bytes"}[kind]
        got = "missing" if v is None else type(v).__name__
        raise Invalid(f"table {table}: key attribute {name!r} must be {want} (got {got})",
                      code="invalid_key")
    if kind == "N" and isinstance(v, float) and not math.isfinite(v):
        raise Invalid(f"table {table}: key attribute {name!r} must be finite", code="invalid_key")
    if kind in ("S", "B"):
        size = len(v) if isinstance(v, bytes) else _utf8_len(v)
        if size == 0:
            raise Invalid(f"table {table}: key attribute {name!r} must not be empty",
                          code="invalid_key")
        if size > max_bytes:
            raise Invalid(f"table {table}: key attribute {name!r} is {size} bytes; "
                          f"the limit is {max_bytes}", code="invalid_key")


def check_key(spec: TableSpec, key: Mapping[str, Value]) -> None:
    expected = {spec.pk} | ({spec.sk} if spec.sk else set())
    extra = set(key) - expected
    if extra:
        raise Invalid(f"table {spec.name}: key has unexpected attributes {sorted(extra)}",
                      code="invalid_key")
    _check_key_value(spec.name, spec.pk, key.get(spec.pk), spec.pk_type, MAX_PK_BYTES)
    if spec.sk:
        _check_key_value(spec.name, spec.sk, key.get(spec.sk), spec.sk_type, MAX_SK_BYTES)


def check_item(spec: TableSpec, item: Mapping[str, Value]) -> None:
    """Everything DynamoDB would refuse about an item, as `Invalid`."""
    if not isinstance(item, Mapping):
        raise Invalid(f"table {spec.name}: an item must be a mapping", code="invalid_item")
    spec.key_of(item)
    for name, v in item.items():
        if not isinstance(name, str) or not name:
            raise Invalid(f"table {spec.name}: attribute names must be non-empty strings",
                          code="invalid_item")
        check_value(name, v)
    for ix in spec.indexes:
        # An index key attribute, when present, must have the index's declared type.
        if ix.pk in item and item[ix.pk] is not None:
            _check_key_value(spec.name, ix.pk, item[ix.pk], ix.pk_type, MAX_PK_BYTES)
        if ix.sk and ix.sk in item and item[ix.sk] is not None:
            _check_key_value(spec.name, ix.sk, item[ix.sk], ix.sk_type, MAX_SK_BYTES)
    size = item_size(item)
    if size > MAX_ITEM_BYTES:
        raise Invalid(f"table {spec.name}: item is {size} bytes; the limit is 400 KB "
                      f"({MAX_ITEM_BYTES} bytes)", code="item_too_large")


def check_ops(ops: Sequence[Op], spec_of: Any) -> None:
    """Shape rules for `transact`: 1..100 operations, one per item. `spec_of(name)` -> TableSpec."""
    if not ops:
        raise Invalid("a transaction needs at least one operation", code="invalid_transaction")
    if len(ops) > MAX_TRANSACT_OPS:
        raise Invalid(f"a transaction holds at most {MAX_TRANSACT_OPS} operations "
                      f"(got {len(ops)})", code="too_many_operations")
    seen: set[tuple[str, str]] = set()
    for op in ops:
        spec = spec_of(op.table)
        key = spec.key_of(op.item) if isinstance(op, Put) else op.key
        check_key(spec, key)
        ident = (op.table, encode_key(key))
        if ident in seen:
            raise Invalid("a transaction may touch each item only once "
                          f"(table {op.table}, key {key})", code="duplicate_item")
        seen.add(ident)


def apply_update(spec: TableSpec, old: Item | None, op: Update) -> Item:
    """The item an update produces (pure; shared by adapters that apply updates in Python)."""
    new: Item = dict(old) if old else dict(op.key)
    keys = set(op.key)
    touched = list(op.set) + list(op.add) + list(op.remove)
    if keys & set(touched):
        raise Invalid(f"table {spec.name}: an update cannot change key attributes",
                      code="invalid_update")
    if len(set(touched)) != len(touched):
        raise Invalid(f"table {spec.name}: an update names an attribute twice",
                      code="invalid_update")
    for name, v in op.set.items():
        new[name] = v
    for name, delta in op.add.items():
        cur = new.get(name)
        if isinstance(delta, (set, frozenset)):
            if cur is None:
                new[name] = set(delta)
            elif isinstance(cur, (set, frozenset)):
                new[name] = set(cur) | set(delta)
            else:
                raise Invalid(f"attribute {name!r} is not a set; cannot add members",
                              code="invalid_update")
            continue
        if isinstance(delta, bool) or not isinstance(delta, (int, float, Decimal)):
            raise Invalid(f"add {name!r}: the amount must be a number or a set",
                          code="invalid_update")
        if cur is None:
            cur = 0
        if isinstance(cur, bool) or not isinstance(cur, (int, float, Decimal)):
            raise Invalid(f"attribute {name!r} is not a number; cannot add to it",
                          code="invalid_update")
        new[name] = cur + delta
    for name in op.remove:
        new.pop(name, None)
    check_item(spec, new)
    return new


# --------------------------------------------------------------------------- key/value codec


def _tag(v: Value) -> Any:
    if isinstance(v, bytes):
        return {"__b": base64.b64encode(v).decode()}
    if isinstance(v, (set, frozenset)):
        return {"__s": sorted((_tag(x) for x in v), key=lambda x: (str(type(x)), x))}
    if isinstance(v, Decimal):
        return {"__d": str(v)}
    if isinstance(v, Mapping):
        return {"__m": {k: _tag(x) for k, x in v.items()}}
    if isinstance(v, (list, tuple)):
        return [_tag(x) for x in v]
    return v


def _untag(v: Any) -> Value:
    if isinstance(v, list):
        return [_untag(x) for x in v]
    if isinstance(v, dict):
        if "__b" in v:
            return base64.b64decode(v["__b"])
        if "__s" in v:
            return {_untag(x) for x in v["__s"]}
        if "__d" in v:
            return Decimal(v["__d"])
        if "__m" in v:
            return {k: _untag(x) for k, x in v["__m"].items()}
    return v


def dumps(value: Value) -> str:
    """Lossless JSON text for any attribute value (bytes, sets and Decimals tagged)."""
    return json.dumps(_tag(value), separators=(",", ":"), ensure_ascii=False)


def loads(text: str | bytes) -> Value:
    return _untag(json.loads(text))


def encode_key(key: Mapping[str, Value]) -> str:
    return dumps(dict(sorted(key.items())))


def encode_cursor(position: Mapping[str, Value]) -> str:
    """An opaque cursor: url-safe base64 of the last position read."""
    return base64.urlsafe_b64encode(dumps(dict(position)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Value]:
    try:
        pad = "=" * (-len(cursor) % 4)
        value = loads(base64.urlsafe_b64decode(cursor + pad))
    except (ValueError, TypeError) as exc:
        raise Invalid("the cursor is not one this table gave out", code="invalid_cursor") from exc
    if not isinstance(value, dict):
        raise Invalid("the cursor is not one this table gave out", code="invalid_cursor")
    return value
