"""Structured logs: one event per line, JSON when not on a terminal, with the request id bound.

Secrets never reach a log: the host logs no headers, bodies or query strings, and as a second
line of defence every event passes `redact`, which blanks any field whose name says it holds a
credential (authorization, cookie, password, code, token, secret)."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

REDACTED = "[redacted]"
_SECRET_NAME = re.compile(
    r"(authorization|cookie|password|passwd|secret|token|api[_-]?key|smtp_url"
    r"|^(code|otp|sig|one_time_code|verification_code)$)", re.IGNORECASE)


def _scrub(value: Any, depth: int = 0) -> Any:
    if depth > 6:
        return value
    if isinstance(value, dict):
        return {k: REDACTED if _is_secret(k) else _scrub(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub(v, depth + 1) for v in value)
    return value


def _is_secret(name: object) -> bool:
    return isinstance(name, str) and bool(_SECRET_NAME.search(name))


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]
           ) -> MutableMapping[str, Any]:
    """A structlog processor blanking credential-named fields, nested ones too."""
    for key in list(event):
        if key == "event":
            continue
        event[key] = REDACTED if _is_secret(key) else _scrub(event[key])
    return event


def configure_logging(level: str = "info", fmt: str = "auto", *,
                      stream: TextIO | None = None) -> None:
    """Route structlog and the standard library (uvicorn included) through one renderer, to
    `stream` (default: standard error)."""
    stream = stream or sys.stderr
    json_out = fmt == "json" or (fmt == "auto" and not stream.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]
    renderer: Any = (structlog.processors.JSONRenderer() if json_out
                     else structlog.dev.ConsoleRenderer(colors=stream.isatty()))
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info if json_out else _keep,
                    renderer],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.set_name("roost")
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if h.get_name() != "roost"] + [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers = []
        lg.propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # the host logs each request itself
    for chatty in ("httpx", "httpcore"):  # they log whole URLs, signed query strings included
        logging.getLogger(chatty).setLevel(logging.WARNING)


def _keep(_logger: Any, _method: str, event: MutableMapping[str, Any]
          ) -> MutableMapping[str, Any]:
    return event
