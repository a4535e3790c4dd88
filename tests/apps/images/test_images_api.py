"""Upload, processing and access through the real host: SQLite, file blobs, the dispatcher."""

from __future__ import annotations

import io
import threading

import pytest
from images_helpers import (
    ADMIN,
    ANA,
    ANALYST,
    BEN,
    encode,
    jpeg,
    jpeg_with_exif,
    picture,
)
from PIL import Image

from roost.apps.images import store
from roost.cloud.audit import AUDIT


def test_an_upload_is_stored_raw_processed_into_variants_and_described(host):
    data = jpeg(1600, 1200)
    r = host.upload(data)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "received" and body["status_url"] == f"/images/{body['id']}"
    assert r.headers["location"] == body["status_url"]
    assert host.blob_keys() == [f"images/{body['id']}/raw"]
    assert host.runtime.blobs.read(f"images/{body['id']}/raw") == data
    assert host.image(body["id"]).json()["status"] == "received"

    host.deliver()
    got = host.image(body["id"]).json()
    assert got["status"] == "processed", got
    assert (got["width"], got["height"], got["bytes"]) == (1600, 1200, len(data))
    assert got["processing_ms"] > 0 and got["processed_at"]
    sizes = {v["name"]: (v["width"], v["height"], v["format"]) for v in got["variants"]}
    assert sizes == {"thumbnail": (400, 300, "jpeg"), "square": (200, 200, "jpeg"),
                     "medium": (1200, 900, "jpeg"), "webp": (1200, 900, "webp")}
    for v in got["variants"]:
        assert v["bytes"] > 0 and v["ms"] > 0
        served = host.client.get(v["url"].removeprefix("http://127.0.0.1:8000"))
        assert served.status_code == 200 and len(served.content) == v["bytes"]
        assert Image.open(io.BytesIO(served.content)).size == (v["width"], v["height"])


def test_a_multipart_upload_takes_the_file_part(host):
    data = encode(picture(300, 200), "PNG")
    r = host.client.post("/images", files={"file": ("holiday.jpg", data, "image/jpeg")},
                         headers=host.as_(ANA))
    assert r.status_code == 202, r.text
    host.deliver()
    got = host.image(r.json()["id"]).json()
    assert got["content_type"] == "image/png"  # sniffed, not the name or the declared type
    assert got["status"] == "processed"


def test_a_form_without_a_file_is_refused(host):
    r = host.client.post("/images", data={"title": "x"}, files={"other": ("", b"", "")},
                         headers=host.as_(ANA))
    assert r.status_code == 422 and r.json()["code"] == "missing_file"


def test_variants_are_oriented_and_carry_no_exif_or_gps(host):
    r = host.upload(jpeg_with_exif(600, 400, orientation=6))
    host.deliver()
    got = host.image(r.json()["id"]).json()
    assert (got["width"], got["height"]) == (400, 600)  # as shown, after the orientation
    medium = next(v for v in got["variants"] if v["name"] == "medium")
    assert (medium["width"], medium["height"]) == (400, 600)
    for v in got["variants"]:
        blob = host.client.get(v["url"].removeprefix("http://127.0.0.1:8000")).content
        im = Image.open(io.BytesIO(blob))
        assert not im.getexif(), v["name"]
        assert b"GPS" not in blob and "exif" not in im.info


def test_too_large_is_413_and_nothing_is_written(make_images):
    host = make_images(MAX_BYTES="5000")
    r = host.upload(jpeg(400, 300))
    assert r.status_code == 413 and r.json()["code"] == "too_large"
    assert r.json()["max_bytes"] == 5000

    def chunks():  # no Content-Length: the limit holds while the body streams in
        data = jpeg(400, 300)
        for i in range(0, len(data), 1000):
            yield data[i:i + 1000]

    r = host.client.post("/images", content=chunks(),
                         headers={**host.as_(ANA), "Content-Type": "image/jpeg"})
    assert r.status_code == 413, r.text
    assert host.blob_keys() == [] and host.rows(store.IMAGES.name) == []


def test_an_empty_upload_is_422(host):
    r = host.upload(b"")
    assert r.status_code == 422 and r.json()["code"] == "empty_upload"


def test_the_pixel_limit_is_configurable(make_images):
    host = make_images(MAX_PIXELS="10000")
    r = host.upload(jpeg(200, 100))
    assert r.status_code == 422 and r.json()["code"] == "too_many_pixels"
    assert host.upload(jpeg(100, 100)).status_code == 202


def test_an_idempotency_key_answers_the_first_image(host):
    data = jpeg(200, 100)
    first = host.upload(data, key="k-1")
    again = host.upload(data, key="k-1")
    assert first.status_code == 202 and again.status_code == 200
    assert again.json() == {**first.json(), "duplicate": True}
    assert len(host.rows(store.IMAGES.name)) == 1 and len(host.blob_keys()) == 1
    other = host.upload(data, key="k-1", who=BEN)  # keys are per uploader
    assert other.status_code == 202 and other.json()["id"] != first.json()["id"]
    bad = host.upload(data, key="two words")
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_idempotency_key"


