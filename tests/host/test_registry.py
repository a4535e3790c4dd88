"""The registry: declarations are introspectable, and wrong ones are refused at import time."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from roost.cloud.errors import Forbidden, Unauthorized
from roost.cloud.events import OUTBOX
from roost.cloud.functions import (
    App,
    Ctx,
    DeclarationError,
    Registry,
    Reply,
    Uses,
    redirect,
)
from roost.cloud.identity import Grant, Principal
from roost.cloud.table import TableSpec

THINGS = TableSpec("demo_things")
NOTES = TableSpec("demo_notes")


class NewThing(BaseModel):
    name: str


class Thing(BaseModel):
    id: str
    name: str


class Filter(BaseModel):
    q: str = ""


def make_app() -> App:
    app = App("demo", "Demo", tables=[THINGS, NOTES], description="things")

    @app.route("POST", "/demo/groups/{group}/things", roles=["user"],
               uses=Uses(writes=[THINGS], reads="demo_notes", publishes=["demo.created"]),
               status=201)
    def create_thing(ctx: Ctx, body: NewThing, *, group: str) -> Thing:
        """Create a thing in a group."""
        return Thing(id="1", name=body.name)

    @app.route("GET", "/demo/things", roles=["public"], uses=Uses(reads=[THINGS]))
    def list_things(ctx: Ctx, query: Filter) -> list[Thing]:
        return []

    @app.route("DELETE", "/demo/things/{thing_id}", roles=["demo:admin", "demo:owner"],
               uses=Uses(writes=[THINGS]))
    def delete_thing(ctx: Ctx, *, thing_id: int) -> None:
        return None

    @app.page("/demo", roles=["public"], template="index.html")
    def index(ctx: Ctx) -> dict[str, object]:
        return {}

    @app.page("/demo/new", roles=["user"], method="POST", uses=Uses(writes=[THINGS]))
    def new_form(ctx: Ctx, body: NewThing) -> Reply:
        return redirect("/demo")

    @app.handler("demo.created", uses=Uses(mail=True, reads=[THINGS]))
    def mail_owner(ctx: Ctx, event: object) -> None:
        """Tell the owner."""

    @app.schedule("nightly", "0 3 * * *", uses=Uses(writes=[NOTES]), tz="Europe/Berlin")
    def nightly(ctx: Ctx) -> None:
        pass

    @app.demo
    def load(ctx: Ctx) -> None:
        pass

    return app


def test_functions_are_listed_with_kind_name_path_roles_and_uses():
    app = make_app()
    listing = {f["name"]: f for f in Registry([app]).describe()}
    assert set(listing) == {"demo.create_thing", "demo.list_things", "demo.delete_thing",
                            "demo.index", "demo.new_form", "demo.mail_owner", "demo.nightly",
                            "demo.load"}
    create = listing["demo.create_thing"]
    assert create["kind"] == "route"
    assert (create["method"], create["path"]) == ("POST", "/demo/groups/{group}/things")
    assert create["roles"] == ["user"]
    assert create["uses"] == {"reads": ["demo_notes"], "writes": ["demo_things"], "blobs": [],
                              "mail": False, "publishes": ["demo.created"]}
    assert create["summary"] == "Create a thing in a group."
    assert listing["demo.mail_owner"]["event_type"] == "demo.created"
    assert listing["demo.mail_owner"]["uses"]["mail"] is True
    assert listing["demo.nightly"]["cron"] == "0 3 * * *"
    assert listing["demo.nightly"]["event_type"] == "schedule.demo.nightly"
    assert listing["demo.nightly"]["tz"] == "Europe/Berlin"
    assert listing["demo.load"]["kind"] == "demo"
    assert listing["demo.load"]["uses"]["writes"] == ["demo_things", "demo_notes"]
    assert listing["demo.index"]["template"] == "index.html"
    assert [f.name for f in app.functions("route")] == [
        "demo.create_thing", "demo.list_things", "demo.delete_thing"]


def test_models_and_params_come_from_type_hints():
    app = make_app()
    create = app.function("create_thing")
    assert create.body_model is NewThing and create.response_model is Thing
    assert dict(create.path_params) == {"group": str}
    assert create.status == 201
    listing = app.function("demo.list_things")
    assert listing.query_model is Filter and listing.response_model == list[Thing]
    delete = app.function("delete_thing")
    assert dict(delete.path_params) == {"thing_id": int}
    assert delete.status == 204  # returns None: no content
    assert app.home_path == "/demo"


def test_registry_lists_tables_and_finds_functions():
    app = make_app()
    reg = Registry([app])
    assert [t.name for t in reg.table_specs()] == ["demo_things", "demo_notes"]
    assert reg.function("demo.nightly").cron == "0 3 * * *"
    assert reg.app("demo") is app
    with pytest.raises(KeyError):
        reg.function("demo.nope")


def _app() -> App:
    return App("t", "T", tables=[TableSpec("t_items"), TableSpec("t_other")])


def _refused(match: str, declare) -> None:
    with pytest.raises(DeclarationError, match=match):
        declare(_app())


@pytest.mark.parametrize("roles", [[], ()])
def test_a_route_without_roles_is_refused(roles):
    def declare(app: App) -> None:
        @app.route("GET", "/x", roles=roles)
        def f(ctx: Ctx) -> Thing: ...

    _refused("declare who may call it", declare)


@pytest.mark.parametrize("role,match", [
    ("admin", "must be 'public', 'user'"),
    ("Rooms:Admin", "must be 'public', 'user'"),
    ("rooms:", "must be 'public', 'user'"),
])
def test_malformed_roles_are_refused(role, match):
    def declare(app: App) -> None:
        @app.route("GET", "/x", roles=[role])
        def f(ctx: Ctx) -> Thing: ...

    _refused(match, declare)


def test_public_with_another_role_is_refused():
    def declare(app: App) -> None:
        @app.route("GET", "/x", roles=["public", "t:admin"])
        def f(ctx: Ctx) -> Thing: ...

    _refused("admits everyone", declare)


def test_a_page_without_roles_is_refused():
    def declare(app: App) -> None:
        @app.page("/p", roles=[], template="p.html")
        def f(ctx: Ctx) -> dict[str, str]: ...

    _refused("declare who may call it", declare)


def test_undeclared_tables_in_uses_are_refused():
    def writes_other_apps_table(app: App) -> None:
        @app.route("POST", "/x", roles=["user"], uses=Uses(writes=["rooms_bookings"]))
        def f(ctx: Ctx) -> Thing: ...

    def reads_unknown(app: App) -> None:
        @app.handler("t.e", uses=Uses(reads=["t_typo"]))
        def f(ctx: Ctx, event: object) -> None: ...

    _refused("writes table 'rooms_bookings'", writes_other_apps_table)
    _refused("reads table 't_typo'", reads_unknown)


def test_the_audit_table_may_be_read_but_not_written():
    app = _app()

    @app.route("GET", "/audit", roles=["t:admin"], uses=Uses(reads=["roost_audit"]))
    def audit(ctx: Ctx) -> Thing: ...

    with pytest.raises(DeclarationError, match="writes table 'roost_audit'"):
        @app.route("POST", "/audit", roles=["t:admin"], uses=Uses(writes=["roost_audit"]))
        def audit_write(ctx: Ctx) -> Thing: ...


def test_declaring_the_outbox_as_a_table_is_refused():
    with pytest.raises(DeclarationError, match="declare the event types"):
        Uses(writes=[OUTBOX])
    with pytest.raises(DeclarationError, match="outbox"):
        App("x", "X", tables=[OUTBOX])


def test_mail_inside_a_request_is_refused():
    def declare(app: App) -> None:
        @app.route("POST", "/x", roles=["user"], uses=Uses(mail=True))
        def f(ctx: Ctx) -> Thing: ...

    _refused("requests never send mail", declare)


@pytest.mark.parametrize("signature,match", [
    ("def f(ctx, body: Thing, *, other: str) -> Thing: ...", "neither body, query"),
    ("def f(ctx) -> Thing: ...", r"path parameters \['item'\]"),
    ("def f(ctx, body: dict, *, item: str) -> Thing: ...", "must be a pydantic model"),
    ("def f(ctx, query: str, *, item: str) -> Thing: ...", "must be a pydantic model"),
    ("def f(ctx, *, item: float) -> Thing: ...", "str or int"),
    ("def f(ctx, *args, item: str) -> Thing: ...", "no \\*args"),
    ("def f(*, item: str) -> Thing: ...", "first parameter is the context"),
])
def test_route_signatures_must_match_the_path(signature, match):
    namespace: dict[str, object] = {"Thing": Thing}
    exec(signature, namespace)

    def declare(app: App) -> None:
        app.route("POST", "/x/{item}", roles=["user"])(namespace["f"])

    _refused(match, declare)


def test_a_get_with_a_body_is_refused():
    def declare(app: App) -> None:
        @app.route("GET", "/x", roles=["user"])
        def f(ctx: Ctx, body: Thing) -> Thing: ...

    _refused("a GET has no body", declare)


def test_unresolvable_hints_are_refused():
    def declare(app: App) -> None:
        def f(ctx: Ctx) -> NoSuchModel: ...  # type: ignore[name-defined]  # noqa: F821

        app.route("GET", "/x", roles=["user"])(f)

    _refused("type hints do not resolve", declare)


def test_bad_methods_paths_status_and_templates_are_refused():
    app = _app()
    with pytest.raises(DeclarationError, match="method 'FETCH'"):
        app.route("FETCH", "/x", roles=["user"])
    with pytest.raises(DeclarationError, match="GET or POST"):
        app.page("/x", roles=["user"], method="DELETE", template="x.html")
    with pytest.raises(DeclarationError, match="needs a template"):
        app.page("/x", roles=["user"])

    def no_slash(app: App) -> None:
        @app.route("GET", "x", roles=["user"])
        def f(ctx: Ctx) -> Thing: ...

    def bad_status(app: App) -> None:
        @app.route("GET", "/x", roles=["user"], status=99)
        def f(ctx: Ctx) -> Thing: ...

    _refused("must start with '/'", no_slash)
    _refused("is not an HTTP status", bad_status)


def test_duplicates_are_refused():
    app = _app()

    @app.route("GET", "/x/{a}", roles=["user"])
    def f(ctx: Ctx, *, a: str) -> Thing: ...

    with pytest.raises(DeclarationError, match="declared twice"):
        app.route("GET", "/y/{a}", roles=["user"])(f)

    with pytest.raises(DeclarationError, match="declared by both"):
        @app.route("GET", "/x/{a}", roles=["user"])
        def g(ctx: Ctx, *, a: str) -> Thing: ...

    other = App("u", "U", tables=[])

    @other.route("GET", "/x/{b}", roles=["user"])
    def h(ctx: Ctx, *, b: str) -> Thing: ...

    with pytest.raises(DeclarationError, match=r"declared by both t.f and u.h"):
        Registry([app, other])
    with pytest.raises(DeclarationError, match="two apps are named"):
        Registry([app, App("t", "T again", tables=[])])
    with pytest.raises(DeclarationError, match="already has a demo"):
        app.demo(lambda ctx: None)
        app.demo(lambda ctx: None)


def test_handlers_schedules_and_event_types_are_checked():
    app = _app()
    with pytest.raises(DeclarationError, match=r"must read '<app>.<name>'"):
        app.handler("nodot")
    with pytest.raises(DeclarationError, match=r"must read '<app>.<name>'"):
        Uses(publishes=["bad type"])
    with pytest.raises(DeclarationError, match="not a cron expression"):
        app.schedule("nightly", "every night")
    with pytest.raises(DeclarationError, match="not a time zone"):
        app.schedule("nightly", "0 3 * * *", tz="Mars/Olympus")
    with pytest.raises(DeclarationError, match="lower-case"):
        app.schedule("Nightly", "0 3 * * *")
    with pytest.raises(DeclarationError, match="positional parameter"):
        app.handler("t.e")(lambda ctx: None)
    with pytest.raises(DeclarationError, match="not a plain function"):
        app.handler("t.e")(print)
    with pytest.raises(DeclarationError, match="app name"):
        App("Bad-Name", "x", tables=[])
    with pytest.raises(DeclarationError, match="declared twice"):
        App("x", "X", tables=[TableSpec("x_a"), TableSpec("x_a")])


def test_uses_accepts_names_specs_and_single_strings():
    uses = Uses(reads="t_items", writes=[TableSpec("t_other"), "t_other"], blobs="t/",
                publishes="t.done")
    assert uses.reads == ("t_items",) and uses.writes == ("t_other",)
    assert uses.blobs == ("t/",) and uses.publishes == ("t.done",)
    assert uses.readable == {"t_items", "t_other"}


def _principal(*grants: str) -> Principal:
    return Principal(user_id="u1", email="u@example.com",
                     grants=frozenset(Grant.parse(g) for g in grants))


def test_authorize_public_user_and_app_roles():
    app = make_app()
    public = app.function("list_things")
    user = app.function("create_thing")
    admin = app.function("delete_thing")
    public.authorize(None)
    with pytest.raises(Unauthorized) as e:
        user.authorize(None)
    assert e.value.code == "sign_in_required"
    user.authorize(_principal())
    with pytest.raises(Unauthorized):
        admin.authorize(None)
    with pytest.raises(Forbidden) as f:
        admin.authorize(_principal("demo:viewer", "rooms:admin"))
    assert f.value.code == "missing_role"
    admin.authorize(_principal("demo:owner:some-scope"))  # any scope will do at the door
    admin.authorize(_principal("roost:admin"))  # system admins pass every check
    app.function("mail_owner").authorize(None)  # handlers have no caller


def test_a_route_returning_a_reply_keeps_its_status_and_has_no_response_model():
    app = _app()

    @app.route("POST", "/session", roles=["public"])
    def session(ctx: Ctx) -> Reply:
        return Reply(body={})

    fn = app.function("session")
    assert fn.status == 200 and fn.response_model is None
