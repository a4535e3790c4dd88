"""SmtpMailer against real SMTP servers (aiosmtpd) on loopback: plain, AUTH, STARTTLS, SMTPS,
refusals and outages; plus the URL it is configured by and the mailer chooser."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from roost.cloud.clock import FrozenClock
from roost.cloud.errors import Invalid, Unavailable
from roost.cloud.local.mail_outbox import OutboxMailer
from roost.cloud.local.mail_smtp import SmtpMailer, mailer_from_url, parse_smtp_url
from roost.cloud.mail import Attachment, Message

SENDER = "roost@rooms.example"


class Inbox:
    """An aiosmtpd handler that keeps what arrived and may refuse some recipients."""

    def __init__(self, refuse: str | None = None) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse = refuse

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address == self.refuse:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        parsed = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


ServerFactory = Callable[..., tuple[Inbox, int]]


@pytest.fixture
def smtp_server() -> Iterator[ServerFactory]:
    """`smtp_server(**Controller kwargs)` -> (inbox, port) of a running server."""
    running: list[Controller] = []

    def start(refuse: str | None = None, port: int | None = None,
              **kwargs: Any) -> tuple[Inbox, int]:
        inbox = Inbox(refuse)
        controller = Controller(inbox, hostname="127.0.0.1", port=port or free_port(), **kwargs)
        controller.start()
        running.append(controller)
        return inbox, controller.port

    yield start
    for c in running:
        c.stop()


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made by the openssl command line."""
    if shutil.which("openssl") is None:  # pragma: no cover - part of the base image
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    crt, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(crt), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60)
    return crt, key


def server_tls(cert: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*cert)
    return ctx


def client_tls(cert: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert[0]))


def note(key: str | None = None, to: tuple[str, ...] = ("ana@example.com",)) -> Message:
    return Message(to=to, subject="Your booking", text="Room 4, 10:00", idempotency_key=key,
                   attachments=(Attachment("b.ics", "text/calendar; method=REQUEST", b"ICS"),))


# -- the URL -------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "expect"), [
    ("smtp://mail.example.com", ("mail.example.com", 25, False, False, None, None, 10.0)),
    ("smtp://u%40x:p%3Aw%2F@mail:587?starttls=1",
     ("mail", 587, False, True, "u@x", "p:w/", 10.0)),
    ("smtps://user:pw@mail.example.com", ("mail.example.com", 465, True, False, "user", "pw",
                                          10.0)),
    ("smtp://127.0.0.1:2525?starttls=0&timeout=2.5", ("127.0.0.1", 2525, False, False, None,
                                                      None, 2.5)),
    ("smtp://user:@host", ("host", 25, False, False, "user", "", 10.0)),
])
def test_smtp_urls_parse(url: str, expect: tuple) -> None:
    s = parse_smtp_url(url)
    assert (s.host, s.port, s.implicit_tls, s.starttls, s.username, s.password, s.timeout) == expect


@pytest.mark.parametrize("url", [
    "http://mail.example.com", "smtp://", "smtp://host/path", "smtp://host?starttls=maybe",
    "smtps://host?starttls=1", "smtp://host?startls=1", "smtp://host:port",
    "smtp://host?timeout=0", "smtp://host?timeout=soon", "mail.example.com:25",
])
def test_bad_smtp_urls_are_invalid(url: str) -> None:
    with pytest.raises(Invalid) as e:
        parse_smtp_url(url)
    assert e.value.code == "invalid_smtp_url" and "ROOST_SMTP_URL" in e.value.message


def test_settings_never_show_the_password() -> None:
    s = parse_smtp_url("smtp://ana:hunter2@mail:587?starttls=1")
    assert "hunter2" not in repr(s) and "hunter2" not in str(s)


# -- delivery ------------------------------------------------------------------------------


def test_plain_smtp_delivers_with_the_attachment(
    smtp_server: ServerFactory, clock: FrozenClock
) -> None:
    inbox, port = smtp_server()
    mailer = SmtpMailer(f"smtp://127.0.0.1:{port}", sender=SENDER, clock=clock)
    mailer.send(note(to=("ana@example.com", "bo@example.com")))
    assert inbox.envelopes == [(SENDER, ["ana@example.com", "bo@example.com"])]
    (att,) = inbox.messages[0].iter_attachments()
    assert att.get_content_type() == "text/calendar" and att.get_param("method") == "REQUEST"
    assert att.get_payload(decode=True) == b"ICS"


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                  auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login, auth_data.password) == (b"ana@x", b"s3cr:t")
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535


def test_auth_over_starttls_with_the_urls_user_and_password(
    smtp_server: ServerFactory, clock: FrozenClock, tmp_path: Path, cert: tuple[Path, Path]
) -> None:
    inbox, port = smtp_server(authenticator=authenticator, auth_required=True,
                              tls_context=server_tls(cert), require_starttls=True)
    url = f"smtp://ana%40x:{{}}@127.0.0.1:{port}?starttls=1"
    good = SmtpMailer(url.format("s3cr%3At"), sender=SENDER, clock=clock,
                      ssl_context=client_tls(cert))
    good.send(note())
    assert len(inbox.messages) == 1

    journal = tmp_path / "journal"
    bad = SmtpMailer(url.format("wrong"), sender=SENDER, clock=clock, journal=journal,
                     ssl_context=client_tls(cert))
    with pytest.raises(Unavailable) as e:
        bad.send(note(key="k"))
    assert e.value.code == "smtp_auth_failed" and "wrong" not in e.value.message
    assert OutboxMailer(journal, clock=clock).list() == []  # not recorded as sent
    assert len(inbox.messages) == 1


