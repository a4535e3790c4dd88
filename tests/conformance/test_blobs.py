"""The Blobs port's behaviour, run against every adapter in `make_blobs`."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roost.cloud.blobs import Blobs, check_prefix
from roost.cloud.clock import FrozenClock
from roost.cloud.errors import Forbidden, Invalid, NotFound, TooLarge

MakeBlobs = Callable[[], Blobs]
MB = 1024 * 1024


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


# -- round trips ---------------------------------------------------------------------------


def test_large_blob_streams_in_and_out(make_blobs: MakeBlobs) -> None:
    blobs = make_blobs()
    data = os.urandom(12 * MB + 7)
    fed: list[int] = []

    def body() -> Iterator[bytes]:
        for piece in pieces(data, 100_003):  # odd size: no chunk boundary lines up
            fed.append(len(piece))
            yield piece

    info = blobs.put("big/one.bin", body())
    assert sum(fed) == len(data)
    assert (info.key, info.size, info.etag) == ("big/one.bin", len(data), md5(data))

    got, chunks = blobs.get("big/one.bin")
    assert got.size == len(data) and got.etag == info.etag
    sizes = []
    h = hashlib.md5(usedforsecurity=False)
    for chunk in chunks:
        sizes.append(len(chunk))
        h.update(chunk)
    assert h.hexdigest() == md5(data) and sum(sizes) == len(data)
    assert len(sizes) > 1 and max(sizes) <= MB, "get must stream, not load the blob whole"


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "file", "iterable", "memoryview"])
def test_every_body_form_round_trips(make_blobs: MakeBlobs, kind: str) -> None:
    blobs = make_blobs()
    data = os.urandom(200_000)
    body = {
        "bytes": lambda: data,
        "bytearray": lambda: bytearray(data),
        "file": lambda: io.BytesIO(data),
        "iterable": lambda: [data[:10], bytearray(data[10:99]), memoryview(data)[99:]],
        "memoryview": lambda: memoryview(data),
    }[kind]()
    info = blobs.put("k", body)
    assert blobs.read("k") == data
    assert info.etag == md5(data) and info.size == len(data)


def test_empty_blob(make_blobs: MakeBlobs) -> None:
    blobs = make_blobs()
    info = blobs.put("empty", b"")
    assert info.size == 0 and info.etag == md5(b"")
    assert blobs.read("empty") == b""
    assert blobs.head("empty").size == 0


@pytest.mark.parametrize("body", ["text, not bytes", [b"ok", "text"], 42])
def test_a_body_that_is_not_bytes_is_invalid_and_nothing_is_stored(
    make_blobs: MakeBlobs, body: object
) -> None:
    blobs = make_blobs()
    with pytest.raises(Invalid) as e:
        blobs.put("k", body)  # type: ignore[arg-type]
    assert e.value.code == "invalid_body"
    assert list(blobs.list()) == []


def test_overwrite_replaces_content_type_and_metadata(
    make_blobs: MakeBlobs, clock: FrozenClock
) -> None:
    blobs = make_blobs()
    blobs.put("k", b"one", content_type="text/plain", metadata={"a": "1"})
    clock.advance(seconds=30)
    info = blobs.put("k", b"two!", content_type="image/png", metadata={"b": "2"})
    head = blobs.head("k")
    assert head == info
    assert (head.size, head.content_type, dict(head.metadata)) == (4, "image/png", {"b": "2"})
    assert head.last_modified == clock.now()
    assert blobs.read("k") == b"two!"


def test_content_type_metadata_and_time_are_kept(
    make_blobs: MakeBlobs, clock: FrozenClock
) -> None:
    blobs = make_blobs()
    meta = {"owner": "u-1", "original-name": "Cat photo (1).jpg"}
    info = blobs.put("img/cat.jpg", b"\xff\xd8jpeg", content_type="image/jpeg", metadata=meta)
    assert info.last_modified == clock.now() and info.last_modified.tzinfo is not None
    for seen in (blobs.head("img/cat.jpg"), blobs.get("img/cat.jpg")[0],
                 next(iter(blobs.list("img/")))):
        assert seen == info
        assert seen.content_type == "image/jpeg" and dict(seen.metadata) == meta


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"metadata": {"Upper": "x"}}, "invalid_metadata"),
        ({"metadata": {"ok": "line\nbreak"}}, "invalid_metadata"),
        ({"metadata": {"ok": "é"}}, "invalid_metadata"),
        ({"metadata": {"big": "x" * 3000}}, "invalid_metadata"),
        ({"content_type": ""}, "invalid_content_type"),
        ({"content_type": "text/plain\r\nX-Evil: 1"}, "invalid_content_type"),
        ({"max_bytes": -1}, "invalid_max_bytes"),
    ],
)
def test_bad_put_options_are_invalid_and_store_nothing(
    make_blobs: MakeBlobs, kwargs: dict, code: str
) -> None:
    blobs = make_blobs()
    with pytest.raises(Invalid) as e:
        blobs.put("k", b"data", **kwargs)
    assert e.value.code == code
    with pytest.raises(NotFound):
        blobs.head("k")


# -- size limit ----------------------------------------------------------------------------


def test_too_large_stops_reading_early_and_stores_nothing(make_blobs: MakeBlobs) -> None:
    blobs = make_blobs()
    pulled = 0

    def endless() -> Iterator[bytes]:
        nonlocal pulled
        while True:
            pulled += 1
            yield b"x" * 64_000

    with pytest.raises(TooLarge) as e:
        blobs.put("up/huge", endless(), max_bytes=1_000_000)
    assert e.value.status == 413 and e.value.code == "too_large"
    assert pulled == 16, "reading must stop at the first chunk past the limit"
    with pytest.raises(NotFound):
        blobs.head("up/huge")
    assert list(blobs.list()) == []


def test_too_large_keeps_the_previous_blob(make_blobs: MakeBlobs) -> None:
    blobs = make_blobs()
    blobs.put("k", b"small")
    with pytest.raises(TooLarge):
        blobs.put("k", io.BytesIO(b"y" * 5000), max_bytes=4999)
    assert blobs.read("k") == b"small"


def test_exactly_max_bytes_is_allowed(make_blobs: MakeBlobs) -> None:
    blobs = make_blobs()
    assert blobs.put("k", b"12345", max_bytes=5).size == 5
    assert blobs.put("z", b"", max_bytes=0).size == 0


# -- listing and deleting ------------------------------------------------------------------

KEYS = ["a", "a-b", "a/b", "a/b/c", "a/b-c", "a0", "a%2F", "a.b", "b", "b/é", "Z", "a/b%/c"]


def test_list_by_prefix_in_key_order(make_blobs: MakeBlobs) -> None:
    blobs = make_blobs()
    for k in reversed(KEYS):
        blobs.put(k, k.encode())
    for prefix in ["", "a", "a/", "a/b", "a/b/", "a/b%", "b/", "c", "a%", "Z"]:
        got = [i.key for i in blobs.list(prefix)]
        assert got == sorted(k for k in KEYS if k.startswith(prefix)), prefix
    assert [i.size for i in blobs.list("a/b/")] == [len("a/b/c")]


_segment = st.text(alphabet="ab-.%é", min_size=1, max_size=3).filter(
    lambda s: s not in (".", "..")
)
_keys = st.lists(_segment, min_size=1, max_size=3).map("/".join)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=st.lists(_keys, min_size=1, max_size=6, unique=True), data=st.data())
def test_list_matches_sorted_prefix_filter(make_blobs: MakeBlobs, keys: list[str],
                                           data: st.DataObject) -> None:
    blobs = make_blobs()
    for k in keys:
        blobs.put(k, b".")
    prefix = data.draw(st.one_of(
        st.sampled_from(keys).flatmap(lambda k: st.integers(0, len(k)).map(lambda n: k[:n])),
        st.text(alphabet="ab-.%/", max_size=4),
    ).filter(_valid_prefix))
    assert [i.key for i in blobs.list(prefix)] == sorted(k for k in keys if k.startswith(prefix))


def _valid_prefix(p: str) -> bool:
    try:
        check_prefix(p)
    except Invalid:
        return False
    return True


def test_delete(make_blobs: MakeBlobs) -> None:
    blobs = make_blobs()
    blobs.put("a/b", b"1")
    blobs.put("a/b/c", b"2")
    assert blobs.delete("a/b/c") is True
    assert blobs.delete("a/b/c") is False
    assert blobs.delete("never/was") is False
    with pytest.raises(NotFound) as e:
        blobs.get("a/b/c")
    assert e.value.code == "blob_not_found"
    assert [i.key for i in blobs.list()] == ["a/b"]
    assert blobs.read("a/b") == b"1"
    blobs.put("a/b/c", b"3")  # the prefix is usable again after its last blob went
    assert blobs.read("a/b/c") == b"3"


def test_missing_blob_is_not_found_everywhere(make_blobs: MakeBlobs) -> None:
    blobs = make_blobs()
    for call in (blobs.get, blobs.head, blobs.read):
        with pytest.raises(NotFound):
            call("nope/x")


# -- signed URLs ---------------------------------------------------------------------------


def verify(blobs: Blobs, url: str, method: str = "GET") -> None:
    """Check a signed URL the way the host does for `GET/PUT /blobs/{key}`."""
    verify_signature = getattr(blobs, "verify_signature", None)
    if verify_signature is None:  # pragma: no cover - URLs a cloud service checks itself
        pytest.skip("this adapter's signed URLs are verified by its storage service")
    parts = urlsplit(url)
    q = parse_qs(parts.query, keep_blank_values=True)
    key = unquote(parts.path.split("/blobs/", 1)[1])
    verify_signature(key, int(q["expires"][0]), q["sig"][0], method)


def _with_query(url: str, **change: str) -> str:
    parts = urlsplit(url)
    q = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()} | change
    return parts._replace(query="&".join(f"{k}={v}" for k, v in q.items())).geturl()


def test_signed_url_verifies_until_it_expires(make_blobs: MakeBlobs, clock: FrozenClock) -> None:
    blobs = make_blobs()
    blobs.put("docs/report 2026 #1.pdf", b"%PDF")
    url = blobs.signed_url("docs/report 2026 #1.pdf", expires_in=600)
    verify(blobs, url)
    clock.advance(seconds=600)
    verify(blobs, url)  # still good at the last second
    clock.advance(seconds=1)
    with pytest.raises(Forbidden) as e:
        verify(blobs, url)
    assert e.value.code == "url_expired"


def test_tampered_signed_urls_are_refused(make_blobs: MakeBlobs) -> None:
    blobs = make_blobs()
    url = blobs.signed_url("a/b.txt", expires_in=60)
    parts = urlsplit(url)
    expires = int(parse_qs(parts.query, keep_blank_values=True)["expires"][0])
    sig = parse_qs(parts.query, keep_blank_values=True)["sig"][0]
    tampered = [
        parts._replace(path=parts.path.replace("b.txt", "c.txt")).geturl(),
        _with_query(url, expires=str(expires + 3600)),
        _with_query(url, sig=sig[:-1] + ("0" if sig[-1] != "0" else "1")),
        _with_query(url, sig=""),
    ]
    for bad in tampered:
        with pytest.raises(Forbidden) as e:
            verify(blobs, bad)
        assert e.value.code == "bad_signature", bad
    with pytest.raises(Forbidden) as e:
        verify(blobs, url, "PUT")  # a GET link does not grant an upload
    assert e.value.code == "bad_signature"


def test_put_url_grants_put(make_blobs: MakeBlobs) -> None:
    blobs = make_blobs()
    url = blobs.signed_url("up/new.png", expires_in=60, method="PUT")
    verify(blobs, url, "PUT")
    with pytest.raises(Forbidden):
        verify(blobs, url, "GET")


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"expires_in": 0}, "invalid_expires_in"),
    ({"expires_in": 8 * 24 * 3600}, "invalid_expires_in"),
    ({"method": "POST"}, "invalid_method"),
])
def test_signed_url_options_are_checked(make_blobs: MakeBlobs, kwargs: dict, code: str) -> None:
    with pytest.raises(Invalid) as e:
        make_blobs().signed_url("k", **kwargs)
    assert e.value.code == code


# -- expiry by prefix ----------------------------------------------------------------------


def test_expiry_by_prefix_follows_the_clock(make_blobs: MakeBlobs, clock: FrozenClock) -> None:
    blobs = make_blobs()
    blobs.expire_prefix("raw/", days=7)
    blobs.put("raw/old", b"1")
    blobs.put("keep/forever", b"2")
    clock.advance(days=3)
    blobs.put("raw/young", b"3")
    clock.advance(timedelta(days=4, seconds=-1))
    assert blobs.head("raw/old").size == 1  # one second before its 7 days are up
    clock.advance(seconds=1)

    for call in (blobs.head, blobs.get, blobs.read):
        with pytest.raises(NotFound):
            call("raw/old")
    assert [i.key for i in blobs.list()] == ["keep/forever", "raw/young"]
    assert blobs.delete("raw/old") is False  # already gone as far as anyone can tell

    blobs.put("raw/gone-soon", b"4")
    clock.advance(days=3)
    assert blobs.purge_expired() == 1  # raw/young; raw/old was deleted above
    assert blobs.purge_expired() == 0
    assert [i.key for i in blobs.list()] == ["keep/forever", "raw/gone-soon"]


def test_expired_blob_written_again_is_fresh(make_blobs: MakeBlobs, clock: FrozenClock) -> None:
    blobs = make_blobs()
    blobs.expire_prefix("tmp/", days=1)
    blobs.put("tmp/x", b"old")
    clock.advance(days=2)
    with pytest.raises(NotFound):
        blobs.head("tmp/x")
    blobs.put("tmp/x", b"new")
    assert blobs.read("tmp/x") == b"new"
    assert blobs.purge_expired() == 0


def test_shortest_matching_rule_wins_and_rules_can_change(
    make_blobs: MakeBlobs, clock: FrozenClock
) -> None:
    blobs = make_blobs()
    blobs.expire_prefix("", days=30)
    blobs.expire_prefix("cache/", days=1)
    blobs.put("cache/a", b"1")
    blobs.put("docs/a", b"2")
    clock.advance(days=2)
    assert [i.key for i in blobs.list()] == ["docs/a"]
    blobs.expire_prefix("cache/", days=5)  # a longer rule brings it back until then
    assert [i.key for i in blobs.list()] == ["cache/a", "docs/a"]
    clock.advance(days=28)
    assert blobs.purge_expired() == 2


@pytest.mark.parametrize("days", [0, -1, 1.5, True])
def test_expiry_needs_whole_positive_days(make_blobs: MakeBlobs, days: object) -> None:
    with pytest.raises(Invalid) as e:
        make_blobs().expire_prefix("x/", days=days)  # type: ignore[arg-type]
    assert e.value.code == "invalid_expiry"


# -- keys that try to escape ---------------------------------------------------------------

BAD_KEYS = ["", "../x", "a/../../x", "..", "/etc/passwd", "a\\b", "..\\x", "a\x00b", "a//b",
            "a/", "./a", "a/./b", "a\nb", "\ud800", "x" * 1025]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_invalid_and_nothing_is_written(make_blobs: MakeBlobs, key: str) -> None:
    blobs = make_blobs()
    calls: list[Callable[[], object]] = [
        lambda: blobs.put(key, b"evil"),
        lambda: blobs.put(key, iter([b"evil"])),
        lambda: blobs.get(key),
        lambda: blobs.head(key),
        lambda: blobs.read(key),
        lambda: blobs.delete(key),
        lambda: blobs.signed_url(key),
    ]
    for call in calls:
        with pytest.raises(Invalid) as e:
            call()
        assert e.value.status == 422 and "key" in e.value.message
    assert list(blobs.list()) == []


@pytest.mark.parametrize("prefix", ["../", "/abs", "a\\b", "a/../b"])
def test_bad_prefixes_are_invalid(make_blobs: MakeBlobs, prefix: str) -> None:
    blobs = make_blobs()
    with pytest.raises(Invalid):
        blobs.list(prefix)
    with pytest.raises(Invalid):
        blobs.expire_prefix(prefix, days=1)


# -- concurrency ---------------------------------------------------------------------------


def test_concurrent_writers_of_one_key_leave_one_complete_blob(make_blobs: MakeBlobs) -> None:
    blobs = make_blobs()
    payloads = [bytes([i]) * (300_000 + i * 1000) for i in range(8)]
    blobs.put("hot", payloads[0])
    start = threading.Barrier(len(payloads) + 1)
    seen: list[str] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def writer(p: bytes) -> None:
        try:
            start.wait()
            for _ in range(3):
                blobs.put("hot", pieces(p, 50_000), metadata={"n": str(p[0])})
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    def reader() -> None:
        start.wait()
        while not done.is_set():
            info, chunks = blobs.get("hot")
            data = b"".join(chunks)
            assert md5(data) == info.etag and len(data) == info.size, "a torn read"
            # never the content of one write with the metadata of another
            assert info.metadata.get("n", "0") == str(data[0])
            seen.append(info.etag)

    threads = [threading.Thread(target=writer, args=(p,)) for p in payloads]
    watcher = threading.Thread(target=lambda: _catch(reader, errors))
    for t in [*threads, watcher]:
        t.start()
    for t in threads:
        t.join()
    done.set()
    watcher.join()
    assert not errors, errors
    assert seen, "the reader ran"
    final = blobs.read("hot")
    assert final in payloads and blobs.head("hot").etag == md5(final)
    assert [i.key for i in blobs.list()] == ["hot"]


def _catch(fn: Callable[[], None], errors: list[BaseException]) -> None:
    try:
        fn()
    except BaseException as exc:
        errors.append(exc)
