"""A read-only data folder and a full disk: a clear error at start-up or per request (503 with a
`code`), never a 500 and never a damaged database.

Both need a file system that really refuses writes. As root (the CI container) the tests mount
one: a read-only bind mount, and a 4 MB tmpfs filled up with a ballast file. Without mount
rights, the read-only test falls back to file permissions (which root ignores) and the disk-full
test is skipped, saying why."""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from PIL import Image
from proof_helpers import ADMIN, PLAIN, SECRET, quiet_logs
from proof_process import roost_command, roost_env, roost_server, users_and_grants

from roost.host.bootstrap import bootstrap
from roost.host.settings import Settings
from support.tokens import access_token

pytestmark = pytest.mark.slow
BALLAST_LEFT = 48 * 1024  # bytes left free once the ballast is in


def _mount(*args: str) -> str | None:
    """Run `mount`; None on success, else why it could not."""
    result = subprocess.run(["mount", *args], capture_output=True, text=True)
    return None if result.returncode == 0 else (result.stderr.strip() or "mount failed")


@contextmanager
def _read_only_view(folder: Path, view: Path) -> Iterator[Path]:
    """`folder` seen read-only at `view`: a read-only bind mount as root, else permissions."""
    view.mkdir()
    if os.geteuid() == 0:
        why = _mount("--bind", "-o", "ro", str(folder), str(view))
        if why:
            pytest.skip(f"cannot bind-mount read-only here: {why}")
        try:
            yield view
        finally:
            subprocess.run(["umount", str(view)], check=True)
    else:
        for p in [folder, *folder.rglob("*")]:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield folder
        finally:
            for p in [folder, *folder.rglob("*")]:
                p.chmod(0o755 if p.is_dir() else 0o644)


@contextmanager
def _small_disk(where: Path, size: str = "4m") -> Iterator[Path]:
    where.mkdir()
    why = _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where))
    if why:
        pytest.skip(f"cannot mount a small tmpfs to fill up (needs root): {why}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def _tokens(settings: Settings) -> dict[str, str]:
    with quiet_logs(), bootstrap(settings) as rt:
        return {who: access_token(rt.identity, who, client="proof-minter")
                for who in (ADMIN, PLAIN)}


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _png() -> bytes:
    out = io.BytesIO()
    Image.effect_noise((64, 64), 60).convert("RGB").save(out, "PNG")
    return out.getvalue()


def _integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def test_a_read_only_data_folder_is_refused_at_start_up_with_the_reason(tmp_path):
    data = tmp_path / "data" / "var"
    _tokens(Settings(data_dir=data, secret=SECRET, admin_emails=[ADMIN]))  # a store in use
    before = _digest(data)
    with _read_only_view(tmp_path / "data", tmp_path / "view") as view:
        for folder, says in ((view / "var", "is read-only"),
                             (view / "fresh", "cannot create the data folder")):
            env = roost_env(folder, {"ROOST_SECRET": SECRET})
            for command in (["serve", "--port", "9"], ["check"]):
                result = roost_command(env, *command, cwd=tmp_path, timeout=60)
                assert result.returncode == 3, result.stderr[-2000:]
                assert says in result.stderr and str(folder) in result.stderr
                assert "Traceback" not in result.stderr + result.stdout
    assert _digest(data) == before
    assert _integrity(data / "roost.sqlite") == "ok"


def test_a_full_disk_answers_503_and_recovers_once_space_is_freed(tmp_path):
    with _small_disk(tmp_path / "disk") as disk:
        data = disk / "var"
        settings = Settings(data_dir=data, secret=SECRET, admin_emails=[ADMIN])
        tokens = _tokens(settings)
        admin = {"Authorization": f"Bearer {tokens[ADMIN]}"}
        user = {"Authorization": f"Bearer {tokens[PLAIN]}"}
        env = roost_env(data, {"ROOST_SECRET": SECRET, "ROOST_ADMIN_EMAILS": ADMIN})
        with roost_server(tmp_path, env, name="full") as server, \
                httpx.Client(base_url=server.base_url, timeout=15.0) as client:
            stat = os.statvfs(disk)
            ballast = disk / "ballast"
            ballast.write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - BALLAST_LEFT))

            acked: list[str] = []
            refusals: list[httpx.Response] = []
            for i in range(2000):
                who = f"full{i}@example.com"
                r = client.post("/admin/grants", headers=admin,
                                json={"email": who, "grant": "rooms:admin"})
                if r.is_success:
                    acked.append(who)
                else:
                    refusals.append(r)
                    if len(refusals) >= 5:
                        break
            assert refusals, "the disk never filled up"
            for r in refusals:
                assert r.status_code == 503, r.text
                assert r.headers["content-type"].startswith("application/problem+json")
                assert r.json()["code"] == "disk_full" and "free some space" in r.json()["detail"]
            upload = client.post("/images", headers={**user, "Content-Type": "image/png"},
                                 content=_png())
            assert upload.status_code in (202, 503), upload.text  # stored, or refused: not 500
            assert client.get("/health").status_code == 200  # reads go on
            assert client.get("/admin/users", headers=admin).status_code == 200

            ballast.unlink()
            r = client.post("/admin/grants", headers=admin,
                            json={"email": "after@example.com", "grant": "rooms:admin"})
            assert r.status_code == 200, r.text
            acked.append("after@example.com")
            users = users_and_grants(client, admin)
            for who in acked:
                assert "rooms:admin:*" in users.get(who, []), f"acknowledged grant {who} lost"
            deadline = time.monotonic() + 30
            while (check := roost_command(env, "check", "--max-event-age", "0",
                                          cwd=tmp_path)).returncode != 0:
                assert time.monotonic() < deadline, check.stdout + check.stderr
                time.sleep(1)
        assert _integrity(data / "roost.sqlite") == "ok"
    logged = (tmp_path / "full.log").read_text()
    assert '"status": 500' not in logged and "unhandled_error" not in logged
