"""The function registry: every route, page, event handler, schedule and demo loader, with what it
may touch.

An app declares its functions on an `App` with decorators. Each declaration says who may call it
(`roles`) and what it uses (`Uses`: tables read and written, blob prefixes, mail, event types
published). The registry is the one source the local host, the OpenAPI document, the permission
checks and the AWS template (with its IAM policies) are all built from, so a declaration that is
wrong is wrong everywhere at once — and the local runtime enforces it on every call
(`roost.cloud.guards`), so it is found here, not in production.

Functions stay framework-free: a route is a plain function `f(ctx, body, query, *, path_params)`
returning a pydantic model (or a `Reply` when it needs cookies, headers or a status of its own).
The host (FastAPI locally, the Lambda entry on AWS) does the HTTP; the function never sees it.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel

from roost.cloud.audit import AUDIT, current_actor
from roost.cloud.blobs import Blobs, check_prefix
from roost.cloud.clock import Clock
from roost.cloud.errors import Forbidden, Unauthorized, Undeclared
from roost.cloud.events import OUTBOX, Event, publish
from roost.cloud.guards import GuardedBlobs, GuardedMailer, GuardedTables
from roost.cloud.identity import Identity, Principal
from roost.cloud.ids import new_id
from roost.cloud.mail import Mailer
from roost.cloud.table import Put, Tables, TableSpec

Kind = Literal["route", "page", "handler", "schedule", "demo", "invariant"]
PUBLIC = "public"
USER = "user"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
PAGE_METHODS = ("GET", "POST")
SHARED_READABLE = frozenset({AUDIT.name})
"""Core tables any app may declare as read (the audit trail, filtered by the app's own name)."""

_ROLE = re.compile(r"^[a-z][a-z0-9_-]*:[a-z][a-z0-9_-]*$")
_APP_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PATH_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?\}")
_EVENT_TYPE = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)+$")


class DeclarationError(ValueError):
    """A function's declaration is wrong. Raised at import time, so a bad app never starts."""


# --------------------------------------------------------------------------- declarations


def _names(value: str | TableSpec | Iterable[str | TableSpec] | None, *,
           allow_empty: bool = False) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, TableSpec)):
        value = (value,)
    out: list[str] = []
    for v in value:
        name = v.name if isinstance(v, TableSpec) else v
        if not isinstance(name, str) or not (name or allow_empty):
            raise DeclarationError(f"{v!r} is not a table name, prefix or event type")
        if name not in out:
            out.append(name)
    return tuple(out)


@dataclass(frozen=True)
class Uses:
    """What a function may touch. Tables named in `writes` may also be read (every conditional
    write reads its item); `blobs` are key prefixes, read and write; `publishes` are event types
    it may put into the outbox."""

    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    blobs: tuple[str, ...] = ()
    mail: bool = False
    publishes: tuple[str, ...] = ()

    def __init__(
        self,
        reads: str | TableSpec | Iterable[str | TableSpec] | None = (),
        writes: str | TableSpec | Iterable[str | TableSpec] | None = (),
        blobs: str | Iterable[str] | None = (),
        mail: bool = False,
        publishes: str | Iterable[str] | None = (),
    ) -> None:
        object.__setattr__(self, "reads", _names(reads))
        object.__setattr__(self, "writes", _names(writes))
        object.__setattr__(self, "blobs", _names(blobs, allow_empty=True))
        object.__setattr__(self, "mail", bool(mail))
        object.__setattr__(self, "publishes", _names(publishes))
        for p in self.blobs:
            check_prefix(p)
        for t in self.publishes:
            if not _EVENT_TYPE.match(t):
                raise DeclarationError(f"event type {t!r} must read '<app>.<name>'")
        for t in (*self.reads, *self.writes):
            if t == OUTBOX.name:
                raise DeclarationError(f"do not declare the outbox table {OUTBOX.name!r}: "
                                       "declare the event types instead, Uses(publishes=...)")

    @property
    def readable(self) -> frozenset[str]:
        return frozenset(self.reads) | frozenset(self.writes)

    def describe(self) -> dict[str, Any]:
        return {"reads": list(self.reads), "writes": list(self.writes),
                "blobs": list(self.blobs), "mail": self.mail,
                "publishes": list(self.publishes)}


NOTHING = Uses()


