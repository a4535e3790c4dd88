"""Security basics through a real `roost serve`, as deployed behind a TLS proxy
(`ROOST_BASE_URL=https://...`): what tests/host proves on the in-process host, checked again
where it matters — on the socket, with every installed app, in the log file an operator reads.

- every kind of answer (JSON, problem, HTML page, HTML error, redirect, static file, the API
  document, 401/403/404/405/413/422/429) carries the security headers and no `Server` banner;
- the sign-in cookies are HttpOnly, SameSite=Lax and Secure, and sign-out clears them;
- a body over `max_body_bytes` is 413 on the socket, declared or chunked, API or form, and the
  server goes on answering;
- after code, password and refresh sign-ins, the server log holds none of the codes,
  passwords, tokens, cookies or the signing secret.
(CSRF on every form post is proven for every route in tests/host/test_csrf.py.)"""

from __future__ import annotations

import email
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from proof_helpers import ADMIN, SECRET
from proof_process import Server, roost_env, roost_server

pytestmark = pytest.mark.slow

SITE = "https://roost.example"
LIMIT = 64 * 1024
PASSWORD = "Correct horse battery 9"
HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "SAMEORIGIN",
           "referrer-policy": "strict-origin-when-cross-origin"}


@dataclass
class Site:
    server: Server
    client: httpx.Client
    outbox: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("security")
    env = roost_env(root / "var", {"ROOST_SECRET": SECRET, "ROOST_ADMIN_EMAILS": ADMIN,
                                   "ROOST_BASE_URL": SITE, "ROOST_MAX_BODY_BYTES": str(LIMIT)})
    with roost_server(root, env, name="security") as server, \
            httpx.Client(base_url=server.base_url, timeout=15.0) as client:
        yield Site(server, client, root / "var" / "outbox")


