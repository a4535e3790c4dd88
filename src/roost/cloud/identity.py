"""The Identity port: who is calling, and what they may do.

Local adapter: `roost.cloud.local.identity` on Tables (argon2, one-time codes, JWT).
AWS adapter (issue 7): Cognito, tokens verified against the pool's JWKS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

SYSTEM_APP = "roost"
SYSTEM_ADMIN = "admin"
ANY_SCOPE = "*"


@dataclass(frozen=True, order=True)
class Grant:
    """A role in an app, for a scope: `(desks, office_admin, alpha)`; scope "*" = every scope."""

    app: str
    role: str
    scope: str = ANY_SCOPE

    def __str__(self) -> str:
        return f"{self.app}:{self.role}:{self.scope}"

    @classmethod
    def parse(cls, text: str) -> Grant:
        parts = text.split(":")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"{text!r}: write a grant as app:role or app:role:scope")
        return cls(*parts)


@dataclass(frozen=True)
class Principal:
    """The verified caller of one request."""

    user_id: str
    email: str
    grants: frozenset[Grant] = field(default_factory=frozenset)
    name: str | None = None

    @property
    def is_system_admin(self) -> bool:
        return Grant(SYSTEM_APP, SYSTEM_ADMIN) in self.grants

    def has(self, app: str, role: str, scope: str | None = None) -> bool:
        """True if granted `role` in `app` for `scope` (None: for any scope). System admins have
        every role."""
        if self.is_system_admin:
            return True
        for g in self.grants:
            if g.app == app and g.role == role and (
                scope is None or g.scope == ANY_SCOPE or g.scope == scope
            ):
                return True
        return False

    def scopes(self, app: str, role: str) -> set[str]:
        """The scopes in which the caller holds `role` ("*" means all)."""
        if self.is_system_admin:
            return {ANY_SCOPE}
        return {g.scope for g in self.grants if g.app == app and g.role == role}


class Identity(Protocol):
    """What the host and the apps need from identity. The sign-in flows (codes, passwords,
    refresh, sign-out) are methods of the adapter, used by the host's auth routes."""

    def authenticate(self, access_token: str) -> Principal:
        """Verify a bearer token (signature, expiry, algorithm, revocation); `Unauthorized`
        otherwise."""
        ...

    def principal(self, user_id: str) -> Principal:
        """The user's current grants (`NotFound` if there is no such user)."""
        ...
