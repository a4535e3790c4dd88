"""Fixtures of the dispatcher and scheduler tests: the events machinery's tables on one SQLite
file, which each call of `open_tables` opens anew, as another process would."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from roost.cloud.clock import FrozenClock
from roost.cloud.local.dispatcher import TABLES
from roost.cloud.local.sqlite_table import SqliteTables
from roost.cloud.table import Tables


@pytest.fixture
def open_tables(tmp_path: Path, clock: FrozenClock) -> Iterator[Callable[[], Tables]]:
    opened: list[SqliteTables] = []

    def factory() -> Tables:
        t = SqliteTables(tmp_path / "roost.sqlite", TABLES, clock=clock)
        opened.append(t)
        return t

    yield factory
    for t in opened:
        t.close()


@pytest.fixture
def tables(open_tables: Callable[[], Tables]) -> Tables:
    return open_tables()
