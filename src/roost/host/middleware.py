"""The host's one ASGI middleware: request ids, the body-size limit, the last-resort 500 and one
structured log line per request.

Pure ASGI rather than `BaseHTTPMiddleware`, so streaming bodies pass through untouched and the
size limit is enforced while the body arrives, chunked uploads included."""

from __future__ import annotations

import re
import time
from typing import Any

import structlog
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roost.cloud.errors import TooLarge
from roost.cloud.ids import new_id
from roost.host.problems import problem, respond

log = structlog.get_logger("roost.http")
_GOOD_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
SECURITY_HEADERS = ((b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"strict-origin-when-cross-origin"),
                    (b"x-frame-options", b"SAMEORIGIN"))
"""Sent on every answer unless the app set its own."""


class _Exceeded(Exception):
    pass


class RoostMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        given = headers.get("x-request-id", "")
        request_id = given if _GOOD_ID.match(given) else new_id()
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = {"code": 0, "started": False}
        limit = self.max_body_bytes

        over = {"limit": False, "replaced": False}

        async def send_with_id(message: Message) -> None:
            if over["limit"]:
                # The app answered a body it could only read in part (e.g. as a parse error):
                # the honest answer is 413, so that replaces whatever it said.
                if over["replaced"]:
                    return
                over["replaced"] = True
                await respond(Request(scope), _too_large(limit))(scope, receive, _raw)
                return
            await _raw(message)

        async def _raw(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["started"] = True
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in present]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over["limit"] = True
                    raise _Exceeded
            return message

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                declared = headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > limit:
                    raise _Exceeded
                await self.app(scope, limited_receive, send_with_id)
            except Exception as exc:
                request = Request(scope)
                if isinstance(exc, _Exceeded) or _caused_by(exc, _Exceeded):
                    if over["replaced"]:
                        return
                    over["limit"] = False
                    body = _too_large(limit)
                else:
                    log.exception("unhandled_error", method=scope["method"],
                                  path=scope["path"])
                    body = problem(500, "internal_error", "Internal error",
                                   f"something went wrong on our side; quote request id "
                                   f"{request_id} when you report it")
                if status["started"]:
                    raise  # too late to answer differently; the server closes the connection
                await respond(request, body)(scope, receive, send_with_id)
            finally:
                state: dict[str, Any] = scope.get("state", {})
                log.info("request", method=scope["method"], path=scope["path"],
                         status=status["code"],
                         ms=round((time.perf_counter() - started) * 1000, 1),
                         user=state.get("user_id"))


def _too_large(limit: int) -> dict[str, Any]:
    return TooLarge(f"the request body is larger than {limit} bytes",
                    max_bytes=limit).problem()


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen = 0
    cur: BaseException | None = exc
    while cur is not None and seen < 10:
        if isinstance(cur, kind):
            return True
        if isinstance(cur, BaseExceptionGroup):
            return any(_caused_by(e, kind) for e in cur.exceptions)
        cur = cur.__cause__ or cur.__context__
        seen += 1
    return False


