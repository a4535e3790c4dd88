"""Random sequences of writes, transactions, reads, queries and clock moves, run against a Table
adapter and against a plain in-memory model written here: every result must be the same.

The model is deliberately naive (dicts, sorting, filtering) so it is obviously right; it reuses
only the port's `evaluate` (the meaning of a condition is the port's, tested case by case in
test_table.py) and `SortKey.matches`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roost.cloud.errors import ConditionFailed, TransactionCanceled
from roost.cloud.table import (
    Check,
    Cond,
    Delete,
    IndexSpec,
    Put,
    SortKey,
    TableSpec,
    Update,
    attr,
    evaluate,
)

MAIN = TableSpec("test_model", ttl="ttl",
                 indexes=(IndexSpec("by_g", pk="g", sk="r", sk_type="N"),
                          IndexSpec("by_s", pk="s")))
FLAT = TableSpec("test_model_flat", sk=None, ttl="ttl")
SPECS = {MAIN.name: MAIN, FLAT.name: FLAT}

PKS = ["a", "b"]
SKS = ["1", "2", "x"]
TTL_OFFSETS = [-5, 5, 20, 50]  # seconds from the example's start; a clock move is 20 s

# --------------------------------------------------------------------------- the model


@dataclass
class Model:
    clock: Any
    items: dict[str, dict[tuple[str, ...], dict[str, Any]]] = field(
        default_factory=lambda: {MAIN.name: {}, FLAT.name: {}})

    @staticmethod
    def ident(table: str, key: dict[str, Any]) -> tuple[str, ...]:
        spec = SPECS[table]
        return (key[spec.pk], key[spec.sk]) if spec.sk else (key[spec.pk],)

    def alive(self, item: dict[str, Any]) -> bool:
        ttl = item.get("ttl")
        return not isinstance(ttl, (int, float)) or ttl > self.clock.now().timestamp()

    def visible(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        item = self.items[table].get(self.ident(table, key))
        return dict(item) if item is not None and self.alive(item) else None

    def all_visible(self, table: str) -> list[dict[str, Any]]:
        return [dict(i) for _, i in sorted(self.items[table].items()) if self.alive(i)]

    @staticmethod
    def updated(old: dict[str, Any] | None, key: dict[str, Any], sets: dict[str, Any],
                adds: dict[str, int], removes: list[str]) -> dict[str, Any]:
        new = dict(old) if old else dict(key)
        new.update(sets)
        for name, amount in adds.items():
            new[name] = new.get(name, 0) + amount
        for name in removes:
            new.pop(name, None)
        return new

    def write(self, table: str, key: dict[str, Any], new: dict[str, Any] | None) -> None:
        ident = self.ident(table, key)
        if new is None:
            self.items[table].pop(ident, None)
        else:
            self.items[table][ident] = dict(new)

    def new_item(self, op: Any) -> dict[str, Any] | None:
        if isinstance(op, Put):
            return dict(op.item)
        if isinstance(op, Update):
            return self.updated(self.visible(op.table, op.key), op.key, dict(op.set),
                                dict(op.add), list(op.remove))
        return None

    @staticmethod
    def key_of(op: Any) -> dict[str, Any]:
        if isinstance(op, Put):
            spec = SPECS[op.table]
            return {k: op.item[k] for k in (spec.pk, spec.sk) if k}
        return op.key

    def apply(self, op: Any) -> Any:
        """One single-item write; returns what the port returns, or the error's type."""
        key = self.key_of(op)
        old = self.visible(op.table, key)
        if not evaluate(op.condition, old):
            return ConditionFailed
        new = self.new_item(op)
        self.write(op.table, key, new)
        if isinstance(op, Update):
            return new
        return old if isinstance(op, Delete) else None

    def transact(self, ops: list[Any]) -> Any:
        olds = [self.visible(op.table, self.key_of(op)) for op in ops]
        reasons = [None if evaluate(op.condition, old) else "condition_failed"
                   for op, old in zip(ops, olds, strict=True)]
        if any(reasons):
            return (TransactionCanceled, reasons)
        news = [self.new_item(op) for op in ops]
        for op, new in zip(ops, news, strict=True):
            if not isinstance(op, Check):
                self.write(op.table, self.key_of(op), new)
        return None

    def query(self, pk: str, sort: SortKey | None, forward: bool) -> list[dict[str, Any]]:
        items = [i for i in self.all_visible(MAIN.name) if i["pk"] == pk
                 and (sort is None or sort.matches(i["sk"]))]
        items.sort(key=lambda i: i["sk"], reverse=not forward)
        return items

    def index(self, name: str, part: str, sort: SortKey | None) -> list[dict[str, Any]]:
        ix = MAIN.index(name)
        return [i for i in self.all_visible(MAIN.name) if i.get(ix.pk) == part
                and (ix.sk is None or ix.sk in i)
                and (sort is None or sort.matches(i[ix.sk]))]


