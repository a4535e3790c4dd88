"""The Tables port's transactions: up to 100 writes and checks across tables, all or nothing,
with the failing operations named."""

from __future__ import annotations

import pytest

from roost.cloud.errors import Invalid, NotFound, TransactionCanceled
from roost.cloud.table import Check, Delete, IndexSpec, Put, TableSpec, Update, attr

ORDERS = TableSpec("test_orders", indexes=(IndexSpec("by_customer", pk="customer"),))
STOCK = TableSpec("test_stock", sk=None)


@pytest.fixture
def tables(make_tables):
    t = make_tables([ORDERS, STOCK])
    t.table(STOCK.name).put({"pk": "widget", "left": 2})
    t.table(ORDERS.name).put({"pk": "o0", "sk": "line", "customer": "ann", "state": "open"})
    return t


def _state(tables):
    return (sorted((i["pk"], i["sk"], repr(sorted(i.items())))
                   for i in tables.table(ORDERS.name).scan().items),
            tables.table(STOCK.name).scan().items)


def _order(tables):
    """A buy: the stock goes down if any is left, the order appears, the old order closes."""
    return [
        Update(STOCK.name, {"pk": "widget"}, add={"left": -1}, condition=attr("left").gt(0)),
        Put(ORDERS.name, {"pk": "o1", "sk": "line", "customer": "ann"},
            condition=attr("pk").not_exists()),
        Update(ORDERS.name, {"pk": "o0", "sk": "line"}, set={"state": "closed"}),
    ]


def test_a_transaction_applies_every_operation(tables):
    tables.transact(_order(tables))
    assert tables.table(STOCK.name).get({"pk": "widget"}) == {"pk": "widget", "left": 1}
    orders = tables.table(ORDERS.name)
    assert orders.get({"pk": "o1", "sk": "line"}) == {"pk": "o1", "sk": "line", "customer": "ann"}
    assert orders.get({"pk": "o0", "sk": "line"})["state"] == "closed"
    assert len(orders.query("ann", index="by_customer").items) == 2


def test_a_failed_condition_cancels_everything_and_says_which(tables):
    tables.table(STOCK.name).put({"pk": "widget", "left": 0})
    before = _state(tables)
    with pytest.raises(TransactionCanceled) as err:
        tables.transact(_order(tables))
    assert err.value.reasons == ["condition_failed", None, None]
    assert err.value.failed == [0]
    assert err.value.code == "transaction_canceled"
    assert err.value.status == 409
    assert _state(tables) == before


def test_every_failing_operation_is_reported(tables):
    tables.table(STOCK.name).put({"pk": "widget", "left": 0})
    tables.table(ORDERS.name).put({"pk": "o1", "sk": "line"})
    before = _state(tables)
    with pytest.raises(TransactionCanceled) as err:
        tables.transact(_order(tables))
    assert err.value.failed == [0, 1]
    assert _state(tables) == before


def test_a_check_guards_the_transaction_without_writing(tables):
    ops = [
        Check(ORDERS.name, {"pk": "o0", "sk": "line"}, attr("state").eq("open")),
        Delete(STOCK.name, {"pk": "widget"}),
    ]
    tables.table(ORDERS.name).update({"pk": "o0", "sk": "line"}, set={"state": "held"})
    before = _state(tables)
    with pytest.raises(TransactionCanceled) as err:
        tables.transact(ops)
    assert err.value.reasons == ["condition_failed", None]
    assert _state(tables) == before
    tables.table(ORDERS.name).update({"pk": "o0", "sk": "line"}, set={"state": "open"})
    tables.transact(ops)
    assert tables.table(STOCK.name).get({"pk": "widget"}) is None
    assert tables.table(ORDERS.name).get({"pk": "o0", "sk": "line"})["state"] == "open"


def test_check_on_a_missing_item(tables):
    tables.transact([Check(STOCK.name, {"pk": "gadget"}, attr("pk").not_exists()),
                     Put(STOCK.name, {"pk": "gizmo", "left": 5})])
    assert tables.table(STOCK.name).get({"pk": "gizmo"}) == {"pk": "gizmo", "left": 5}
    assert tables.table(STOCK.name).get({"pk": "gadget"}) is None


def test_delete_of_a_missing_item_in_a_transaction_is_fine(tables):
    tables.transact([Delete(STOCK.name, {"pk": "nothing"}),
                     Update(STOCK.name, {"pk": "widget"}, add={"left": 1})])
    assert tables.table(STOCK.name).get({"pk": "widget"})["left"] == 3


def test_one_hundred_operations_is_the_limit(tables):
    ops = [Put(STOCK.name, {"pk": f"item{i}"}) for i in range(100)]
    tables.transact(ops)
    assert len(tables.table(STOCK.name).scan().items) == 101
    before = _state(tables)
    with pytest.raises(Invalid) as err:
        tables.transact([Put(STOCK.name, {"pk": f"more{i}"}) for i in range(101)])
    assert err.value.code == "too_many_operations"
    assert _state(tables) == before


def _refused(tables, ops, code=None):
    before = _state(tables)
    with pytest.raises(Invalid) as err:
        tables.transact(ops)
    if code:
        assert err.value.code == code
    assert _state(tables) == before


def test_two_operations_on_one_item_are_refused(tables):
    _refused(tables, [Update(STOCK.name, {"pk": "widget"}, add={"left": 1}),
                      Put(STOCK.name, {"pk": "new"}),
                      Delete(STOCK.name, {"pk": "widget"})], "duplicate_item")
    _refused(tables, [Check(STOCK.name, {"pk": "widget"}, attr("left").gt(0)),
                      Update(STOCK.name, {"pk": "widget"}, add={"left": -1})], "duplicate_item")


def test_an_empty_transaction_is_refused(tables):
    _refused(tables, [], "invalid_transaction")


def test_an_oversized_item_refuses_the_whole_transaction(tables):
    _refused(tables, [Put(STOCK.name, {"pk": "fine"}),
                      Put(STOCK.name, {"pk": "huge", "blob": "x" * 410_000})], "item_too_large")


def test_a_bad_key_refuses_the_whole_transaction(tables):
    _refused(tables, [Put(STOCK.name, {"pk": "fine"}),
                      Delete(ORDERS.name, {"pk": "o0"})], "invalid_key")
    _refused(tables, [Put(STOCK.name, {"pk": "fine"}),
                      Put(ORDERS.name, {"pk": "o9", "sk": "line", "customer": 5})])


def test_a_bad_update_refuses_the_whole_transaction(tables):
    _refused(tables, [Put(STOCK.name, {"pk": "fine"}),
                      Update(ORDERS.name, {"pk": "o0", "sk": "line"}, add={"state": 1})])
    _refused(tables, [Put(STOCK.name, {"pk": "fine"}),
                      Update(STOCK.name, {"pk": "widget"}, set={"pk": "moved"})])


def test_an_unknown_table_refuses_the_whole_transaction(tables):
    before = _state(tables)
    with pytest.raises(NotFound):
        tables.transact([Put(STOCK.name, {"pk": "fine"}), Put("test_nope", {"pk": "x"})])
    assert _state(tables) == before


def test_the_same_key_in_two_tables_is_two_items(tables):
    tables.table(ORDERS.name).put({"pk": "widget", "sk": "line"})
    tables.transact([Delete(STOCK.name, {"pk": "widget"}),
                     Update(ORDERS.name, {"pk": "widget", "sk": "line"}, set={"v": 1})])
    assert tables.table(STOCK.name).get({"pk": "widget"}) is None
    assert tables.table(ORDERS.name).get({"pk": "widget", "sk": "line"})["v"] == 1
