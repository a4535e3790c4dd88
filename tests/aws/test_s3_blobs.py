"""What S3Blobs does beyond the shared conformance suite: presigned URLs S3 itself honours,
lifecycle rules in the bucket, uploads in progress kept out of listings."""

from __future__ import annotations

import os
import uuid

import httpx
import pytest

from roost.cloud.aws.s3_blobs import RULE_ID, S3Blobs
from roost.cloud.errors import TooLarge
from support.moto_server import bucket, client


@pytest.fixture
def blobs(clock):
    return S3Blobs(client("s3"), bucket(), clock=clock, root=f"t{uuid.uuid4().hex[:12]}/")


def test_presigned_urls_get_and_put_through_s3(blobs):
    blobs.put("docs/report 2026 #1.pdf", b"%PDF-1.7", content_type="application/pdf")
    got = httpx.get(blobs.signed_url("docs/report 2026 #1.pdf", expires_in=60), timeout=10)
    assert got.status_code == 200 and got.content == b"%PDF-1.7"
    put = httpx.put(blobs.signed_url("up/new.bin", method="PUT"), content=b"uploaded", timeout=10)
    assert put.status_code == 200
    assert blobs.head("up/new.bin").size == len(b"uploaded")


def test_expiry_is_a_lifecycle_rule_of_the_bucket(blobs):
    blobs.expire_prefix("raw/", days=7)
    rules = client("s3").get_bucket_lifecycle_configuration(Bucket=blobs.bucket)["Rules"]
    mine = [r for r in rules if r["ID"] == RULE_ID + blobs.root + "raw/"]
    assert [(r["Filter"]["Prefix"], r["Expiration"]["Days"]) for r in mine] == \
        [(blobs.root + "raw/", 7)]
    blobs.expire_prefix("raw/", days=3)  # changed, not added
    rules = client("s3").get_bucket_lifecycle_configuration(Bucket=blobs.bucket)["Rules"]
    assert [r["Expiration"]["Days"] for r in rules if r["ID"] == mine[0]["ID"]] == [3]


def test_a_refused_multipart_upload_leaves_nothing(blobs):
    data = os.urandom(9 * 1024 * 1024)
    with pytest.raises(TooLarge):
        blobs.put("big", [data, b"more"], max_bytes=len(data))
    listed = client("s3").list_objects_v2(Bucket=blobs.bucket, Prefix=blobs.root)
    assert listed.get("Contents", []) == []
    uploads = client("s3").list_multipart_uploads(Bucket=blobs.bucket, Prefix=blobs.root)
    assert uploads.get("Uploads", []) == []
