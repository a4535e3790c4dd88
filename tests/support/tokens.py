"""Real access tokens for tests, minted through LocalIdentity's own one-time-code sign-in."""

from __future__ import annotations

from typing import Any

from roost.cloud.events import OUTBOX


def access_token(identity: Any, email: str, *, client: str = "127.0.0.1") -> str:
    """Sign `email` in by code, reading the code the mail handler would send."""
    identity.request_code(email, client=client)
    pending = identity.tables.table(OUTBOX.name).query("pending").items
    data = [i["data"] for i in pending if i["type"] == "auth.code_requested"
            and i["data"]["email"] == email.strip().lower()][-1]
    code = identity.code_for(data["code_id"], data["email"])
    return str(identity.verify_code(email, code, client=client).access_token)
