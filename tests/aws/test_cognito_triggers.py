"""Sign-in by emailed code on Cognito: the three custom-auth triggers, called with the events
Cognito sends (shapes from the Cognito developer guide), in the order Cognito calls them. The
code travels the real way: the create trigger writes the event to the outbox table (DynamoDB on
moto), the stream dispatcher sends it to the mail handler's SQS queue, the auth app's handler
mails it through SES (moto), and the code read from that mail is the answer the verify trigger
accepts."""

from __future__ import annotations

import json
import re
import uuid
from email import policy
from email.parser import BytesParser
from typing import Any

import pytest
from lambda_events import sqs_event, stream_event

from roost.cloud.aws import cognito_triggers as triggers
from roost.cloud.aws.lambda_entry import handle_outbox, handle_sqs
from roost.cloud.aws.runtime import aws_runtime
from roost.cloud.events import OUTBOX
from roost.cloud.local.identity import CODE_EVENT, CODE_TRIES
from roost.cloud.local.identity_tokens import OneTimeCodes
from support.moto_server import REGION, bucket, client, endpoint, ses_messages

SENDER = "auth@example.com"
SECRET = "trigger-secret-" + "y" * 24


@pytest.fixture
def auth_rt(clock):
    from roost.host.auth import app as auth_app

    client("sesv2").create_email_identity(EmailIdentity=SENDER)
    queue = client("sqs").create_queue(QueueName=f"a{uuid.uuid4().hex[:10]}")["QueueUrl"]
    env = {"ROOST_TABLE_PREFIX": f"t{uuid.uuid4().hex[:10]}_", "ROOST_BUCKET": bucket(),
           "ROOST_MAIL_SENDER": SENDER, "ROOST_SECRET": SECRET, "AWS_REGION": REGION,
           "ROOST_COGNITO_POOL_ID": "eu-central-1_pool", "ROOST_COGNITO_CLIENT_ID": "app",
           "ROOST_COGNITO_JWKS_URL": f"{endpoint()}/eu-central-1_pool/.well-known/jwks.json",
           "ROOST_QUEUE_URLS": json.dumps({"auth.mail_sign_in_code": queue})}
    rt = aws_runtime(apps=[auth_app], env=env, clock=clock,
                     clients={s: client(s) for s in ("dynamodb", "s3", "sesv2", "sqs",
                                                     "cognito-idp")})
    rt.resources.tables.create_tables()
    yield rt
    rt.resources.tables.delete_tables()


def _event(source: str, email: str, request: dict[str, Any]) -> dict[str, Any]:
    return {"version": "1", "region": REGION, "userPoolId": "eu-central-1_pool",
            "userName": str(uuid.uuid5(uuid.NAMESPACE_URL, email)),
            "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "app"},
            "triggerSource": source,
            "request": {"userAttributes": {"sub": str(uuid.uuid5(uuid.NAMESPACE_URL, email)),
                                           "email": email, "email_verified": "true",
                                           "cognito:user_status": "CONFIRMED"},
                        "userNotFound": False, **request},
            "response": {}}


def _define(email: str, session: list[dict[str, Any]]) -> dict[str, Any]:
    return triggers.define_auth_challenge(_event("DefineAuthChallenge_Authentication", email,
                                                 {"session": session}))["response"]


def _create(rt, email: str, session: list[dict[str, Any]]) -> dict[str, Any]:
    event = _event("CreateAuthChallenge_Authentication", email,
                   {"challengeName": "CUSTOM_CHALLENGE", "session": session})
    return triggers.handle_create(event, tables=rt.resources.tables,
                                  now=rt.resources.clock.now())["response"]


def _verify(email: str, private: dict[str, str], answer: str) -> bool:
    event = _event("VerifyAuthChallengeResponse_Authentication", email,
                   {"privateChallengeParameters": private, "challengeAnswer": answer})
    return triggers.handle_verify(event, codes=OneTimeCodes(SECRET.encode())
                                  )["response"]["answerCorrect"]


