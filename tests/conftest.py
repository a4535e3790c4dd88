"""Fixtures every test may use."""

from __future__ import annotations

import pytest

from roost.cloud.clock import FrozenClock


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()
