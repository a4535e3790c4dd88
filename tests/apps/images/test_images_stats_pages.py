"""The analysts' statistics (JSON, CSV, the page) and the gallery pages."""

from __future__ import annotations

import csv
import io

from images_helpers import ADMIN, ANA, ANALYST, BEN, encode, jpeg, picture


def fill(host) -> dict[str, str]:
    """Two days: yesterday one processed image; today two processed and one failed."""
    ids = {"old": host.upload(jpeg(300, 200)).json()["id"]}
    host.deliver()
    host.clock.advance(days=1)
    ids["a"] = host.upload(jpeg(400, 300)).json()["id"]
    ids["b"] = host.upload(encode(picture(200, 100), "PNG"), who=BEN).json()["id"]
    ids["bad"] = host.upload(jpeg(100, 100)).json()["id"]
    host.runtime.blobs.put(f"images/{ids['bad']}/raw", b"\xff\xd8\xff broken")
    host.deliver()
    return ids


def test_stats_count_bytes_and_time_per_day_variant_source_and_failure(host):
    fill(host)
    r = host.client.get("/images/stats?days=2", headers=host.as_(ANALYST))
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["total"] == 4
    yesterday, today = s["days"]
    assert (yesterday["received"], yesterday["processed"], yesterday["failed"]) == (0, 1, 0)
    assert (today["processed"], today["failed"]) == (2, 1)
    assert today["count"] == 2  # timings are of the processed images
    assert today["p50_ms"] is not None and today["p95_ms"] >= today["p50_ms"]
    variants = {v["name"]: v for v in s["variants"]}
    assert set(variants) == {"thumbnail", "square", "medium", "webp"}
    assert variants["thumbnail"]["count"] == 3 and variants["thumbnail"]["bytes"] > 0
    assert [x["name"] for x in s["sources"]] == ["http"]
    assert s["failures"] == [{"reason": "corrupt_image", "count": 1}]
    assert s["bytes"] == sum(d["bytes"] for d in s["days"])
    assert host.client.get("/images/stats?days=99", headers=host.as_(ANALYST)
                           ).status_code == 422


def test_stats_export_as_csv(host):
    fill(host)
    r = host.client.get("/images/stats.csv?days=2", headers=host.as_(ANALYST))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    groups = [x["group"] for x in rows]
    assert groups.count("day") == 2 and groups.count("variant") == 4
    assert {"group": "failure", "name": "corrupt_image", "count": "1"}.items() <= \
        next(x for x in rows if x["group"] == "failure").items()
    assert host.client.get("/images/stats.csv", headers=host.as_(ANA)).status_code == 403


def test_the_stats_page_draws_its_charts(host):
    fill(host)
    r = host.client.get("/images/dashboard?days=2", headers=host.as_(ADMIN))
    assert r.status_code == 200
    assert "Images per day" in r.text and "corrupt_image" in r.text and "thumbnail" in r.text
    assert host.client.get("/images/dashboard", headers=host.as_(ANA)).status_code == 403


def test_the_gallery_shows_status_and_polls_while_processing(host):
    assert host.client.get("/images/gallery", follow_redirects=False).status_code in (303, 307)
    image_id = host.upload(jpeg(400, 300)).json()["id"]
    page = host.client.get("/images/gallery", headers=host.as_(ANA))
    assert page.status_code == 200 and 'data-status="received"' in page.text
    assert 'hx-trigger="every 2s"' in page.text and 'id="upload-form"' in page.text
    host.deliver()
    grid = host.client.get("/images/gallery/grid", headers=host.as_(ANA))
    assert 'data-status="processed"' in grid.text and "every 2s" not in grid.text
    assert f"/blobs/images/{image_id}/thumbnail.jpg" in grid.text
    assert "<html" not in grid.text  # a fragment for htmx
    assert image_id not in host.client.get("/images/gallery/grid",
                                           headers=host.as_(BEN)).text
