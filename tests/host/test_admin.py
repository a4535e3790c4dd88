"""The admin system app through the real host: users and grants, the audit trail, dead letters."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from roost.cloud.functions import USER, App, Ctx, Uses
from roost.cloud.table import TableSpec
from roost.host.bootstrap import installed_apps
from support.tokens import access_token

BOSS = "boss@example.com"
ANA = "ana@example.com"

ITEMS = TableSpec("probe_items", pk="id", sk=None, audit=True)
probe = App("probe", "Probe", tables=[ITEMS])


class Note(BaseModel):
    id: str
    text: str


@probe.route("PUT", "/probe/{id}", roles=[USER], uses=Uses(writes=[ITEMS]))
def put_note(ctx: Ctx, body: Note, *, id: str) -> Note:
    ctx.tables.table(ITEMS.name).put({"id": id, "text": body.text})
    return body


@probe.route("POST", "/probe/fail", roles=[USER], uses=Uses(publishes=["probe.failing"]))
def cause_failure(ctx: Ctx) -> Note:
    ctx.tables.transact([ctx.publish("probe.failing", {"n": 1})])
    return Note(id="-", text="published")


@probe.handler("probe.failing")
def always_fails(ctx: Ctx, event: object) -> None:
    raise RuntimeError("the printer is on fire")


@pytest.fixture
def admin_host(make_host):
    client, runtime = make_host([*installed_apps([], system=True), probe],
                                admin_emails=[BOSS])
    boss = {"Authorization": f"Bearer {access_token(runtime.identity, BOSS)}"}
    ana = {"Authorization": f"Bearer {access_token(runtime.identity, ANA)}"}
    return client, runtime, boss, ana


def test_only_system_admins_manage_people(admin_host):
    client, _, boss, ana = admin_host
    assert client.get("/admin/users", headers=ana).status_code == 403
    assert client.get("/admin/users").status_code == 401
    users = client.get("/admin/users", headers=boss).json()["users"]
    assert {u["email"]: u["grants"] for u in users} == {ANA: [], BOSS: ["roost:admin:*"]}


def test_a_grant_reaches_the_user_and_the_audit_trail(admin_host):
    client, _, boss, ana = admin_host
    r = client.post("/admin/grants", headers=boss,
                    json={"email": ANA, "grant": "probe:admin"})
    assert r.status_code == 200, r.text
    assert r.json()["grants"] == ["probe:admin:*"]
    assert client.get("/auth/me", headers=ana).json()["grants"] == ["probe:admin:*"]
    trail = client.get("/admin/audit", headers=boss, params={"app": "roost"}).json()
    latest = trail["entries"][0]
    assert latest["op"] == "put" and latest["table"] == "roost_grants"
    assert latest["before"] is None and latest["after"]["role"] == "admin"
    boss_id = client.get("/auth/me", headers=boss).json()["user_id"]
    assert latest["actor"] == boss_id

    r = client.post("/admin/grants/revoke", headers=boss,
                    json={"email": ANA, "grant": "probe:admin"})
    assert r.json() == {"email": ANA, "grant": "probe:admin", "revoked": True}
    assert client.get("/auth/me", headers=ana).json()["grants"] == []


def test_bad_grants_are_clear_422s_and_change_nothing(admin_host):
    client, _, boss, _ = admin_host
    r = client.post("/admin/grants", headers=boss, json={"email": ANA, "grant": "nonsense"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem")
    r = client.post("/admin/grants/revoke", headers=boss,
                    json={"email": BOSS, "grant": "roost:admin"})
    assert r.status_code == 422 and r.json()["code"] == "self_revoke_refused"
    users = client.get("/admin/users", headers=boss).json()["users"]
    assert {u["email"]: u["grants"] for u in users}[BOSS] == ["roost:admin:*"]


def test_the_trail_shows_before_and_after_per_record_and_per_app(admin_host):
    client, _, boss, ana = admin_host
    client.put("/probe/n1", headers=ana, json={"id": "n1", "text": "first"})
    client.put("/probe/n1", headers=ana, json={"id": "n1", "text": "second"})
    ana_id = client.get("/auth/me", headers=ana).json()["user_id"]
    entries = client.get("/admin/audit", headers=boss, params={"app": "probe"}).json()["entries"]
    assert [(e["before"], e["after"]) for e in entries] == [
        ({"id": "n1", "text": "first"}, {"id": "n1", "text": "second"}),
        (None, {"id": "n1", "text": "first"}),
    ]
    assert {e["actor"] for e in entries} == {ana_id}
    record = entries[0]["record"]
    one = client.get("/admin/audit", headers=boss, params={"record": record}).json()["entries"]
    assert [e["id"] for e in one] == [e["id"] for e in entries]


def test_an_apps_own_admin_reads_only_that_apps_trail(admin_host):
    client, _, boss, ana = admin_host
    client.post("/admin/grants", headers=boss, json={"email": ANA, "grant": "probe:admin"})
    assert client.get("/admin/audit", headers=ana, params={"app": "probe"}).status_code == 200
    assert client.get("/admin/audit", headers=ana, params={"app": "roost"}).status_code == 403
    r = client.get("/admin/audit", headers=ana)
    assert r.status_code == 422 and r.json()["code"] == "audit_scope_missing"


def test_dead_letters_are_listed_and_replayed(admin_host, clock):
    client, runtime, boss, ana = admin_host
    assert client.post("/probe/fail", headers=ana).status_code == 200
    for _ in range(runtime.dispatcher.max_attempts):
        runtime.dispatcher.run_once()
        clock.advance(seconds=runtime.dispatcher.max_delay + 1)
    # the retries took longer than an access token lives: sign in again
    boss = {"Authorization": f"Bearer {access_token(runtime.identity, BOSS)}"}
    ana = {"Authorization": f"Bearer {access_token(runtime.identity, ANA)}"}
    r = client.get("/admin/dead-letters", headers=boss)
    assert r.status_code == 200, r.text
    letters = r.json()["dead_letters"]
    assert len(letters) == 1
    letter = letters[0]
    assert letter["handler"] == "probe.always_fails"
    assert "printer is on fire" in letter["error"]
    assert client.get("/admin/dead-letters", headers=ana).status_code == 403

    body = {"event_id": letter["event_id"], "handler": letter["handler"]}
    assert client.post("/admin/dead-letters/replay", headers=boss, json=body).status_code == 200
    assert client.get("/admin/dead-letters", headers=boss).json()["dead_letters"] == []
    # back in line with its attempts reset: one more failure does not park it again
    assert runtime.dispatcher.run_once() >= 1
    assert client.get("/admin/dead-letters", headers=boss).json()["dead_letters"] == []
    r = client.post("/admin/dead-letters/replay", headers=boss, json=body)
    assert r.status_code == 404 and r.json()["code"] == "dead_letter_not_found"


def test_the_admin_pages_render_for_admins_only(admin_host):
    client, _, boss, ana = admin_host
    client.post("/admin/grants", headers=boss, json={"email": ANA, "grant": "probe:admin"})
    page = client.get("/admin/people", headers=boss)
    assert page.status_code == 200 and "probe:admin:*" in page.text
    assert client.get("/admin", headers=boss, params={"app": "roost"}).status_code == 200
    assert client.get("/admin", headers=ana).status_code == 403
    r = client.post("/admin/people/grant", headers=boss,
                    data={"email": ANA, "grant": "bad"}, follow_redirects=False)
    assert r.status_code == 422 and "app:role" in r.text
