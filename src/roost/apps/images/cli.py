"""`roost images ...`: the images app's commands. The host mounts this Typer app and hands it,
as the context object, a function that starts the runtime (the app does not import the host)."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated, Any

import typer

app = typer.Typer(help="The images app: Kafka ingestion.", no_args_is_help=True)


def group_timing(session_timeout: float) -> dict[str, int]:
    """Heartbeats at a quarter of the session, rebalances within it (Kafka's own ratios)."""
    session = int(session_timeout * 1000)
    return {"session_timeout_ms": session, "heartbeat_interval_ms": max(100, session // 4),
            "rebalance_timeout_ms": session}


@app.command()
def consume(
    ctx: typer.Context,
    topic: Annotated[str, typer.Option(help="the topic to take images from")],
    bootstrap_servers: Annotated[str, typer.Option(
        "--bootstrap-servers", help="host:port[,host:port...] of the Kafka brokers")
    ] = "127.0.0.1:9092",
    group: Annotated[str, typer.Option(help="the consumer group")] = "roost-images",
    max_messages: Annotated[int | None, typer.Option(
        help="stop after this many messages (default: run until SIGTERM)")] = None,
    idle_seconds: Annotated[float | None, typer.Option(
        help="stop when nothing arrives for this long")] = None,
    session_timeout: Annotated[float, typer.Option(
        min=1, help="seconds without a heartbeat before the group drops this consumer")] = 10,
) -> None:
    """Take images from a Kafka topic: store each raw with its metadata and event, then commit
    (at least once); messages seen before (by key) are stored once."""
    from roost.apps.images import app as images_app
    from roost.apps.images.kafka import consume as run

    if ctx.obj is None:
        raise typer.BadParameter("run this as `roost images consume`")
    runtime: Any = ctx.obj()
    upload = images_app.function("upload")
    stop = asyncio.Event()

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        for s in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(s, stop.set)
        return await run(bootstrap_servers=bootstrap_servers, topic=topic, group=group,
                         make_ctx=lambda: upload.context(runtime.resources),
                         max_messages=max_messages, idle_seconds=idle_seconds, stop=stop,
                         client_options=group_timing(session_timeout))

    from aiokafka.errors import KafkaError

    try:
        tally = asyncio.run(main())
    except KafkaError as exc:
        typer.echo(f"roost images: Kafka at {bootstrap_servers}: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        runtime.close()
    typer.echo(f"stored {tally.stored}, duplicates {tally.duplicates}, skipped {tally.skipped}")
