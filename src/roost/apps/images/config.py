"""`settings()`: the images settings (`config_model.ImagesSettings`), read once per process.

The class is imported on the first call, not with the app: pydantic-settings takes 30-60 ms to
import, which every images Lambda would otherwise pay at cold start, reading a setting or not."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config_model import ImagesSettings


@cache
def settings() -> ImagesSettings:
    """Read once per process; tests call `settings.cache_clear()` after changing the env."""
    from .config_model import ImagesSettings

    return ImagesSettings()


def max_bytes() -> int:
    return settings().max_bytes
