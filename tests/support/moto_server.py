"""One moto server (a local AWS-API server) per test session, in its own process on a free
loopback port, started on first use: `endpoint()` -> "http://127.0.0.1:<port>",
`client("dynamodb")` -> a boto3 client on it. Every test talks HTTP to a real implementation of
the AWS APIs through botocore, as the adapters do in Lambda. See moto_process.py for how it
serves.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from support.server import free_port

REGION = "eu-central-1"
STARTUP_SECONDS = 60.0
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION}
_lock = threading.Lock()
_endpoint: str | None = None
_clients: dict[str, Any] = {}


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _start() -> str:
    for name, value in FAKE_CREDENTIALS.items():
        os.environ.setdefault(name, value)  # moto accepts any; botocore must find some
    port = free_port()
    log = open(os.devnull, "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("moto_process.py")),
                             str(port), str(os.getpid())], stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, **FAKE_CREDENTIALS})
    atexit.register(_stop, proc)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the moto server exited at start (code {proc.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    _stop(proc)
    raise RuntimeError(f"the moto server did not listen on port {port} "
                       f"within {STARTUP_SECONDS:.0f} s")


def endpoint() -> str:
    """The session's moto server, started on the first call."""
    global _endpoint
    with _lock:
        if _endpoint is None:
            _endpoint = _start()
        return _endpoint


def client(service: str) -> Any:
    """The session's boto3 client for `service` on the moto server (clients are thread-safe;
    making one costs tens of milliseconds, so they are shared)."""
    from roost.cloud.aws.clients import aws_client

    url = endpoint()
    with _lock:
        if service not in _clients:
            _clients[service] = aws_client(service, endpoint_url=url, region=REGION)
    return _clients[service]


_buckets: set[str] = set()


def bucket(name: str = "roost-tests") -> str:
    """An S3 bucket on the session's moto server, created on first use. Tests share it, each
    under its own root prefix (S3Blobs(root=...)), so no test pays for making a bucket."""
    s3 = client("s3")
    with _lock:
        if name not in _buckets:
            s3.create_bucket(Bucket=name,
                             CreateBucketConfiguration={"LocationConstraint": REGION})
            _buckets.add(name)
    return name


def ses_messages(to: str) -> list[bytes]:
    """The raw MIME messages moto's SES accepted for `to`, oldest first."""
    import json
    import urllib.request

    with urllib.request.urlopen(f"{endpoint()}/_roost/ses-messages", timeout=10) as resp:
        return [m["raw"].encode() for m in json.loads(resp.read())
                if to in m["destinations"]]
