"""The Table port's queries: sort-key order as DynamoDB has it, sort-key conditions, paging by
cursor forward and backward, secondary indexes (sparse, several per table) and scans."""

from __future__ import annotations

import pytest

from roost.cloud.errors import Invalid
from roost.cloud.table import IndexSpec, SortKey, TableSpec

EVENTS = TableSpec("test_events", indexes=(
    IndexSpec("by_owner", pk="owner", sk="at"),
    IndexSpec("by_kind", pk="kind"),
    IndexSpec("by_size", pk="owner", sk="size", sk_type="N"),
))
NUMS = TableSpec("test_nums", pk="p", sk="n", sk_type="N")
BINS = TableSpec("test_bins", pk="p", pk_type="B", sk="b", sk_type="B")
FLAT = TableSpec("test_flat", sk=None)


@pytest.fixture
def tables(make_tables):
    return make_tables([EVENTS, NUMS, BINS, FLAT])


@pytest.fixture
def events(tables):
    return tables.table(EVENTS.name)


def _sks(page, attr="sk"):
    return [i[attr] for i in page.items]


def _all_pages(table, partition, limit, **kwargs):
    """Follow cursors to the end; returns the pages' items, checking each page's size."""
    out, cursor, pages = [], None, 0
    while True:
        page = table.query(partition, limit=limit, cursor=cursor, **kwargs)
        assert len(page.items) <= limit
        out.extend(page.items)
        pages += 1
        assert pages < 1000
        cursor = page.cursor
        if cursor is None:
            return out


# --------------------------------------------------------------------------- order


STRINGS = ["b", "a", "B", "é", "e", "z", "aa", "a b", "\uffff", "\U0001f600", "\u00ff", "0", "~"]


def test_string_sort_keys_order_by_utf8_bytes(events):
    for s in STRINGS:
        events.put({"pk": "p", "sk": s})
    expected = sorted(STRINGS, key=lambda s: s.encode("utf-8"))
    assert _sks(events.query("p")) == expected
    assert _sks(events.query("p", forward=False)) == expected[::-1]


def test_number_sort_keys_order_numerically(tables):
    nums = tables.table(NUMS.name)
    values = [10, -5, 2, 1.5, 100, 0, -0.25, 2**40]
    for n in values:
        nums.put({"p": "x", "n": n})
    assert _sks(nums.query("x"), "n") == sorted(values)
    assert _sks(nums.query("x", sort=SortKey.between(0, 10)), "n") == [0, 1.5, 2, 10]


def test_an_int_and_an_equal_float_are_one_key(tables):
    nums = tables.table(NUMS.name)
    nums.put({"p": "x", "n": 2, "v": "int"})
    nums.put({"p": "x", "n": 2.0, "v": "float"})
    page = nums.query("x")
    assert len(page.items) == 1
    assert page.items[0]["v"] == "float"
    assert nums.get({"p": "x", "n": 2})["v"] == "float"


def test_bytes_keys_order_bytewise(tables):
    bins = tables.table(BINS.name)
    values = [b"\xff", b"\x00", b"\x00\x00", b"a", b"\x7f", b"\x80"]
    for b in values:
        bins.put({"p": b"\x01", "b": b})
    assert _sks(bins.query(b"\x01"), "b") == sorted(values)
    assert _sks(bins.query(b"\x01", sort=SortKey.begins_with(b"\x00")), "b") == \
        [b"\x00", b"\x00\x00"]
    assert _sks(bins.query(b"\x01", sort=SortKey.begins_with(b"\xff")), "b") == [b"\xff"]


def test_query_sees_only_its_partition_and_table(tables, events):
    events.put({"pk": "p", "sk": "1"})
    events.put({"pk": "q", "sk": "1"})
    events.put({"pk": "pp", "sk": "1"})
    tables.table(FLAT.name).put({"pk": "p"})
    assert events.query("p").items == [{"pk": "p", "sk": "1"}]
    assert events.query("nobody").items == []
    assert events.query("nobody").cursor is None


def test_query_on_a_table_without_sort_key(tables):
    flat = tables.table(FLAT.name)
    flat.put({"pk": "a", "v": 1})
    assert flat.query("a").items == [{"pk": "a", "v": 1}]
    with pytest.raises(Invalid):
        flat.query("a", sort=SortKey.eq("x"))


# --------------------------------------------------------------------------- sort conditions

DAYS = ["2026-01-01", "2026-01-02", "2026-02-01", "2026-02-15", "2026-03-01", "2027-01-01"]


