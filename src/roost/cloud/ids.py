"""Sortable identifiers: ULIDs, whose text sorts by creation time."""

from __future__ import annotations

from datetime import datetime

from ulid import ULID


def new_id(at: datetime | None = None) -> str:
    """A new ULID string; pass the Clock's `now()` so ids sort with the test clock too."""
    if at is None:
        return str(ULID())
    return str(ULID.from_datetime(at))
