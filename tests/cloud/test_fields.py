"""`LocalTime`: a local time of day, documented and accepted as `HH:MM[:SS[.ffffff]]`."""

from __future__ import annotations

import re
from datetime import time, timedelta, timezone

import pytest
from pydantic import BaseModel, ValidationError

from roost.cloud.fields import LOCAL_TIME_PATTERN, LocalTime


class Hours(BaseModel):
    opens: LocalTime = time(8, 0)


@pytest.mark.parametrize("text, parsed", [
    ("08:00", time(8, 0)), ("23:59:59", time(23, 59, 59)),
    ("00:00:00.25", time(0, 0, 0, 250_000)),
])
def test_local_times_parse_from_json(text, parsed):
    assert Hours.model_validate_json(f'{{"opens": "{text}"}}').opens == parsed
    assert re.fullmatch(LOCAL_TIME_PATTERN, text)


@pytest.mark.parametrize("value", ["08:00+02:00", "08:00Z", "8:00", "24:00", "08:00\n",
                                   "08:0", 3600, time(8, tzinfo=timezone(timedelta(hours=2)))])
def test_offsets_and_other_shapes_are_refused(value):
    with pytest.raises(ValidationError, match="without an offset"):
        Hours(opens=value)


def test_the_schema_says_what_is_sent():
    prop = Hours.model_json_schema()["properties"]["opens"]
    assert prop["type"] == "string" and prop["pattern"] == LOCAL_TIME_PATTERN
    assert "format" not in prop
    sent = Hours().model_dump(mode="json")["opens"]
    assert sent == "08:00:00" and re.fullmatch(LOCAL_TIME_PATTERN, sent)
