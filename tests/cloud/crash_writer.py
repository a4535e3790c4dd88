"""Child process of test_crash_recovery: a stream of transactions until it is killed.

Each transaction writes two data items, bumps a counter and publishes an event, all in one
`transact`; only after it commits is its number printed (flushed): the acknowledgement.
Usage: crash_writer.py DATABASE [COUNT]
"""

from __future__ import annotations

import sys

from roost.cloud.clock import SystemClock
from roost.cloud.events import OUTBOX, Event, publish
from roost.cloud.ids import new_id
from roost.cloud.local.sqlite_table import SqliteTables
from roost.cloud.table import Put, TableSpec, Update, attr

DATA = TableSpec(name="crash_data")
COUNTER = {"pk": "counter", "sk": "total"}
EVENT_TYPE = "crash.txn"


def transaction(n: int, clock: SystemClock) -> list[Put | Update]:
    now = clock.now()
    item = {"pk": f"txn#{n:06d}", "txn": n, "payload": "x" * 500}
    fresh = attr("pk").not_exists()
    return [
        Put(DATA.name, {**item, "sk": "a"}, condition=fresh),
        Put(DATA.name, {**item, "sk": "b"}, condition=fresh),
        Update(DATA.name, COUNTER, add={"n": 1}, set={"last": n}),
        publish(Event(type=EVENT_TYPE, data={"txn": n}, id=new_id(now), at=now)),
    ]


def main(path: str, count: int) -> None:
    clock = SystemClock()
    tables = SqliteTables(path, [DATA, OUTBOX], clock=clock)
    for n in range(count):
        tables.transact(transaction(n, clock))
        print(n, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 100_000)
