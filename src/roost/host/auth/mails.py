"""The messages the sign-in flows send. Plain words, the code first, nothing to click: a code
typed by hand cannot be phished through a look-alike link."""

from __future__ import annotations

from html import escape

from roost.cloud.mail import Message

_FOOTER = "If you did not ask for this, ignore this message: nothing happens without the code."


def _html(*paragraphs: str, code: str | None = None) -> str:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    if code is not None:
        body = (f'<p style="font-size:28px;letter-spacing:6px;font-weight:bold">'
                f"{escape(code)}</p>{body}")
    return f'<div style="font-family:system-ui,sans-serif;line-height:1.5">{body}</div>'


def sign_in_code(email: str, code: str, *, key: str) -> Message:
    lines = ("Enter this code on the Roost sign-in page. It works for 10 minutes.", _FOOTER)
    return Message(to=(email,), subject=f"{code} is your Roost sign-in code",
                   text=f"Your Roost sign-in code is {code}\n\n" + "\n\n".join(lines) + "\n",
                   html=_html(*lines, code=code), idempotency_key=key)


def sign_up_code(email: str, code: str, *, key: str) -> Message:
    lines = ("Enter this code to confirm your address and finish signing up. It works for "
             "10 minutes.", _FOOTER)
    return Message(to=(email,), subject=f"{code} confirms your Roost account",
                   text=f"Your Roost confirmation code is {code}\n\n" + "\n\n".join(lines)
                   + "\n", html=_html(*lines, code=code), idempotency_key=key)


def already_registered(email: str, *, key: str) -> Message:
    lines = ("Someone — hopefully you — tried to sign up for Roost with this address, but it "
             "already has an account. Nothing was changed.",
             "To get in, sign in with a one-time code, or with your password if you set one.",
             "If this was not you, you can ignore this message.")
    return Message(to=(email,), subject="You already have a Roost account",
                   text="\n\n".join(lines) + "\n", html=_html(*lines), idempotency_key=key)
