"""The Blobs port on S3: one bucket, keys under an optional root prefix (so several deployments
or test runs can share a bucket).

Streaming. `put` reads the body in 64 KiB chunks and sends it as one `PutObject` when it ends
within the first 8 MiB, else as a multipart upload of 8 MiB parts; past `max_bytes` it stops
reading, aborts the upload and stores nothing. S3 makes the object visible only when the upload
completes, so readers see the old blob or the new one, content and metadata together.

What S3 cannot tell us is kept in the object's own metadata: the MD5 of the whole content (S3's
ETag of a multipart upload is not one) and the time of the write by the adapter's clock (so
expiry and `last_modified` follow the clock, as in `FileBlobs`). Names starting `roost-` are the
adapter's: a caller's metadata of that name is replaced.

Expiry. `expire_prefix` writes an S3 lifecycle rule (S3 deletes the blobs on its own, within a
day or so of the deadline); reads filter by the rules at once, as `FileBlobs` does: a blob past
its rule's days is absent for `get`, `head`, `list` and `delete`, and `purge_expired` deletes it
now. The rules are read from the bucket (cached for a minute), so rules set by the deployment's
template apply too.

`list` reads each object's head for its content type, metadata and time: it is for tools and
small prefixes, not for requests over large ones.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from roost.cloud.blobs import (
    CHUNK,
    BlobInfo,
    Body,
    body_chunks,
    check_content_type,
    check_metadata,
    check_prefix,
    checked_key,
)
from roost.cloud.clock import Clock
from roost.cloud.errors import Invalid, NotFound, RoostError, TooLarge, Unavailable, Undeclared

PART_BYTES = 8 * 1024 * 1024  # S3's parts are 5 MiB at least, but for the last
MAX_URL_SECONDS = 7 * 24 * 3600  # S3's limit for presigned URLs
RULES_SECONDS = 60.0  # how long lifecycle rules read from the bucket are trusted
ETAG_META = "roost-md5"
TIME_META = "roost-at"
RULE_ID = "roost-expire:"
UPLOADS = "//roost-upload-"  # after the key: no port key holds "//", and IAM grants on the
# key's prefix cover the temporary object too
_CLIENT_METHODS = {"GET": "get_object", "PUT": "put_object", "HEAD": "head_object",
                   "DELETE": "delete_object"}
_MISSING = {"404", "NoSuchKey", "NotFound"}


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class S3Blobs:
    """The `Blobs` port on the S3 bucket `bucket`, through a boto3 `client("s3")`."""

    def __init__(self, client: Any, bucket: str, *, clock: Clock, root: str = "") -> None:
        if root and not root.endswith("/"):
            raise ValueError("S3Blobs root must be empty or end with '/'")
        self.client = client
        self.bucket = bucket
        self.root = root
        self._clock = clock
        self._rules_lock = threading.Lock()
        self._rules_cache: tuple[float, dict[str, int]] | None = None

    def __repr__(self) -> str:
        return f"S3Blobs({self.bucket!r}, root={self.root!r})"

    # -- calls -----------------------------------------------------------------------------

    def _call(self, method: str, key: str, **params: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(Bucket=self.bucket, **params)
        except ClientError as exc:
            raise self._translate(exc, key) from exc
        except BotoCoreError as exc:
            raise Unavailable(f"S3 could not be reached for {key!r}: {exc}",
                              code="unavailable") from exc

    def _translate(self, exc: Exception, key: str) -> RoostError:
        code = _code(exc)
        if code in _MISSING:
            return NotFound(f"there is no blob {key!r}", code="blob_not_found")
        if code == "NoSuchBucket":
            return Unavailable(f"the S3 bucket {self.bucket} does not exist; deploy the stack "
                               "first", code="bucket_missing")
        if code in ("AccessDenied", "403", "AllAccessDisabled"):
            return Undeclared(f"S3 refused access to {key!r} in {self.bucket}",
                              code="access_denied")
        if code in ("SlowDown", "503", "ServiceUnavailable", "InternalError", "500"):
            return Unavailable(f"S3 is busy ({code}); retry shortly", code="busy")
        return Unavailable(f"S3 failed on {key!r}: {code or exc}", code="unavailable")

    # -- writing ---------------------------------------------------------------------------

    def put(
        self,
        key: str,
        body: Body,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> BlobInfo:
        key = checked_key(key)
        meta = check_metadata(metadata)
        content_type = check_content_type(content_type)
        if max_bytes is not None and (
            not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes < 0
        ):
            raise Invalid("max_bytes must be a whole number of bytes, 0 or more",
                          code="invalid_max_bytes")
        digest = hashlib.md5(usedforsecurity=False)
        size = 0
        buffer = bytearray()
        upload: _Multipart | None = None
        try:
            for chunk in body_chunks(body, CHUNK):
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise TooLarge(f"blob {key!r} is larger than {max_bytes} bytes",
                                   code="too_large", max_bytes=max_bytes)
                digest.update(chunk)
                buffer += chunk
                while len(buffer) >= PART_BYTES:
                    if upload is None:
                        upload = _Multipart(self, key, content_type)
                    upload.send(bytes(buffer[:PART_BYTES]))
                    del buffer[:PART_BYTES]
            info = BlobInfo(key=key, size=size, content_type=content_type,
                            etag=digest.hexdigest(), last_modified=self._clock.now(),
                            metadata=meta)
            stored_meta = {**meta, ETAG_META: info.etag,
                           TIME_META: info.last_modified.isoformat()}
            if upload is None:
                self._call("put_object", key, Key=self.root + key, Body=bytes(buffer),
                           ContentType=content_type, Metadata=stored_meta)
            else:
                if buffer:
                    upload.send(bytes(buffer))
                upload.complete(stored_meta)
                upload = None
        finally:
            if upload is not None:
                upload.abort()
        return info

    def delete(self, key: str) -> bool:
        key = checked_key(key)
        try:
            visible = not self._is_expired(self.head_any(key))
        except NotFound:
            return False
        self._call("delete_object", key, Key=self.root + key)
        return visible

    # -- reading ---------------------------------------------------------------------------

    def _info(self, key: str, head: Mapping[str, Any]) -> BlobInfo:
        meta = {k.lower(): v for k, v in (head.get("Metadata") or {}).items()}
        at = meta.pop(TIME_META, None)
        etag = meta.pop(ETAG_META, None) or str(head.get("ETag", "")).strip('"')
        when = datetime.fromisoformat(at) if at else head["LastModified"]
        return BlobInfo(key=key, size=int(head["ContentLength"]),
                        content_type=head.get("ContentType") or "application/octet-stream",
                        etag=etag, last_modified=when, metadata=meta)

    def head_any(self, key: str) -> BlobInfo:
        """The blob's info even past its expiry (NotFound only when there is no object)."""
        return self._info(key, self._call("head_object", key, Key=self.root + key))

    def head(self, key: str) -> BlobInfo:
        info = self.head_any(checked_key(key))
        if self._is_expired(info):
            raise NotFound(f"there is no blob {key!r}", code="blob_not_found")
        return info

    def get(self, key: str) -> tuple[BlobInfo, Iterator[bytes]]:
        key = checked_key(key)
        resp = self._call("get_object", key, Key=self.root + key)
        info = self._info(key, resp)
        body = resp["Body"]
        if self._is_expired(info):
            body.close()
            raise NotFound(f"there is no blob {key!r}", code="blob_not_found")
        return info, _stream(body, key, self)

    def read(self, key: str) -> bytes:
        _, chunks = self.get(key)
        return b"".join(chunks)

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        check_prefix(prefix)
        return self._list(prefix, include_expired=False)

    def _list(self, prefix: str, *, include_expired: bool) -> Iterator[BlobInfo]:
        token: str | None = None
        while True:
            params: dict[str, Any] = {"Prefix": self.root + prefix}
            if token:
                params["ContinuationToken"] = token
            page = self._call("list_objects_v2", prefix, **params)
            for obj in page.get("Contents", []):
                key = obj["Key"][len(self.root):]
                if UPLOADS in key:  # an upload in progress (or left by a crash)
                    continue
                try:
                    info = self.head_any(key)
                except NotFound:  # deleted since it was listed
                    continue
                if include_expired or not self._is_expired(info):
                    yield info
            if not page.get("IsTruncated"):
                return
            token = page.get("NextContinuationToken")

    # -- signed URLs -----------------------------------------------------------------------

    def signed_url(self, key: str, *, expires_in: int = 900, method: str = "GET") -> str:
        """A presigned S3 URL; S3 checks it (its clock is the real one, not the adapter's)."""
        key = checked_key(key)
        upper = method.upper() if isinstance(method, str) else ""
        if upper not in _CLIENT_METHODS:
            raise Invalid(f"a signed URL grants one of {sorted(_CLIENT_METHODS)}, not "
                          f"{method!r}", code="invalid_method")
        if (not isinstance(expires_in, int) or isinstance(expires_in, bool)
                or not 1 <= expires_in <= MAX_URL_SECONDS):
            raise Invalid(f"expires_in is a whole number of seconds from 1 to {MAX_URL_SECONDS}",
                          code="invalid_expires_in")
        return str(self.client.generate_presigned_url(
            _CLIENT_METHODS[upper], Params={"Bucket": self.bucket, "Key": self.root + key},
            ExpiresIn=expires_in))

    # -- expiry ----------------------------------------------------------------------------

    def expire_prefix(self, prefix: str, *, days: int) -> None:
        """Set (or change) the bucket's lifecycle rule for `prefix`."""
        check_prefix(prefix)
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            raise Invalid("expiry is a whole number of days, 1 or more", code="invalid_expiry")
        rule_id = RULE_ID + self.root + prefix
        with self._rules_lock:
            current = self._bucket_rules()
            if any(r.get("ID") == rule_id and r.get("Status") == "Enabled" and
                   (r.get("Expiration") or {}).get("Days") == days for r in current):
                return  # already so (the stack's template sets the rules it knows)
            rules = [r for r in current if r.get("ID") != rule_id]
            rules.append({"ID": rule_id, "Status": "Enabled",
                          "Filter": {"Prefix": self.root + prefix},
                          "Expiration": {"Days": days}})
            self._call("put_bucket_lifecycle_configuration", prefix,
                       LifecycleConfiguration={"Rules": rules})
            self._rules_cache = None

    def _bucket_rules(self) -> list[dict[str, Any]]:
        from botocore.exceptions import ClientError

        try:
            return list(self.client.get_bucket_lifecycle_configuration(
                Bucket=self.bucket).get("Rules", []))
        except ClientError as exc:
            if _code(exc) == "NoSuchLifecycleConfiguration":
                return []
            raise self._translate(exc, "(lifecycle rules)") from exc

    def _rules(self) -> dict[str, int]:
        """Prefix (under the root) -> days, of every enabled expiry rule of the bucket."""
        cached = self._rules_cache
        if cached is not None and time.monotonic() - cached[0] < RULES_SECONDS:
            return cached[1]
        rules: dict[str, int] = {}
        for r in self._bucket_rules():
            days = (r.get("Expiration") or {}).get("Days")
            where = (r.get("Filter") or {}).get("Prefix", r.get("Prefix"))
            if r.get("Status") == "Enabled" and isinstance(days, int) and \
                    isinstance(where, str) and where.startswith(self.root):
                rules[where[len(self.root):]] = days
        self._rules_cache = (time.monotonic(), rules)
        return rules

    def _is_expired(self, info: BlobInfo) -> bool:
        days = [d for p, d in self._rules().items() if info.key.startswith(p)]
        return bool(days) and info.last_modified + timedelta(days=min(days)) <= self._clock.now()

    def purge_expired(self) -> int:
        """Delete every blob past its rule now; returns how many."""
        if not self._rules():
            return 0
        gone = 0
        for info in list(self._list("", include_expired=True)):
            if self._is_expired(info):
                self._call("delete_object", info.key, Key=self.root + info.key)
                gone += 1
        return gone


