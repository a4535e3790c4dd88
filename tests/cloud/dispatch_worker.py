"""Child process for the multi-process dispatcher tests: one LocalDispatcher on a shared file.

Each handler call appends "<handler> <event id> <pid>" to the record file (one O_APPEND write,
so lines from racing processes never interleave). Modes:
  drain  print "ready", wait for a line on stdin, then deliver until nothing is pending;
  die    deliver, and die (os._exit) inside the first handler call, before it can settle.
Usage: dispatch_worker.py DATABASE RECORD MODE LEASE_SECONDS
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from roost.cloud.clock import SystemClock
from roost.cloud.events import Event
from roost.cloud.local.dispatcher import TABLES, LocalDispatcher
from roost.cloud.local.sqlite_table import SqliteTables

EVENT_TYPE = "crash.txn"
HANDLERS = ("crash.mail", "crash.report")


def main(path: str, record: str, mode: str, lease: float) -> None:
    tables = SqliteTables(path, TABLES, clock=SystemClock())
    dispatcher = LocalDispatcher(tables, clock=SystemClock(), lease=lease)
    fd = os.open(record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def recorder(name: str) -> Callable[[Event], None]:
        def handler(event: Event) -> None:
            os.write(fd, f"{name} {event.id} {os.getpid()}\n".encode())
            if mode == "die":
                os._exit(9)  # the process dies mid-handler: no settle, no cleanup
            # a handler takes a little time, as real ones do: the whole drain lasts ~2 s, so
            # the second process is in the race however late the machine lets it start
            time.sleep(0.003)
        return handler

    for name in HANDLERS:
        dispatcher.subscribe(EVENT_TYPE, name, recorder(name))
    if mode == "drain":
        print("ready", flush=True)
        sys.stdin.readline()
        while dispatcher.pending():
            dispatcher.run_once()
    else:
        dispatcher.run_once()
    os.close(fd)
    tables.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]))
