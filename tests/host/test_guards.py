"""Guards: a function touches only what it declared — on the real SQLite tables, real file blobs
and the real mail outbox — and an undeclared touch raises `Undeclared` before anything is
written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from roost.cloud.audit import current_actor
from roost.cloud.errors import Forbidden, Unauthorized, Undeclared
from roost.cloud.events import OUTBOX, Event, publish
from roost.cloud.functions import App, Ctx, Function, Resources, Uses
from roost.cloud.identity import Grant, Principal
from roost.cloud.local.file_blobs import FileBlobs
from roost.cloud.local.sqlite_table import SqliteTables
from roost.cloud.mail import Message
from roost.cloud.table import Check, Delete, Put, SortKey, TableSpec, Update, attr

READ = TableSpec("g_read")
WRITE = TableSpec("g_write")
SECRET = TableSpec("g_secret")


@pytest.fixture
def resources(tmp_path: Path, clock) -> Iterator[Resources]:
    from roost.cloud.local.mail_outbox import OutboxMailer

    tables = SqliteTables(tmp_path / "db.sqlite", [READ, WRITE, SECRET, OUTBOX], clock=clock)
    blobs = FileBlobs(tmp_path / "blobs", clock=clock, secret=b"s" * 32)
    mailer = OutboxMailer(tmp_path / "outbox", clock=clock)
    for spec in (READ, WRITE, SECRET):
        tables.table(spec.name).put({"pk": "a", "sk": "1", "n": 1})
    yield Resources(tables=tables, blobs=blobs, mailer=mailer, clock=clock)
    tables.close()


APP = App("g", "Guards", tables=[READ, WRITE, SECRET])


@APP.handler("g.happened", uses=Uses(reads=[READ], writes=[WRITE], blobs=("g/in/", "g/out/"),
                                     publishes=["g.done"], mail=True))
def worker(ctx: Ctx, event: Event) -> None:
    """Everything declared."""


@APP.handler("g.other", uses=Uses())
def bare(ctx: Ctx, event: Event) -> None:
    """Nothing declared."""


def ctx_for(fn: Function, resources: Resources, principal: Principal | None = None) -> Ctx:
    return fn.context(resources, principal=principal)


@pytest.fixture
def ctx(resources: Resources) -> Ctx:
    return ctx_for(APP.function("worker"), resources)


@pytest.fixture
def bare_ctx(resources: Resources) -> Ctx:
    return ctx_for(APP.function("bare"), resources)


def _raw(resources: Resources, table: str) -> dict:
    return resources.tables.table(table).get({"pk": "a", "sk": "1"})  # type: ignore[return-value]


# ----------------------------------------------------------------------------------- tables


def test_declared_reads_and_writes_pass(ctx: Ctx, resources: Resources):
    assert ctx.tables.table("g_read").get({"pk": "a", "sk": "1"})["n"] == 1
    assert len(ctx.tables.table("g_read").query("a", sort=SortKey.begins_with("1")).items) == 1
    assert len(ctx.tables.table("g_read").scan().items) == 1
    w = ctx.tables.table("g_write")
    w.put({"pk": "b", "sk": "1"})
    assert w.update({"pk": "a", "sk": "1"}, add={"n": 1})["n"] == 2
    assert w.get({"pk": "a", "sk": "1"})["n"] == 2  # write tables are readable
    assert w.delete({"pk": "b", "sk": "1"}) is not None
    assert w.spec is WRITE


def test_an_undeclared_table_cannot_even_be_opened(ctx: Ctx):
    with pytest.raises(Undeclared) as e:
        ctx.tables.table("g_secret")
    assert e.value.code == "undeclared_resource" and e.value.status == 500
    assert "g.worker reads table 'g_secret'" in e.value.message
    assert e.value.extra == {"function": "g.worker", "resource": "table:g_secret:read"}


@pytest.mark.parametrize("write", [
    lambda t: t.put({"pk": "a", "sk": "2"}),
    lambda t: t.update({"pk": "a", "sk": "1"}, set={"n": 9}),
    lambda t: t.delete({"pk": "a", "sk": "1"}),
])
def test_a_read_table_cannot_be_written(ctx: Ctx, resources: Resources, write):
    table = ctx.tables.table("g_read")
    with pytest.raises(Undeclared, match="writes table 'g_read'"):
        write(table)
    assert _raw(resources, "g_read")["n"] == 1
    assert resources.tables.table("g_read").get({"pk": "a", "sk": "2"}) is None


@pytest.mark.parametrize("read", [
    lambda t: t.get({"pk": "a", "sk": "1"}),
    lambda t: t.query("a"),
    lambda t: t.scan(),
])
def test_nothing_declared_reads_nothing(bare_ctx: Ctx, read):
    with pytest.raises(Undeclared):
        read(bare_ctx.tables.table("g_read"))


@pytest.mark.parametrize("bad_op", [
    Put("g_read", {"pk": "x", "sk": "1"}),
    Update("g_read", {"pk": "a", "sk": "1"}, set={"n": 5}),
    Delete("g_read", {"pk": "a", "sk": "1"}),
    Check("g_secret", {"pk": "a", "sk": "1"}, condition=attr("pk").exists()),
    Put("g_secret", {"pk": "x", "sk": "1"}),
])
def test_transact_is_checked_op_by_op_and_writes_nothing(ctx: Ctx, resources: Resources, bad_op):
    good = Put("g_write", {"pk": "new", "sk": "1"})
    with pytest.raises(Undeclared):
        ctx.tables.transact([good, bad_op])
    assert resources.tables.table("g_write").get({"pk": "new", "sk": "1"}) is None
    assert _raw(resources, "g_read")["n"] == 1 and _raw(resources, "g_secret")["n"] == 1


def test_transact_of_declared_ops_commits(ctx: Ctx, resources: Resources):
    ctx.tables.transact([
        Put("g_write", {"pk": "new", "sk": "1"}),
        Check("g_read", {"pk": "a", "sk": "1"}, condition=attr("n").eq(1)),
        ctx.publish("g.done", {"x": 1}),
    ])
    assert resources.tables.table("g_write").get({"pk": "new", "sk": "1"}) is not None
    assert [e.type for e in ctx.published] == ["g.done"]
    pending = resources.tables.table(OUTBOX.name).query("pending").items
    assert [i["type"] for i in pending] == ["g.done"]


def test_purging_tables_is_not_a_functions_job(ctx: Ctx):
    with pytest.raises(Undeclared, match="purges every table"):
        ctx.tables.purge_expired()


# ----------------------------------------------------------------------------------- outbox


def _event(ctx: Ctx, type: str) -> Event:
    return Event(type=type, data={}, id=ctx.new_id(), at=ctx.now())


def test_publishing_an_undeclared_event_type_is_refused_everywhere(ctx: Ctx,
                                                                   resources: Resources):
    with pytest.raises(Undeclared, match=r"builds event 'g\.secret'"):
        ctx.event("g.secret", {})
    with pytest.raises(Undeclared, match=r"publishes event 'g\.secret'"):
        ctx.tables.transact([Put("g_write", {"pk": "z", "sk": "1"}),
                             publish(_event(ctx, "g.secret"))])
    with pytest.raises(Undeclared, match=r"publishes event 'g\.secret'"):
        ctx.tables.table(OUTBOX.name).put(_event(ctx, "g.secret").to_item())
    assert resources.tables.table(OUTBOX.name).query("pending").items == []
    assert resources.tables.table("g_write").get({"pk": "z", "sk": "1"}) is None
    assert ctx.published == []


def test_a_declared_event_may_be_put_directly(ctx: Ctx, resources: Resources):
    ctx.tables.table(OUTBOX.name).put(_event(ctx, "g.done").to_item())
    assert len(resources.tables.table(OUTBOX.name).query("pending").items) == 1
    assert len(ctx.published) == 1


@pytest.mark.parametrize("touch", [
    lambda t: t.get({"pk": "pending", "sk": "x"}),
    lambda t: t.query("pending"),
    lambda t: t.scan(),
    lambda t: t.update({"pk": "pending", "sk": "x"}, set={"type": "g.done"}),
    lambda t: t.delete({"pk": "pending", "sk": "x"}),
])
def test_the_outbox_is_write_only_for_functions(ctx: Ctx, touch):
    with pytest.raises(Undeclared, match="outbox"):
        touch(ctx.tables.table(OUTBOX.name))


@pytest.mark.parametrize("op", [
    Delete(OUTBOX.name, {"pk": "pending", "sk": "x"}),
    Update(OUTBOX.name, {"pk": "pending", "sk": "x"}, set={"type": "g.done"}),
    Check(OUTBOX.name, {"pk": "pending", "sk": "x"}, condition=attr("sk").exists()),
])
def test_transact_cannot_change_the_outbox(ctx: Ctx, op):
    with pytest.raises(Undeclared, match="outbox"):
        ctx.tables.transact([op])


def test_a_function_that_publishes_nothing_cannot_open_the_outbox(bare_ctx: Ctx):
    with pytest.raises(Undeclared, match="opens the outbox"):
        bare_ctx.tables.table(OUTBOX.name)


def test_events_carry_a_sortable_id_the_clock_and_the_actor(resources: Resources, clock):
    principal = Principal(user_id="u-7", email="u@example.com")
    c = ctx_for(APP.function("worker"), resources, principal)
    first = c.event("g.done", {"a": 1})
    clock.advance(seconds=1)
    second = c.event("g.done", {"a": 2})
    assert first.at < second.at == clock.now()
    assert first.id < second.id and first.actor == "u-7"
    token = current_actor.set("handler:g.worker")
    try:
        assert ctx_for(APP.function("worker"), resources).event("g.done", {}).actor == \
            "handler:g.worker"
    finally:
        current_actor.reset(token)


# ----------------------------------------------------------------------------------- blobs


def test_declared_blob_prefixes_pass(ctx: Ctx, resources: Resources):
    ctx.blobs.put("g/in/a.txt", b"hello", content_type="text/plain")
    assert ctx.blobs.read("g/in/a.txt") == b"hello"
    info, chunks = ctx.blobs.get("g/in/a.txt")
    assert info.size == 5 and b"".join(chunks) == b"hello"
    assert ctx.blobs.head("g/in/a.txt").content_type == "text/plain"
    assert [b.key for b in ctx.blobs.list("g/in/")] == ["g/in/a.txt"]
    assert "sig=" in ctx.blobs.signed_url("g/in/a.txt")
    ctx.blobs.expire_prefix("g/out/", days=7)
    assert ctx.blobs.delete("g/in/a.txt") is True


@pytest.mark.parametrize("touch", [
    lambda b: b.put("g/secret/x", b"no"),
    lambda b: b.get("g/secret/x"),
    lambda b: b.read("g/secret/x"),
    lambda b: b.head("g/secret/x"),
    lambda b: b.delete("g/secret/x"),
    lambda b: b.list("g/"),  # wider than any declared prefix
    lambda b: b.list(),
    lambda b: b.signed_url("g/secret/x"),
    lambda b: b.expire_prefix("g/", days=1),
    lambda b: b.purge_expired(),
])
def test_undeclared_blob_keys_are_refused(ctx: Ctx, resources: Resources, touch):
    resources.blobs.put("g/secret/x", b"keep")
    with pytest.raises(Undeclared):
        touch(ctx.blobs)
    assert resources.blobs.read("g/secret/x") == b"keep"


def test_no_blob_prefix_means_no_blobs(bare_ctx: Ctx):
    with pytest.raises(Undeclared, match="blob 'g/in/a'"):
        bare_ctx.blobs.put("g/in/a", b"x")


# ----------------------------------------------------------------------------------- mail


def test_mail_only_with_mail_declared(ctx: Ctx, bare_ctx: Ctx, resources: Resources):
    message = Message(to=("a@example.com",), subject="Hi", text="Hello")
    with pytest.raises(Undeclared, match="sends mail"):
        bare_ctx.mail.send(message)
    assert resources.mailer.list() == []  # type: ignore[attr-defined]
    ctx.mail.send(message)
    assert [m.subject for m in resources.mailer.list()] == ["Hi"]  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------------- roles


def test_require_checks_scoped_roles(resources: Resources):
    fn = APP.function("worker")
    with pytest.raises(Unauthorized):
        ctx_for(fn, resources).require("g", "admin")
    with pytest.raises(Unauthorized):
        _ = ctx_for(fn, resources).user
    alice = Principal(user_id="a", email="a@example.com",
                      grants=frozenset({Grant("g", "admin", "alpha")}))
    c = ctx_for(fn, resources, alice)
    assert c.require("g", "admin") is alice  # any scope
    assert c.require("g", "admin", "alpha") is alice
    with pytest.raises(Forbidden, match="for beta") as e:
        c.require("g", "admin", "beta")
    assert e.value.code == "missing_role"
    root = Principal(user_id="r", email="r@example.com",
                     grants=frozenset({Grant("roost", "admin")}))
    assert ctx_for(fn, resources, root).require("g", "admin", "beta") is root


def test_invoke_sets_the_audit_actor(resources: Resources):
    seen: list[str | None] = []
    app = App("h", "H", tables=[])

    @app.handler("h.x")
    def probe(ctx: Ctx, event: Event) -> None:
        seen.append(current_actor.get())

    fn = app.function("probe")
    event = Event(type="h.x", data={}, id="1", at=resources.clock.now())
    fn.invoke(fn.context(resources, principal=Principal(user_id="u-1", email="u@e.x")), event)
    fn.invoke(fn.context(resources), event)
    assert seen == ["u-1", None]
    assert current_actor.get() is None
