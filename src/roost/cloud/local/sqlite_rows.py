"""How the SQLite adapter lays items out: one `items` table for every Roost table, one `idx` table
for every secondary index, both keyed so that SQLite's own ordering is DynamoDB's.

Key values are stored natively, never as text: SQLite then orders strings by their UTF-8 bytes
(BINARY collation, which is code-point order, DynamoDB's), numbers numerically (an int and an
equal float are one key, as in DynamoDB) and bytes by memcmp. The key columns have no declared
type on purpose: a column without affinity keeps each value's own type, so "10" stays a string.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeAlias

from roost.cloud.errors import Invalid
from roost.cloud.table import KeyType, SortKey, TableSpec, Value

SqlKey: TypeAlias = str | bytes | int | float
IndexEntry: TypeAlias = tuple[str, SqlKey, SqlKey]  # (index name, index pk, index sk)

NO_SORT_KEY = ""  # the sort-key column's value for tables (and indexes) without a sort key
_INT64 = (-(2**63), 2**63 - 1)

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS items(
        tbl TEXT NOT NULL, pk NOT NULL, sk NOT NULL, data TEXT NOT NULL, expires REAL,
        PRIMARY KEY (tbl, pk, sk)) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS items_expiry ON items(expires) WHERE expires IS NOT NULL",
    """CREATE TABLE IF NOT EXISTS idx(
        tbl TEXT NOT NULL, ix TEXT NOT NULL, ipk NOT NULL, isk NOT NULL, pk NOT NULL,
        sk NOT NULL, PRIMARY KEY (tbl, ix, ipk, isk, pk, sk)) WITHOUT ROWID""",
    "CREATE TABLE IF NOT EXISTS specs(tbl TEXT PRIMARY KEY, spec TEXT NOT NULL) WITHOUT ROWID",
)


def sql_key(table: str, name: str, v: Value) -> SqlKey:
    """A (validated) key value as SQLite stores it. Decimals become int or float; integers must
    fit SQLite's 64 bits, since a rounded key could silently merge two items."""
    if isinstance(v, (str, bytes)):
        return v
    if isinstance(v, Decimal):
        if not v.is_finite():
            raise Invalid(f"table {table}: key attribute {name!r} must be finite",
                          code="invalid_key")
        v = int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, int) and not isinstance(v, bool) and not _INT64[0] <= v <= _INT64[1]:
        raise Invalid(f"table {table}: key attribute {name!r} = {v} is outside the 64-bit "
                      "range this adapter stores exactly", code="invalid_key")
    return v


def row_key(spec: TableSpec, key: Mapping[str, Value]) -> tuple[SqlKey, SqlKey]:
    """The (pk, sk) columns of an item or key (already validated by `check_key`)."""
    pk = sql_key(spec.name, spec.pk, key[spec.pk])
    sk = sql_key(spec.name, spec.sk, key[spec.sk]) if spec.sk else NO_SORT_KEY
    return pk, sk


def expires_of(spec: TableSpec, item: Mapping[str, Value]) -> float | None:
    """The item's expiry in epoch seconds; None when the table has no TTL or the attribute is
    absent or not a number (DynamoDB ignores such values too)."""
    if spec.ttl is None:
        return None
    v = item.get(spec.ttl)
    if isinstance(v, bool) or not isinstance(v, (int, float, Decimal)):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def index_entries(spec: TableSpec, item: Mapping[str, Value] | None) -> set[IndexEntry]:
    """The index rows an item has: sparse, so an item lacking an index's key attribute (or holding
    None, or a value of another type than declared: possible only for items stored before the
    index was) is not in that index, as in DynamoDB."""
    if not item or not spec.indexes:
        return set()
    out: set[IndexEntry] = set()
    for ix in spec.indexes:
        ipk = item.get(ix.pk)
        if ipk is None or not _type_ok(ipk, ix.pk_type):
            continue
        if ix.sk is None:
            isk: SqlKey = NO_SORT_KEY
        else:
            raw = item.get(ix.sk)
            if raw is None or not _type_ok(raw, ix.sk_type):
                continue
            isk = sql_key(spec.name, ix.sk, raw)
        out.add((ix.name, sql_key(spec.name, ix.pk, ipk), isk))
    return out


def _type_ok(v: Value, kind: KeyType) -> bool:
    if kind == "S":
        return isinstance(v, str)
    if kind == "B":
        return isinstance(v, bytes)
    return isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)


def check_partition(table: str, what: str, v: Value, kind: KeyType) -> SqlKey:
    if not _type_ok(v, kind):
        want = {"S": "a string", "N": "a number", "B": "bytes"}[kind]
        raise Invalid(f"table {table}: the partition of {what} must be {want} "
                      f"(got {type(v).__name__})", code="invalid_key")
    if isinstance(v, float) and not math.isfinite(v):
        raise Invalid(f"table {table}: the partition must be finite", code="invalid_key")
    return sql_key(table, what, v)


def _successor(prefix: str | bytes) -> str | bytes | None:
    """The least value greater than every value starting with `prefix` (None: there is none)."""
    if isinstance(prefix, bytes):
        b = prefix.rstrip(b"\xff")
        return b[:-1] + bytes([b[-1] + 1]) if b else None
    s = prefix.rstrip("\U0010ffff")
    if not s:
        return None
    nxt = ord(s[-1]) + 1
    if 0xD800 <= nxt <= 0xDFFF:  # skip the surrogates: code-point order == UTF-8 byte order
        nxt = 0xE000
    return s[:-1] + chr(nxt)


def sort_condition(table: str, col: str, sort: SortKey, kind: KeyType) -> tuple[str, list[Any]]:
    """SQL (` AND ...`) and parameters restricting `col` to a `SortKey`, as a range SQLite can
    walk in its primary key."""
    for v in sort.args:
        if not _type_ok(v, kind):
            want = {"S": "a string", "N": "a number", "B": "bytes"}[kind]
            raise Invalid(f"table {table}: the sort-key condition needs {want} "
                          f"(got {type(v).__name__})", code="invalid_key")
    args = [sql_key(table, "sort key", v) for v in sort.args]
    if sort.op == "begins_with":
        if kind == "N":
            raise Invalid(f"table {table}: begins_with works on string or bytes sort keys only",
                          code="invalid_key")
        upper = _successor(args[0])  # type: ignore[arg-type]
        if upper is None:
            return f" AND {col} >= ?", args
        return f" AND {col} >= ? AND {col} < ?", [args[0], upper]
    if sort.op == "between":
        return f" AND {col} BETWEEN ? AND ?", args
    sym = {"eq": "=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}[sort.op]
    return f" AND {col} {sym} ?", args
