"""The images settings, from the same `ROOST_*` environment (and `.env`) as the platform's.

The app may not import the host, so it reads its own `ROOST_IMAGES_*` settings here; the
presets (the variants every image is processed into) are settings too, as JSON. Read them with
`config.settings()`, which imports this module on first use."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .models import Preset

MB = 1_000_000
DEFAULT_PRESETS: tuple[Preset, ...] = (  # here, not in models: made when settings are read
    Preset(name="thumbnail", width=400, height=400, mode="fit", quality=80),
    Preset(name="square", width=200, height=200, mode="fill", smart=True, quality=80),
    Preset(name="medium", width=1200, height=1200, mode="fit", quality=82),
    Preset(name="webp", width=1200, height=1200, mode="fit", format="webp", quality=80),
)


class ImagesSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROOST_IMAGES_", env_file=".env",
                                      env_file_encoding="utf-8", extra="ignore")

    max_bytes: int = Field(10 * MB, gt=0, description="larger uploads get 413 (while streaming)")
    max_pixels: int = Field(50_000_000, gt=0, description="width x height, read from the header")
    retention_days: int = Field(7, ge=1, le=365, description="raw, variants and metadata")
    presets: list[Preset] = Field(default_factory=lambda: list(DEFAULT_PRESETS),
                                  description="the variants, as JSON")