def _code(site: Site, to: str, subject: str) -> str:
    """The 6 digits of the newest mail to `to` whose subject says `subject` (the server's
    dispatcher sends it within moments)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for path in sorted(site.outbox.glob("*.eml"), reverse=True):
            mail = email.message_from_bytes(path.read_bytes())
            if to in str(mail["To"]) and subject in str(mail["Subject"]):
                return re.search(r"\d{6}", str(mail["Subject"]))[0]  # type: ignore[index]
        time.sleep(0.1)
    raise AssertionError(f"no '{subject}' mail to {to}")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _signed_in_by_code(site: Site, who: str) -> dict[str, str]:
    c = site.client
    assert c.post("/auth/code", json={"email": who}).status_code == 202
    r = c.post("/auth/code/verify", json={"email": who,
                                           "code": _code(site, who, "sign-in code")})
    assert r.status_code == 200, r.text
    return r.json()


def test_every_kind_of_answer_carries_the_security_headers(site: Site):
    c = site.client
    user = _bearer(_signed_in_by_code(site, "headers@example.com")["access_token"])
    html = {"Accept": "text/html"}
    answers = {
        "json": c.get("/health"),
        "json, signed in": c.get("/auth/me", headers=user),
        "page": c.get("/signin"),
        "redirect to sign in": c.get("/account"),
        "static file": c.get("/static/roost.css"),
        "api document": c.get("/openapi.json"),
        "docs page": c.get("/docs"),
        "401": c.get("/auth/me"),
        "403": c.get("/admin/users", headers=user),
        "404": c.get("/no/such/place"),
        "404 for a browser": c.get("/no/such/place", headers=html),
        "405": c.delete("/health"),
        "413": c.post("/auth/code", content=b"x" * (LIMIT + 1),
                      headers={"Content-Type": "application/json"}),
        "422": c.post("/auth/code", json={"mail": "x"}),
    }
    for _ in range(6):  # five codes per address per 15 minutes
        limited = c.post("/auth/code", json={"email": "often@example.com"})
    answers["429"] = limited
    expected = {"json": 200, "json, signed in": 200, "page": 200, "redirect to sign in": 303,
                "static file": 200, "api document": 200, "docs page": 200, "401": 401,
                "403": 403, "404": 404, "404 for a browser": 404, "405": 405, "413": 413,
                "422": 422, "429": 429}
    for kind, r in answers.items():
        assert r.status_code == expected[kind], (kind, r.status_code, r.text[:200])
        for name, value in HEADERS.items():
            assert r.headers.get(name) == value, (kind, name, r.headers.get(name))
        assert r.headers.get("x-request-id"), kind
        assert "server" not in r.headers, (kind, r.headers.get("server"))
    assert answers["404 for a browser"].headers["content-type"].startswith("text/html")
    assert answers["429"].headers.get("retry-after")


def test_sign_in_cookies_are_httponly_samesite_and_secure(site: Site):
    c, who = site.client, "cookies@example.com"
    r = c.post("/signin", data={"email": who, "next": "/"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    r = c.post("/signin/code", follow_redirects=False,
               data={"email": who, "code": _code(site, who, "sign-in code"), "next": "/"})
    assert r.status_code == 303, r.text
    cookies = r.headers.get_list("set-cookie")
    assert {c.split("=", 1)[0] for c in cookies} == {"roost_access", "roost_refresh"}
    for cookie in cookies:
        flags = {f.strip().split("=", 1)[0].lower() for f in cookie.split(";")[1:]}
        assert {"httponly", "secure", "samesite", "path", "max-age"} <= flags, cookie
        assert "samesite=lax" in cookie.lower()
    access = next(x for x in cookies if x.startswith("roost_access="))
    token = access.split("=", 1)[1].split(";", 1)[0]
    out = c.post("/signout", data={}, headers={"Cookie": f"roost_access={token}"},
                 follow_redirects=False)
    assert out.status_code == 303, out.text
    cleared = out.headers.get_list("set-cookie")
    assert {x.split("=", 1)[0] for x in cleared} == {"roost_access", "roost_refresh"}
    assert all("max-age=0" in x.lower() for x in cleared), cleared


@pytest.mark.parametrize("kind", ["declared", "chunked"])
def test_bodies_over_the_limit_are_413_on_the_socket(site: Site, kind: str):
    c = site.client
    big = b'{"email": "' + b"a" * LIMIT + b'@example.com"}'
    body = big if kind == "declared" else iter([big[i:i + 4096]
                                                for i in range(0, len(big), 4096)])
    r = c.post("/auth/code", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text[:300]
    assert r.json()["code"] == "too_large"
    form = b"email=" + b"a" * LIMIT
    page = c.post("/signin", content=form if kind == "declared" else iter([form]),
                  headers={"Content-Type": "application/x-www-form-urlencoded",
                           "Accept": "text/html"})  # a browser: the answer is a page
    assert page.status_code == 413 and page.headers["content-type"].startswith("text/html")
    assert c.get("/health").status_code == 200  # and the server goes on


def test_no_secret_reaches_the_server_log(site: Site):
    c, who, other = site.client, "secrets@example.com", "pw-secrets@example.com"
    secrets: list[str] = [SECRET, PASSWORD]
    tokens = _signed_in_by_code(site, who)
    secrets += [tokens["access_token"], tokens["refresh_token"]]
    secrets.append(_code(site, who, "sign-in code"))
    assert c.post("/auth/signup", json={"email": other, "password": PASSWORD}).status_code == 202
    code = _code(site, other, "confirms your Roost account")
    secrets.append(code)
    r = c.post("/auth/signup/verify", json={"email": other, "code": code})
    assert r.status_code == 200, r.text
    secrets += [r.json()["access_token"], r.json()["refresh_token"]]
    r = c.post("/auth/signin", json={"email": other, "password": PASSWORD})
    assert r.status_code == 200, r.text
    refreshed = c.post("/auth/refresh", json={"refresh_token": r.json()["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    secrets += [r.json()["access_token"], r.json()["refresh_token"],
                refreshed.json()["access_token"], refreshed.json()["refresh_token"]]
    c.post("/auth/signin", json={"email": other, "password": PASSWORD + "-wrong"})
    c.get("/auth/me",
          params={"token": tokens["refresh_token"]}, headers={
              **_bearer(tokens["access_token"]), "Cookie": "roost_refresh=cookie-val"})
    secrets.append("cookie-val")
    time.sleep(0.5)  # the last request's log line
    logged = site.server.log.read_text()
    assert '"event": "request"' in logged and '"path": "/auth/signin"' in logged
    leaked = [s[:12] + "..." for s in secrets if s in logged]
    assert not leaked, f"secrets in the server log: {leaked}"
