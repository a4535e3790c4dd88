"""Run moto's AWS-API server on 127.0.0.1:<port> until terminated or until the process that
started it is gone: `python moto_process.py PORT PARENT_PID`.

Served by uvicorn (keep-alive HTTP/1.1; werkzeug's server, which moto ships with, opens a
connection and a thread per request), one request at a time: AWS makes each call atomic, moto's
in-memory backend does not lock (a canceled DynamoDB transaction even restores a deep copy of
every table it touched, wiping writes made meanwhile), so the gate gives the tests the atomicity
AWS gives.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

SES_MESSAGES = "/_roost/ses-messages"


def _ses_messages(start_response: Callable[..., Any]) -> list[bytes]:
    """Every raw message moto's SES accepted, oldest first: `[{source, destinations, raw}]`.
    (moto's own /moto-api/data.json serialises every service's models and fails on some.)"""
    import json

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    out = []
    regions = ses_backends[DEFAULT_ACCOUNT_ID]
    for region in list(regions):  # the regions used so far
        for m in regions[region].sent_messages:
            if hasattr(m, "raw_data"):
                out.append({"source": m.source, "destinations": list(m.destinations),
                            "raw": m.raw_data})
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(out).encode()]


def _exit_with(parent: int) -> None:
    """A test run killed outright cannot stop its server: the server notices and stops."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def main(port: int, parent: int) -> None:
    import uvicorn
    import uvicorn.middleware.wsgi as uvicorn_wsgi
    from moto import backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    # moto lists its own package folder on every request (~50 stat calls): once is enough.
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]
    # moto reads the undecoded path from RAW_URI (werkzeug's server sets it): without it, an S3
    # key holding "%2F" is decoded twice and stored as "/".
    build_environ = uvicorn_wsgi.build_environ

    def with_raw_uri(scope: Any, message: Any, body: Any) -> dict[str, Any]:
        environ = build_environ(scope, message, body)
        raw = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string") or b""
        environ["RAW_URI"] = (raw + (b"?" + query if query else b"")).decode("latin-1")
        return environ

    uvicorn_wsgi.build_environ = with_raw_uri  # type: ignore[assignment]
    app = DomainDispatcherApplication(create_backend_app)
    gate = threading.Lock()

    def serialised(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with gate:
            if environ.get("PATH_INFO") == SES_MESSAGES:
                return _ses_messages(start_response)
            body: Iterable[bytes] = app(environ, start_response)
            return list(body)

    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    uvicorn.run(serialised, host="127.0.0.1", port=port, interface="wsgi", log_level="warning",
                access_log=False)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
