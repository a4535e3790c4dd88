"""The `roost` command: serve the apps, run the background worker alone, print the OpenAPI
document, and (when installed) manage users."""

from __future__ import annotations

import importlib
import json
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

import roost
from roost.host.settings import Settings

app = typer.Typer(help="Roost: six serverless systems, run locally on embedded adapters.",
                  no_args_is_help=True, add_completion=False)


def _settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # pydantic's message names the setting and what is wrong with it
        typer.echo(f"roost: bad settings: {exc}", err=True)
        raise typer.Exit(2) from exc


def _bootstrap(settings: Settings) -> Any:
    from roost.cloud.errors import Unavailable
    from roost.host.bootstrap import AppNotFound, bootstrap

    try:
        return bootstrap(settings)
    except AppNotFound as exc:
        typer.echo(f"roost: {exc}", err=True)
        raise typer.Exit(2) from exc
    except Unavailable as exc:  # the data folder or database cannot be used: say why, briefly
        typer.echo(f"roost: cannot start: {exc.message} ({exc.code})", err=True)
        raise typer.Exit(3) from exc


def _logging(settings: Settings) -> None:
    from roost.host.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)


@app.command()
def serve(
    demo: Annotated[bool, typer.Option(help="load each app's demo data (once)")] = False,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
) -> None:
    """Serve every installed app over HTTP, with the event dispatcher and scheduler inside."""
    import uvicorn

    from roost.host.app import create_app

    settings = _settings()
    _logging(settings)
    runtime = _bootstrap(settings)
    try:
        if demo:
            runtime.run_demos()
        api = create_app(settings, runtime=runtime)
        uvicorn.run(api, host=host, port=port, log_config=None, access_log=False,
                    server_header=False)
    finally:
        runtime.close()


@app.command()
def worker() -> None:
    """Run the event dispatcher and scheduler alone, until SIGTERM or Ctrl-C."""
    import structlog

    settings = _settings()
    _logging(settings)
    log = structlog.get_logger("roost.worker")
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("worker_stopping", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with _bootstrap(settings) as runtime:
        runtime.start()
        log.info("worker_started", handlers=len(runtime.registry.functions("handler")),
                 schedules=len(runtime.registry.functions("schedule")))
        while not stop.wait(0.5):
            pass
        runtime.stop()
    log.info("worker_stopped")


@app.command()
def openapi() -> None:
    """Print the OpenAPI document of the installed apps."""
    from roost.host.app import openapi_document

    typer.echo(json.dumps(openapi_document(_settings()), indent=2))


@app.command()
def check(
    max_event_age: Annotated[int, typer.Option(
        help="minutes after which an undelivered event counts as stuck")] = 10,
) -> None:
    """Scan the stored data for broken invariants: stuck or dead events, and every app's own
    rules. Prints each problem; exits 1 if there is any."""
    from datetime import timedelta

    from roost.host.checks import run_checks

    runtime = _bootstrap(_settings())
    try:
        findings = run_checks(runtime, max_event_age=timedelta(minutes=max_event_age))
    finally:
        runtime.close()
    for f in findings:
        typer.echo(f"{f.check}: {f.problem}")
    checks = 1 + len(runtime.registry.functions("invariant"))
    if findings:
        typer.echo(f"{len(findings)} problem(s) found by {checks} check(s)", err=True)
        raise typer.Exit(1)
    typer.echo(f"no problems found by {checks} check(s)")


@app.command()
def version() -> None:
    """Print roost's version."""
    typer.echo(roost.__version__)


def _mount_users() -> None:
    try:
        users = importlib.import_module("roost.host.cli_users")
    except ModuleNotFoundError as exc:
        if exc.name != "roost.host.cli_users":
            raise
        return
    app.add_typer(users.app, name="users", help="List users, grant and revoke roles.")


_mount_users()
app.add_typer(importlib.import_module("roost.cloud.aws.cli").app, name="deploy",
              help="Deploy to AWS: generate the SAM/CloudFormation template.")


def _start_runtime() -> Any:
    """The runtime for an app command that needs one (`ctx.obj()` in its command): the app
    may not import the host, so the host hands it this."""
    settings = _settings()
    _logging(settings)
    return _bootstrap(settings)


def _mount_app_commands() -> None:
    """An app may bring a command group as `roost/apps/<name>/cli.py` (`app`: a Typer), mounted
    as `roost <name> ...`; only apps that have one are imported. Its commands get
    `_start_runtime` as their context object."""
    import roost.apps

    for folder in roost.apps.__path__:
        for cli in sorted(Path(folder).glob("*/cli.py")):
            module = importlib.import_module(f"roost.apps.{cli.parent.name}.cli")
            app.add_typer(module.app, name=cli.parent.name,
                          context_settings={"obj": _start_runtime})


_mount_app_commands()


if __name__ == "__main__":
    app()
