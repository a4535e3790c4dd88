"""Structured logs: JSON lines with the request id, and never a credential."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog
from pydantic import BaseModel

from roost.cloud.functions import App, Ctx
from roost.host.logs import REDACTED, configure_logging, redact
from support.tokens import access_token


class Login(BaseModel):
    email: str
    password: str
    code: str


@pytest.fixture
def json_logs():
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    yield stream
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if h.get_name() != "roost"]
    structlog.reset_defaults()


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_redact_blanks_credential_fields_at_any_depth():
    event = {"event": "x", "authorization": "Bearer t", "headers": {"Cookie": "a=b",
             "accept": "*/*"}, "password": "p", "code": "123456", "refresh_token": "r",
             "items": [{"api_key": "k"}], "path": "/auth/code", "status_code": 200}
    out = redact(None, "info", dict(event))
    assert out["authorization"] == out["password"] == out["code"] == REDACTED
    assert out["refresh_token"] == REDACTED and out["headers"]["Cookie"] == REDACTED
    assert out["items"][0]["api_key"] == REDACTED
    assert out["headers"]["accept"] == "*/*" and out["path"] == "/auth/code"
    assert out["status_code"] == 200 and out["event"] == "x"


def test_requests_are_logged_as_json_without_credentials(json_logs, make_host):
    app = App("logged", "Logged", tables=[])

    @app.route("POST", "/logged/login", roles=["public"])
    def login(ctx: Ctx, body: Login) -> dict[str, str]:
        structlog.get_logger("test").info("login_attempt", email=body.email,
                                          password=body.password, code=body.code)
        return {"ok": "yes"}

    client, rt = make_host([app])
    token = access_token(rt.identity, "log@example.com")
    r = client.post("/logged/login?code=654321",
                    json={"email": "a@example.com", "password": "hunter2-secret",
                          "code": "123456"},
                    headers={"Authorization": f"Bearer {token}", "X-Request-ID": "log-1"},
                    cookies={"roost_access": token, "roost_refresh": "refresh-secret"})
    assert r.status_code == 200
    text = json_logs.getvalue()
    for secret in (token, "hunter2-secret", "123456", "654321", "refresh-secret"):
        assert secret not in text
    records = lines(text)
    request = next(r for r in records if r["event"] == "request")
    assert request["request_id"] == "log-1" and request["path"] == "/logged/login"
    assert request["status"] == 200 and request["method"] == "POST"
    attempt = next(r for r in records if r["event"] == "login_attempt")
    assert attempt["request_id"] == "log-1" and attempt["password"] == REDACTED
    assert attempt["email"] == "a@example.com"
