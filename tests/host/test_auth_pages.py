"""The sign-in pages through the real host, as a browser without JavaScript uses them: forms,
redirects, cookies, the dev mail page, and the shared layout."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from test_auth_fixtures import SIGNUP_IN_SUBJECT, deliver, latest_code, with_dev_mail

from roost.cloud.functions import App
from roost.host.auth import app as auth_app

pytest_plugins = ["test_auth_fixtures"]

ANA = "ana@example.com"
SAME_SITE = {"Origin": "http://testserver"}


def post(client, path: str, data: dict, **kw):
    return client.post(path, data=data, headers=SAME_SITE, follow_redirects=False, **kw)


def sign_in(client, runtime, email: str = ANA, next: str = "/") -> None:
    r = post(client, "/signin", {"email": email, "next": next})
    assert r.status_code == 303, r.text
    code = latest_code(client, runtime)
    r = post(client, "/signin/code", {"email": email, "code": code, "next": next})
    assert r.status_code == 303, r.text


def test_code_sign_in_lands_on_the_home_page_signed_in(auth_client):
    client, runtime = auth_client
    page = client.get("/signin")
    assert page.status_code == 200
    assert 'name="email"' in page.text and 'action="/signin"' in page.text
    r = post(client, "/signin", {"email": " Ana@Example.com", "next": ""})
    assert r.status_code == 303
    location = urlsplit(r.headers["location"])
    assert location.path == "/signin/code"
    assert parse_qs(location.query)["email"] == [ANA]
    form = client.get(r.headers["location"])
    assert 'autocomplete="one-time-code"' in form.text and ANA in form.text
    r = post(client, "/signin/code", {"email": ANA, "code": latest_code(client, runtime),
                                      "next": ""})
    assert (r.status_code, r.headers["location"]) == (303, "/")
    cookies = r.headers.get_list("set-cookie")
    assert {c.split("=")[0] for c in cookies} == {"roost_access", "roost_refresh"}
    assert all("HttpOnly" in c and "SameSite=lax" in c for c in cookies)
    home = client.get("/")
    assert 'data-testid="signed-in-email">ana@example.com<' in home.text
    assert "Sign out" in home.text


def test_a_wrong_code_renders_the_form_again_with_the_reason(auth_client):
    client, runtime = auth_client
    post(client, "/signin", {"email": ANA})
    code = latest_code(client, runtime)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    r = post(client, "/signin/code", {"email": ANA, "code": wrong, "next": "/account"})
    assert r.status_code == 401
    assert "wrong or has expired" in r.text and 'role="alert"' in r.text
    assert 'value="/account"' in r.text  # where to go next survives the retry
    assert "set-cookie" not in r.headers


def test_a_refused_email_is_explained_on_the_form(auth_host):
    client, _ = auth_host(allowed_email_pattern=r".*@example\.com")
    r = post(client, "/signin", {"email": "eve@evil.org"})
    assert r.status_code == 403 and "may not sign in here" in r.text
    assert 'value="eve@evil.org"' in r.text
    r = post(client, "/signin", {"email": "nonsense"})
    assert r.status_code == 422 and "not a valid email address" in r.text


def test_rate_limited_forms_say_when_to_try_again(auth_client):
    client, _ = auth_client
    for _ in range(5):
        post(client, "/signin", {"email": ANA})
    r = post(client, "/signin", {"email": ANA})
    assert r.status_code == 429 and "try again in about" in r.text
    assert int(r.headers["retry-after"]) > 0


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil",
                                    "javascript:alert(1)"])
def test_next_never_leaves_the_site(auth_client, target):
    client, runtime = auth_client
    post(client, "/signin", {"email": ANA})
    r = post(client, "/signin/code", {"email": ANA, "code": latest_code(client, runtime),
                                      "next": target})
    assert r.headers["location"] == "/"


def test_next_is_followed_on_the_site(auth_client):
    client, runtime = auth_client
    r = client.get("/account", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/signin?next=%2Faccount")
    sign_in(client, runtime, next="/account")
    page = client.get("/account")
    assert page.status_code == 200 and "Signed in as <strong>ana@example.com" in page.text


def test_a_form_from_another_site_is_refused(auth_client):
    client, _ = auth_client
    r = client.post("/signin", data={"email": ANA}, follow_redirects=False,
                    headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "another site" in r.text
    r = client.post("/signin", data={"email": ANA}, follow_redirects=False,
                    headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403


def test_an_expired_sign_in_is_renewed_by_the_refresh_cookie(auth_client, clock):
    client, runtime = auth_client
    sign_in(client, runtime)
    old_refresh = client.cookies.get("roost_refresh")
    clock.advance(seconds=901)
    r = client.get("/account", follow_redirects=False)
    assert r.headers["location"] == "/signin?next=%2Faccount"
    r = client.get(r.headers["location"], follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/account")
    assert client.cookies.get("roost_refresh") != old_refresh
    assert client.get("/account").status_code == 200


def test_a_dead_refresh_cookie_is_cleared(auth_client):
    client, runtime = auth_client
    sign_in(client, runtime)
    client.cookies.set("roost_refresh", client.cookies.get("roost_refresh")[:-4] + "AAAA")
    client.cookies.delete("roost_access")
    r = client.get("/signin", follow_redirects=False)
    assert r.status_code == 200 and 'action="/signin"' in r.text
    assert any("roost_refresh=" in c and "Max-Age=0" in c
               for c in r.headers.get_list("set-cookie"))


def test_sign_out_from_the_header(auth_client):
    client, runtime = auth_client
    sign_in(client, runtime)
    access = client.cookies.get("roost_access")
    r = post(client, "/signout", {})
    assert (r.status_code, r.headers["location"]) == (303, "/")
    assert all("Max-Age=0" in c for c in r.headers.get_list("set-cookie"))
    home = client.get("/")
    assert "signed-in-email" not in home.text and 'href="/signin"' in home.text
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {access}"}
                      ).json()["code"] == "token_revoked"


def test_password_sign_up_and_sign_in_pages(auth_client):
    client, runtime = auth_client
    assert 'autocomplete="new-password"' in client.get("/signup").text
    r = post(client, "/signup", {"email": ANA, "password": "short"})
    assert r.status_code == 422 and "at least 10 characters" in r.text
    r = post(client, "/signup", {"email": ANA, "password": "a fine long password"})
    assert r.status_code == 303 and r.headers["location"].startswith("/signup/code?")
    assert "Confirm" in client.get(r.headers["location"]).text
    code = latest_code(client, runtime, SIGNUP_IN_SUBJECT)
    r = post(client, "/signup/code", {"email": ANA, "code": code})
    assert r.status_code == 303
    post(client, "/signout", {})
    r = post(client, "/signin/password", {"email": ANA, "password": "wrong password!"})
    assert r.status_code == 401 and "Email or password is wrong" in r.text
    r = post(client, "/signin/password", {"email": ANA, "password": "a fine long password",
                                          "next": "/account"})
    assert (r.status_code, r.headers["location"]) == (303, "/account")


def test_dev_mail_lists_and_shows_messages(auth_client):
    client, runtime = auth_client
    post(client, "/signin", {"email": ANA})
    deliver(runtime)
    listing = client.get("/dev/mail")
    assert listing.status_code == 200 and ANA in listing.text
    (mail,) = runtime.mailer.list()
    page = client.get(f"/dev/mail/{mail.id}")
    assert page.status_code == 200
    assert mail.subject.split()[0] in page.text and "<iframe" in page.text
    assert client.get("/dev/mail/01ARZ3NDEKTSV4RRFFQ69G5FAV").status_code == 404
    assert client.get("/dev/mail/nonsense").status_code in (404, 422)


def test_dev_mail_is_absent_outside_dev_mode(auth_host):
    client, _ = auth_host(dev_mode=False)
    assert client.get("/dev/mail").status_code == 404
    assert "/dev/mail" not in client.get("/signin").text


def test_the_layout_links_every_app_but_not_the_account_app(make_host, tmp_path: Path):
    templates = tmp_path / "t"
    templates.mkdir()
    (templates / "things.html").write_text(
        '{% extends "base.html" %}{% block content %}<h1>Things</h1>{% endblock %}')
    things = App("things", "Things", tables=[], templates=templates)

    @things.page("/things", roles=["public"], template="things.html")
    def index(ctx) -> dict:
        return {"title": "Things"}

    client, _ = make_host([things, auth_app])
    with_dev_mail(client)
    home = client.get("/")
    assert 'href="/things"' in home.text and ">Things<" in home.text
    assert 'href="/account">Account<' not in home.text
    page = client.get("/things")
    assert 'aria-current="page"' in page.text and "<title>Things · Roost</title>" in page.text
    for asset in ("/static/roost.css", "/static/htmx.min.js"):
        assert client.get(asset).status_code == 200
    assert 'name="viewport"' in page.text and 'hx-boost="true"' in page.text


def test_errors_render_in_the_shared_layout(auth_client):
    client, _ = auth_client
    r = client.get("/no/such/page", headers={"Accept": "text/html"})
    assert r.status_code == 404
    assert 'class="site-header"' in r.text and "Back to the home page" in r.text
