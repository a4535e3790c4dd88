"""What the sign-in routes and pages share: the identity bound to the call, the session cookies,
and the few checks a browser form needs."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from roost.cloud.errors import Unavailable
from roost.cloud.functions import Cookie, Ctx, Reply
from roost.cloud.identity import Grant, Principal
from roost.cloud.local.identity import Tokens
from roost.cloud.local.identity_users import User
from roost.cloud.table import Tables

from .models import TokensOut

ACCESS_COOKIE = "roost_access"
REFRESH_COOKIE = "roost_refresh"


@runtime_checkable
class SignInFlows(Protocol):
    """What the sign-in routes, pages and mails need of the identity adapter: LocalIdentity
    locally, CognitoIdentity on AWS (which refuses password sign-up with a clear 503)."""

    def using(self, tables: Tables) -> SignInFlows: ...
    def authenticate(self, access_token: str) -> Principal: ...
    def request_code(self, email: str, *, client: str | None) -> None: ...
    def verify_code(self, email: str, code: str, *, client: str | None) -> Tokens: ...
    def code_for(self, code_id: str, email: str) -> str: ...
    def sign_up(self, email: str, password: str, *, client: str | None) -> None: ...
    def confirm_sign_up(self, email: str, code: str, *, client: str | None) -> Tokens: ...
    def sign_in(self, email: str, password: str, *, client: str | None) -> Tokens: ...
    def refresh(self, refresh_token: str) -> Tokens: ...
    def sign_out(self, access_token: str | None, refresh_token: str | None) -> None: ...
    def user_exists(self, email: str) -> bool: ...
    def grants_of(self, user_id: str) -> frozenset[Grant]: ...
    def list_users(self, *, limit: int = 50, cursor: str | None = None
                   ) -> tuple[list[User], str | None]: ...
    def grant(self, email: str, grant: Grant, *, by: str) -> User: ...
    def revoke(self, email: str, grant: Grant, *, by: str) -> bool: ...


def identity_of(ctx: Ctx) -> SignInFlows:
    """The deployment's identity writing through this call's guarded tables, so what each
    route declares is what it may touch."""
    identity = ctx.identity
    if not isinstance(identity, SignInFlows):
        raise Unavailable("sign-in by code and password is not offered by this deployment's "
                          "identity provider", code="sign_in_unavailable")
    return identity.using(ctx.tables)


def client_of(ctx: Ctx) -> str | None:
    return ctx.request.client if ctx.request else None


def cookie(ctx: Ctx, name: str) -> str | None:
    return (ctx.request.cookies.get(name) if ctx.request else None) or None


def session_cookies(tokens: Tokens) -> list[Cookie]:
    """HttpOnly, SameSite=Lax, Secure when the site is https (the host decides from base_url).
    Each lives as long as its token, so a browser never holds one that cannot work."""
    return [Cookie(ACCESS_COOKIE, tokens.access_token, max_age=tokens.expires_in),
            Cookie(REFRESH_COOKIE, tokens.refresh_token, max_age=tokens.refresh_expires_in)]


def cleared_cookies() -> list[Cookie]:
    return [Cookie(ACCESS_COOKIE, "", max_age=0), Cookie(REFRESH_COOKIE, "", max_age=0)]


def signed_in(tokens: Tokens) -> Any:
    """The API's answer to a sign-in: the tokens in the body (for API clients) and as cookies
    (for the browser), in one `Reply`."""
    body = TokensOut(access_token=tokens.access_token, refresh_token=tokens.refresh_token,
                     expires_in=tokens.expires_in, refresh_expires_in=tokens.refresh_expires_in,
                     user_id=tokens.user_id, email=tokens.email)
    return Reply(body=body, cookies=session_cookies(tokens))


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site, never another site (no open
    redirect through `?next=//evil.example`)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target \
            or any(ord(c) < 32 for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target
