"""The Table port on SQLite: every Roost table of a deployment in one SQLite file.

Durability. The journal is WAL. `synchronous="NORMAL"` (the default) makes a committed write
survive any crash of the *process* (once COMMIT returns, the WAL frame is in the operating
system's hands) but the last commits can be lost if the *machine* loses power or the kernel
crashes; `synchronous="FULL"` flushes the WAL to disk on every commit and survives power loss too,
at the price of one disk flush per write. NORMAL is right for `roost serve` on a laptop or a
single server with a journaling file system; choose FULL where losing the last second of writes
to a power cut is not acceptable.

Concurrency. One connection per thread (opened on first use, closed when its thread ends or at
`close()`), so the object is safe to share between threads, and any number of processes may open
the same file. Every write runs in `BEGIN IMMEDIATE`: the write lock is taken *before* the current
item is read, so a condition evaluated in Python against that read cannot be invalidated by
another thread or process before the write commits. A generous busy timeout (30 s) makes writers
queue instead of failing. Reads are single statements, each a consistent snapshot; WAL readers
never block writers nor wait for them.

TTL. An item whose TTL attribute (epoch seconds) is <= the clock's now is treated as absent by
every read, query, scan *and condition*. DynamoDB's conditions still see such an item until its
lazy deletion (up to 48 h late); we choose "absent" so behaviour follows the clock, not a
sweeper's timing. `purge_expired()` deletes them for good. TTL deletions are not audited.

Audit. Tables with `TableSpec(audit=True)` get one `roost.cloud.audit.AUDIT` record per write that
changed something, in the same SQLite transaction as the write. Writes that leave the item as it
was (a delete of a missing item, a put of an identical item) record nothing, as DynamoDB streams
would. A record whose before+after would pass 400 KB keeps only the key attributes and the names
of the changed attributes, marked `"truncated": True`, rather than failing the write.

Storage layout: `roost.cloud.local.sqlite_rows`; the stored text of an item:
`roost.cloud.local.sqlite_codec`; SQLite failures as `Unavailable`: `.sqlite_errors`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from roost.cloud.audit import AUDIT, audit_item
from roost.cloud.clock import Clock
from roost.cloud.errors import (
    ConditionFailed,
    Invalid,
    NotFound,
    TransactionCanceled,
    Unavailable,
)
from roost.cloud.local.sqlite_codec import decode, encode
from roost.cloud.local.sqlite_errors import guarded
from roost.cloud.local.sqlite_rows import (
    SCHEMA,
    SqlKey,
    check_partition,
    expires_of,
    index_entries,
    row_key,
    sort_condition,
)
from roost.cloud.table import (
    Check,
    Cond,
    Delete,
    IndexSpec,
    Item,
    Key,
    Op,
    Page,
    Put,
    SortKey,
    TableSpec,
    Update,
    Value,
    apply_update,
    check_item,
    check_key,
    check_ops,
    decode_cursor,
    encode_cursor,
    evaluate,
)

SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
PURGE_BATCH = 500  # rows deleted per transaction by purge_expired, so writers are not starved

_GET = "SELECT data, expires FROM items WHERE tbl = ? AND pk = ? AND sk = ?"
_PUT = "INSERT OR REPLACE INTO items(tbl, pk, sk, data, expires) VALUES (?, ?, ?, ?, ?)"
_DELETE = "DELETE FROM items WHERE tbl = ? AND pk = ? AND sk = ?"
_IDX_ADD = "INSERT OR IGNORE INTO idx(tbl, ix, ipk, isk, pk, sk) VALUES (?, ?, ?, ?, ?, ?)"
_IDX_DEL = "DELETE FROM idx WHERE tbl = ? AND ix = ? AND ipk = ? AND isk = ? AND pk = ? AND sk = ?"


class _Handle:
    """One thread's connection. Closed when the thread ends (its thread-local dies) unless it
    was inherited through fork: a child must never touch its parent's SQLite connection."""

    __slots__ = ("__weakref__", "db", "pid")

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.pid = os.getpid()

    def __del__(self) -> None:
        if self.pid == os.getpid():
            with suppress(Exception):
                self.db.close()


