"""The local host: one FastAPI application built from the function registry.

Each declared route becomes an HTTP endpoint whose body, query and path parameters FastAPI
validates from the function's own type hints (so the OpenAPI document is generated from the same
declaration); the endpoint resolves the caller, checks the declared roles, builds the guarded
`Ctx` and calls the plain function in a worker thread. The dispatcher and scheduler run with the
app's lifespan (unless `run_worker` is off because a `roost worker` runs them).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import structlog
from fastapi import Body, Depends, FastAPI, Form, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from pydantic import TypeAdapter
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

import roost
from roost.cloud.errors import Forbidden, NotFound, RoostError, TooLarge, Unauthorized
from roost.cloud.functions import (
    PUBLIC,
    App,
    Function,
    Registry,
    Reply,
    RequestInfo,
    refuse_cross_site,
)
from roost.cloud.identity import Principal
from roost.host.bootstrap import DEMOS, Runtime, bootstrap, installed_apps
from roost.host.middleware import RoostMiddleware
from roost.host.pages import WEB_TEMPLATES, Pages
from roost.host.problems import HANDLERS
from roost.host.settings import Settings

log = structlog.get_logger(__name__)

ACCESS_COOKIE = "roost_access"
DEV_ROUTERS = ("roost.host.auth.dev_mail",)
"""Host-only pages of the local runtime (`router` in each module), mounted in dev mode only:
they read embedded adapters directly (e.g. the mail outbox) and have no AWS counterpart."""
_HIDDEN_HEADERS = {"authorization", "cookie"}


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    apps: list[App] | None = None,
) -> FastAPI:
    """The ASGI app. Pass `runtime` to share one (it is then yours to close); otherwise one is
    bootstrapped from `settings` (and `apps`, replacing discovery) and closed on shutdown."""
    owned = runtime is None
    if runtime is None:
        runtime = bootstrap(settings, apps=apps)
    rt = runtime
    settings = rt.settings

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.run_worker:
            rt.start()
        log.info("roost_started", apps=[a.name for a in rt.registry.apps],
                 data_dir=str(settings.data_dir), worker=settings.run_worker)
        try:
            yield
        finally:
            rt.stop()
            if owned:
                rt.close()

    api = build_api(rt.registry, settings, lifespan=lifespan)
    api.state.runtime = rt
    return api


def openapi_document(settings: Settings | None = None, *, apps: list[App] | None = None
                     ) -> dict[str, Any]:
    """The OpenAPI document of the installed apps, without touching the data dir."""
    settings = settings or Settings()
    registry = Registry(installed_apps(settings.apps) if apps is None else apps)
    return build_api(registry, settings).openapi()


def build_api(registry: Registry, settings: Settings, *,
              lifespan: Callable[[FastAPI], Any] | None = None) -> FastAPI:
    """The FastAPI app for a registry; requests need `state.runtime` set."""
    api = FastAPI(title="Roost", version=roost.__version__, docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json", lifespan=lifespan,
                  description="Every route of the installed apps, generated from the function "
                  "registry. Roles and declared resources are under `x-roost-*`.")
    pages = Pages(registry, dev_mode=settings.dev_mode)
    api.state.settings = settings
    api.state.pages = pages
    api.state.render_error = lambda request, body: pages.render(
        "error.html", {"problem": body, "title": body["title"]}, app=None,
        principal=getattr(request.state, "principal", None), request=None)
    for exc_type, handler in HANDLERS.items():
        api.add_exception_handler(exc_type, handler)
    api.add_middleware(RoostMiddleware, max_body_bytes=settings.max_body_bytes)

    for app in registry.apps:
        for fn in app.functions():
            if fn.kind == "route":
                _add_route(api, app, fn)
            elif fn.kind == "page":
                _add_page(api, app, fn)
    if not any(f.path == "/" and f.method == "GET" for f in registry.functions("page")):
        api.add_api_route("/", _home, methods=["GET"], include_in_schema=False,
                          name="page:roost.home")
    api.add_api_route("/health", _health, methods=["GET"], tags=["roost"],
                      operation_id="roost.health",
                      summary="Is this server up and its database readable?")
    api.add_api_route("/docs", _docs, methods=["GET"], include_in_schema=False,
                      name="page:roost.docs")
    if settings.dev_mode:
        for module in DEV_ROUTERS:
            try:
                api.include_router(importlib.import_module(module).router)
            except ModuleNotFoundError as exc:
                if exc.name != module:
                    raise
    api.add_api_route("/blobs/{key:path}", _get_blob, methods=["GET"], include_in_schema=False)
    api.add_api_route("/blobs/{key:path}", _put_blob, methods=["PUT"], include_in_schema=False)
    api.mount("/static", StaticFiles(directory=WEB_TEMPLATES.parent / "static",
                                     check_dir=False), name="static")
    api.openapi = lambda: _openapi(api)  # type: ignore[method-assign]
    return api


# --------------------------------------------------------------------------- calling a function


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def _token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(ACCESS_COOKIE) or None


def _principal(rt: Runtime, request: Request, fn: Function | None) -> Principal | None:
    """The verified caller. A bad or expired token fails a protected call (so the client knows
    to refresh) but counts as anonymous on public ones."""
    token = _token(request)
    if not token or rt.identity is None:
        return None
    try:
        principal: Principal = rt.identity.authenticate(token)
    except Unauthorized:
        if fn is None or PUBLIC in fn.roles:
            return None
        raise
    request.state.principal = principal
    request.state.user_id = principal.user_id
    return principal


def _request_info(request: Request, settings: Settings) -> RequestInfo:
    return RequestInfo(
        method=request.method, path=request.url.path,
        client=request.client.host if request.client else None,
        headers={k: v for k, v in request.headers.items() if k not in _HIDDEN_HEADERS},
        cookies=dict(request.cookies), request_id=getattr(request.state, "request_id", None),
        base_url=settings.base_url, htmx=request.headers.get("hx-request") == "true")


def _gate(fn: Function) -> Callable[[Request], Principal | None]:
    """A dependency run before the body is parsed, so an anonymous caller learns "sign in"
    (401) before anything about the body (422)."""

    def gate(request: Request) -> Principal | None:
        refuse_cross_site(request.method, request.headers)
        principal = _principal(_runtime(request), request, fn)
        fn.authorize(principal)
        return principal

    return gate


def _call(rt: Runtime, fn: Function, request: Request, principal: Principal | None,
          args: dict[str, Any]) -> tuple[Any, RequestInfo]:
    """Runs in a worker thread: build the guarded context, call, wake the dispatcher."""
    info = _request_info(request, rt.settings)
    ctx = fn.context(rt.resources, principal=principal, request=info)
    result = fn.invoke(ctx, **args)
    if ctx.published or request.method != "GET":
        rt.dispatcher.notify()  # adapters (identity) may publish outside the guards: cheap
    return result, info


def _signature(fn: Function, *, form: bool) -> inspect.Signature:
    kw = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("request", kw, annotation=Request),
              inspect.Parameter("principal", kw,
                                annotation=Annotated[Principal | None, Depends(_gate(fn))])]
    if fn.body_model is not None and fn.body_model is not bytes:
        marker = Form() if form else Body()
        params.append(inspect.Parameter("body", kw, annotation=Annotated[fn.body_model, marker]))
    if fn.query_model is not None:
        params.append(inspect.Parameter("query", kw,
                                        annotation=Annotated[fn.query_model, Query()]))
    for name, typ in fn.path_params.items():
        params.append(inspect.Parameter(name, kw, annotation=Annotated[typ, Path()]))
    return inspect.Signature(params)


def _apply_reply(response: Response, reply: Reply, settings: Settings) -> Response:
    for k, v in reply.headers.items():
        response.headers[k] = v
    for c in reply.cookies:
        secure = settings.secure_cookies if c.secure is None else c.secure
        response.set_cookie(c.name, c.value, max_age=c.max_age, path=c.path,
                            httponly=c.http_only, samesite=c.same_site, secure=secure,
                            expires=0 if c.max_age == 0 else None)
    return response


async def _raw_body(request: Request, limit: int | None) -> bytes:
    """A raw upload, refused (413) as soon as it passes the route's own limit: by its declared
    length before reading, else while it streams in. The host's limit still applies above it."""
    if limit is None:
        return await request.body()
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"the upload is larger than {limit} bytes", max_bytes=limit)
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the upload is larger than {limit} bytes", max_bytes=limit)
        parts.append(chunk)
    return b"".join(parts)


