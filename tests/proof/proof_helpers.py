"""Shared by the proof tests: the callers (one per role the registry declares), quiet logs, and
the whole-program host over every installed app with its demo data."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import structlog
from fastapi import FastAPI

from roost.cloud.functions import PUBLIC, USER, Function
from roost.cloud.identity import SYSTEM_ADMIN, SYSTEM_APP, Grant
from roost.host.app import create_app
from roost.host.bootstrap import Runtime, bootstrap
from roost.host.logs import configure_logging
from roost.host.settings import Settings
from support.tokens import access_token

ADMIN = "root@example.com"
PLAIN = "plain@example.com"
SECRET = "proof-secret-" + "p" * 40
SYSTEM_ADMINS = f"{SYSTEM_APP}:{SYSTEM_ADMIN}"


def http_functions(runtime: Runtime) -> list[Function]:
    return [f for f in runtime.registry.functions() if f.kind in ("route", "page")]


def app_roles(runtime: Runtime) -> list[str]:
    """Every `<app>:<role>` some route or page declares."""
    return sorted({r for f in http_functions(runtime) for r in f.roles
                   if r not in (PUBLIC, USER)})


def role_email(role: str) -> str:
    return f"{role.replace(':', '.')}@example.com"


def role_tokens(runtime: Runtime) -> dict[str, str | None]:
    """A real access token per kind of caller: anonymous (None), a plain user, a system admin
    and a holder of each app role (granted for every scope)."""
    tokens: dict[str, str | None] = {"anonymous": None,
                                     "user": access_token(runtime.identity, PLAIN),
                                     "admin": access_token(runtime.identity, ADMIN)}
    for role in app_roles(runtime):
        if role == SYSTEM_ADMINS:
            continue
        app, name = role.split(":")
        runtime.identity.grant(role_email(role), Grant(app, name), by="proof")
        tokens[role] = access_token(runtime.identity, role_email(role))
    return tokens


def passes_gate(fn: Function, who: str) -> bool:
    """Whether the declared roles let this caller through the host's gate."""
    if PUBLIC in fn.roles:
        return True
    if who == "anonymous":
        return False
    return USER in fn.roles or who in ("admin", *fn.roles)


@contextmanager
def quiet_logs(level: str = "warning") -> Iterator[io.StringIO]:
    """Route the logs at `level` and above into a buffer (yielded) for the duration, then put
    the logging set-up back as it was, so other tests see theirs."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, root_level = list(root.handlers), root.level
    buffer = io.StringIO()
    configure_logging(level, "json", stream=buffer)
    try:
        yield buffer
    finally:
        structlog.configure(**saved)
        root.handlers, root.level = handlers, root_level


@dataclass
class Host:
    api: FastAPI
    runtime: Runtime
    tokens: dict[str, str | None]
    logs: io.StringIO


@contextmanager
def whole_host(data_dir: Path) -> Iterator[Host]:
    """Every installed app on real adapters in `data_dir`, demo data loaded, the background
    worker off (the test drives the dispatcher), logs at warning and above captured."""
    with quiet_logs() as logs:
        settings = Settings(data_dir=data_dir, secret=SECRET, run_worker=False,
                            admin_emails=[ADMIN])
        runtime = bootstrap(settings)
        try:
            runtime.run_demos()
            tokens = role_tokens(runtime)
            yield Host(create_app(runtime=runtime), runtime, tokens, logs)
        finally:
            runtime.close()
