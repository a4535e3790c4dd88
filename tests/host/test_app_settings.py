"""Settings: safe defaults, ROOST_* environment, .env and TOML files, and the secret on disk."""

from __future__ import annotations

import os
import stat
import threading

import pytest
from pydantic import ValidationError

from roost.host.settings import Settings, load_or_create_secret


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith("ROOST_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray .env or roost.toml


def test_every_setting_has_a_safe_local_default():
    s = Settings()
    assert str(s.data_dir) == "var" and s.dev_mode is True and s.secret is None
    assert s.admin_emails == [] and s.apps is None and s.allowed_email_pattern is None
    assert s.base_url == "http://127.0.0.1:8000" and s.sqlite_synchronous == "NORMAL"
    assert s.max_body_bytes > 10 * 1024 * 1024  # a 10 MB image upload fits
    assert s.run_worker is True and s.secure_cookies is False


def test_environment_with_comma_lists(monkeypatch, tmp_path):
    monkeypatch.setenv("ROOST_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("ROOST_ADMIN_EMAILS", "a@example.com, b@example.com")
    monkeypatch.setenv("ROOST_APPS", "rooms,desks")
    monkeypatch.setenv("ROOST_DEV_MODE", "false")
    monkeypatch.setenv("ROOST_MAX_BODY_BYTES", "1000")
    monkeypatch.setenv("ROOST_BASE_URL", "https://roost.example/")
    s = Settings()
    assert s.data_dir == tmp_path / "d" and s.dev_mode is False and s.max_body_bytes == 1000
    assert s.admin_emails == ["a@example.com", "b@example.com"] and s.apps == ["rooms", "desks"]
    assert s.base_url == "https://roost.example" and s.secure_cookies is True


def test_dotenv_and_toml_files(monkeypatch, tmp_path):
    (tmp_path / "roost.toml").write_text('log_level = "debug"\nmail_sender = "toml@x.org"\n'
                                         'admin_emails = ["t@x.org"]\n')
    s = Settings()
    assert s.log_level == "debug" and s.mail_sender == "toml@x.org"
    assert s.admin_emails == ["t@x.org"]
    (tmp_path / ".env").write_text("ROOST_MAIL_SENDER=dotenv@x.org\n")
    assert Settings().mail_sender == "dotenv@x.org"  # .env beats the TOML file
    monkeypatch.setenv("ROOST_MAIL_SENDER", "env@x.org")
    assert Settings().mail_sender == "env@x.org"  # the environment beats both
    other = tmp_path / "elsewhere.toml"
    other.write_text('log_format = "json"\n')
    monkeypatch.setenv("ROOST_CONFIG", str(other))
    assert Settings().log_format == "json" and Settings().log_level == "info"


@pytest.mark.parametrize("name,value,needle", [
    ("ROOST_SECRET", "short", "at least 32"),
    ("ROOST_ALLOWED_EMAIL_PATTERN", "[a-", "not a regular expression"),
    ("ROOST_BASE_URL", "localhost:8000", "http:// or https://"),
    ("ROOST_MAX_BODY_BYTES", "0", "greater than 0"),
    ("ROOST_SQLITE_SYNCHRONOUS", "OFF", "NORMAL"),
    ("ROOST_LOG_LEVEL", "loud", "debug"),
])
def test_bad_settings_say_what_is_wrong(monkeypatch, name, value, needle):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as e:
        Settings()
    assert needle in str(e.value)


def test_a_secret_from_the_environment_is_used_as_is(monkeypatch, tmp_path):
    monkeypatch.setenv("ROOST_SECRET", "s" * 40)
    s = Settings(data_dir=tmp_path)
    assert s.secret_bytes() == b"s" * 40
    assert "s" * 40 not in repr(s)  # never printed
    assert not (tmp_path / "secret.key").exists()


def test_the_secret_is_generated_once_with_mode_0600(tmp_path):
    s = Settings(data_dir=tmp_path / "var")
    first = s.secret_bytes()
    path = tmp_path / "var" / "secret.key"
    assert len(first) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Settings(data_dir=tmp_path / "var").secret_bytes() == first
    assert [p.name for p in path.parent.iterdir()] == ["secret.key"]  # no temp files left


def test_racing_processes_agree_on_one_secret(tmp_path):
    path = tmp_path / "secret.key"
    seen: list[bytes] = []
    barrier = threading.Barrier(8)

    def grab() -> None:
        barrier.wait()
        seen.append(load_or_create_secret(path))

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 1 and len(seen) == 8


def test_a_truncated_secret_file_is_refused(tmp_path):
    (tmp_path / "secret.key").write_bytes(b"tiny")
    with pytest.raises(ValueError, match="delete it"):
        load_or_create_secret(tmp_path / "secret.key")