# --------------------------------------------------------------------------- the operations

CONDS: list[Cond] = [
    attr("pk").exists(), attr("pk").not_exists(), attr("n").lt(1), attr("n").ge(0),
    attr("n").eq(2), attr("n").ne(0), attr("n").between(-1, 1), attr("n").is_in([1, 3]),
    attr("s").begins_with("a"), attr("s").exists(), attr("g").eq("G"), attr("ttl").not_exists(),
]
conditions = st.one_of(
    st.none(), st.none(),
    st.recursive(st.sampled_from(CONDS), lambda c: st.one_of(
        st.builds(lambda a, b: a & b, c, c), st.builds(lambda a, b: a | b, c, c),
        st.builds(lambda a: ~a, c)), max_leaves=3))

attributes = st.fixed_dictionaries({}, optional={
    "n": st.integers(-3, 3), "s": st.sampled_from(["a", "ab", "b", "ba"]),
    "g": st.sampled_from(["G", "G", "H"]), "r": st.integers(0, 3),
    "ttl": st.sampled_from(TTL_OFFSETS), "blob": st.binary(max_size=3),
}).map(lambda a: {**a, "g": "G"} if "r" in a and "g" not in a else a)  # index-heavy


def keys_for(table: str) -> st.SearchStrategy[dict[str, str]]:
    if table == FLAT.name:
        return st.builds(lambda p: {"pk": p}, st.sampled_from(PKS))
    return st.builds(lambda p, s: {"pk": p, "sk": s}, st.sampled_from(PKS), st.sampled_from(SKS))


tables_ = st.sampled_from([MAIN.name, MAIN.name, FLAT.name])


@st.composite
def write_ops(draw: st.DrawFn, table: str | None = None) -> Any:
    table = table or draw(tables_)
    key = draw(keys_for(table))
    kind = draw(st.sampled_from(["put", "update", "update", "delete"]))
    cond = draw(conditions)
    if kind == "put":
        return Put(table, {**draw(attributes), **key}, cond)
    if kind == "delete":
        return Delete(table, key, cond)
    sets = draw(attributes)
    names = ["n", "s", "g", "r", "ttl", "blob"]
    adds = {} if "n" in sets else draw(st.sampled_from([{}, {"n": 1}, {"n": -2}]))
    free = [n for n in names if n not in sets and n not in adds]
    removes = draw(st.lists(st.sampled_from(free), unique=True, max_size=2)) if free else []
    return Update(table, key, sets, adds, removes, cond)


def _item_of(op: Any) -> tuple[str, str]:
    return op.table, repr(sorted(Model.key_of(op).items()))


@st.composite
def transactions(draw: st.DrawFn) -> Any:
    ops = draw(st.lists(write_ops(), min_size=1, max_size=4, unique_by=_item_of))
    if draw(st.booleans()):
        check = Check(MAIN.name, draw(keys_for(MAIN.name)), draw(st.sampled_from(CONDS)))
        if _item_of(check) not in {_item_of(op) for op in ops}:
            ops.append(check)
    return ("transact", ops)


sorts = st.one_of(st.none(), st.sampled_from(
    [SortKey.eq("2"), SortKey.lt("3"), SortKey.ge("2"), SortKey.between("1", "2"),
     SortKey.begins_with("x"), SortKey.gt("1")]))
index_sorts = st.one_of(st.none(), st.sampled_from(
    [SortKey.eq(1), SortKey.le(2), SortKey.gt(0), SortKey.between(1, 2)]))
limits = st.one_of(st.none(), st.integers(1, 4))

