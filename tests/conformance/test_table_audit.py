"""Audited tables: every write that changes an item leaves one record in the audit trail, in the
same transaction, with before, after, actor and time; a write that fails leaves none."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from roost.cloud.audit import AUDIT, current_actor, record_id
from roost.cloud.errors import ConditionFailed, TransactionCanceled
from roost.cloud.table import Delete, Put, TableSpec, Update, attr

BOOKINGS = TableSpec("desks_bookings", audit=True)
NOTES = TableSpec("desks_notes", sk=None)

K = {"pk": "alpha", "sk": "2026-01-05#d1"}


@pytest.fixture
def tables(make_tables):
    return make_tables([BOOKINGS, NOTES])


@pytest.fixture
def bookings(tables):
    return tables.table(BOOKINGS.name)


@contextmanager
def acting_as(actor: str) -> Iterator[None]:
    token = current_actor.set(actor)
    try:
        yield
    finally:
        current_actor.reset(token)


def _trail(tables, key=K, table=BOOKINGS.name):
    return tables.table(AUDIT.name).query(record_id(table, key), index="by_record").items


def test_put_update_delete_are_each_recorded(tables, bookings, clock):
    with acting_as("user-ann"):
        bookings.put({**K, "who": "ann"})
    clock.advance(minutes=5)
    with acting_as("user-bob"):
        bookings.update(K, set={"who": "bob"})
    clock.advance(minutes=5)
    bookings.delete(K)
    trail = _trail(tables)
    assert [r["op"] for r in trail] == ["put", "update", "delete"]
    assert [r["actor"] for r in trail] == ["user-ann", "user-bob", "system"]
    assert trail[0]["before"] is None
    assert trail[0]["after"] == {**K, "who": "ann"}
    assert trail[1]["before"] == {**K, "who": "ann"}
    assert trail[1]["after"] == {**K, "who": "bob"}
    assert trail[2]["before"] == {**K, "who": "bob"}
    assert trail[2]["after"] is None
    assert all(r["table"] == BOOKINGS.name and r["key"] == K for r in trail)
    assert all(r["pk"] == "desks" for r in trail)
    ats = [r["at"] for r in trail]
    assert ats[0].startswith("2026-01-05T09:00") and ats[1].startswith("2026-01-05T09:05")
    assert ats == sorted(ats)
    app_trail = tables.table(AUDIT.name).query("desks").items
    assert [r["op"] for r in app_trail] == ["put", "update", "delete"]


def test_unaudited_tables_leave_no_trail(tables):
    tables.table(NOTES.name).put({"pk": "n", "v": 1})
    assert tables.table(AUDIT.name).scan().items == []


def test_failed_and_empty_writes_leave_no_trail(tables, bookings):
    with pytest.raises(ConditionFailed):
        bookings.put({**K, "who": "ann"}, condition=attr("pk").exists())
    with pytest.raises(ConditionFailed):
        bookings.update(K, set={"who": "ann"}, condition=attr("pk").exists())
    assert bookings.delete(K) is None  # nothing there: nothing changed
    assert _trail(tables) == []
    bookings.put({**K, "who": "ann"})
    bookings.put({**K, "who": "ann"})  # the same item again: nothing changed
    assert len(_trail(tables)) == 1


def test_transactions_are_audited_op_by_op_and_only_if_committed(tables, bookings):
    k2 = {"pk": "alpha", "sk": "2026-01-06#d1"}
    bookings.put({**K, "who": "ann"})
    with acting_as("admin"), pytest.raises(TransactionCanceled):
        tables.transact([Delete(BOOKINGS.name, K),
                         Put(BOOKINGS.name, {**k2, "who": "ann"}),
                         Update(NOTES.name, {"pk": "n"}, add={"n": 1},
                                condition=attr("pk").exists())])
    assert len(_trail(tables)) == 1 and _trail(tables, k2) == []
    with acting_as("admin"):
        tables.transact([Delete(BOOKINGS.name, K),
                         Put(BOOKINGS.name, {**k2, "who": "ann"}),
                         Update(NOTES.name, {"pk": "n"}, add={"n": 1})])
    assert [(r["op"], r["actor"]) for r in _trail(tables)] == [("put", "system"),
                                                               ("delete", "admin")]
    assert [(r["op"], r["after"]) for r in _trail(tables, k2)] == \
        [("put", {**k2, "who": "ann"})]
    assert _trail(tables, {"pk": "n"}, NOTES.name) == []


def test_values_of_every_type_survive_the_trail(tables, bookings):
    item = {**K, "b": b"\x00", "s": {"x", "y"}, "n": {1, 2}, "m": {"l": [1.5, None]}}
    bookings.put(item)
    assert _trail(tables)[0]["after"] == item


def test_huge_before_and_after_are_truncated_not_refused(tables, bookings):
    bookings.put({**K, "notes": "a" * 300_000})
    bookings.update(K, set={"notes": "b" * 300_000, "small": 1})  # before+after > 400 KB
    assert bookings.get(K)["notes"] == "b" * 300_000
    trail = _trail(tables)
    assert [r["op"] for r in trail] == ["put", "update"]
    last = trail[-1]
    assert last["truncated"] is True
    assert last["before"] == K and last["after"] == K
    assert last["changed"] == ["notes", "small"]
    assert "truncated" not in trail[0]
