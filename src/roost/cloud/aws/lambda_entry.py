"""Lambda entry points: the same registered functions as `roost serve`, one per Lambda.

- `http(event, context)`: an API Gateway HTTP API (payload 2.0) request to a route function.
  The same steps as the local host, in the same order: cross-site refusal, the caller from the
  bearer token or the `roost_access` cookie (a bad token is anonymous on public routes),
  `Function.authorize` (401/403 before the body is looked at), validation of path, query and
  body by the function's own type hints (422 `validation_failed` naming each field), the guarded
  `Ctx` (`Function.context`), the call, the answer serialised by the declared response type,
  every `RoostError` as `application/problem+json`, anything else a 500 problem quoting the
  request id (the traceback goes to the log).
- `sqs(event, context)`: an event handler consuming its queue; each record is one outbox event.
  Failures are reported per record (Powertools' batch processor, `ReportBatchItemFailures`), so
  one bad event is retried (and dead-lettered by its queue's redrive policy) without the others.
- `outbox(event, context)`: the outbox table's DynamoDB stream: each new event is sent to the
  queue of every handler subscribed to its type, then removed from the outbox.

Pages (HTML) are not served here: on AWS they are one Lambda of their own, the host's app on
the API's default route (`roost.host.aws_web`).

Cold start: a Lambda imports this module and its function's app, whose modules declare every
function of the app. Importing them is kept cheap: heavy libraries are imported by the functions
that use them, and pydantic models are built on first use (`deferred_model_builds`), so a function
pays for its own few models' validators, not for its app's dozens (bench/coldstart.py).
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import to_jsonable_python

from roost.cloud.audit import current_actor
from roost.cloud.aws.runtime import AwsRuntime, aws_runtime
from roost.cloud.errors import Invalid, RoostError, TooLarge, Unauthorized
from roost.cloud.events import OUTBOX, Event
from roost.cloud.functions import PUBLIC, Cookie, Function, Reply, RequestInfo, refuse_cross_site
from roost.cloud.identity import Principal

log = logging.getLogger("roost.lambda")
ACCESS_COOKIE = "roost_access"
PROBLEM = "application/problem+json"
MAX_BODY = 6 * 1024 * 1024  # Lambda's own payload limit for synchronous calls
_HIDDEN_HEADERS = {"authorization", "cookie"}
_runtime: AwsRuntime | None = None


@contextmanager
def deferred_model_builds() -> Iterator[None]:
    """Pydantic models defined inside build their validator and serializer on first use
    (pydantic's `defer_build`), not at class creation. Building schemas is most of the cost of
    importing an app's models, and one function uses only a few of them: the others are never
    built in its container. Models take the setting from `BaseModel.model_config` when they are
    defined, so it is switched on only while the Lambda imports its app, and models defined
    elsewhere (a host's, a test's) are left as they are. Behaviour is the same; only the moment
    of the build moves (tests/aws/test_coldstart.py)."""
    config = BaseModel.model_config
    before = config.get("defer_build")
    config["defer_build"] = True
    try:
        yield
    finally:
        if before is None:
            config.pop("defer_build", None)
        else:
            config["defer_build"] = before


def runtime() -> AwsRuntime:
    """The container's runtime, built on first use and kept while the container lives: the
    function's app imported (its models deferred) and the adapters made."""
    global _runtime
    if _runtime is None:
        with deferred_model_builds():
            _runtime = aws_runtime()
    return _runtime


# --------------------------------------------------------------------------- HTTP


def http(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    rt = runtime()
    return handle_http(rt, rt.function(os.environ["ROOST_FUNCTION"]), event)


def _problem(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": PROBLEM},
            "body": json.dumps(body)}


def _validation(errors: list[Any], where: str) -> dict[str, Any]:
    fields = [{"loc": [where, *e.get("loc", ())], "msg": str(e.get("msg", "")),
               "type": str(e.get("type", ""))} for e in errors]
    detail = "; ".join(f"{'.'.join(str(x) for x in f['loc'][1:]) or where}: {f['msg']}"
                       for f in fields[:5]) or "the request is not valid"
    return _problem(422, Invalid(detail, code="validation_failed", errors=fields).problem())


@dataclass(frozen=True)
class Validators:
    """A function's request and response adapters (its query model validates itself)."""

    body: TypeAdapter[Any] | None  # None: no body, or raw `bytes`
    path: Mapping[str, TypeAdapter[Any]]
    response: TypeAdapter[Any] | None


def validators(fn: Function) -> Validators:
    """`fn`'s adapters, each built once per container (see `type_adapter`)."""
    return Validators(
        body=None if fn.body_model in (None, bytes) else type_adapter(fn.body_model),
        path={name: type_adapter(typ) for name, typ in fn.path_params.items()},
        response=None if fn.response_model is None else type_adapter(fn.response_model))


@cache
def _cached_adapter(typ: Any) -> TypeAdapter[Any]:
    return TypeAdapter(typ)


def type_adapter(typ: Any) -> TypeAdapter[Any]:
    """The TypeAdapter of `typ`, kept for the container's life: making one builds a core schema
    (for a deferred model, the model's own), which no request should pay twice."""
    try:
        return _cached_adapter(typ)
    except TypeError:  # an unhashable annotation
        return TypeAdapter(typ)


class _BadInput(Exception):
    def __init__(self, response: dict[str, Any]) -> None:
        self.response = response


def _token(headers: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return cookies.get(ACCESS_COOKIE) or None


def _principal(rt: AwsRuntime, fn: Function, token: str | None) -> Principal | None:
    identity = rt.resources.identity
    if not token or identity is None:
        return None
    try:
        return identity.authenticate(token)
    except Unauthorized:
        if PUBLIC in fn.roles:
            return None
        raise


def _body(fn: Function, event: Mapping[str, Any]) -> Any:
    raw = event.get("body")
    data = b"" if raw is None else (base64.b64decode(raw) if event.get("isBase64Encoded")
                                    else str(raw).encode())
    limit = min(fn.body_limit() or MAX_BODY, MAX_BODY)
    if len(data) > limit:
        raise TooLarge(f"the upload is larger than {limit} bytes", max_bytes=limit)
    adapter = validators(fn).body
    if adapter is None:  # `body: bytes`
        return data
    try:
        return adapter.validate_json(data or b"null")
    except ValidationError as exc:
        raise _BadInput(_validation(exc.errors(), "body")) from None


def _arguments(fn: Function, event: Mapping[str, Any]) -> dict[str, Any]:
    args: dict[str, Any] = {}
    path = event.get("pathParameters") or {}
    for name, adapter in validators(fn).path.items():
        try:
            args[name] = adapter.validate_python(path.get(name))
        except ValidationError as exc:
            errors = [{**e, "loc": (name, *e.get("loc", ()))} for e in exc.errors()]
            raise _BadInput(_validation(errors, "path")) from None
    if fn.query_model is not None:
        try:
            args["query"] = fn.query_model.model_validate(event.get("queryStringParameters")
                                                          or {})
        except ValidationError as exc:
            raise _BadInput(_validation(exc.errors(), "query")) from None
    if fn.body_model is not None:
        args["body"] = _body(fn, event)
    return args


def _set_cookie(c: Cookie, secure: bool) -> str:
    from http.cookies import SimpleCookie  # only the sign-in routes set cookies

    jar: SimpleCookie = SimpleCookie()
    jar[c.name] = c.value
    morsel = jar[c.name]
    morsel["path"] = c.path
    morsel["samesite"] = c.same_site.capitalize()
    if c.max_age is not None:
        morsel["max-age"] = c.max_age
    if c.http_only:
        morsel["httponly"] = True
    if c.secure if c.secure is not None else secure:
        morsel["secure"] = True
    return morsel.OutputString()


def _answer(fn: Function, result: Any) -> dict[str, Any]:
    reply = result if isinstance(result, Reply) else Reply(body=result)
    status = reply.status or fn.status
    out: dict[str, Any] = {"statusCode": status, "headers": dict(reply.headers)}
    if reply.cookies:
        out["cookies"] = [_set_cookie(c, secure=True) for c in reply.cookies]
    body = reply.body
    if status == 204 or body is None:  # declared `-> None` routes are 204 (the registry's rule)
        return out
    if isinstance(body, bytes):  # ready JSON (see `Reply`)
        out["headers"].setdefault("content-type", "application/json")
        out["body"] = body.decode()
        return out
    adapter = validators(fn).response
    if adapter is not None:
        content = adapter.dump_python(body, mode="json")
    elif isinstance(body, BaseModel):
        content = body.model_dump(mode="json")
    else:
        content = to_jsonable_python(body)
    out["headers"].setdefault("content-type", "application/json")
    out["body"] = json.dumps(content)
    return out


def handle_http(rt: AwsRuntime, fn: Function, event: Mapping[str, Any]) -> dict[str, Any]:
    """One API Gateway HTTP API (v2) request to `fn`."""
    http_ctx = (event.get("requestContext") or {}).get("http") or {}
    request_id = (event.get("requestContext") or {}).get("requestId")
    method = str(http_ctx.get("method") or fn.method or "GET").upper()
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    cookies: dict[str, str] = {}
    for raw in event.get("cookies") or []:
        name, _, value = str(raw).partition("=")
        cookies[name.strip()] = value.strip()
    try:
        refuse_cross_site(method, headers)
        principal = _principal(rt, fn, _token(headers, cookies))
        fn.authorize(principal)
        args = _arguments(fn, event)
        info = RequestInfo(
            method=method, path=str(event.get("rawPath") or fn.path or "/"),
            client=http_ctx.get("sourceIp"),
            headers={k: v for k, v in headers.items() if k not in _HIDDEN_HEADERS},
            cookies=cookies, request_id=request_id,
            base_url=f"https://{headers['host']}" if "host" in headers else "",
            htmx=headers.get("hx-request") == "true")
        ctx = fn.context(rt.resources, principal=principal, request=info)
        return _answer(fn, fn.invoke(ctx, **args))
    except _BadInput as bad:
        return bad.response
    except RoostError as exc:
        if exc.status >= 500:
            log.error("%s failed: %s", fn.name, exc.message)
        return _problem(exc.status, exc.problem())
    except Exception:
        log.exception("%s raised (request %s)", fn.name, request_id)
        return _problem(500, RoostError(
            f"something went wrong on our side; quote request id {request_id}",
            code="internal_error").problem() | {"status": 500, "title": "Internal error"})


# --------------------------------------------------------------------------- events


def event_from_json(text: str) -> Event:
    """An event as the outbox dispatcher sends it to a handler's queue."""
    item = json.loads(text)
    return Event(type=item["type"], data=item["data"], id=item["id"],
                 at=datetime.fromisoformat(item["at"]), actor=item.get("actor"))


def event_to_json(event: Event) -> str:
    return json.dumps({"type": event.type, "data": dict(event.data), "id": event.id,
                       "at": event.at.isoformat(), "actor": event.actor},
                      default=to_jsonable_python)


def deliver(rt: AwsRuntime, fn: Function, event: Event) -> None:
    """Run one handler on one event, as actor `handler:<name>` (as the local dispatcher does)."""
    token = current_actor.set(f"handler:{fn.name}")
    try:
        fn.invoke(fn.context(rt.resources), event)
    finally:
        current_actor.reset(token)


def sqs(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    rt = runtime()
    return handle_sqs(rt, rt.function(os.environ["ROOST_FUNCTION"]), event, context)


def handle_sqs(
    rt: AwsRuntime, fn: Function, event: Mapping[str, Any], context: Any = None
) -> dict[str, Any]:
    """A batch of SQS records for handler `fn`; returns `{"batchItemFailures": [...]}`."""
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    def record_handler(record: Any) -> None:
        deliver(rt, fn, event_from_json(record.body))

    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(event=dict(event), record_handler=record_handler,
                                    processor=processor, context=context)


def outbox(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    return handle_outbox(runtime(), event)


def handle_outbox(rt: AwsRuntime, event: Mapping[str, Any]) -> dict[str, Any]:
    """Fan the outbox's new events out to their handlers' queues, then delete them from the
    outbox. A record that fails is reported (the stream retries from it, at least once)."""
    from roost.cloud.aws.dynamo_values import from_item

    sqs_client = rt.clients.get("sqs")
    if sqs_client is None:
        from roost.cloud.aws.clients import aws_client

        sqs_client = rt.clients["sqs"] = aws_client("sqs")
    handlers = [f for f in rt.registry.functions() if f.event_type]
    failures: list[dict[str, str]] = []
    for record in event.get("Records", []):
        if record.get("eventName") != "INSERT":
            continue
        try:
            item = from_item(record["dynamodb"]["NewImage"])
            published = Event.from_item(item)
            for fn in handlers:
                if fn.event_type == published.type and fn.name in rt.queue_urls:
                    sqs_client.send_message(QueueUrl=rt.queue_urls[fn.name],
                                            MessageBody=event_to_json(published))
            rt.resources.tables.table(OUTBOX.name).delete({"pk": item["pk"],
                                                           "sk": item["sk"]})
        except Exception:
            log.exception("outbox record %s could not be dispatched", record.get("eventID"))
            failures.append({"itemIdentifier": str(record["dynamodb"].get("SequenceNumber"))})
            break  # a stream is ordered: retry from the first failure
    return {"batchItemFailures": failures}
