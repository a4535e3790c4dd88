"""`roost rooms ...`: the rooms app's commands (the host mounts this Typer app and hands it a
function that starts the runtime: the app does not import the host)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(help="The rooms app: import rooms.", no_args_is_help=True)


@app.command("import")
def import_rooms(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="a CSV file: name, site, capacity, ...")],
) -> None:
    """Create or replace rooms from a CSV file; a file with any bad row imports nothing."""
    from roost.apps.rooms import app as rooms_app
    from roost.cloud.errors import RoostError

    if ctx.obj is None:
        raise typer.BadParameter("run this as `roost rooms import FILE`")
    runtime: Any = ctx.obj()
    fn = rooms_app.function("import_rooms")
    try:
        done = fn.invoke(fn.context(runtime.resources), path.read_bytes())
    except RoostError as exc:
        typer.echo(f"roost rooms import: {exc.message}", err=True)
        for p in exc.extra.get("problems", []):
            typer.echo(f"  line {p['line']}, {p['column']}: {p['problem']}", err=True)
        raise typer.Exit(1) from exc
    finally:
        runtime.close()
    typer.echo(f"created {len(done.created)}, replaced {len(done.replaced)} rooms")