def _add_route(api: FastAPI, app: App, fn: Function) -> None:
    adapter = TypeAdapter(fn.response_model) if fn.response_model is not None else None

    async def endpoint(request: Request, principal: Principal | None, **kwargs: Any) -> Any:
        rt = _runtime(request)
        if fn.body_model is bytes:
            kwargs["body"] = await _raw_body(request, fn.body_limit())
        result, _ = await run_in_threadpool(_call, rt, fn, request, principal, kwargs)
        if isinstance(result, Reply):
            body = result.body
            status = result.status or fn.status
            response: Response
            if status == 204:
                response = Response(status_code=status)
            elif isinstance(body, bytes):  # ready JSON (see `Reply`)
                response = Response(body, status_code=status, media_type="application/json")
            elif adapter is not None and body is not None:
                # Straight to JSON bytes: no intermediate tree of a large answer to build,
                # walk again and collect.
                response = Response(adapter.dump_json(body), status_code=status,
                                    media_type="application/json")
            else:
                response = JSONResponse(jsonable_encoder(body), status_code=status)
            return _apply_reply(response, result, rt.settings)
        return result

    endpoint.__signature__ = _signature(fn, form=False)  # type: ignore[attr-defined]
    endpoint.__name__ = fn.name.replace(".", "_")
    security = [] if PUBLIC in fn.roles else [{"bearer": []}, {"cookie": []}]
    extra: dict[str, Any] = {"x-roost-function": fn.name, "x-roost-roles": list(fn.roles),
                             "x-roost-uses": fn.uses.describe(), "security": security}
    if fn.body_model is bytes:
        extra["requestBody"] = {"content": {"application/octet-stream": {
            "schema": {"type": "string", "format": "binary"}}}, "required": True}
    api.add_api_route(
        fn.path or "/", endpoint, methods=[fn.method or "GET"], name=fn.name,
        response_model=fn.response_model, status_code=fn.status, summary=fn.summary,
        description=fn.description, tags=[app.name], operation_id=fn.name,
        openapi_extra=extra, responses=_error_responses(fn))


