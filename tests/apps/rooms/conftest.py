"""Fixtures for the rooms tests: the real host (SQLite, outbox, dispatcher) on a frozen clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rooms_helpers import SECRET, Host

from roost.apps.rooms import app as rooms_app
from roost.cloud.clock import FrozenClock
from roost.host.app import create_app
from roost.host.bootstrap import bootstrap
from roost.host.settings import Settings


@pytest.fixture
def host(tmp_path: Path, clock: FrozenClock) -> Iterator[Host]:
    """Rooms on a fresh data dir; the clock is Monday 2026-01-05 09:00 UTC."""
    settings = Settings(data_dir=tmp_path / "var", secret=SECRET, run_worker=False)
    runtime = bootstrap(settings, apps=[rooms_app], clock=clock)
    try:
        yield Host(TestClient(create_app(runtime=runtime), raise_server_exceptions=False),
                   runtime, clock)
    finally:
        runtime.close()


@pytest.fixture
def atlas(host: Host) -> Host:
    """The host with one room, Atlas (UTC, 08:00-18:00, Monday-Friday, 6 seats)."""
    host.add_room()
    return host
