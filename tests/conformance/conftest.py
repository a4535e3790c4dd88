"""One behavioural suite per port, parametrised over adapters.

Each fixture below yields a factory for one port; its `params` list the adapters. The AWS adapters
(issue 7) join by adding "dynamodb"/"s3"/"ses" params backed by a moto server; the tests do not
change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from roost.cloud.blobs import Blobs
from roost.cloud.clock import FrozenClock
from roost.cloud.table import Tables, TableSpec

TABLE_ADAPTERS = ["sqlite"]
BLOB_ADAPTERS = ["files"]


@pytest.fixture(params=TABLE_ADAPTERS)
def make_tables(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FrozenClock
) -> Iterator[Callable[[Iterable[TableSpec]], Tables]]:
    """`make_tables(specs)` -> a fresh Tables holding those tables, on the clock fixture."""
    made: list[Tables] = []

    def factory(specs: Iterable[TableSpec]) -> Tables:
        if request.param == "sqlite":
            from roost.cloud.local.sqlite_table import SqliteTables

            t = SqliteTables(tmp_path / f"db{len(made)}.sqlite", specs, clock=clock)
        else:  # pragma: no cover - adapters of later issues
            raise AssertionError(request.param)
        made.append(t)
        return t

    yield factory
    for t in made:
        close = getattr(t, "close", None)
        if close:
            close()


BLOB_SECRET = b"conformance-blob-secret-32-bytes"


@pytest.fixture(params=BLOB_ADAPTERS)
def make_blobs(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FrozenClock
) -> Iterator[Callable[[], Blobs]]:
    """`make_blobs()` -> a fresh, empty Blobs on the clock fixture. Adapters that serve signed
    URLs also offer `verify_signature(key, expires, sig, method)`, which the suite exercises."""
    made: list[Blobs] = []

    def factory() -> Blobs:
        if request.param == "files":
            from roost.cloud.local.file_blobs import FileBlobs

            b: Blobs = FileBlobs(tmp_path / f"blobs{len(made)}", clock=clock, secret=BLOB_SECRET)
        else:  # pragma: no cover - adapters of later issues
            raise AssertionError(request.param)
        made.append(b)
        return b

    yield factory
