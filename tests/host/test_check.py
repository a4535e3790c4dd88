"""`roost check`: the core's event invariant, app invariants, and the command's exit code."""

from __future__ import annotations

from datetime import timedelta

import pytest
from typer.testing import CliRunner

from roost.cloud.events import Event
from roost.cloud.events import publish as outbox_put
from roost.cloud.functions import App, Ctx, DeclarationError, Uses
from roost.cloud.table import TableSpec
from roost.host.checks import run_checks
from roost.host.cli import app as cli

NOTES = TableSpec("probe_notes", pk="id", sk=None)
probe = App("probe", "Probe", tables=[NOTES])


@probe.invariant(uses=Uses(reads=[NOTES]))
def notes_are_short(ctx: Ctx) -> list[str]:
    """No note is longer than 10 characters."""
    return [f"note {i['id']} is {len(i['text'])} characters"
            for i in ctx.tables.table(NOTES.name).scan().items if len(i["text"]) > 10]


@probe.handler("probe.noted")
def fails(ctx: Ctx, event: Event) -> None:
    raise RuntimeError("cannot")


def _publish(runtime, clock) -> None:
    event = Event(type="probe.noted", data={}, id="01KE6P4YM0AAAAAAAAAAAAAAAA", at=clock.now())
    runtime.tables.transact([outbox_put(event)])


def test_a_clean_store_has_no_findings(make_host):
    _, runtime = make_host([probe])
    runtime.tables.table(NOTES.name).put({"id": "a", "text": "short"})
    assert run_checks(runtime, max_event_age=timedelta(minutes=10)) == []


def test_app_invariants_report_what_they_find(make_host):
    _, runtime = make_host([probe])
    runtime.tables.table(NOTES.name).put({"id": "a", "text": "far too long a note"})
    [finding] = run_checks(runtime, max_event_age=timedelta(minutes=10))
    assert finding.check == "probe.notes_are_short" and "note a is 19" in finding.problem


def test_stuck_and_dead_events_are_findings(make_host, clock):
    _, runtime = make_host([probe])
    _publish(runtime, clock)
    assert run_checks(runtime, max_event_age=timedelta(minutes=10)) == []
    clock.advance(minutes=11)
    [stuck] = run_checks(runtime, max_event_age=timedelta(minutes=10))
    assert "never handed" in stuck.problem
    runtime.dispatcher.run_once()  # fanned out, first attempt fails
    [retrying] = run_checks(runtime, max_event_age=timedelta(minutes=10))
    assert "still undelivered to probe.fails after 1 attempts" in retrying.problem
    for _ in range(runtime.dispatcher.max_attempts):
        clock.advance(seconds=runtime.dispatcher.max_delay + 1)
        runtime.dispatcher.run_once()
    [dead] = run_checks(runtime, max_event_age=timedelta(minutes=10))
    assert "dead letter for probe.fails: RuntimeError: cannot" in dead.problem


def test_invariants_only_read():
    with pytest.raises(DeclarationError, match="only reads"):
        @probe.invariant(uses=Uses(writes=[NOTES]))
        def writes(ctx: Ctx) -> list[str]:
            return []


def test_the_command_exits_0_when_clean_and_1_with_findings(tmp_path, monkeypatch):
    monkeypatch.setenv("ROOST_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("ROOST_SECRET", "s" * 40)
    runner = CliRunner()
    clean = runner.invoke(cli, ["check"])
    assert clean.exit_code == 0 and "no problems found" in clean.output, clean.output

    from roost.cloud.clock import FrozenClock
    from roost.host.bootstrap import bootstrap
    from roost.host.settings import Settings

    old = FrozenClock()  # 2026-01-05: long before now
    runtime = bootstrap(Settings(), clock=old)
    event = Event(type="auth.code_requested", data={}, id="01KE6P4YM0BBBBBBBBBBBBBBBB",
                  at=old.now())
    runtime.tables.transact([outbox_put(event)])
    runtime.close()
    stuck = runner.invoke(cli, ["check"])
    assert stuck.exit_code == 1
    assert "roost.events: event 01KE6P4YM0BBBBBBBBBBBBBBBB (auth.code_requested)" in stuck.output