class _Multipart:
    """One multipart upload in progress, to a temporary key outside the port's key space
    (`<key>//roost-upload-<hex>`: no port key holds "//"): the blob's MD5 is known only at the
    end, and S3 sets an
    object's metadata when it is created, so the finished upload is copied into place with its
    metadata — readers of the real key see the whole new blob with its metadata, or the old."""

    def __init__(self, blobs: S3Blobs, key: str, content_type: str) -> None:
        self.blobs, self.key, self.content_type = blobs, key, content_type
        self.temp = f"{blobs.root}{key}{UPLOADS}{secrets.token_hex(12)}"
        self.parts: list[dict[str, Any]] = []
        self.upload_id: str | None = None

    def send(self, data: bytes) -> None:
        b = self.blobs
        if self.upload_id is None:
            self.upload_id = b._call("create_multipart_upload", self.key, Key=self.temp,
                                     ContentType=self.content_type)["UploadId"]
        number = len(self.parts) + 1
        resp = b._call("upload_part", self.key, Key=self.temp, UploadId=self.upload_id,
                       PartNumber=number, Body=data)
        self.parts.append({"ETag": resp["ETag"], "PartNumber": number})

    def complete(self, metadata: dict[str, str]) -> None:
        b = self.blobs
        b._call("complete_multipart_upload", self.key, Key=self.temp, UploadId=self.upload_id,
                MultipartUpload={"Parts": self.parts})
        self.upload_id = None
        try:
            b._call("copy_object", self.key, Key=b.root + self.key,
                    CopySource={"Bucket": b.bucket, "Key": self.temp}, Metadata=metadata,
                    MetadataDirective="REPLACE", ContentType=self.content_type)
        finally:
            b._call("delete_object", self.key, Key=self.temp)

    def abort(self) -> None:
        if self.upload_id is not None:
            self.blobs._call("abort_multipart_upload", self.key, Key=self.temp,
                             UploadId=self.upload_id)


def _stream(body: Any, key: str, blobs: S3Blobs) -> Iterator[bytes]:
    from botocore.exceptions import BotoCoreError

    try:
        yield from body.iter_chunks(CHUNK)
    except BotoCoreError as exc:
        raise Unavailable(f"S3 stopped sending {key!r}: {exc}", code="unavailable") from exc
    finally:
        body.close()
