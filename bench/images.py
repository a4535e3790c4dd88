"""The images pipeline on one core, against `vipsthumbnail` and a full-decode Pillow, in one run.

Each method runs in its own child process pinned to one CPU (and libvips to one thread), over
the same 12 MP JPEGs (4000x3000, photo-like: smooth regions, edges, fine noise) to a 400 px
thumbnail, and reports thumbnails per second and the child's peak resident memory:

  pipeline      the app's path: decode with draft(), EXIF orient, normalise, resize (Lanczos),
                encode JPEG q80, store as a blob (FileBlobs: temp file, fsync, rename)
  vipsthumbnail the Debian libvips-tools command, all files in one invocation (startup paid once)
  pyvips        Image.thumbnail + write_to_buffer, if pyvips imports (optional)
  full Pillow   open -> resize -> save, decoding every pixel
  WebP / AVIF   the pipeline encoding the thumbnail as WebP / AVIF
  all-presets   what the worker does per image: one decode, the four default presets
                (400 px, 200 px smart square, 1200 px JPEG, 1200 px WebP), each stored

Then the upload throughput in MB/s through HTTP (a real uvicorn, raw body, validated and stored)
against PUTting the same bytes to a signed blob URL on the same server (no validation).
Goal: pipeline >= 1.2x vipsthumbnail, peak memory per worker < 100 MB.

    .venv/bin/python bench/images.py [images]
"""

from __future__ import annotations

import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _util import table

HERE = Path(__file__).resolve()
SIZE = 400
ROUNDS = 2


def photo(seed: int, width: int = 4000, height: int = 3000) -> bytes:
    from PIL import Image, ImageDraw, ImageFilter

    im = Image.merge("RGB", [Image.linear_gradient("L").rotate(seed * 40).resize((width, height)),
                             Image.radial_gradient("L").resize((width, height)),
                             Image.linear_gradient("L").resize((width, height)).transpose(
                                 Image.Transpose.FLIP_LEFT_RIGHT)])
    draw = ImageDraw.Draw(im)
    for i in range(40):
        x, y = (seed * 997 + i * 613) % width, (seed * 271 + i * 389) % height
        draw.ellipse((x, y, x + 300 + i * 7, y + 200 + i * 5),
                     fill=((i * 53) % 255, (i * 97) % 255, (i * 31 + seed) % 255))
    im = im.filter(ImageFilter.SMOOTH)
    grain = Image.merge("RGB", [Image.effect_noise((width, height), 64 + 8 * c)
                                for c in range(3)])
    im = Image.blend(im, grain, 0.18)  # sensor grain: what makes real photos 3-4 MB
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90)
    return out.getvalue()


# --------------------------------------------------------------------------- the workers


def _pin() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def _work(method: str, files: list[Path], out: Path) -> int:
    """Make one thumbnail per file with `method`; returns how many."""
    if method == "vipsthumbnail":
        subprocess.run(["vipsthumbnail", *map(str, files), "-s", f"{SIZE}x{SIZE}",
                        "-o", f"{out}/%s-vips.jpg[Q=80,strip]"], check=True,
                       env={**os.environ, "VIPS_CONCURRENCY": "1"})
        return len(files)
    if method == "pyvips":
        import pyvips

        for f in files:
            data = pyvips.Image.thumbnail(str(f), SIZE).write_to_buffer(".jpg[Q=80,strip]")
            (out / f"{f.stem}-pyvips.jpg").write_bytes(data)
        return len(files)
    if method == "full-pillow":
        from PIL import Image

        for f in files:
            with Image.open(f) as im:
                im.load()
                im.thumbnail((SIZE, SIZE), Image.Resampling.LANCZOS, reducing_gap=None)
                im.save(out / f"{f.stem}-full.jpg", quality=80)
        return len(files)
    from roost.apps.images import imaging
    from roost.apps.images.models import Preset
    from roost.cloud.clock import SystemClock
    from roost.cloud.local.file_blobs import FileBlobs

    if method == "all-presets":
        from roost.apps.images.config_model import DEFAULT_PRESETS

        presets = list(DEFAULT_PRESETS)
    else:
        fmt = {"pipeline": "jpeg", "pipeline-webp": "webp", "pipeline-avif": "avif"}[method]
        presets = [Preset(name="thumbnail", width=SIZE, height=SIZE, format=fmt, quality=80)]
    blobs = FileBlobs(out / "blobs", clock=SystemClock(), secret=b"bench-secret-0123456789")
    for f in files:
        data = f.read_bytes()
        base = imaging.decode(data, presets)
        for preset in presets:
            rendered = imaging.render(base, preset, original=_oriented_size(data))
            blobs.put(f"images/{f.stem}/{preset.name}.{preset.extension}", rendered.data,
                      content_type=rendered.content_type)
    return len(files)


def _oriented_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return im.size