def test_concurrent_uploads_with_one_key_store_one_image(host):
    data = jpeg(120, 90)
    headers = {**host.as_(ANA), "Content-Type": "image/jpeg", "Idempotency-Key": "race"}
    answers: list = []
    start = threading.Barrier(12)

    def go():
        start.wait()
        answers.append(host.client.post("/images", content=data, headers=headers))

    threads = [threading.Thread(target=go) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(a.status_code in (200, 202) for a in answers), [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(a.status_code == 202 for a in answers) == 1
    assert len(host.rows(store.IMAGES.name)) == 1 and len(host.blob_keys()) == 1


def test_processing_twice_changes_nothing(host):
    r = host.upload(jpeg(300, 200))
    outbox = host.runtime.tables.table("roost_outbox").query("pending").items
    event = next(i for i in outbox if i["type"] == "images.received")
    host.deliver()
    before = host.image(r.json()["id"]).json()
    fn = host.runtime.registry.function("images.process")
    from roost.cloud.events import Event

    ctx = fn.context(host.runtime.resources)
    fn.invoke(ctx, Event.from_item(event))
    after = host.image(r.json()["id"]).json()
    assert {k: v for k, v in before.items() if k != "variants"} == \
        {k: v for k, v in after.items() if k != "variants"}


def test_an_original_that_breaks_after_upload_is_marked_failed_with_the_reason(host):
    r = host.upload(jpeg(300, 200))
    image_id = r.json()["id"]
    host.runtime.blobs.put(f"images/{image_id}/raw", b"\xff\xd8\xff" + b"\x00" * 50)
    host.deliver()
    got = host.image(image_id).json()
    assert got["status"] == "failed" and got["reason"] == "corrupt_image"
    assert got["variants"] == []


# --------------------------------------------------------------------------- access


def test_others_cannot_see_an_image_admins_can_and_are_audited(host):
    image_id = host.upload(jpeg(100, 80)).json()["id"]
    host.deliver()
    for who in (BEN, ANALYST):
        r = host.image(image_id, who)
        assert r.status_code == 404 and r.json()["code"] == "image_not_found"
        r = host.client.get(f"/images/{image_id}/variants/raw", headers=host.as_(who))
        assert r.status_code == 404
    assert host.client.get(f"/images/{image_id}").status_code == 401
    assert host.image(image_id).status_code == 200  # the owner: no audit record
    assert host.rows(store.READS.name) == []

    assert host.image(image_id, ADMIN).status_code == 200
    r = host.client.get(f"/images/{image_id}/variants/thumbnail", headers=host.as_(ADMIN),
                        follow_redirects=False)
    assert r.status_code == 307 and "/blobs/images/" in r.headers["location"]
    trail = host.runtime.tables.table(AUDIT.name).query("images").items
    reads = [t for t in trail if t["table"] == store.READS.name]
    admin_id = host.user_id(ADMIN)
    assert len(reads) == 2 and {t["actor"] for t in reads} == {admin_id}
    assert {t["after"]["image_id"] for t in reads} == {image_id}


def test_a_gallery_lists_only_ones_own_images_newest_first(host):
    a1 = host.upload(jpeg(50, 50)).json()["id"]
    host.clock.advance(seconds=1)
    a2 = host.upload(jpeg(60, 50)).json()["id"]
    host.upload(jpeg(70, 50), who=BEN)
    got = host.client.get("/images", headers=host.as_(ANA)).json()
    assert [i["id"] for i in got["items"]] == [a2, a1]
    page = host.client.get("/images?limit=1", headers=host.as_(ANA)).json()
    assert [i["id"] for i in page["items"]] == [a2] and page["cursor"]


def test_admins_list_everyones_images_of_a_day(host):
    host.upload(jpeg(50, 50))
    host.upload(jpeg(50, 50), who=BEN)
    day = host.clock.now().date().isoformat()
    r = host.client.get(f"/images/day/{day}", headers=host.as_(ADMIN))
    assert r.status_code == 200 and len(r.json()["items"]) == 2
    assert len(host.rows(store.READS.name)) == 2
    assert host.client.get(f"/images/day/{day}", headers=host.as_(ANA)).status_code == 403
    assert host.client.get("/images/day/soon", headers=host.as_(ADMIN)).status_code == 422


@pytest.mark.parametrize("who, status", [(ANA, 403), (ANALYST, 200), (ADMIN, 200)])
def test_stats_are_for_analysts_and_admins(host, who, status):
    assert host.client.get("/images/stats", headers=host.as_(who)).status_code == status


def test_variants_on_demand_are_made_once_and_kept_with_the_image(host):
    image_id = host.upload(jpeg(800, 600)).json()["id"]
    url = f"/images/{image_id}/render?width=120&height=120&mode=fill&smart=true&format=webp"
    r = host.client.get(url, headers=host.as_(ANA), follow_redirects=False)
    assert r.status_code == 307, r.text
    location = r.headers["location"]
    assert f"/blobs/images/{image_id}/render/" in location and ".webp?" in location
    served = host.client.get(location.removeprefix("http://127.0.0.1:8000"))
    im = Image.open(io.BytesIO(served.content))
    assert (im.format, im.size) == ("WEBP", (120, 120))
    keys = host.blob_keys()
    again = host.client.get(url, headers=host.as_(ANA), follow_redirects=False)
    assert again.headers["location"].split("?")[0] == location.split("?")[0]
    assert host.blob_keys() == keys  # made once
    grey = host.client.get(f"/images/{image_id}/render?width=50&grayscale=true",
                           headers=host.as_(ANA), follow_redirects=False)
    im = Image.open(io.BytesIO(host.client.get(
        grey.headers["location"].removeprefix("http://127.0.0.1:8000")).content))
    assert im.size == (50, 38) and im.mode == "L"
    for bad in ("width=0", "width=100&mode=zoom", "width=100&colour=red", "height=5"):
        r = host.client.get(f"/images/{image_id}/render?{bad}", headers=host.as_(ANA))
        assert r.status_code == 422, bad
    assert host.client.get(url, headers=host.as_(BEN)).status_code == 404
