"""`roost check` and other roost commands run to completion, and admin reads, for the fault
tests. The server they SIGKILL is `support.server.roost_server` (re-exported here)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import httpx

from support.server import Server, roost_env, roost_server

__all__ = ["Server", "roost_command", "roost_env", "roost_server", "users_and_grants"]


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
