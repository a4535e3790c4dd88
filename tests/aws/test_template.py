"""The generated template: every function's IAM policy names only what the function declared,
no resource is `*`, and the template passes cfn-lint."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from notes_app import app as notes

from roost.cloud.audit import AUDIT
from roost.cloud.aws.policies import IDENTITY_APPS, logical_id
from roost.cloud.aws.template import build_template, eventbridge_cron
from roost.cloud.events import OUTBOX
from roost.cloud.functions import PUBLIC, Function, Registry
from roost.cloud.local.identity_tables import TABLES as IDENTITY_TABLES
from roost.host.bootstrap import installed_apps

DYNAMO_WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}


def _walk(node: Any):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def _table_of(resource: Any) -> str | None:
    """The logical id of the table a resource names (an ARN or one of its indexes)."""
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        return resource["Fn::GetAtt"][0]
    if isinstance(resource, dict) and "Fn::Sub" in resource and \
            isinstance(resource["Fn::Sub"], str):
        m = re.match(r"\$\{(Table\w+)\.Arn\}/index/\w+$", resource["Fn::Sub"])
        return m.group(1) if m else None
    return None


def _granted(template: dict[str, Any], fn: Function) -> list[dict[str, Any]]:
    role = template["Resources"][logical_id("Role", fn.name)]
    [policy] = role["Properties"]["Policies"]
    return policy["PolicyDocument"]["Statement"]


def _check_function(template: dict[str, Any], fn: Function) -> None:
    uses = fn.uses
    tid = lambda name: logical_id("Table", name)  # noqa: E731
    readable = {tid(t) for t in uses.readable}
    writable = {tid(t) for t in uses.writes}
    audited = {tid(AUDIT.name)} if any(SPECS[t].audit for t in uses.writes) else set()
    outbox = {tid(OUTBOX.name)} if uses.publishes else set()
    mail = {tid("roost_mail_sent")} if uses.mail else set()
    identity = {tid(s.name) for s in IDENTITY_TABLES}
    verify = identity if (fn.app in IDENTITY_APPS or (
        fn.kind == "route" and any(r != PUBLIC for r in fn.roles))) else set()
    own_queue = logical_id("Queue", fn.name)
    for st in _granted(template, fn):
        actions = set(st["Action"])
        for res in st["Resource"]:
            assert res != "*" and "*" not in json.dumps(res).replace('/*"', '"').replace(
                '*"', '"'), (fn.name, res)
            table = _table_of(res)
            if st["Sid"] == "OwnLogs":
                continue
            if st["Sid"] in ("Blobs",):
                prefix = res["Fn::Sub"].split("/", 1)[1].removesuffix("*")
                assert prefix in uses.blobs, (fn.name, prefix)
            elif st["Sid"] in ("ListBlobs", "BlobExpiry"):
                assert uses.blobs and res == {"Fn::GetAtt": ["Blobs", "Arn"]}
            elif st["Sid"] == "SendMail":
                assert uses.mail
            elif st["Sid"] == "PoolUsers":
                assert fn.app in IDENTITY_APPS and res == {"Fn::GetAtt": ["UserPool", "Arn"]}
                assert actions == {"cognito-idp:AdminGetUser", "cognito-idp:AdminCreateUser"}
            elif st["Sid"] == "OwnQueue":
                assert table == own_queue, (fn.name, res)
            else:
                allowed = readable | audited | outbox | mail | verify
                assert table in allowed, (fn.name, st["Sid"], table)
                if actions & DYNAMO_WRITES:
                    assert table in writable | audited | outbox | mail | (
                        identity if fn.app in IDENTITY_APPS else set()), (fn.name, table)


SPECS: dict[str, Any] = {}  # every table of the registry under test, by name


@pytest.fixture(scope="module")
def everything() -> tuple[Registry, dict[str, Any]]:
    registry = Registry([*installed_apps(), notes])
    SPECS.update((s.name, s) for s in registry.table_specs())
    return registry, build_template(registry)


def test_every_policy_names_only_what_its_function_declared(everything):
    registry, template = everything
    checked = 0
    for fn in registry.functions():
        if fn.kind in ("route", "handler", "schedule"):
            _check_function(template, fn)
            checked += 1
    assert checked > 20


def test_no_resource_anywhere_is_a_wildcard(everything):
    _, template = everything
    for node in _walk(template["Resources"]):
        if "Resource" in node:
            for res in node["Resource"] if isinstance(node["Resource"], list) else \
                    [node["Resource"]]:
                assert res != "*" and not (isinstance(res, str) and res.endswith(":*"))


def test_a_route_gets_exactly_its_tables_and_nothing_else():
    template = build_template(Registry([notes]))
    read = notes.function("read_note")
    statements = {st["Sid"]: st for st in _granted(template, read)}
    assert set(statements) == {"ReadTables", "OwnLogs"}  # public: no identity reads
    assert statements["ReadTables"]["Resource"] == [{"Fn::GetAtt": ["TableNotesItems", "Arn"]}]
    create = {st["Sid"]: st for st in _granted(template, notes.function("create_note"))}
    assert set(create) == {"WriteTables", "Publish", "VerifyCaller", "OwnLogs"}
    assert create["Publish"]["Condition"] == {"ForAllValues:StringEquals": {
        "dynamodb:LeadingKeys": ["pending"]}}
    handler = {st["Sid"]: st for st in _granted(template, notes.function("mail_readers"))}
    assert set(handler) == {"ReadTables", "SendMail", "MailOnce", "OwnQueue", "OwnLogs"}


def test_tables_buckets_and_queues_are_safe_by_default():
    res = build_template(Registry([notes]))["Resources"]
    table = res["TableNotesItems"]["Properties"]
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"] == {"SSEEnabled": True}
    assert res["TableRoostOutbox"]["Properties"]["StreamSpecification"]
    blobs = res["Blobs"]["Properties"]
    assert all(blobs["PublicAccessBlockConfiguration"].values())
    queue = res[logical_id("Queue", "notes.mail_readers")]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 5
    assert logical_id("DeadAlarm", "notes.mail_readers") in res
    assert res["FunctionErrors"]["Properties"]["MetricName"] == "Errors"


def test_every_app_fits_one_stack(everything):
    """CloudFormation takes 500 resources per stack; SAM adds a permission per API route and an
    event source mapping per queue or stream consumer, plus the API's stage."""
    _, template = everything
    functions = [r for r in template["Resources"].values()
                 if r["Type"] == "AWS::Serverless::Function"]
    expanded = len(template["Resources"]) + sum(len(f["Properties"].get("Events", {}))
                                                for f in functions) + 2
    assert expanded <= 500, expanded


