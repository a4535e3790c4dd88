"""Crash recovery with real processes and SIGKILL: what a writer acknowledged is all there, no
transaction is half there, and every event of it is delivered; a dispatcher that dies
mid-handler leaves the delivery to another after the lease."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from roost.cloud.clock import SystemClock
from roost.cloud.events import Event, publish
from roost.cloud.ids import new_id
from roost.cloud.local.dispatcher import DELIVERIES, TABLES, LocalDispatcher
from roost.cloud.local.sqlite_table import SqliteTables
from roost.cloud.table import Item, Table, TableSpec

HERE = Path(__file__).parent
WRITER = HERE / "crash_writer.py"
WORKER = HERE / "dispatch_worker.py"
DATA = TableSpec(name="crash_data")  # as in crash_writer.py
EVENT_TYPE = "crash.txn"


def everything(table: Table) -> Iterator[Item]:
    cursor: str | None = None
    while True:
        page = table.scan(limit=500, cursor=cursor)
        yield from page.items
        if (cursor := page.cursor) is None:
            return


def run_and_kill(db: Path, acks_before_kill: int) -> list[int]:
    """Start the writer, SIGKILL it after `acks_before_kill` acknowledgements, and return every
    transaction it acknowledged (the pipe may hold a few more than were read before the kill)."""
    child = subprocess.Popen([sys.executable, str(WRITER), str(db)], stdout=subprocess.PIPE,
                             text=True)
    assert child.stdout is not None
    acked: list[int] = []
    try:
        while len(acked) < acks_before_kill:
            line = child.stdout.readline()
            assert line.endswith("\n"), f"the writer stopped early (exit {child.poll()})"
            acked.append(int(line))
    finally:
        os.kill(child.pid, signal.SIGKILL)
        rest = child.stdout.read()
        child.wait(10)
    acked += [int(line) for line in rest.splitlines(keepends=True) if line.endswith("\n")]
    assert child.returncode == -signal.SIGKILL
    return acked


@pytest.mark.parametrize("acks_before_kill", [1, 9, 60, 240])
def test_killed_writer_leaves_whole_transactions_and_their_events(
        tmp_path: Path, acks_before_kill: int) -> None:
    db = tmp_path / "crash.sqlite"
    acked = run_and_kill(db, acks_before_kill)
    assert acked == list(range(len(acked)))

    clock = SystemClock()
    with SqliteTables(db, [DATA, *TABLES], clock=clock) as tables:
        parts: dict[int, set[str]] = {}
        counter: dict[str, Any] | None = None
        for item in everything(tables.table(DATA.name)):
            if item["pk"] == "counter":
                counter = item
            else:
                parts.setdefault(item["txn"], set()).add(item["sk"])
        present = sorted(parts)
        # Acknowledged means there; at most the one in flight at the kill committed unseen.
        assert present == list(range(len(present)))
        assert len(acked) <= len(present) <= len(acked) + 1
        assert all(p == {"a", "b"} for p in parts.values()), "a transaction is half there"
        assert counter is not None and counter["n"] == len(present)
        assert counter["last"] == present[-1]

        d = LocalDispatcher(tables, clock=clock)
        delivered: Counter[int] = Counter()
        d.subscribe(EVENT_TYPE, "crash.record", lambda e: delivered.update([e.data["txn"]]))
        assert d.pending() == len(present)  # one event per transaction, no more, no less
        while d.pending():
            d.run_once()
        assert delivered == Counter(present), "an event was lost or delivered twice"


def test_dispatcher_dying_mid_handler_is_covered_by_another_after_the_lease(
        tmp_path: Path) -> None:
    db, record = tmp_path / "shared.sqlite", tmp_path / "record.txt"
    clock = SystemClock()
    with SqliteTables(db, TABLES, clock=clock) as tables:
        event = Event(type=EVENT_TYPE, data={"txn": 0}, id=new_id(clock.now()), at=clock.now())
        tables.transact([publish(event)])
        died = subprocess.run([sys.executable, str(WORKER), str(db), str(record), "die", "1.0"],
                              timeout=30)
        assert died.returncode == 9
        [first] = record.read_text().splitlines()  # it died inside its first handler call
        dead_handler = first.split()[0]
        left = tables.table(DELIVERIES.name).get({"event": event.id, "handler": dead_handler})
        assert left is not None and left["attempts"] == 1  # claimed, never settled
        lease_end = datetime.strptime(left["due"].split("#")[0], "%Y-%m-%dT%H:%M:%S.%fZ")
        lease_end = lease_end.replace(tzinfo=UTC)

        survivor = LocalDispatcher(tables, clock=clock)
        calls: dict[str, list[datetime]] = {"crash.mail": [], "crash.report": []}
        for name in calls:
            survivor.subscribe(EVENT_TYPE, name, lambda e, n=name: calls[n].append(clock.now()))
        deadline = time.monotonic() + 10
        while survivor.pending() and time.monotonic() < deadline:
            survivor.run_once()
            time.sleep(0.02)
        assert survivor.pending() == 0 and survivor.dead_letters() == []
        assert [len(c) for c in calls.values()] == [1, 1]  # each handler once more, no more
        assert calls[dead_handler][0] >= lease_end, "redelivered while the dead one's lease held"
