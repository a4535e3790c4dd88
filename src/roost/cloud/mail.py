"""The Mailer port. Sending happens in event handlers, never inside a request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from roost.cloud.errors import Invalid


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # e.g. "text/calendar; method=REQUEST"
    data: bytes


@dataclass(frozen=True)
class Message:
    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None = None
    cc: tuple[str, ...] = ()
    reply_to: str | None = None
    attachments: tuple[Attachment, ...] = ()
    # A stable id makes sending idempotent: handlers run at least once, mail goes out once.
    idempotency_key: str | None = None
    headers: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.to:
            raise Invalid("a message needs at least one recipient", code="invalid_message")
        for addr in (*self.to, *self.cc):
            if "@" not in addr or any(c in addr for c in "\r\n<>,"):
                raise Invalid(f"{addr!r} is not an email address", code="invalid_message")
        if "\n" in self.subject or "\r" in self.subject:
            raise Invalid("a subject is one line", code="invalid_message")


@dataclass(frozen=True)
class SentMail:
    id: str
    to: tuple[str, ...]
    subject: str
    sent_at: str  # ISO 8601


class Mailer(Protocol):
    def send(self, message: Message) -> str:
        """Send (or, with the same idempotency key, recognise as sent); returns the message id."""
        ...