steps = st.one_of(
    st.tuples(st.just("write"), write_ops()),
    st.tuples(st.just("write"), write_ops()),
    transactions(),
    st.tuples(st.just("get"), tables_.flatmap(lambda t: st.tuples(st.just(t), keys_for(t)))),
    st.tuples(st.just("query"), st.sampled_from(PKS), sorts, st.booleans(), limits),
    st.tuples(st.just("index"), st.sampled_from(["G", "H"]), index_sorts, st.booleans(), limits),
    st.tuples(st.just("index_s"), st.sampled_from(["a", "ab", "b"]), limits),
    st.tuples(st.just("scan"), tables_, limits),
    st.tuples(st.just("advance")),
)

# --------------------------------------------------------------------------- running


def _with_ttl(op: Any, base: float) -> Any:
    """Offsets drawn for `ttl` become absolute epoch seconds from the example's start."""
    def fix(attrs: Any) -> Any:
        return {**attrs, "ttl": base + attrs["ttl"]} if "ttl" in attrs else attrs
    if isinstance(op, Put):
        return Put(op.table, fix(op.item), op.condition)
    if isinstance(op, Update):
        return Update(op.table, op.key, fix(dict(op.set)), op.add, op.remove, op.condition)
    return op


def _run_write(tables: Any, op: Any) -> Any:
    t = tables.table(op.table)
    try:
        if isinstance(op, Put):
            return t.put(op.item, condition=op.condition)
        if isinstance(op, Update):
            return t.update(op.key, set=op.set, add=op.add, remove=op.remove,
                            condition=op.condition)
        return t.delete(op.key, condition=op.condition)
    except ConditionFailed:
        return ConditionFailed


def _pages(read: Any, limit: int | None, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """Every page of `read(*args, **kwargs)`, joined."""
    out: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        page = read(*args, limit=limit, cursor=cursor, **kwargs)
        assert limit is None or len(page.items) <= limit
        out += page.items
        cursor = page.cursor
        if cursor is None:
            return out
    raise AssertionError("cursors never ended")


def _by_key(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda i: (i["pk"], i.get("sk", "")))


@pytest.mark.timeout(900)  # passing takes seconds; a failure's shrinking may take minutes
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=st.lists(steps, min_size=5, max_size=40))
def test_adapter_matches_the_model(make_tables, clock, script):
    tables = make_tables([MAIN, FLAT])
    model = Model(clock)
    base = clock.now().timestamp()
    main = tables.table(MAIN.name)
    for step in script:
        kind = step[0]
        if kind == "write":
            op = _with_ttl(step[1], base)
            assert _run_write(tables, op) == model.apply(op), op
        elif kind == "transact":
            ops = [_with_ttl(op, base) for op in step[1]]
            try:
                tables.transact(ops)
                got: Any = None
            except TransactionCanceled as exc:
                got = (TransactionCanceled, exc.reasons)
            assert got == model.transact(ops), ops
        elif kind == "get":
            table, key = step[1]
            assert tables.table(table).get(key) == model.visible(table, key)
        elif kind == "query":
            _, pk, sort, forward, limit = step
            got = _pages(main.query, limit, pk, sort=sort, forward=forward)
            assert got == model.query(pk, sort, forward)
        elif kind == "index":
            _, g, sort, forward, limit = step
            got = _pages(main.query, limit, g, index="by_g", sort=sort, forward=forward)
            rs = [i["r"] for i in got]
            assert rs == sorted(rs, reverse=not forward)
            assert _by_key(got) == _by_key(model.index("by_g", g, sort))
        elif kind == "index_s":
            _, s, limit = step
            got = _pages(main.query, limit, s, index="by_s")
            assert _by_key(got) == _by_key(model.index("by_s", s, None))
        elif kind == "scan":
            _, table, limit = step
            got = _pages(tables.table(table).scan, limit)
            assert _by_key(got) == _by_key(model.all_visible(table))
        else:
            clock.advance(seconds=20)
    _everything_agrees(tables, model)
    tables.close()


def _everything_agrees(tables: Any, model: Model) -> None:
    """The final word: every table, partition and index partition holds what the model does."""
    main = tables.table(MAIN.name)
    for table in SPECS:
        assert _by_key(tables.table(table).scan().items) == _by_key(model.all_visible(table))
    for pk in PKS:
        assert main.query(pk).items == model.query(pk, None, True)
    for g in ["G", "H"]:
        assert _by_key(main.query(g, index="by_g").items) == _by_key(model.index("by_g", g, None))
    for s in ["a", "ab", "b", "ba"]:
        assert _by_key(main.query(s, index="by_s").items) == _by_key(model.index("by_s", s, None))
