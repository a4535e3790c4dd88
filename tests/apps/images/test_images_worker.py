"""Processing under trouble, configurable presets, the demo data, and the upload limit through
a real HTTP server."""

from __future__ import annotations

import contextlib
import json
import threading
import time

import httpx
import uvicorn
from images_helpers import ANA, jpeg

from roost.apps.images import store
from roost.host.app import create_app
from support.server import free_port


def test_a_failing_store_is_retried_then_the_image_is_marked_failed(host):
    image_id = host.upload(jpeg(300, 200)).json()["id"]
    root = host.runtime.settings.data_dir / "blobs" / "images" / image_id
    (root / "thumbnail.jpg%blob").mkdir(parents=True)  # the variant cannot be written there
    host.deliver()
    item = store.image(host.runtime.tables, image_id)
    assert item["status"] == "received" and item["attempts"] == 1  # left for a retry
    for _ in range(10):
        host.clock.advance(minutes=10)  # past the dispatcher's backoff
        host.deliver()
        if store.image(host.runtime.tables, image_id)["status"] != "received":
            break
    item = store.image(host.runtime.tables, image_id)
    assert item["status"] == "failed" and item["reason"] == "processing_error"
    assert item["attempts"] == 4 and item["detail"]
    assert host.runtime.dispatcher.dead_letters() == []  # settled, not parked


def test_presets_come_from_the_settings(make_images):
    presets = [{"name": "tiny", "width": 32, "height": 32, "mode": "fill", "format": "png",
                "grayscale": True},
               {"name": "avif", "width": 100, "format": "avif"}]
    host = make_images(PRESETS=json.dumps(presets))
    image_id = host.upload(jpeg(400, 300)).json()["id"]
    host.deliver()
    got = host.image(image_id).json()
    assert {(v["name"], v["format"], v["width"], v["height"]) for v in got["variants"]} == {
        ("tiny", "png", 32, 32), ("avif", "avif", 100, 75)}
    assert sorted(k.rsplit("/", 1)[1] for k in host.blob_keys()) == ["avif.avif", "raw",
                                                                      "tiny.png"]


def test_the_demo_loads_three_images_once(host):
    assert host.runtime.run_demos() == ["images.demo_images"]
    assert host.runtime.run_demos() == []
    host.deliver()
    rows = host.rows(store.IMAGES.name)
    assert len(rows) == 3 and {r["status"] for r in rows} == {"processed"}
    assert {r["source"] for r in rows} == {"demo"}


def test_a_real_server_refuses_an_oversized_stream_while_it_arrives(make_images):
    host = make_images(MAX_BYTES="1000000")  # under the host's own 12 MiB
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(runtime=host.runtime), host="127.0.0.1",
                                           port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        sent = {"bytes": 0}

        def body():  # 21 MB, chunked: no length to refuse it by up front
            chunk = b"\xff\xd8\xff" + b"\x00" * (64 * 1024 - 3)
            for _ in range(320):
                sent["bytes"] += len(chunk)
                yield chunk

        answer = None
        # (a server may also answer 413 and close while the client still sends)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http, \
                contextlib.suppress(httpx.HTTPError):
            answer = http.post("/images", content=body(), headers={
                    **host.as_(ANA), "Content-Type": "image/jpeg"})
        assert answer is None or answer.status_code == 413, answer.text
        if answer is not None:  # refused by the route's limit, not the host's 12 MiB
            assert answer.json()["max_bytes"] == 1_000_000
        assert sent["bytes"] > 1_000_000
        assert host.blob_keys() == [] and host.rows(store.IMAGES.name) == []
    finally:
        server.should_exit = True
        thread.join(10)
