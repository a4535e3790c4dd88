"""The SQLite adapter's stored text: every value the port allows comes back exactly, including
data crafted to look like the codec's own tags."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.cloud.local.sqlite_codec import decode, encode
from roost.cloud.table import loads

names = st.text(max_size=4) | st.sampled_from(["\x00b", "\x00s", "\x00d", "__m", "__b", "~"])
scalars = (st.none() | st.booleans() | st.integers() | st.text(max_size=6)
           | st.floats(allow_nan=False, allow_infinity=False) | st.binary(max_size=6)
           | st.decimals(allow_nan=False, allow_infinity=False, places=3)
           | st.sampled_from(["\x00", "\\u0000", "a\x00b", "~", "\x00b"]))
sets = (st.sets(st.text(max_size=4) | st.sampled_from(["\x00", "\\u0000"]), min_size=1,
                max_size=4)
        | st.sets(st.integers() | st.floats(allow_nan=False, allow_infinity=False),
                  min_size=1, max_size=4))
values = st.recursive(scalars | sets, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(names, inner, max_size=3), max_leaves=12)
items = st.dictionaries(names, values, max_size=6)


@settings(max_examples=200, deadline=None)
@given(items)
def test_every_item_round_trips(item):
    assert decode(encode(item)) == item


@settings(max_examples=100, deadline=None)
@given(items)
def test_decoding_keeps_types_exactly(item):
    """== would pass 1 for True and 1.0 for 1; the stored types must be the ones put."""
    def shape(v):
        if isinstance(v, dict):
            return {k: shape(x) for k, x in v.items()}
        if isinstance(v, list):
            return [shape(x) for x in v]
        if isinstance(v, set):
            return sorted((type(x).__name__, repr(x)) for x in v)
        return (type(v).__name__, repr(v))
    assert shape(decode(encode(item))) == shape(item)


@pytest.mark.parametrize("item", [
    {"m": {"\x00b": "aGk="}},          # a user map that looks like a bytes tag
    {"m": {"\x00s": ["a"]}},
    {"s": "\x00"},
    {"\x00d": "1.5"},
])
def test_data_that_looks_like_tags_is_stored_in_the_port_format(item):
    text = encode(item)
    assert text.startswith("~")
    assert loads(text[1:]) == item
    assert decode(text) == item


def test_tags_are_compact_json():
    text = encode({"b": b"hi", "s": {"x"}, "d": Decimal("1.50"), "t": ("a", 1)})
    assert text == '{"b":{"\\u0000b":"aGk="},"s":{"\\u0000s":["x"]},"d":{"\\u0000d":"1.50"},' \
                   '"t":["a",1]}'
    assert decode(text) == {"b": b"hi", "s": {"x"}, "d": Decimal("1.50"), "t": ["a", 1]}


def test_big_integers_stay_exact():
    n = 10**38 - 1
    assert decode(encode({"n": n, "neg": -n})) == {"n": n, "neg": -n}
