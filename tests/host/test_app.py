"""The host over a tiny test app: routes, roles, errors as problem+json, request ids, pages,
events and blobs — through FastAPI's TestClient on real adapters and real tokens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from roost.cloud.audit import AUDIT, current_actor
from roost.cloud.errors import Conflict, NotFound, RateLimited
from roost.cloud.events import Event
from roost.cloud.fields import LOCAL_TIME_PATTERN
from roost.cloud.functions import App, Cookie, Ctx, Reply, Uses, redirect
from roost.cloud.identity import Grant
from roost.cloud.table import Put, TableSpec
from support.tokens import access_token

ITEMS = TableSpec("sample_items", audit=True)
LOG = TableSpec("sample_log")
TEMPLATES = {
    "sample_index.html": '{% extends "base.html" %}{% block content %}<h1>Items</h1>'
                         "{% for i in items %}<p class=item>{{ i }}</p>{% endfor %}"
                         "{% if principal %}<p>hello {{ principal.email }}</p>{% endif %}"
                         "{% endblock %}",
    "sample_private.html": "<p>private for {{ principal.email }}</p>",
}


class NewItem(BaseModel):
    name: str = Field(min_length=1, max_length=40)
    qty: int = Field(1, ge=0)


class Item(BaseModel):
    id: str
    name: str
    qty: int


class ListQuery(BaseModel):
    limit: int = Field(10, ge=1, le=100)


class WhoAmI(BaseModel):
    user_id: str
    email: str
    actor: str | None
    request_id: str | None
    client: str | None
    sees_authorization: bool


def make_sample_app(templates: Path) -> App:
    templates.mkdir(exist_ok=True)
    for name, text in TEMPLATES.items():
        (templates / name).write_text(text)
    app = App("sample", "Sample", tables=[ITEMS, LOG], templates=templates)

    @app.route("POST", "/sample/items", roles=["user"], status=201,
               uses=Uses(writes=[ITEMS], publishes=["sample.created"]))
    def create_item(ctx: Ctx, body: NewItem) -> Item:
        """Add an item."""
        item = Item(id=ctx.new_id(), name=body.name, qty=body.qty)
        ctx.tables.transact([
            Put(ITEMS.name, {"pk": "item", "sk": item.id, **item.model_dump()}),
            ctx.publish("sample.created", {"id": item.id}),
        ])
        return item

    @app.route("GET", "/sample/items", roles=["public"], uses=Uses(reads=[ITEMS]))
    def list_items(ctx: Ctx, query: ListQuery) -> list[Item]:
        page = ctx.tables.table(ITEMS.name).query("item", limit=query.limit)
        return [Item(id=i["id"], name=i["name"], qty=i["qty"]) for i in page.items]

    @app.route("GET", "/sample/items/{item_id}", roles=["public"], uses=Uses(reads=[ITEMS]))
    def get_item(ctx: Ctx, *, item_id: str) -> Item:
        found = ctx.tables.table(ITEMS.name).get({"pk": "item", "sk": item_id})
        if found is None:
            raise NotFound(f"no item {item_id}", code="item_not_found")
        return Item(id=found["id"], name=found["name"], qty=found["qty"])

    @app.route("DELETE", "/sample/items/{item_id}", roles=["sample:admin"],
               uses=Uses(writes=[ITEMS]))
    def delete_item(ctx: Ctx, *, item_id: str) -> None:
        ctx.tables.table(ITEMS.name).delete({"pk": "item", "sk": item_id})

    @app.route("GET", "/sample/scoped/{scope}", roles=["user"])
    def scoped(ctx: Ctx, *, scope: str) -> dict[str, str]:
        ctx.require("sample", "editor", scope)
        return {"scope": scope}

    @app.route("GET", "/sample/whoami", roles=["user"])
    def whoami(ctx: Ctx) -> WhoAmI:
        assert ctx.request is not None
        return WhoAmI(user_id=ctx.user.user_id, email=ctx.user.email,
                      actor=current_actor.get(), request_id=ctx.request.request_id,
                      client=ctx.request.client,
                      sees_authorization="authorization" in ctx.request.headers)

    @app.route("GET", "/sample/boom", roles=["public"])
    def boom(ctx: Ctx) -> dict[str, str]:
        raise RuntimeError("kaboom: internal detail")

    @app.route("GET", "/sample/sneaky", roles=["public"], uses=Uses(reads=[ITEMS]))
    def sneaky(ctx: Ctx) -> dict[str, str]:
        ctx.tables.table(LOG.name).put({"pk": "x", "sk": "y"})
        return {}

    @app.route("POST", "/sample/conflict", roles=["public"])
    def conflict(ctx: Ctx) -> dict[str, str]:
        raise Conflict("that slot is taken", code="slot_taken", slot="10:00")

    @app.route("GET", "/sample/limited", roles=["public"])
    def limited(ctx: Ctx) -> dict[str, str]:
        raise RateLimited("slow down", retry_after=30)

    @app.route("POST", "/sample/session", roles=["public"])
    def session(ctx: Ctx) -> Reply:
        assert ctx.request is not None
        return Reply(body={"had": ctx.request.cookies.get("flavour")}, status=202,
                     headers={"X-Sample": "yes"},
                     cookies=[Cookie("flavour", "oat", max_age=60),
                              Cookie("old", max_age=0)])

    @app.route("GET", "/sample/ready", roles=["public"])
    def ready(ctx: Ctx) -> dict[str, object]:
        return Reply(body=b'{"ready":true,"n":[1,2]}', status=203)  # type: ignore[return-value]

    @app.route("PUT", "/sample/upload/{name}", roles=["user"], uses=Uses(blobs="sample/"))
    def upload(ctx: Ctx, body: bytes, *, name: str) -> dict[str, object]:
        info = ctx.blobs.put(f"sample/{name}", body, content_type="text/plain")
        return {"size": info.size, "url": ctx.blobs.signed_url(info.key)}

    @app.page("/sample", roles=["public"], template="sample_index.html",
              uses=Uses(reads=[ITEMS]))
    def index(ctx: Ctx) -> dict[str, object]:
        items = ctx.tables.table(ITEMS.name).query("item").items
        return {"items": [i["name"] for i in items]}

    @app.page("/sample/private", roles=["user"], template="sample_private.html")
    def private(ctx: Ctx) -> dict[str, object]:
        return {}

    @app.page("/sample/new", roles=["user"], method="POST",
              uses=Uses(writes=[ITEMS]))
    def new_item(ctx: Ctx, body: NewItem) -> Reply:
        ctx.tables.table(ITEMS.name).put({"pk": "item", "sk": ctx.new_id(), "id": "f",
                                          "name": body.name, "qty": body.qty})
        return redirect("/sample")

    @app.page("/sample/missing", roles=["public"], template="sample_index.html")
    def missing(ctx: Ctx) -> dict[str, object]:
        raise NotFound("no such sample page")

    @app.handler("sample.created", uses=Uses(writes=[LOG]))
    def log_created(ctx: Ctx, event: Event) -> None:
        ctx.tables.table(LOG.name).put({"pk": "created", "sk": event.data["id"],
                                        "actor": current_actor.get()})

    return app


@pytest.fixture
def host(make_host, tmp_path):
    return make_host([make_sample_app(tmp_path / "templates")])


@pytest.fixture
def client(host):
    return host[0]


@pytest.fixture
def runtime(host):
    return host[1]


def bearer(runtime, email: str, *grants: str) -> dict[str, str]:
    token = access_token(runtime.identity, email)
    for g in grants:
        runtime.identity.grant(email, Grant.parse(g), by="test")
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code and body["status"] == status
    assert body["type"].endswith(code) and body["title"] and body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


# ------------------------------------------------------------------------------ roles


def test_public_routes_need_no_token(client):
    assert client.get("/sample/items").json() == []


def test_user_routes_answer_401_without_a_token(client):
    r = client.post("/sample/items", json={"name": "a"})
    assert_problem(r, 401, "sign_in_required")
    assert r.headers["www-authenticate"] == "Bearer"


def test_401_comes_before_body_validation(client):
    assert_problem(client.post("/sample/items", json={"nope": 1}), 401, "sign_in_required")


def test_a_bad_token_is_401_on_protected_routes_and_anonymous_on_public(client):
    bad = {"Authorization": "Bearer not-a-token"}
    assert_problem(client.post("/sample/items", json={"name": "a"}, headers=bad),
                   401, "token_invalid")
    assert client.get("/sample/items", headers=bad).status_code == 200


def test_a_signed_in_user_creates_and_the_actor_is_recorded(client, runtime):
    headers = bearer(runtime, "ann@example.com")
    r = client.post("/sample/items", json={"name": "lamp", "qty": 2}, headers=headers)
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["name"] == "lamp" and item["qty"] == 2
    assert client.get(f"/sample/items/{item['id']}").json() == item
    user = runtime.identity.get_user(email="ann@example.com")
    trail = runtime.tables.table(AUDIT.name).query("sample").items
    assert [(t["op"], t["actor"]) for t in trail] == [("put", user.id)]


def test_the_access_cookie_works_like_a_bearer_token(client, runtime):
    token = access_token(runtime.identity, "cookie@example.com")
    client.cookies.set("roost_access", token)
    r = client.get("/sample/whoami")
    assert r.status_code == 200 and r.json()["email"] == "cookie@example.com"


def test_functions_see_the_caller_but_never_the_credentials(client, runtime):
    headers = {**bearer(runtime, "who@example.com"), "X-Request-ID": "req-42"}
    body = client.get("/sample/whoami", headers=headers).json()
    user = runtime.identity.get_user(email="who@example.com")
    assert body == {"user_id": user.id, "email": "who@example.com", "actor": user.id,
                    "request_id": "req-42", "client": "testclient",
                    "sees_authorization": False}


def test_app_roles_are_enforced(client, runtime):
    created = client.post("/sample/items", json={"name": "x"},
                          headers=bearer(runtime, "u@example.com")).json()
    path = f"/sample/items/{created['id']}"
    assert_problem(client.delete(path), 401, "sign_in_required")
    wrong = bearer(runtime, "other@example.com", "sample:viewer", "rooms:admin")
    body = assert_problem(client.delete(path, headers=wrong), 403, "missing_role")
    assert "sample:admin" in body["detail"]
    admin = bearer(runtime, "admin@example.com", "sample:admin")
    r = client.delete(path, headers=admin)
    assert r.status_code == 204 and r.content == b""
    assert_problem(client.get(path), 404, "item_not_found")


def test_system_admins_pass_every_role_check(client, runtime):
    root = bearer(runtime, "root@example.com", "roost:admin")
    assert client.delete("/sample/items/none", headers=root).status_code == 204
    assert client.get("/sample/scoped/beta", headers=root).json() == {"scope": "beta"}


def test_scoped_roles_are_checked_inside_the_function(client, runtime):
    editor = bearer(runtime, "ed@example.com", "sample:editor:alpha")
    assert client.get("/sample/scoped/alpha", headers=editor).json() == {"scope": "alpha"}
    assert_problem(client.get("/sample/scoped/beta", headers=editor), 403, "missing_role")


# ------------------------------------------------------------------------------ errors


def test_validation_errors_are_422_naming_the_fields(client, runtime):
    headers = bearer(runtime, "v@example.com")
    r = client.post("/sample/items", json={"name": "", "qty": -1}, headers=headers)
    body = assert_problem(r, 422, "validation_failed")
    assert {tuple(e["loc"]) for e in body["errors"]} == {("body", "name"), ("body", "qty")}
    assert "name" in body["detail"] and "qty" in body["detail"]
    bad_query = client.get("/sample/items?limit=1000")
    assert assert_problem(bad_query, 422, "validation_failed")["errors"][0]["loc"] == [
        "query", "limit"]
    not_json = client.post("/sample/items", content=b"{oops", headers={
        **headers, "Content-Type": "application/json"})
    assert_problem(not_json, 422, "validation_failed")


def test_roost_errors_keep_their_status_code_and_extras(client):
    body = assert_problem(client.post("/sample/conflict"), 409, "slot_taken")
    assert body["slot"] == "10:00" and body["detail"] == "that slot is taken"
    r = client.get("/sample/limited")
    assert_problem(r, 429, "rate_limited")
    assert r.headers["retry-after"] == "30"


def test_404_and_405_are_problems(client):
    assert_problem(client.get("/no/such/thing"), 404, "not_found")
    assert_problem(client.put("/sample/items"), 405, "method_not_allowed")


def test_unexpected_exceptions_are_500_with_the_request_id_and_no_detail(client, capfd):
    r = client.get("/sample/boom", headers={"X-Request-ID": "trace-me"})
    body = assert_problem(r, 500, "internal_error")
    assert "trace-me" in body["detail"] and "kaboom" not in r.text
    logged = capfd.readouterr()
    assert "kaboom: internal detail" in logged.out + logged.err  # the traceback is logged
    assert "Traceback" in logged.out + logged.err


def test_touching_an_undeclared_table_is_a_loud_500(client, runtime, capfd):
    body = assert_problem(client.get("/sample/sneaky"), 500, "undeclared_resource")
    assert body["function"] == "sample.sneaky" and body["resource"] == "table:sample_log:read"
    assert runtime.tables.table(LOG.name).scan().items == []
    assert "undeclared_resource" in "".join(capfd.readouterr())


def test_bodies_over_the_limit_are_413(make_host, tmp_path, runtime):
    client, rt = make_host([make_sample_app(tmp_path / "t2")], max_body_bytes=100,
                           data_dir=tmp_path / "small")
    headers = bearer(rt, "big@example.com")
    r = client.post("/sample/items", json={"name": "x" * 200}, headers=headers)
    assert_problem(r, 413, "too_large")

    def chunks():
        for _ in range(10):
            yield b'{"name": "' + b"y" * 20

    streamed = client.post("/sample/items", content=chunks(), headers={
        **headers, "Content-Type": "application/json"})
    assert "content-length" not in {k.lower() for k in streamed.request.headers}
    assert_problem(streamed, 413, "too_large")
    assert client.post("/sample/items", json={"name": "ok"}, headers=headers).status_code == 201


# ------------------------------------------------------------------------------ request ids


def test_request_ids_are_echoed_or_made(client):
    assert client.get("/health", headers={"X-Request-ID": "abc-123"}).headers[
        "x-request-id"] == "abc-123"
    made = client.get("/health").headers["x-request-id"]
    assert len(made) == 26  # a ULID
    for hostile in ("a" * 129, "two words", "<script>"):
        made = client.get("/health", headers={"X-Request-ID": hostile}).headers["x-request-id"]
        assert made != hostile and len(made) == 26


def test_every_answer_carries_the_security_headers(client):
    for r in (client.get("/health"), client.get("/sample"), client.get("/nowhere")):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "SAMEORIGIN"
        assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_health(client):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["apps"] == ["sample"]


# ------------------------------------------------------------------------------ replies


def test_a_reply_sets_status_headers_and_cookies(client):
    client.cookies.set("flavour", "rye")
    r = client.post("/sample/session")
    assert r.status_code == 202 and r.json() == {"had": "rye"}
    assert r.headers["x-sample"] == "yes"
    cookies = r.headers.get_list("set-cookie")
    oat = next(c for c in cookies if c.startswith("flavour=oat"))
    assert "HttpOnly" in oat and "SameSite=lax" in oat and "Max-Age=60" in oat
    assert "Secure" not in oat  # base URL is http
    assert any(c.startswith("old=") and "Max-Age=0" in c for c in cookies)


def test_a_reply_of_ready_json_is_sent_as_it_is(client):
    r = client.get("/sample/ready")
    assert r.status_code == 203 and r.content == b'{"ready":true,"n":[1,2]}'
    assert r.headers["content-type"] == "application/json"


def test_cookies_are_secure_when_the_site_is_https(make_host, tmp_path):
    client, _ = make_host([make_sample_app(tmp_path / "t3")], base_url="https://roost.example",
                          data_dir=tmp_path / "https")
    assert "Secure" in client.post("/sample/session").headers["set-cookie"]


def test_raw_uploads_reach_blobs_and_signed_urls_serve_them(client, runtime):
    headers = bearer(runtime, "up@example.com")
    r = client.put("/sample/upload/note.txt", content=b"hello blobs", headers=headers)
    assert r.status_code == 200, r.text
    url = r.json()["url"]
    assert r.json()["size"] == 11 and url.startswith("http://127.0.0.1:8000/blobs/sample/")
    got = client.get(url.removeprefix("http://127.0.0.1:8000"))
    assert got.status_code == 200 and got.content == b"hello blobs"
    assert got.headers["content-type"].startswith("text/plain")
    tampered = url.replace("note.txt", "other.txt")
    assert_problem(client.get(tampered.removeprefix("http://127.0.0.1:8000")), 403,
                   "bad_signature")
    assert_problem(client.get("/blobs/sample/note.txt"), 403, "bad_signature")


def test_signed_put_urls_store_blobs(client, runtime):
    url = runtime.blobs.signed_url("sample/up.bin", method="PUT").removeprefix(
        "http://127.0.0.1:8000")
    r = client.put(url, content=b"\x00\x01", headers={"Content-Type": "application/x-test"})
    assert r.status_code == 200 and r.json()["size"] == 2
    assert runtime.blobs.head("sample/up.bin").content_type == "application/x-test"
    get_url = url  # a PUT signature does not grant GET
    assert_problem(client.get(get_url), 403, "bad_signature")


# ------------------------------------------------------------------------------ events


def test_published_events_reach_handlers_with_their_own_actor(client, runtime):
    headers = bearer(runtime, "ev@example.com")
    item = client.post("/sample/items", json={"name": "e"}, headers=headers).json()
    assert runtime.dispatcher.run_once() >= 1
    logged = runtime.tables.table(LOG.name).get({"pk": "created", "sk": item["id"]})
    assert logged is not None and logged["actor"] == "handler:sample.log_created"


# ------------------------------------------------------------------------------ pages


def test_pages_render_with_the_layout_and_the_principal(client, runtime):
    client.post("/sample/items", json={"name": "chair"}, headers=bearer(runtime, "p@e.com"))
    r = client.get("/sample")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<p class="item">chair</p>' in r.text.replace("class=item", 'class="item"')
    assert "<html" in r.text  # extends base.html
    client.cookies.set("roost_access", access_token(runtime.identity, "page@example.com"))
    assert "hello page@example.com" in client.get("/sample").text


def test_pages_escape_what_they_render(client, runtime):
    client.post("/sample/items", json={"name": "<script>x</script>"},
                headers=bearer(runtime, "xss@example.com"))
    text = client.get("/sample").text
    assert "<script>x</script>" not in text and "&lt;script&gt;" in text


def test_a_page_for_users_sends_anonymous_browsers_to_sign_in(client):
    r = client.get("/sample/private?tab=2", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/signin?next=%2Fsample%2Fprivate%3Ftab%3D2"


def test_forms_post_and_redirect(client, runtime):
    client.cookies.set("roost_access", access_token(runtime.identity, "form@example.com"))
    r = client.post("/sample/new", data={"name": "sofa", "qty": "3"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/sample"
    assert "sofa" in client.get("/sample").text
    bad = client.post("/sample/new", data={"name": ""}, follow_redirects=False)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")
    assert "name" in bad.text


def test_page_errors_are_html_for_people(client):
    r = client.get("/sample/missing")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "no such sample page" in r.text and r.headers["x-request-id"] in r.text
    browser = client.get("/nowhere", headers={"Accept": "text/html,*/*"})
    assert browser.status_code == 404 and "<html" in browser.text


def test_home_links_every_app_page(client):
    r = client.get("/")
    assert r.status_code == 200 and 'href="/sample"' in r.text


# ------------------------------------------------------------------------------ openapi


def test_openapi_lists_the_routes_with_roles_and_uses(client):
    doc = client.get("/openapi.json").json()
    create = doc["paths"]["/sample/items"]["post"]
    assert create["operationId"] == "sample.create_item"
    assert create["x-roost-roles"] == ["user"]
    assert create["x-roost-uses"]["publishes"] == ["sample.created"]
    assert create["security"] == [{"bearer": []}, {"cookie": []}]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/NewItem")
    assert "201" in create["responses"]
    assert doc["paths"]["/sample/items"]["get"]["security"] == []
    assert {p["name"] for p in doc["paths"]["/sample/items"]["get"]["parameters"]} == {"limit"}
    assert "/sample" not in doc["paths"]  # pages are not API
    upload = doc["paths"]["/sample/upload/{name}"]["put"]
    assert "application/octet-stream" in upload["requestBody"]["content"]
    assert "Problem" in doc["components"]["schemas"]


def test_no_installed_app_documents_a_time_as_rfc3339_format_time():
    """`format: time` requires a UTC offset; the apps send local wall times. Use
    `roost.cloud.fields.LocalTime` for a `datetime.time` field."""
    from roost.host.app import openapi_document

    doc = json.dumps(openapi_document())
    assert '"format": "time"' not in doc
    assert json.dumps(LOCAL_TIME_PATTERN) in doc  # rooms' opening hours use it


def test_the_docs_page_lists_the_routes(client):
    r = client.get("/docs")
    assert r.status_code == 200
    assert "POST /sample/items" in r.text and "sample:admin" in r.text


def test_dev_mail_is_served_only_in_dev_mode(make_host, tmp_path):
    dev, _ = make_host([make_sample_app(tmp_path / "t4")], data_dir=tmp_path / "dev")
    assert dev.get("/dev/mail").status_code == 200
    prod, _ = make_host([make_sample_app(tmp_path / "t5")], data_dir=tmp_path / "prod",
                        dev_mode=False)
    assert_problem(prod.get("/dev/mail"), 404, "not_found")