@pytest.mark.parametrize(("sort", "expected"), [
    (SortKey.eq("2026-02-01"), ["2026-02-01"]),
    (SortKey.eq("2026-02"), []),
    (SortKey.lt("2026-02-01"), ["2026-01-01", "2026-01-02"]),
    (SortKey.le("2026-02-01"), ["2026-01-01", "2026-01-02", "2026-02-01"]),
    (SortKey.gt("2026-02-15"), ["2026-03-01", "2027-01-01"]),
    (SortKey.ge("2026-02-15"), ["2026-02-15", "2026-03-01", "2027-01-01"]),
    (SortKey.between("2026-01-02", "2026-02-15"), ["2026-01-02", "2026-02-01", "2026-02-15"]),
    (SortKey.between("2026-02", "2026-03"), ["2026-02-01", "2026-02-15"]),
    (SortKey.begins_with("2026-02"), ["2026-02-01", "2026-02-15"]),
    (SortKey.begins_with("2026"), DAYS[:5]),
    (SortKey.begins_with("2028"), []),
])
def test_sort_key_conditions(events, sort, expected):
    for day in DAYS:
        events.put({"pk": "cal", "sk": day})
    assert _sks(events.query("cal", sort=sort)) == expected
    assert _sks(events.query("cal", sort=sort, forward=False)) == expected[::-1]


def test_begins_with_at_the_edges_of_unicode(events):
    top = "\U0010ffff"
    for sk in ["a", "a" + top, "a" + top + "z", "a" + top + top, "b", top, top + "x"]:
        events.put({"pk": "u", "sk": sk})
    assert _sks(events.query("u", sort=SortKey.begins_with("a" + top))) == \
        ["a" + top, "a" + top + "z", "a" + top + top]
    assert _sks(events.query("u", sort=SortKey.begins_with(top))) == [top, top + "x"]
    assert len(events.query("u", sort=SortKey.begins_with("a")).items) == 4


# --------------------------------------------------------------------------- paging


@pytest.mark.parametrize("forward", [True, False])
@pytest.mark.parametrize("limit", [1, 3, 5, 10, 11])
def test_pages_join_up_to_the_whole_partition(events, forward, limit):
    keys = [f"k{i:02}" for i in range(10)]
    for k in keys:
        events.put({"pk": "p", "sk": k})
    got = _sks_of(_all_pages(events, "p", limit, forward=forward))
    assert got == (keys if forward else keys[::-1])


def _sks_of(items):
    return [i["sk"] for i in items]


def test_the_last_page_has_no_cursor_even_when_full(events):
    for i in range(4):
        events.put({"pk": "p", "sk": str(i)})
    first = events.query("p", limit=2)
    assert first.cursor is not None
    second = events.query("p", limit=2, cursor=first.cursor)
    assert _sks(second) == ["2", "3"]
    assert second.cursor is None
    assert events.query("p", limit=4).cursor is None


def test_paging_within_a_sort_range(events):
    for day in DAYS:
        events.put({"pk": "cal", "sk": day})
    got = _all_pages(events, "cal", 1, sort=SortKey.begins_with("2026"))
    assert _sks_of(got) == DAYS[:5]
    got = _all_pages(events, "cal", 2, sort=SortKey.le("2026-02-15"), forward=False)
    assert _sks_of(got) == DAYS[:4][::-1]


def test_a_cursor_survives_writes_between_pages(events):
    for i in range(6):
        events.put({"pk": "p", "sk": str(i)})
    page = events.query("p", limit=3)
    events.delete({"pk": "p", "sk": "2"})  # the last item returned
    events.delete({"pk": "p", "sk": "3"})  # the next one
    events.put({"pk": "p", "sk": "9"})
    assert _sks(events.query("p", cursor=page.cursor)) == ["4", "5", "9"]


def test_bad_cursors_and_limits_are_invalid(events):
    for i in range(3):
        events.put({"pk": "p", "sk": str(i)})
        events.put({"pk": "q", "sk": str(i)})
    cursor = events.query("p", limit=1).cursor
    for bad in ["garbage!", "", "e30", cursor[:-3]]:
        with pytest.raises(Invalid) as err:
            events.query("p", cursor=bad)
        assert err.value.code == "invalid_cursor"
    with pytest.raises(Invalid):
        events.query("q", cursor=cursor)  # another partition's cursor
    with pytest.raises(Invalid):
        events.query("nobody", index="by_owner", cursor=cursor)  # the table's, not the index's
    for limit in [0, -1]:
        with pytest.raises(Invalid):
            events.query("p", limit=limit)


@pytest.mark.parametrize(("partition", "kwargs"), [
    (1, {}),
    (b"p", {}),
    ("p", {"sort": SortKey.eq(1)}),
    ("p", {"index": "no_such_index"}),
    (5, {"index": "by_owner"}),
    ("o", {"index": "by_size", "sort": SortKey.begins_with("1")}),
    ("o", {"index": "by_size", "sort": SortKey.gt("1")}),
    ("o", {"index": "by_kind", "sort": SortKey.eq("x")}),
])
def test_bad_queries_are_invalid(events, partition, kwargs):
    with pytest.raises(Invalid):
        events.query(partition, **kwargs)


# --------------------------------------------------------------------------- indexes