def test_images_keep_blobs_seven_days(everything):
    registry, template = everything
    if not any(p.startswith("images/") for f in registry.functions() for p in f.uses.blobs):
        pytest.skip("the images app is not installed")
    rules = template["Resources"]["Blobs"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert {"Id": "roost-expire:images/", "Status": "Enabled", "Prefix": "images/",
            "ExpirationInDays": 7} in rules


def test_cron_becomes_eventbridge_cron():
    assert eventbridge_cron("0 7 * * mon") == "cron(0 7 ? * MON *)"
    assert eventbridge_cron("*/5 * * * *") == "cron(*/5 * * * ? *)"
    assert eventbridge_cron("30 6 1 * *") == "cron(30 6 1 * ? *)"
    assert eventbridge_cron("0 9 * * 0,6") == "cron(0 9 ? * 1,7 *)"


def test_the_template_passes_cfn_lint(tmp_path: Path, everything):
    """Every app's template (Cognito, the pages' Lambda and all) and a one-app one."""
    lint = str(Path(sys.executable).with_name("cfn-lint"))  # the pinned one, in the venv
    if not Path(lint).exists():
        pytest.fail("cfn-lint is not installed (pip install -e '.[dev]')")
    paths = [tmp_path / "notes.template.json", tmp_path / "all.template.json"]
    paths[0].write_text(json.dumps(build_template(Registry([notes]))))
    paths[1].write_text(json.dumps(everything[1]))
    done = subprocess.run([lint, *map(str, paths)], capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_cli_writes_the_template(tmp_path: Path):
    out = tmp_path / "t.json"
    done = subprocess.run([sys.executable, "-m", "roost.host.cli", "deploy", "template",
                           "--apps", "rooms", "--out", str(out)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    template = json.loads(out.read_text())
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    assert any(k.startswith("FnRooms") for k in template["Resources"])


def test_what_the_policy_leaves_out_fails_locally_first(clock, tmp_path: Path):
    """The read route's role names only notes_items; the same function touching another table
    is refused by the local guards before it ever reaches AWS."""
    from roost.cloud.errors import Undeclared
    from roost.cloud.functions import Resources
    from roost.cloud.local.file_blobs import FileBlobs
    from roost.cloud.local.mail_outbox import OutboxMailer
    from roost.cloud.local.sqlite_table import SqliteTables

    registry = Registry([notes])
    fn = notes.function("read_note")
    template = build_template(registry)
    named = {_table_of(r) for st in _granted(template, fn) for r in st["Resource"]}
    assert logical_id("Table", OUTBOX.name) not in named
    tables = SqliteTables(tmp_path / "db.sqlite", [*notes.tables, OUTBOX], clock=clock)
    resources = Resources(tables=tables, clock=clock,
                          blobs=FileBlobs(tmp_path / "b", clock=clock, secret=b"s" * 32),
                          mailer=OutboxMailer(tmp_path / "o", clock=clock))
    ctx = fn.context(resources)
    with pytest.raises(Undeclared):
        ctx.tables.table(OUTBOX.name).query("pending")
    with pytest.raises(Undeclared):
        ctx.blobs.put("images/x", b"x")
    assert ctx.tables.table("notes_items").get({"pk": "n1"}) is None  # declared: allowed
    tables.close()


def test_identity_is_a_cognito_pool_with_code_sign_in_triggers(everything):
    _, template = everything
    res = template["Resources"]
    pool = res["UserPool"]["Properties"]
    assert pool["UsernameAttributes"] == ["email"]
    assert pool["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
    hooks = pool["LambdaConfig"]
    assert set(hooks) == {"DefineAuthChallenge", "CreateAuthChallenge",
                          "VerifyAuthChallengeResponse"}
    for hook, arn in hooks.items():
        fid = arn["Fn::GetAtt"][0]
        assert res[fid]["Properties"]["Handler"].startswith("roost.cloud.aws.cognito_triggers.")
        [invoke] = [r["Properties"] for r in res.values()
                    if r["Type"] == "AWS::Lambda::Permission"
                    and r["Properties"]["FunctionName"] == {"Fn::GetAtt": [fid, "Arn"]}]
        assert invoke["Principal"] == "cognito-idp.amazonaws.com"
        assert invoke["SourceArn"] == {"Fn::GetAtt": ["UserPool", "Arn"]}
        role = res[res[fid]["Properties"]["Role"]["Fn::GetAtt"][0]]
        sids = {st["Sid"] for st in role["Properties"]["Policies"][0]["PolicyDocument"]
                ["Statement"]}
        # only the create trigger writes (the code's mail event, to the outbox)
        assert sids == ({"Publish", "OwnLogs"} if hook == "CreateAuthChallenge"
                        else {"OwnLogs"}), hook
    client = res["UserPoolClient"]["Properties"]
    assert "email" not in client["WriteAttributes"]
    assert set(client["ExplicitAuthFlows"]) == {"ALLOW_CUSTOM_AUTH", "ALLOW_USER_PASSWORD_AUTH",
                                                "ALLOW_REFRESH_TOKEN_AUTH"}


def test_the_api_checks_pool_tokens_except_on_public_routes(everything):
    registry, template = everything
    res = template["Resources"]
    auth = res["Api"]["Properties"]["Auth"]
    assert auth["DefaultAuthorizer"] == "Cognito"
    assert auth["Authorizers"]["Cognito"]["JwtConfiguration"]["audience"] == [
        {"Ref": "UserPoolClient"}]
    routes = [f for f in registry.functions("route")]
    assert any(PUBLIC in f.roles for f in routes) and any(PUBLIC not in f.roles for f in routes)
    for fn in routes:
        props = res[logical_id("Fn", fn.name)]["Properties"]
        api = props["Events"]["Api"]["Properties"]
        assert ("Auth" in api) == (PUBLIC in fn.roles), fn.name
        assert props["Environment"]["Variables"]["ROOST_COGNITO_POOL_ID"] == {"Ref": "UserPool"}


def test_the_pages_are_one_lambda_on_the_default_route_with_their_declared_tables(everything):
    registry, template = everything
    res = template["Resources"]
    web = res["FnWeb"]["Properties"]
    assert web["Handler"] == "roost.host.aws_web.handler"
    [event] = web["Events"].values()
    assert event["Type"] == "HttpApi" and "Path" not in event["Properties"]  # $default
    assert event["Properties"]["Auth"] == {"Authorizer": "NONE"}  # the cookie, checked inside
    apps = web["Environment"]["Variables"]["ROOST_APPS"].split(",")
    assert {"roost.apps.rooms", "roost.apps.desks"} <= set(apps)  # the apps' packages
    assert not any(a.startswith("roost.host") or a.count(".") > 2 for a in apps), apps
    pages = registry.functions("page")
    declared = {logical_id("Table", t) for fn in pages for t in fn.uses.readable}
    extra = {logical_id("Table", n) for n in (AUDIT.name, OUTBOX.name, "roost_mail_sent")} | {
        logical_id("Table", s.name) for s in IDENTITY_TABLES}
    [policy] = res["RoleWeb"]["Properties"]["Policies"]
    named = {_table_of(r) for st in policy["PolicyDocument"]["Statement"]
             for r in st["Resource"] if st["Sid"] not in ("OwnLogs", "PoolUsers", "Blobs")}
    named.discard(None)
    assert named <= declared | extra | {"Blobs"}, named - declared - extra
    assert declared <= named, "every table a page declared is granted"
    assert len(json.dumps(policy)) < 10_240  # IAM's limit for a role's inline policies
