"""Blobs on a local folder, with S3's semantics.

Layout. A key `a/b/c.jpg` is stored at `<root>/a/b/c.jpg%blob`. Every `%` inside a key segment
is written as `%25`, so a name holding `%` followed by a letter is always ours: `%blob` (a blob),
`%tmp…` (a write in progress), `%lifecycle.json` (the expiry rules). That keeps `a` and `a/b`
apart (S3 allows both; a folder cannot be a file too) and keeps listings free of our own files.

Atomicity. A blob file is the content followed by a JSON trailer (content type, metadata, etag,
last_modified) and an 8-byte footer that locates it. Content and trailer are one file, written to
a temp file in the same folder, fsynced and moved into place with `os.replace`: readers see the
old blob or the new one, never half of one, and never the content of one write with the metadata
of another — a separate sidecar cannot promise that to concurrent writers without a lock. A reader
streams from the file it opened, so a concurrent replace or delete does not cut it short.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import struct
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

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
from roost.cloud.errors import Forbidden, Invalid, NotFound, TooLarge, Unavailable

BLOB_SUFFIX = "%blob"
TMP_MARK = "%tmp"
RULES_FILE = "%lifecycle.json"
_FOOTER = struct.Struct(">I4s")  # trailer length, magic
_MAGIC = b"RBv1"
_MAX_TRAILER = 64 * 1024
# NAME_MAX is 255 bytes; the longest name we derive from a segment is segment + "%tmp" + 24 hex.
_MAX_SEGMENT_BYTES = 255 - len(TMP_MARK) - 24
_METHODS = frozenset({"GET", "PUT", "HEAD", "DELETE"})
MAX_URL_SECONDS = 7 * 24 * 3600  # S3's limit for presigned URLs
_DEBRIS_SECONDS = 3600  # a temp file this old (by the disk's clock) was left by a crash


@dataclass(frozen=True)
class _Entry:
    key: str
    path: Path


class FileBlobs:
    """The `Blobs` port on a folder. Thread- and process-safe through atomic renames alone."""

    def __init__(
        self,
        root: Path,
        *,
        clock: Clock,
        secret: bytes,
        url_base: str = "http://127.0.0.1:8000/blobs",
    ) -> None:
        if not isinstance(secret, bytes) or len(secret) < 16:
            raise ValueError("FileBlobs needs a secret of at least 16 bytes to sign URLs")
        self._root = Path(root)
        self._root.mkdir(parents=True, exist_ok=True)
        self._real_root = os.path.realpath(self._root)
        self._clock = clock
        self._secret = secret
        self._url_base = url_base.rstrip("/")
        self._rules_lock = threading.Lock()
        self._rules_cache: tuple[tuple[int, int, int], dict[str, int]] | None = None

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
        path = self._path(checked_key(key))
        meta = check_metadata(metadata)
        content_type = check_content_type(content_type)
        if max_bytes is not None and (
            not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes < 0
        ):
            raise Invalid("max_bytes must be a whole number of bytes, 0 or more",
                          code="invalid_max_bytes")
        tmp, f = self._open_temp(path, key)
        try:
            digest = hashlib.md5(usedforsecurity=False)
            size = 0
            for chunk in body_chunks(body):  # the body's own errors pass through unchanged
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise TooLarge(f"blob {key!r} is larger than {max_bytes} bytes",
                                   code="too_large", max_bytes=max_bytes)
                digest.update(chunk)
                with _disk(key):
                    f.write(chunk)
            info = BlobInfo(key=key, size=size, content_type=content_type,
                            etag=digest.hexdigest(), last_modified=self._clock.now(),
                            metadata=meta)
            with _disk(key):
                f.write(_trailer(info))
                f.flush()
                os.fsync(f.fileno())
                f.close()
                os.replace(tmp, path)
                _fsync_dir(path.parent)
        except BaseException:
            f.close()
            tmp.unlink(missing_ok=True)
            raise
        return info

    def delete(self, key: str) -> bool:
        path = self._path(checked_key(key))
        try:
            visible = not self._is_expired(self._info_at(path, key))
        except NotFound:
            return False
        except Unavailable:  # a damaged file is still removable
            visible = True
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        self._prune_dirs(path.parent)
        return visible

    # -- reading ---------------------------------------------------------------------------

    def get(self, key: str) -> tuple[BlobInfo, Iterator[bytes]]:
        path = self._path(checked_key(key))
        f = _open_blob(path, key)
        try:
            info = _read_trailer(f, key)
            if self._is_expired(info):
                raise _not_found(key)
        except BaseException:
            f.close()
            raise
        return info, _Stream(f, info.size)

    def read(self, key: str) -> bytes:
        _, chunks = self.get(key)
        return b"".join(chunks)

    def head(self, key: str) -> BlobInfo:
        info = self._info_at(self._path(checked_key(key)), key)
        if self._is_expired(info):
            raise _not_found(key)
        return info

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        check_prefix(prefix)
        entries = self._entries(prefix)  # walks now, so a bad prefix fails at the call

        def visible() -> Iterator[BlobInfo]:
            for entry in entries:
                try:
                    info = self._info_at(entry.path, entry.key)
                except NotFound:  # deleted since the walk
                    continue
                if not self._is_expired(info):
                    yield info

        return visible()

    # -- signed URLs -----------------------------------------------------------------------

    def signed_url(self, key: str, *, expires_in: int = 900, method: str = "GET") -> str:
        checked_key(key)
        method = _method(method)
        if (not isinstance(expires_in, int) or isinstance(expires_in, bool)
                or not 1 <= expires_in <= MAX_URL_SECONDS):
            raise Invalid(f"expires_in is a whole number of seconds from 1 to {MAX_URL_SECONDS}",
                          code="invalid_expires_in")
        expires = int(self._clock.now().timestamp()) + expires_in
        sig = self._sign(method, key, expires)
        return f"{self._url_base}/{quote(key, safe='/')}?expires={expires}&sig={sig}"

    def verify_signature(self, key: str, expires: int, sig: str, method: str = "GET") -> None:
        """Accept a signed URL's parts or raise `Forbidden` ("bad_signature", "url_expired")."""
        checked_key(key)
        if not isinstance(expires, int) or not isinstance(sig, str) or not isinstance(method, str):
            raise Forbidden("this link is not valid", code="bad_signature")
        expected = self._sign(method.upper(), key, expires).encode()
        if not hmac.compare_digest(expected, sig.encode("utf-8", "replace")):
            raise Forbidden("this link is not valid for this file", code="bad_signature")
        if self._clock.now().timestamp() > expires:
            raise Forbidden("this link has expired; ask for a new one", code="url_expired")

    def _sign(self, method: str, key: str, expires: int) -> str:
        text = f"{method}\n{key}\n{expires}".encode()
        return hmac.new(self._secret, text, hashlib.sha256).hexdigest()

    # -- lifecycle -------------------------------------------------------------------------

    def expire_prefix(self, prefix: str, *, days: int) -> None:
        """Saved in the root's rules file, which every instance re-reads when it changes. Rules
        are set at startup; two processes changing different rules at once may lose one."""
        check_prefix(prefix)
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            raise Invalid("an expiry rule keeps blobs for a whole number of days, 1 or more",
                          code="invalid_expiry")
        with self._rules_lock:
            rules = dict(self._rules())
            rules[prefix] = days
            with _disk(RULES_FILE):  # a full or read-only disk is a 503, not a 500
                _write_atomic(self._root / RULES_FILE,
                              json.dumps({"rules": rules}, indent=1, sort_keys=True).encode())
            self._rules_cache = None

    def purge_expired(self) -> int:
        """Delete expired blobs and the temp files of writes that crashed (over an hour old)."""
        purged = 0
        rules = self._rules()
        for entry in self._entries("", with_debris=True):
            if entry.key == "":
                entry.path.unlink(missing_ok=True)
                continue
            if not any(entry.key.startswith(p) for p in rules):
                continue
            try:
                info = self._info_at(entry.path, entry.key)
            except NotFound:
                continue
            if self._is_expired(info):
                try:
                    entry.path.unlink()
                except FileNotFoundError:
                    continue
                self._prune_dirs(entry.path.parent)
                purged += 1
        return purged

    def _rules(self) -> dict[str, int]:
        """The rules on disk; re-read only when the file changed (another process may write)."""
        path = self._root / RULES_FILE
        try:
            st = path.stat()
        except FileNotFoundError:
            return {}
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        cached = self._rules_cache
        if cached and cached[0] == stamp:
            return cached[1]
        rules = {str(p): int(d) for p, d in json.loads(path.read_bytes())["rules"].items()}
        self._rules_cache = (stamp, rules)
        return rules

    def _is_expired(self, info: BlobInfo) -> bool:
        days = [d for p, d in self._rules().items() if info.key.startswith(p)]
        return bool(days) and info.last_modified + timedelta(days=min(days)) <= self._clock.now()

    # -- paths -----------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        """The file of a key, refused if it (or a symlink on the way) lands outside the root."""
        segments = [s.replace("%", "%25") for s in key.split("/")]
        if any(len(s.encode()) > _MAX_SEGMENT_BYTES for s in segments):
            raise Invalid(f"each part of a blob key between '/' is at most {_MAX_SEGMENT_BYTES} "
                          "bytes in file storage", code="invalid_blob_key")
        path = self._root.joinpath(*segments[:-1], segments[-1] + BLOB_SUFFIX)
        self._check_inside(path, key)
        return path

    def _check_inside(self, path: Path, key: str) -> None:
        real = os.path.realpath(path)
        if not real.startswith(self._real_root + os.sep):
            raise Invalid(f"blob key {key!r} leads outside the blob folder",
                          code="blob_key_escapes")

    def _open_temp(self, path: Path, key: str) -> tuple[Path, BinaryIO]:
        """A new temp file beside `path`. Retries if a concurrent delete prunes the folder."""
        stem = path.name[: -len(BLOB_SUFFIX)]
        attempts = 5
        while True:
            tmp = path.with_name(f"{stem}{TMP_MARK}{secrets.token_hex(12)}")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                return tmp, open(tmp, "xb")
            except FileNotFoundError:
                attempts -= 1
                if attempts:
                    continue
                raise Unavailable(f"could not store blob {key!r}: its folder keeps vanishing",
                                  code="blob_storage_failed") from None
            except OSError as exc:
                raise _storage_failed(key, exc) from exc

    def _prune_dirs(self, folder: Path) -> None:
        """Remove folders a delete left empty, up to the root (S3 has no folders to keep)."""
        root = Path(self._root)
        while folder != root and root in folder.parents:
            try:
                folder.rmdir()
            except OSError:  # not empty, or already gone
                return
            folder = folder.parent

    def _entries(self, prefix: str, *, with_debris: bool = False) -> list[_Entry]:
        """Blob files whose key starts with `prefix`, in key order, walking only the folders
        that can hold such keys. With `with_debris`, stale temp files too (key "")."""
        head, _, _ = prefix.rpartition("/")
        if head and any(s in ("", ".", "..") for s in head.split("/")):
            return []  # no key has such a folder: "./a" names nothing, not "a"
        segments = [s.replace("%", "%25") for s in head.split("/")] if head else []
        start = self._root.joinpath(*segments)
        if segments:
            self._check_inside(start / "x", prefix)
        found: list[_Entry] = []
        stale = time.time() - _DEBRIS_SECONDS

        def walk(folder: Path, key_head: str) -> None:
            try:
                scan = list(os.scandir(folder))
            except (FileNotFoundError, NotADirectoryError):
                return
            for e in scan:
                if e.is_symlink():
                    continue
                if e.is_dir():
                    name = _decode(e.name)
                    if name is None:
                        continue
                    sub = key_head + name + "/"
                    if sub.startswith(prefix) or prefix.startswith(sub):
                        walk(Path(e.path), sub)
                elif e.name.endswith(BLOB_SUFFIX):
                    name = _decode(e.name[: -len(BLOB_SUFFIX)])
                    if name is not None and (key := key_head + name).startswith(prefix):
                        found.append(_Entry(key, Path(e.path)))
                elif with_debris and TMP_MARK in e.name:
                    try:
                        if e.stat().st_mtime < stale:
                            found.append(_Entry("", Path(e.path)))
                    except FileNotFoundError:
                        pass

        walk(start, head + "/" if head else "")
        found.sort(key=lambda e: e.key)
        return found

    def _info_at(self, path: Path, key: str) -> BlobInfo:
        with _open_blob(path, key) as f:
            return _read_trailer(f, key)


