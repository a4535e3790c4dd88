"""What the DynamoDB adapter does beyond the shared conformance suite: the stored form, audited
writes that lose a race, DynamoDB's own limits, failures as the error family."""

from __future__ import annotations

from decimal import Decimal

import pytest

from roost.cloud.audit import AUDIT, record_id
from roost.cloud.aws.dynamo_expressions import Expression, fold, on_visible, render
from roost.cloud.aws.dynamo_table import REV, DynamoTables
from roost.cloud.aws.dynamo_values import from_attr, number_text, to_attr
from roost.cloud.errors import Invalid, Unavailable
from roost.cloud.table import IndexSpec, Put, TableSpec, attr

BOOKINGS = TableSpec("desks_bookings", audit=True)
EVENTS = TableSpec("test_events", indexes=(IndexSpec("by_owner", pk="owner", sk="at"),))
K = {"pk": "alpha", "sk": "2026-01-05#d1"}


def test_numbers_have_one_canonical_text():
    assert {number_text(2), number_text(2.0), number_text(Decimal("2.00"))} == {"2"}
    assert number_text(0.1) == "0.1" and number_text(-1.5e-7) == "-1.5e-07"
    assert from_attr(to_attr({1, 2.5})) == {1, 2.5}
    assert from_attr(to_attr([b"\x00", None, True, {"a": "b"}])) == [b"\x00", None, True,
                                                                      {"a": "b"}]
    with pytest.raises(Invalid):
        number_text(float("nan"))


def test_conditions_dynamodb_would_refuse_fold_to_false():
    assert fold(attr("n").between(5, 1)) is False
    assert fold(attr("n").lt(True)) is False
    assert fold(attr("n").begins_with(5)) is False  # type: ignore[arg-type]
    assert fold(attr("n").is_in([])) is False
    assert fold(attr("n").eq(1) | attr("n").between(2, 1)) == attr("n").eq(1)
    assert fold(~attr("n").lt(None)) is True


def test_conditions_use_placeholders_only():
    ex = Expression()
    text = render(attr("size").eq(1) & attr("a.b").is_in(range(150)), ex)  # type: ignore[arg-type]
    assert "size" not in text and "a.b" not in text
    assert ex.names == {"#n0": "size", "#n1": "a.b"}
    assert text.count(" IN (") == 2  # DynamoDB takes 100 operands per IN


def test_ttl_tables_say_expired_items_are_absent():
    spec = TableSpec("t_codes", sk=None, ttl="exp")
    assert on_visible(spec, attr("pk").not_exists(), 100.0) == \
        attr("pk").not_exists() | attr("exp").le(100.0)
    assert on_visible(spec, attr("n").eq(1), 100.0) == attr("n").eq(1) & ~attr("exp").le(100.0)
    assert on_visible(spec, None, 100.0) is True


def test_audited_items_carry_a_hidden_revision(dynamo_tables, dynamodb):
    tables = dynamo_tables([BOOKINGS])
    bookings = tables.table(BOOKINGS.name)
    bookings.put({**K, "who": "ann"})
    raw = dynamodb.get_item(TableName=tables.physical(BOOKINGS.name),
                            Key={"pk": {"S": K["pk"]}, "sk": {"S": K["sk"]}})["Item"]
    assert REV in raw
    assert bookings.get(K) == {**K, "who": "ann"}
    assert bookings.query("alpha").items == [{**K, "who": "ann"}]


def test_an_audited_write_that_loses_a_race_is_retried_on_the_new_item(dynamo_tables):
    """Another writer changes the item between the adapter's read and its write: the guard
    cancels the write, it is redone on the new item, and the trail never lies."""
    tables = dynamo_tables([BOOKINGS])
    other = DynamoTables(tables.client, [BOOKINGS], clock=tables.clock, prefix=tables.prefix)
    bookings = tables.table(BOOKINGS.name)
    bookings.put({**K, "who": "ann"})
    read = tables.read_raw
    interfered: list[bool] = []

    def read_then_interfere(spec, key):
        stored = read(spec, key)
        if spec.name == BOOKINGS.name and not interfered:
            interfered.append(True)
            other.table(BOOKINGS.name).update(K, set={"note": "added meanwhile"})
        return stored

    tables.read_raw = read_then_interfere  # type: ignore[method-assign]
    after = bookings.update(K, set={"who": "bob"})
    assert interfered
    assert after == {**K, "who": "bob", "note": "added meanwhile"}
    assert bookings.get(K) == after
    trail = tables.table(AUDIT.name).query(record_id(BOOKINGS.name, K), index="by_record").items
    assert [(r["before"], r["after"]) for r in trail] == [
        (None, {**K, "who": "ann"}),
        ({**K, "who": "ann"}, {**K, "who": "ann", "note": "added meanwhile"}),
        ({**K, "who": "ann", "note": "added meanwhile"}, after),
    ]


def test_audit_records_count_against_the_100_operations(dynamo_tables):
    tables = dynamo_tables([BOOKINGS])
    ops = [Put(BOOKINGS.name, {"pk": "a", "sk": str(i)}) for i in range(51)]
    with pytest.raises(Invalid) as err:
        tables.transact(ops)
    assert err.value.code == "too_many_operations"
    tables.transact(ops[:50])
    assert len(tables.table(BOOKINGS.name).query("a").items) == 50


def test_none_in_an_index_key_is_left_out(dynamo_tables):
    tables = dynamo_tables([EVENTS])
    events = tables.table(EVENTS.name)
    events.put({"pk": "e", "sk": "1", "owner": None, "at": "1"})
    assert events.get({"pk": "e", "sk": "1"}) == {"pk": "e", "sk": "1", "at": "1"}
    events.update({"pk": "e", "sk": "1"}, set={"owner": "ann"})
    assert len(events.query("ann", index="by_owner").items) == 1
    events.update({"pk": "e", "sk": "1"}, set={"owner": None})
    assert events.query("ann", index="by_owner").items == []


def test_a_table_that_was_never_created_is_unavailable(dynamodb, clock):
    tables = DynamoTables(dynamodb, [EVENTS], clock=clock, prefix="never_created_")
    with pytest.raises(Unavailable) as err:
        tables.table(EVENTS.name).get({"pk": "a", "sk": "b"})
    assert err.value.code == "table_missing"


def test_the_tables_it_creates_match_the_declaration(dynamo_tables, dynamodb):
    spec = TableSpec("test_codes", sk=None, ttl="expires_at",
                     indexes=(IndexSpec("by_email", pk="email"),))
    tables = dynamo_tables([spec])
    name = tables.physical(spec.name)
    desc = dynamodb.describe_table(TableName=name)["Table"]
    assert [k["AttributeName"] for k in desc["KeySchema"]] == ["pk"]
    assert [ix["IndexName"] for ix in desc["GlobalSecondaryIndexes"]] == ["by_email"]
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"
    tables.create_tables()  # idempotent


def test_empty_sort_bounds_need_no_call_dynamodb_would_refuse(dynamo_tables):
    from roost.cloud.table import SortKey

    tables = dynamo_tables([EVENTS])
    events = tables.table(EVENTS.name)
    events.put({"pk": "p", "sk": "a"})
    assert events.query("p", sort=SortKey.between("", "")).items == []
    assert [i["sk"] for i in events.query("p", sort=SortKey.between("", "b")).items] == ["a"]
    assert [i["sk"] for i in events.query("p", sort=SortKey.gt("")).items] == ["a"]
    assert events.query("p", sort=SortKey.le("")).items == []
    assert [i["sk"] for i in events.query("p", sort=SortKey.begins_with("")).items] == ["a"]
    assert events.query("").items == []
