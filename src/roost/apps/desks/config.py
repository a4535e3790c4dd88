"""`settings()`: the desks settings (`config_model.DesksSettings`), read once per process.

The class is imported on the first call, not with the app: pydantic-settings takes 30-60 ms to
import, which every desks Lambda would otherwise pay at cold start, reading a setting or not."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config_model import DesksSettings


@cache
def settings() -> DesksSettings:
    """Read once per process; tests call `settings.cache_clear()` after changing the env."""
    from .config_model import DesksSettings

    return DesksSettings()
