"""The Table port's behaviour for single items: values, conditions, updates, deletes, and the
validation that refuses bad input with nothing written. Written against the port only, so every
Table adapter runs it."""

from __future__ import annotations

import pytest

from roost.cloud.errors import ConditionFailed, Invalid, NotFound
from roost.cloud.table import IndexSpec, Table, TableSpec, attr

THINGS = TableSpec("test_things", indexes=(IndexSpec("by_owner", pk="owner", sk="at"),))
FLAT = TableSpec("test_flat", sk=None)


@pytest.fixture
def tables(make_tables):
    return make_tables([THINGS, FLAT])


@pytest.fixture
def things(tables) -> Table:
    return tables.table(THINGS.name)


@pytest.fixture
def flat(tables) -> Table:
    return tables.table(FLAT.name)


K = {"pk": "p1", "sk": "s1"}

# --------------------------------------------------------------------------- values


def test_every_value_type_round_trips(things):
    item = {
        **K, "s": "héllo ✓ \U0001f600", "i": 42, "neg": -7, "big": 2**62, "f": 3.25,
        "t": True, "no": False, "nothing": None, "b": b"\x00\xff bytes", "empty_s": "",
        "l": [1, "two", [3.5, None], {"x": b"y"}], "m": {"a": {"b": [True]}, "": 1},
        "ss": {"a", "b"}, "ns": {1, 2.5},
    }
    things.put(item)
    assert things.get(K) == item


def test_get_of_a_missing_item_is_none(things):
    assert things.get(K) is None
    assert things.get({"pk": "p1", "sk": "other"}) is None


def test_put_replaces_the_whole_item(things):
    things.put({**K, "a": 1, "b": 2})
    things.put({**K, "a": 3})
    assert things.get(K) == {**K, "a": 3}


def test_items_read_are_copies(things):
    things.put({**K, "l": [1]})
    got = things.get(K)
    got["l"].append(2)
    got["new"] = 1
    assert things.get(K) == {**K, "l": [1]}


def test_table_without_sort_key(flat):
    flat.put({"pk": "a", "v": 1})
    assert flat.get({"pk": "a"}) == {"pk": "a", "v": 1}
    with pytest.raises(Invalid):
        flat.get({"pk": "a", "sk": "x"})


def test_unknown_table_is_not_found(tables):
    with pytest.raises(NotFound) as err:
        tables.table("test_nope")
    assert err.value.code == "unknown_table"


# --------------------------------------------------------------------------- conditions

STATE = {**K, "n": 5, "f": 2.5, "s": "abc", "b": b"\x01\x02", "flag": True, "nil": None}

CONDITIONS = [
    (attr("n").exists(), True), (attr("zz").exists(), False),
    (attr("zz").not_exists(), True), (attr("n").not_exists(), False),
    (attr("nil").exists(), True),
    (attr("n").eq(5), True), (attr("n").eq(5.0), True), (attr("n").eq(6), False),
    (attr("n").eq("5"), False), (attr("flag").eq(True), True), (attr("flag").eq(1), False),
    (attr("n").ne(5), False), (attr("n").ne(6), True), (attr("zz").ne(1), True),
    (attr("n").lt(6), True), (attr("n").lt(5), False), (attr("n").le(5), True),
    (attr("n").gt(4), True), (attr("n").gt(5), False), (attr("n").ge(5), True),
    (attr("f").lt(2.6), True), (attr("s").lt("abd"), True), (attr("s").gt("ab"), True),
    (attr("n").lt("9"), False), (attr("zz").lt(1), False), (attr("zz").ge(1), False),
    (attr("b").gt(b"\x01"), True),
    (attr("n").between(5, 7), True), (attr("n").between(1, 5), True),
    (attr("n").between(6, 9), False), (attr("s").between("a", "b"), True),
    (attr("s").begins_with("ab"), True), (attr("s").begins_with("b"), False),
    (attr("b").begins_with(b"\x01"), True), (attr("n").begins_with("5"), False),
    (attr("n").is_in([1, 5]), True), (attr("n").is_in([1, 2]), False),
    (attr("s").is_in(["abc"]), True), (attr("zz").is_in([None]), False),
    (attr("n").eq(5) & attr("s").eq("abc"), True), (attr("n").eq(5) & attr("s").eq("x"), False),
    (attr("n").eq(1) | attr("s").eq("abc"), True), (attr("n").eq(1) | attr("s").eq("x"), False),
    (~attr("n").eq(5), False), (~attr("zz").exists(), True),
    (~(attr("n").gt(1) & attr("n").lt(3)), True),
]


