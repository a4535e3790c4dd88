"""Rooms from CSV: through the API and through `roost rooms import` (a real subprocess); every
row checked first, bad lines named, nothing imported from a bad file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rooms_helpers import ADMIN, ANA

GOOD = """id,name,site,floor,tz,capacity,equipment,opens,closes,weekdays,requires_approval
alpha,Alpha,Berlin,1,Europe/Berlin,8,screen;video,07:00,19:00,0;1;2;3;4;5,false
,Beta Room,London,,Europe/London,4,,,,,true
"""
BAD = """name,site,capacity,tz
Gamma,Berlin,eight,UTC
Delta,Berlin,4,Mars/Base
Epsilon,Berlin,4,UTC
"""


def upload(host, text: str, who: str = ADMIN):
    return host.client.post("/rooms/rooms/import", content=text.encode(),
                            headers={**host.as_(who), "Content-Type": "text/csv"})


def test_import_creates_then_replaces_rooms(host):
    assert upload(host, GOOD, ANA).status_code == 403
    r = upload(host, GOOD)
    assert r.status_code == 201, r.text
    assert r.json() == {"created": ["alpha", "beta-room"], "replaced": []}
    rooms = {x["id"]: x for x in host.client.get("/rooms/rooms",
                                                 headers=host.as_(ANA)).json()["rooms"]}
    assert rooms["alpha"]["equipment"] == ["screen", "video"]
    assert rooms["alpha"]["weekdays"] == [0, 1, 2, 3, 4, 5]
    assert rooms["beta-room"]["requires_approval"] is True
    assert rooms["beta-room"]["opens"] == "08:00:00"
    assert upload(host, GOOD).json() == {"created": [], "replaced": ["alpha", "beta-room"]}


def test_a_bad_file_names_its_bad_lines_and_imports_nothing(host):
    r = upload(host, BAD)
    assert (r.status_code, r.json()["code"]) == (422, "csv_rows")
    assert [(p["line"], p["column"]) for p in r.json()["problems"]] == [(2, "capacity"),
                                                                         (3, "tz")]
    for text, code in (("name,site,colour\nA,B,red\n", "csv_header"), ("", "csv_header"),
                       ("name,site,capacity\n", "csv_empty"),
                       ("id,name,site,capacity\na,A,B,1\na,A,B,2\n", "csv_duplicate")):
        r = upload(host, text)
        assert (r.status_code, r.json()["code"]) == (422, code), text
    r = host.client.post("/rooms/rooms/import", content=b"\xff\xfe\x00",
                         headers=host.as_(ADMIN))
    assert r.json()["code"] == "csv_encoding"
    assert host.client.get("/rooms/rooms", headers=host.as_(ANA)).json()["rooms"] == []


def test_roost_rooms_import_on_the_command_line(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    env.update({"ROOST_DATA_DIR": str(tmp_path / "var"), "ROOST_APPS": "rooms",
                "ROOST_LOG_LEVEL": "warning"})
    good, bad = tmp_path / "rooms.csv", tmp_path / "bad.csv"
    good.write_text(GOOD)
    bad.write_text(BAD)

    def roost(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "roost.host.cli", "rooms", *args],
                              env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=60)

    done = roost("import", str(good))
    assert done.returncode == 0, done.stderr
    assert "created 2, replaced 0 rooms" in done.stdout
    refused = roost("import", str(bad))
    assert refused.returncode == 1
    assert "line 2, capacity" in refused.stderr and "line 3, tz" in refused.stderr
    assert "replaced 2" in roost("import", str(good)).stdout
