"""Mail through any SMTP server (`ROOST_SMTP_URL`), and the choice between it and the outbox.

URLs: `smtp://host[:25]`, `smtp://user:pass@host:587?starttls=1`, `smtps://user:pass@host[:465]`;
`timeout=<seconds>` may follow. User and password are percent-decoded.
"""

from __future__ import annotations

import smtplib
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from roost.cloud.clock import Clock
from roost.cloud.errors import Invalid, Unavailable
from roost.cloud.local.mail_outbox import OutboxMailer, build_email, next_mail_id
from roost.cloud.mail import Mailer, Message

_DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
_MAILBOX_REFUSED = 550  # 55x: this mailbox or message is refused for good; retrying won't help
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    implicit_tls: bool  # smtps: TLS from the first byte
    starttls: bool  # smtp + starttls=1: upgrade after EHLO
    username: str | None
    password: str | None
    timeout: float

    def __repr__(self) -> str:  # keep the password out of logs
        auth = f"{self.username}:***@" if self.username else ""
        scheme = "smtps" if self.implicit_tls else "smtp"
        return f"SmtpSettings({scheme}://{auth}{self.host}:{self.port}, starttls={self.starttls})"


def parse_smtp_url(url: str) -> SmtpSettings:
    """`Invalid` (code "invalid_smtp_url") for anything we would have to guess about."""
    def bad(why: str) -> Invalid:
        return Invalid(f"ROOST_SMTP_URL: {why}", code="invalid_smtp_url")

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise bad(str(exc)) from None
    if parts.scheme not in _DEFAULT_PORTS:
        raise bad("use smtp://… or smtps://…")
    if not parts.hostname:
        raise bad("a host is needed, as in smtp://mail.example.com:587")
    if parts.path not in ("", "/") or parts.fragment:
        raise bad("there is nothing to put after the host and port but ?starttls=1")
    query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=False)
    unknown = set(query) - {"starttls", "timeout"}
    if unknown:
        raise bad(f"unknown option(s) {sorted(unknown)}; known are starttls and timeout")
    starttls = False
    if "starttls" in query:
        flag = query["starttls"][-1].lower()
        if flag not in _TRUE | _FALSE:
            raise bad("starttls is 1 or 0")
        starttls = flag in _TRUE
    if starttls and parts.scheme == "smtps":
        raise bad("smtps already speaks TLS; starttls is for smtp://")
    try:
        timeout = float(query.get("timeout", ["10"])[-1])
    except ValueError:
        raise bad("timeout is a number of seconds") from None
    if not 0 < timeout <= 300:
        raise bad("timeout is between 0 and 300 seconds")
    return SmtpSettings(
        host=parts.hostname,
        port=port or _DEFAULT_PORTS[parts.scheme],
        implicit_tls=parts.scheme == "smtps",
        starttls=starttls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        timeout=timeout,
    )


class SmtpMailer:
    """The `Mailer` port over SMTP. With a `journal` folder (the outbox), each transmitted
    message is recorded there too: the dev mail page shows it, and an idempotency key is
    honoured across processes and restarts; without one, within this process only."""

    def __init__(
        self,
        url: str,
        *,
        sender: str,
        clock: Clock,
        journal: Path | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = parse_smtp_url(url)
        self._sender = sender
        self._clock = clock
        self._journal = OutboxMailer(journal, clock=clock, sender=sender) if journal else None
        self._ssl = ssl_context or ssl.create_default_context()
        self._sent: dict[str, str] = {}
        self._lock = threading.Lock()

    def send(self, message: Message) -> str:
        if self._journal is not None:
            return self._journal.send(message, transmit=self.transmit)
        key = message.idempotency_key
        with self._lock:
            if key is not None and key in self._sent:
                return self._sent[key]
        now = self._clock.now()
        mail_id = next_mail_id(now)
        self.transmit(build_email(message, sender=self._sender, message_id=mail_id, date=now))
        if key is not None:
            with self._lock:
                return self._sent.setdefault(key, mail_id)
        return mail_id

    def transmit(self, email: EmailMessage) -> None:
        """Hand one message to the server. A refusal of the message itself is `Invalid`
        (retrying will not help); anything else is `Unavailable` (retry later)."""
        s = self.settings
        try:
            client: smtplib.SMTP
            if s.implicit_tls:
                client = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self._ssl)
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            with client:
                if s.starttls:
                    client.starttls(context=self._ssl)
                if s.username is not None:
                    client.login(s.username, s.password or "")
                client.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if not all(_MAILBOX_REFUSED <= c < _MAILBOX_REFUSED + 10 for c in codes):
                raise _unavailable(s, exc) from exc  # e.g. 530: refused us, not them
            who = ", ".join(sorted(exc.recipients))
            raise Invalid(f"the mail server refused the recipient(s) {who}",
                          code="mail_rejected") from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise Unavailable(f"the mail server at {s.host} refused our user name or password",
                              code="smtp_auth_failed") from exc
        except smtplib.SMTPDataError as exc:
            if exc.smtp_code >= _MAILBOX_REFUSED:  # this message's content, for good
                raise Invalid(f"the mail server refused the message: {exc.smtp_code} "
                              f"{_text(exc.smtp_error)}", code="mail_rejected") from exc
            raise _unavailable(s, exc) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise _unavailable(s, exc) from exc


def mailer_from_url(
    url: str | None, outbox: Path, clock: Clock, sender: str = "roost@localhost"
) -> Mailer:
    """SMTP when `ROOST_SMTP_URL` is set (journaled in the outbox), else the outbox alone."""
    if url is None or not url.strip():
        return OutboxMailer(outbox, clock=clock, sender=sender)
    return SmtpMailer(url.strip(), sender=sender, clock=clock, journal=outbox)


def _unavailable(s: SmtpSettings, exc: Exception) -> Unavailable:
    return Unavailable(f"could not send mail through {s.host}:{s.port}: {exc}",
                       code="smtp_unavailable")


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