def _spec_json(spec: TableSpec) -> str:
    return json.dumps(asdict(spec), sort_keys=True)


def _spec_from_json(text: str) -> TableSpec:
    raw = json.loads(text)
    raw["indexes"] = tuple(IndexSpec(**ix) for ix in raw["indexes"])
    return TableSpec(**raw)


class SqliteTables:
    """All tables of one deployment in the SQLite file at `path` (created if missing)."""

    def __init__(
        self,
        path: str | Path,
        specs: Iterable[TableSpec],
        *,
        clock: Clock,
        synchronous: str = "NORMAL",
        busy_timeout: float = 30.0,
    ) -> None:
        if str(path) in ("", ":memory:"):
            raise ValueError("SqliteTables needs a file: every thread opens its own connection")
        if synchronous.upper() not in SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {SYNCHRONOUS_MODES}")
        self.path = Path(path)
        self.clock = clock
        self._synchronous = synchronous.upper()
        self._busy_ms = int(busy_timeout * 1000)
        self._local = threading.local()
        self._handles: weakref.WeakSet[_Handle] = weakref.WeakSet()
        self._lock = threading.Lock()  # guards register() and the set of connections
        self._specs: dict[str, TableSpec] = {}
        self._tables: dict[str, SqliteTable] = {}
        self._closed = False
        self._create_schema()
        self._register_all([AUDIT, *specs])

    # ------------------------------------------------------------------ connections

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise Unavailable(f"cannot create the folder for the database {self.path}: {exc}",
                              code="unavailable") from exc
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                             timeout=self._busy_ms / 1000, cached_statements=256)
        db.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
        db.execute(f"PRAGMA synchronous = {self._synchronous}")
        return db

    def _conn(self) -> sqlite3.Connection:
        handle: _Handle | None = getattr(self._local, "handle", None)
        if handle is None or handle.pid != os.getpid():
            if self._closed:
                raise Unavailable(f"the tables in {self.path} were closed", code="closed")
            handle = _Handle(self._open())
            self._local.handle = handle
            with self._lock:
                self._handles.add(handle)
        elif self._closed:
            raise Unavailable(f"the tables in {self.path} were closed", code="closed")
        return handle.db

    def _begin(self) -> sqlite3.Connection:
        """Start a write transaction that holds the write lock from its first statement. The
        caller ends it with COMMIT, or `_abort` on any exception (the hot paths do this inline:
        a context manager costs more than the rest of the bookkeeping)."""
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        return db

    @staticmethod
    def _abort(db: sqlite3.Connection) -> None:
        if db.in_transaction:
            with suppress(sqlite3.Error):
                db.execute("ROLLBACK")

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """`_begin` ... COMMIT as a `with` block, for the paths that are not hot."""
        db = self._begin()
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            self._abort(db)
            raise

    @guarded
    def _create_schema(self) -> None:
        db = self._conn()
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise Unavailable(f"the database {self.path} cannot use WAL (journal mode {mode})",
                              code="unavailable")
        with self._writing() as db:
            for statement in SCHEMA:
                db.execute(statement)

    def close(self) -> None:
        """Close every thread's connection; later calls raise `Unavailable`."""
        self._closed = True
        with self._lock:
            handles = list(self._handles)
        for handle in handles:
            with suppress(sqlite3.Error):
                handle.db.close()

    def __enter__(self) -> SqliteTables:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ tables

    def register(self, spec: TableSpec) -> None:
        """Add a table (idempotent). Re-declaring a table with other indexes or another TTL
        attribute rebuilds them from the stored items; changing its key with items in it is
        refused (`Invalid`, code `table_layout_changed`)."""
        self._register_all([spec])

    @guarded
    def _register_all(self, specs: Sequence[TableSpec]) -> None:
        with self._lock:
            fresh = [s for s in specs if self._specs.get(s.name) != s]
            if not fresh:
                return
            with self._writing() as db:
                for spec in fresh:
                    self._record_spec(db, spec)
            for spec in fresh:
                self._specs[spec.name] = spec
                self._tables[spec.name] = SqliteTable(self, spec)

    def _record_spec(self, db: sqlite3.Connection, spec: TableSpec) -> None:
        text = _spec_json(spec)
        row = db.execute("SELECT spec FROM specs WHERE tbl = ?", (spec.name,)).fetchone()
        if row is not None and row[0] == text:
            return
        if row is not None:
            old = _spec_from_json(row[0])
            if (old.pk, old.sk, old.pk_type, old.sk_type) != (
                    spec.pk, spec.sk, spec.pk_type, spec.sk_type) and db.execute(
                    "SELECT 1 FROM items WHERE tbl = ? LIMIT 1", (spec.name,)).fetchone():
                raise Invalid(
                    f"table {spec.name} already holds items keyed by ({old.pk}, {old.sk}); it "
                    f"cannot be re-declared with the key ({spec.pk}, {spec.sk}). Use a new "
                    "table name, or move the items first.", code="table_layout_changed")
            if old.indexes != spec.indexes or old.ttl != spec.ttl:
                self._rebuild(db, spec)
        db.execute("INSERT OR REPLACE INTO specs(tbl, spec) VALUES (?, ?)", (spec.name, text))

    @staticmethod
    def _rebuild(db: sqlite3.Connection, spec: TableSpec) -> None:
        """Recompute every index row and expiry of a table whose declaration changed."""
        db.execute("DELETE FROM idx WHERE tbl = ?", (spec.name,))
        rows = db.execute("SELECT pk, sk, data FROM items WHERE tbl = ?", (spec.name,)).fetchall()
        for pk, sk, data in rows:
            item = decode(data)
            db.execute("UPDATE items SET expires = ? WHERE tbl = ? AND pk = ? AND sk = ?",
                       (expires_of(spec, item), spec.name, pk, sk))
            db.executemany(_IDX_ADD, [(spec.name, ix, ipk, isk, pk, sk)
                                      for ix, ipk, isk in index_entries(spec, item)])

    def spec(self, name: str) -> TableSpec:
        """The declaration of a registered table (`NotFound` for any other name)."""
        return self.table(name).spec

    def table(self, name: str) -> SqliteTable:
        try:
            return self._tables[name]
        except KeyError:
            raise NotFound(f"there is no table {name!r}; declare it first",
                           code="unknown_table") from None

    # ------------------------------------------------------------------ item plumbing

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def _read(
        self, db: sqlite3.Connection, spec: TableSpec, pk: SqlKey, sk: SqlKey,
        now: float | None = None,
    ) -> tuple[Item | None, Item | None]:
        """(the stored item, the item as readers see it: None when expired). The clock is read
        only for items that can expire, when `now` is not given."""
        row = db.execute(_GET, (spec.name, pk, sk)).fetchone()
        if row is None:
            return None, None
        stored = decode(row[0])
        expires = row[1]
        if expires is None or expires > (self._now() if now is None else now):
            return stored, stored
        return stored, None

    @staticmethod
    def _store(
        db: sqlite3.Connection, spec: TableSpec, pk: SqlKey, sk: SqlKey,
        stored: Item | None, new: Item | None,
    ) -> None:
        """Write (or delete, when `new` is None) an item and bring its index rows from those of
        `stored` to those of `new`."""
        name = spec.name
        if new is None:
            db.execute(_DELETE, (name, pk, sk))
        else:
            db.execute(_PUT, (name, pk, sk, encode(new), expires_of(spec, new)))
        if spec.indexes:
            before, after = index_entries(spec, stored), index_entries(spec, new)
            if before - after:
                db.executemany(_IDX_DEL, [(name, ix, ipk, isk, pk, sk)
                                          for ix, ipk, isk in before - after])
            if after - before:
                db.executemany(_IDX_ADD, [(name, ix, ipk, isk, pk, sk)
                                          for ix, ipk, isk in after - before])

    def _audit(
        self, db: sqlite3.Connection, spec: TableSpec, op: str, key: Key,
        before: Item | None, after: Item | None, now: datetime,
    ) -> None:
        if after is not None:
            after = decode(encode(after))  # as a reader will see it: tuples are lists
        if before == after:
            return
        record = audit_item(table=spec, key=dict(key), op=op, before=before, after=after, at=now)
        pk, sk = row_key(AUDIT, record)
        self._store(db, AUDIT, pk, sk, None, record)

    # ------------------------------------------------------------------ transactions

    @guarded
    def transact(self, ops: Sequence[Op]) -> None:
        """All or nothing. Raises `TransactionCanceled` (reasons per operation) when a condition
        fails, `Invalid` when the operations break a rule; nothing is written in either case."""
        ops = list(ops)
        for op in ops:
            if not isinstance(op, (Put, Update, Delete, Check)):
                raise Invalid(f"a transaction holds Put, Update, Delete and Check operations, "
                              f"not {type(op).__name__}", code="invalid_transaction")
        check_ops(ops, self.spec)
        specs = [self.spec(op.table) for op in ops]
        keys: list[Key] = []
        for op, spec in zip(ops, specs, strict=True):
            if isinstance(op, Put):
                check_item(spec, op.item)
                keys.append(spec.key_of(op.item))
            else:
                keys.append(dict(op.key))
        rows = [row_key(spec, key) for spec, key in zip(specs, keys, strict=True)]
        now = self.clock.now()
        db = self._begin()
        try:
            self._transact(db, ops, specs, keys, rows, now)
            db.execute("COMMIT")
        except BaseException:
            self._abort(db)
            raise

    def _transact(
        self, db: sqlite3.Connection, ops: list[Op], specs: list[TableSpec], keys: list[Key],
        rows: list[tuple[SqlKey, SqlKey]], now: datetime,
    ) -> None:
        """The body of `transact`, inside its write transaction."""
        ts = now.timestamp()
        read = [self._read(db, spec, pk, sk, ts)
                for spec, (pk, sk) in zip(specs, rows, strict=True)]
        reasons: list[str | None] = [
            None if evaluate(op.condition, visible) else "condition_failed"
            for op, (_, visible) in zip(ops, read, strict=True)]
        if any(reasons):
            failed = [i for i, r in enumerate(reasons) if r]
            raise TransactionCanceled(
                f"transaction canceled: the condition of operation(s) {failed} did not hold "
                f"({', '.join(f'{type(ops[i]).__name__} on {ops[i].table}' for i in failed)})",
                reasons=reasons)
        news: list[Item | None] = []
        for op, spec, (_, visible) in zip(ops, specs, read, strict=True):
            if isinstance(op, Put):
                news.append(dict(op.item))
            elif isinstance(op, Update):
                news.append(apply_update(spec, visible, op))
            else:
                news.append(None)
        for i, op in enumerate(ops):
            if isinstance(op, Check):
                continue
            spec, (pk, sk), (stored, visible) = specs[i], rows[i], read[i]
            if isinstance(op, Delete) and stored is None:
                continue
            self._store(db, spec, pk, sk, stored, news[i])
            if spec.audit:
                kind = "put" if isinstance(op, Put) else \
                    "update" if isinstance(op, Update) else "delete"
                self._audit(db, spec, kind, keys[i], visible, news[i], now)

    # ------------------------------------------------------------------ TTL

    @guarded
    def purge_expired(self) -> int:
        """Delete every item whose TTL has passed (and its index rows); returns how many."""
        now = self._now()
        total = 0
        known: dict[str, TableSpec | None] = {}
        while True:
            with self._writing() as db:
                rows = db.execute(
                    "SELECT tbl, pk, sk, data FROM items WHERE expires <= ? LIMIT ?",
                    (now, PURGE_BATCH)).fetchall()
                for tbl, pk, sk, data in rows:
                    spec = known.get(tbl) if tbl in known else self._stored_spec(db, tbl, known)
                    if spec is not None and spec.indexes:
                        db.executemany(_IDX_DEL, [(tbl, ix, ipk, isk, pk, sk) for ix, ipk, isk
                                                  in index_entries(spec, decode(data))])
                db.executemany(_DELETE, [(tbl, pk, sk) for tbl, pk, sk, _ in rows])
            total += len(rows)
            if len(rows) < PURGE_BATCH:
                return total

    def _stored_spec(
        self, db: sqlite3.Connection, tbl: str, known: dict[str, TableSpec | None]
    ) -> TableSpec | None:
        """The declaration of a table, also one another process registered."""
        spec = self._specs.get(tbl)
        if spec is None:
            row = db.execute("SELECT spec FROM specs WHERE tbl = ?", (tbl,)).fetchone()
            spec = _spec_from_json(row[0]) if row else None
        known[tbl] = spec
        return spec