def test_index_query_orders_by_the_index_sort_key(events):
    events.put({"pk": "e1", "sk": "x", "owner": "ann", "at": "09:00"})
    events.put({"pk": "e2", "sk": "x", "owner": "ann", "at": "08:00"})
    events.put({"pk": "e3", "sk": "x", "owner": "bob", "at": "07:00"})
    events.put({"pk": "e4", "sk": "x", "owner": "ann", "at": "10:00"})
    page = events.query("ann", index="by_owner")
    assert [i["pk"] for i in page.items] == ["e2", "e1", "e4"]
    assert page.items[0] == {"pk": "e2", "sk": "x", "owner": "ann", "at": "08:00"}
    page = events.query("ann", index="by_owner", forward=False, sort=SortKey.lt("10:00"))
    assert [i["pk"] for i in page.items] == ["e1", "e2"]


def test_indexes_are_sparse(events):
    events.put({"pk": "a", "sk": "1", "owner": "ann", "at": "1"})
    events.put({"pk": "b", "sk": "1", "owner": "ann"})            # no index sort key
    events.put({"pk": "c", "sk": "1", "at": "1"})                # no index partition key
    events.put({"pk": "d", "sk": "1", "owner": None, "at": "1"})  # None counts as absent
    assert [i["pk"] for i in events.query("ann", index="by_owner").items] == ["a"]
    assert events.query("ann", index="by_size").items == []


def test_two_indexes_on_one_table(events):
    events.put({"pk": "a", "sk": "1", "owner": "ann", "at": "2", "kind": "talk", "size": 30})
    events.put({"pk": "b", "sk": "1", "owner": "ann", "at": "1", "kind": "demo", "size": 5})
    events.put({"pk": "c", "sk": "1", "owner": "bob", "at": "3", "kind": "talk", "size": 10})
    assert [i["pk"] for i in events.query("ann", index="by_owner").items] == ["b", "a"]
    assert sorted(i["pk"] for i in events.query("talk", index="by_kind").items) == ["a", "c"]
    assert [i["pk"] for i in events.query("ann", index="by_size").items] == ["b", "a"]
    assert [i["pk"] for i in events.query("ann", index="by_size",
                                          sort=SortKey.ge(10)).items] == ["a"]


def test_indexes_follow_updates_and_deletes(events):
    key = {"pk": "a", "sk": "1"}
    events.put({**key, "owner": "ann", "at": "1", "kind": "talk"})
    events.update(key, set={"owner": "bob"})
    assert events.query("ann", index="by_owner").items == []
    assert [i["owner"] for i in events.query("bob", index="by_owner").items] == ["bob"]
    events.update(key, set={"at": "2"})
    assert [i["at"] for i in events.query("bob", index="by_owner").items] == ["2"]
    events.update(key, remove=["kind"])
    assert events.query("talk", index="by_kind").items == []
    events.put({**key, "kind": "demo"})  # a put replaces: no owner any more
    assert events.query("bob", index="by_owner").items == []
    assert len(events.query("demo", index="by_kind").items) == 1
    events.delete(key)
    assert events.query("demo", index="by_kind").items == []


@pytest.mark.parametrize("forward", [True, False])
@pytest.mark.parametrize("limit", [1, 2, 3, 7])
def test_index_cursors_with_shared_index_sort_keys(events, forward, limit):
    """Several items share one index sort key: paging must neither skip nor repeat any."""
    for i in range(9):
        events.put({"pk": f"e{i}", "sk": "x", "owner": "ann", "at": ["1", "2", "2"][i % 3]})
    items = _all_pages(events, "ann", limit, index="by_owner", forward=forward)
    assert sorted(i["pk"] for i in items) == [f"e{i}" for i in range(9)]
    ats = [i["at"] for i in items]
    assert ats == sorted(ats, reverse=not forward)


def test_index_without_sort_key_pages_through_all(events):
    for i in range(7):
        events.put({"pk": f"e{i}", "sk": str(i % 2), "kind": "talk"})
    items = _all_pages(events, "talk", 2, index="by_kind")
    assert sorted((i["pk"], i["sk"]) for i in items) == [(f"e{i}", str(i % 2)) for i in range(7)]


# --------------------------------------------------------------------------- scan


def test_scan_returns_every_item_of_the_table_once(tables, events):
    expected = set()
    for p in range(4):
        for s in range(5):
            events.put({"pk": f"p{p}", "sk": f"s{s}", "v": p * s})
            expected.add((f"p{p}", f"s{s}"))
    tables.table(FLAT.name).put({"pk": "p0"})
    assert {(i["pk"], i["sk"]) for i in events.scan().items} == expected
    seen, cursor = [], None
    while True:
        page = events.scan(limit=3, cursor=cursor)
        assert len(page.items) <= 3
        seen.extend((i["pk"], i["sk"]) for i in page.items)
        cursor = page.cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(expected)
    with pytest.raises(Invalid):
        events.scan(cursor=events.query("p0", limit=1).cursor)