@pytest.mark.parametrize(("cond", "holds"), CONDITIONS)
def test_conditions_on_an_existing_item(things, cond, holds):
    things.put(STATE)
    if holds:
        after = things.update(K, set={"touched": 1}, condition=cond)
        assert after["touched"] == 1
        assert things.get(K) == {**STATE, "touched": 1}
    else:
        with pytest.raises(ConditionFailed) as err:
            things.update(K, set={"touched": 1}, condition=cond)
        assert err.value.code == "condition_failed"
        assert err.value.status == 409
        assert things.get(K) == STATE


def test_conditions_on_a_missing_item_see_no_attributes(things):
    with pytest.raises(ConditionFailed):
        things.put({**K, "v": 1}, condition=attr("pk").exists())
    with pytest.raises(ConditionFailed):
        things.put({**K, "v": 1}, condition=attr("v").eq(1))
    assert things.get(K) is None
    things.put({**K, "v": 1}, condition=attr("pk").not_exists() & attr("v").ne(1))
    assert things.get(K) == {**K, "v": 1}


def test_put_if_absent_refuses_the_second_put(things):
    things.put({**K, "v": 1}, condition=attr("pk").not_exists())
    with pytest.raises(ConditionFailed):
        things.put({**K, "v": 2}, condition=attr("pk").not_exists())
    assert things.get(K) == {**K, "v": 1}


def test_optimistic_version_check(things):
    things.put({**K, "version": 1, "v": "a"})
    things.put({**K, "version": 2, "v": "b"}, condition=attr("version").eq(1))
    with pytest.raises(ConditionFailed):
        things.put({**K, "version": 2, "v": "c"}, condition=attr("version").eq(1))
    assert things.get(K)["v"] == "b"


# --------------------------------------------------------------------------- updates


def test_update_sets_adds_and_removes(things):
    things.put({**K, "a": 1, "gone": "x", "count": 10, "tags": {"x"}})
    after = things.update(K, set={"a": 2, "new": [1]}, add={"count": 5, "hits": 1, "tags": {"y"}},
                          remove=["gone", "never_there"])
    expected = {**K, "a": 2, "new": [1], "count": 15, "hits": 1, "tags": {"x", "y"}}
    assert after == expected
    assert things.get(K) == expected


def test_update_counters_accept_negative_and_float_amounts(things):
    things.update(K, add={"n": 3})
    things.update(K, add={"n": -5})
    assert things.update(K, add={"f": 0.5})["n"] == -2
    assert things.get(K)["f"] == 0.5


def test_update_adds_to_a_missing_set(things):
    assert things.update(K, add={"ns": {1, 2}})["ns"] == {1, 2}
    assert things.update(K, add={"ns": {2, 3}})["ns"] == {1, 2, 3}


def test_update_is_an_upsert(things):
    assert things.update(K, set={"v": 1}) == {**K, "v": 1}
    assert things.get(K) == {**K, "v": 1}


def test_update_of_an_existing_item_only(things):
    with pytest.raises(ConditionFailed):
        things.update(K, set={"v": 1}, condition=attr("pk").exists())
    assert things.get(K) is None


def test_update_cannot_change_key_attributes(things):
    things.put({**K, "v": 1})
    for kwargs in ({"set": {"sk": "other"}}, {"remove": ["pk"]}, {"add": {"sk": 1}}):
        with pytest.raises(Invalid) as err:
            things.update(K, **kwargs)
        assert err.value.code == "invalid_update"
    assert things.get(K) == {**K, "v": 1}