class SqliteTable:
    """One table of a `SqliteTables`; obtain it with `SqliteTables.table(name)`."""

    def __init__(self, tables: SqliteTables, spec: TableSpec) -> None:
        self._t = tables
        self.spec = spec
        self.path = tables.path
        # The old item must be read before a write when the index rows or the audit need it.
        self._put_reads_old = bool(spec.indexes) or spec.audit

    def __repr__(self) -> str:
        return f"SqliteTable({self.spec.name!r}, {str(self.path)!r})"

    @guarded
    def get(self, key: Key) -> Item | None:
        spec = self.spec
        check_key(spec, key)
        pk, sk = row_key(spec, key)
        row = self._t._conn().execute(_GET, (spec.name, pk, sk)).fetchone()
        if row is None or (row[1] is not None and row[1] <= self._t._now()):
            return None
        return decode(row[0])

    def _refuse(self, key: Key) -> ConditionFailed:
        return ConditionFailed(f"table {self.spec.name}: the condition on item {dict(key)} did "
                               "not hold; nothing was changed")

    @guarded
    def put(self, item: Item, *, condition: Cond | None = None) -> None:
        spec = self.spec
        check_item(spec, item)
        pk, sk = row_key(spec, item)
        t = self._t
        now = t.clock.now() if spec.audit else None
        db = t._begin()
        try:
            stored = visible = None
            if condition is not None or self._put_reads_old:
                stored, visible = t._read(db, spec, pk, sk)
                if condition is not None and not evaluate(condition, visible):
                    raise self._refuse(spec.key_of(item))
            t._store(db, spec, pk, sk, stored, item)
            if now is not None:
                t._audit(db, spec, "put", spec.key_of(item), visible, dict(item), now)
            db.execute("COMMIT")
        except BaseException:
            t._abort(db)
            raise

    @guarded
    def update(
        self,
        key: Key,
        *,
        set: Mapping[str, Value] | None = None,
        add: Mapping[str, Value] | None = None,
        remove: Sequence[str] = (),
        condition: Cond | None = None,
    ) -> Item:
        spec = self.spec
        check_key(spec, key)
        op = Update(spec.name, dict(key), set or {}, add or {}, tuple(remove), condition)
        pk, sk = row_key(spec, key)
        t = self._t
        now = t.clock.now() if spec.audit else None
        db = t._begin()
        try:
            stored, visible = t._read(db, spec, pk, sk, now and now.timestamp())
            if not evaluate(condition, visible):
                raise self._refuse(key)
            new = apply_update(spec, visible, op)
            t._store(db, spec, pk, sk, stored, new)
            if now is not None:
                t._audit(db, spec, "update", key, visible, new, now)
            db.execute("COMMIT")
        except BaseException:
            t._abort(db)
            raise
        return new

    @guarded
    def delete(self, key: Key, *, condition: Cond | None = None) -> Item | None:
        spec = self.spec
        check_key(spec, key)
        pk, sk = row_key(spec, key)
        t = self._t
        now = t.clock.now() if spec.audit else None
        db = t._begin()
        try:
            stored, visible = t._read(db, spec, pk, sk, now and now.timestamp())
            if not evaluate(condition, visible):
                raise self._refuse(key)
            if stored is not None:
                t._store(db, spec, pk, sk, stored, None)
                if now is not None:
                    t._audit(db, spec, "delete", key, visible, None, now)
            db.execute("COMMIT")
        except BaseException:
            t._abort(db)
            raise
        return visible

    # ------------------------------------------------------------------ reads of many

    def _position(self, cursor: str, on: str, partition: SqlKey | None, width: int) -> list[Any]:
        pos = decode_cursor(cursor)
        k = pos.get("k")
        if (pos.get("t") != self.spec.name or pos.get("on") != on
                or pos.get("p") != partition or not isinstance(k, list) or len(k) != width
                or not all(isinstance(v, (str, bytes, int, float)) for v in k)):
            raise Invalid(f"the cursor was not given out by this query on table "
                          f"{self.spec.name}", code="invalid_cursor")
        return k

    @staticmethod
    def _check_limit(limit: int | None) -> int:
        if limit is None:
            return -1
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise Invalid(f"limit must be a positive whole number (got {limit!r})",
                          code="invalid_limit")
        return limit + 1  # one more than asked: tells whether another page exists

    def _page(self, rows: list[Any], limit: int | None, on: str, partition: SqlKey | None) -> Page:
        cursor = None
        if limit is not None and len(rows) > limit:
            rows = rows[:limit]
            cursor = encode_cursor({"t": self.spec.name, "on": on, "p": partition,
                                    "k": list(rows[-1][:-1])})
        return Page([decode(r[-1]) for r in rows], cursor)

    @guarded
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
        spec = self.spec
        sql_limit = self._check_limit(limit)
        if index is None:
            p = check_partition(spec.name, spec.pk, partition, spec.pk_type)
            sql = "SELECT sk, data FROM items WHERE tbl = ? AND pk = ?"
            params: list[Any] = [spec.name, p]
            cols, sk_attr, sk_type, expires, on = ("sk",), spec.sk, spec.sk_type, "expires", ""
        else:
            ix = spec.index(index)
            p = check_partition(spec.name, ix.pk, partition, ix.pk_type)
            sql = ("SELECT x.isk, x.pk, x.sk, i.data FROM idx x JOIN items i ON i.tbl = x.tbl "
                   "AND i.pk = x.pk AND i.sk = x.sk WHERE x.tbl = ? AND x.ix = ? AND x.ipk = ?")
            params = [spec.name, ix.name, p]
            cols, sk_attr, sk_type = ("x.isk", "x.pk", "x.sk"), ix.sk, ix.sk_type
            expires, on = "i.expires", ix.name
        if sort is not None:
            if sk_attr is None:
                raise Invalid(f"table {spec.name}: {'index ' + on if on else 'the table'} has no "
                              "sort key to put a condition on", code="invalid_query")
            clause, args = sort_condition(spec.name, cols[0], sort, sk_type)
            sql += clause
            params += args
        if cursor is not None:
            after = self._position(cursor, on, p, len(cols))
            sql += f" AND ({', '.join(cols)}) {'>' if forward else '<'} " \
                   f"({', '.join('?' * len(cols))})"
            params += after
        order = "" if forward else " DESC"
        sql += f" AND ({expires} IS NULL OR {expires} > ?) ORDER BY " \
               f"{', '.join(c + order for c in cols)} LIMIT ?"
        params += [self._t._now(), sql_limit]
        rows = self._t._conn().execute(sql, params).fetchall()
        return self._page(rows, limit, on, p)

    @guarded
    def scan(self, *, limit: int | None = None, cursor: str | None = None) -> Page:
        sql_limit = self._check_limit(limit)
        sql = "SELECT pk, sk, data FROM items WHERE tbl = ?"
        params: list[Any] = [self.spec.name]
        if cursor is not None:
            sql += " AND (pk, sk) > (?, ?)"
            params += self._position(cursor, "*", None, 2)
        sql += " AND (expires IS NULL OR expires > ?) ORDER BY pk, sk LIMIT ?"
        params += [self._t._now(), sql_limit]
        rows = self._t._conn().execute(sql, params).fetchall()
        return self._page(rows, limit, "*", None)