def _mailed_code(rt, email: str) -> str:
    """Deliver the outbox the AWS way and read the code out of the mail SES accepted."""
    pending = [e for e in rt.resources.tables.table(OUTBOX.name).query("pending").items
               if e["type"] == CODE_EVENT]
    assert handle_outbox(rt, stream_event(pending)) == {"batchItemFailures": []}
    queue = rt.queue_urls["auth.mail_sign_in_code"]
    messages = client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert handle_sqs(rt, rt.function("auth.mail_sign_in_code"), sqs_event(messages)) == \
        {"batchItemFailures": []}
    [raw] = ses_messages(email)
    mail = BytesParser(policy=policy.default).parsebytes(raw)
    return re.search(r"\b(\d{6})\b", str(mail["Subject"])).group(1)


def test_a_code_sign_in_goes_through_all_three_triggers(auth_rt):
    email = f"ana-{uuid.uuid4().hex[:6]}@example.com"
    assert _define(email, []) == {"issueTokens": False, "failAuthentication": False,
                                  "challengeName": "CUSTOM_CHALLENGE"}
    challenge = _create(auth_rt, email, [])
    assert challenge["publicChallengeParameters"] == {"delivery": "email", "email": email}
    assert "code" not in json.dumps(challenge["publicChallengeParameters"])
    code = _mailed_code(auth_rt, email)
    private = challenge["privateChallengeParameters"]
    assert code not in json.dumps(challenge), "the code itself is held nowhere in Cognito"
    assert _verify(email, private, code) is True
    session = [{"challengeName": "CUSTOM_CHALLENGE", "challengeResult": True,
                "challengeMetadata": challenge["challengeMetadata"]}]
    assert _define(email, session) == {"issueTokens": True, "failAuthentication": False}


def test_a_wrong_answer_gets_another_try_with_the_same_code_and_no_new_mail(auth_rt):
    email = f"ben-{uuid.uuid4().hex[:6]}@example.com"
    first = _create(auth_rt, email, [])
    code = _mailed_code(auth_rt, email)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert _verify(email, first["privateChallengeParameters"], wrong) is False
    session = [{"challengeName": "CUSTOM_CHALLENGE", "challengeResult": False,
                "challengeMetadata": first["challengeMetadata"]}]
    assert _define(email, session)["challengeName"] == "CUSTOM_CHALLENGE"
    second = _create(auth_rt, email, session)
    assert second["privateChallengeParameters"] == first["privateChallengeParameters"]
    assert not [e for e in auth_rt.resources.tables.table(OUTBOX.name).query("pending").items
                if e["type"] == CODE_EVENT], "no second mail for the same flow"
    assert _verify(email, second["privateChallengeParameters"], f" {code[:3]} {code[3:]} ")


def test_the_flow_fails_after_the_allowed_wrong_tries():
    email = "cy@example.com"
    wrong = {"challengeName": "CUSTOM_CHALLENGE", "challengeResult": False,
             "challengeMetadata": "CODE-x"}
    assert _define(email, [wrong] * (CODE_TRIES - 1))["challengeName"] == "CUSTOM_CHALLENGE"
    assert _define(email, [wrong] * CODE_TRIES) == {"issueTokens": False,
                                                   "failAuthentication": True}


def test_an_unknown_user_or_another_challenge_fails_at_once():
    event = _event("DefineAuthChallenge_Authentication", "nobody@example.com",
                   {"session": [], "userNotFound": True})
    assert triggers.define_auth_challenge(event)["response"]["failAuthentication"] is True
    srp = [{"challengeName": "SRP_A", "challengeResult": True}]
    assert _define("dee@example.com", srp)["failAuthentication"] is True


@pytest.mark.parametrize("answer", ["", "12345", "1234567", "abcdef", "000000"])
def test_malformed_or_wrong_answers_are_not_correct(answer):
    assert _verify("eve@example.com", {"code_id": "some-code-id"}, answer) is False
    assert _verify("eve@example.com", {}, answer) is False
