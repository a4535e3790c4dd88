"""The `roost` command: version and openapi in-process; serve and worker as real subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

import roost
from roost.host.cli import app

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0 and result.output.strip() == roost.__version__


def test_openapi_prints_the_document_without_touching_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ROOST_DATA_DIR", str(tmp_path / "var"))
    result = runner.invoke(app, ["openapi"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["info"]["title"] == "Roost" and "/health" in doc["paths"]
    assert not (tmp_path / "var").exists()


def test_bad_settings_exit_2_with_the_reason(monkeypatch):
    monkeypatch.setenv("ROOST_MAX_BODY_BYTES", "lots")
    result = runner.invoke(app, ["openapi"])
    assert result.exit_code == 2 and "max_body_bytes" in result.output


def test_users_is_mounted_when_installed():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "worker", "openapi", "version"):
        assert command in result.output
    try:
        import roost.host.cli_users  # noqa: F401
    except ModuleNotFoundError:
        assert "users" not in result.output.split("Commands")[-1]
    else:
        assert "users" in result.output


def test_serve_answers_health_and_stops_on_sigterm(roost_server, tmp_path):
    r = httpx.get(f"{roost_server}/health", headers={"X-Request-ID": "cli-1"})
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert r.headers["x-request-id"] == "cli-1"
    missing = httpx.get(f"{roost_server}/nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert httpx.get(f"{roost_server}/openapi.json").json()["info"]["title"] == "Roost"
    log = (tmp_path / "roost-serve.log").read_text()
    request_lines = [json.loads(line) for line in log.splitlines()
                     if line.startswith("{") and '"request"' in line]
    assert any(r["request_id"] == "cli-1" and r["path"] == "/health" for r in request_lines)
    assert (tmp_path / "var" / "roost.sqlite").exists()
    assert (tmp_path / "var" / "secret.key").stat().st_mode & 0o777 == 0o600


def test_serve_refuses_an_unknown_app(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    env.update(ROOST_DATA_DIR=str(tmp_path / "var"), ROOST_APPS="no_such_app")
    done = subprocess.run([sys.executable, "-m", "roost.host.cli", "serve", "--port", "1"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "no module roost.apps.no_such_app" in done.stderr


def test_worker_runs_until_sigterm(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    env.update(ROOST_DATA_DIR=str(tmp_path / "var"), ROOST_LOG_FORMAT="json",
               PYTHONUNBUFFERED="1")
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "roost.host.cli", "worker"], env=env,
                                cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while "worker_started" not in log_path.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log_path.read_text()
            time.sleep(0.05)
        assert "worker_started" in log_path.read_text()
        assert proc.poll() is None  # still running
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    events = [json.loads(line)["event"] for line in log_path.read_text().splitlines()
              if line.startswith("{")]
    assert events.index("worker_started") < events.index("worker_stopping") < \
        events.index("worker_stopped")
