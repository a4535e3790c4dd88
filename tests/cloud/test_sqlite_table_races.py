"""Processes racing on one SQLite file (each with threads of its own), and a process that dies
in the middle of a transaction. Real subprocesses, real file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from roost.cloud.audit import AUDIT
from roost.cloud.local.sqlite_table import SqliteTables
from roost.cloud.table import TableSpec

COUNTERS = TableSpec("race_counters", sk=None)
LOG = TableSpec("race_log", sk=None, audit=True)

PROCESSES = 4

WORKER = r"""
import json, sys, threading
from roost.cloud.clock import SystemClock
from roost.cloud.errors import ConditionFailed, TransactionCanceled
from roost.cloud.local.sqlite_table import SqliteTables
from roost.cloud.table import Put, TableSpec, Update, attr

path, mode, name, cap, tries, threads = sys.argv[1:7]
cap, tries, threads = int(cap), int(tries), int(threads)
COUNTERS = TableSpec("race_counters", sk=None)
LOG = TableSpec("race_log", sk=None, audit=True)
tables = SqliteTables(path, [COUNTERS, LOG], clock=SystemClock())
counters = tables.table(COUNTERS.name)
below_cap = attr("n").not_exists() | attr("n").lt(cap)

def attempt(t, j):
    if mode == "counter":
        try:
            counters.update({"pk": "seats"}, add={"n": 1}, condition=below_cap)
            return 1
        except ConditionFailed:
            return 0
    try:
        tables.transact([
            Update(COUNTERS.name, {"pk": "seats"}, add={"n": 1}, condition=below_cap),
            Put(LOG.name, {"pk": f"{name}-{t}-{j}"}, condition=attr("pk").not_exists()),
            Update(COUNTERS.name, {"pk": "total"}, add={"amount": 10}),
        ])
        return 1
    except TransactionCanceled:
        return 0

won = [0] * threads
def run(t):
    for j in range(tries):
        won[t] += attempt(t, j)

print("ready", flush=True)
sys.stdin.readline()
pool = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
for th in pool:
    th.start()
for th in pool:
    th.join()
tables.close()
print(json.dumps({"won": sum(won)}), flush=True)
"""


def _race(path: Path, mode: str, cap: int, tries: int, threads: int) -> int:
    """Start the workers, let them all get ready, release them together; total wins."""
    procs = [subprocess.Popen(
        [sys.executable, "-c", WORKER, str(path), mode, f"p{i}", str(cap), str(tries),
         str(threads)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for i in range(PROCESSES)]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        total = 0
        for p in procs:
            out, _ = p.communicate(timeout=120)
            assert p.returncode == 0
            total += json.loads(out.strip().splitlines()[-1])["won"]
        return total
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


@pytest.fixture
def tables(tmp_path, clock):
    t = SqliteTables(tmp_path / "race.sqlite", [COUNTERS, LOG], clock=clock)
    yield t
    t.close()


def test_processes_and_threads_fill_a_capped_counter_exactly(tables):
    cap = 45
    won = _race(tables.path, "counter", cap, tries=6, threads=4)  # 96 attempts
    assert won == cap
    assert tables.table(COUNTERS.name).get({"pk": "seats"})["n"] == cap


def test_transactions_across_processes_are_all_or_nothing(tables):
    cap = 30
    won = _race(tables.path, "transact", cap, tries=4, threads=4)  # 64 attempts
    assert won == cap
    counters = tables.table(COUNTERS.name)
    assert counters.get({"pk": "seats"})["n"] == cap
    assert counters.get({"pk": "total"})["amount"] == 10 * cap
    assert len(tables.table(LOG.name).scan().items) == cap
    assert len(tables.table(AUDIT.name).query("race").items) == cap


CRASH = r"""
import os, sys
import roost.cloud.audit as audit
import roost.cloud.local.sqlite_table as adapter
from roost.cloud.clock import SystemClock
from roost.cloud.table import Put, TableSpec, Update

calls = []
def dying_new_id(at=None):
    calls.append(at)
    if len(calls) == 2:  # the second audit record: the first write is already in the database
        os._exit(3)
    return "01J0000000000000000000000" + str(len(calls))
audit.new_id = dying_new_id  # audit records take their ids from here

tables = adapter.SqliteTables(sys.argv[1], [TableSpec("race_log", sk=None, audit=True),
                              TableSpec("race_counters", sk=None)], clock=SystemClock())
tables.transact([Put("race_log", {"pk": "first"}), Put("race_log", {"pk": "second"}),
                 Update("race_counters", {"pk": "total"}, add={"amount": 10})])
"""


def test_a_process_dying_mid_transaction_leaves_nothing_behind(tables):
    done = subprocess.run([sys.executable, "-c", CRASH, str(tables.path)], timeout=60,
                          capture_output=True, text=True)
    assert done.returncode == 3, done.stderr
    log = tables.table(LOG.name)
    assert log.get({"pk": "first"}) is None
    assert log.get({"pk": "second"}) is None
    assert tables.table(AUDIT.name).scan().items == []
    log.put({"pk": "after"})  # the dead writer's lock is gone
    assert [i["pk"] for i in log.scan().items] == ["after"]
