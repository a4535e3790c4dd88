"""The Lambda entry points, invoked in-process with realistic API Gateway HTTP API v2, DynamoDB
stream and SQS events, on moto: the same function, permissions and problems as the local host,
and the whole path from a route to an email in SES."""

from __future__ import annotations

import base64
import json
import uuid
from email import policy
from email.parser import BytesParser
from typing import Any

import pytest
from lambda_events import http_event, sign_in, sqs_event, stream_event
from notes_app import NOTES, app

from roost.cloud.aws.lambda_entry import handle_http, handle_outbox, handle_sqs
from roost.cloud.aws.runtime import aws_runtime
from roost.cloud.events import OUTBOX
from roost.cloud.identity import Grant
from support.moto_server import bucket, client, ses_messages

SENDER = "roost@example.com"


@pytest.fixture
def rt(clock) -> Any:
    client("sesv2").create_email_identity(EmailIdentity=SENDER)
    queue = client("sqs").create_queue(QueueName=f"q{uuid.uuid4().hex[:10]}")["QueueUrl"]
    env = {"ROOST_TABLE_PREFIX": f"l{uuid.uuid4().hex[:10]}_", "ROOST_BUCKET": bucket(),
           "ROOST_MAIL_SENDER": SENDER, "ROOST_SECRET": "lambda-test-secret-" + "x" * 20,
           "ROOST_QUEUE_URLS": json.dumps({"notes.mail_readers": queue})}
    runtime = aws_runtime(apps=[app], env=env, clock=clock,
                          clients={s: client(s) for s in ("dynamodb", "s3", "sesv2", "sqs")})
    runtime.resources.tables.create_tables()
    yield runtime
    runtime.resources.tables.delete_tables()






def test_a_route_writes_and_answers_as_declared(rt):
    token = sign_in(rt, "ann@example.com")
    create = rt.function("notes.create_note")
    out = handle_http(rt, create, http_event("POST", "/notes", route="/notes",
                                             body={"text": "hello"}, token=token))
    assert out["statusCode"] == 201 and out["headers"]["content-type"] == "application/json"
    note = json.loads(out["body"])
    assert note["text"] == "hello"
    stored = rt.resources.tables.table(NOTES.name).get({"pk": note["id"]})
    assert stored["by"] == note["by"]
    read = rt.function("notes.read_note")
    got = handle_http(rt, read, http_event("GET", f"/notes/{note['id']}", route="/notes/{note_id}",
                                           path_params={"note_id": note["id"]},
                                           query={"shout": "true"}))
    assert got["statusCode"] == 200 and json.loads(got["body"])["text"] == "HELLO"


@pytest.mark.parametrize(("case", "status", "code"), [
    ("anonymous", 401, "sign_in_required"),
    ("bad token", 401, "token_invalid"),
    ("bad body", 422, "validation_failed"),
    ("cross site", 403, "cross_site_form"),
])
def test_problems_are_the_hosts(rt, case, status, code):
    token = sign_in(rt, "ann@example.com")
    kwargs: dict[str, Any] = {"body": {"text": "x"}, "token": token}
    if case == "anonymous":
        kwargs["token"] = None
    elif case == "bad token":
        kwargs["token"] = token[:-4] + "AAAA"
    elif case == "bad body":
        kwargs["body"] = {"text": ""}
    else:  # the browser's cookie, sent by a form on another site
        kwargs.update(token=None, cookies=[f"roost_access={token}", "theme=dark"],
                      headers={"origin": "https://evil.example", "sec-fetch-site": "cross-site"})
    out = handle_http(rt, rt.function("notes.create_note"),
                      http_event("POST", "/notes", route="/notes", **kwargs))
    assert out["statusCode"] == status
    assert out["headers"]["content-type"] == "application/problem+json"
    problem = json.loads(out["body"])
    assert problem["status"] == status
    assert problem["code"] == code
    if case == "bad body":
        assert problem["errors"][0]["loc"] == ["body", "text"]
    assert rt.resources.tables.table(NOTES.name).scan().items == []


def test_the_access_cookie_signs_in_too(rt):
    out = handle_http(rt, rt.function("notes.create_note"), http_event(
        "POST", "/notes", route="/notes", body={"text": "by cookie"},
        cookies=[f"roost_access={sign_in(rt, 'ann@example.com')}"]))
    assert out["statusCode"] == 201


def test_a_raw_upload_lands_in_s3_with_its_limit(rt):
    attach = rt.function("notes.attach")
    event = http_event("PUT", "/notes/n1/file", route="/notes/{note_id}/file",
                       path_params={"note_id": "n1"},
                       headers={"content-type": "application/octet-stream"})
    event.update(body=base64.b64encode(b"\x00binary\xff").decode(), isBase64Encoded=True)
    out = handle_http(rt, attach, event)
    assert out["statusCode"] == 201 and out["headers"]["location"] == "/notes/n1/file"
    assert json.loads(out["body"])["size"] == 8
    assert out["cookies"][0].startswith("last_note=n1;") and "HttpOnly" in out["cookies"][0]
    assert rt.resources.blobs.read("notes/n1") == b"\x00binary\xff"
    event.update(body=base64.b64encode(b"x" * 17).decode())
    out = handle_http(rt, attach, event)
    assert (out["statusCode"], json.loads(out["body"])["code"]) == (413, "too_large")


