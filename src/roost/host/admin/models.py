"""Requests and answers of the admin API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    app: str | None = Field(None, max_length=40, description="the app whose trail to list")
    record: str | None = Field(None, max_length=4096,
                               description="one record's trail: '<table>#<key>' as listed")
    limit: int = Field(50, ge=1, le=500)
    cursor: str | None = Field(None, max_length=4096)


class AuditEntry(BaseModel):
    id: str
    app: str
    table: str
    record: str
    key: dict[str, Any]
    op: str
    actor: str
    at: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(BaseModel):
    entries: list[AuditEntry]
    cursor: str | None = None


class DeadLetterOut(BaseModel):
    event_id: str
    event_type: str
    handler: str
    attempts: int
    error: str
    failed_at: str
    data: dict[str, Any]


class DeadLetterQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    handler: str | None = Field(None, max_length=512)


class DeadLetterList(BaseModel):
    dead_letters: list[DeadLetterOut]


class Replay(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    event_id: str = Field(min_length=1, max_length=64)
    handler: str = Field(min_length=1, max_length=512)


class Replayed(BaseModel):
    event_id: str
    handler: str
    detail: str = "back in line for delivery"
