"""/dev/mail: the local outbox in the browser, so a person running roost on their machine can
read the sign-in code it just mailed them.

A host router rather than a registry page: it reads the embedded outbox folder, which exists only
on the local runtime (never on AWS), and it answers only in dev mode. The host mounts it with
`api.include_router(roost.host.auth.dev_mail.router)`.
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from roost.cloud.errors import NotFound, Unauthorized
from roost.cloud.functions import RequestInfo
from roost.cloud.identity import Principal
from roost.cloud.local.mail_outbox import OutboxMailer

from .session import ACCESS_COOKIE

router = APIRouter(include_in_schema=False)
OUTBOX_FOLDER = "outbox"  # under data_dir: where bootstrap's mailer writes (and SMTP journals)


def _runtime(request: Request) -> Any:
    rt = request.app.state.runtime
    if not rt.settings.dev_mode:
        raise NotFound("there is nothing at this address")
    return rt


def _outbox(rt: Any) -> OutboxMailer:
    if isinstance(rt.mailer, OutboxMailer):
        return rt.mailer
    return OutboxMailer(Path(rt.settings.data_dir) / OUTBOX_FOLDER, clock=rt.clock)


def _principal(rt: Any, request: Request) -> Principal | None:
    token = request.cookies.get(ACCESS_COOKIE)
    if not token or rt.identity is None:
        return None
    try:
        return rt.identity.authenticate(token)  # type: ignore[no-any-return]
    except Unauthorized:
        return None


def _render(request: Request, rt: Any, template: str, context: dict[str, Any]) -> HTMLResponse:
    from roost.host.auth import app

    info = RequestInfo(method=request.method, path=request.url.path,
                       base_url=rt.settings.base_url)
    html = request.app.state.pages.render(template, context, app=app,
                                          principal=_principal(rt, request), request=info)
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def _part(message: EmailMessage, kind: str) -> str | None:
    part = message.get_body(preferencelist=(kind,))
    return part.get_content() if part is not None else None  # type: ignore[no-any-return]


@router.get("/dev/mail", name="page:auth.dev_mail")
def mail_list(request: Request) -> HTMLResponse:
    """The newest mails in the outbox, newest first."""
    rt = _runtime(request)
    mails = _outbox(rt).list(100)
    return _render(request, rt, "dev_mail.html", {"title": "Dev mail", "mails": mails})


@router.get("/dev/mail/{mail_id}", name="page:auth.dev_mail_message")
def mail_message(request: Request, mail_id: str) -> HTMLResponse:
    """One mail: its headers, its text, and its HTML in a sandboxed frame."""
    rt = _runtime(request)
    message = _outbox(rt).read(mail_id)
    headers = [(k, str(v)) for k, v in message.items()
               if k.lower() in ("from", "to", "cc", "reply-to", "subject", "date")]
    return _render(request, rt, "dev_mail_message.html", {
        "title": str(message["Subject"] or "(no subject)"), "mail_id": mail_id,
        "headers": headers, "text": _part(message, "plain"), "html": _part(message, "html"),
        "attachments": [p.get_filename() or "(unnamed)" for p in message.iter_attachments()],
    })
