"""`roost desks selftest` against a real `roost serve --demo`: the smoke test after a deploy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.server import serve_roost

KEY = "selftest-key-" + "k" * 20


def roost(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "roost.host.cli", *args], env=full,
                          capture_output=True, text=True, timeout=60)


def test_selftest_books_and_cancels_on_the_server(tmp_path: Path):
    env = {"ROOST_DESKS_SELFTEST_KEY": KEY, "ROOST_DESKS_SELFTEST_EMAIL": "probe@example.com",
           "ROOST_APPS": "desks"}
    with serve_roost(tmp_path, env, demo=True) as base_url:
        ok = roost("desks", "selftest", "--url", base_url, env={"ROOST_DESKS_SELFTEST_KEY": KEY})
        assert ok.returncode == 0, ok.stderr
        assert [line.split()[1].rstrip(":") for line in ok.stdout.splitlines()[:5]] == [
            "writable", "office", "book", "read", "cancel"]
        assert "self-test passed" in ok.stdout
        wrong = roost("desks", "selftest", "--url", base_url,
                      env={"ROOST_DESKS_SELFTEST_KEY": "w" * 24})
        assert wrong.returncode == 1 and "wrong self-test key" in wrong.stderr
        log = (tmp_path / "roost-serve.log").read_text()
        assert KEY not in log
    short = roost("desks", "selftest", env={"ROOST_DESKS_SELFTEST_KEY": "short"})
    assert short.returncode == 2 and "at least 20" in short.stderr
