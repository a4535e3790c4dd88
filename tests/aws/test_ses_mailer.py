"""SesMailer against moto's SES: the raw MIME message SES recorded is the one the outbox builds,
and an idempotency key sends once."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import pytest

from roost.cloud.aws.ses_mailer import MAIL_SENT, SesMailer
from roost.cloud.errors import Unavailable
from roost.cloud.mail import Attachment, Message
from support.moto_server import client, ses_messages

SENDER = "Roost <roost@example.com>"
ICS = b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"


@pytest.fixture
def ses():
    ses = client("sesv2")
    ses.create_email_identity(EmailIdentity="roost@example.com")
    return ses




def test_a_message_reaches_ses_whole(ses, dynamo_tables, clock):
    mailer = SesMailer(ses, clock=clock, sender=SENDER, tables=dynamo_tables([MAIL_SENT]))
    mail_id = mailer.send(Message(
        to=("ann@example.com",), cc=("bob@example.com",), subject="Standup booked",
        text="Room Alpha, 09:00.", html="<p>Room <b>Alpha</b>, 09:00.</p>",
        attachments=(Attachment("invite.ics", "text/calendar; method=REQUEST", ICS),)))
    [raw] = ses_messages("ann@example.com")
    mail = BytesParser(policy=policy.default).parsebytes(raw)
    assert mail["Subject"] == "Standup booked" and mail["From"] == SENDER
    assert mail["Cc"] == "bob@example.com"
    assert mail_id in mail["Message-ID"]
    assert mail.get_body(("plain",)).get_content().strip() == "Room Alpha, 09:00."
    assert "<b>Alpha</b>" in mail.get_body(("html",)).get_content()
    [invite] = list(mail.iter_attachments())
    assert invite.get_content_type() == "text/calendar" and invite.get_content() is not None


def test_one_idempotency_key_sends_once(ses, dynamo_tables, clock):
    tables = dynamo_tables([MAIL_SENT])
    mailer = SesMailer(ses, clock=clock, sender=SENDER, tables=tables)
    message = Message(to=("once@example.com",), subject="Hi", text="x", idempotency_key="evt-1")
    first = mailer.send(message)
    assert mailer.send(message) == first
    assert len(ses_messages("once@example.com")) == 1
    assert tables.table(MAIL_SENT.name).get({"pk": "evt-1"})["state"] == "sent"


def test_a_failed_send_releases_its_key(dynamo_tables, clock):
    ses = client("sesv2")  # the sender is not a verified identity: SES refuses
    tables = dynamo_tables([MAIL_SENT])
    mailer = SesMailer(ses, clock=clock, sender="nobody@unverified.example", tables=tables)
    message = Message(to=("x@example.com",), subject="Hi", text="x", idempotency_key="evt-2")
    with pytest.raises(Unavailable) as err:
        mailer.send(message)
    assert err.value.code == "mail_sender_unverified"
    assert tables.table(MAIL_SENT.name).get({"pk": "evt-2"}) is None
