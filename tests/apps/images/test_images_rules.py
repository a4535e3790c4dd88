"""The pure rules: sniffing, limits, geometry, percentiles and statistics."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.apps.images import rules
from roost.cloud.errors import Invalid, TooLarge, UnsupportedMedia

FAST = settings(max_examples=200, deadline=None)
sizes = st.integers(min_value=1, max_value=20_000)


@pytest.mark.parametrize("head, fmt", [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "PNG"),
    (b"GIF89a\x01\x00", "GIF"), (b"GIF87a\x01\x00", "GIF"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WEBP"),
    (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1", "AVIF"),
    (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", "HEIF"),
    (b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00isommp41", None),  # an MP4
    (b"%PDF-1.7", None), (b"", None), (b"<svg", None),
])
def test_sniff_reads_the_magic_bytes(head, fmt):
    assert rules.sniff(head) == fmt


@FAST
@given(st.binary(max_size=64))
def test_sniff_never_fails_and_only_names_known_formats(head):
    assert rules.sniff(head) in {None, *rules.FORMATS}


def test_limits_raise_their_own_codes():
    with pytest.raises(Invalid, match="empty") as e:
        rules.check_size(0, 10)
    assert e.value.code == "empty_upload"
    with pytest.raises(TooLarge):
        rules.check_size(11, 10)
    rules.check_size(10, 10)
    with pytest.raises(Invalid) as e:
        rules.check_pixels(10_001, 10_000, 100_000_000)
    assert e.value.code == "too_many_pixels"
    rules.check_pixels(10_000, 10_000, 100_000_000)
    with pytest.raises(UnsupportedMedia):
        rules.check_format("HEIF", {"JPEG"})
    assert rules.check_format("JPEG", {"JPEG"}) == "JPEG"
    assert rules.check_idempotency_key("") is None
    with pytest.raises(Invalid):
        rules.check_idempotency_key("x" * 201)


@FAST
@given(sizes, sizes, sizes, st.one_of(st.none(), sizes), st.booleans())
def test_fit_stays_inside_the_box_and_keeps_the_aspect(w, h, bw, bh, upscale):
    fw, fh = rules.fit_size(w, h, bw, bh, upscale=upscale)
    assert fw >= 1 and fh >= 1
    assert fw <= bw or fw == 1
    if bh is not None:
        assert fh <= bh or fh == 1
    if not upscale:
        assert fw <= w and fh <= h
    # aspect kept to within the rounding of one pixel on each side
    assert abs(fw * h - fh * w) <= max(w, h)


@FAST
@given(sizes, sizes, sizes, sizes)
def test_cover_covers_the_box(w, h, bw, bh):
    cw, ch = rules.cover_size(w, h, bw, bh)
    assert cw >= bw and ch >= bh
    assert cw == bw or ch == bh or abs(cw * h - ch * w) <= max(w, h)


@FAST
@given(sizes, sizes, st.lists(st.floats(0, 8, allow_nan=False), min_size=1, max_size=9))
def test_crop_offsets_keep_the_window_inside(length, window, scores):
    start = rules.crop_offset(length, window, scores)
    assert 0 <= start <= max(0, length - window)
    assert rules.crop_offset(length, window) == max(0, length - window) // 2


def test_smart_crop_picks_the_best_scoring_window():
    assert rules.crop_offset(100, 50, [0, 0, 0, 0, 9]) == 50
    assert rules.crop_offset(100, 50, [9, 0, 0, 0, 0]) == 0
    assert rules.crop_offset(100, 50, [1, 1, 1, 1, 1]) == 25  # ties: the centre


@FAST
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=200))
def test_percentiles_are_values_in_order(values):
    p50, p95 = rules.percentile(values, 50), rules.percentile(values, 95)
    assert p50 is not None and p95 is not None
    assert min(values) - 0.1 <= p50 <= p95 <= max(values) + 0.1
    assert rules.percentile([], 50) is None


def test_percentile_is_nearest_rank():
    assert rules.percentile(list(range(1, 101)), 95) == 95
    assert rules.percentile([5.0], 95) == 5.0


records = st.lists(st.fixed_dictionaries({
    "day": st.sampled_from(["2026-01-04", "2026-01-05", "2025-12-01"]),
    "status": st.sampled_from(["received", "processed", "failed"]),
    "bytes": st.integers(1, 10_000_000),
    "source": st.sampled_from(["http", "kafka:photos"]),
    "processing_ms": st.one_of(st.none(), st.floats(0.1, 5000)),
    "reason": st.sampled_from([None, "corrupt_image"]),
}), max_size=60)


@FAST
@given(records)
def test_stats_add_up(recs):
    days = [date(2026, 1, 4), date(2026, 1, 5)]
    s = rules.stats(recs, days)
    inside = [r for r in recs if r["day"] in ("2026-01-04", "2026-01-05")]
    assert s["total"] == len(inside) == sum(
        d["received"] + d["processed"] + d["failed"] for d in s["days"])
    assert s["bytes"] == sum(r["bytes"] for r in inside)
    assert sum(f["count"] for f in s["failures"]) == sum(r["status"] == "failed" for r in inside)
    assert [d["day"] for d in s["days"]] == ["2026-01-04", "2026-01-05"]


def test_orphans_wait_out_the_grace():
    assert not rules.orphaned(False, 10)
    assert rules.orphaned(False, 300, grace_seconds=rules.CHECK_GRACE_SECONDS)
    assert rules.orphaned(False, 3600)
    assert not rules.orphaned(True, 1e9)
    assert rules.days_back(date(2026, 1, 5), 3) == [date(2026, 1, 3), date(2026, 1, 4),
                                                   date(2026, 1, 5)]
