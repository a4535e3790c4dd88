"""The admin system app: the audit trail, dead letters and their replay, and the admin page.

Users and role grants live with the identity tables in `roost.host.auth.users`; this app owns
only the event machinery's two tables it needs to move dead letters back in line, and reads the
audit trail that every app may read."""

from __future__ import annotations

from roost.cloud.functions import App
from roost.cloud.local.dispatcher import DEAD_LETTERS, DELIVERIES

app = App("admin", "Admin", tables=[DEAD_LETTERS, DELIVERIES],
          description="System administration: users and roles, the audit trail, dead letters.")

from roost.host.admin import api, pages  # noqa: E402, F401

__all__ = ["app"]
