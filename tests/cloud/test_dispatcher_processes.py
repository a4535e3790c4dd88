"""Two dispatcher processes on one SQLite file deliver each event to each handler exactly once."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from roost.cloud.clock import SystemClock
from roost.cloud.events import Event, publish
from roost.cloud.ids import new_id
from roost.cloud.local.dispatcher import TABLES, LocalDispatcher
from roost.cloud.local.sqlite_table import SqliteTables

WORKER = Path(__file__).parent / "dispatch_worker.py"
EVENT_TYPE = "crash.txn"  # as in dispatch_worker.py
HANDLERS = ("crash.mail", "crash.report")


def test_two_processes_deliver_each_event_to_each_handler_once(tmp_path: Path) -> None:
    db, record = tmp_path / "shared.sqlite", tmp_path / "record.txt"
    clock = SystemClock()
    with SqliteTables(db, TABLES, clock=clock) as tables:
        ids = []
        for chunk in range(0, 300, 50):  # published in transactions of 50 events
            events = [Event(type=EVENT_TYPE, data={"i": i}, id=new_id(clock.now()),
                            at=clock.now()) for i in range(chunk, chunk + 50)]
            tables.transact([publish(e) for e in events])
            ids += [e.id for e in events]

        workers = [subprocess.Popen([sys.executable, str(WORKER), str(db), str(record), "drain",
                                     "60"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    text=True) for _ in range(2)]
        for w in workers:  # both have opened the database before either starts: a real race
            assert w.stdout is not None and w.stdout.readline() == "ready\n"
        for w in workers:
            assert w.stdin is not None
            w.stdin.write("go\n")
            w.stdin.close()
        assert [w.wait(60) for w in workers] == [0, 0]

        for w in workers:
            assert w.stdout is not None
            w.stdout.close()

        lines = [line.split() for line in record.read_text().splitlines()]
        got = Counter((handler, event_id) for handler, event_id, _ in lines)
        assert len({pid for _, _, pid in lines}) == 2, "one process did all the work: no race"
        assert set(got) == {(h, i) for h in HANDLERS for i in ids}
        assert set(got.values()) == {1}, "a delivery ran twice"
        assert LocalDispatcher(tables, clock=clock).pending() == 0
