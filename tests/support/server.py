"""`serve_roost`: a real `roost serve` subprocess on a free loopback port, for tests that need
the whole program (browser tests, process-level checks)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

STARTUP_SECONDS = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_roost(
    tmp_path: Path,
    env: Mapping[str, str] | None = None,
    *,
    demo: bool = False,
    args: tuple[str, ...] = (),
) -> Iterator[str]:
    """Start `roost serve` with its data in `tmp_path/var` and yield its base URL once /health
    answers; SIGTERM it on exit (SIGKILL after 10 s). `env` adds or overrides `ROOST_*`
    settings. Its log is `tmp_path/roost-serve.log`, quoted in the error if it fails to start."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    full_env.update({"ROOST_DATA_DIR": str(tmp_path / "var"), "ROOST_BASE_URL": base_url,
                     "ROOST_LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1"})
    full_env.update(env or {})
    command = [sys.executable, "-m", "roost.host.cli", "serve", "--host", "127.0.0.1",
               "--port", str(port), *(["--demo"] if demo else []), *args]
    log_path = tmp_path / "roost-serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, env=full_env, cwd=tmp_path, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for_health(proc, base_url, log_path)
        yield base_url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _wait_for_health(proc: subprocess.Popen[bytes], base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"roost serve exited with {proc.returncode}:\n"
                               f"{log_path.read_text(errors='replace')[-4000:]}")
        try:
            if httpx.get(f"{base_url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"roost serve did not answer /health within {STARTUP_SECONDS} s:\n"
                       f"{log_path.read_text(errors='replace')[-4000:]}")
