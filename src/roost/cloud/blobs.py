"""The Blobs port: S3 semantics (keys under prefixes, streams, signed URLs, expiry by prefix)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Protocol

from roost.cloud.errors import Invalid

MAX_KEY_BYTES = 1024
CHUNK = 64 * 1024
_META_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int
    content_type: str
    etag: str  # hex digest of the content (MD5 as S3 reports for single-part uploads)
    last_modified: datetime
    metadata: Mapping[str, str] = field(default_factory=dict)


Body = bytes | BinaryIO | Iterable[bytes]


class Blobs(Protocol):
    def put(
        self,
        key: str,
        body: Body,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> BlobInfo:
        """Store a blob, streaming. Past `max_bytes` raises `TooLarge` and stores nothing.
        A reader never sees a half-written blob."""
        ...

    def get(self, key: str) -> tuple[BlobInfo, Iterator[bytes]]:
        """The blob's info and its content as chunks. `NotFound` if absent or expired."""
        ...

    def read(self, key: str) -> bytes:
        """The whole content (for small blobs)."""
        ...

    def head(self, key: str) -> BlobInfo: ...

    def delete(self, key: str) -> bool:
        """True if something was deleted."""
        ...

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        """Blobs whose key starts with `prefix`, in key order."""
        ...

    def signed_url(self, key: str, *, expires_in: int = 900, method: str = "GET") -> str:
        """A URL that grants `method` on this one key until it expires (seconds)."""
        ...

    def expire_prefix(self, prefix: str, *, days: int) -> None:
        """A lifecycle rule: blobs under `prefix` are gone `days` after they were written."""
        ...

    def purge_expired(self) -> int:
        """Delete blobs past their lifecycle now (a background job calls it); returns how many."""
        ...


def check_key(key: str) -> str:
    """A blob key is a relative path of non-empty segments; it can never leave its root."""
    if not isinstance(key, str) or not key:
        raise Invalid("a blob key must be a non-empty string", code="invalid_blob_key")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise Invalid(f"a blob key is at most {MAX_KEY_BYTES} bytes", code="invalid_blob_key")
    if key.startswith("/") or "\\" in key or "\x00" in key or any(ord(c) < 32 for c in key):
        raise Invalid(f"blob key {key!r} must be relative, without backslashes or control "
                      "characters", code="invalid_blob_key")
    parts = key.split("/")
    if any(p in ("", ".", "..") for p in parts[:-1]) or parts[-1] in (".", ".."):
        raise Invalid(f"blob key {key!r} may not contain empty, '.' or '..' segments",
                      code="invalid_blob_key")
    if parts[-1] == "":
        raise Invalid(f"blob key {key!r} must not end with '/'", code="invalid_blob_key")
    return key


def check_prefix(prefix: str) -> str:
    if prefix == "":
        return prefix
    if ".." in prefix.split("/") or prefix.startswith("/") or "\\" in prefix or "\x00" in prefix:
        raise Invalid(f"blob prefix {prefix!r} may not contain '..' or start with '/'",
                      code="invalid_blob_key")
    return prefix


def check_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in (metadata or {}).items():
        if not isinstance(k, str) or not _META_NAME.match(k):
            raise Invalid(f"metadata name {k!r}: use lower-case letters, digits and '-'",
                          code="invalid_metadata")
        if not isinstance(v, str) or not v.isascii() or any(ord(c) < 32 for c in v):
            raise Invalid(f"metadata {k!r}: values are printable ASCII strings",
                          code="invalid_metadata")
        out[k] = v
    if sum(len(k) + len(v) for k, v in out.items()) > 2048:
        raise Invalid("metadata is limited to 2 KB in all", code="invalid_metadata")
    return out


def check_content_type(value: str) -> str:
    """A content type as every adapter accepts it: printable ASCII, `type/subtype`."""
    if (not isinstance(value, str) or not value or len(value) > 255 or not value.isascii()
            or any(ord(c) < 32 for c in value) or "/" not in value):
        raise Invalid(f"content type {value!r} should look like 'image/png'",
                      code="invalid_content_type")
    return value


def body_chunks(body: Body, size: int = CHUNK) -> Iterator[bytes]:
    """Any accepted body as a stream of bytes chunks, never reading it all at once; `Invalid`
    (code `invalid_body`) for text or anything else that is not bytes."""
    if isinstance(body, bytes | bytearray | memoryview):
        view = memoryview(body).cast("B")
        for i in range(0, len(view), size):
            yield bytes(view[i : i + size])
        return
    if isinstance(body, str):
        raise Invalid("a blob body is bytes, not text; encode it first", code="invalid_body")
    read = getattr(body, "read", None)
    if callable(read):
        while chunk := read(size):
            if not isinstance(chunk, bytes | bytearray):
                raise Invalid("a blob body file must be opened in binary mode",
                              code="invalid_body")
            yield bytes(chunk)
        return
    if not isinstance(body, Iterable):
        raise Invalid("a blob body is bytes, a binary file or an iterable of bytes",
                      code="invalid_body")
    for chunk in body:
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise Invalid("every chunk of a blob body must be bytes", code="invalid_body")
        yield bytes(chunk)


def checked_key(key: str) -> str:
    """`check_key`, with text that is not valid Unicode (a lone surrogate) refused too."""
    try:
        return check_key(key)
    except UnicodeEncodeError:
        raise Invalid("a blob key must be valid Unicode text", code="invalid_blob_key") from None
