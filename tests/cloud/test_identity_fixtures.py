"""Fixtures for the identity tests: a real SqliteTables with the outbox, on the frozen clock.
(Named test_* only so it sits with the identity tests; it holds no tests itself.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST

from roost.cloud.clock import FrozenClock
from roost.cloud.events import OUTBOX
from roost.cloud.local.identity import TABLES, LocalIdentity
from roost.cloud.local.sqlite_table import SqliteTables

SECRET = b"test-secret-test-secret-test-secret!"
CHEAP = PasswordHasher.from_parameters(CHEAPEST)  # the policy is under test, not argon2's cost


@pytest.fixture
def id_tables(tmp_path: Path, clock: FrozenClock) -> Iterator[SqliteTables]:
    t = SqliteTables(tmp_path / "identity.sqlite", [*TABLES, OUTBOX], clock=clock)
    yield t
    t.close()


@pytest.fixture
def make_identity(id_tables: SqliteTables, clock: FrozenClock) -> Callable[..., LocalIdentity]:
    def make(**kwargs: Any) -> LocalIdentity:
        kwargs.setdefault("password_hasher", CHEAP)
        return LocalIdentity(id_tables, clock=clock, secret=SECRET, **kwargs)

    return make


@pytest.fixture
def ident(make_identity: Callable[..., LocalIdentity]) -> LocalIdentity:
    return make_identity()


def events(id_tables: SqliteTables, type: str | None = None) -> list[dict[str, Any]]:
    items = id_tables.table(OUTBOX.name).query("pending").items
    return [i for i in items if type is None or i["type"] == type]


def mailed_code(ident: LocalIdentity, id_tables: SqliteTables, email: str,
                type: str = "auth.code_requested") -> str:
    """What the mail handler would send: the code recomputed from the last event's code id."""
    data = events(id_tables, type)[-1]["data"]
    assert data["email"] == email
    return ident.code_for(data["code_id"], email)


def all_items(id_tables: SqliteTables) -> list[dict[str, Any]]:
    out = []
    for spec in [*TABLES, OUTBOX]:
        out.extend(id_tables.table(spec.name).scan().items)
    return out
