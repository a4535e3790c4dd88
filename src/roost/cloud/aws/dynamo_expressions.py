"""The port's conditions, sort-key ranges and updates as DynamoDB expressions.

Every attribute name and value goes through a placeholder (`#n0`, `:v0`), so reserved words,
dots and odd characters in names are harmless. Conditions are first folded against what is known
without the item: a comparison DynamoDB would refuse as a malformed request (`BETWEEN` with its
bounds reversed, `<` on a boolean, `begins_with` on a number, `IN ()`) is false whatever the item
holds — exactly what the port's `evaluate` says — so it becomes the constant false instead of a
`ValidationException`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from roost.cloud.aws.dynamo_values import to_attr
from roost.cloud.table import Cond, SortKey, TableSpec, Value

Folded = Cond | bool
MAX_IN = 100  # DynamoDB's limit of operands to one IN
NOTHING = "_roost_nothing"  # no item has it: `REMOVE` of it changes nothing, creates the item


class Expression:
    """Collects the placeholders of one request's expressions."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self._by_name: dict[str, str] = {}

    def name(self, attribute: str) -> str:
        ph = self._by_name.get(attribute)
        if ph is None:
            ph = f"#n{len(self._by_name)}"
            self._by_name[attribute] = ph
            self.names[ph] = attribute
        return ph

    def value(self, v: Value) -> str:
        ph = f":v{len(self.values)}"
        self.values[ph] = to_attr(v)
        return ph

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.names:
            out["ExpressionAttributeNames"] = dict(self.names)
        if self.values:
            out["ExpressionAttributeValues"] = dict(self.values)
        return out


# --------------------------------------------------------------------------- folding


def _number(v: Value) -> bool:
    return isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)


def _orderable(v: Value) -> bool:
    return _number(v) or isinstance(v, (str, bytes))


def _same_kind(a: Value, b: Value) -> bool:
    return (_number(a) and _number(b)) or (type(a) is type(b) and isinstance(a, (str, bytes)))


def both(a: Folded, b: Folded) -> Folded:
    if a is False or b is False:
        return False
    if a is True:
        return b
    if b is True:
        return a
    return Cond("and", (a, b))


def either(a: Folded, b: Folded) -> Folded:
    if a is True or b is True:
        return True
    if a is False:
        return b
    if b is False:
        return a
    return Cond("or", (a, b))


def negate(a: Folded) -> Folded:
    return (not a) if isinstance(a, bool) else Cond("not", (a,))


def fold(cond: Cond | None) -> Folded:
    """`cond` with every part that does not depend on the item replaced by its truth value."""
    if cond is None:
        return True
    op, args = cond.op, cond.args
    if op == "and":
        return both(fold(args[0]), fold(args[1]))
    if op == "or":
        return either(fold(args[0]), fold(args[1]))
    if op == "not":
        return negate(fold(args[0]))
    if op in ("lt", "le", "gt", "ge") and not _orderable(args[1]):
        return False
    if op == "between" and not (_same_kind(args[1], args[2]) and args[1] <= args[2]):
        return False
    if op == "begins_with" and not isinstance(args[1], (str, bytes)):
        return False
    if op == "in" and not args[1]:
        return False
    return cond


# --------------------------------------------------------------------------- rendering

