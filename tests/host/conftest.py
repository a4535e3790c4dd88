"""Fixtures for the host tests: a host over test apps, and a real `roost serve` subprocess."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from roost.cloud.functions import App
from roost.host.app import create_app
from roost.host.bootstrap import Runtime, bootstrap
from roost.host.settings import Settings
from support.server import serve_roost

SECRET = "test-secret-" + "x" * 40


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**values: Any) -> Settings:
        values.setdefault("data_dir", tmp_path / "var")
        values.setdefault("secret", SECRET)
        values.setdefault("run_worker", False)
        return Settings(**values)

    return make


@pytest.fixture
def make_host(make_settings, clock) -> Iterator[Callable[..., tuple[TestClient, Runtime]]]:
    """`make_host([apps], **settings)` -> (client, runtime) on the frozen clock; background
    workers stay off unless `run_worker=True`, so tests drive the dispatcher themselves."""
    runtimes: list[Runtime] = []

    def make(apps: list[App], **values: Any) -> tuple[TestClient, Runtime]:
        runtime = bootstrap(make_settings(**values), apps=apps, clock=clock)
        runtimes.append(runtime)
        client = TestClient(create_app(runtime=runtime), raise_server_exceptions=False)
        return client, runtime

    yield make
    for r in runtimes:
        r.close()


@pytest.fixture
def roost_server(tmp_path: Path) -> Iterator[str]:
    """A real `roost serve --demo` on a free port; yields its base URL."""
    with serve_roost(tmp_path, {}, demo=True) as base_url:
        yield base_url
