"""Bootstrap: app discovery, the runtime's wiring of handlers and schedules, demo data once, and
the dispatcher running inside the app's lifespan."""

from __future__ import annotations

import textwrap
import time

import pytest

from roost.cloud.audit import current_actor
from roost.cloud.events import Event
from roost.cloud.functions import App, Ctx, Uses
from roost.cloud.table import TableSpec
from roost.host.bootstrap import AppNotFound, bootstrap, installed_apps
from support.tokens import access_token

NOTES = TableSpec("wired_notes")


def make_wired_app() -> App:
    app = App("wired", "Wired", tables=[NOTES])

    @app.route("POST", "/wired/ping", roles=["user"], uses=Uses(publishes=["wired.pinged"]))
    def ping(ctx: Ctx) -> dict[str, str]:
        ctx.tables.transact([ctx.publish("wired.pinged", {"n": 1})])
        return {"ok": "yes"}

    @app.handler("wired.pinged", uses=Uses(writes=[NOTES]))
    def on_ping(ctx: Ctx, event: Event) -> None:
        ctx.tables.table(NOTES.name).put({"pk": "ping", "sk": event.id,
                                          "actor": event.actor})

    @app.schedule("every_minute", "* * * * *", uses=Uses(writes=[NOTES]))
    def tick(ctx: Ctx, event: Event) -> None:
        ctx.tables.table(NOTES.name).put({"pk": "tick", "sk": event.id,
                                          "actor": current_actor.get()})

    @app.demo
    def demo(ctx: Ctx) -> None:
        n = len(ctx.tables.table(NOTES.name).query("demo").items)
        ctx.tables.table(NOTES.name).put({"pk": "demo", "sk": str(n)})

    return app


@pytest.fixture
def rt(make_settings, clock):
    runtime = bootstrap(make_settings(), apps=[make_wired_app()], clock=clock)
    yield runtime
    runtime.close()


def notes(rt, pk: str) -> list[dict]:
    return rt.tables.table(NOTES.name).query(pk).items


def test_the_runtime_holds_every_table_and_data_lives_in_data_dir(rt, make_settings):
    for name in ("wired_notes", "roost_audit", "roost_outbox", "roost_demos"):
        rt.tables.table(name)  # registered
    data = make_settings().data_dir
    assert (data / "roost.sqlite").exists() and (data / "blobs").is_dir()
    assert (data / "outbox").is_dir()
    assert rt.blobs.signed_url("x/y").startswith("http://127.0.0.1:8000/blobs/x/y?")


def test_handlers_are_subscribed(rt):
    fn = rt.registry.function("wired.ping")
    ctx = fn.context(rt.resources)
    ctx.tables.transact([ctx.publish("wired.pinged", {})])
    rt.dispatcher.run_once()
    assert len(notes(rt, "ping")) == 1


def test_schedules_fire_through_the_dispatcher_once_per_period(rt, clock):
    clock.advance(minutes=1)
    assert rt.scheduler.tick() == ["wired.every_minute"]
    assert rt.scheduler.tick() == []
    rt.dispatcher.run_once()
    [note] = notes(rt, "tick")
    assert note["actor"] == "handler:wired.tick"


def test_demo_data_is_loaded_once(rt, make_settings, clock):
    assert rt.run_demos() == ["wired.demo"]
    assert rt.run_demos() == []
    again = bootstrap(make_settings(), apps=[make_wired_app()], clock=clock)
    try:
        assert again.run_demos() == []
    finally:
        again.close()
    assert len(notes(rt, "demo")) == 1


def test_admin_emails_become_system_admins_at_start(make_settings, clock):
    first = bootstrap(make_settings(), apps=[], clock=clock)
    access_token(first.identity, "boss@example.com")
    first.close()
    rt = bootstrap(make_settings(admin_emails=["boss@example.com"]), apps=[], clock=clock)
    try:
        user = rt.identity.get_user(email="boss@example.com")
        assert rt.identity.principal(user.id).is_system_admin
    finally:
        rt.close()


def test_the_lifespan_runs_the_dispatcher(make_host):
    client, rt = make_host([make_wired_app()], run_worker=True)
    headers = {"Authorization": f"Bearer {access_token(rt.identity, 'l@example.com')}"}
    with client:
        assert client.post("/wired/ping", headers=headers).status_code == 200
        deadline = time.monotonic() + 10
        while not notes(rt, "ping") and time.monotonic() < deadline:
            time.sleep(0.02)
    [note] = notes(rt, "ping")
    assert note["actor"] == rt.identity.get_user(email="l@example.com").id
    assert rt._running is False  # stopped with the app


# ---------------------------------------------------------------------------- discovery


def test_discovery_takes_module_paths_and_system_apps(tmp_path, monkeypatch):
    pkg = tmp_path / "extra_roost_apps"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "notes.py").write_text(textwrap.dedent("""
        from roost.cloud.functions import App
        app = App("notes", "Notes", tables=[])
    """))
    (pkg / "empty.py").write_text("x = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    apps = installed_apps(["extra_roost_apps.notes"], system=False)
    assert [a.name for a in apps] == ["notes"]
    with pytest.raises(AppNotFound, match="has no `app = App"):
        installed_apps(["extra_roost_apps.empty"], system=False)
    with pytest.raises(AppNotFound, match=r"there is no module roost\.apps\.nosuch"):
        installed_apps(["nosuch"], system=False)


def test_discovery_by_default_finds_every_package_under_roost_apps():
    import pkgutil

    import roost.apps

    expected = sorted(m.name for m in pkgutil.iter_modules(roost.apps.__path__) if m.ispkg)
    names = [a.name for a in installed_apps(None, system=False)]
    assert sorted(names) == expected


def test_a_broken_app_is_not_hidden(tmp_path, monkeypatch):
    pkg = tmp_path / "broken_roost_apps"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "bad.py").write_text("import no_such_dependency_here\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency_here"):
        installed_apps(["broken_roost_apps.bad"], system=False)


def test_runtime_start_and_stop_are_idempotent(rt):
    rt.start()
    rt.start()
    assert rt._running
    rt.stop()
    rt.stop()
    assert not rt._running
