"""`roost users`: list users and their roles, grant and revoke roles — on the same data the
server uses (the host's bootstrap), so it works while `roost serve` runs."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from roost.cloud.errors import RoostError
from roost.cloud.identity import Grant
from roost.host.settings import Settings

app = typer.Typer(help="List users, grant and revoke roles.", no_args_is_help=True,
                  add_completion=False)

GrantText = Annotated[str, typer.Argument(help="app:role or app:role:scope, e.g. "
                                               "desks:office_admin:alpha")]
Email = Annotated[str, typer.Argument(help="the user's email address")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"roost users: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def _identity() -> Iterator[Any]:
    from roost.host.bootstrap import bootstrap

    try:
        settings = Settings()
    except Exception as exc:  # pydantic names the setting and what is wrong with it
        raise _fail(f"bad settings: {exc}", 2) from exc
    with bootstrap(settings) as runtime:
        try:
            yield runtime.identity
        except RoostError as exc:
            raise _fail(exc.message) from exc


def _grant(text: str) -> Grant:
    try:
        return Grant.parse(text)
    except ValueError as exc:
        raise _fail(str(exc), 2) from exc


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@app.command("list")
def list_users(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="users per page read")] = 100,
) -> None:
    """Every user, in email order, with their roles."""
    with _identity() as identity:
        cursor: str | None = None
        count = 0
        while True:
            users, cursor = identity.list_users(limit=limit, cursor=cursor)
            for user in users:
                roles = ", ".join(str(g) for g in sorted(identity.grants_of(user.id))) or "-"
                typer.echo(f"{user.email}\t{user.id}\t{user.created_at:%Y-%m-%d}\t{roles}")
                count += 1
            if cursor is None:
                break
        typer.echo(f"{count} user{'s' if count != 1 else ''}", err=True)


@app.command()
def grant(email: Email, role: GrantText) -> None:
    """Give a user a role (the account is created if they have never signed in)."""
    g = _grant(role)
    with _identity() as identity:
        user = identity.grant(email, g, by=_actor())
        typer.echo(f"granted {g} to {user.email}")


@app.command()
def revoke(email: Email, role: GrantText) -> None:
    """Take a role away from a user."""
    g = _grant(role)
    with _identity() as identity:
        if identity.revoke(email, g, by=_actor()):
            typer.echo(f"revoked {g} from {email}")
        else:
            typer.echo(f"{email} did not hold {g}; nothing changed")
