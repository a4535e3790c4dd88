"""Scoped roles across the registry: a holder of an app role for one scope (an office admin of
London) reaches every route that admits the role for that scope, and is refused (403) for any
other scope (New York) — on every such route, not only the ones an app's own tests pick.
tests/host/test_access_matrix.py proves the unscoped matrix (every route by every caller).

`SCOPED` names, per scoped role, the path parameter that carries its scope; add a line when an
app brings a new scoped role."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from proof_helpers import Host, http_functions, whole_host

from roost.cloud.functions import Function
from roost.cloud.identity import Grant
from support.tokens import access_token

SCOPED = {"desks:office_admin": ("office_id", "london", "new-york")}
"""role -> (path parameter holding the scope, the holder's scope, another existing scope)"""


@pytest.fixture(scope="module")
def host(tmp_path_factory) -> Iterator[Host]:
    with whole_host(tmp_path_factory.mktemp("scopes") / "var") as h:
        yield h


def _query(fn: Function) -> dict[str, str]:
    """The query's required fields, filled in: dates from tomorrow on (the only kind so far)."""
    if fn.query_model is None:
        return {}
    days = iter(range(1, 100))
    return {name: (date.today() + timedelta(days=next(days))).isoformat()
            for name, f in fn.query_model.model_fields.items()
            if f.is_required() and f.annotation is date}


def _path(template: str, param: str, scope: str) -> str:
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    path = template.replace("{" + param + "}", scope)
    return re.sub(r"\{[^}]+\}", tomorrow, path)  # other parameters: a day (the only other kind)


@pytest.mark.parametrize("role", sorted(SCOPED))
def test_a_scoped_role_reaches_its_scope_and_no_other(host: Host, role: str):
    param, mine, other = SCOPED[role]
    app, name = role.split(":")
    holder = f"scoped.{name}@example.com"
    host.runtime.identity.grant(holder, Grant(app, name, mine), by="proof")
    client = TestClient(host.api, raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {access_token(host.runtime.identity, holder)}"
    routes = [f for f in http_functions(host.runtime) if role in f.roles and f.method == "GET"
              and "{" + param + "}" in (f.path or "")]
    assert routes, f"no route admits {role} with {{{param}}}: is SCOPED out of date?"
    wrong: list[str] = []
    for fn in routes:
        own = client.get(_path(fn.path or "", param, mine), params=_query(fn),
                         follow_redirects=False)
        foreign = client.get(_path(fn.path or "", param, other), params=_query(fn),
                             follow_redirects=False)
        if own.status_code in (401, 403) or own.status_code >= 500:
            wrong.append(f"{fn.path} for {mine}: {own.status_code} {own.text[:120]}")
        if foreign.status_code != 403:
            wrong.append(f"{fn.path} for {other}: {foreign.status_code} {foreign.text[:120]}")
    assert not wrong, "\n".join(wrong)