class _Stream:
    """The content of one opened blob file, in chunks; closes the file when done."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        self._f: BinaryIO | None = f
        self._left = size

    def __iter__(self) -> _Stream:
        return self

    def __next__(self) -> bytes:
        if self._f is None:
            raise StopIteration
        data = self._f.read(min(CHUNK, self._left)) if self._left else b""
        if not data:
            self.close()
            raise StopIteration
        self._left -= len(data)
        return data

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

    def __del__(self) -> None:
        self.close()


def _decode(name: str) -> str | None:
    """A folder or file name back to its key segment; None for names that are not ours."""
    rest = name.replace("%25", "")
    if "%" in rest:
        return None
    return name.replace("%25", "%")


def _method(method: str) -> str:
    upper = method.upper() if isinstance(method, str) else ""
    if upper not in _METHODS:
        raise Invalid(f"a signed URL grants one of {sorted(_METHODS)}, not {method!r}",
                      code="invalid_method")
    return upper


def _trailer(info: BlobInfo) -> bytes:
    data = json.dumps({
        "key": info.key,
        "size": info.size,
        "content_type": info.content_type,
        "etag": info.etag,
        "last_modified": info.last_modified.isoformat(),
        "metadata": dict(info.metadata),
    }, ensure_ascii=True, separators=(",", ":")).encode()
    return data + _FOOTER.pack(len(data), _MAGIC)


def _read_trailer(f: BinaryIO, key: str) -> BlobInfo:
    try:
        end = f.seek(0, os.SEEK_END)
        if end < _FOOTER.size:
            raise ValueError("too short")
        f.seek(end - _FOOTER.size)
        length, magic = _FOOTER.unpack(f.read(_FOOTER.size))
        if magic != _MAGIC or length > min(_MAX_TRAILER, end - _FOOTER.size):
            raise ValueError("no trailer")
        f.seek(end - _FOOTER.size - length)
        raw: dict[str, Any] = json.loads(f.read(length))
        size = end - _FOOTER.size - length
        if raw["size"] != size:
            raise ValueError("size mismatch")
        f.seek(0)
        return BlobInfo(key=key, size=size, content_type=raw["content_type"], etag=raw["etag"],
                        last_modified=datetime.fromisoformat(raw["last_modified"]),
                        metadata=raw["metadata"])
    except (ValueError, KeyError, TypeError, struct.error) as exc:
        raise Unavailable(f"blob {key!r} is damaged on disk ({exc})",
                          code="blob_damaged") from exc


def _open_blob(path: Path, key: str) -> BinaryIO:
    try:
        return open(path, "rb", buffering=0)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        raise _not_found(key) from None


def _not_found(key: str) -> NotFound:
    return NotFound(f"there is no blob {key!r}", code="blob_not_found")


@contextmanager
def _disk(key: str) -> Iterator[None]:
    """A failing disk (full, read-only) is a 503 the caller may retry, not a 500."""
    try:
        yield
    except OSError as exc:
        raise _storage_failed(key, exc) from exc


def _storage_failed(key: str, exc: OSError) -> Unavailable:
    return Unavailable(f"could not store blob {key!r}: {exc.strerror or exc}",
                       code="blob_storage_failed")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}{TMP_MARK}{secrets.token_hex(12)}")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable: the new directory entry itself must reach the disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
