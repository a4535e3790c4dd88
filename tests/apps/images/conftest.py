"""Fixtures for the images tests: the real host (SQLite, file blobs, dispatcher) on a frozen
clock, with the images settings read afresh from the environment."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from images_helpers import SECRET, Host

from roost.apps.images import app as images_app
from roost.apps.images import config
from roost.cloud.clock import FrozenClock
from roost.host.app import create_app
from roost.host.bootstrap import bootstrap
from roost.host.settings import Settings


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("MAX_BYTES", "MAX_PIXELS", "RETENTION_DAYS", "PRESETS"):
        monkeypatch.delenv(f"ROOST_IMAGES_{name}", raising=False)
    config.settings.cache_clear()
    yield
    config.settings.cache_clear()


@pytest.fixture
def make_images(tmp_path: Path, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
                ) -> Iterator[Callable[..., Host]]:
    """`make_images(MAX_BYTES="1000", ...)`: the host with those `ROOST_IMAGES_*` settings."""
    runtimes = []

    def make(**env: str) -> Host:
        for k, v in env.items():
            monkeypatch.setenv(f"ROOST_IMAGES_{k}", v)
        config.settings.cache_clear()
        settings = Settings(data_dir=tmp_path / f"var{len(runtimes)}", secret=SECRET,
                            run_worker=False)
        runtime = bootstrap(settings, apps=[images_app], clock=clock)
        runtimes.append(runtime)
        return Host(TestClient(create_app(runtime=runtime), raise_server_exceptions=False),
                    runtime, clock)

    yield make
    for r in runtimes:
        r.close()


@pytest.fixture
def host(make_images: Callable[..., Host]) -> Host:
    return make_images()
