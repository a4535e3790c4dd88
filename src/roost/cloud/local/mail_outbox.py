"""The local Mailer: every message becomes an RFC 5322 `.eml` file in an outbox folder.

The dev mail page lists and shows them; any mail client opens them. The same folder is the
journal of `SmtpMailer`, which records what it transmitted here, so an idempotency key keeps
mail from going out twice across restarts and processes whichever way mail leaves.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Callable
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.message import Message as MimePart
from email.parser import BytesHeaderParser, BytesParser
from email.utils import format_datetime, parseaddr
from pathlib import Path

from roost.cloud.clock import Clock
from roost.cloud.errors import Invalid, NotFound
from roost.cloud.ids import new_id
from roost.cloud.mail import Message, SentMail

Transmit = Callable[[EmailMessage], None]

_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")  # a ULID: sorts by time
_HEADER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,75}$")
# Headers the mailer writes itself; a message may not override them (nor smuggle a Bcc).
_RESERVED = frozenset({"from", "to", "cc", "bcc", "reply-to", "subject", "date", "message-id",
                       "mime-version", "sender", "return-path"})
_KEYS = ".keys"  # idempotency claims: one small file per key, holding the message id
MAX_LIST = 1000


def next_mail_id(now: datetime) -> str:
    """A ULID for `now`: mail sent within one millisecond (always, under a frozen test clock)
    still lists in the order it was sent."""
    return new_id(now)


def build_email(message: Message, *, sender: str, message_id: str, date: datetime) -> EmailMessage:
    """The MIME message: text, HTML as its alternative, then attachments. `Invalid` if a
    header or attachment would break the message; nothing is sent or written then."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = ", ".join(message.to)
    if message.cc:
        email["Cc"] = ", ".join(message.cc)
    if message.reply_to:
        _check_line("reply_to", message.reply_to)
        email["Reply-To"] = message.reply_to
    email["Subject"] = message.subject
    email["Date"] = format_datetime(date)
    email["Message-ID"] = f"<{message_id}@{_domain(sender)}>"
    for name, value in message.headers:
        if not _HEADER_NAME.match(name) or name.lower() in _RESERVED or \
                name.lower().startswith("content-"):
            raise Invalid(f"header {name!r} cannot be set on a message", code="invalid_message")
        _check_line(name, value)
        email[name] = value
    email.set_content(message.text)
    if message.html is not None:
        email.add_alternative(message.html, subtype="html")
    for att in message.attachments:
        _check_line("attachment filename", att.filename)
        if not att.filename or "/" in att.filename or "\\" in att.filename:
            raise Invalid(f"attachment name {att.filename!r} must be a plain file name",
                          code="invalid_message")
        maintype, subtype, params = _content_type(att.content_type)
        email.add_attachment(att.data, maintype=maintype, subtype=subtype,
                             filename=att.filename, params=params)
    return email


