"""The text an item is stored as: plain JSON from the C encoder, lossless for every value the
Table port allows, at a quarter of the cost of `roost.cloud.table.dumps` (which copies the whole
item in Python to tag every map).

Only the values JSON lacks are tagged, each as a one-key object whose key starts with NUL:
`{"\\u0000b": base64}` for bytes, `{"\\u0000s": [...]}` for sets, `{"\\u0000d": "1.5"}` for
Decimals. A user's own map could in principle have such a key, so the encoder counts its tags
and checks that they are the only NULs in the text; when user data holds a NUL anywhere, the
item is stored in the port's fully tagged format instead, prefixed with "~". Both decode exactly.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from roost.cloud.table import Item, dumps, loads

_BYTES, _SET, _DECIMAL = "\x00b", "\x00s", "\x00d"
_NUL = "\\u0000"  # how JSON writes a NUL character
_PORT_FORMAT = "~"  # prefix of texts in roost.cloud.table's format

_tags = threading.local()  # how many tags the encoder wrote in this thread's current call


def _tag(v: Any) -> Any:
    """`default` of the JSON encoder: called only for what JSON has no type for."""
    if isinstance(v, bytes):
        _tags.n += 1
        return {_BYTES: base64.b64encode(v).decode("ascii")}
    if isinstance(v, (set, frozenset)):
        _tags.n += 1
        return {_SET: list(v)}
    if isinstance(v, Decimal):
        _tags.n += 1
        return {_DECIMAL: str(v)}
    if isinstance(v, Mapping):
        return dict(v)
    raise TypeError(f"cannot store a {type(v).__name__}")


def _untag(d: dict[str, Any]) -> Any:
    if len(d) == 1:
        if _BYTES in d:
            return base64.b64decode(d[_BYTES])
        if _SET in d:
            return set(d[_SET])
        if _DECIMAL in d:
            return Decimal(d[_DECIMAL])
    return d


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_tag)
_TAGGED_DECODER = json.JSONDecoder(object_hook=_untag)


def encode(item: Item) -> str:
    """The stored text of a (validated) item."""
    _tags.n = 0
    text = _ENCODER.encode(item)
    if text.count(_NUL) == _tags.n:
        return text
    return _PORT_FORMAT + dumps(item)  # the data itself holds NULs: no tag is unambiguous


def decode(text: str) -> Item:
    if text.startswith(_PORT_FORMAT):
        return loads(text[1:])  # type: ignore[no-any-return]
    if _NUL in text:
        return _TAGGED_DECODER.decode(text)  # type: ignore[no-any-return]
    return json.loads(text)  # type: ignore[no-any-return]
