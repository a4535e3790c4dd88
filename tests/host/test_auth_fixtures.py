"""Fixtures for the auth tests: the real host (create_app over bootstrap, on the frozen clock)
with the auth system app and the dev mail router, and helpers that read the outbox as a person
would. (Named test_* to sit with the auth tests; it holds no tests.)"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from roost.host.auth import app as auth_app
from roost.host.auth.dev_mail import router as dev_mail_router
from roost.host.bootstrap import Runtime

CODE_IN_SUBJECT = re.compile(r'href="/dev/mail/([0-9A-Z]{26})">(\d{6}) is your Roost sign-in')
SIGNUP_IN_SUBJECT = re.compile(r'href="/dev/mail/([0-9A-Z]{26})">(\d{6}) confirms your Roost')


def with_dev_mail(client: TestClient) -> TestClient:
    """Mount /dev/mail unless the host already does."""
    api: Any = client.app
    if not any(getattr(r, "path", None) == "/dev/mail" for r in api.routes):
        api.include_router(dev_mail_router)
    return client


@pytest.fixture
def auth_host(make_host) -> Callable[..., tuple[TestClient, Runtime]]:
    def make(**settings: Any) -> tuple[TestClient, Runtime]:
        client, runtime = make_host([auth_app], **settings)
        return with_dev_mail(client), runtime

    return make


@pytest.fixture
def auth_client(auth_host) -> tuple[TestClient, Runtime]:
    return auth_host()


def deliver(runtime: Runtime) -> None:
    """Run the dispatcher until the outbox is drained (the mail handlers run here). The frozen
    clock moves a second first, so this batch's mail sorts after the last one's."""
    runtime.clock.advance(seconds=1)  # type: ignore[attr-defined]
    for _ in range(10):
        if runtime.dispatcher.run_once() == 0:
            return


def latest_code(client: TestClient, runtime: Runtime, pattern: re.Pattern[str] = CODE_IN_SUBJECT
                ) -> str:
    """Deliver pending mail, then read the newest code off /dev/mail, as a person would."""
    deliver(runtime)
    page = client.get("/dev/mail")
    assert page.status_code == 200, page.text
    found = pattern.search(page.text)
    assert found, page.text
    return found.group(2)
