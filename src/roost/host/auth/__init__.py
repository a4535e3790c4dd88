"""The sign-in system app: the JSON auth API, the sign-in pages and the mail they cause.

Installed by the host whatever `ROOST_APPS` says (`roost.host.bootstrap.SYSTEM_APPS`)."""

from __future__ import annotations

from roost.cloud.functions import App
from roost.cloud.local.identity_tables import TABLES

app = App("auth", "Account", tables=TABLES,
          description="Sign in by emailed code or password; your account and roles.")

# Importing the modules declares their functions on `app`.
from roost.host.auth import api, events, pages, users  # noqa: E402, F401

__all__ = ["app"]
