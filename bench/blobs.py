"""FileBlobs put/get throughput against plain file writes/reads of the same bytes, in one run.

Two baselines, both on the same disk as the blobs:
  plain          open, write, close — what a naive folder store does (not crash-safe);
  plain+fsync    the same, fsynced — the least any store that survives a crash must pay.
FileBlobs adds md5, the trailer, a temp file, `os.replace` and a folder fsync on put, and the
trailer lookup on get. Small blobs show per-call overhead, large ones streaming speed.

    .venv/bin/python bench/blobs.py [large_mb]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from roost.cloud.clock import SystemClock
from roost.cloud.local.file_blobs import FileBlobs

CHUNK = 64 * 1024


def timed(fn: Callable[..., None], *args: object) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def plain_write(folder: Path, items: list[tuple[str, bytes]], fsync: bool) -> None:
    for name, data in items:
        with open(folder / name, "wb") as f:
            for i in range(0, len(data), CHUNK):
                f.write(data[i : i + CHUNK])
            if fsync:
                f.flush()
                os.fsync(f.fileno())


def plain_read(folder: Path, items: list[tuple[str, bytes]]) -> None:
    for name, _ in items:
        with open(folder / name, "rb") as f:
            while f.read(CHUNK):
                pass


def blob_write(blobs: FileBlobs, items: list[tuple[str, bytes]]) -> None:
    for name, data in items:
        blobs.put(f"bench/{name}", data)


def blob_read(blobs: FileBlobs, items: list[tuple[str, bytes]]) -> None:
    for name, _ in items:
        _, chunks = blobs.get(f"bench/{name}")
        for _ in chunks:
            pass


def run(label: str, items: list[tuple[str, bytes]], root: Path, rounds: int = 3) -> None:
    """Best of `rounds`, each on fresh folders, the contenders taking turns within a round."""
    total_mb = sum(len(d) for _, d in items) / 1e6
    best: dict[str, float] = {}
    for r in range(rounds):
        plain, synced = root / f"{label}{r}-plain", root / f"{label}{r}-sync"
        plain.mkdir()
        synced.mkdir()
        blobs = FileBlobs(root / f"{label}{r}-blobs", clock=SystemClock(),
                          secret=b"bench-secret-16-bytes")
        times = {
            "plain": timed(plain_write, plain, items, False),
            "sync": timed(plain_write, synced, items, True),
            "put": timed(blob_write, blobs, items),
            "read": timed(plain_read, plain, items),
            "get": timed(blob_read, blobs, items),
        }
        best = {k: min(v, best.get(k, v)) for k, v in times.items()}
    t_plain, t_sync, t_put, t_read, t_get = (best[k] for k in
                                             ("plain", "sync", "put", "read", "get"))
    print(f"{label}: {len(items)} x {len(items[0][1]):,} bytes ({total_mb:.1f} MB)")
    print(f"  write  plain {total_mb / t_plain:8.1f} MB/s   plain+fsync {total_mb / t_sync:8.1f}"
          f" MB/s   FileBlobs.put {total_mb / t_put:8.1f} MB/s")
    print(f"         put/plain = {t_put / t_plain:5.2f}x the time   "
          f"put/plain+fsync = {t_put / t_sync:5.2f}x the time")
    print(f"  read   plain {total_mb / t_read:8.1f} MB/s   FileBlobs.get {total_mb / t_get:8.1f}"
          f" MB/s   get/plain = {t_get / t_read:5.2f}x the time")


def main() -> None:
    large_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    with tempfile.TemporaryDirectory(prefix="roost-bench-blobs-") as tmp:
        root = Path(tmp)
        run("small", [(f"s{i:04d}", os.urandom(4096)) for i in range(400)], root)
        run("large", [(f"l{i}", os.urandom(large_mb * 1024 * 1024)) for i in range(3)], root)


if __name__ == "__main__":
    main()
