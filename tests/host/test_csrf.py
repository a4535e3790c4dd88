"""CSRF: every state-changing route and page refuses a browser request from another site, in the
host, before the function runs — so no app can forget it."""

from __future__ import annotations

import re

import pytest

from roost.host.bootstrap import installed_apps
from support.tokens import access_token

ADMIN = "root@example.com"


@pytest.fixture
def host(make_host):
    client, runtime = make_host(installed_apps(), admin_emails=[ADMIN])
    token = access_token(runtime.identity, ADMIN)
    unsafe = [f for f in runtime.registry.functions()
              if f.kind in ("route", "page") and f.method not in ("GET", "HEAD")]
    return client, token, unsafe


def _send(client, fn, headers):
    path = re.sub(r"\{[^}]+\}", "x", fn.path)
    kwargs = {"json": {}} if fn.kind == "route" else {"data": {}}
    return client.request(fn.method, path, headers=headers, follow_redirects=False, **kwargs)


@pytest.mark.parametrize("marker", [{"Origin": "https://evil.example"},
                                    {"Sec-Fetch-Site": "cross-site"}])
def test_cross_site_browser_requests_are_refused_everywhere(host, marker):
    client, token, unsafe = host
    assert unsafe
    client.cookies.set("roost_access", token)
    for fn in unsafe:
        r = _send(client, fn, marker)
        assert r.status_code == 403, f"{fn.method} {fn.path}: {r.status_code}"
        if r.headers["content-type"].startswith("application/problem+json"):
            assert r.json()["code"] == "cross_site_form"


def test_same_site_and_bearer_requests_are_not_refused_as_cross_site(host):
    client, token, unsafe = host
    client.cookies.set("roost_access", token)
    for fn in unsafe:
        same = _send(client, fn, {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"})
        bearer = _send(client, fn, {"Authorization": f"Bearer {token}",
                                    "Origin": "https://tool.example"})
        for r in (same, bearer):
            assert "cross_site_form" not in r.text, f"{fn.method} {fn.path}"