_SYMBOL = {"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def render(cond: Cond, ex: Expression) -> str:
    """A folded (non-constant) condition as a ConditionExpression."""
    op, args = cond.op, cond.args
    if op == "and":
        return f"({render(args[0], ex)}) AND ({render(args[1], ex)})"
    if op == "or":
        return f"({render(args[0], ex)}) OR ({render(args[1], ex)})"
    if op == "not":
        return f"NOT ({render(args[0], ex)})"
    n = ex.name(args[0])
    if op == "exists":
        return f"attribute_exists({n})"
    if op == "not_exists":
        return f"attribute_not_exists({n})"
    if op in _SYMBOL:
        return f"{n} {_SYMBOL[op]} {ex.value(args[1])}"
    if op == "between":
        return f"{n} BETWEEN {ex.value(args[1])} AND {ex.value(args[2])}"
    if op == "begins_with":
        return f"begins_with({n}, {ex.value(args[1])})"
    if op == "in":
        values = list(args[1])
        chunks = [values[i:i + MAX_IN] for i in range(0, len(values), MAX_IN)]
        return " OR ".join(f"{n} IN ({', '.join(ex.value(v) for v in chunk)})"
                           for chunk in chunks)
    raise ValueError(f"unknown condition operator {op!r}")  # pragma: no cover


def always(truth: bool, spec: TableSpec, ex: Expression) -> str:
    """A condition that is `truth` for every item (DynamoDB has no literal true or false)."""
    n = ex.name(spec.pk)
    return (f"attribute_exists({n}) OR attribute_not_exists({n})" if truth
            else f"attribute_exists({n}) AND attribute_not_exists({n})")


def condition_params(folded: Folded, spec: TableSpec, ex: Expression) -> dict[str, Any]:
    """`ConditionExpression` for a request (none when the condition always holds)."""
    if folded is True:
        return {}
    text = always(False, spec, ex) if folded is False else render(folded, ex)
    return {"ConditionExpression": text}


def on_visible(spec: TableSpec, cond: Cond | None, now: float) -> Folded:
    """`cond` as the port means it: evaluated on the item readers see, where an item past its
    TTL is absent. What `cond` says of an absent item is known here, so: "cond, or the item has
    expired" when `cond` holds for no item, else "cond, and the item has not expired"."""
    from roost.cloud.table import evaluate

    folded = fold(cond)
    if spec.ttl is None:
        return folded
    expired = Cond("le", (spec.ttl, now))  # a TTL that is not a number compares false: alive
    if evaluate(cond, None):
        return either(folded, expired)
    return both(folded, negate(expired))


def equals_item(item: Mapping[str, Value]) -> Folded:
    """Every attribute of `item` as it is (used to guard a write on a read)."""
    out: Folded = True
    for name, v in item.items():
        out = both(out, Cond("eq", (name, v)))
    return out


# --------------------------------------------------------------------------- key conditions


def key_condition(
    pk_attr: str, partition: Value, sk_attr: str | None, sort: SortKey | None, ex: Expression
) -> str:
    text = f"{ex.name(pk_attr)} = {ex.value(partition)}"
    if sort is None or sk_attr is None:
        return text
    n = ex.name(sk_attr)
    if sort.op == "between":
        return f"{text} AND {n} BETWEEN {ex.value(sort.args[0])} AND {ex.value(sort.args[1])}"
    if sort.op == "begins_with":
        return f"{text} AND begins_with({n}, {ex.value(sort.args[0])})"
    return f"{text} AND {n} {_SYMBOL[sort.op]} {ex.value(sort.args[0])}"


# --------------------------------------------------------------------------- updates


def update_expression(
    spec: TableSpec, sets: Mapping[str, Value], adds: Mapping[str, Value],
    removes: Sequence[str], ex: Expression,
) -> str:
    """SET/ADD/REMOVE clauses. Setting an index key attribute to None removes it: DynamoDB
    refuses NULL in an index key, and the port's indexes treat None as absent anyway."""
    index_keys = {a for ix in spec.indexes for a in (ix.pk, ix.sk) if a}
    set_parts, remove_names = [], list(removes)
    for name, v in sets.items():
        if v is None and name in index_keys:
            remove_names.append(name)
        else:
            set_parts.append(f"{ex.name(name)} = {ex.value(v)}")
    clauses = []
    if set_parts:
        clauses.append("SET " + ", ".join(set_parts))
    if adds:
        clauses.append("ADD " + ", ".join(f"{ex.name(n)} {ex.value(v)}" for n, v in adds.items()))
    if not clauses and not remove_names:
        remove_names = [NOTHING]  # an update that only makes sure the item exists
    if remove_names:
        clauses.append("REMOVE " + ", ".join(ex.name(n) for n in remove_names))
    return " ".join(clauses)
