"""Issue 7's end-to-end check with a real app: a booking made through the rooms app's Lambda
handler (API Gateway v2 event) is in DynamoDB, its outbox event goes through the stream
dispatcher to the mail handler's SQS queue, the handler runs from SQS, and the invitation is in
moto's SES record."""

from __future__ import annotations

import json
import uuid
from email import policy
from email.parser import BytesParser

import pytest
from lambda_events import http_event, sign_in, sqs_event, stream_event

from roost.cloud.aws.lambda_entry import handle_http, handle_outbox, handle_sqs
from roost.cloud.aws.runtime import aws_runtime
from roost.cloud.events import OUTBOX
from roost.cloud.identity import Grant
from support.moto_server import bucket, client, ses_messages

SENDER = "rooms@example.com"
ROOM = {"id": "atlas", "name": "Atlas", "site": "Berlin", "floor": "2", "tz": "UTC",
        "capacity": 6, "equipment": ["screen"], "opens": "08:00", "closes": "18:00"}


@pytest.fixture
def rooms_rt(clock):
    rooms = pytest.importorskip("roost.apps.rooms")
    client("sesv2").create_email_identity(EmailIdentity=SENDER)
    queue = client("sqs").create_queue(QueueName=f"r{uuid.uuid4().hex[:10]}")["QueueUrl"]
    env = {"ROOST_TABLE_PREFIX": f"r{uuid.uuid4().hex[:10]}_", "ROOST_BUCKET": bucket(),
           "ROOST_MAIL_SENDER": SENDER, "ROOST_SECRET": "rooms-lambda-secret-" + "x" * 20,
           "ROOST_QUEUE_URLS": json.dumps({"rooms.mail_booked": queue})}
    rt = aws_runtime(apps=[rooms.app], env=env, clock=clock,
                     clients={s: client(s) for s in ("dynamodb", "s3", "sesv2", "sqs")})
    rt.resources.tables.create_tables()
    yield rt
    rt.resources.tables.delete_tables()


def test_a_booking_on_lambda_ends_as_an_invitation_in_ses(rooms_rt):
    rt = rooms_rt
    admin = sign_in(rt, "rita@example.com", Grant("rooms", "admin"))
    made = handle_http(rt, rt.function("rooms.create_room"), http_event(
        "POST", "/rooms/rooms", route="/rooms/rooms", body=ROOM, token=admin))
    assert made["statusCode"] == 201, made

    attendee = f"ben-{uuid.uuid4().hex[:6]}@example.com"
    booked = handle_http(rt, rt.function("rooms.create_booking"), http_event(
        "POST", "/rooms/bookings", route="/rooms/bookings", token=sign_in(rt, "ana@example.com"),
        body={"room_id": "atlas", "start": "2026-01-05T10:00:00Z",
              "end": "2026-01-05T11:00:00Z", "title": "Standup", "attendees": [attendee]}))
    assert booked["statusCode"] == 201, booked
    code = json.loads(booked["body"])["code"]
    stored = [i for i in rt.resources.tables.table("rooms_bookings").scan().items
              if i.get("code") == code]
    assert stored, "the booking is in DynamoDB"
    seen = handle_http(rt, rt.function("rooms.vacancy"), http_event(
        "GET", "/rooms/vacancy", route="/rooms/vacancy", query={"day": "2026-01-05"},
        token=sign_in(rt, "vic@example.com")))
    assert seen["statusCode"] == 200 and seen["headers"]["content-type"] == "application/json"
    [atlas] = json.loads(seen["body"])["rooms"]
    assert [b["code"] for b in atlas["busy"]] == [code], "vacancy's ready JSON on Lambda"

    pending = [e for e in rt.resources.tables.table(OUTBOX.name).query("pending").items
               if e["type"] == "rooms.booking_created"]
    assert len(pending) == 1
    assert handle_outbox(rt, stream_event(pending)) == {"batchItemFailures": []}
    messages = client("sqs").receive_message(QueueUrl=rt.queue_urls["rooms.mail_booked"],
                                             MaxNumberOfMessages=10)["Messages"]
    assert handle_sqs(rt, rt.function("rooms.mail_booked"), sqs_event(messages)) == \
        {"batchItemFailures": []}
    [raw] = ses_messages(attendee)
    mail = BytesParser(policy=policy.default).parsebytes(raw)
    assert "Standup" in mail["Subject"]
    invites = [p for p in mail.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert invites, "the invitation travels with the mail"
