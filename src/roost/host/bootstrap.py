"""Bootstrap: the one place the embedded adapters are built and wired to the registry.

The host, `roost worker`, the CLI and the tests all get their runtime from `bootstrap`, so they
run the same wiring: tables on `data_dir/roost.sqlite` with every installed app's and the core's
tables, blobs in `data_dir/blobs`, mail to `data_dir/outbox` (or SMTP), identity, the dispatcher
with every `@app.handler` and `@app.schedule` subscribed, and the scheduler. Nothing starts
running here: `Runtime.start()` starts the background workers.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import os
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

import roost.apps
from roost.cloud.audit import AUDIT, current_actor
from roost.cloud.blobs import Blobs
from roost.cloud.clock import Clock, SystemClock
from roost.cloud.errors import ConditionFailed, Unavailable
from roost.cloud.events import Event
from roost.cloud.functions import App, Function, Registry, Resources
from roost.cloud.mail import Mailer
from roost.cloud.table import Tables, TableSpec, attr
from roost.host.settings import Settings

log = structlog.get_logger(__name__)

SYSTEM_APPS = ("roost.host.auth", "roost.host.admin")
"""Apps of the host itself, installed whatever `ROOST_APPS` says (when they exist)."""

DEMOS = TableSpec(name="roost_demos", pk="app", sk=None)
"""One item per app whose demo data was loaded, so `--demo` loads it only once."""

CORE_TABLES: tuple[TableSpec, ...] = (AUDIT, DEMOS)


class AppNotFound(ValueError):
    """`ROOST_APPS` names an app that is not installed."""


def _load_app(module_name: str) -> App:
    module = importlib.import_module(module_name)
    app = getattr(module, "app", None)
    if not isinstance(app, App):
        raise AppNotFound(f"module {module_name} has no `app = App(...)`")
    return app


def installed_apps(names: Sequence[str] | None = None, *, system: bool = True) -> list[App]:
    """The apps to run: each name under `roost.apps` or a module path holding `app: App`
    (None: every package under `roost.apps`), plus the system apps."""
    if names is None:
        names = sorted(m.name for m in pkgutil.iter_modules(roost.apps.__path__) if m.ispkg)
    apps: list[App] = []
    for name in names:
        module = name if "." in name else f"roost.apps.{name}"
        try:
            apps.append(_load_app(module))
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            known = ", ".join(m.name for m in pkgutil.iter_modules(roost.apps.__path__))
            raise AppNotFound(f"ROOST_APPS names {name!r}, but there is no module {module} "
                              f"(installed apps: {known or 'none'})") from exc
    if system:
        for module in SYSTEM_APPS:
            try:
                apps.append(_load_app(module))
            except ModuleNotFoundError as exc:
                if exc.name != module:
                    raise
    return apps


@dataclass
class Runtime:
    """Everything one Roost process runs on."""

    settings: Settings
    clock: Clock
    registry: Registry
    tables: Tables
    blobs: Blobs
    mailer: Mailer
    identity: Any  # LocalIdentity (Identity port + sign-in flows)
    dispatcher: Any  # LocalDispatcher
    scheduler: Any  # Scheduler
    _running: bool = False

    @property
    def resources(self) -> Resources:
        return Resources(tables=self.tables, blobs=self.blobs, mailer=self.mailer,
                         clock=self.clock, identity=self.identity)

    def start(self) -> None:
        """Start the dispatcher and scheduler in background threads."""
        if not self._running:
            self.dispatcher.start()
            self.scheduler.start()
            self._running = True

    def stop(self, timeout: float = 10.0) -> None:
        if self._running:
            self.scheduler.stop(timeout)
            self.dispatcher.stop(timeout)
            self._running = False

    def close(self) -> None:
        self.stop()
        close = getattr(self.tables, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run_demos(self) -> list[str]:
        """Run each app's `@app.demo` that has not run before in this data dir; their names."""
        done = self.tables.table(DEMOS.name)
        ran: list[str] = []
        for fn in self.registry.functions("demo"):
            if done.get({"app": fn.app}) is not None:
                continue
            token = current_actor.set("system")
            try:
                fn.invoke(fn.context(self.resources))
                done.put({"app": fn.app, "function": fn.name,
                          "at": self.clock.now().isoformat()},
                         condition=attr("app").not_exists())
            except ConditionFailed:
                continue  # another process loaded it at the same moment
            finally:
                current_actor.reset(token)
            log.info("demo_loaded", app=fn.app, function=fn.name)
            ran.append(fn.name)
        if ran:
            self.dispatcher.notify()
        return ran


