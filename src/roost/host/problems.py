"""Errors as RFC 9457 `application/problem+json` with a stable `code` — or, for a person in a
browser, as a small HTML page saying the same thing."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from html import escape
from typing import Any
from urllib.parse import quote

import structlog
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from roost.cloud.errors import RateLimited, RoostError, Unauthorized

log = structlog.get_logger(__name__)
PROBLEM = "application/problem+json"
SIGN_IN_PAGE = "/signin"
"""Where a page that needs a signed-in user sends an anonymous browser (`?next=<path>`)."""
HtmlRenderer = Callable[[Request, Mapping[str, Any]], str]

_HTTP_CODES = {400: ("bad_request", "Bad request"), 401: ("unauthorized", "Sign-in required"),
               403: ("forbidden", "Not allowed"), 404: ("not_found", "Not found"),
               405: ("method_not_allowed", "Method not allowed"),
               406: ("not_acceptable", "Not acceptable"), 413: ("too_large", "Payload too large"),
               415: ("unsupported_media_type", "Unsupported media type"),
               500: ("internal_error", "Internal error")}


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": f"https://roost.dev/problems/{code}", "title": title,
                            "status": status, "code": code, "detail": detail}
    body.update(extra)
    return body


def http_problem(status: int, detail: str | None = None) -> dict[str, Any]:
    code, title = _HTTP_CODES.get(status, (f"http_{status}", "Error"))
    default = {404: "there is nothing at this address",
               405: "this address does not answer that method"}.get(status, title)
    return problem(status, code, title, detail or default)


def validation_problem(errors: list[Any]) -> dict[str, Any]:
    """422 naming each bad field: `{"loc": ["body", "title"], "msg": ..., "type": ...}`."""
    fields = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")),
               "type": str(e.get("type", ""))} for e in errors]
    parts = [f"{'.'.join(str(x) for x in f['loc'][1:] or f['loc'])}: {f['msg']}"
             for f in fields[:5]]
    return problem(422, "validation_failed", "Invalid input",
                   "; ".join(parts) or "the request is not valid", errors=fields)


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def _is_page(request: Request) -> bool:
    return str(getattr(request.scope.get("route"), "name", "")).startswith("page:")


def wants_html(request: Request) -> bool:
    """Pages answer errors in HTML; so does anything a browser navigates to."""
    if _is_page(request):
        return True
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "json" not in accept


def respond(request: Request, body: dict[str, Any], *,
            headers: Mapping[str, str] | None = None) -> Response:
    body = {**body, "request_id": request_id_of(request)}
    renderer: HtmlRenderer | None = getattr(request.app.state, "render_error", None)
    if wants_html(request):
        html = renderer(request, body) if renderer else fallback_html(body)
        return HTMLResponse(html, status_code=body["status"], headers=dict(headers or {}))
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM,
                        headers=dict(headers or {}))


def fallback_html(body: Mapping[str, Any]) -> str:
    return ("<!doctype html><html lang=en><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width,initial-scale=1'>"
            f"<title>{escape(str(body['title']))}</title><main><h1>{escape(str(body['title']))}"
            f"</h1><p>{escape(str(body['detail']))}</p><p><small>{body['status']} · "
            f"{escape(str(body['code']))} · request {escape(str(body.get('request_id')))}"
            "</small></p><p><a href='/'>Home</a></p></main></html>")


def problem_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


# --------------------------------------------------------------------------- handlers


async def on_roost_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RoostError)
    if exc.status >= 500:  # Undeclared (a bug in the function) or a dependency down: say so
        log.error("request_failed", error_code=exc.code, error=exc.message, exc_info=exc)
    headers: dict[str, str] = {}
    if isinstance(exc, Unauthorized) and request.method == "GET" and _is_page(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Response(status_code=303,
                        headers={"Location": f"{SIGN_IN_PAGE}?next={quote(target, safe='')}"})
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    return respond(request, exc.problem(), headers=headers)


async def on_validation_error(request: Request, exc: Exception) -> Response:
    errors = exc.errors() if isinstance(exc, (RequestValidationError, ValidationError)) else []
    return respond(request, validation_problem(list(errors)))


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) and exc.status_code not in (404, 405) \
        else None
    return respond(request, http_problem(exc.status_code, detail),
                   headers=getattr(exc, "headers", None))


HANDLERS: dict[Any, Any] = {
    RoostError: on_roost_error,
    RequestValidationError: on_validation_error,
    ValidationError: on_validation_error,
    HTTPException: on_http_error,
}
