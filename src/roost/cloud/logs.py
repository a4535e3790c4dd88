"""Loggers for modules a Lambda imports: structlog's, imported when first used.

`import structlog` costs 25-80 ms (it loads asyncio, and rich when installed) — a large part of
a Lambda's cold start for a module that logs only now and then. `get_logger(name)` returns a
stand-in that imports structlog and asks it for the logger on the first call, then hands every
call to it, so logging behaves exactly as `structlog.get_logger(name)` would (configured by
`roost.host.logs` locally)."""

from __future__ import annotations

from typing import Any


class LazyLogger:
    """`structlog.get_logger(name)`, fetched on first use."""

    __slots__ = ("_logger", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: Any = None

    def __getattr__(self, attr: str) -> Any:
        if self._logger is None:
            import structlog

            self._logger = structlog.get_logger(self._name)
        return getattr(self._logger, attr)

    def __repr__(self) -> str:
        return f"LazyLogger({self._name!r})"


def get_logger(name: str) -> LazyLogger:
    return LazyLogger(name)
