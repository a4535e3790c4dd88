"""What only the SQLite adapter has: its file (WAL, durability setting, persistence), its failure
modes as `Unavailable`, its storage (purge removes index rows too, re-declared tables), and its
connections (one per thread, closed when the thread ends)."""

from __future__ import annotations

import gc
import os
import sqlite3
import threading
import time
from decimal import Decimal

import pytest

from roost.cloud.errors import Invalid, Unavailable
from roost.cloud.local.sqlite_table import SqliteTables
from roost.cloud.table import IndexSpec, TableSpec, attr

THINGS = TableSpec("test_things", ttl="expires_at",
                   indexes=(IndexSpec("by_owner", pk="owner"),))
NUMS = TableSpec("test_nums", pk="p", sk="n", sk_type="N")


@pytest.fixture
def path(tmp_path):
    return tmp_path / "roost.sqlite"


@pytest.fixture
def tables(path, clock):
    t = SqliteTables(path, [THINGS, NUMS], clock=clock)
    yield t
    t.close()


def _raw(path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def _count(path, sql: str, *params) -> int:
    db = _raw(path)
    try:
        return db.execute(sql, params).fetchone()[0]
    finally:
        db.close()


# --------------------------------------------------------------------------- the file


def test_the_file_is_in_wal_mode(tables, path):
    assert _raw(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(("mode", "level"), [("NORMAL", 1), ("FULL", 2), ("full", 2)])
def test_the_synchronous_setting_reaches_every_connection(path, clock, mode, level):
    t = SqliteTables(path, [THINGS], clock=clock, synchronous=mode)
    seen = [t._conn().execute("PRAGMA synchronous").fetchone()[0]]
    other = threading.Thread(target=lambda: seen.append(
        t._conn().execute("PRAGMA synchronous").fetchone()[0]))
    other.start()
    other.join()
    assert seen == [level, level]
    t.close()


@pytest.mark.parametrize("bad", ["SOMETIMES", ""])
def test_an_unknown_synchronous_setting_is_refused(path, clock, bad):
    with pytest.raises(ValueError):
        SqliteTables(path, [THINGS], clock=clock, synchronous=bad)


def test_an_in_memory_database_is_refused(clock):
    with pytest.raises(ValueError):
        SqliteTables(":memory:", [THINGS], clock=clock)


def test_items_survive_closing_and_reopening(path, clock):
    t = SqliteTables(path, [THINGS], clock=clock)
    t.table(THINGS.name).put({"pk": "a", "sk": "1", "owner": "ann"})
    t.close()
    again = SqliteTables(path, [THINGS], clock=clock)
    assert again.table(THINGS.name).get({"pk": "a", "sk": "1"}) == \
        {"pk": "a", "sk": "1", "owner": "ann"}
    assert len(again.table(THINGS.name).query("ann", index="by_owner").items) == 1
    again.close()


def test_a_missing_folder_is_created(tmp_path, clock):
    t = SqliteTables(tmp_path / "data" / "deep" / "roost.sqlite", [THINGS], clock=clock)
    t.table(THINGS.name).put({"pk": "a", "sk": "1"})
    t.close()
    assert (tmp_path / "data" / "deep" / "roost.sqlite").exists()


# --------------------------------------------------------------------------- failures


def test_a_read_only_database_is_unavailable(tables):
    things = tables.table(THINGS.name)
    things.put({"pk": "a", "sk": "1"})
    tables._conn().execute("PRAGMA query_only = ON")  # this thread's connection turns read-only
    with pytest.raises(Unavailable) as err:
        things.put({"pk": "b", "sk": "1"})
    assert err.value.code == "read_only"
    assert err.value.status == 503
    assert "read-only" in err.value.message
    with pytest.raises(Unavailable):
        things.update({"pk": "a", "sk": "1"}, add={"n": 1})
    assert things.get({"pk": "a", "sk": "1"}) == {"pk": "a", "sk": "1"}  # reads still work
    tables._conn().execute("PRAGMA query_only = OFF")
    things.put({"pk": "b", "sk": "1"})


def test_a_full_disk_is_unavailable_and_writes_nothing(tables, path):
    things = tables.table(THINGS.name)
    things.put({"pk": "a", "sk": "1", "v": "small"})
    pages = tables._conn().execute("PRAGMA page_count").fetchone()[0]
    tables._conn().execute(f"PRAGMA max_page_count = {pages + 2}")  # the "disk" is now full
    with pytest.raises(Unavailable) as err:
        for i in range(20):
            things.put({"pk": "a", "sk": f"big{i}", "blob": "x" * 300_000, "owner": "ann"})
    assert err.value.code == "disk_full"
    assert "full" in err.value.message
    with pytest.raises(Unavailable):
        things.update({"pk": "a", "sk": "1"}, set={"blob": "y" * 300_000})
    assert things.get({"pk": "a", "sk": "1"}) == {"pk": "a", "sk": "1", "v": "small"}
    tables._conn().execute("PRAGMA max_page_count = 1073741823")  # space freed
    things.update({"pk": "a", "sk": "1"}, set={"blob": "y" * 300_000})
    assert len(things.get({"pk": "a", "sk": "1"})["blob"]) == 300_000


def test_a_writer_holding_the_lock_too_long_is_unavailable(path, clock):
    t = SqliteTables(path, [THINGS], clock=clock, busy_timeout=0.2)
    hog = _raw(path)
    hog.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(Unavailable) as err:
            t.table(THINGS.name).put({"pk": "a", "sk": "1"})
        assert err.value.code == "busy"
        assert t.table(THINGS.name).get({"pk": "a", "sk": "1"}) is None  # readers go on
    finally:
        hog.execute("ROLLBACK")
        hog.close()
    t.table(THINGS.name).put({"pk": "a", "sk": "1"})
    t.close()


def test_a_file_that_is_not_a_database_is_unavailable(path, clock):
    path.write_bytes(b"this is not a database, it is a shopping list " * 100)
    with pytest.raises(Unavailable) as err:
        SqliteTables(path, [THINGS], clock=clock)
    assert err.value.code == "corrupt"


def test_closed_tables_are_unavailable(tables):
    things = tables.table(THINGS.name)
    tables.close()
    with pytest.raises(Unavailable) as err:
        things.get({"pk": "a", "sk": "1"})
    assert err.value.code == "closed"
    tables.close()  # twice is fine


def test_strings_sqlite_cannot_store_are_invalid(tables):
    with pytest.raises(Invalid):
        tables.table(THINGS.name).put({"pk": "a", "sk": "1", "v": "\ud800"})


# --------------------------------------------------------------------------- keys


def test_decimal_numbers_in_keys_and_values(tables):
    nums = tables.table(NUMS.name)
    nums.put({"p": "x", "n": Decimal("2"), "v": Decimal("0.1")})
    nums.put({"p": "x", "n": Decimal("1.5")})
    assert nums.get({"p": "x", "n": 2}) == {"p": "x", "n": Decimal("2"), "v": Decimal("0.1")}
    assert [i["n"] for i in nums.query("x").items] == [Decimal("1.5"), Decimal("2")]


@pytest.mark.parametrize("n", [2**63, -(2**63) - 1, Decimal("NaN"), Decimal("Infinity")])
def test_numbers_sqlite_cannot_key_exactly_are_invalid(tables, n):
    with pytest.raises(Invalid) as err:
        tables.table(NUMS.name).put({"p": "x", "n": n})
    assert err.value.code == "invalid_key"


def test_the_64_bit_edges_are_fine(tables):
    nums = tables.table(NUMS.name)
    for n in (2**63 - 1, -(2**63)):
        nums.put({"p": "x", "n": n})
    assert [i["n"] for i in nums.query("x").items] == [-(2**63), 2**63 - 1]


# --------------------------------------------------------------------------- storage


def test_purge_expired_deletes_the_rows_and_their_index_rows(tables, path, clock):
    things = tables.table(THINGS.name)
    now = clock.now().timestamp()
    for i in range(1200):  # more than one purge batch
        things.put({"pk": "a", "sk": f"{i:04}", "owner": "ann", "expires_at": now + 5})
    things.put({"pk": "a", "sk": "keep", "owner": "ann"})
    assert _count(path, "SELECT count(*) FROM idx WHERE tbl = ?", THINGS.name) == 1201
    clock.advance(seconds=5)
    assert tables.purge_expired() == 1200
    assert _count(path, "SELECT count(*) FROM items WHERE tbl = ?", THINGS.name) == 1
    assert _count(path, "SELECT count(*) FROM idx WHERE tbl = ?", THINGS.name) == 1


def test_registering_is_idempotent(tables):
    tables.table(THINGS.name).put({"pk": "a", "sk": "1"})
    tables.register(THINGS)
    tables.register(THINGS)
    assert tables.table(THINGS.name).get({"pk": "a", "sk": "1"}) is not None


def test_a_table_registered_later(tables):
    later = TableSpec("test_later", sk=None)
    tables.register(later)
    tables.table("test_later").put({"pk": "x"})
    assert tables.table("test_later").get({"pk": "x"}) == {"pk": "x"}


def test_a_new_index_is_built_from_the_stored_items(path, clock):
    t = SqliteTables(path, [THINGS], clock=clock)
    for i in range(5):
        t.table(THINGS.name).put({"pk": f"p{i}", "sk": "1", "owner": "ann", "kind": f"k{i % 2}"})
    t.table(THINGS.name).put({"pk": "odd", "sk": "1", "kind": 5})  # not a string: not indexed
    t.close()
    grown = TableSpec(THINGS.name, ttl=THINGS.ttl,
                      indexes=(*THINGS.indexes, IndexSpec("by_kind", pk="kind", sk="pk")))
    again = SqliteTables(path, [grown], clock=clock)
    things = again.table(THINGS.name)
    assert [i["pk"] for i in things.query("k0", index="by_kind").items] == ["p0", "p2", "p4"]
    assert len(things.query("ann", index="by_owner").items) == 5
    assert things.get({"pk": "odd", "sk": "1"}) == {"pk": "odd", "sk": "1", "kind": 5}
    again.close()


def test_a_changed_ttl_attribute_applies_to_stored_items(path, clock):
    t = SqliteTables(path, [THINGS], clock=clock)
    past = clock.now().timestamp() - 1
    t.table(THINGS.name).put({"pk": "a", "sk": "1", "gone_at": past})
    t.close()
    moved = TableSpec(THINGS.name, ttl="gone_at", indexes=THINGS.indexes)
    again = SqliteTables(path, [moved], clock=clock)
    assert again.table(THINGS.name).get({"pk": "a", "sk": "1"}) is None
    again.close()


def test_a_changed_key_is_refused_while_items_exist(path, clock):
    t = SqliteTables(path, [THINGS], clock=clock)
    t.register(TableSpec("test_empty", sk=None))
    t.table(THINGS.name).put({"pk": "a", "sk": "1"})
    t.close()
    with pytest.raises(Invalid) as err:
        SqliteTables(path, [TableSpec(THINGS.name, sk="other")], clock=clock)
    assert err.value.code == "table_layout_changed"
    t = SqliteTables(path, [TableSpec("test_empty", pk="id", sk=None)], clock=clock)
    t.table("test_empty").put({"id": "fine: it was empty"})
    t.close()


def test_a_condition_is_checked_inside_the_write_lock(tables, path):
    """A raw writer holding the lock delays the adapter's read, not only its write: the read
    that decides the condition happens after the other writer commits."""
    things = tables.table(THINGS.name)
    things.put({"pk": "a", "sk": "1", "n": 0})
    other = _raw(path)
    other.execute("BEGIN IMMEDIATE")
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(
        things.update({"pk": "a", "sk": "1"}, add={"n": 1}, condition=attr("n").eq(1))))
    worker.start()
    time.sleep(0.2)  # let the worker reach its write; a read outside the lock would see n=0
    other.execute("UPDATE items SET data = ? WHERE tbl = ? AND pk = 'a'",
                  ('{"pk":"a","sk":"1","n":1}', THINGS.name))
    other.execute("COMMIT")
    other.close()
    worker.join(10)
    assert result == [{"pk": "a", "sk": "1", "n": 2}]


# --------------------------------------------------------------------------- connections


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_each_thread_has_its_own_connection_closed_when_it_ends(tables):
    things = tables.table(THINGS.name)
    things.get({"pk": "a", "sk": "1"})
    before = _open_fds()
    for _ in range(40):
        t = threading.Thread(target=lambda: things.put({"pk": "a", "sk": "1"}))
        t.start()
        t.join()
    gc.collect()
    assert _open_fds() - before < 10
    assert len(tables._handles) <= 2