def _deliverer(runtime: Runtime, fn: Function) -> Callable[[Event], None]:
    def deliver(event: Event) -> None:
        ctx = fn.context(runtime.resources)
        fn.invoke(ctx, event)
        if ctx.published:
            runtime.dispatcher.notify()

    deliver.__name__ = fn.name
    return deliver


def _derived(secret: bytes, purpose: str) -> bytes:
    return hmac.new(secret, purpose.encode(), hashlib.sha256).digest()


def writable_data_dir(data: Path) -> None:
    """Create the data folder, or refuse to start with the reason: a read-only folder would
    otherwise surface as SQLite's vague "unable to open database file"."""
    try:
        data.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise Unavailable(f"cannot create the data folder {data}: {exc.strerror or exc}",
                          code="data_dir_unwritable") from exc
    if not os.access(data, os.W_OK | os.X_OK):
        raise Unavailable(f"the data folder {data} is read-only (a read-only mount, or no write "
                          "permission); roost keeps its database, blobs and mail there",
                          code="read_only")


def table_specs(registry: Registry, *extra: Sequence[TableSpec]) -> list[TableSpec]:
    out: dict[str, TableSpec] = {}
    for group in (CORE_TABLES, *extra, registry.table_specs()):
        for spec in group:
            out.setdefault(spec.name, spec)
    return list(out.values())


def bootstrap(
    settings: Settings | None = None,
    *,
    apps: Sequence[App] | None = None,
    clock: Clock | None = None,
) -> Runtime:
    """Build the runtime. `apps` (tests) replaces discovery; `clock` replaces the system clock."""
    from roost.cloud.local.dispatcher import LocalDispatcher
    from roost.cloud.local.file_blobs import FileBlobs
    from roost.cloud.local.identity import LocalIdentity
    from roost.cloud.local.identity_tables import TABLES as IDENTITY_TABLES
    from roost.cloud.local.mail_smtp import mailer_from_url
    from roost.cloud.local.scheduler import Scheduler
    from roost.cloud.local.sqlite_table import SqliteTables

    settings = settings or Settings()
    clock = clock or SystemClock()
    registry = Registry(installed_apps(settings.apps) if apps is None else apps)
    data = Path(settings.data_dir)
    writable_data_dir(data)
    secret = settings.secret_bytes()

    tables = SqliteTables(data / "roost.sqlite",
                          table_specs(registry, LocalDispatcher.TABLES, IDENTITY_TABLES),
                          clock=clock, synchronous=settings.sqlite_synchronous)
    blobs = FileBlobs(data / "blobs", clock=clock, secret=_derived(secret, "blob-urls"),
                      url_base=f"{settings.base_url}/blobs")
    smtp = settings.smtp_url.get_secret_value() if settings.smtp_url else None
    mailer = mailer_from_url(smtp, data / "outbox", clock, settings.mail_sender)
    identity = LocalIdentity(tables, clock=clock, secret=secret,
                             allowed_email_pattern=settings.allowed_email_pattern,
                             email_case_sensitive=settings.email_case_sensitive,
                             admin_emails=settings.admin_emails)
    dispatcher = LocalDispatcher(tables, clock=clock, lease=settings.event_lease_seconds)
    scheduler = Scheduler(tables, clock=clock, notify=dispatcher.notify)
    runtime = Runtime(settings=settings, clock=clock, registry=registry, tables=tables,
                      blobs=blobs, mailer=mailer, identity=identity, dispatcher=dispatcher,
                      scheduler=scheduler)
    for fn in registry.functions():
        if fn.kind == "handler" and fn.event_type:
            dispatcher.subscribe(fn.event_type, fn.name, _deliverer(runtime, fn))
        elif fn.kind == "schedule" and fn.event_type and fn.cron:
            scheduler.add(fn.event_type.removeprefix("schedule."), fn.cron, tz=fn.tz)
            dispatcher.subscribe(fn.event_type, fn.name, _deliverer(runtime, fn))
    ensure_admins = getattr(identity, "ensure_admins", None)
    if ensure_admins is not None and settings.admin_emails:
        ensure_admins()
    return runtime