def test_roles_and_not_found(rt):
    delete = rt.function("notes.delete_note")
    event = http_event("DELETE", "/notes/n1", route="/notes/{note_id}",
                       path_params={"note_id": "n1"}, token=sign_in(rt, "bob@example.com"))
    out = handle_http(rt, delete, event)
    assert (out["statusCode"], json.loads(out["body"])["code"]) == (403, "missing_role")
    editor = sign_in(rt, "eve@example.com", Grant("notes", "editor"))
    out = handle_http(rt, delete, {**event, "headers": {**event["headers"],
                                                        "authorization": f"Bearer {editor}"}})
    assert out["statusCode"] == 204 and "body" not in out
    read = rt.function("notes.read_note")
    out = handle_http(rt, read, http_event("GET", "/notes/nope", route="/notes/{note_id}",
                                           path_params={"note_id": "nope"}))
    assert (out["statusCode"], json.loads(out["body"])["code"]) == (404, "note_not_found")








def test_route_to_stream_to_queue_to_handler_to_ses(rt):
    """POST a note -> the item and its event are in DynamoDB -> the stream record is dispatched
    to the handler's queue -> the handler runs from SQS -> the mail is in moto's SES record."""
    to = f"readers-{uuid.uuid4().hex[:8]}@example.com"
    out = handle_http(rt, rt.function("notes.create_note"), http_event(
        "POST", "/notes", route="/notes", body={"text": "Lunch at noon", "notify": to},
        token=sign_in(rt, "ann@example.com")))
    assert out["statusCode"] == 201
    outbox = rt.resources.tables.table(OUTBOX.name)
    pending = [e for e in outbox.query("pending").items if e["type"].startswith("notes.")]
    assert [e["type"] for e in pending] == ["notes.created"]

    assert handle_outbox(rt, stream_event(pending)) == {"batchItemFailures": []}
    assert [e for e in outbox.query("pending").items if e["type"].startswith("notes.")] == []
    queue = rt.queue_urls["notes.mail_readers"]
    messages = client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                             WaitTimeSeconds=0)["Messages"]
    assert len(messages) == 1

    handler = rt.function("notes.mail_readers")
    assert handle_sqs(rt, handler, sqs_event(messages)) == {"batchItemFailures": []}
    [raw] = ses_messages(to)
    mail = BytesParser(policy=policy.default).parsebytes(raw)
    assert mail["Subject"] == "A new note"
    assert mail.get_body(("plain",)).get_content().strip() == "Lunch at noon"
    assert handle_sqs(rt, handler, sqs_event(messages)) == {"batchItemFailures": []}
    assert len(ses_messages(to)) == 1, "a redelivered event mails once (idempotency key)"


def test_one_failing_record_fails_alone(rt):
    handler = rt.function("notes.mail_readers")
    rt.resources.tables.table(NOTES.name).put({"pk": "n1", "id": "n1", "text": "t", "by": "u"})
    good = {"type": "notes.created", "data": {"id": "n1", "to": "ok@example.com"},
            "id": "01JGZ0000000000000000000A1", "at": "2026-01-05T09:00:00+00:00", "actor": "u"}
    bad = {**good, "data": {"id": "gone", "to": "x@example.com"},
           "id": "01JGZ0000000000000000000A2"}
    event = sqs_event([{"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": json.dumps(b),
                         "MD5OfBody": "x"} for i, b in enumerate([good, bad])])
    assert handle_sqs(rt, handler, event) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


def test_a_schedule_runs_from_the_message_eventbridge_scheduler_sends(rt):
    """The template's schedule puts this body on the schedule's queue (the placeholders
    filled in by EventBridge Scheduler)."""
    from roost.cloud.aws.policies import logical_id
    from roost.cloud.aws.template import build_template
    from roost.cloud.functions import Registry

    template = build_template(Registry([app]))
    target = template["Resources"][logical_id("Schedule", "notes.weekly_digest")]["Properties"]
    assert target["ScheduleExpression"] == "cron(0 7 ? * MON *)"
    body = (target["Target"]["Input"]
            .replace("<aws.scheduler.execution-id>", "6a8b7c1e-0000-4000-8000-000000000001")
            .replace("<aws.scheduler.scheduled-time>", "2026-01-05T07:00:00Z"))
    event = sqs_event([{"MessageId": "s1", "ReceiptHandle": "r", "Body": body,
                        "MD5OfBody": "x"}])
    assert handle_sqs(rt, rt.function("notes.weekly_digest"), event) == {"batchItemFailures": []}
    digest = rt.resources.tables.table(NOTES.name).get(
        {"pk": "digest-6a8b7c1e-0000-4000-8000-000000000001"})
    assert digest["text"] == "0 notes" and digest["by"] == "scheduler"
