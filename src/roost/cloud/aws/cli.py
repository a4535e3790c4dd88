"""`roost deploy ...`: the AWS side of the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Deploy to AWS: the SAM/CloudFormation template and the code package.",
                  no_args_is_help=True)


def _lifecycle(values: list[str] | None) -> dict[str, int] | None:
    if not values:
        return None
    out: dict[str, int] = {}
    for v in values:
        prefix, _, days = v.rpartition("=")
        if not prefix or not days.isdigit() or int(days) < 1:
            raise typer.BadParameter(f"{v!r}: write PREFIX=DAYS, e.g. images/=7")
        out[prefix] = int(days)
    return out


@app.command()
def template(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write here, not stdout")] = None,
    apps: Annotated[str | None, typer.Option(help="comma-separated apps (default: all)")] = None,
    expire: Annotated[list[str] | None, typer.Option(
        help="blob expiry rule PREFIX=DAYS (repeatable; default images/=7)")] = None,
    code_uri: Annotated[str, typer.Option(help="the Lambda code package")] =
        "dist/roost-lambda.zip",
) -> None:
    """Write the template for every installed app's functions (JSON, which SAM reads)."""
    from roost.cloud.aws.template import build_template
    from roost.cloud.functions import Registry
    from roost.host.bootstrap import AppNotFound, installed_apps

    try:
        names = [a.strip() for a in apps.split(",") if a.strip()] if apps else None
        registry = Registry(installed_apps(names))
    except AppNotFound as exc:
        raise typer.BadParameter(str(exc)) from None
    text = json.dumps(build_template(registry, lifecycle=_lifecycle(expire), code_uri=code_uri),
                      indent=1)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n")
        typer.echo(f"wrote {out} ({len(registry.functions())} functions)", err=True)


@app.command()
def package(
    out: Annotated[Path, typer.Option("--out", "-o")] = Path("dist/roost-lambda.zip"),
    arch: Annotated[str, typer.Option(help="arm64 or x86_64")] = "arm64",
    python: Annotated[str, typer.Option(help="Lambda's Python version")] = "3.13",
    deps: Annotated[bool, typer.Option(help="include the dependencies")] = True,
    bytecode: Annotated[bool, typer.Option(
        help="precompile for Lambda's Python (needs that Python here, e.g. python3.13)")] = True,
) -> None:
    """Build the Lambda code package the template points to (CodeUri)."""
    from roost.cloud.aws.package import PackageError, build_package, bytecode_python

    try:
        built = build_package(out, arch=arch, python=python, deps=deps, bytecode=bytecode)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    except PackageError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    compiled = bytecode_python(built)
    typer.echo(f"wrote {built} ({built.stat().st_size // 1024} KiB, "
               f"{'bytecode for Python ' + compiled if compiled else 'no bytecode'})", err=True)
    if bytecode and compiled is None:
        typer.echo(f"warning: no Python {python} here to precompile with: every cold start "
                   "will compile what it imports (over a second). Install it (python"
                   f"{python} on the PATH) or build on it.", err=True)


@app.command()
def cost(
    users: Annotated[int, typer.Option(min=1)] = 10_000,
    requests_per_user_per_day: Annotated[float, typer.Option(min=0)] = 1_000,
    duration_ms: Annotated[float, typer.Option(help="per request")] = 100,
    memory_mb: Annotated[int, typer.Option(min=128, max=10240)] = 1024,
    arm: Annotated[bool, typer.Option(help="Graviton prices")] = False,
    reads_per_request: Annotated[float, typer.Option(min=0)] = 0,
    writes_per_request: Annotated[float, typer.Option(min=0)] = 0,
) -> None:
    """Estimate the monthly bill of a load, line by line (USD, list prices: see the module)."""
    from roost.cloud.aws.cost import DESIGN_ESTIMATE, Load, estimate

    load = Load(users, requests_per_user_per_day, duration_ms, memory_mb, arm,
                reads_per_request, writes_per_request)
    lines = estimate(load)
    typer.echo(f"{load.requests / 1e6:,.1f} M requests a month, {duration_ms:g} ms at "
               f"{memory_mb} MB ({'arm64' if arm else 'x86_64'})")
    for name, usd in lines.items():
        typer.echo(f"  {name:<16} ${usd:>10,.2f}")
    typer.echo(f"  (design estimate ${DESIGN_ESTIMATE:,.0f}: Lambda compute alone; this one "
               f"${lines['lambda compute']:,.2f})")