@dataclass(frozen=True)
class Cookie:
    """A cookie a function sets (or deletes, with `max_age=0`)."""

    name: str
    value: str = ""
    max_age: int | None = None  # None: until the browser closes; 0: delete now
    path: str = "/"
    http_only: bool = True
    same_site: Literal["lax", "strict", "none"] = "lax"
    secure: bool | None = None  # None: when the site's base URL is https


@dataclass(frozen=True)
class Reply:
    """What a route or page returns when a bare body is not enough: its own status, headers or
    cookies. `body` is the model (routes) or template context (pages); a route may give ready
    JSON as `bytes`, sent as it is, when building a model of a large answer costs too much."""

    body: Any = None
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Sequence[Cookie] = ()


def redirect(location: str, *, status: int = 303, cookies: Sequence[Cookie] = ()) -> Reply:
    """A redirect, e.g. after a form post (303 See Other, so the browser follows with GET)."""
    return Reply(status=status, headers={"Location": location}, cookies=tuple(cookies))


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def refuse_cross_site(method: str, headers: Mapping[str, str]) -> None:
    """CSRF protection for every host (local and Lambda): a state-changing request that a
    browser sent from another site is refused. Browsers mark such requests with
    `Sec-Fetch-Site: cross-site` or an `Origin` that is not this host; SameSite=Lax cookies keep
    most of them out already, this also stops login CSRF and form posts from sibling sites.
    Requests with an `Authorization` header carry no ambient credential and pass."""
    if method.upper() in SAFE_METHODS:
        return
    lower = {k.lower(): v for k, v in headers.items()}
    if "authorization" in lower:
        return
    origin = lower.get("origin")
    if lower.get("sec-fetch-site") == "cross-site" or (
        origin and origin != "null" and urlsplit(origin).netloc != lower.get("host")
    ):
        raise Forbidden("this form was sent from another site", code="cross_site_form")


@dataclass(frozen=True)
class RequestInfo:
    """The parts of an HTTP request a function may need, without the framework. Headers exclude
    `Authorization` and `Cookie`: credentials reach functions only as `ctx.principal` and,
    for the sign-in routes that manage them, `cookies`."""

    method: str
    path: str
    client: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    request_id: str | None = None
    base_url: str = ""
    htmx: bool = False


@dataclass(frozen=True)
class Function:
    """One declared function. `name` ("<app>.<python name>") is its stable identity: the handler
    name for retries and dead letters, the Lambda's name, the IAM role's name."""

    kind: Kind
    app: str
    name: str
    func: Callable[..., Any]
    uses: Uses
    roles: tuple[str, ...] = ()
    method: str | None = None
    path: str | None = None
    summary: str = ""
    status: int = 200
    template: str | None = None
    event_type: str | None = None
    cron: str | None = None
    tz: str = "UTC"
    body_model: Any = None  # a pydantic model class, `bytes` (raw body) or None
    query_model: type[BaseModel] | None = None
    path_params: Mapping[str, Any] = field(default_factory=dict)  # name -> type
    response_model: Any = None
    passes_event: bool = True  # schedules may take (ctx) or (ctx, event)
    max_body: int | Callable[[], int] | None = None
    """A raw (`body: bytes`) route's own upload limit, checked while the body streams in (413);
    a callable is read per request, so the limit can come from settings. None: the host's."""

    def body_limit(self) -> int | None:
        """This route's upload limit in bytes now, or None for the host's limit alone."""
        return self.max_body() if callable(self.max_body) else self.max_body

    @property
    def description(self) -> str:
        return inspect.getdoc(self.func) or ""

    def describe(self) -> dict[str, Any]:
        """A JSON-ready record of the declaration, for tooling and templates."""
        return {"kind": self.kind, "app": self.app, "name": self.name, "method": self.method,
                "path": self.path, "roles": list(self.roles), "uses": self.uses.describe(),
                "event_type": self.event_type, "cron": self.cron, "tz": self.tz,
                "summary": self.summary, "template": self.template}

    # -- permission ---------------------------------------------------------------------------

    def authorize(self, principal: Principal | None) -> None:
        """Raise unless `principal` may call this function. Roles are alternatives: any one
        suffices. Scoped checks happen inside the function with `ctx.require`."""
        if PUBLIC in self.roles or self.kind in ("handler", "schedule", "demo", "invariant"):
            return
        if principal is None:
            raise Unauthorized("sign in to do this", code="sign_in_required")
        if USER in self.roles:
            return
        for role in self.roles:
            app, name = role.split(":", 1)
            if principal.has(app, name):
                return
        raise Forbidden(f"this needs one of the roles {', '.join(self.roles)}",
                        code="missing_role")

    # -- calling ------------------------------------------------------------------------------

    def context(
        self,
        resources: Resources,
        *,
        principal: Principal | None = None,
        request: RequestInfo | None = None,
    ) -> Ctx:
        """A fresh guarded context for one call of this function."""
        ctx = Ctx(function=self, principal=principal, clock=resources.clock,
                  identity=resources.identity, request=request)
        ctx.tables = GuardedTables(resources.tables, self, on_publish=ctx.published.append)
        ctx.blobs = GuardedBlobs(resources.blobs, self)
        ctx.mail = GuardedMailer(resources.mailer, self)
        return ctx

    def invoke(self, ctx: Ctx, *args: Any, **kwargs: Any) -> Any:
        """Call the function with the audit actor set to whoever is acting."""
        if self.kind == "schedule" and not self.passes_event:
            args = args[:0]
        actor = (ctx.principal.user_id if ctx.principal else None) or current_actor.get()
        token = current_actor.set(actor)
        try:
            return self.func(ctx, *args, **kwargs)
        finally:
            current_actor.reset(token)