def _add_page(api: FastAPI, app: App, fn: Function) -> None:
    async def endpoint(request: Request, principal: Principal | None, **kwargs: Any
                       ) -> Response:
        rt = _runtime(request)
        pages: Pages = request.app.state.pages
        result, info = await run_in_threadpool(_call, rt, fn, request, principal, kwargs)
        reply = result if isinstance(result, Reply) else Reply(body=result)
        if "Location" in reply.headers or "location" in reply.headers:
            response: Response = Response(status_code=reply.status or 303)
        else:
            if fn.template is None:
                raise RoostError(f"{fn.name} has no template to render", code="no_template")
            html = await run_in_threadpool(pages.render, fn.template, reply.body, app=app,
                                           principal=principal, request=info)
            response = HTMLResponse(html, status_code=reply.status or 200)
        return _apply_reply(response, reply, rt.settings)

    endpoint.__signature__ = _signature(fn, form=True)  # type: ignore[attr-defined]
    endpoint.__name__ = fn.name.replace(".", "_")
    api.add_api_route(fn.path or "/", endpoint, methods=[fn.method or "GET"],
                      name=f"page:{fn.name}", include_in_schema=False,
                      response_class=HTMLResponse)


def _error_responses(fn: Function) -> dict[int | str, dict[str, Any]]:
    ref = {"content": {"application/problem+json": {
        "schema": {"$ref": "#/components/schemas/Problem"}}}}
    out: dict[int | str, dict[str, Any]] = {"4XX": {"description": "a problem", **ref}}
    if PUBLIC not in fn.roles:
        out[401] = {"description": "sign-in required", **ref}
        out[403] = {"description": "missing role", **ref}
    return out


