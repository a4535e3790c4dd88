"""What FileBlobs promises beyond the port: its folder stays safe, tidy and shared."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from roost.cloud.clock import FrozenClock
from roost.cloud.errors import Invalid, NotFound, TooLarge, Unavailable
from roost.cloud.local.file_blobs import FileBlobs

SECRET = b"test-secret-at-least-16-bytes"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "blobs"


@pytest.fixture
def blobs(root: Path, clock: FrozenClock) -> FileBlobs:
    return FileBlobs(root, clock=clock, secret=SECRET)


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir())


def test_symlinked_folder_pointing_outside_is_refused(
    blobs: FileBlobs, root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret%blob").write_bytes(b"not yours")
    (root / "evil").symlink_to(outside, target_is_directory=True)
    for call in (lambda: blobs.put("evil/x", b"data"), lambda: blobs.put("evil/new/y", b"d"),
                 lambda: blobs.get("evil/secret"), lambda: blobs.head("evil/secret"),
                 lambda: blobs.delete("evil/secret"), lambda: blobs.list("evil/")):
        with pytest.raises(Invalid) as e:
            call()
        assert e.value.code == "blob_key_escapes"
    assert files_under(outside) == ["secret%blob"]
    assert list(blobs.list()) == []  # the walk does not follow the link either


def test_symlinked_blob_file_pointing_outside_is_refused(
    blobs: FileBlobs, root: Path, tmp_path: Path
) -> None:
    target = tmp_path / "passwd"
    target.write_bytes(b"root:x:0:0")
    (root / "a%blob").symlink_to(target)
    with pytest.raises(Invalid):
        blobs.read("a")
    with pytest.raises(Invalid):
        blobs.put("a", b"overwrite")
    assert target.read_bytes() == b"root:x:0:0"


def test_symlink_inside_the_root_is_followed(blobs: FileBlobs, root: Path) -> None:
    blobs.put("real/x", b"1")
    (root / "alias").symlink_to(root / "real", target_is_directory=True)
    assert blobs.read("alias/x") == b"1"


def test_layout_keeps_file_and_folder_keys_apart(blobs: FileBlobs, root: Path) -> None:
    for key in ["a", "a/b", "a%blob", "100%/x", "a%25"]:
        blobs.put(key, key.encode())
    assert files_under(root) == sorted(["a%blob", "a/b%blob", "a%25blob%blob", "100%25/x%blob",
                                        "a%2525%blob"])
    for key in ["a", "a/b", "a%blob", "100%/x", "a%25"]:
        assert blobs.read(key) == key.encode()


def test_foreign_and_internal_files_are_not_listed(blobs: FileBlobs, root: Path) -> None:
    blobs.put("x/k", b"1")
    blobs.expire_prefix("y/", days=1)  # writes the rules file into the root
    (root / "x" / "k%tmpdeadbeef").write_bytes(b"half a write")
    (root / "x" / "notes.txt").write_bytes(b"someone's file")
    (root / "odd%dir").mkdir()
    (root / "odd%dir" / "z%blob").write_bytes(b"")
    assert [i.key for i in blobs.list()] == ["x/k"]


def test_nothing_is_left_behind_by_a_failed_write(blobs: FileBlobs, root: Path) -> None:
    def breaks() -> Iterator[bytes]:
        yield b"a" * 100_000
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        blobs.put("up/a", breaks())
    with pytest.raises(TooLarge):
        blobs.put("up/b", [b"x" * 10] * 10, max_bytes=50)
    assert [p for p in files_under(root)] == []


def test_deleting_the_last_blob_removes_empty_folders(blobs: FileBlobs, root: Path) -> None:
    blobs.put("a/b/c/d", b"1")
    blobs.put("a/keep", b"2")
    blobs.delete("a/b/c/d")
    assert sorted(p.name for p in root.rglob("*")) == ["a", "keep%blob"]


def test_a_reader_keeps_its_version_through_overwrite_and_delete(blobs: FileBlobs) -> None:
    old = os.urandom(1_000_000)
    blobs.put("k", old)
    info, chunks = blobs.get("k")
    first = next(chunks)
    blobs.put("k", b"new")
    blobs.delete("k")
    assert first + b"".join(chunks) == old and info.size == len(old)


def test_rules_persist_and_are_shared_between_instances(
    root: Path, clock: FrozenClock
) -> None:
    one = FileBlobs(root, clock=clock, secret=SECRET)
    two = FileBlobs(root, clock=clock, secret=SECRET)
    one.put("tmp/a", b"1")
    two.list()  # caches "no rules"
    one.expire_prefix("tmp/", days=1)
    clock.advance(days=1)
    with pytest.raises(NotFound):
        two.head("tmp/a")
    assert FileBlobs(root, clock=clock, secret=SECRET).purge_expired() == 1


def test_purge_clears_stale_temp_files_only(blobs: FileBlobs, root: Path) -> None:
    blobs.put("d/k", b"1")
    stale = root / "d" / "k%tmp0001"
    fresh = root / "d" / "k%tmp0002"
    stale.write_bytes(b"crashed")
    fresh.write_bytes(b"in progress")
    hours_ago = time.time() - 2 * 3600
    os.utime(stale, (hours_ago, hours_ago))
    assert blobs.purge_expired() == 0  # debris is not a blob
    assert not stale.exists() and fresh.exists()


def test_damaged_blob_file_is_unavailable_not_garbage(blobs: FileBlobs, root: Path) -> None:
    blobs.put("k", b"hello")
    (root / "k%blob").write_bytes(b"truncated")
    with pytest.raises(Unavailable) as e:
        blobs.get("k")
    assert e.value.code == "blob_damaged"
    assert blobs.delete("k") is True
    assert files_under(root) == []


def test_signed_url_shape(root: Path, clock: FrozenClock) -> None:
    blobs = FileBlobs(root, clock=clock, secret=SECRET, url_base="https://roost.example/blobs/")
    url = blobs.signed_url("a b/c#d.txt", expires_in=60, method="put")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://roost.example/blobs/a%20b/c%23d.txt")
    q = parse_qs(parts.query)
    assert int(q["expires"][0]) == int(clock.now().timestamp()) + 60
    assert len(q["sig"][0]) == 64
    blobs.verify_signature("a b/c#d.txt", int(q["expires"][0]), q["sig"][0], "PUT")


def test_other_secret_rejects_the_signature(root: Path, clock: FrozenClock) -> None:
    url = FileBlobs(root, clock=clock, secret=SECRET).signed_url("k")
    q = parse_qs(urlsplit(url).query)
    other = FileBlobs(root, clock=clock, secret=b"another-secret-of-16+")
    with pytest.raises(Exception) as e:
        other.verify_signature("k", int(q["expires"][0]), q["sig"][0])
    assert getattr(e.value, "code", None) == "bad_signature"


def test_a_short_secret_is_refused(root: Path, clock: FrozenClock) -> None:
    with pytest.raises(ValueError):
        FileBlobs(root, clock=clock, secret=b"short")


def test_too_long_key_segment_is_invalid(blobs: FileBlobs, root: Path) -> None:
    with pytest.raises(Invalid) as e:
        blobs.put("a/" + "x" * 240, b"1")
    assert e.value.code == "invalid_blob_key"
    assert blobs.put("a/" + "x" * 200, b"1").size == 1


WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from roost.cloud.clock import SystemClock
    from roost.cloud.local.file_blobs import FileBlobs
    blobs = FileBlobs(Path(sys.argv[1]), clock=SystemClock(), secret=b"x" * 16)
    n = int(sys.argv[2])
    data = bytes([n]) * (200_000 + n)
    for _ in range(20):
        blobs.put("shared/key", iter([data[:70_000], data[70_000:]]), metadata={"n": str(n)})
""")


def test_writers_in_separate_processes_leave_one_complete_blob(
    blobs: FileBlobs, root: Path
) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(n)])
             for n in (1, 2, 3)]
    reads = 0
    while any(p.poll() is None for p in procs):
        try:
            info, chunks = blobs.get("shared/key")
        except NotFound:
            continue
        data = b"".join(chunks)
        n = int(info.metadata["n"])
        assert data == bytes([n]) * (200_000 + n)
        reads += 1
    assert [p.wait() for p in procs] == [0, 0, 0]
    n = int(blobs.head("shared/key").metadata["n"])
    assert blobs.read("shared/key") == bytes([n]) * (200_000 + n)
    assert files_under(root) == ["shared/key%blob"]
