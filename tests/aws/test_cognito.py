"""Identity on Cognito, against moto's Cognito user pools (a real pool API, real RS256 tokens,
the pool's JWKS served over HTTP): password sign-in and refresh through the adapter, ID tokens
verified against the pool's keys, grants from Roost's grant table, a Lambda route called with a
Cognito token, and every way a token can be wrong.

Not covered here, because moto 5.2.5 does not run custom-auth triggers nor RevokeToken: the
adapter's `request_code`/`verify_code` calls and `sign_out`. The triggers themselves are tested
in test_cognito_triggers.py with the events Cognito sends."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cognito_pools import PASSWORD, cognito_env, cognito_pool, pool_user
from cryptography.hazmat.primitives import serialization
from lambda_events import http_event

from roost.cloud.aws.cognito_identity import CognitoIdentity
from roost.cloud.aws.lambda_entry import handle_http
from roost.cloud.aws.runtime import aws_runtime
from roost.cloud.clock import FrozenClock
from roost.cloud.errors import Unauthorized, Unavailable
from roost.cloud.identity import Grant
from support.moto_server import bucket, client

ROOM = {"id": "atlas", "name": "Atlas", "site": "Berlin", "floor": "2", "tz": "UTC",
        "capacity": 6, "equipment": ["screen"], "opens": "08:00", "closes": "18:00"}


@pytest.fixture
def now_clock() -> FrozenClock:
    """moto stamps tokens with the wall clock; the adapter judges them by this one."""
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def cognito_rt(now_clock):
    from roost.host.auth import app as auth_app

    rooms = pytest.importorskip("roost.apps.rooms")
    env = {"ROOST_TABLE_PREFIX": f"c{uuid.uuid4().hex[:10]}_", "ROOST_BUCKET": bucket(),
           "ROOST_SECRET": "cognito-secret-" + "x" * 24, **cognito_env(*cognito_pool()),
           "ROOST_ADMIN_EMAILS": "boss@example.com"}
    rt = aws_runtime(apps=[rooms.app, auth_app], env=env, clock=now_clock,
                     clients={s: client(s) for s in ("dynamodb", "s3", "sesv2", "sqs",
                                                     "cognito-idp")})
    rt.resources.tables.create_tables()
    yield rt
    rt.resources.tables.delete_tables()


def _user(rt, email: str) -> None:
    pool_user(rt.resources.identity.pool_id, email)


def test_the_runtime_picks_cognito_when_the_template_names_a_pool(cognito_rt):
    assert isinstance(cognito_rt.resources.identity, CognitoIdentity)


def test_password_sign_in_gives_a_pool_token_that_names_the_user(cognito_rt):
    identity = cognito_rt.resources.identity
    _user(cognito_rt, "ana@example.com")
    tokens = identity.sign_in("Ana@Example.com", PASSWORD, client="203.0.113.7")
    claims = jwt.decode(tokens.access_token, options={"verify_signature": False})
    assert claims["iss"].endswith(identity.pool_id) and claims["token_use"] == "id"
    assert tokens.user_id == claims["sub"] and tokens.email == "ana@example.com"
    me = identity.authenticate(tokens.access_token)
    assert (me.user_id, me.email, me.grants) == (claims["sub"], "ana@example.com", frozenset())
    # Roost's user record is keyed by the pool's sub, so grants by email find the same user
    assert identity.get_user(email="ana@example.com").id == claims["sub"]


def test_a_grant_counts_at_the_next_request_without_a_new_token(cognito_rt):
    identity = cognito_rt.resources.identity
    _user(cognito_rt, "rita@example.com")
    token = identity.sign_in("rita@example.com", PASSWORD, client=None).access_token
    assert not identity.authenticate(token).has("rooms", "admin")
    identity.grant("rita@example.com", Grant("rooms", "admin"), by="test")
    assert identity.authenticate(token).has("rooms", "admin")
    identity.revoke("rita@example.com", Grant("rooms", "admin"), by="test")
    assert not identity.authenticate(token).has("rooms", "admin")


def test_an_admin_grant_before_the_first_sign_in_creates_the_pool_user(cognito_rt):
    identity = cognito_rt.resources.identity
    user = identity.grant("new@example.com", Grant("rooms", "admin"), by="test")
    found = client("cognito-idp").admin_get_user(UserPoolId=identity.pool_id,
                                                 Username="new@example.com")
    sub = {a["Name"]: a["Value"] for a in found["UserAttributes"]}["sub"]
    assert user.id == sub


def test_configured_admin_emails_are_system_admins(cognito_rt):
    identity = cognito_rt.resources.identity
    _user(cognito_rt, "boss@example.com")
    token = identity.sign_in("boss@example.com", PASSWORD, client=None).access_token
    assert identity.authenticate(token).is_system_admin


def test_refresh_gives_a_new_token_for_the_same_user(cognito_rt, now_clock):
    identity = cognito_rt.resources.identity
    _user(cognito_rt, "ben@example.com")
    first = identity.sign_in("ben@example.com", PASSWORD, client=None)
    again = identity.refresh(first.refresh_token)
    assert again.user_id == first.user_id and again.email == "ben@example.com"
    assert identity.authenticate(again.access_token).user_id == first.user_id
    with pytest.raises(Unauthorized):
        identity.refresh("not-a-refresh-token")


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(cognito_rt):
    identity = cognito_rt.resources.identity
    _user(cognito_rt, "cy@example.com")
    with pytest.raises(Unauthorized) as wrong:
        identity.sign_in("cy@example.com", "not the password", client=None)
    with pytest.raises(Unauthorized) as unknown:
        identity.sign_in("nobody@example.com", PASSWORD, client=None)
    assert wrong.value.code == unknown.value.code == "wrong_credentials"
    assert wrong.value.message == unknown.value.message


def test_password_sign_up_is_refused_clearly(cognito_rt):
    with pytest.raises(Unavailable) as refused:
        cognito_rt.resources.identity.sign_up("dee@example.com", PASSWORD, client=None)
    assert refused.value.code == "sign_up_unavailable"


def _forged(token: str, **changes) -> str:
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims.update(changes)
    new = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{new}.{sig}"


def _hs256(claims: dict, key: bytes) -> str:
    """The classic algorithm swap: an HMAC "signed" with the public key (PyJWT refuses to
    make one with a PEM key, so it is assembled by hand)."""
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing = f"{b64(json.dumps({'alg': 'HS256', 'kid': 'dummy'}).encode())}." \
              f"{b64(json.dumps(claims).encode())}"
    return f"{signing}.{b64(hmac.new(key, signing.encode(), hashlib.sha256).digest())}"


def test_every_kind_of_wrong_token_is_refused(cognito_rt, now_clock):
    identity = cognito_rt.resources.identity
    _user(cognito_rt, "eve@example.com")
    tokens = identity.sign_in("eve@example.com", PASSWORD, client=None)
    good = tokens.access_token
    assert identity.authenticate(good)
    idp = client("cognito-idp")
    # the same key signs every moto pool: a token from another pool is genuine but not ours
    other_pool, other_app = cognito_pool()
    pool_user(other_pool, "eve@example.com")
    foreign = idp.initiate_auth(ClientId=other_app, AuthFlow="USER_PASSWORD_AUTH",
                                AuthParameters={"USERNAME": "eve@example.com",
                                                "PASSWORD": PASSWORD})["AuthenticationResult"]
    second_app = idp.create_user_pool_client(
        UserPoolId=identity.pool_id, ClientName="other", GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
    other_client = idp.initiate_auth(
        ClientId=second_app, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "eve@example.com", "PASSWORD": PASSWORD}
    )["AuthenticationResult"]
    with urllib.request.urlopen(identity.tokens.jwks_url) as answer:
        public_pem = jwt.PyJWK(json.loads(answer.read())["keys"][0]).key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    access = idp.initiate_auth(ClientId=identity.client_id, AuthFlow="USER_PASSWORD_AUTH",
                               AuthParameters={"USERNAME": "eve@example.com",
                                               "PASSWORD": PASSWORD})["AuthenticationResult"]
    claims = jwt.decode(good, options={"verify_signature": False})
    wrong = {
        "another pool's token": foreign["IdToken"],
        "another app client's token": other_client["IdToken"],
        "the access token, not the ID token": access["AccessToken"],
        "a changed email": _forged(good, email="boss@example.com"),
        "a changed subject": _forged(good, sub=str(uuid.uuid4())),
        "alg none": jwt.encode({**claims}, None, algorithm="none"),
        "HS256 keyed with the public key": _hs256(claims, public_pem),
        "garbage": "not.a.token",
        "empty": "",
    }
    for what, token in wrong.items():
        with pytest.raises(Unauthorized) as refused:
            identity.authenticate(token)
        assert refused.value.code == "token_invalid", what
    now_clock.advance(timedelta(hours=2))  # moto's tokens live an hour
    with pytest.raises(Unauthorized) as expired:
        identity.authenticate(good)
    assert expired.value.code == "token_expired"


def test_a_lambda_route_takes_the_pool_token(cognito_rt):
    rt = cognito_rt
    identity = rt.resources.identity
    _user(rt, "rita@example.com")
    _user(rt, "vic@example.com")
    identity.grant("rita@example.com", Grant("rooms", "admin"), by="test")
    admin = identity.sign_in("rita@example.com", PASSWORD, client=None).access_token
    plain = identity.sign_in("vic@example.com", PASSWORD, client=None).access_token
    create = rt.function("rooms.create_room")

    def call(token: str | None) -> dict:
        return handle_http(rt, create, http_event("POST", "/rooms/rooms", route="/rooms/rooms",
                                                  body=ROOM, token=token))

    assert call(None)["statusCode"] == 401
    refused = call(plain)
    assert refused["statusCode"] == 403
    assert refused["headers"]["content-type"] == "application/problem+json"
    assert call(admin)["statusCode"] == 201
    assert "atlas" in [r["id"] for r in rt.resources.tables.table("rooms_rooms").scan().items]


def test_the_sign_in_routes_run_on_the_pool_through_lambda(cognito_rt):
    """The auth app's own routes, unchanged, on Cognito: sign in with a password, call
    /auth/me with the token, refresh; sign-up answers a clear 503 problem."""
    rt = cognito_rt
    _user(rt, "fay@example.com")
    signed = handle_http(rt, rt.function("auth.sign_in"), http_event(
        "POST", "/auth/signin", route="/auth/signin",
        body={"email": "fay@example.com", "password": PASSWORD}))
    assert signed["statusCode"] == 200, signed
    tokens = json.loads(signed["body"])
    assert any(c.startswith("roost_access=") and "HttpOnly" in c for c in signed["cookies"])
    me = handle_http(rt, rt.function("auth.me"), http_event(
        "GET", "/auth/me", route="/auth/me", token=tokens["access_token"]))
    assert me["statusCode"] == 200
    assert json.loads(me["body"])["email"] == "fay@example.com"
    again = handle_http(rt, rt.function("auth.refresh"), http_event(
        "POST", "/auth/refresh", route="/auth/refresh",
        body={"refresh_token": tokens["refresh_token"]}))
    assert again["statusCode"] == 200, again
    assert json.loads(again["body"])["user_id"] == tokens["user_id"]
    wrong = handle_http(rt, rt.function("auth.sign_in"), http_event(
        "POST", "/auth/signin", route="/auth/signin",
        body={"email": "fay@example.com", "password": "Wrong-password-123"}))
    assert wrong["statusCode"] == 401
    assert json.loads(wrong["body"])["code"] == "wrong_credentials"
    signup = handle_http(rt, rt.function("auth.sign_up"), http_event(
        "POST", "/auth/signup", route="/auth/signup",
        body={"email": "gus@example.com", "password": PASSWORD}))
    assert signup["statusCode"] == 503
    assert signup["headers"]["content-type"] == "application/problem+json"
    assert json.loads(signup["body"])["code"] == "sign_up_unavailable"
