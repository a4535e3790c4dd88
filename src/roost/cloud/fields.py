"""Field types the apps' models share, where pydantic's default would document or accept
something other than what the apps mean.

`LocalTime`: a wall-clock time of day in some place's own zone (a room opens at 08:00 where it
is). Pydantic documents a plain `datetime.time` as JSON Schema `format: time`, which RFC 3339
defines *with* a UTC offset, and it parses "08:00+02:00" into an aware time that cannot be
compared with a naive one (a 500 waiting to happen). This type documents and accepts exactly
`HH:MM[:SS[.ffffff]]`, no offset, and is what the apps send."""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

LOCAL_TIME_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$"
_LOCAL_TIME = re.compile(LOCAL_TIME_PATTERN, re.ASCII)


def _local_time(value: Any) -> Any:
    """Times without an offset, and strings of the documented pattern; nothing else."""
    if isinstance(value, time) and value.tzinfo is None:
        return value
    if isinstance(value, str) and _LOCAL_TIME.fullmatch(value):
        return value
    raise ValueError("a local time of day is HH:MM or HH:MM:SS, without an offset")


LocalTime = Annotated[time, BeforeValidator(_local_time), WithJsonSchema(
    {"type": "string", "pattern": LOCAL_TIME_PATTERN,
     "description": "local time of day, HH:MM[:SS[.ffffff]], no offset"})]
"""A `datetime.time` of local wall-clock time: documented and accepted as `HH:MM[:SS]`."""
