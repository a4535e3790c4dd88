"""Every registered route and page by every kind of caller, checked against its declaration.

The callers: anonymous, a signed-in user with no roles, a holder of each app role any function
declares, and a system admin. A function declaring `public` never answers 401/403; `user` answers
401 to the anonymous and never 401 to a signed-in caller; an app role answers 401 to the
anonymous, 403 to those without the role, and lets the holder and system admins through (they
may still get 4xx for the empty request — but never 401/403). Bad tokens — expired, tampered,
`alg: none`, signed with another key — are 401 on every protected function."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta

import jwt
import pytest

from roost.cloud.functions import PUBLIC, USER, Function
from roost.cloud.identity import SYSTEM_ADMIN, SYSTEM_APP, Grant
from roost.host.bootstrap import installed_apps
from support.tokens import access_token

ADMIN = "root@example.com"
SYSTEM_ADMINS = f"{SYSTEM_APP}:{SYSTEM_ADMIN}"  # holders pass every role check
PLAIN = "plain@example.com"


def _http_functions(runtime) -> list[Function]:
    return [f for f in runtime.registry.functions() if f.kind in ("route", "page")]


def _path(fn: Function) -> str:
    return re.sub(r"\{[^}]+\}", "x", fn.path or "/")


def _call(client, fn: Function, headers: dict[str, str]):
    kwargs: dict = {"headers": headers, "follow_redirects": False}
    if fn.method in ("POST", "PUT", "PATCH"):
        kwargs["json" if fn.kind == "route" else "data"] = {}
    return client.request(fn.method, _path(fn), **kwargs)


def _code(response) -> str | None:
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        return response.json().get("code")
    return None


def _role_holder_email(role: str) -> str:
    return f"{role.replace(':', '.')}@example.com"


@pytest.fixture
def matrix(make_host):
    client, runtime = make_host(installed_apps(), admin_emails=[ADMIN])
    functions = _http_functions(runtime)
    roles = sorted({r for f in functions for r in f.roles if r not in (PUBLIC, USER)})
    tokens = {"anonymous": None, "user": access_token(runtime.identity, PLAIN),
              "admin": access_token(runtime.identity, ADMIN)}
    for role in roles:
        app, name = role.split(":")
        email = _role_holder_email(role)
        runtime.identity.grant(email, Grant(app, name), by="test")
        tokens[role] = access_token(runtime.identity, email)
    return client, runtime, functions, tokens


def test_every_http_function_declares_roles(matrix):
    _, _, functions, _ = matrix
    assert functions, "no routes registered"
    for fn in functions:
        assert fn.roles, f"{fn.name} declares no roles"


def test_every_function_against_every_caller(matrix):
    client, _, functions, tokens = matrix
    wrong: list[str] = []
    for fn in functions:
        for who, token in tokens.items():
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            r = _call(client, fn, headers)
            status = r.status_code
            if PUBLIC in fn.roles:
                # a public route may still refuse a missing refresh token, never the caller
                ok = status != 403 and not (status == 401 and _code(r) == "sign_in_required")
            elif who == "anonymous":
                ok = status == 401 or (fn.kind == "page" and status in (302, 303, 307))
            elif USER in fn.roles:
                ok = status != 401
            elif who in ("admin", SYSTEM_ADMINS) or who in fn.roles:
                ok = status not in (401, 403)
            else:
                ok = status == 403
            if not ok:
                wrong.append(f"{fn.method} {fn.path} as {who}: {status} (roles {fn.roles})")
    assert not wrong, "\n".join(wrong)


def _unsigned(claims: dict) -> str:
    def enc(part: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
    return f"{enc({'alg': 'none', 'typ': 'JWT'})}.{enc(claims)}."


def test_bad_tokens_are_refused_everywhere(matrix, clock):
    client, runtime, functions, tokens = matrix
    good = tokens["admin"]
    claims = jwt.decode(good, options={"verify_signature": False})
    head, body, sig = good.split(".")
    flipped = sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB")
    bad = {
        "tampered claims": f"{head}.{_unsigned({**claims, 'sub': 'someone-else'}).split('.')[1]}"
                           f".{sig}",
        "tampered signature": f"{head}.{body}.{flipped}",
        "alg none": _unsigned(claims),
        "another key": jwt.encode(claims, "not-our-secret-" + "y" * 40, algorithm="HS256"),
        "garbage": "not-a-token",
    }
    protected = [f for f in functions if PUBLIC not in f.roles and f.kind == "route"]
    assert protected
    for fn in protected:
        for name, token in bad.items():
            r = _call(client, fn, {"Authorization": f"Bearer {token}"})
            assert r.status_code == 401, f"{fn.name} accepted a token with {name}"
    clock.advance(timedelta(seconds=runtime.identity.access.ttl + 1))
    for fn in protected:
        r = _call(client, fn, {"Authorization": f"Bearer {good}"})
        assert r.status_code == 401 and r.json()["code"] == "token_expired", fn.name