class OutboxMailer:
    """The `Mailer` port on a folder of `.eml` files named `<ULID>.eml`, newest sorting last."""

    def __init__(self, folder: Path, *, clock: Clock, sender: str = "roost@localhost") -> None:
        self._folder = Path(folder)
        (self._folder / _KEYS).mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._sender = sender

    def send(self, message: Message, *, transmit: Transmit | None = None) -> str:
        """Write the message (after `transmit` delivered it elsewhere, when given) and return
        its id. With an idempotency key seen before, return that message's id and do nothing.

        Two concurrent sends with one key may both transmit — delivery is at least once — but
        only one is recorded and both return its id."""
        key = message.idempotency_key
        if key is not None and (known := self._claimed(key)):
            return known
        now = self._clock.now()
        mail_id = next_mail_id(now)
        email = build_email(message, sender=self._sender, message_id=mail_id, date=now)
        if transmit is not None:
            transmit(email)
        path = self._folder / f"{mail_id}.eml"
        _write_atomic(path, email.as_bytes(policy=policy.SMTP))
        if key is not None:
            winner = self._claim(key, mail_id)
            if winner != mail_id:  # a concurrent send of the same key got there first
                path.unlink(missing_ok=True)
                return winner
        return mail_id

    def list(self, limit: int = 50) -> list[SentMail]:
        """The newest `limit` messages, newest first (for the dev mail page)."""
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIST:
            raise Invalid(f"limit is a whole number from 1 to {MAX_LIST}", code="invalid_limit")
        ids = sorted((p.name[:-4] for p in self._folder.iterdir()
                      if p.name.endswith(".eml") and _ID.match(p.name[:-4])), reverse=True)
        out: list[SentMail] = []
        for mail_id in ids[:limit]:
            try:
                with open(self._folder / f"{mail_id}.eml", "rb") as f:
                    head = BytesHeaderParser(policy=policy.default).parse(f)
            except FileNotFoundError:  # lost a race with a concurrent duplicate's cleanup
                continue
            out.append(SentMail(
                id=mail_id,
                to=tuple(a.addr_spec for a in head["To"].addresses) if head["To"] else (),
                subject=str(head["Subject"] or ""),
                sent_at=_iso(head["Date"]),
            ))
        return out

    def read(self, id: str) -> EmailMessage:
        """One message, parsed. `NotFound` if there is none with this id (or it is no id at
        all: the dev page passes a URL segment straight through, and it names nothing)."""
        if not isinstance(id, str) or not _ID.match(id):
            raise NotFound(f"there is no mail {id!r}", code="mail_not_found")
        try:
            with open(self._folder / f"{id}.eml", "rb") as f:
                parsed = BytesParser(policy=policy.default).parse(f)
        except FileNotFoundError:
            raise NotFound(f"there is no mail {id}", code="mail_not_found") from None
        assert isinstance(parsed, EmailMessage)
        return parsed

    def _claim_path(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        return self._folder / _KEYS / digest

    def _claimed(self, key: str) -> str | None:
        try:
            return self._claim_path(key).read_text().strip() or None
        except FileNotFoundError:
            return None

    def _claim(self, key: str, mail_id: str) -> str:
        """Bind `key` to `mail_id` unless it is bound already; return the id it is bound to.
        A hard link publishes a complete file or fails, so a claim is never seen half-written."""
        path = self._claim_path(key)
        tmp = path.with_name(f"{path.name}.tmp-{secrets.token_hex(8)}")
        try:
            _write_new(tmp, mail_id.encode())
            os.link(tmp, path)
            return mail_id
        except FileExistsError:
            return path.read_text().strip()
        finally:
            tmp.unlink(missing_ok=True)


def _check_line(what: str, value: str) -> None:
    if not isinstance(value, str) or "\r" in value or "\n" in value:
        raise Invalid(f"{what} must be one line of text", code="invalid_message")


def _content_type(value: str) -> tuple[str, str, dict[str, str]]:
    """`text/calendar; method=REQUEST` -> ("text", "calendar", {"method": "REQUEST"})."""
    _check_line("attachment content type", value)
    part = MimePart()
    part["Content-Type"] = value
    maintype, subtype = part.get_content_maintype(), part.get_content_subtype()
    if part.get_content_type() != value.split(";")[0].strip().lower() or not subtype:
        raise Invalid(f"attachment content type {value!r} should look like 'application/pdf'",
                      code="invalid_message")
    params = {k: str(v) for k, v in (part.get_params() or [])[1:]}
    return maintype, subtype, params


def _iso(date_header: object) -> str:
    when = getattr(date_header, "datetime", None)
    return when.isoformat() if isinstance(when, datetime) else ""


def _domain(sender: str) -> str:
    """The domain for Message-IDs, from the sender address."""
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


def _write_new(path: Path, data: bytes) -> None:
    with open(path, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _write_atomic(path: Path, data: bytes) -> None:
    """Readers see the whole file or none: written aside, then renamed into place."""
    tmp = path.with_name(f"{path.name}.part-{secrets.token_hex(8)}")
    try:
        _write_new(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
