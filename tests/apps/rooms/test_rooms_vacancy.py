"""Vacancy over a day and a week with filters, and "find me a free room"."""

from __future__ import annotations

import json
from datetime import date

from rooms_helpers import ANA

from roost.apps.rooms import vacancy as vacancy_module
from roost.apps.rooms.models import Vacancy, VacancyQuery


def setup_rooms(host) -> None:
    host.add_room()  # atlas: Berlin, 6 seats, screen
    host.add_room(id="boreal", name="Boreal", capacity=12, equipment=["screen", "video"])
    host.add_room(id="ember", name="Ember", site="London", tz="Europe/London", capacity=4,
                  equipment=[])
    host.add_room(id="shut", name="Shut", capacity=50, active=False)


def vacancy(host, **params) -> list[dict]:
    r = host.client.get("/rooms/vacancy", params=params, headers=host.as_(ANA))
    assert r.status_code == 200, r.text
    return r.json()["rooms"]


def test_vacancy_of_a_day_shows_busy_and_free_time(host):
    setup_rooms(host)
    code = host.book("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z").json()["code"]
    rooms = vacancy(host, day="2026-01-05")
    assert [r["room"]["id"] for r in rooms] == ["atlas", "boreal", "ember"]  # not inactive
    atlas = rooms[0]
    assert atlas["busy"] == [{"start": "2026-01-05T10:00:00Z", "end": "2026-01-05T11:00:00Z",
                              "code": code}]
    assert [(f["start"], f["end"]) for f in atlas["free"]] == [
        ("2026-01-05T08:00:00Z", "2026-01-05T10:00:00Z"),
        ("2026-01-05T11:00:00Z", "2026-01-05T18:00:00Z")]
    assert rooms[1]["busy"] == [] and len(rooms[1]["free"]) == 1


def test_vacancy_filters_by_site_capacity_and_equipment(host):
    setup_rooms(host)
    assert [r["room"]["id"] for r in vacancy(host, day="2026-01-05", site="london")] == ["ember"]
    assert [r["room"]["id"] for r in vacancy(host, day="2026-01-05", capacity=5)] == \
        ["atlas", "boreal"]
    assert [r["room"]["id"] for r in vacancy(host, day="2026-01-05", equipment="video")] == \
        ["boreal"]


def test_vacancy_of_a_week_has_a_row_per_room_and_day(host):
    setup_rooms(host)
    host.book("2026-01-07T10:00:00Z", "2026-01-07T11:00:00Z")
    rooms = vacancy(host, day="2026-01-05", days=7, site="Berlin")
    assert len(rooms) == 14
    wednesday = [r for r in rooms if r["room"]["id"] == "atlas" and r["day"] == "2026-01-07"]
    assert len(wednesday[0]["busy"]) == 1
    saturday = [r for r in rooms if r["day"] == "2026-01-10"]
    assert all(r["free"] == [] for r in saturday)
    bad = host.client.get("/rooms/vacancy", params={"day": "2026-01-05", "days": 30},
                          headers=host.as_(ANA))
    assert bad.status_code == 422



def test_the_served_json_is_exactly_the_models_json(host):
    """The route writes its JSON itself; it must be the model's JSON, byte for byte."""
    setup_rooms(host)
    host.book("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z")
    host.book("2026-01-07T08:00:00Z", "2026-01-07T09:30:00Z", room="ember")
    fn = host.runtime.registry.function("rooms.vacancy")
    for params in ({"day": "2026-01-05"}, {"day": "2026-01-05", "days": 7},
                   {"day": "2026-01-05", "days": 7, "site": "London"}):
        query = VacancyQuery(day=date.fromisoformat(params["day"]), days=params.get("days", 1),
                             site=params.get("site"))
        model = vacancy_module.vacancy_of(fn.context(host.runtime.resources), query)
        served = host.client.get("/rooms/vacancy", params=params, headers=host.as_(ANA))
        assert served.headers["content-type"] == "application/json"
        assert served.content == Vacancy.model_dump_json(model).encode()
        assert any(r["busy"] for r in served.json()["rooms"])


def test_codes_that_need_escaping_are_escaped():
    for text in ("B0100000", 'a"b', "back\\slash", "ünï", "tab\there", "</script>"):
        assert json.loads(f'"{vacancy_module._text(text)}"') == text

def test_find_a_free_room_now_or_later_for_n_people(host):
    setup_rooms(host)
    host.book("2026-01-05T09:00:00Z", "2026-01-05T10:00:00Z", room="boreal")

    def free(**params) -> list[str]:
        r = host.client.get("/rooms/free", params=params, headers=host.as_(ANA))
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["rooms"]]

    assert free() == ["ember", "atlas"]  # now, smallest first; boreal is taken
    assert free(capacity=5) == ["atlas"]
    assert free(start="2026-01-05T10:00:00Z", capacity=5) == ["atlas", "boreal"]
    assert free(start="2026-01-05T10:00:00Z", equipment="video") == ["boreal"]
    assert free(start="2026-01-05T17:30:00Z", minutes=30) == ["ember", "atlas", "boreal"]
    assert free(start="2026-01-05T17:30:00Z") == []  # an hour would pass closing time
    assert free(start="2026-01-10T10:00:00Z") == []  # Saturday
