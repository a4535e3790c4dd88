"""Fixtures for the desks tests: the real host (SQLite, outbox, identity) on a frozen clock."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from desks_helpers import ADMIN, MONDAY, SECRET, Desks
from fastapi.testclient import TestClient

from roost.apps.desks import app as desks_app
from roost.apps.desks.config import settings
from roost.cloud.clock import FrozenClock
from roost.host.app import create_app
from roost.host.bootstrap import Runtime, bootstrap, installed_apps
from roost.host.settings import Settings


@pytest.fixture(autouse=True)
def desks_env(monkeypatch) -> Iterator[None]:
    """Desks settings come from the environment: start each test from the defaults."""
    for k in list(os.environ):
        if k.startswith("ROOST_"):
            monkeypatch.delenv(k)
    settings.cache_clear()
    yield
    settings.cache_clear()


@pytest.fixture
def make_desks(tmp_path: Path) -> Iterator[Callable[..., Desks]]:
    runtimes: list[Runtime] = []

    def make(clock: FrozenClock | None = None, **values: Any) -> Desks:
        clock = clock or FrozenClock(MONDAY)
        values.setdefault("data_dir", tmp_path / f"var{len(runtimes)}")
        values.setdefault("secret", SECRET)
        values.setdefault("run_worker", False)
        values.setdefault("admin_emails", [ADMIN])
        values.setdefault("log_format", "json")  # a 503 logs its traceback: plain text is quick
        apps = [*installed_apps([], system=True), desks_app]
        runtime = bootstrap(Settings(**values), apps=apps, clock=clock)
        runtimes.append(runtime)
        client = TestClient(create_app(runtime=runtime), raise_server_exceptions=False)
        return Desks(client, runtime, clock)

    yield make
    for r in runtimes:
        r.close()


@pytest.fixture
def desks(make_desks) -> Desks:
    d = make_desks()
    d.office()
    return d
