"""A real `roost serve` the test can SIGKILL, and `roost check` as a command, for the fault
tests. (`support.server.serve_roost` always ends its server politely; these tests must not.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from support.server import _wait_for_health, free_port


def roost_env(data_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a roost command on `data_dir`: this one without any `ROOST_*`."""
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
def roost_server(cwd: Path, env: Mapping[str, str], *, name: str, demo: bool = False
                 ) -> Iterator[Server]:
    """`roost serve` on a free loopback port, yielded once /health answers; ended with SIGTERM
    on exit if the test has not killed it. Its output goes to `cwd/<name>.log`. The base URL
    is the loopback address unless `env` sets `ROOST_BASE_URL` (a site behind a TLS proxy)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "roost.host.cli", "serve", "--host", "127.0.0.1",
               "--port", str(port), *(["--demo"] if demo else [])]
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


def roost_command(env: Mapping[str, str], *args: str, cwd: Path | None = None,
                  timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `roost <args>` to completion; its exit code and output."""
    return subprocess.run([sys.executable, "-m", "roost.host.cli", *args], env=dict(env),
                          cwd=cwd, capture_output=True, text=True, timeout=timeout)


def users_and_grants(client: httpx.Client, admin: dict[str, str]) -> dict[str, list[str]]:
    """Every user's email and grants, through `GET /admin/users`, page by page."""
    out: dict[str, list[str]] = {}
    cursor: str | None = None
    while True:
        page = client.get("/admin/users", headers=admin,
                          params={"limit": 100, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        body = page.json()
        out.update({u["email"]: u["grants"] for u in body["users"]})
        cursor = body.get("cursor")
        if not cursor:
            return out
