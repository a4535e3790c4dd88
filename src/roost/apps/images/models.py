"""Requests, responses and presets of the images app."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Status = Literal["received", "processed", "failed"]
Format = Literal["jpeg", "png", "webp", "avif"]
Mode = Literal["fit", "fill", "crop"]


class Preset(BaseModel):
    """One variant every image is processed into, as Thumbor/imgproxy users know them:
    `fit` scales inside the box, `fill` covers the box and crops the rest, `crop` cuts the box
    out at full scale; `smart` picks the busiest part of the image instead of the centre."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    width: int = Field(ge=1, le=8192)
    height: int | None = Field(None, ge=1, le=8192)
    mode: Mode = "fit"
    format: Format = "jpeg"
    quality: int = Field(82, ge=1, le=100)
    smart: bool = False
    grayscale: bool = False
    blur: float = Field(0.0, ge=0, le=50, description="Gaussian radius in pixels")
    sharpen: bool = False
    rotate: Literal[0, 90, 180, 270] = 0
    upscale: bool = False

    @model_validator(mode="after")
    def _box(self) -> Preset:
        if self.mode != "fit" and self.height is None:
            raise ValueError(f"preset {self.name}: {self.mode} needs a height")
        return self

    @property
    def extension(self) -> str:
        return "jpg" if self.format == "jpeg" else self.format


class RenderQuery(BaseModel):
    """An on-demand variant, as imgproxy/Thumbor URLs ask for one: the preset's fields."""

    model_config = ConfigDict(extra="forbid")

    width: int = Field(ge=1, le=4096)
    height: int | None = Field(None, ge=1, le=4096)
    mode: Mode = "fit"
    format: Format = "jpeg"
    quality: int = Field(82, ge=1, le=100)
    smart: bool = False
    grayscale: bool = False
    blur: float = Field(0.0, ge=0, le=50)
    sharpen: bool = False
    rotate: Literal[0, 90, 180, 270] = 0

    def preset(self) -> Preset:
        return Preset(name="render", **self.model_dump())


class Accepted(BaseModel):
    id: str
    status: Status
    status_url: str
    duplicate: bool = Field(False, description="the Idempotency-Key was seen: the first upload")


class Variant(BaseModel):
    name: str
    format: str
    width: int
    height: int
    bytes: int
    ms: float = Field(description="time to make it: resize, filters, encode, store")
    url: str | None = Field(None, description="a signed link, valid for 15 minutes")


class ImageOut(BaseModel):
    id: str
    owner: str
    source: str
    status: Status
    content_type: str
    width: int
    height: int
    frames: int = Field(1, description="an animated image's frame count; variants are stills")
    bytes: int
    received_at: str
    expires_at: str
    processed_at: str | None = None
    processing_ms: float | None = None
    reason: str | None = None
    variants: list[Variant] = Field(default_factory=list)


class ImageList(BaseModel):
    items: list[ImageOut]
    cursor: str | None = None


class ListQuery(BaseModel):
    cursor: str | None = Field(None, max_length=2048)
    limit: int = Field(24, ge=1, le=100)


class StatsQuery(BaseModel):
    days: int = Field(7, ge=1, le=31, description="today and the days before it")


class Timing(BaseModel):
    count: int
    p50_ms: float | None
    p95_ms: float | None


class DayStats(Timing):
    day: str
    received: int
    processed: int
    failed: int
    bytes: int


class GroupStats(Timing):
    name: str
    bytes: int


class Reason(BaseModel):
    reason: str
    count: int


class Stats(BaseModel):
    since: str
    until: str
    total: int
    bytes: int
    days: list[DayStats]
    variants: list[GroupStats]
    sources: list[GroupStats]
    failures: list[Reason]
