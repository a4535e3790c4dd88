"""The JSON sign-in API. Every answer that could reveal whether an account exists is the same
either way; each route declares exactly the identity tables it touches."""

from __future__ import annotations

from typing import Any

from roost.cloud.errors import Unauthorized
from roost.cloud.functions import PUBLIC, USER, Ctx, Reply, Uses
from roost.cloud.local.identity import CODE_EVENT, SIGNUP_EVENT
from roost.cloud.local.identity_tables import (
    CODES,
    EMAILS,
    GRANTS,
    LIMITS,
    REVOKED,
    SESSIONS,
    USERS,
)
from roost.host.auth import app

from .models import (
    Accepted,
    CodeRequest,
    CodeVerify,
    Me,
    RefreshRequest,
    SignIn,
    SignOutRequest,
    SignUp,
    TokensOut,
)
from .session import (
    ACCESS_COOKIE,
    REFRESH_COOKIE,
    cleared_cookies,
    client_of,
    cookie,
    identity_of,
    signed_in,
)

SIGNING_IN = Uses(writes=[LIMITS, CODES, EMAILS, USERS, GRANTS, SESSIONS])
"""A completed sign-in: counts the attempt, spends the code, creates the user on first sign-in,
grants admin to configured admin emails, opens a session."""


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


@app.route("POST", "/auth/code", roles=[PUBLIC], status=202,
           uses=Uses(writes=[LIMITS, CODES], publishes=[CODE_EVENT]))
def request_code(ctx: Ctx, body: CodeRequest) -> Accepted:
    """Email a one-time sign-in code (6 digits, 10 minutes, 5 tries)."""
    identity_of(ctx).request_code(body.email, client=client_of(ctx))
    return Accepted(detail="a sign-in code is on its way; it works for 10 minutes")


@app.route("POST", "/auth/code/verify", roles=[PUBLIC], uses=SIGNING_IN)
def verify_code(ctx: Ctx, body: CodeVerify) -> TokensOut:
    """Sign in with the emailed code; the account is created on the first sign-in."""
    tokens = identity_of(ctx).verify_code(body.email, body.code.get_secret_value(),
                                          client=client_of(ctx))
    return signed_in(tokens)  # type: ignore[no-any-return]  # a Reply carrying TokensOut


@app.route("POST", "/auth/signup", roles=[PUBLIC], status=202,
           uses=Uses(writes=[LIMITS, CODES], publishes=[SIGNUP_EVENT]))
def sign_up(ctx: Ctx, body: SignUp) -> Accepted:
    """Start a password account: a code to confirm the address is emailed (or, if the address
    already has an account, a note to its owner)."""
    identity_of(ctx).sign_up(body.email, body.password.get_secret_value(),
                             client=client_of(ctx))
    return Accepted(detail="check your email to finish signing up")


@app.route("POST", "/auth/signup/verify", roles=[PUBLIC], uses=SIGNING_IN)
def confirm_sign_up(ctx: Ctx, body: CodeVerify) -> TokensOut:
    """Finish signing up with the emailed code."""
    tokens = identity_of(ctx).confirm_sign_up(body.email, body.code.get_secret_value(),
                                              client=client_of(ctx))
    return signed_in(tokens)  # type: ignore[no-any-return]


@app.route("POST", "/auth/signin", roles=[PUBLIC], uses=SIGNING_IN)
def sign_in(ctx: Ctx, body: SignIn) -> TokensOut:
    """Sign in with email and password."""
    tokens = identity_of(ctx).sign_in(body.email, body.password.get_secret_value(),
                                      client=client_of(ctx))
    return signed_in(tokens)  # type: ignore[no-any-return]


@app.route("POST", "/auth/refresh", roles=[PUBLIC], uses=Uses(reads=[USERS],
                                                              writes=[SESSIONS]))
def refresh(ctx: Ctx, body: RefreshRequest) -> TokensOut:
    """New tokens for a refresh token (from the body or the roost_refresh cookie). Each
    refresh token works once; reusing one ends its session."""
    token = _secret(body.refresh_token) or cookie(ctx, REFRESH_COOKIE)
    if not token:
        raise Unauthorized("no refresh token: sign in again", code="token_invalid")
    return signed_in(identity_of(ctx).refresh(token))  # type: ignore[no-any-return]


@app.route("POST", "/auth/signout", roles=[PUBLIC], uses=Uses(writes=[REVOKED, SESSIONS]))
def sign_out(ctx: Ctx, body: SignOutRequest) -> None:
    """End this sign-in: both tokens stop working and the cookies are cleared. Safe to repeat."""
    identity_of(ctx).sign_out(_secret(body.access_token) or cookie(ctx, ACCESS_COOKIE),
                              _secret(body.refresh_token) or cookie(ctx, REFRESH_COOKIE))
    return Reply(status=204, cookies=cleared_cookies())  # type: ignore[return-value]


@app.route("GET", "/auth/me", roles=[USER])
def me(ctx: Ctx) -> Me:
    """Who is signed in, with their roles."""
    user = ctx.user
    return Me(user_id=user.user_id, email=user.email,
              grants=sorted(str(g) for g in user.grants), is_admin=user.is_system_admin)
