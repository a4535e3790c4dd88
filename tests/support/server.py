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
from dataclasses import dataclass
from pathlib import Path

import httpx

STARTUP_SECONDS = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def roost_env(data_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a roost command on `data_dir`: this one without any `ROOST_*`,
    JSON logs, then `extra` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    env.update({"ROOST_DATA_DIR": str(data_dir), "ROOST_LOG_FORMAT": "json",
                "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    return env


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def kill(self) -> None:
        """SIGKILL: no shutdown hook, no flush, no lifespan exit — a crash."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


@contextmanager
def roost_server(cwd: Path, env: Mapping[str, str], *, name: str, demo: bool = False,
                 args: tuple[str, ...] = ()) -> Iterator[Server]:
    """`roost serve` on a free loopback port with exactly `env`, yielded once /health answers;
    ended with SIGTERM (SIGKILL after 10 s) on exit unless the test killed it. Its output goes
    to `cwd/<name>.log`, quoted in the error if it fails to start. The base URL is the loopback
    address unless `env` sets `ROOST_BASE_URL` (a site behind a TLS proxy)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "roost.host.cli", "serve", "--host", "127.0.0.1",
               "--port", str(port), *(["--demo"] if demo else []), *args]
    log = cwd / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, env={"ROOST_BASE_URL": base_url, **env}, cwd=cwd,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for_health(proc, base_url, log)
        yield Server(proc, base_url, log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@contextmanager
def serve_roost(
    tmp_path: Path,
    env: Mapping[str, str] | None = None,
    *,
    demo: bool = False,
    args: tuple[str, ...] = (),
) -> Iterator[str]:
    """Start `roost serve` with its data in `tmp_path/var` and yield its base URL once /health
    answers; `env` adds or overrides `ROOST_*` settings. Its log is
    `tmp_path/roost-serve.log`."""
    with roost_server(tmp_path, roost_env(tmp_path / "var", env), name="roost-serve",
                      demo=demo, args=args) as server:
        yield server.base_url


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
