"""Dispatcher throughput against plain table puts, measured side by side in one run.

events/s: `n` events, each published in its own transaction, then all delivered by `run_once`
to a no-op handler (fan-out, claim, settle): the whole life of an event.
puts/s: `n` single-item puts on a fresh database of the same kind: the baseline.
The ratio says how many plain writes one delivered event costs, on whatever disk this runs on.

    .venv/bin/python bench/dispatch.py [n]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from roost.cloud.clock import SystemClock
from roost.cloud.events import Event, publish
from roost.cloud.ids import new_id
from roost.cloud.local.dispatcher import TABLES, LocalDispatcher
from roost.cloud.local.sqlite_table import SqliteTables
from roost.cloud.table import TableSpec

PLAIN = TableSpec(name="bench_items")


def _puts(path: Path, n: int) -> float:
    with SqliteTables(path, [PLAIN], clock=SystemClock()) as tables:
        table = tables.table(PLAIN.name)
        start = time.perf_counter()
        for i in range(n):
            table.put({"pk": "item", "sk": f"{i:08d}", "n": i})
        return time.perf_counter() - start


def _events(path: Path, n: int) -> tuple[float, float]:
    """Seconds to publish n events, and to deliver them."""
    clock = SystemClock()
    with SqliteTables(path, TABLES, clock=clock) as tables:
        dispatcher = LocalDispatcher(tables, clock=clock)
        delivered = 0

        def no_op(event: Event) -> None:
            nonlocal delivered
            delivered += 1

        dispatcher.subscribe("bench.happened", "bench.no_op", no_op)
        start = time.perf_counter()
        for i in range(n):
            now = clock.now()
            tables.transact([publish(Event(type="bench.happened", data={"n": i},
                                           id=new_id(now), at=now))])
        published = time.perf_counter()
        while delivered < n:
            dispatcher.run_once()
        done = time.perf_counter()
        assert dispatcher.pending() == 0
        return published - start, done - published


def measure(n: int = 2000) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _puts(folder / "warm.sqlite", 100)  # first-use costs (imports, page cache) paid once
        put_s = _puts(folder / "puts.sqlite", n)
        publish_s, deliver_s = _events(folder / "events.sqlite", n)
    events_per_s = n / (publish_s + deliver_s)
    puts_per_s = n / put_s
    return {
        "n": float(n),
        "puts_per_s": puts_per_s,
        "events_per_s": events_per_s,
        "publish_per_s": n / publish_s,
        "deliver_per_s": n / deliver_s,
        "ratio": events_per_s / puts_per_s,
    }


if __name__ == "__main__":
    result = measure(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
    n = int(result["n"])
    print(f"dispatch, {n} events, no-op handler, one SQLite file (baseline: {n} plain puts)")
    print(f"  plain puts      {result['puts_per_s']:10.0f} /s")
    print(f"  events          {result['events_per_s']:10.0f} /s  (publish + deliver)")
    print(f"    publish       {result['publish_per_s']:10.0f} /s")
    print(f"    deliver       {result['deliver_per_s']:10.0f} /s")
    print(f"  ratio events/puts {result['ratio']:8.2f}")
