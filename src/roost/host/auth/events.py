"""Event handlers: the sign-in mail, sent from the outbox, never inside a request. Each runs at
least once; the event id as idempotency key makes the mail go out once."""

from __future__ import annotations

from roost.cloud.events import Event
from roost.cloud.functions import Ctx, Uses
from roost.cloud.local.identity import CODE_EVENT, SIGNUP_EVENT
from roost.cloud.local.identity_tables import EMAILS, USERS
from roost.host.auth import app

from . import mails
from .session import identity_of


@app.handler(CODE_EVENT, uses=Uses(mail=True))
def mail_sign_in_code(ctx: Ctx, event: Event) -> None:
    """Mail the sign-in code, recomputed from the event's code id (the code is stored
    nowhere)."""
    email, code_id = event.data["email"], event.data["code_id"]
    code = identity_of(ctx).code_for(code_id, email)
    ctx.mail.send(mails.sign_in_code(email, code, key=event.id))


@app.handler(SIGNUP_EVENT, uses=Uses(reads=[EMAILS, USERS], mail=True))
def mail_sign_up(ctx: Ctx, event: Event) -> None:
    """Mail the code that confirms a new account — or, if the address already has one, tell its
    owner instead (the request answered the same either way)."""
    email, code_id = event.data["email"], event.data["code_id"]
    identity = identity_of(ctx)
    if identity.user_exists(email):
        ctx.mail.send(mails.already_registered(email, key=event.id))
    else:
        ctx.mail.send(mails.sign_up_code(email, identity.code_for(code_id, email), key=event.id))
