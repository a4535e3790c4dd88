"""Sortable identifiers: ULIDs, whose text sorts by creation time.

Ids made in one process within one millisecond (always, under a frozen test clock) are strictly
increasing: the random part is incremented, as the ULID spec's monotonic mode does, so
"newest first" is well defined even for writes in the same millisecond. The last id is kept per
millisecond, because ids stamped by a test clock and by the system clock interleave.

The text is the ULID spec's: the 128-bit value (48 bits of Unix milliseconds, 80 random) as 26
Crockford base32 digits. Encoding that is one line here; the python-ulid package did the
same but cost ~10 ms at import (it reads its own version from the installed metadata), which
every Lambda paid at cold start."""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from datetime import datetime

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80
_REMEMBERED = 1024  # milliseconds whose last id is kept
_lock = threading.Lock()
_last: OrderedDict[int, int] = OrderedDict()  # millisecond -> last id made in it


def new_id(at: datetime | None = None) -> str:
    """A new ULID string; pass the Clock's `now()` so ids sort with the test clock too."""
    ms = int(at.timestamp() * 1000) if at is not None else time.time_ns() // 1_000_000
    with _lock:
        value = (ms << _RANDOM_BITS) | secrets.randbits(_RANDOM_BITS)
        last = _last.get(ms)
        if last is not None and value <= last:
            value = last + 1
        _last[ms] = value
        _last.move_to_end(ms)
        if len(_last) > _REMEMBERED:
            _last.popitem(last=False)
    return ulid_text(value)


def ulid_text(value: int) -> str:
    """A 128-bit value as a ULID: 26 Crockford base32 digits, most significant first."""
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))
