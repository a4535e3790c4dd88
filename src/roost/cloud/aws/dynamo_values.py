"""Attribute values between the Table port's Python values and DynamoDB's typed JSON.

Written by hand rather than with boto3's TypeSerializer because the port takes floats (boto3
insists on Decimal) and reads numbers back as int or float (boto3 gives Decimal), and because
numbers must be written in one canonical text: DynamoDB compares keys numerically, local
DynamoDB-API servers compare them by text, and `2`, `2.0` and `Decimal("2.00")` must be one key
everywhere.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from roost.cloud.errors import Invalid
from roost.cloud.table import Item, Value

AttributeValue = dict[str, Any]
_INTEGER = re.compile(r"-?\d+")


def number_text(v: int | float | Decimal) -> str:
    """The canonical text of a number: integral values as integers, others as the shortest text
    that reads back as the same float."""
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise Invalid(f"the number {v} is not finite; DynamoDB stores finite numbers only",
                          code="invalid_value")
        return str(int(v)) if v.is_integer() else repr(v)
    if not v.is_finite():
        raise Invalid(f"the number {v} is not finite", code="invalid_value")
    if v == v.to_integral_value():
        return str(int(v))
    return format(v.normalize(), "f") if abs(v.adjusted()) < 30 else str(v.normalize())


def to_attr(v: Value) -> AttributeValue:
    if v is None:
        return {"NULL": True}
    if isinstance(v, bool):
        return {"BOOL": v}
    if isinstance(v, str):
        return {"S": v}
    if isinstance(v, (bytes, bytearray)):
        return {"B": bytes(v)}
    if isinstance(v, (int, float, Decimal)):
        return {"N": number_text(v)}
    if isinstance(v, (set, frozenset)):
        if all(isinstance(x, str) for x in v):
            return {"SS": sorted(v)}
        return {"NS": sorted({number_text(x) for x in v})}
    if isinstance(v, Mapping):
        return {"M": {str(k): to_attr(x) for k, x in v.items()}}
    if isinstance(v, (list, tuple)):
        return {"L": [to_attr(x) for x in v]}
    raise Invalid(f"unsupported attribute value type {type(v).__name__}", code="invalid_value")


def read_number(text: str) -> int | float:
    return int(text) if _INTEGER.fullmatch(text) else float(text)


def from_attr(av: AttributeValue) -> Value:
    (kind, v), = av.items()
    if kind == "S":
        return v
    if kind == "N":
        return read_number(v)
    if kind == "BOOL":
        return bool(v)
    if kind == "NULL":
        return None
    if kind == "B":
        return bytes(v)
    if kind == "M":
        return {k: from_attr(x) for k, x in v.items()}
    if kind == "L":
        return [from_attr(x) for x in v]
    if kind == "SS":
        return set(v)
    if kind == "NS":
        return {read_number(x) for x in v}
    if kind == "BS":
        return {bytes(x) for x in v}
    raise ValueError(f"unknown DynamoDB attribute type {kind}")  # pragma: no cover


def to_item(item: Mapping[str, Value]) -> dict[str, AttributeValue]:
    return {k: to_attr(v) for k, v in item.items()}


def from_item(raw: Mapping[str, AttributeValue]) -> Item:
    return {k: from_attr(v) for k, v in raw.items()}
