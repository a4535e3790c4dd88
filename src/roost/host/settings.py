"""Settings: one typed object from `ROOST_*` environment variables, an optional `.env` file and an
optional TOML file (`ROOST_CONFIG`, else `./roost.toml` if present). Every setting has a safe
local default, so `roost serve` needs none; the secret is generated once and kept on disk."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

SECRET_FILE = "secret.key"
MIN_SECRET_BYTES = 32

CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROOST_", env_file=".env",
                                      env_file_encoding="utf-8", extra="ignore")

    data_dir: Path = Field(Path("./var"), description="SQLite file, blobs, mail outbox, secret")
    dev_mode: bool = Field(True, description="/dev/mail and friendly errors; off in production")
    secret: SecretStr | None = Field(
        None, description=f"signing key (>= {MIN_SECRET_BYTES} chars); default: generated "
        f"once into data_dir/{SECRET_FILE}")
    admin_emails: CommaList = Field(default_factory=list,
                                     description="these users become system admins")
    allowed_email_pattern: str | None = Field(
        None, description="only emails fully matching this regex may sign in")
    email_case_sensitive: bool = False
    smtp_url: SecretStr | None = Field(
        None, description="smtp://user:pass@host:587?starttls=1; default: the outbox folder")
    mail_sender: str = "roost@localhost"
    base_url: str = "http://127.0.0.1:8000"
    apps: CommaList | None = Field(
        None, description="apps to install: names under roost.apps or module paths; "
        "default: every app found")
    sqlite_synchronous: Literal["NORMAL", "FULL"] = Field(
        "NORMAL", description="NORMAL survives a process crash; FULL also a power loss")
    max_body_bytes: int = Field(12 * 1024 * 1024, gt=0, description="larger requests get 413")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="auto: console on a terminal, JSON otherwise")
    run_worker: bool = Field(True, description="run the dispatcher and scheduler inside "
                             "`roost serve` (off when a `roost worker` runs them)")
    event_lease_seconds: float = Field(
        60.0, gt=0, description="how long a claimed event delivery is held; one claimed by a "
        "process that died is retried after this (longer than your slowest handler)")

    @field_validator("admin_emails", "apps", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("allowed_email_pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from exc
        return value or None

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_BYTES:
            raise ValueError(f"must be at least {MIN_SECRET_BYTES} characters")
        return value

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = os.environ.get("ROOST_CONFIG") or "roost.toml"
        return (init_settings, env_settings, dotenv_settings,
                TomlConfigSettingsSource(settings_cls, toml_file=toml))

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    def secret_bytes(self) -> bytes:
        """The configured secret, or the one kept in `data_dir/secret.key` (created on first use
        with mode 0600; two processes starting at once agree on one)."""
        if self.secret is not None:
            return self.secret.get_secret_value().encode()
        return load_or_create_secret(self.data_dir / SECRET_FILE)


def load_or_create_secret(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_urlsafe(48).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # fails if another process got there first: theirs wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    value = path.read_bytes().strip()
    if len(value) < MIN_SECRET_BYTES:
        raise ValueError(f"{path} holds a secret shorter than {MIN_SECRET_BYTES} bytes; "
                         "delete it to generate a new one")
    return value