def make(folder: str, n: int) -> None:
    """Write the test photos (in a child, so the parent's peak memory is not inherited by the
    measured children: Linux carries ru_maxrss across fork and exec)."""
    for i in range(n):
        (Path(folder) / f"photo{i:02d}.jpg").write_bytes(photo(i))


def child(method: str, folder: str) -> None:
    _pin()
    os.environ["VIPS_CONCURRENCY"] = "1"
    files = sorted(Path(folder).glob("*.jpg"))
    out = Path(tempfile.mkdtemp(prefix=f"bench-{method}-"))
    try:
        _work(method, files[:1], out)  # warm up: imports, codec tables
        start = time.perf_counter()
        n = _work(method, files, out)
        seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(out, ignore_errors=True)
    rss_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                 resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(json.dumps({"method": method, "n": n, "seconds": seconds, "peak_mb": rss_kb / 1024}))


def run_child(method: str, folder: Path) -> dict[str, float]:
    r = subprocess.run([sys.executable, str(HERE), "--child", method, str(folder)],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- HTTP upload


def upload_throughput(files: list[Path]) -> tuple[float, float]:
    """MB/s of POST /images (validated, stored) and of PUT to a signed blob URL, same server."""
    import httpx
    import uvicorn

    from roost.apps.images import app as images_app
    from roost.host.app import create_app
    from roost.host.bootstrap import bootstrap
    from roost.host.logs import configure_logging
    from roost.host.settings import Settings
    from support.server import free_port
    from support.tokens import access_token

    configure_logging("warning", "json")
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), secret="bench-" + "x" * 40, run_worker=False,
                            base_url=f"http://127.0.0.1:{port}", log_level="warning",
                            log_format="json")
        runtime = bootstrap(settings, apps=[images_app])
        server = uvicorn.Server(uvicorn.Config(create_app(runtime=runtime), host="127.0.0.1",
                                               port=port, log_config=None, access_log=False))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            token = access_token(runtime.identity, "bench@example.com")
            bodies = [f.read_bytes() for f in files]
            total = sum(len(b) for b in bodies) / 1e6
            best_upload = best_put = 0.0
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
                for _ in range(ROUNDS):
                    start = time.perf_counter()
                    for b in bodies:
                        r = http.post("/images", content=b, headers={
                            "Authorization": f"Bearer {token}", "Content-Type": "image/jpeg"})
                        assert r.status_code == 202, r.text
                    best_upload = max(best_upload, total / (time.perf_counter() - start))
                    start = time.perf_counter()
                    for i, b in enumerate(bodies):
                        url = runtime.blobs.signed_url(f"bench/{i}", method="PUT")
                        r = http.put(url, content=b, headers={"Content-Type": "image/jpeg"})
                        assert r.status_code == 200, r.text
                    best_put = max(best_put, total / (time.perf_counter() - start))
        finally:
            server.should_exit = True
            thread.join(10)
            runtime.close()
    return best_upload, best_put


# --------------------------------------------------------------------------- main


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    methods = ["pipeline", "vipsthumbnail", "full-pillow", "pipeline-webp", "pipeline-avif",
               "all-presets"]
    try:
        import pyvips  # noqa: F401

        methods.insert(2, "pyvips")
    except (ImportError, OSError):
        print("pyvips: not importable here, left out")
    if shutil.which("vipsthumbnail") is None:
        sys.exit("vipsthumbnail is missing: apt-get install libvips-tools")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        subprocess.run([sys.executable, str(HERE), "--make", str(folder), str(n)], check=True)
        size_mb = sum(f.stat().st_size for f in folder.glob("*.jpg")) / n / 1e6
        print(f"{n} JPEGs of 4000x3000 (12 MP), {size_mb:.1f} MB each, -> {SIZE} px, one core, "
              f"best of {ROUNDS} interleaved rounds\n")
        best: dict[str, dict[str, float]] = {}
        for _ in range(ROUNDS):
            for m in methods:
                r = run_child(m, folder)
                rate = r["n"] / r["seconds"]
                if m not in best or rate > best[m]["rate"]:
                    best[m] = {"rate": rate, "peak_mb": r["peak_mb"]}
        base = best["vipsthumbnail"]["rate"]
        print(table([(m, round(best[m]["rate"], 1), f"{best[m]['rate'] / base:.2f}x",
                      round(best[m]["peak_mb"], 1)) for m in methods],
                    ["method", "thumbs/s", "vs vipsthumbnail", "peak MB"]))
        files = sorted(folder.glob("*.jpg"))
        up, put = upload_throughput(files)
        print()
        print(table([("POST /images (sniff, pixel check, decode pass, store)", round(up, 1),
                      f"{up / put:.2f}x"),
                     ("PUT signed blob URL (store only)", round(put, 1), "1.00x")],
                    ["upload over HTTP", "MB/s", "ratio"]))


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent.parent / "tests"))
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == "--make":
        make(sys.argv[2], int(sys.argv[3]))
    else:
        main()