@pytest.mark.parametrize("kwargs", [
    {"add": {"s": 1}},           # adding to a string
    {"add": {"n": "1"}},         # a string amount
    {"add": {"n": True}},        # a bool is not a number
    {"add": {"n": {"a"}}},       # set members into a number
    {"set": {"n": 1}, "remove": ["n"]},  # one attribute named twice
    {"set": {"x": float("nan")}},
    {"set": {"x": set()}},
])
def test_bad_updates_are_invalid_and_change_nothing(things, kwargs):
    things.put({**K, "s": "text", "n": 1})
    with pytest.raises(Invalid):
        things.update(K, **kwargs)
    assert things.get(K) == {**K, "s": "text", "n": 1}


# --------------------------------------------------------------------------- deletes


def test_delete_returns_the_old_item(things):
    things.put({**K, "v": 1})
    assert things.delete(K) == {**K, "v": 1}
    assert things.get(K) is None
    assert things.delete(K) is None


def test_delete_with_a_failing_condition_keeps_the_item(things):
    things.put({**K, "v": 1})
    with pytest.raises(ConditionFailed):
        things.delete(K, condition=attr("v").eq(2))
    assert things.get(K) == {**K, "v": 1}
    assert things.delete(K, condition=attr("v").eq(1)) == {**K, "v": 1}


def test_delete_of_a_missing_item_with_exists_condition_fails(things):
    with pytest.raises(ConditionFailed):
        things.delete(K, condition=attr("pk").exists())


# --------------------------------------------------------------------------- validation


def _nothing_written(things) -> None:
    assert things.scan().items == []


@pytest.mark.parametrize("item", [
    {"pk": 1, "sk": "s"},                 # number where a string is declared
    {"pk": "p"},                          # sort key missing
    {"pk": "p", "sk": b"s"},              # bytes where a string is declared
    {"pk": "", "sk": "s"},                # empty key string
    {"pk": "p", "sk": None},
    {"pk": "x" * 2049, "sk": "s"},        # partition key over 2048 bytes
    {"pk": "p", "sk": "é" * 513},         # sort key over 1024 bytes (UTF-8)
    {"pk": "p", "sk": "s", "owner": 5},   # index key of the wrong type
    {"pk": "p", "sk": "s", "v": float("inf")},
    {"pk": "p", "sk": "s", "v": {1, "a"}},
    {"pk": "p", "sk": "s", "v": object()},
    {"pk": "p", "sk": "s", "v": {1: "int map key"}},
])
def test_invalid_items_are_refused_with_nothing_written(things, item):
    with pytest.raises(Invalid):
        things.put(item)
    _nothing_written(things)


def test_key_limits_are_inclusive(things):
    things.put({"pk": "x" * 2048, "sk": "é" * 512})
    assert things.get({"pk": "x" * 2048, "sk": "é" * 512}) is not None


def test_item_size_limit_is_400_kb(things):
    base = {**K, "blob": ""}
    overhead = len("pk") + 2 + len("sk") + 2 + len("blob")
    things.put({**base, "blob": "x" * (400 * 1024 - overhead)})
    with pytest.raises(Invalid) as err:
        things.put({**base, "blob": "x" * (400 * 1024 - overhead + 1)})
    assert err.value.code == "item_too_large"
    assert len(things.get(K)["blob"]) == 400 * 1024 - overhead


def test_an_update_that_would_pass_400_kb_changes_nothing(things):
    things.put({**K, "a": "x" * 300_000})
    with pytest.raises(Invalid) as err:
        things.update(K, set={"b": "y" * 200_000})
    assert err.value.code == "item_too_large"
    assert things.get(K) == {**K, "a": "x" * 300_000}


@pytest.mark.parametrize("key", [
    {"pk": "p"}, {"pk": "p", "sk": 1}, {"pk": "p", "sk": "s", "extra": 1}, {}, {"sk": "s"},
])
def test_invalid_keys_are_refused_everywhere(things, key):
    with pytest.raises(Invalid) as err:
        things.get(key)
    assert err.value.code == "invalid_key"
    with pytest.raises(Invalid):
        things.update(key, set={"v": 1})
    with pytest.raises(Invalid):
        things.delete(key)
    _nothing_written(things)


def test_invalid_errors_carry_a_readable_message(things):
    with pytest.raises(Invalid) as err:
        things.put({"pk": 7, "sk": "s"})
    assert "pk" in err.value.message and "string" in err.value.message
    assert err.value.status == 422
