"""Turn SQLite's failures into the error family, so no raw `sqlite3` exception leaves the adapter.

Everything SQLite can raise at run time is about the database, not the caller's input (the input
was validated before): a full disk, a read-only file, a writer that held the lock past the busy
timeout, a corrupt file. All are `Unavailable` (503, safe to retry once the cause is fixed), with a
`code` a person or a health check can act on.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from roost.cloud.errors import Invalid, Unavailable

P = ParamSpec("P")
R = TypeVar("R")


def unavailable(exc: sqlite3.Error, path: Path) -> Unavailable:
    """The `Unavailable` that explains `exc` for the database at `path`."""
    text = str(exc).lower()
    if "disk is full" in text or "database or disk is full" in text:
        return Unavailable(
            f"the database {path} cannot grow: the disk is full (or the database reached its "
            "size limit); free some space and retry", code="disk_full")
    if "readonly" in text or "read-only" in text:
        return Unavailable(
            f"the database {path} is read-only; roost needs write access to the file and its "
            "folder (for the -wal and -shm files)", code="read_only")
    if "locked" in text or "busy" in text:
        return Unavailable(
            f"the database {path} stayed locked by another writer past the busy timeout; "
            "retry, and look for a process holding a long transaction", code="busy")
    if "not a database" in text or "malformed" in text:
        return Unavailable(f"the file {path} is not a usable SQLite database ({exc})",
                           code="corrupt")
    return Unavailable(f"the database {path} failed: {exc}", code="unavailable")


def guarded(method: Callable[P, R]) -> Callable[P, R]:
    """Decorate a method of an object with a `path`: SQLite's failures leave it as
    `Unavailable`, strings SQLite cannot encode (lone surrogates) as `Invalid`. A decorator rather
    than a `with` block because it sits on every call's path and costs less."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except sqlite3.Error as exc:
            owner: Any = args[0]
            raise unavailable(exc, owner.path) from exc
        except UnicodeEncodeError as exc:
            raise Invalid("a string holds characters that are not valid Unicode "
                          "(a lone surrogate)", code="invalid_value") from exc

    return wrapper