def _openapi(api: FastAPI) -> dict[str, Any]:
    if api.openapi_schema is None:
        doc = get_openapi(title=api.title, version=api.version, description=api.description,
                          routes=api.routes)
        comps = doc.setdefault("components", {})
        comps.setdefault("securitySchemes", {}).update({
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "cookie": {"type": "apiKey", "in": "cookie", "name": ACCESS_COOKIE}})
        comps.setdefault("schemas", {})["Problem"] = {
            "type": "object", "description": "RFC 9457 problem details",
            "required": ["type", "title", "status", "code", "detail"],
            "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                           "status": {"type": "integer"}, "code": {"type": "string"},
                           "detail": {"type": "string"}, "request_id": {"type": "string"},
                           "errors": {"type": "array", "items": {"type": "object"}}}}
        api.openapi_schema = doc
    return api.openapi_schema


# --------------------------------------------------------------------------- the host's own routes


def _health(request: Request) -> dict[str, Any]:
    rt = _runtime(request)
    rt.tables.table(DEMOS.name).get({"app": "-"})  # the database answers
    return {"status": "ok", "version": roost.__version__,
            "apps": [a.name for a in rt.registry.apps]}


def _home(request: Request) -> HTMLResponse:
    rt = _runtime(request)
    principal = _principal(rt, request, None)
    pages: Pages = request.app.state.pages
    return HTMLResponse(pages.render("home.html", {"title": "Roost"}, app=None,
                                     principal=principal,
                                     request=_request_info(request, rt.settings)))


def _docs(request: Request) -> HTMLResponse:
    rt = _runtime(request)
    pages: Pages = request.app.state.pages
    doc = request.app.openapi()
    operations = [{"method": method.upper(), "path": path, **op}
                  for path, item in doc.get("paths", {}).items()
                  for method, op in item.items()]
    return HTMLResponse(pages.render(
        "roost_docs.html", {"title": "API", "operations": operations, "doc": doc},
        app=None, principal=_principal(rt, request, None),
        request=_request_info(request, rt.settings)))


def _signed(request: Request, method: str) -> tuple[Runtime, str]:
    rt = _runtime(request)
    key = request.path_params["key"]
    verify = getattr(rt.blobs, "verify_signature", None)
    if verify is None:
        raise NotFound("this server does not serve blobs itself")
    expires, sig = request.query_params.get("expires", ""), request.query_params.get("sig", "")
    if not expires.isdigit() or not sig:
        raise Forbidden("this link is not valid", code="bad_signature")
    verify(key, int(expires), sig, method)
    return rt, key


def _get_blob(request: Request) -> Response:
    rt, key = _signed(request, "GET")
    info, chunks = rt.blobs.get(key)
    return StreamingResponse(chunks, media_type=info.content_type, headers={
        "Content-Length": str(info.size), "ETag": f'"{info.etag}"',
        "Cache-Control": "private, max-age=60", "X-Content-Type-Options": "nosniff"})


async def _put_blob(request: Request) -> Response:
    rt, key = await run_in_threadpool(_signed, request, "PUT")
    data = await request.body()
    info = await run_in_threadpool(
        rt.blobs.put, key, data,
        content_type=request.headers.get("content-type", "application/octet-stream"),
        max_bytes=rt.settings.max_body_bytes)
    return JSONResponse({"key": info.key, "size": info.size, "etag": info.etag},
                        headers={"ETag": f'"{info.etag}"'})

