"""Cognito's custom-auth triggers: sign-in by a code mailed to the address, on AWS.

Cognito drives the conversation and calls three Lambdas, each built from this module:

- `define_auth_challenge`: what comes next. No challenge yet: a CUSTOM_CHALLENGE. The last
  answer right: issue tokens. `CODE_TRIES` wrong answers, or an unknown user: fail.
- `create_auth_challenge`: the first time, a random code id; the code is HMAC(secret, code id,
  email), the derivation LocalIdentity uses, and the same `auth.code_requested` event
  ({email, code_id}) is written to the outbox, so the auth app's mail handler sends it from
  the queue — never inside the sign-in request. Later challenges of the same flow keep the
  code id (carried in `challengeMetadata`), so one mail serves every try.
- `verify_auth_challenge`: the answer against the code, in constant time.

The code itself is stored nowhere: Cognito keeps only the code id as a private challenge
parameter. `handle_*` take what they need as arguments (tests call them with the events Cognito
sends); the Lambda entries bind them to the container's runtime.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from roost.cloud.events import Event, publish
from roost.cloud.ids import new_id
from roost.cloud.local.identity import CODE_EVENT, CODE_TRIES
from roost.cloud.local.identity_tokens import OneTimeCodes
from roost.cloud.table import Tables

CHALLENGE = "CUSTOM_CHALLENGE"
_META = "CODE-"


def handle_define(event: dict[str, Any]) -> dict[str, Any]:
    request, response = event["request"], event.setdefault("response", {})
    session = request.get("session") or []
    response.update(issueTokens=False, failAuthentication=False)
    if request.get("userNotFound"):
        response["failAuthentication"] = True
    elif session and session[-1].get("challengeName") == CHALLENGE \
            and session[-1].get("challengeResult") is True:
        response["issueTokens"] = True
    elif len(session) >= CODE_TRIES or any(s.get("challengeName") != CHALLENGE
                                           for s in session):
        response["failAuthentication"] = True
    else:
        response["challengeName"] = CHALLENGE
    return event


def handle_create(event: dict[str, Any], *, tables: Tables, now: Any) -> dict[str, Any]:
    """`now` is the Clock's time; `tables` must hold the outbox."""
    request, response = event["request"], event.setdefault("response", {})
    email = str(request["userAttributes"]["email"]).lower()
    earlier = [s.get("challengeMetadata") or "" for s in request.get("session") or []]
    code_id = next((m.removeprefix(_META) for m in reversed(earlier) if m.startswith(_META)),
                   None)
    if code_id is None:
        code_id = secrets.token_urlsafe(18)
        tables.transact([publish(Event(type=CODE_EVENT, data={"email": email,
                                                              "code_id": code_id},
                                       id=new_id(now), at=now))])
    response["publicChallengeParameters"] = {"delivery": "email", "email": email}
    response["privateChallengeParameters"] = {"code_id": code_id}
    response["challengeMetadata"] = _META + code_id
    return event


def handle_verify(event: dict[str, Any], *, codes: OneTimeCodes) -> dict[str, Any]:
    request, response = event["request"], event.setdefault("response", {})
    code_id = (request.get("privateChallengeParameters") or {}).get("code_id")
    email = str(request["userAttributes"]["email"]).lower()
    response["answerCorrect"] = isinstance(code_id, str) and codes.matches(
        code_id, email, request.get("challengeAnswer"))
    return event


# --------------------------------------------------------------------------- Lambda entries


def define_auth_challenge(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return handle_define(event)


def create_auth_challenge(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    from roost.cloud.aws.lambda_entry import runtime

    rt = runtime()
    return handle_create(event, tables=rt.resources.tables, now=rt.resources.clock.now())


def verify_auth_challenge(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    import os

    return handle_verify(event, codes=OneTimeCodes(os.environ["ROOST_SECRET"].encode()))


TRIGGERS: Mapping[str, str] = {
    "DefineAuthChallenge": "define_auth_challenge",
    "CreateAuthChallenge": "create_auth_challenge",
    "VerifyAuthChallengeResponse": "verify_auth_challenge",
}
"""Cognito's LambdaConfig key -> the entry in this module (the template wires them)."""
