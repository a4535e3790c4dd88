"""Issue 7's cold-start rules, checked in fresh interpreters as a Lambda starts: importing an
app's Lambda loads none of the heavy libraries its functions import when they need them, its
models are built on first use, and a function run that way (the env-driven `runtime()`, app
imported with deferred models) answers exactly as the in-process tests expect. The figures
are bench/coldstart.py's."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any

import pytest
from lambda_events import http_event, sign_in

from roost.cloud.aws.runtime import aws_runtime
from roost.cloud.identity import Grant
from support.moto_server import FAKE_CREDENTIALS, bucket, client, endpoint

LAMBDA_APPS = ["roost.apps.rooms", "roost.apps.desks", "roost.apps.images", "roost.host.auth",
               "roost.host.admin"]
HEAVY = ["icalendar", "PIL", "structlog", "pydantic_settings", "jwt", "cryptography",
         "email_validator", "segno", "argon2", "fastapi", "starlette", "jinja2",
         "aws_lambda_powertools", "rich", "aiokafka"]
"""Imported by the functions that use them, never by importing an app on Lambda."""

_IMPORT_APP = """
import json, sys
import pydantic
from roost.cloud.aws.lambda_entry import deferred_model_builds
with deferred_model_builds():
    __import__(sys.argv[1])
def models(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from models(sub)
print(json.dumps({
    "heavy": sorted(m for m in json.loads(sys.argv[2]) if m in sys.modules),
    "built": sorted(f"{m.__module__}.{m.__qualname__}" for m in models(pydantic.BaseModel)
                    if m.__module__.startswith("roost.") and m.__pydantic_complete__),
    "deferred": sum(1 for m in models(pydantic.BaseModel)
                    if m.__module__.startswith("roost.") and not m.__pydantic_complete__),
    "default": pydantic.BaseModel.model_config.get("defer_build"),
}))
"""


def _run(code: str, *args: str, env: dict[str, str] | None = None) -> Any:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", LAMBDA_APPS)
def test_importing_an_apps_lambda_loads_no_heavy_library_and_builds_no_model(module):
    seen = _run(_IMPORT_APP, module, json.dumps(HEAVY))
    assert seen["heavy"] == [], f"{module} imports {seen['heavy']} at import: import them in " \
                                "the functions that use them (cold start, bench/coldstart.py)"
    assert seen["built"] == [], f"{module} builds {seen['built']} at import: make instances " \
                                "when they are needed"
    assert seen["deferred"] > 0
    assert seen["default"] is None, "models defined after the app keep pydantic's default"


_FIRST_CALLS = """
import json, os, sys
import pydantic
import roost.cloud.aws.lambda_entry as entry
calls = json.loads(sys.argv[1])
rt = entry.runtime()
heavy = sorted(m for m in json.loads(sys.argv[2]) if m in sys.modules)
room_in = rt.function("rooms.create_room").body_model
deferred_before = not room_in.__pydantic_complete__
answers = []
for function, event in calls:
    os.environ["ROOST_FUNCTION"] = function
    out = entry.http(event)
    answers.append({"status": out["statusCode"], "body": json.loads(out.get("body") or "null")})
print(json.dumps({"heavy_at_start": heavy, "deferred_before": deferred_before,
                  "built_after": room_in.__pydantic_complete__, "answers": answers}))
"""


def test_a_cold_lambda_builds_its_runtime_from_the_env_and_answers_as_usual():
    """The real Lambda path in a fresh interpreter: `http(event)` builds the runtime from the
    template's variables, importing rooms with deferred models, and the first calls validate,
    write to DynamoDB and answer as the in-process tests expect."""
    client("sesv2").create_email_identity(EmailIdentity="rooms@example.com")
    env = {"ROOST_APPS": "roost.apps.rooms", "ROOST_TABLE_PREFIX": f"c{uuid.uuid4().hex[:10]}_",
           "ROOST_BUCKET": bucket(), "ROOST_MAIL_SENDER": "rooms@example.com",
           "ROOST_SECRET": "cold-start-secret-" + "x" * 20}
    import roost.apps.rooms as rooms

    rt = aws_runtime(apps=[rooms.app], env=env,
                     clients={s: client(s) for s in ("dynamodb", "s3", "sesv2", "sqs")})
    rt.resources.tables.create_tables()
    try:
        admin = sign_in(rt, "rita@example.com", Grant("rooms", "admin"))
        room = {"id": "atlas", "name": "Atlas", "site": "Berlin", "floor": "2", "tz": "UTC",
                "capacity": 6, "equipment": ["screen"], "opens": "08:00", "closes": "18:00"}
        calls = [
            ("rooms.create_room", http_event("POST", "/rooms/rooms", route="/rooms/rooms",
                                             body=room, token=admin)),
            ("rooms.create_room", http_event("POST", "/rooms/rooms", route="/rooms/rooms",
                                             body={**room, "capacity": 0}, token=admin)),
            ("rooms.list_rooms", http_event("GET", "/rooms/rooms", route="/rooms/rooms",
                                            token=admin)),
        ]
        seen = _run(_FIRST_CALLS, json.dumps(calls), json.dumps(HEAVY),
                    env={**FAKE_CREDENTIALS, **env, "AWS_ENDPOINT_URL": endpoint(),
                         "PATH": "/usr/bin:/bin"})
    finally:
        rt.resources.tables.delete_tables()
    assert seen["heavy_at_start"] == []
    assert seen["deferred_before"] and seen["built_after"]
    made, refused, listed = seen["answers"]
    assert made["status"] == 201 and made["body"]["id"] == "atlas"
    assert refused["status"] == 422 and refused["body"]["code"] == "validation_failed"
    assert "capacity" in refused["body"]["detail"]
    assert listed["status"] == 200 and [r["id"] for r in listed["body"]["rooms"]] == ["atlas"]
