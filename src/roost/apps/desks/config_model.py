"""The desks settings, from the same `ROOST_*` environment (and `.env`) as the platform's.

The app may not import the host, so it reads the few platform settings it needs itself (the
email pattern, case sensitivity, read-only mode) next to its own `ROOST_DESKS_*` ones. Read
them with `config.settings()`, which imports this module on first use."""

from __future__ import annotations

import re

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SELFTEST_KEY = 20


class DesksSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROOST_", env_file=".env",
                                      env_file_encoding="utf-8", extra="ignore")

    allowed_email_pattern: str | None = None
    email_case_sensitive: bool = False
    base_url: str = Field("http://127.0.0.1:8000", description="links in mails")
    read_only: bool = Field(False, description="maintenance: reads work, writes answer 503")
    desks_window_days: int = Field(14, ge=1, le=366, description="today .. today + N - 1")
    desks_weekly_quota: int = Field(1, ge=0, le=7, description="default bookings per week")
    desks_reason_required: bool = False
    desks_reason_email: str | None = None
    desks_selftest_key: SecretStr | None = None
    desks_selftest_email: str | None = None

    @field_validator("desks_selftest_key")
    @classmethod
    def _long_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SELFTEST_KEY:
            raise ValueError(f"must be at least {MIN_SELFTEST_KEY} characters")
        return value

    def email_allowed(self, email: str) -> bool:
        if not self.allowed_email_pattern:
            return True
        flags = 0 if self.email_case_sensitive else re.IGNORECASE
        return re.fullmatch(self.allowed_email_pattern, email, flags) is not None

    def normalize(self, email: str) -> str:
        email = email.strip()
        return email if self.email_case_sensitive else email.casefold()
