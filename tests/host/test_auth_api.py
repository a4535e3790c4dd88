"""The JSON sign-in API through the real host: codes, passwords, tokens, cookies, problems."""

from __future__ import annotations

import pytest
from test_auth_fixtures import SIGNUP_IN_SUBJECT, deliver, latest_code

from roost.cloud.events import Event
from roost.cloud.ids import new_id
from roost.cloud.local.identity import CODE_EVENT

pytest_plugins = ["test_auth_fixtures"]

ANA = "ana@example.com"
PASSWORD = "a long and happy password"


def sign_in_by_code(client, runtime, email: str = ANA) -> dict:
    assert client.post("/auth/code", json={"email": email}).status_code == 202
    r = client.post("/auth/code/verify", json={"email": email,
                                               "code": latest_code(client, runtime)})
    assert r.status_code == 200, r.text
    return r.json()


def bearer(tokens: dict) -> dict:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code
    return body


def test_code_sign_in_end_to_end(auth_client):
    client, runtime = auth_client
    r = client.post("/auth/code", json={"email": " Ana@Example.com "})
    assert r.status_code == 202
    assert r.json()["status"] == "sent"
    code = latest_code(client, runtime)
    r = client.post("/auth/code/verify", json={"email": ANA, "code": code})
    assert r.status_code == 200
    tokens = r.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900
    me = client.get("/auth/me", headers=bearer(tokens)).json()
    assert me == {"user_id": tokens["user_id"], "email": ANA, "grants": [], "is_admin": False}


def test_sign_in_sets_http_only_lax_cookies(auth_client):
    client, runtime = auth_client
    sign_in_by_code(client, runtime)
    cookies = client.cookies
    assert cookies.get("roost_access") and cookies.get("roost_refresh")
    client.post("/auth/code", json={"email": ANA})
    r = client.post("/auth/code/verify", json={"email": ANA,
                                               "code": latest_code(client, runtime)})
    headers = r.headers.get_list("set-cookie")
    assert len(headers) == 2
    for h in headers:
        assert "HttpOnly" in h and "SameSite=lax" in h and "Path=/" in h
        assert "Secure" not in h  # http://
    assert client.get("/auth/me").json()["email"] == ANA  # the cookie alone signs in


def test_cookies_are_secure_on_an_https_site(auth_host):
    client, runtime = auth_host(base_url="https://roost.example")
    client.post("/auth/code", json={"email": ANA})
    r = client.post("/auth/code/verify", json={"email": ANA,
                                               "code": latest_code(client, runtime)})
    assert all("Secure" in h for h in r.headers.get_list("set-cookie"))


def test_the_code_mail_is_sent_once_by_the_handler(auth_client):
    client, runtime = auth_client
    client.post("/auth/code", json={"email": ANA})
    deliver(runtime)
    (mail,) = runtime.mailer.list()
    message = runtime.mailer.read(mail.id)
    code = mail.subject.split()[0]
    assert code.isdigit() and code in message.get_body(("plain",)).get_content()
    # At least once: the same event handled twice mails once (its id is the idempotency key).
    fn = runtime.registry.function("auth.mail_sign_in_code")
    code_id = runtime.tables.table("roost_auth_codes").get({"email": ANA,
                                                            "purpose": "signin"})["code_id"]
    event = Event(type=CODE_EVENT, data={"email": ANA, "code_id": code_id}, id=new_id(),
                  at=runtime.clock.now())
    for _ in range(2):
        fn.invoke(fn.context(runtime.resources), event)
    assert len(runtime.mailer.list()) == 2


def test_the_answers_do_not_reveal_accounts(auth_client):
    client, runtime = auth_client
    sign_in_by_code(client, runtime)
    known = client.post("/auth/code", json={"email": ANA})
    unknown = client.post("/auth/code", json={"email": "nobody@example.com"})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    bad = [client.post("/auth/code/verify", json={"email": e, "code": "000000"})
           for e in (ANA, "nobody@example.com")]
    bodies = [r.json() for r in bad]
    for b in bodies:
        b.pop("request_id")
    assert bodies[0] == bodies[1]
    assert bad[0].status_code == bad[1].status_code == 401
    known = client.post("/auth/signup", json={"email": ANA, "password": PASSWORD})
    unknown = client.post("/auth/signup", json={"email": "new@example.com", "password": PASSWORD})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json()) == \
        (202, {"status": "sent", "detail": "check your email to finish signing up"})
    deliver(runtime)
    sent = {(m.to[0], m.subject.split(" ", 1)[-1]) for m in runtime.mailer.list()}
    assert (ANA, "already have a Roost account") in sent
    assert ("new@example.com", "confirms your Roost account") in sent


def test_refusals_are_problems_with_stable_codes(auth_host):
    client, _ = auth_host(allowed_email_pattern=r".*@example\.com")
    problem(client.post("/auth/code", json={"email": "eve@evil.org"}), 403,
            "email_not_allowed")
    problem(client.post("/auth/code", json={"email": "not an email"}), 422, "invalid_email")
    problem(client.post("/auth/code", json={}), 422, "validation_failed")
    problem(client.post("/auth/code/verify", json={"email": ANA, "code": "12"}), 422,
            "invalid_code")
    problem(client.post("/auth/code/verify", json={"email": ANA, "code": "123456"}), 401,
            "code_invalid")
    problem(client.post("/auth/signup", json={"email": ANA, "password": "short"}), 422,
            "password_too_short")
    problem(client.post("/auth/signin", json={"email": ANA, "password": PASSWORD}), 401,
            "wrong_credentials")
    problem(client.get("/auth/me"), 401, "sign_in_required")


