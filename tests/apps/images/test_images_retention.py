"""Retention on the test clock: after 7 days nothing of an image remains, blob or item."""

from __future__ import annotations

from images_helpers import ADMIN, ANA, jpeg

from roost.apps.images import store


def purge(host) -> None:
    host.runtime.scheduler.tick()
    host.deliver()


def test_after_seven_days_nothing_of_an_image_remains(host):
    kept = host.upload(jpeg(300, 200), key="first").json()["id"]
    host.deliver()
    assert len(host.blob_keys()) == 5  # raw + four variants
    host.clock.advance(days=3)
    later = host.upload(jpeg(300, 200)).json()["id"]
    host.deliver()

    host.clock.advance(days=4, seconds=1)  # the first image is 7 days old
    assert host.image(kept).status_code == 404  # the metadata's TTL hides it at once
    purge(host)
    assert not [k for k in host.blob_keys() if k.startswith(f"images/{kept}/")]
    assert [r for r in host.rows(store.IMAGES.name) if r["id"] == kept] == []
    assert [r for r in host.rows(store.DUE.name) if r["sk"] == kept] == []
    assert host.rows(store.KEYS.name) == []
    assert host.image(later).json()["status"] == "processed"  # the later one stays
    assert host.upload(jpeg(300, 200), key="first").status_code == 202  # the key is free

    host.clock.advance(days=7)
    purge(host)
    assert host.blob_keys() == []
    for table in (store.IMAGES, store.KEYS, store.DUE, store.READS):
        assert host.rows(table.name) == [], table.name


def test_the_retention_is_configurable(make_images):
    host = make_images(RETENTION_DAYS="1")
    image_id = host.upload(jpeg(100, 100)).json()["id"]
    host.deliver()
    host.clock.advance(hours=23)
    purge(host)
    assert host.image(image_id).status_code == 200
    host.clock.advance(hours=1, seconds=1)
    purge(host)
    assert host.blob_keys() == [] and host.rows(store.IMAGES.name) == []


def test_orphan_blobs_are_purged_after_an_hour(host):
    host.runtime.blobs.put("images/01ORPHAN/raw", b"left by a crashed upload")
    kept = host.upload(jpeg(100, 100)).json()["id"]
    host.deliver()
    host.clock.advance(minutes=30)
    purge(host)
    assert "images/01ORPHAN/raw" in host.blob_keys()  # could be an upload in progress
    host.clock.advance(minutes=31)
    purge(host)
    assert "images/01ORPHAN/raw" not in host.blob_keys()
    assert any(k.startswith(f"images/{kept}/") for k in host.blob_keys())


def test_blobs_carry_an_expiry_rule_for_the_storage_itself(host):
    host.upload(jpeg(100, 100))
    host.deliver()
    host.clock.advance(minutes=15)
    purge(host)  # sets the rule; nothing has expired yet
    assert len(host.blob_keys()) == 5
    host.clock.advance(days=7)
    assert host.runtime.blobs.purge_expired() == 5  # S3 lifecycle: even without our purge
    assert host.blob_keys() == []


def test_reads_audited_by_admins_expire_with_the_image(host):
    image_id = host.upload(jpeg(100, 100), who=ANA).json()["id"]
    host.image(image_id, ADMIN)
    assert len(host.rows(store.READS.name)) == 1
    host.clock.advance(days=7, seconds=1)
    assert host.rows(store.READS.name) == []
