"""AWS adapter tests: everything runs against the session's one moto server (tests/support)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from roost.cloud.aws.dynamo_table import DynamoTables
from roost.cloud.clock import FrozenClock
from roost.cloud.table import TableSpec
from support.moto_server import client


@pytest.fixture
def dynamodb() -> Any:
    return client("dynamodb")


@pytest.fixture
def dynamo_tables(dynamodb: Any, clock: FrozenClock) -> Iterator[Callable[..., DynamoTables]]:
    """`dynamo_tables(specs, prefix=None)` -> DynamoTables with its tables created (a fresh
    prefix unless given, so two adapters can share tables); dropped afterwards."""
    made: list[DynamoTables] = []

    def factory(specs: list[TableSpec], prefix: str | None = None) -> DynamoTables:
        t = DynamoTables(dynamodb, specs, clock=clock,
                         prefix=prefix or f"a{uuid.uuid4().hex[:12]}_")
        t.create_tables()
        made.append(t)
        return t

    yield factory
    for t in made:
        t.delete_tables()
