"""`roost check` on images: blobs and metadata agree, on the real host (SQLite, file blobs)."""

from __future__ import annotations

from datetime import timedelta

from images_helpers import jpeg
from typer.testing import CliRunner

from roost.apps.images import store
from roost.cloud.clock import FrozenClock
from roost.host.bootstrap import bootstrap
from roost.host.checks import run_checks
from roost.host.cli import app as cli
from roost.host.settings import Settings

CHECK = "images.blobs_match_metadata"


def findings(host) -> list[str]:
    return [f.problem for f in run_checks(host.runtime, max_event_age=timedelta(days=30))
            if f.check == CHECK]


def processed(host) -> str:
    image_id = host.upload(jpeg(120, 80)).json()["id"]
    host.deliver()
    return image_id


def test_a_clean_store_reports_nothing(host):
    processed(host)
    host.upload(jpeg(90, 60))  # received, not processed yet: its raw blob is all it has
    host.clock.advance(hours=2)
    assert findings(host) == []


def test_an_orphan_blob_is_reported_once_past_the_grace(host):
    kept = processed(host)
    host.runtime.blobs.put("images/01ORPHAN/raw", b"left by a crashed upload")
    assert findings(host) == []  # a fresh blob may be an upload whose transaction is pending
    host.clock.advance(minutes=4)
    assert findings(host) == []
    host.clock.advance(minutes=2)
    [problem] = findings(host)
    assert "orphan blob(s) of image 01ORPHAN (raw;" in problem
    assert kept not in problem


def test_blobs_of_an_expired_image_wait_for_the_purge_then_are_overdue(host):
    image_id = processed(host)
    host.clock.advance(days=7, seconds=1)  # the metadata's TTL hides it; the marker remains
    assert findings(host) == []
    host.clock.advance(hours=2)  # and no purge ran
    [problem] = findings(host)
    assert f"image {image_id} expired" in problem and "the purge has not run" in problem
    host.runtime.scheduler.tick()
    host.deliver()
    assert findings(host) == []


def test_an_image_without_its_blobs_is_reported(host):
    image_id = processed(host)
    item = store.image(host.runtime.tables, image_id)
    thumb = next(iter(item["variants"].values()))["key"]
    host.runtime.blobs.delete(store.raw_key(image_id))
    host.runtime.blobs.delete(thumb)
    [problem] = findings(host)
    assert f"image {image_id} (processed) is missing blob(s): raw, " in problem
    assert thumb.removeprefix(store.blob_prefix(image_id)) in problem


def test_roost_check_exits_1_on_an_orphan_blob(tmp_path, monkeypatch):
    monkeypatch.setenv("ROOST_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("ROOST_SECRET", "s" * 40)
    runner = CliRunner()
    clean = runner.invoke(cli, ["check"])
    assert clean.exit_code == 0, clean.output

    runtime = bootstrap(Settings(), clock=FrozenClock())  # 2026-01-05: long before now
    runtime.blobs.put("images/01ORPHANCLI/raw", b"left by a crashed upload")
    runtime.close()
    found = runner.invoke(cli, ["check"])
    assert found.exit_code == 1, found.output
    assert f"{CHECK}: 1 orphan blob(s) of image 01ORPHANCLI (raw;" in found.output
