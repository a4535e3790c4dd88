"""Sensors: registered with a secret, batched readings, an "occupied" reading in time keeps a
booking (no auto-release), a malformed batch changes nothing, utilisation per room."""

from __future__ import annotations

from rooms_helpers import ADMIN, ANA, stored_booking


def register(host) -> tuple[str, dict[str, str]]:
    r = host.client.post("/rooms/sensors", json={"room_id": "atlas", "name": "ceiling"},
                         headers=host.as_(ADMIN))
    assert r.status_code == 201, r.text
    return r.json()["id"], {"X-Sensor-Secret": r.json()["secret"]}


def post(host, sensor: str, headers: dict, readings: list) -> object:
    return host.client.post(f"/rooms/sensors/{sensor}/readings", json={"readings": readings},
                            headers=headers)


def readings_stored(host) -> list:
    return host.runtime.tables.table("rooms_readings").scan().items


def test_an_occupied_reading_in_time_keeps_the_booking(atlas):
    sensor, key = register(atlas)
    kept = atlas.book("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z").json()["code"]
    lost = atlas.book("2026-01-05T12:00:00Z", "2026-01-05T13:00:00Z").json()["code"]
    atlas.at("2026-01-05T10:20:00+00:00")
    r = post(atlas, sensor, key, [{"at": "2026-01-05T10:05:00Z", "occupied": True},
                                  {"at": "2026-01-05T10:00:00Z", "occupied": False}])
    assert r.status_code == 200, r.text
    assert r.json() == {"stored": 2, "checked_in": [kept]}
    atlas.runtime.scheduler.tick()
    atlas.at("2026-01-05T12:16:00+00:00")
    post(atlas, sensor, key, [{"at": "2026-01-05T12:16:00Z", "occupied": True}])  # too late
    atlas.runtime.scheduler.tick()
    atlas.deliver()
    assert stored_booking(atlas, kept)["status"] == "booked"
    assert stored_booking(atlas, lost)["status"] == "released"


def test_bad_secrets_and_malformed_batches_change_nothing(atlas):
    sensor, key = register(atlas)
    good = {"at": "2026-01-05T08:55:00Z", "occupied": True}
    assert post(atlas, sensor, {"X-Sensor-Secret": "guess"}, [good]).status_code == 401
    assert post(atlas, "nope", key, [good]).status_code == 401
    assert post(atlas, sensor, {}, [good]).status_code == 401
    for batch in ([], [good, {"at": "2026-01-05T08:56:00", "occupied": True}],
                  [good, {"at": "2026-01-05T10:00:00Z", "occupied": True}],
                  [good, {"at": "2025-12-01T10:00:00Z", "occupied": True}],
                  [good, {"at": "2026-01-05T08:56:00Z", "occupied": "maybe"}],
                  [good] * 101, [good, {"when": "now"}]):
        r = post(atlas, sensor, key, batch)
        assert r.status_code == 422, (batch[:3], r.text)
    assert readings_stored(atlas) == []
    assert post(atlas, sensor, key, [good]).status_code == 200
    assert len(readings_stored(atlas)) == 1
    r = atlas.client.post("/rooms/sensors", json={"room_id": "nowhere", "name": "x"},
                          headers=atlas.as_(ADMIN))
    assert r.status_code == 404
    r = atlas.client.post("/rooms/sensors", json={"room_id": "atlas", "name": "x"},
                          headers=atlas.as_(ANA))
    assert r.status_code == 403


def test_utilisation_compares_booked_and_occupied_hours(atlas):
    sensor, key = register(atlas)
    atlas.add_room(id="boreal", name="Boreal")
    atlas.book("2026-01-05T10:00:00Z", "2026-01-05T12:00:00Z")
    atlas.at("2026-01-05T11:00:00+00:00")
    post(atlas, sensor, key, [{"at": "2026-01-05T10:00:00Z", "occupied": True},
                              {"at": "2026-01-05T10:10:00Z", "occupied": True},
                              {"at": "2026-01-05T10:25:00Z", "occupied": True},
                              {"at": "2026-01-05T10:30:00Z", "occupied": False}])
    r = atlas.client.get("/rooms/utilisation", params={"first_day": "2026-01-05",
                                                       "last_day": "2026-01-06"},
                         headers=atlas.as_(ADMIN))
    assert r.status_code == 200, r.text
    use = {u["room"]["id"]: (u["booked_hours"], u["occupied_hours"], u["ratio"])
           for u in r.json()["rooms"]}
    assert use == {"atlas": (2.0, 0.5, 0.25), "boreal": (0.0, 0.0, None)}
    bad = atlas.client.get("/rooms/utilisation", params={"first_day": "2026-01-05",
                                                         "last_day": "2026-03-05"},
                           headers=atlas.as_(ADMIN))
    assert bad.status_code == 422
    assert atlas.client.get("/rooms/utilisation", params={
        "first_day": "2026-01-05", "last_day": "2026-01-05"},
        headers=atlas.as_(ANA)).status_code == 403
