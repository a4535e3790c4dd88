"""SqliteTables against raw `sqlite3` doing the same statements, measured side by side in one run.

conditional put: each write is BEGIN IMMEDIATE; read the item; check a version condition on it;
INSERT OR REPLACE; COMMIT — on the same schema, WAL and `synchronous` setting. The raw side does
exactly that with `json` and nothing else; the adapter adds validation (key types, 400 KB),
its value codec, the condition evaluator and error translation. Goal: ratio >= 0.5.
query: one 100-item partition read whole, p50/p99 latency, raw SELECT + json.loads vs `query`.
Best of 3 interleaved rounds each, so a noisy neighbour hurts both sides alike.

    .venv/bin/python bench/table.py [puts_per_round]
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _util import latencies, percentile, table
from roost.cloud.clock import SystemClock
from roost.cloud.local.sqlite_rows import SCHEMA
from roost.cloud.local.sqlite_table import SqliteTables
from roost.cloud.table import TableSpec, attr

SYNCHRONOUS = "NORMAL"
ROUNDS = 3
KEYS = 500  # puts cycle over this many items: inserts first, then conditional replaces
BOOKINGS = TableSpec("bench_bookings")


def _item(i: int) -> dict[str, object]:
    return {"pk": "room-12", "sk": f"2026-03-{i % KEYS:05d}", "version": i, "title": "Standup",
            "organiser": "ann@example.com", "starts": "2026-03-02T09:00:00Z",
            "ends": "2026-03-02T09:15:00Z", "attendees": ["bob", "cy", "dee"], "seats": 6,
            "status": "confirmed"}


# --------------------------------------------------------------------------- raw sqlite3


def _raw_open(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                         cached_statements=256)
    db.execute("PRAGMA busy_timeout = 30000")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")
    for statement in SCHEMA:
        db.execute(statement)
    return db


def raw_puts(db: sqlite3.Connection, start: int, n: int) -> int:
    """The adapter's statements for a conditional put, by hand; returns how many wrote."""
    written = 0
    tbl = BOOKINGS.name
    for i in range(start, start + n):
        item = _item(i)
        db.execute("BEGIN IMMEDIATE")
        row = db.execute("SELECT data, expires FROM items WHERE tbl = ? AND pk = ? AND sk = ?",
                         (tbl, item["pk"], item["sk"])).fetchone()
        old = json.loads(row[0]) if row else None
        if old is None or "version" not in old or old["version"] < i:
            db.execute("INSERT OR REPLACE INTO items(tbl, pk, sk, data, expires) "
                       "VALUES (?, ?, ?, ?, ?)",
                       (tbl, item["pk"], item["sk"], json.dumps(item, separators=(",", ":"),
                                                                 ensure_ascii=False), None))
            written += 1
        db.execute("COMMIT")
    return written


def raw_query(db: sqlite3.Connection, partition: str) -> list[dict[str, object]]:
    rows = db.execute("SELECT sk, data FROM items WHERE tbl = ? AND pk = ? AND "
                      "(expires IS NULL OR expires > ?) ORDER BY sk LIMIT -1",
                      (BOOKINGS.name, partition, time.time())).fetchall()
    return [json.loads(r[1]) for r in rows]


# --------------------------------------------------------------------------- the adapter


def adapter_puts(tables: SqliteTables, start: int, n: int) -> int:
    bookings = tables.table(BOOKINGS.name)
    for i in range(start, start + n):
        bookings.put(_item(i), condition=attr("version").not_exists() | attr("version").lt(i))
    return n


# --------------------------------------------------------------------------- measuring


def measure_puts(folder: Path, n: int) -> tuple[float, float]:
    raw = _raw_open(folder / "raw.sqlite")
    tables = SqliteTables(folder / "adapter.sqlite", [BOOKINGS], clock=SystemClock(),
                          synchronous=SYNCHRONOUS)
    raw_puts(raw, 0, 200)  # warm both: statement caches, page cache, imports
    adapter_puts(tables, 0, 200)
    raw_rate = adapter_rate = 0.0
    for r in range(ROUNDS):  # interleaved, so drift in the machine hits both sides
        raw_rate = max(raw_rate, _best_rate_once(lambda s: raw_puts(raw, s, n), (r + 1) * n))
        adapter_rate = max(adapter_rate,
                           _best_rate_once(lambda s: adapter_puts(tables, s, n), (r + 1) * n))
    raw.close()
    tables.close()
    return raw_rate, adapter_rate


def _best_rate_once(run: Callable[[int], int], start: int) -> float:
    t0 = time.perf_counter()
    done = run(start)
    return done / (time.perf_counter() - t0)


def measure_query(folder: Path, samples: int = 2000) -> tuple[list[float], list[float]]:
    raw = _raw_open(folder / "raw-q.sqlite")
    tables = SqliteTables(folder / "adapter-q.sqlite", [BOOKINGS], clock=SystemClock(),
                          synchronous=SYNCHRONOUS)
    bookings = tables.table(BOOKINGS.name)
    for i in range(100):
        item = {**_item(i), "pk": "room-7"}
        bookings.put(item)
        raw.execute("INSERT INTO items(tbl, pk, sk, data, expires) VALUES (?, ?, ?, ?, NULL)",
                    (BOOKINGS.name, "room-7", item["sk"], json.dumps(item)))
    assert len(bookings.query("room-7").items) == len(raw_query(raw, "room-7")) == 100
    raw_lat: list[float] = []
    adapter_lat: list[float] = []
    for _ in range(ROUNDS):
        raw_lat += latencies(lambda: raw_query(raw, "room-7"), samples // ROUNDS)
        adapter_lat += latencies(lambda: bookings.query("room-7"), samples // ROUNDS)
    raw.close()
    tables.close()
    return raw_lat, adapter_lat


def dispatch_figures() -> dict[str, float] | None:
    """HOOK for the dispatcher figure: bench/dispatch.py's `measure() -> dict` (events/s against
    plain puts), run here when that script is present."""
    try:
        import dispatch  # type: ignore[import-not-found]  # bench/dispatch.py, beside this file
    except ImportError:
        return None
    return dispatch.measure()


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        raw_rate, adapter_rate = measure_puts(folder, n)
        raw_lat, adapter_lat = measure_query(folder)
    ms = 1000.0
    rows: list[list[object]] = [
        ["conditional put (writes/s)", raw_rate, adapter_rate, adapter_rate / raw_rate],
        ["query 100 items, p50 (ms)", percentile(raw_lat, 50) * ms,
         percentile(adapter_lat, 50) * ms,
         percentile(raw_lat, 50) / percentile(adapter_lat, 50)],
        ["query 100 items, p99 (ms)", percentile(raw_lat, 99) * ms,
         percentile(adapter_lat, 99) * ms,
         percentile(raw_lat, 99) / percentile(adapter_lat, 99)],
    ]
    print(f"SqliteTables vs raw sqlite3, same statements, WAL, synchronous={SYNCHRONOUS}, "
          f"best of {ROUNDS} x {n} puts; ratio = adapter speed / raw speed (goal >= 0.5)")
    print(table(rows, ["workload", "raw sqlite3", "SqliteTables", "ratio"]))
    events = dispatch_figures()
    if events is not None:
        print()
        print(table([["dispatcher events/s (publish + deliver)", events["puts_per_s"],
                      events["events_per_s"], events["ratio"]]],
                    ["workload", "plain puts/s", "events/s", "ratio"]))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)