@dataclass(frozen=True)
class Resources:
    """The adapters a context is guarded over; built once by `roost.host.bootstrap`."""

    tables: Tables
    blobs: Blobs
    mailer: Mailer
    clock: Clock
    identity: Identity | None = None


@dataclass
class Ctx:
    """What a function gets: the caller, the clock, and the adapters it declared — guarded, so
    anything undeclared raises `Undeclared` at the moment it is touched."""

    function: Function
    principal: Principal | None
    clock: Clock
    identity: Identity | None = None
    request: RequestInfo | None = None
    tables: Tables = field(init=False)
    blobs: Blobs = field(init=False)
    mail: Mailer = field(init=False)
    published: list[Event] = field(default_factory=list)
    """Events this call put into the outbox (the host wakes the dispatcher when non-empty)."""

    @property
    def user(self) -> Principal:
        """The signed-in caller; `Unauthorized` if there is none."""
        if self.principal is None:
            raise Unauthorized("sign in to do this", code="sign_in_required")
        return self.principal

    @property
    def actor(self) -> str | None:
        return self.principal.user_id if self.principal else current_actor.get()

    def now(self) -> Any:
        return self.clock.now()

    def new_id(self) -> str:
        """A sortable id stamped with the clock's time."""
        return new_id(self.clock.now())

    def require(self, app: str, role: str, scope: str | None = None) -> Principal:
        """The caller, if they hold `role` in `app` for `scope` (None: any scope); system admins
        hold every role. `Unauthorized` without a caller, `Forbidden` without the role."""
        user = self.user
        if not user.has(app, role, scope):
            where = f" for {scope}" if scope is not None else ""
            raise Forbidden(f"this needs the {app} role {role!r}{where}", code="missing_role")
        return user

    def event(self, type: str, data: Mapping[str, Any]) -> Event:
        """An event with a sortable id, the clock's time and the actor. Its type must be declared
        in `Uses(publishes=...)`."""
        if type not in self.function.uses.publishes:
            raise Undeclared(
                f"{self.function.name} builds event {type!r} but declares publishes="
                f"{list(self.function.uses.publishes)}; add it to Uses(publishes=...)",
                function=self.function.name, resource=f"event:{type}")
        return Event(type=type, data=dict(data), id=self.new_id(), at=self.clock.now(),
                     actor=self.actor)

    def publish(self, type: str, data: Mapping[str, Any]) -> Put:
        """The outbox write for a new event, to add to the `tables.transact` of the data."""
        return publish(self.event(type, data))


# --------------------------------------------------------------------------- the app


def _caller_file(depth: int = 2) -> Path | None:
    f = sys._getframe(depth).f_globals.get("__file__")
    return Path(f).resolve().parent if f else None


