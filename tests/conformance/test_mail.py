"""The Mailer port's behaviour, for the outbox and for SMTP against a real local SMTP server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from roost.cloud.clock import FrozenClock
from roost.cloud.errors import Invalid
from roost.cloud.local.mail_outbox import OutboxMailer
from roost.cloud.local.mail_smtp import SmtpMailer
from roost.cloud.mail import Attachment, Mailer, Message

SENDER = "Roost <roost@example.com>"
ICS = (b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nSUMMARY:Standup\r\n"
       b"END:VEVENT\r\nEND:VCALENDAR\r\n")


class Collect:
    """An aiosmtpd handler keeping what arrived."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        parsed = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Under:
    mailer: Mailer
    delivered: Callable[[], list[EmailMessage]]


@pytest.fixture(params=["outbox", "smtp"])
def under(request: pytest.FixtureRequest, tmp_path: Path, clock: FrozenClock) -> Iterator[Under]:
    if request.param == "outbox":
        outbox = OutboxMailer(tmp_path / "outbox", clock=clock, sender=SENDER)
        yield Under(outbox, lambda: [outbox.read(m.id) for m in reversed(outbox.list())])
        return
    handler = Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        mailer = SmtpMailer(f"smtp://127.0.0.1:{controller.port}", sender=SENDER, clock=clock,
                            journal=tmp_path / "journal")
        yield Under(mailer, lambda: list(handler.messages))
    finally:
        controller.stop()


def invite(**changes: Any) -> Message:
    fields: dict[str, Any] = {
        "to": ("ana@example.com", "bo@example.org"),
        "cc": ("cy@example.net",),
        "reply_to": "desk@example.com",
        "subject": "Réservation: Room Ü at 10:00",
        "text": "You are invited.\nSee you there.",
        "html": "<p>You are <b>invited</b>.</p>",
        "attachments": (Attachment("invite.ics", "text/calendar; method=REQUEST", ICS),),
        "headers": (("X-Roost-App", "rooms"),),
    }
    return Message(**(fields | changes))


def text_of(msg: EmailMessage, subtype: str) -> str:
    """A text part's content; line ends as they came off the wire are not the point here."""
    part = msg.get_body((subtype,))
    assert part is not None, f"no text/{subtype} part"
    return str(part.get_content()).replace("\r\n", "\n")


def test_a_message_arrives_whole(under: Under) -> None:
    mail_id = under.mailer.send(invite())
    assert isinstance(mail_id, str) and mail_id
    (got,) = under.delivered()
    assert got["Subject"] == "Réservation: Room Ü at 10:00"
    assert [a.addr_spec for a in got["To"].addresses] == ["ana@example.com", "bo@example.org"]
    assert [a.addr_spec for a in got["Cc"].addresses] == ["cy@example.net"]
    assert got["Reply-To"].addresses[0].addr_spec == "desk@example.com"
    assert got["From"].addresses[0].addr_spec == "roost@example.com"
    assert got["X-Roost-App"] == "rooms"
    assert mail_id in got["Message-ID"]
    assert text_of(got, "plain") == "You are invited.\nSee you there.\n"
    assert text_of(got, "html") == "<p>You are <b>invited</b>.</p>\n"
    (att,) = got.iter_attachments()
    assert att.get_content_type() == "text/calendar"
    assert att.get_param("method") == "REQUEST"
    assert att.get_filename() == "invite.ics"
    assert att.get_payload(decode=True) == ICS


def test_text_only_message_is_plain(under: Under) -> None:
    under.mailer.send(Message(to=("a@example.com",), subject="Hi", text="Just text"))
    (got,) = under.delivered()
    assert got.get_content_type() == "text/plain"
    assert got.get_content().strip() == "Just text"


def test_same_idempotency_key_sends_once(under: Under) -> None:
    first = under.mailer.send(invite(idempotency_key="booking-42:confirmed"))
    again = under.mailer.send(invite(idempotency_key="booking-42:confirmed", subject="changed"))
    other = under.mailer.send(invite(idempotency_key="booking-43:confirmed"))
    assert first == again != other
    assert len(under.delivered()) == 2


def test_without_a_key_every_send_is_new(under: Under) -> None:
    ids = {under.mailer.send(invite()) for _ in range(3)}
    assert len(ids) == 3 and len(under.delivered()) == 3


def test_racing_sends_of_one_key_agree_on_the_id(under: Under) -> None:
    ids: list[str] = []
    start = threading.Barrier(6)

    def send() -> None:
        start.wait()
        ids.append(under.mailer.send(invite(idempotency_key="race")))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 6 and len(set(ids)) == 1
    assert len(under.delivered()) >= 1  # at least once; the outbox records it once


@pytest.mark.parametrize("changes", [
    {"headers": (("Bcc", "spy@evil.test"),)},
    {"headers": (("X-Ok", "two\r\nBcc: spy@evil.test"),)},
    {"headers": (("Bad Name", "x"),)},
    {"headers": (("Content-Type", "text/html"),)},
    {"reply_to": "a@example.com\r\nBcc: spy@evil.test"},
    {"attachments": (Attachment("../x.ics", "text/calendar", b"x"),)},
    {"attachments": (Attachment("x.bin", "not a type", b"x"),)},
])
def test_header_injection_is_invalid_and_nothing_is_sent(under: Under, changes: dict) -> None:
    with pytest.raises(Invalid) as e:
        under.mailer.send(invite(**changes))
    assert e.value.code == "invalid_message"
    assert under.delivered() == []


@pytest.mark.parametrize("fields", [
    {"to": ()},
    {"to": ("not-an-address",)},
    {"to": ("a@example.com",), "cc": ("b@example.com\r\nBcc: x@y",)},
    {"to": ("a@example.com",), "subject": "two\nlines"},
])
def test_bad_messages_are_refused_when_built(fields: dict) -> None:
    with pytest.raises(Invalid):
        Message(**({"subject": "s", "text": "t"} | fields))
