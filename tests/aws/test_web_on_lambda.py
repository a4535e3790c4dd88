"""The web pages on AWS: the host app as the HTTP API's default-route Lambda (roost.host.aws_web),
on the AWS adapters against moto — DynamoDB tables, S3, SES and a Cognito pool. A browser's
visit as API Gateway delivers it: the home page and static files, a page that needs sign-in
sending the visitor to /signin, a password sign-in by form setting the cookie, the rooms grid
and a booking made by form post, stored in DynamoDB; a cross-site post refused."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

import pytest
from cognito_pools import PASSWORD, cognito_env, cognito_pool, pool_user
from lambda_events import http_event

from roost.cloud.aws.lambda_entry import handle_http
from roost.cloud.aws.runtime import aws_runtime
from roost.cloud.clock import FrozenClock
from roost.cloud.identity import Grant
from roost.host.aws_web import make_handler
from roost.host.bootstrap import installed_apps
from support.moto_server import bucket, client

HOST = "abc123.execute-api.eu-central-1.amazonaws.com"


@pytest.fixture
def web():
    pytest.importorskip("roost.apps.rooms")
    pool, app = cognito_pool()
    env = {"ROOST_TABLE_PREFIX": f"w{uuid.uuid4().hex[:10]}_", "ROOST_BUCKET": bucket(),
           "ROOST_SECRET": "web-secret-" + "z" * 24, **cognito_env(pool, app)}
    rt = aws_runtime(apps=installed_apps(["rooms"]), env=env,
                     clock=FrozenClock(datetime.now(UTC).replace(microsecond=0)),
                     clients={s: client(s) for s in ("dynamodb", "s3", "sesv2", "sqs",
                                                     "cognito-idp")})
    rt.resources.tables.create_tables()
    for email in ("ana@example.com", "rita@example.com"):
        pool_user(pool, email)
    yield rt, make_handler(rt)
    rt.resources.tables.delete_tables()


def _visit(handler, method: str, path: str, *, form: dict[str, str] | None = None,
           cookies: list[str] | None = None, origin: str = f"https://{HOST}",
           query: dict[str, str] | None = None) -> dict:
    """A browser request as API Gateway's default route hands it to Lambda (payload 2.0; a
    form body arrives base64-encoded)."""
    headers = {"accept": "text/html", "sec-fetch-site": "same-origin", "origin": origin}
    event = http_event(method, path, route="$default", query=query, cookies=cookies,
                       headers=headers)
    event["routeKey"] = event["requestContext"]["routeKey"] = "$default"
    event["requestContext"]["domainName"] = HOST
    if form is not None:
        event["headers"]["content-type"] = "application/x-www-form-urlencoded"
        event["body"] = base64.b64encode(urlencode(form).encode()).decode()
        event["isBase64Encoded"] = True
    return handler(event, None)


def _cookie(answer: dict, name: str) -> str:
    [set_cookie] = [c for c in answer.get("cookies", []) if c.startswith(f"{name}=")]
    return set_cookie.split(";", 1)[0]


def _next_monday() -> date:
    today = datetime.now(UTC).date()
    return today + timedelta(days=7 - today.weekday() + 7)


def test_a_visit_signs_in_and_books_a_room_through_the_pages(web):
    rt, handler = web
    home = _visit(handler, "GET", "/")
    assert home["statusCode"] == 200 and home["headers"]["content-type"].startswith("text/html")
    css = _visit(handler, "GET", "/static/roost.css")
    assert css["statusCode"] == 200 and "text/css" in css["headers"]["content-type"]

    away = _visit(handler, "GET", "/rooms")
    assert away["statusCode"] in (302, 303, 307)
    assert away["headers"]["location"].startswith("/signin")

    signed = _visit(handler, "POST", "/signin/password",
                    form={"email": "ana@example.com", "password": PASSWORD, "next": "/rooms"})
    assert signed["statusCode"] == 303, signed
    access = _cookie(signed, "roost_access")
    assert "Secure" in next(c for c in signed["cookies"] if c.startswith("roost_access="))

    rt.resources.identity.grant("rita@example.com", Grant("rooms", "admin"), by="test")
    admin = rt.resources.identity.sign_in("rita@example.com", PASSWORD, client=None)
    made = handle_http(rt, rt.function("rooms.create_room"), http_event(
        "POST", "/rooms/rooms", route="/rooms/rooms", token=admin.access_token, body={
            "id": "atlas", "name": "Atlas", "site": "Berlin", "floor": "2", "tz": "UTC",
            "capacity": 6, "equipment": [], "opens": "08:00", "closes": "18:00"}))
    assert made["statusCode"] == 201, made

    day = _next_monday().isoformat()
    grid = _visit(handler, "GET", "/rooms", cookies=[access], query={"day": day})
    assert grid["statusCode"] == 200, grid
    assert 'aria-label="Book Atlas at 10:00"' in grid["body"]
    booked = _visit(handler, "POST", "/rooms/book", cookies=[access], form={
        "room_id": "atlas", "start": f"{day}T10:00", "end": f"{day}T11:00",
        "title": "Planning", "attendees": ""})
    assert booked["statusCode"] == 303, booked.get("body", "")[:500]
    code = booked["headers"]["location"].rsplit("/", 1)[1]
    stored = [b for b in rt.resources.tables.table("rooms_bookings").scan().items
              if b.get("code") == code]
    assert stored and stored[0]["title"] == "Planning"
    page = _visit(handler, "GET", f"/rooms/booking/{code}", cookies=[access])
    assert page["statusCode"] == 200 and "Planning" in page["body"]


def test_a_cross_site_form_post_is_refused_and_writes_nothing(web):
    _, handler = web
    refused = _visit(handler, "POST", "/signin/password", origin="https://evil.example",
                     form={"email": "ana@example.com", "password": PASSWORD})
    assert refused["statusCode"] == 403
    assert not refused.get("cookies")


def test_an_unknown_address_is_a_page_not_a_crash(web):
    _, handler = web
    missing = _visit(handler, "GET", "/no/such/page")
    assert missing["statusCode"] == 404
    assert missing["headers"]["content-type"].startswith("text/html")
    assert "<html" in missing["body"].lower()
