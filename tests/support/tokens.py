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


class Bearers:
    """`Authorization` headers per email for tests on a moving test clock: a token is minted on
    first use and again once the clock has moved more than five minutes either way from when it
    was minted (access tokens live fifteen). `forget(email)` forces a new one (after a grant)."""

    def __init__(self, identity: Any, clock: Any) -> None:
        self.identity = identity
        self.clock = clock
        self._held: dict[str, tuple[Any, dict[str, str]]] = {}

    def __call__(self, email: str) -> dict[str, str]:
        now = self.clock.now()
        held = self._held.get(email)
        if held is None or abs((now - held[0]).total_seconds()) > 300:
            held = (now, {"Authorization": f"Bearer {access_token(self.identity, email)}"})
            self._held[email] = held
        return held[1]

    def known(self, email: str) -> bool:
        return email in self._held

    def forget(self, email: str) -> None:
        self._held.pop(email, None)