def test_starttls_is_used_when_asked(
    smtp_server: ServerFactory, clock: FrozenClock, cert: tuple[Path, Path]
) -> None:
    inbox, port = smtp_server(tls_context=server_tls(cert), require_starttls=True)
    plain = SmtpMailer(f"smtp://127.0.0.1:{port}", sender=SENDER, clock=clock)
    with pytest.raises(Unavailable):  # the server insists on TLS first
        plain.send(note())
    tls = SmtpMailer(f"smtp://127.0.0.1:{port}?starttls=1", sender=SENDER, clock=clock,
                     ssl_context=client_tls(cert))
    tls.send(note())
    assert len(inbox.messages) == 1


def test_starttls_refuses_a_certificate_it_cannot_trust(
    smtp_server: ServerFactory, clock: FrozenClock, cert: tuple[Path, Path]
) -> None:
    inbox, port = smtp_server(tls_context=server_tls(cert), require_starttls=True)
    mailer = SmtpMailer(f"smtp://127.0.0.1:{port}?starttls=1", sender=SENDER, clock=clock)
    with pytest.raises(Unavailable) as e:  # the system's CAs do not know our test certificate
        mailer.send(note())
    assert "CERTIFICATE_VERIFY_FAILED" in e.value.message
    assert inbox.messages == []


def test_smtps_speaks_tls_from_the_start(
    smtp_server: ServerFactory, clock: FrozenClock, cert: tuple[Path, Path]
) -> None:
    inbox, port = smtp_server(ssl_context=server_tls(cert))
    SmtpMailer(f"smtps://127.0.0.1:{port}", sender=SENDER, clock=clock,
               ssl_context=client_tls(cert)).send(note())
    assert len(inbox.messages) == 1


def test_a_refused_recipient_is_invalid_not_retried(
    smtp_server: ServerFactory, clock: FrozenClock
) -> None:
    inbox, port = smtp_server(refuse="ghost@example.com")
    mailer = SmtpMailer(f"smtp://127.0.0.1:{port}", sender=SENDER, clock=clock)
    with pytest.raises(Invalid) as e:
        mailer.send(note(to=("ghost@example.com",)))
    assert e.value.code == "mail_rejected" and "ghost@example.com" in e.value.message
    assert inbox.messages == []


def test_an_outage_is_unavailable_and_a_retry_sends_once(
    smtp_server: ServerFactory, clock: FrozenClock, tmp_path: Path
) -> None:
    port = free_port()
    journal = tmp_path / "outbox"
    mailer = SmtpMailer(f"smtp://127.0.0.1:{port}?timeout=2", sender=SENDER, clock=clock,
                        journal=journal)
    with pytest.raises(Unavailable) as e:
        mailer.send(note(key="booking-1"))
    assert e.value.code == "smtp_unavailable" and e.value.status == 503
    inbox, _ = smtp_server(port=port)
    first = mailer.send(note(key="booking-1"))
    assert mailer.send(note(key="booking-1")) == first
    assert len(inbox.messages) == 1
    assert [m.id for m in OutboxMailer(journal, clock=clock).list()] == [first]


def test_the_journal_keeps_idempotency_across_a_restart(
    smtp_server: ServerFactory, clock: FrozenClock, tmp_path: Path
) -> None:
    inbox, port = smtp_server()
    url = f"smtp://127.0.0.1:{port}"
    first = SmtpMailer(url, sender=SENDER, clock=clock, journal=tmp_path).send(note(key="k1"))
    again = SmtpMailer(url, sender=SENDER, clock=clock, journal=tmp_path).send(note(key="k1"))
    assert first == again and len(inbox.messages) == 1
    assert inbox.messages[0]["Message-ID"] == f"<{first}@rooms.example>"


def test_without_a_journal_idempotency_holds_in_process(
    smtp_server: ServerFactory, clock: FrozenClock
) -> None:
    inbox, port = smtp_server()
    mailer = SmtpMailer(f"smtp://127.0.0.1:{port}", sender=SENDER, clock=clock)
    assert mailer.send(note(key="k")) == mailer.send(note(key="k"))
    assert len(inbox.messages) == 1


# -- choosing ------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [None, "", "  "])
def test_no_url_means_the_outbox(url: str | None, tmp_path: Path, clock: FrozenClock) -> None:
    mailer = mailer_from_url(url, tmp_path / "outbox", clock, "roost@localhost")
    assert isinstance(mailer, OutboxMailer)
    mail_id = mailer.send(note())
    assert (tmp_path / "outbox" / f"{mail_id}.eml").exists()


def test_a_url_means_smtp_journaled_in_the_outbox(
    smtp_server: ServerFactory, tmp_path: Path, clock: FrozenClock
) -> None:
    inbox, port = smtp_server()
    mailer = mailer_from_url(f"smtp://127.0.0.1:{port}", tmp_path / "outbox", clock, SENDER)
    assert isinstance(mailer, SmtpMailer)
    mail_id = mailer.send(note())
    assert len(inbox.messages) == 1
    assert (tmp_path / "outbox" / f"{mail_id}.eml").exists()


def test_a_bad_url_fails_at_startup(tmp_path: Path, clock: FrozenClock) -> None:
    with pytest.raises(Invalid):
        mailer_from_url("smtp://host?starttls=perhaps", tmp_path, clock, SENDER)
