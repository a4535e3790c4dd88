"""Bounded fuzz: schemathesis against the live `/openapi.json` of every installed app, every
route, as every kind of caller. No answer may be a 5xx; every answer must match what the
document declares for it (status, content type, body schema).

In CI each route gets `ROOST_FUZZ_EXAMPLES` (default 4) generated requests, half valid, half
invalid, from the callers that pass its gate (the least privileged of them and a system admin),
and one from each caller it must refuse; the examples are derandomised so CI is stable. The long
run (`bench/fuzz.py`, part of `make bench`) raises the count, fuzzes as every caller that passes
the gate, and draws fresh random examples each run. The document is checked as served, nothing
relaxed (local times of day are documented as what is sent: `roost.cloud.fields.LocalTime`)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from proof_helpers import SECRET, Host, passes_gate, quiet_logs, whole_host
from pydantic import BaseModel, Field
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from roost.cloud.functions import App, Ctx, Function, Registry, Reply
from roost.host.app import create_app
from roost.host.bootstrap import bootstrap, installed_apps
from roost.host.checks import run_checks
from roost.host.settings import Settings
from support.tokens import access_token

EXAMPLES = int(os.environ.get("ROOST_FUZZ_EXAMPLES", "4"))
LONG_RUN = "ROOST_FUZZ_EXAMPLES" in os.environ
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
KNOWN_IDS = {"room_id": "atlas", "office_id": "london"}
"""Path parameters that name demo data, so some requests reach past the 404."""


def _routes() -> list[tuple[str, str]]:
    registry = Registry(installed_apps())
    return [("GET", "/health")] + [(f.method or "GET", f.path or "/")
                                   for f in registry.functions("route")]


@pytest.fixture(scope="module")
def host(tmp_path_factory) -> Iterator[Host]:
    with whole_host(tmp_path_factory.mktemp("fuzz") / "var") as h:
        yield h


@pytest.fixture(scope="module")
def schema(host: Host) -> Any:
    loaded = schemathesis.openapi.from_dict(host.api.openapi())
    loaded.app = host.api
    return loaded


def _function(host: Host, method: str, path: str) -> Function | None:
    for fn in host.runtime.registry.functions("route"):
        if fn.method == method and fn.path == path:
            return fn
    return None


def _callers(host: Host, fn: Function | None) -> list[tuple[str, int]]:
    """(caller, examples): deep fuzzing for the callers that pass the gate, one request from
    each caller the gate refuses."""
    order = list(host.tokens)  # anonymous, user, app roles, admin
    if fn is None:
        return [(who, EXAMPLES) for who in ("anonymous", "admin")]
    passing = [w for w in order if passes_gate(fn, w)]
    deep = set(passing) if LONG_RUN else {passing[0], "admin"}
    return [(w, EXAMPLES if w in deep else 1) for w in order]


def _strategy(operation: Any) -> Any:
    params = [p.name for p in operation.path_parameters]
    known = {k: v for k, v in KNOWN_IDS.items() if k in params}
    modes = [operation.as_strategy(GenerationMode.POSITIVE),
             operation.as_strategy(GenerationMode.NEGATIVE)]
    if known:
        modes.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known))
    return st.one_of(modes)


def _fuzz(operation: Any, token: str | None, examples: int) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    @settings(max_examples=examples, deadline=None, database=None, derandomize=not LONG_RUN,
              suppress_health_check=list(HealthCheck), print_blob=True,
              phases=[Phase.explicit, Phase.generate, *([Phase.shrink] if LONG_RUN else [])])
    @given(case=_strategy(operation))
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


@pytest.mark.parametrize(("method", "path"), _routes(), ids=lambda v: v)
def test_route_holds_up_for_every_caller(host: Host, schema: Any, method: str, path: str):
    operation = schema[path][method]
    failures: list[str] = []
    for who, examples in _callers(host, _function(host, method, path)):
        try:
            _fuzz(operation, host.tokens[who], examples)
        except BaseException as exc:  # schemathesis raises an ExceptionGroup of failures
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures.append(f"--- as {who}:\n{exc}")
    assert not failures, f"{method} {path}\n" + "\n".join(failures)


def test_every_route_is_in_the_document_and_fuzzed(schema: Any):
    documented = {(op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations()}
    assert set(_routes()) == documented


def test_what_the_fuzz_wrote_is_delivered_and_consistent(host: Host):
    """Runs after the routes' fuzz (file order): every event the fuzzed writes published is
    delivered at the first attempt (no retry, no dead letter), and every invariant holds."""
    rt = host.runtime
    for _ in range(100):
        if not rt.dispatcher.run_once():
            break
    assert rt.dispatcher.pending() == 0
    findings = run_checks(rt, max_event_age=timedelta(minutes=10))
    assert not findings, "\n".join(f"{f.check}: {f.problem}" for f in findings)
    failed = [line for line in host.logs.getvalue().splitlines()
              if re.search(r'"level": "(error|critical)"|"delivery_failed"', line)]
    assert not failed, "\n".join(failed[:20])


# ------------------------------------------------------------------------ the fuzz has teeth


class _Word(BaseModel):
    word: str = Field(min_length=1, max_length=20)


class _Count(BaseModel):
    count: int = Field(ge=0)


def _broken_app() -> App:
    broken = App("broken", "Broken", tables=[])

    @broken.route("POST", "/broken/crash", roles=["user"])
    def crash(ctx: Ctx, body: _Word) -> _Count:
        """Fails on any word with a digit in it, as a bug would."""
        if any(c.isdigit() for c in body.word):
            raise RuntimeError("a digit")
        return _Count(count=len(body.word))

    @broken.route("GET", "/broken/lie", roles=["public"])
    def lie(ctx: Ctx) -> Reply:
        """Answers a body its declared model forbids (a Reply's body is not re-validated)."""
        return Reply(body={"count": "many"})

    return broken


@pytest.mark.parametrize("path, method", [("/broken/crash", "POST"), ("/broken/lie", "GET")])
def test_the_fuzz_finds_a_500_and_a_schema_violation(tmp_path, path, method):
    with quiet_logs():
        rt = bootstrap(Settings(data_dir=tmp_path / "var", secret=SECRET, run_worker=False),
                       apps=[_broken_app()])
        try:
            api = create_app(runtime=rt)
            doc = api.openapi()
            doc["paths"]["/broken/lie"]["get"]["responses"]["200"]["content"][
                "application/json"]["schema"] = _Count.model_json_schema()
            broken = schemathesis.openapi.from_dict(doc)
            broken.app = api
            token = access_token(rt.identity, "someone@example.com")
            with pytest.raises(BaseException) as found:
                _fuzz(broken[path][method], token, 50)
            text = str(found.value)
            assert ("Server error" in text) if method == "POST" else ("violates schema" in text)
        finally:
            rt.close()
