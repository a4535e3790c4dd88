"""`roost users`: list, grant and revoke through the real CLI on a real data dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roost.host.bootstrap import bootstrap
from roost.host.cli import app as roost_cli
from roost.host.settings import Settings


@pytest.fixture
def run(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {"ROOST_DATA_DIR": str(tmp_path / "var"), "ROOST_SECRET": "s" * 40}
    for k in list(os.environ):
        if k.startswith("ROOST_"):
            monkeypatch.delenv(k)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(roost_cli, ["users", *args], env=env)

    return invoke


def test_grant_list_revoke(run, tmp_path):
    r = run("grant", "Ana@Example.com", "desks:office_admin:alpha")
    assert r.exit_code == 0, r.output
    assert "granted desks:office_admin:alpha to ana@example.com" in r.output
    assert run("grant", "bo@example.com", "roost:admin").exit_code == 0
    listing = run("list")
    assert listing.exit_code == 0
    lines = [line.split("\t") for line in listing.stdout.splitlines() if "\t" in line]
    assert [(line[0], line[3]) for line in lines] == [
        ("ana@example.com", "desks:office_admin:alpha"), ("bo@example.com", "roost:admin:*")]

    r = run("revoke", "ana@example.com", "desks:office_admin:alpha")
    assert r.exit_code == 0 and "revoked" in r.output
    r = run("revoke", "ana@example.com", "desks:office_admin:alpha")
    assert r.exit_code == 0 and "nothing changed" in r.output

    # The server's own runtime sees the same data, with the CLI named in the audit trail.
    settings = Settings(data_dir=tmp_path / "var", secret="s" * 40)
    with bootstrap(settings, apps=[]) as rt:
        bo = rt.identity.get_user(email="bo@example.com")
        assert rt.identity.principal(bo.id).is_system_admin
        actors = {a["actor"] for a in rt.tables.table("roost_audit").query("roost").items}
        assert all(a.startswith("cli") for a in actors)


@pytest.mark.parametrize(("args", "code", "message"), [
    (("grant", "ana@example.com", "desks"), 2, "app:role"),
    (("grant", "not-an-email", "desks:admin"), 1, "not a valid email"),
    (("grant", "ana@example.com", "Desks:Admin"), 1, "lower-case"),
    (("revoke", "nobody@example.com", "desks:admin"), 1, "no user"),
])
def test_mistakes_are_explained(run, args, code, message):
    r = run(*args)
    assert r.exit_code == code
    assert message in r.output


def test_list_with_no_users(run):
    r = run("list", "--limit", "5")
    assert r.exit_code == 0 and "0 users" in r.output
