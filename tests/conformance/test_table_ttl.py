"""TTL: an item whose TTL attribute (epoch seconds) is at or before the clock's now is gone for
every read and every condition, and `purge_expired` removes it."""

from __future__ import annotations

import pytest

from roost.cloud.table import IndexSpec, Put, TableSpec, Update, attr

CODES = TableSpec("test_codes", sk=None, ttl="expires_at",
                  indexes=(IndexSpec("by_email", pk="email"),))
PLAIN = TableSpec("test_plain", sk=None)


@pytest.fixture
def tables(make_tables):
    return make_tables([CODES, PLAIN])


@pytest.fixture
def codes(tables):
    return tables.table(CODES.name)


def _now(clock) -> float:
    return clock.now().timestamp()


def test_an_item_is_visible_until_its_ttl(codes, clock):
    codes.put({"pk": "c1", "email": "a@x", "expires_at": int(_now(clock)) + 60})
    clock.advance(seconds=59)
    assert codes.get({"pk": "c1"}) is not None
    assert len(codes.query("a@x", index="by_email").items) == 1
    clock.advance(seconds=1)  # exactly at the TTL: gone
    assert codes.get({"pk": "c1"}) is None
    assert codes.query("c1").items == []
    assert codes.query("a@x", index="by_email").items == []
    assert codes.scan().items == []


def test_fractional_ttls(codes, clock):
    codes.put({"pk": "c1", "expires_at": _now(clock) + 0.5})
    assert codes.get({"pk": "c1"}) is not None
    clock.advance(seconds=0.5)
    assert codes.get({"pk": "c1"}) is None


def test_an_expired_item_is_absent_for_conditions(codes, clock):
    codes.put({"pk": "c1", "tries": 3, "expires_at": _now(clock) + 10})
    clock.advance(seconds=11)
    codes.put({"pk": "c1", "tries": 0}, condition=attr("pk").not_exists())
    assert codes.get({"pk": "c1"}) == {"pk": "c1", "tries": 0}


def test_an_update_of_an_expired_item_starts_afresh(codes, clock):
    codes.put({"pk": "c1", "tries": 3, "email": "a@x", "expires_at": _now(clock) + 10})
    clock.advance(seconds=11)
    assert codes.update({"pk": "c1"}, add={"tries": 1}) == {"pk": "c1", "tries": 1}
    assert codes.query("a@x", index="by_email").items == []


def test_a_delete_of_an_expired_item_returns_nothing(codes, clock):
    codes.put({"pk": "c1", "expires_at": _now(clock) + 10})
    clock.advance(seconds=11)
    assert codes.delete({"pk": "c1"}) is None
    assert codes.get({"pk": "c1"}) is None


def test_a_transaction_sees_expired_items_as_absent(tables, codes, clock):
    codes.put({"pk": "c1", "n": 5, "expires_at": _now(clock) + 10})
    clock.advance(seconds=11)
    tables.transact([Put(CODES.name, {"pk": "c1", "n": 1}, condition=attr("pk").not_exists()),
                     Update(PLAIN.name, {"pk": "log"}, add={"n": 1})])
    assert codes.get({"pk": "c1"}) == {"pk": "c1", "n": 1}


def test_extending_the_ttl_keeps_the_item(codes, clock):
    codes.put({"pk": "c1", "expires_at": _now(clock) + 10})
    codes.update({"pk": "c1"}, add={"expires_at": 100})
    clock.advance(seconds=50)
    assert codes.get({"pk": "c1"}) is not None
    codes.update({"pk": "c1"}, remove=["expires_at"])
    clock.advance(days=3650)
    assert codes.get({"pk": "c1"}) == {"pk": "c1"}


@pytest.mark.parametrize("value", ["2020-01-01", True, None, [1], {"at": 1}])
def test_a_ttl_that_is_not_a_number_never_expires(codes, clock, value):
    codes.put({"pk": "c1", "expires_at": value})
    clock.advance(days=3650)
    assert codes.get({"pk": "c1"}) == {"pk": "c1", "expires_at": value}


def test_tables_without_ttl_ignore_the_attribute(tables, clock):
    plain = tables.table(PLAIN.name)
    plain.put({"pk": "p", "expires_at": 1})
    assert plain.get({"pk": "p"}) is not None


def test_purge_expired_removes_what_has_expired(tables, codes, clock):
    now = _now(clock)
    for i in range(5):
        codes.put({"pk": f"old{i}", "email": "a@x", "expires_at": now + 10})
    codes.put({"pk": "young", "email": "a@x", "expires_at": now + 1000})
    codes.put({"pk": "forever", "email": "a@x"})
    tables.table(PLAIN.name).put({"pk": "p", "expires_at": 1})
    assert tables.purge_expired() == 0
    clock.advance(seconds=10)
    assert tables.purge_expired() == 5
    assert tables.purge_expired() == 0
    assert sorted(i["pk"] for i in codes.query("a@x", index="by_email").items) == \
        ["forever", "young"]
    clock.advance(seconds=10_000)
    assert tables.purge_expired() == 1
    assert [i["pk"] for i in codes.scan().items] == ["forever"]
    assert tables.table(PLAIN.name).get({"pk": "p"}) is not None
