"""The registry's per-route upload limit (`max_body`), which the images upload relies on."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from roost.cloud.functions import App, Ctx, DeclarationError


class Note(BaseModel):
    text: str


def test_max_body_is_for_raw_uploads_only_and_may_be_read_per_request():
    app = App("limits", "Limits", tables=[])
    limit = {"now": 10}

    @app.route("POST", "/limits/raw", roles=["user"], max_body=lambda: limit["now"])
    def raw(ctx: Ctx, body: bytes) -> None: ...

    fn = app.function("raw")
    assert fn.body_limit() == 10
    limit["now"] = 20
    assert fn.body_limit() == 20
    with pytest.raises(DeclarationError, match="raw upload"):
        @app.route("POST", "/limits/json", roles=["user"], max_body=10)
        def json_body(ctx: Ctx, body: Note) -> None: ...
    assert App("x", "X", tables=[]).route("GET", "/x", roles=["user"])  # default: None
