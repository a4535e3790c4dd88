"""OutboxMailer's folder: what lands on disk, how the dev page lists it, and idempotency that
holds across instances and processes."""

from __future__ import annotations

import email
import subprocess
import sys
import textwrap
from datetime import timedelta
from email import policy
from pathlib import Path

import pytest

from roost.cloud.clock import FrozenClock
from roost.cloud.errors import Invalid, NotFound
from roost.cloud.local.mail_outbox import OutboxMailer
from roost.cloud.mail import Message


def note(n: int, key: str | None = None) -> Message:
    return Message(to=(f"user{n}@example.com",), subject=f"Note {n}", text=f"body {n}",
                   idempotency_key=key)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def outbox(folder: Path, clock: FrozenClock) -> OutboxMailer:
    return OutboxMailer(folder, clock=clock, sender="Roost <roost@rooms.example>")


def eml_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file())


def test_each_message_is_one_rfc5322_file_named_by_its_id(
    outbox: OutboxMailer, folder: Path
) -> None:
    mail_id = outbox.send(note(1))
    assert eml_files(folder) == [f"{mail_id}.eml"]
    raw = (folder / f"{mail_id}.eml").read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b""), "CRLF line ends"
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["Message-ID"] == f"<{mail_id}@rooms.example>"
    assert parsed["To"] == "user1@example.com" and parsed["Subject"] == "Note 1"


def test_file_names_sort_by_time_and_list_is_newest_first(
    outbox: OutboxMailer, folder: Path, clock: FrozenClock
) -> None:
    ids = []
    for n in range(5):
        ids.append(outbox.send(note(n)))
        clock.advance(seconds=61)
    assert eml_files(folder) == [f"{i}.eml" for i in ids]
    listed = outbox.list(limit=3)
    assert [m.id for m in listed] == ids[::-1][:3]
    newest = listed[0]
    assert newest.to == ("user4@example.com",) and newest.subject == "Note 4"
    assert newest.sent_at == (clock.now() - timedelta(seconds=61)).isoformat()
    assert len(outbox.list()) == 5


@pytest.mark.parametrize("limit", [0, -1, 1001, True, "5"])
def test_list_limit_is_checked(outbox: OutboxMailer, limit: object) -> None:
    with pytest.raises(Invalid):
        outbox.list(limit=limit)  # type: ignore[arg-type]


def test_read_returns_the_parsed_message(outbox: OutboxMailer) -> None:
    mail_id = outbox.send(Message(to=("a@example.com",), subject="S", text="T", html="<i>H</i>"))
    got = outbox.read(mail_id)
    assert got.get_body(("html",)).get_content() == "<i>H</i>\n"  # type: ignore[union-attr]


@pytest.mark.parametrize("bad", ["../etc/passwd", "abc", "", "01ARZ3NDEKTSV4RRFFQ69G5FA/"])
def test_read_of_what_is_not_an_id_finds_nothing(outbox: OutboxMailer, folder: Path,
                                                  bad: str) -> None:
    (folder.parent / "etc").mkdir()
    (folder.parent / "etc" / "passwd.eml").write_bytes(b"Subject: outside\r\n\r\n")
    with pytest.raises(NotFound) as e:
        outbox.read(bad)
    assert e.value.code == "mail_not_found"


def test_read_of_an_unknown_id_is_not_found(outbox: OutboxMailer) -> None:
    with pytest.raises(NotFound):
        outbox.read("01ARZ3NDEKTSV4RRFFQ69G5FAV")


def test_half_written_and_foreign_files_are_not_listed(
    outbox: OutboxMailer, folder: Path
) -> None:
    mail_id = outbox.send(note(1))
    (folder / "01ARZ3NDEKTSV4RRFFQ69G5FAV.eml.part-abcd").write_bytes(b"To: x")
    (folder / "readme.eml").write_bytes(b"Subject: not ours\r\n\r\n")
    assert [m.id for m in outbox.list()] == [mail_id]


def test_idempotency_survives_a_restart(folder: Path, clock: FrozenClock) -> None:
    first = OutboxMailer(folder, clock=clock).send(note(1, key="order-7"))
    clock.advance(hours=1)
    again = OutboxMailer(folder, clock=clock).send(note(1, key="order-7"))
    assert again == first
    assert len(OutboxMailer(folder, clock=clock).list()) == 1


SENDER_PROCESS = textwrap.dedent("""
    import sys
    from pathlib import Path
    from roost.cloud.clock import SystemClock
    from roost.cloud.local.mail_outbox import OutboxMailer
    from roost.cloud.mail import Message
    outbox = OutboxMailer(Path(sys.argv[1]), clock=SystemClock())
    ids = {outbox.send(Message(to=("a@example.com",), subject="s", text="t",
                               idempotency_key=f"k{n}")) for n in range(10)}
    print(",".join(sorted(ids)))
""")


def test_processes_racing_on_the_same_keys_record_each_message_once(
    folder: Path, clock: FrozenClock
) -> None:
    OutboxMailer(folder, clock=clock)  # create the folder before the race
    procs = [subprocess.Popen([sys.executable, "-c", SENDER_PROCESS, str(folder)],
                              stdout=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0]
    assert len(set(outputs)) == 1, "every process got the same ten ids"
    ids = outputs[0].split(",")
    assert len(ids) == 10
    assert sorted(m.id for m in OutboxMailer(folder, clock=clock).list()) == sorted(ids)


def test_mail_sent_in_one_millisecond_lists_in_the_order_it_was_sent(
    outbox: OutboxMailer,
) -> None:
    ids = [outbox.send(note(n)) for n in range(20)]  # the frozen clock never moves
    assert [m.id for m in outbox.list()] == ids[::-1]
    assert [m.subject for m in outbox.list(limit=2)] == ["Note 19", "Note 18"]
