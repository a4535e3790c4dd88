"""`roost desks selftest`: the smoke test after a deploy. It asks the running server to book and
cancel as the configured self-test user (`POST /desks/selftest`) and prints each step."""

from __future__ import annotations

import os
from typing import Annotated

import httpx
import typer

app = typer.Typer(help="Desks: the self-test after a deploy.", no_args_is_help=True,
                  add_completion=False)


@app.command()
def selftest(
    url: Annotated[str | None, typer.Option(help="the server; default ROOST_BASE_URL")] = None,
) -> None:
    """Book and cancel as the self-test user on the server; exit 1 if any step fails. The key
    comes from ROOST_DESKS_SELFTEST_KEY (never from the command line, so no shell history
    or process list shows it)."""
    key = os.environ.get("ROOST_DESKS_SELFTEST_KEY", "")
    base = (url or os.environ.get("ROOST_BASE_URL") or "http://127.0.0.1:8000").rstrip("/")
    if len(key) < 20:
        typer.echo("roost desks: set ROOST_DESKS_SELFTEST_KEY (at least 20 characters)",
                   err=True)
        raise typer.Exit(2)
    try:
        r = httpx.post(f"{base}/desks/selftest", json={"key": key}, timeout=30)
    except httpx.HTTPError as exc:
        typer.echo(f"roost desks: cannot reach {base}: {exc}", err=True)
        raise typer.Exit(1) from exc
    if r.status_code != 200:
        detail = r.json().get("detail", r.text) if r.headers.get(
            "content-type", "").endswith("json") else r.text[:200]
        typer.echo(f"roost desks: self-test refused ({r.status_code}): {detail}", err=True)
        raise typer.Exit(1)
    report = r.json()
    for step in report["steps"]:
        mark = "ok  " if step["ok"] else "FAIL"
        typer.echo(f"{mark} {step['step']}{': ' + step['detail'] if step['detail'] else ''}")
    typer.echo("self-test passed" if report["ok"] else "self-test FAILED")
    raise typer.Exit(0 if report["ok"] else 1)