class App:
    """One system (rooms, desks, ...) or system app (auth): its tables and its functions."""

    def __init__(
        self,
        name: str,
        title: str,
        *,
        tables: Sequence[TableSpec],
        description: str = "",
        templates: str | Path | None = None,
    ) -> None:
        if not _APP_NAME.match(name):
            raise DeclarationError(f"app name {name!r}: lower-case letters, digits and '_'")
        self.name = name
        self.title = title
        self.description = description
        self.tables: tuple[TableSpec, ...] = tuple(tables)
        names = [t.name for t in self.tables]
        if len(set(names)) != len(names):
            raise DeclarationError(f"app {name}: a table is declared twice")
        if OUTBOX.name in names:
            raise DeclarationError(f"app {name}: the outbox is the core's table, not an app's")
        here = _caller_file()
        self.templates: Path | None = Path(templates) if templates else (
            here / "templates" if here else None)
        self._functions: dict[str, Function] = {}

    def __repr__(self) -> str:
        return f"App({self.name!r})"

    # -- introspection ------------------------------------------------------------------------

    def functions(self, kind: Kind | None = None) -> list[Function]:
        return [f for f in self._functions.values() if kind is None or f.kind == kind]

    def function(self, name: str) -> Function:
        """By Python name or full name."""
        return self._functions[name if "." in name else f"{self.name}.{name}"]

    @property
    def home_path(self) -> str | None:
        """The app's first parameterless GET page: where the site's navigation links to."""
        for f in self.functions("page"):
            if f.method == "GET" and f.path and "{" not in f.path:
                return f.path
        return None

    # -- decorators ---------------------------------------------------------------------------

    def route(
        self,
        method: str,
        path: str,
        *,
        roles: Sequence[str],
        uses: Uses = NOTHING,
        summary: str = "",
        status: int = 200,
        max_body: int | Callable[[], int] | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """A JSON API route: `f(ctx, [body: Model], [query: Model], *, <path params>) -> Model`.
        `max_body` limits a raw upload (`body: bytes`) below the host's `max_body_bytes`."""
        method = method.upper()
        if method not in METHODS:
            raise DeclarationError(f"method {method!r}: one of {', '.join(METHODS)}")

        def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
            fn = self._http("route", func, method, path, roles, uses, summary, status, None)
            if max_body is not None:
                if fn.body_model is not bytes:
                    raise DeclarationError(f"{fn.name}: max_body limits a raw upload "
                                           "(body: bytes)")
                fn = dataclasses.replace(fn, max_body=max_body)
            self._add(fn)
            return func

        return decorate

    def page(
        self,
        path: str,
        *,
        roles: Sequence[str],
        uses: Uses = NOTHING,
        template: str | None = None,
        method: str = "GET",
        summary: str = "",
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """A server-rendered page: `f(ctx, [body: FormModel], [query: Model], *, <path params>)`
        returns the template's context (a dict) or a `Reply` (`redirect(...)` after a form)."""
        method = method.upper()
        if method not in PAGE_METHODS:
            raise DeclarationError(f"a page answers GET or POST (forms), not {method}")
        if method == "GET" and not template:
            raise DeclarationError(f"page GET {path} needs a template")

        def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
            self._add(self._http("page", func, method, path, roles, uses, summary, 200,
                                 template))
            return func

        return decorate

    def handler(self, event_type: str, *, uses: Uses = NOTHING
                ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """An event handler `f(ctx, event) -> None`, run at least once per event: idempotent."""
        if not _EVENT_TYPE.match(event_type):
            raise DeclarationError(f"event type {event_type!r} must read '<app>.<name>'")

        def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
            self._check_callable(func, 2)
            self._add(Function(kind="handler", app=self.name, name=self._name(func), func=func,
                               uses=self._check_uses(func, uses), event_type=event_type,
                               summary=_first_line(func)))
            return func

        return decorate

    def schedule(self, name: str, cron: str, *, uses: Uses = NOTHING, tz: str = "UTC"
                 ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """A periodic job `f(ctx[, event])`, fired once per period across all processes. It runs
        as the handler of the event `schedule.<app>.<name>`, so it gets retries too."""
        if not re.match(r"^[a-z][a-z0-9_]*$", name):
            raise DeclarationError(f"schedule name {name!r}: lower-case letters, digits and '_'")
        from croniter import croniter

        if not croniter.is_valid(cron):
            raise DeclarationError(f"schedule {name}: {cron!r} is not a cron expression "
                                   "(five fields: minute hour day month weekday)")
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise DeclarationError(f"schedule {name}: {tz!r} is not a time zone") from exc

        def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
            n = self._check_callable(func, 1, 2)
            self._add(Function(kind="schedule", app=self.name, name=self._name(func), func=func,
                               uses=self._check_uses(func, uses), cron=cron, tz=tz,
                               event_type=f"schedule.{self.name}.{name}", passes_event=n == 2,
                               summary=_first_line(func)))
            return func

        return decorate

    def demo(self, func: Callable[..., Any] | None = None, *, uses: Uses | None = None
             ) -> Any:
        """The app's demo-data loader `f(ctx)`, run once by `roost serve --demo`. Without `uses`
        it may read and write the app's own tables and blobs under `<app>/`."""

        def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
            self._check_callable(f, 1)
            if self.functions("demo"):
                raise DeclarationError(f"app {self.name} already has a demo loader")
            u = uses or Uses(writes=self.tables, blobs=(f"{self.name}/",))
            self._add(Function(kind="demo", app=self.name, name=self._name(f), func=f,
                               uses=self._check_uses(f, u), summary=_first_line(f)))
            return f

        return decorate(func) if func is not None else decorate

    def invariant(self, *, uses: Uses) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """A check `f(ctx) -> list[str]` that scans the app's stored data for a broken rule
        (overlapping bookings, a quota exceeded, an orphaned blob) and returns one line per
        problem found. `roost check` runs every invariant and exits non-zero on any finding;
        the fault tests call it. Read-only: `uses` may declare reads only."""

        def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
            self._check_callable(f, 1)
            if uses.writes or uses.mail or uses.publishes:
                raise DeclarationError(f"{self._name(f)}: an invariant only reads")
            self._add(Function(kind="invariant", app=self.name, name=self._name(f), func=f,
                               uses=self._check_uses(f, uses), summary=_first_line(f)))
            return f

        return decorate

    # -- checks -------------------------------------------------------------------------------

    def _name(self, func: Callable[..., Any]) -> str:
        return f"{self.name}.{func.__name__}"

    def _add(self, fn: Function) -> None:
        if fn.name in self._functions:
            raise DeclarationError(f"{fn.name} is declared twice")
        if fn.path is not None:
            for other in self._functions.values():
                if other.path == fn.path and other.method == fn.method:
                    raise DeclarationError(f"{fn.method} {fn.path} is declared by both "
                                           f"{other.name} and {fn.name}")
        self._functions[fn.name] = fn

    def _check_callable(self, func: Callable[..., Any], *counts: int) -> int:
        if not inspect.isfunction(func):
            raise DeclarationError(f"{func!r} is not a plain function")
        params = [p for p in inspect.signature(func).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(params) not in counts:
            want = " or ".join(str(c) for c in counts)
            raise DeclarationError(f"{self._name(func)} takes {want} positional parameter(s) "
                                   "(ctx first)")
        return len(params)

    def _check_uses(self, func: Callable[..., Any], uses: Uses) -> Uses:
        if not isinstance(uses, Uses):
            raise DeclarationError(f"{self._name(func)}: uses= takes a Uses(...)")
        own = {t.name for t in self.tables}
        for t in uses.writes:
            if t not in own:
                raise DeclarationError(f"{self._name(func)} writes table {t!r}, which app "
                                       f"{self.name} does not declare in App(tables=...)")
        for t in uses.reads:
            if t not in own and t not in SHARED_READABLE:
                raise DeclarationError(f"{self._name(func)} reads table {t!r}, which app "
                                       f"{self.name} does not declare in App(tables=...)")
        return uses

    def _http(
        self, kind: Kind, func: Callable[..., Any], method: str, path: str,
        roles: Sequence[str], uses: Uses, summary: str, status: int, template: str | None,
    ) -> Function:
        name = self._name(func)
        if not inspect.isfunction(func):
            raise DeclarationError(f"{func!r} is not a plain function")
        if not path.startswith("/") or "?" in path or "#" in path:
            raise DeclarationError(f"{name}: path {path!r} must start with '/' and hold no "
                                   "query")
        roles = (roles,) if isinstance(roles, str) else tuple(roles)
        if not roles:
            raise DeclarationError(f"{name}: declare who may call it, roles=[...] "
                                   "('public', 'user' or '<app>:<role>')")
        for r in roles:
            if r not in (PUBLIC, USER) and not _ROLE.match(r):
                raise DeclarationError(f"{name}: role {r!r} must be 'public', 'user' or "
                                       "'<app>:<role>'")
        if PUBLIC in roles and len(roles) > 1:
            raise DeclarationError(f"{name}: 'public' admits everyone; list no other role")
        uses = self._check_uses(func, uses)
        if uses.mail:
            raise DeclarationError(f"{name}: requests never send mail; publish an event and "
                                   "send it from a @handler with Uses(mail=True)")
        if not 100 <= status <= 599:
            raise DeclarationError(f"{name}: status {status} is not an HTTP status")

        try:
            hints = typing.get_type_hints(func, include_extras=True)
        except Exception as exc:
            raise DeclarationError(f"{name}: its type hints do not resolve ({exc})") from exc
        declared = {m.group(1): m.group(2) for m in _PATH_PARAM.finditer(path)}
        params = list(inspect.signature(func).parameters.values())
        if not params or params[0].kind not in (params[0].POSITIONAL_ONLY,
                                                params[0].POSITIONAL_OR_KEYWORD):
            raise DeclarationError(f"{name}: the first parameter is the context, `ctx: Ctx`")
        body_model: Any = None
        query_model: type[BaseModel] | None = None
        path_params: dict[str, Any] = {}
        for p in params[1:]:
            hint = hints.get(p.name, str)
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise DeclarationError(f"{name}: no *args or **kwargs, name each parameter")
            if p.name == "body":
                if method == "GET":
                    raise DeclarationError(f"{name}: a GET has no body")
                if not (hint is bytes or _is_model(hint)):
                    raise DeclarationError(f"{name}: `body` must be a pydantic model (or bytes "
                                           "for a raw upload)")
                body_model = hint
            elif p.name == "query":
                if not _is_model(hint):
                    raise DeclarationError(f"{name}: `query` must be a pydantic model")
                query_model = hint
            elif p.name in declared:
                if hint not in (str, int):
                    raise DeclarationError(f"{name}: path parameter {p.name} is str or int")
                path_params[p.name] = hint
            else:
                raise DeclarationError(f"{name}: parameter {p.name!r} is neither body, query "
                                       f"nor a path parameter of {path}")
        missing = set(declared) - set(path_params)
        if missing:
            raise DeclarationError(f"{name}: path parameters {sorted(missing)} of {path} have "
                                   "no keyword parameter")
        response: Any = hints.get("return", inspect.Signature.empty)
        if response is type(None) or response is None:
            response = None
            if kind == "route" and status == 200:
                status = 204  # returns nothing: No Content
        elif response is Reply:
            response = None  # a Reply's body has no declared shape
        return Function(kind=kind, app=self.name, name=name, func=func, uses=uses, roles=roles,
                        method=method, path=path, summary=summary or _first_line(func),
                        status=status, template=template, body_model=body_model,
                        query_model=query_model, path_params=path_params,
                        response_model=None if response is inspect.Signature.empty
                        else response)


def _is_model(hint: Any) -> bool:
    return inspect.isclass(hint) and issubclass(hint, BaseModel)


def _first_line(func: Callable[..., Any]) -> str:
    doc = inspect.getdoc(func) or ""
    return doc.strip().splitlines()[0] if doc.strip() else func.__name__.replace("_", " ")


# --------------------------------------------------------------------------- the registry


class Registry:
    """The installed apps' functions, checked together: one owner per (method, path), one name
    per function, one handler name per event type."""

    def __init__(self, apps: Iterable[App]) -> None:
        self.apps: tuple[App, ...] = tuple(apps)
        seen_apps: set[str] = set()
        routes: dict[tuple[str, str], str] = {}
        for app in self.apps:
            if app.name in seen_apps:
                raise DeclarationError(f"two apps are named {app.name!r}")
            seen_apps.add(app.name)
            for f in app.functions():
                if f.path is not None and f.method is not None:
                    key = (f.method, _shape(f.path))
                    if key in routes:
                        raise DeclarationError(f"{f.method} {f.path} is declared by both "
                                               f"{routes[key]} and {f.name}")
                    routes[key] = f.name

    def functions(self, kind: Kind | None = None) -> list[Function]:
        return [f for app in self.apps for f in app.functions(kind)]

    def function(self, name: str) -> Function:
        for f in self.functions():
            if f.name == name:
                return f
        raise KeyError(name)

    def app(self, name: str) -> App:
        for a in self.apps:
            if a.name == name:
                return a
        raise KeyError(name)

    def table_specs(self) -> list[TableSpec]:
        """Every app's tables, each once."""
        out: dict[str, TableSpec] = {}
        for a in self.apps:
            for t in a.tables:
                out.setdefault(t.name, t)
        return list(out.values())

    def describe(self) -> list[dict[str, Any]]:
        return [f.describe() for f in self.functions()]


def _shape(path: str) -> str:
    """`/rooms/{id}` and `/rooms/{room_id}` are the same route to a router."""
    return _PATH_PARAM.sub("{}", path)
