"""The sign-in pages: code sign-in (email -> code -> signed in), password sign-in and sign-up,
the account page and sign-out. Server-rendered, htmx-boosted, working without JavaScript.

Forms post, then redirect (303) on success; a refused form renders again with the reason and
the error's own status (htmx is configured in base.html to swap 4xx answers)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from roost.cloud.errors import RoostError, Unauthorized
from roost.cloud.functions import PUBLIC, USER, Ctx, Reply, Uses, redirect
from roost.cloud.local.identity import CODE_EVENT, SIGNUP_EVENT
from roost.cloud.local.identity_tables import CODES, LIMITS, REVOKED, SESSIONS, USERS
from roost.host.auth import app

from .api import SIGNING_IN
from .models import CodeForm, EmailForm, NextQuery, PasswordForm, SignOutForm
from .session import (
    ACCESS_COOKIE,
    REFRESH_COOKIE,
    cleared_cookies,
    client_of,
    cookie,
    identity_of,
    safe_next,
    session_cookies,
)

SENDING_CODE = Uses(writes=[LIMITS, CODES], publishes=[CODE_EVENT])
SENDING_SIGNUP = Uses(writes=[LIMITS, CODES], publishes=[SIGNUP_EVENT])


def _refused(exc: RoostError, **context: Any) -> Reply:
    return Reply(body={**context, "error": exc.message}, status=exc.status,
                 headers={"Retry-After": str(exc.extra["retry_after"])}
                 if "retry_after" in exc.extra else {})


def _code_page(path: str, email: str, next: str) -> Reply:
    return redirect(f"{path}?{urlencode({'email': email, 'next': safe_next(next)})}")


# The account page comes first: an app's first plain GET page is where navigation links to.
@app.page("/account", roles=[USER], template="account.html")
def account(ctx: Ctx) -> dict[str, Any]:
    """Your account: the address you sign in with and your roles."""
    return {"title": "Your account", "grants": sorted(ctx.user.grants)}


@app.page("/signin", roles=[PUBLIC], template="signin.html",
          uses=Uses(reads=[USERS], writes=[SESSIONS]))
def sign_in_form(ctx: Ctx, query: NextQuery) -> Any:
    """Ask for an email address. A browser still holding a refresh cookie is signed back in
    at once (this is where pages send an expired sign-in)."""
    target = safe_next(query.next)
    if ctx.principal is not None:
        return redirect(target)
    refresh = cookie(ctx, REFRESH_COOKIE)
    if refresh:
        try:
            return redirect(target, cookies=session_cookies(identity_of(ctx).refresh(refresh)))
        except Unauthorized:
            return Reply(body=_email_step(query.email, target), cookies=cleared_cookies())
    return _email_step(query.email, target)


def _email_step(email: str, next: str, **extra: Any) -> dict[str, Any]:
    return {"title": "Sign in", "email": email, "next": next, **extra}


@app.page("/signin", method="POST", roles=[PUBLIC], template="signin.html", uses=SENDING_CODE)
def send_code(ctx: Ctx, body: EmailForm) -> Any:
    """Email a sign-in code, then ask for it."""
    try:
        identity = identity_of(ctx)
        identity.request_code(body.email, client=client_of(ctx))
        email = identity.emails.normalize(body.email)
    except RoostError as exc:
        return _refused(exc, **_email_step(body.email, safe_next(body.next)))
    return _code_page("/signin/code", email, body.next)


@app.page("/signin/code", roles=[PUBLIC], template="code.html")
def code_form(ctx: Ctx, query: NextQuery) -> dict[str, Any]:
    """Ask for the code that was emailed."""
    return _code_step(query.email, query.next, action="/signin/code")


def _code_step(email: str, next: str, *, action: str, **extra: Any) -> dict[str, Any]:
    signup = action.startswith("/signup")
    return {"title": "Confirm your address" if signup else "Enter your code", "email": email,
            "next": safe_next(next), "action": action, "signup": signup, **extra}


@app.page("/signin/code", method="POST", roles=[PUBLIC], template="code.html",
          uses=SIGNING_IN)
def check_code(ctx: Ctx, body: CodeForm) -> Any:
    """Check the code; signed in, go where the visitor was headed."""
    try:
        tokens = identity_of(ctx).verify_code(body.email, body.code.get_secret_value(),
                                              client=client_of(ctx))
    except RoostError as exc:
        return _refused(exc, **_code_step(body.email, body.next, action="/signin/code"))
    return redirect(safe_next(body.next), cookies=session_cookies(tokens))


@app.page("/signin/password", roles=[PUBLIC], template="password.html")
def password_form(ctx: Ctx, query: NextQuery) -> dict[str, Any]:
    """Sign in with a password."""
    return {"title": "Sign in with a password", "email": query.email,
            "next": safe_next(query.next)}


@app.page("/signin/password", method="POST", roles=[PUBLIC], template="password.html",
          uses=SIGNING_IN)
def password_sign_in(ctx: Ctx, body: PasswordForm) -> Any:
    try:
        tokens = identity_of(ctx).sign_in(body.email, body.password.get_secret_value(),
                                          client=client_of(ctx))
    except RoostError as exc:
        return _refused(exc, title="Sign in with a password", email=body.email,
                        next=safe_next(body.next))
    return redirect(safe_next(body.next), cookies=session_cookies(tokens))


@app.page("/signup", roles=[PUBLIC], template="signup.html")
def sign_up_form(ctx: Ctx, query: NextQuery) -> dict[str, Any]:
    """Create an account with a password."""
    return {"title": "Create an account", "email": query.email, "next": safe_next(query.next)}


@app.page("/signup", method="POST", roles=[PUBLIC], template="signup.html",
          uses=SENDING_SIGNUP)
def start_sign_up(ctx: Ctx, body: PasswordForm) -> Any:
    try:
        identity = identity_of(ctx)
        identity.sign_up(body.email, body.password.get_secret_value(), client=client_of(ctx))
        email = identity.emails.normalize(body.email)
    except RoostError as exc:
        return _refused(exc, title="Create an account", email=body.email,
                        next=safe_next(body.next))
    return _code_page("/signup/code", email, body.next)


@app.page("/signup/code", roles=[PUBLIC], template="code.html")
def sign_up_code_form(ctx: Ctx, query: NextQuery) -> dict[str, Any]:
    """Ask for the code that confirms a new account."""
    return _code_step(query.email, query.next, action="/signup/code")


@app.page("/signup/code", method="POST", roles=[PUBLIC], template="code.html",
          uses=SIGNING_IN)
def finish_sign_up(ctx: Ctx, body: CodeForm) -> Any:
    try:
        tokens = identity_of(ctx).confirm_sign_up(body.email, body.code.get_secret_value(),
                                                  client=client_of(ctx))
    except RoostError as exc:
        return _refused(exc, **_code_step(body.email, body.next, action="/signup/code"))
    return redirect(safe_next(body.next), cookies=session_cookies(tokens))


@app.page("/signout", method="POST", roles=[PUBLIC], template="signin.html",
          uses=Uses(writes=[REVOKED, SESSIONS]))
def leave(ctx: Ctx, body: SignOutForm) -> Any:
    """End the sign-in and clear the cookies; back to the home page."""
    identity_of(ctx).sign_out(cookie(ctx, ACCESS_COOKIE), cookie(ctx, REFRESH_COOKIE))
    return redirect(safe_next(body.next), cookies=cleared_cookies())