def test_rate_limits_answer_429_with_retry_after(auth_client):
    client, _ = auth_client
    for _ in range(5):
        assert client.post("/auth/code", json={"email": ANA}).status_code == 202
    r = client.post("/auth/code", json={"email": ANA})
    problem(r, 429, "rate_limited")
    assert 0 < int(r.headers["Retry-After"]) <= 900


def test_the_client_address_is_what_the_per_client_limit_counts(auth_client):
    client, _ = auth_client
    for i in range(30):
        assert client.post("/auth/code", json={"email": f"u{i}@example.com"}).status_code == 202
    problem(client.post("/auth/code", json={"email": "late@example.com"}), 429, "rate_limited")


def test_password_sign_up_and_sign_in(auth_client):
    client, runtime = auth_client
    assert client.post("/auth/signup", json={"email": ANA, "password": PASSWORD}
                       ).status_code == 202
    code = latest_code(client, runtime, SIGNUP_IN_SUBJECT)
    r = client.post("/auth/signup/verify", json={"email": ANA, "code": code})
    assert r.status_code == 200
    client.cookies.clear()
    r = client.post("/auth/signin", json={"email": "ANA@example.com", "password": PASSWORD})
    assert r.status_code == 200
    assert client.get("/auth/me", headers=bearer(r.json())).json()["email"] == ANA


def test_expired_access_tokens_are_refused_then_refreshed(auth_client, clock):
    client, runtime = auth_client
    tokens = sign_in_by_code(client, runtime)
    client.cookies.clear()
    clock.advance(seconds=900)
    problem(client.get("/auth/me", headers=bearer(tokens)), 401, "token_expired")
    r = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 200
    assert client.get("/auth/me", headers=bearer(r.json())).status_code == 200


def test_refresh_from_the_cookie_and_reuse_detection(auth_client):
    client, runtime = auth_client
    first = sign_in_by_code(client, runtime)
    r = client.post("/auth/refresh", json={})  # the roost_refresh cookie
    assert r.status_code == 200
    assert client.cookies.get("roost_refresh") == r.json()["refresh_token"]
    client.cookies.clear()
    problem(client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}),
            401, "token_reused")
    problem(client.post("/auth/refresh", json={"refresh_token": r.json()["refresh_token"]}),
            401, "token_revoked")
    problem(client.post("/auth/refresh", json={}), 401, "token_invalid")


def test_sign_out_revokes_and_clears(auth_client):
    client, runtime = auth_client
    tokens = sign_in_by_code(client, runtime)
    r = client.post("/auth/signout", json={})
    assert r.status_code == 204
    assert all("Max-Age=0" in h for h in r.headers.get_list("set-cookie"))
    problem(client.get("/auth/me", headers=bearer(tokens)), 401, "token_revoked")
    problem(client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}),
            401, "token_revoked")
    assert client.post("/auth/signout", json={}).status_code == 204  # again: still fine


def test_a_bearer_client_signs_out_with_tokens_in_the_body(auth_client):
    client, runtime = auth_client
    tokens = sign_in_by_code(client, runtime)
    client.cookies.clear()
    r = client.post("/auth/signout", json={"access_token": tokens["access_token"],
                                           "refresh_token": tokens["refresh_token"]})
    assert r.status_code == 204
    problem(client.get("/auth/me", headers=bearer(tokens)), 401, "token_revoked")


def test_admin_emails_are_admins(auth_host):
    client, runtime = auth_host(admin_emails=["boss@example.com"])
    tokens = sign_in_by_code(client, runtime, "boss@example.com")
    me = client.get("/auth/me", headers=bearer(tokens)).json()
    assert me["is_admin"] and me["grants"] == ["roost:admin:*"]


def test_no_secret_reaches_the_request_log(auth_client, capsys):
    client, runtime = auth_client
    client.post("/auth/signup", json={"email": ANA, "password": PASSWORD})
    code = latest_code(client, runtime, SIGNUP_IN_SUBJECT)
    tokens = client.post("/auth/signup/verify", json={"email": ANA, "code": code}).json()
    client.post("/auth/signin", json={"email": ANA, "password": PASSWORD + "x"})
    client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    out = capsys.readouterr()
    logged = out.out + out.err
    assert "request" in logged  # the host does log each request
    for secret in (PASSWORD, code, tokens["access_token"], tokens["refresh_token"]):
        assert secret not in logged


def test_the_openapi_document_lists_the_auth_routes(auth_client):
    client, _ = auth_client
    doc = client.get("/openapi.json").json()
    for path in ("/auth/code", "/auth/code/verify", "/auth/signup", "/auth/signup/verify",
                 "/auth/signin", "/auth/refresh", "/auth/signout", "/auth/me"):
        assert path in doc["paths"], path
    verify = doc["paths"]["/auth/code/verify"]["post"]
    assert "roost_auth_sessions" in verify["x-roost-uses"]["writes"]
    assert doc["paths"]["/auth/code"]["post"]["x-roost-uses"]["publishes"] == [CODE_EVENT]


@pytest.mark.parametrize("field", ["code", "password"])
def test_secrets_are_not_echoed_in_validation_problems(auth_client, field):
    client, _ = auth_client
    path = "/auth/code/verify" if field == "code" else "/auth/signin"
    secret = "S3cret-" + "z" * 2000
    r = client.post(path, json={"email": ANA, field: secret})
    assert r.status_code == 422
    assert secret not in r.text
