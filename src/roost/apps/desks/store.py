"""The desks tables: key design, named queries and the transactions that keep every quota.

    desks_offices   pk "office", sk <office id>              an office (version bumps on change)
                    pk "override#<office>", sk <ulid>         a date-ranged quota override
    desks_counters  pk "day#<office>", sk <day>              desks, parking booked that day
                    pk "week#<email>", sk <monday>           n bookings that person's week
    desks_bookings  pk "<office>#<day>", sk <email>          one booking per person/office/day
                    pk "id#<booking id>", sk "ref"           -> its key (a strongly consistent
                                                              get by id, also on DynamoDB)
                    index by_person (email, "<day>#<office>")
    desks_people    pk <email>, sk "person"                  quota, auto-approval, default office
                    index by_email ("person", email)         prefix search, no filter strings
    desks_waitlist  pk "<office>#<day>", sk <ulid>           people queued for a full day
    desks_keys      pk "pass", sk "key"                      the pass-signing key (not audited)

A booking is ONE transaction: the office's version (so the quota it was checked against is the
current one), the day counter (`desks < quota`, `parking < quota`), the person's week counter
(`n < weekly quota`), the person's version, the booking (`not exists`) and the outbox event.
Any failed condition cancels all of it, so no crash or race leaves a counter wrong."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from roost.cloud.errors import (
    ConditionFailed,
    Conflict,
    NotFound,
    TransactionCanceled,
)
from roost.cloud.table import (
    Check,
    Cond,
    Delete,
    IndexSpec,
    Item,
    Op,
    Put,
    SortKey,
    Tables,
    TableSpec,
    Update,
    attr,
    query_all,
)

from .rules import Override, Quotas, week_of

OFFICES = TableSpec("desks_offices", audit=True)
COUNTERS = TableSpec("desks_counters", audit=True)
BOOKINGS = TableSpec("desks_bookings", audit=True, indexes=(
    IndexSpec("by_person", pk="email", sk="person_sk"),
))
PEOPLE = TableSpec("desks_people", audit=True, indexes=(
    IndexSpec("by_email", pk="kind", sk="email"),
))
WAITLIST = TableSpec("desks_waitlist", audit=True, indexes=(
    IndexSpec("by_person", pk="email", sk="day"),
))
KEYS = TableSpec("desks_keys")
TABLES = [OFFICES, COUNTERS, BOOKINGS, PEOPLE, WAITLIST, KEYS]

PAGE = 200


class Stale(Exception):
    """The office or the person changed between reading and booking: read again and retry."""


def _all(tables: Tables, table: TableSpec, partition: str, **kw: Any) -> list[Item]:
    return list(query_all(tables.table(table.name), partition, page_size=PAGE, **kw))


# --------------------------------------------------------------------------- offices


def _office_key(office_id: str) -> dict[str, str]:
    return {"pk": "office", "sk": office_id}


def office(tables: Tables, office_id: str) -> Item:
    item = tables.table(OFFICES.name).get(_office_key(office_id))
    if item is None:
        raise NotFound(f"no office {office_id!r}", code="office_not_found")
    return item


def offices(tables: Tables) -> list[Item]:
    return _all(tables, OFFICES, "office")


def create_office(tables: Tables, fields: dict[str, Any]) -> Item:
    item = {**_office_key(fields["id"]), **fields, "version": 1}
    try:
        tables.table(OFFICES.name).put(item, condition=attr("pk").not_exists())
    except ConditionFailed as exc:
        raise Conflict(f"office {fields['id']!r} exists already", code="office_exists") from exc
    return item


def change_office(tables: Tables, office_id: str, fields: dict[str, Any]) -> Item:
    fields = {k: v for k, v in fields.items() if k != "id"}
    try:
        return tables.table(OFFICES.name).update(
            _office_key(office_id), set=fields, add={"version": 1},
            condition=attr("pk").exists())
    except ConditionFailed as exc:
        raise NotFound(f"no office {office_id!r}", code="office_not_found") from exc


def overrides(tables: Tables, office_id: str) -> list[Item]:
    return _all(tables, OFFICES, f"override#{office_id}")


def as_override(item: Item) -> Override:
    return Override(start=date.fromisoformat(item["start"]), end=date.fromisoformat(item["end"]),
                    desks=item["desk_quota"], parking=item["parking_quota"], id=item["sk"])


def add_override(tables: Tables, office_id: str, override_id: str, fields: dict[str, Any]
                 ) -> Item:
    """The override and the office's version bump together, so a booking checked against the
    old quotas cannot commit after it."""
    item = {"pk": f"override#{office_id}", "sk": override_id, "office_id": office_id,
            **fields}
    try:
        tables.transact([
            Put(OFFICES.name, item, condition=attr("pk").not_exists()),
            Update(OFFICES.name, _office_key(office_id), add={"version": 1},
                   condition=attr("pk").exists()),
        ])
    except TransactionCanceled as exc:
        raise NotFound(f"no office {office_id!r}", code="office_not_found") from exc
    return item


def remove_override(tables: Tables, office_id: str, override_id: str) -> None:
    try:
        tables.transact([
            Delete(OFFICES.name, {"pk": f"override#{office_id}", "sk": override_id},
                   condition=attr("pk").exists()),
            Update(OFFICES.name, _office_key(office_id), add={"version": 1},
                   condition=attr("pk").exists()),
        ])
    except TransactionCanceled as exc:
        raise NotFound(f"no override {override_id!r} for office {office_id!r}",
                       code="override_not_found") from exc


def quotas(item: Item) -> Quotas:
    return Quotas(item["desk_quota"], item["parking_quota"])


# --------------------------------------------------------------------------- counters


def _day_key(office_id: str, day: date) -> dict[str, str]:
    return {"pk": f"day#{office_id}", "sk": day.isoformat()}


def _week_key(email: str, day: date) -> dict[str, str]:
    return {"pk": f"week#{email}", "sk": week_of(day).isoformat()}


def day_counts(tables: Tables, office_id: str, day: date) -> tuple[int, int]:
    item = tables.table(COUNTERS.name).get(_day_key(office_id, day)) or {}
    return int(item.get("desks", 0)), int(item.get("parking", 0))


def counts_between(tables: Tables, office_id: str, start: date, end: date
                   ) -> dict[date, tuple[int, int]]:
    items = _all(tables, COUNTERS, f"day#{office_id}",
                 sort=SortKey.between(start.isoformat(), end.isoformat()))
    return {date.fromisoformat(i["sk"]): (int(i.get("desks", 0)), int(i.get("parking", 0)))
            for i in items}


def counts_from(tables: Tables, office_id: str, start: date) -> dict[date, tuple[int, int]]:
    items = _all(tables, COUNTERS, f"day#{office_id}", sort=SortKey.ge(start.isoformat()))
    return {date.fromisoformat(i["sk"]): (int(i.get("desks", 0)), int(i.get("parking", 0)))
            for i in items}


def week_count(tables: Tables, email: str, day: date) -> int:
    item = tables.table(COUNTERS.name).get(_week_key(email, day)) or {}
    return int(item.get("n", 0))


# --------------------------------------------------------------------------- people


def _person_key(email: str) -> dict[str, str]:
    return {"pk": email, "sk": "person"}


def person(tables: Tables, email: str) -> Item | None:
    return tables.table(PEOPLE.name).get(_person_key(email))


def search_people(tables: Tables, prefix: str, limit: int) -> list[Item]:
    """People whose email starts with `prefix`: a key range, never a filter string."""
    sort = SortKey.begins_with(prefix) if prefix else None
    return tables.table(PEOPLE.name).query("person", index="by_email", sort=sort,
                                           limit=limit).items


def change_person(tables: Tables, email: str, *, set: dict[str, Any],
                  remove: Sequence[str] = ()) -> Item:
    return tables.table(PEOPLE.name).update(
        _person_key(email), set={"email": email, "kind": "person", **set}, remove=remove,
        add={"version": 1})


def _person_guard(email: str, version: int | None) -> Update:
    """Registers the person (for admin search) and fails if their settings changed since read."""
    if version is None:
        return Update(PEOPLE.name, _person_key(email),
                      set={"email": email, "kind": "person", "version": 0},
                      condition=attr("pk").not_exists())
    return Update(PEOPLE.name, _person_key(email), set={"email": email, "kind": "person"},
                  condition=attr("version").eq(version))


# --------------------------------------------------------------------------- bookings


def _booking_key(office_id: str, day: date, email: str) -> dict[str, str]:
    return {"pk": f"{office_id}#{day.isoformat()}", "sk": email}


def _ref_key(booking_id: str) -> dict[str, str]:
    return {"pk": f"id#{booking_id}", "sk": "ref"}


def _ref(item: Item) -> Item:
    return {**_ref_key(item["id"]), "booking_pk": item["pk"], "booking_sk": item["sk"]}


@dataclass(frozen=True)
class Plan:
    """What a booking was checked against: commit only if all of it is still current."""

    office_version: int
    person_version: int | None
    quotas: Quotas
    weekly_quota: int


def booking_item(*, booking_id: str, office: Item, day: date, email: str, parking: bool,
                 reason: str | None, created_at: str, created_by: str) -> Item:
    return {**_booking_key(office["sk"], day, email), "id": booking_id,
            "office_id": office["sk"], "office_name": office["name"], "day": day.isoformat(),
            "email": email, "person_sk": f"{day.isoformat()}#{office['sk']}",
            "parking": parking, "reason": reason, "created_at": created_at,
            "created_by": created_by}


def commit_booking(tables: Tables, plan: Plan, item: Item, extra: Sequence[Op] = ()) -> None:
    """One transaction for every rule; `extra` is the outbox event (and a waitlist removal).
    Raises `Stale` (retry), or `Conflict` naming the rule that refused."""
    office_id, email = item["office_id"], item["email"]
    day = date.fromisoformat(item["day"])
    free: Cond = attr("desks").not_exists() | attr("desks").lt(plan.quotas.desks)
    add = {"desks": 1}
    if item["parking"]:
        free = free & (attr("parking").not_exists() | attr("parking").lt(plan.quotas.parking))
        add["parking"] = 1
    ops: list[Op] = [
        Check(OFFICES.name, _office_key(office_id), attr("version").eq(plan.office_version)),
        Update(COUNTERS.name, _day_key(office_id, day), add=add, condition=free),
        Update(COUNTERS.name, _week_key(email, day), add={"n": 1},
               condition=attr("n").not_exists() | attr("n").lt(plan.weekly_quota)),
        _person_guard(email, plan.person_version),
        Put(BOOKINGS.name, item, condition=attr("pk").not_exists()),
        Put(BOOKINGS.name, _ref(item), condition=attr("pk").not_exists()),
        *extra,
    ]
    try:
        tables.transact(ops)
    except TransactionCanceled as exc:
        failed = set(exc.failed)
        if 4 in failed:
            raise Conflict(f"{email} already has a booking in this office on {day}",
                           code="already_booked") from exc
        if failed & {0, 3}:
            raise Stale() from exc
        if 1 in failed:
            desks, _ = day_counts(tables, office_id, day)
            if desks >= plan.quotas.desks:
                raise Conflict(f"no desk is free on {day}", code="office_full") from exc
            raise Conflict(f"no parking space is free on {day}", code="parking_full") from exc
        if 2 in failed:
            raise Conflict(f"the weekly quota of {plan.weekly_quota} booking(s) is reached "
                           f"for the week of {week_of(day)}",
                           code="weekly_quota_reached") from exc
        raise


def cancel_booking(tables: Tables, item: Item, extra: Sequence[Op] = ()) -> None:
    """Delete the booking and give back its desk, parking and week in one transaction."""
    day = date.fromisoformat(item["day"])
    sub = {"desks": -1, **({"parking": -1} if item["parking"] else {})}
    held: Cond = attr("desks").ge(1)
    if item["parking"]:
        held = held & attr("parking").ge(1)
    try:
        tables.transact([
            Delete(BOOKINGS.name, _booking_key(item["office_id"], day, item["email"]),
                   condition=attr("id").eq(item["id"])),
            Delete(BOOKINGS.name, _ref_key(item["id"]), condition=attr("pk").exists()),
            Update(COUNTERS.name, _day_key(item["office_id"], day), add=sub, condition=held),
            Update(COUNTERS.name, _week_key(item["email"], day), add={"n": -1},
                   condition=attr("n").ge(1)),
            *extra,
        ])
    except TransactionCanceled as exc:
        raise NotFound("the booking was cancelled already", code="booking_not_found") from exc


def has_booking(tables: Tables, office_id: str, day: date, email: str) -> bool:
    return tables.table(BOOKINGS.name).get(_booking_key(office_id, day, email)) is not None


def booking(tables: Tables, booking_id: str) -> Item:
    bookings = tables.table(BOOKINGS.name)
    ref = bookings.get(_ref_key(booking_id)) if booking_id else None
    item = bookings.get({"pk": ref["booking_pk"], "sk": ref["booking_sk"]}) if ref else None
    if item is None:
        raise NotFound(f"no booking {booking_id!r}", code="booking_not_found")
    return item


def bookings_on(tables: Tables, office_id: str, day: date) -> list[Item]:
    return _all(tables, BOOKINGS, f"{office_id}#{day.isoformat()}")


def bookings_of(tables: Tables, email: str, start: date) -> list[Item]:
    return _all(tables, BOOKINGS, email, index="by_person", sort=SortKey.ge(start.isoformat()))


# --------------------------------------------------------------------------- waitlist


def join_waitlist(tables: Tables, office_id: str, day: date, email: str, entry_id: str,
                  parking: bool) -> Item:
    item = {"pk": f"{office_id}#{day.isoformat()}", "sk": entry_id, "office_id": office_id,
            "day": day.isoformat(), "email": email, "parking": parking}
    existing = [w for w in waitlist(tables, office_id, day) if w["email"] == email]
    if existing:
        raise Conflict(f"{email} is already on the waitlist for {day}", code="already_waiting")
    tables.table(WAITLIST.name).put(item, condition=attr("pk").not_exists())
    return item


def waitlist(tables: Tables, office_id: str, day: date) -> list[Item]:
    return _all(tables, WAITLIST, f"{office_id}#{day.isoformat()}")


def waiting_of(tables: Tables, email: str, start: date) -> list[Item]:
    return _all(tables, WAITLIST, email, index="by_person", sort=SortKey.ge(start.isoformat()))


def leave_waitlist(tables: Tables, office_id: str, day: date, email: str) -> None:
    mine = [w for w in waitlist(tables, office_id, day) if w["email"] == email]
    if not mine:
        raise NotFound(f"you are not on the waitlist of {office_id} for {day}",
                       code="not_waiting")
    for entry in mine:
        drop_waitlist_entry(tables, entry)


def leave_waitlist_op(entry: Item) -> Delete:
    return Delete(WAITLIST.name, {"pk": entry["pk"], "sk": entry["sk"]},
                  condition=attr("pk").exists())


def drop_waitlist_entry(tables: Tables, entry: Item) -> None:
    tables.table(WAITLIST.name).delete({"pk": entry["pk"], "sk": entry["sk"]})


# --------------------------------------------------------------------------- the pass key


def pass_key(tables: Tables) -> bytes:
    """The key that signs passes: made once, on first use, by whichever call gets there first."""
    keys = tables.table(KEYS.name)
    key = {"pk": "pass", "sk": "key"}
    item = keys.get(key)
    if item is None:
        with contextlib.suppress(ConditionFailed):
            keys.put({**key, "value": secrets.token_bytes(32)}, condition=attr("pk").not_exists())
        item = keys.get(key)
    assert item is not None
    return bytes(item["value"])


# --------------------------------------------------------------------------- invariants


def counter_mismatches(tables: Tables) -> list[str]:
    """Every day counter that disagrees with the bookings it counts, and every person's week
    counter that disagrees with their bookings that week (what `roost check` reports)."""
    found: list[str] = []
    weeks: dict[tuple[str, str], int] = {}
    for o in offices(tables):
        for counter in query_all(tables.table(COUNTERS.name), f"day#{o['sk']}"):
            day = date.fromisoformat(counter["sk"])
            held = bookings_on(tables, o["sk"], day)
            want = (len(held), sum(1 for b in held if b.get("parking")))
            have = (int(counter.get("desks", 0)), int(counter.get("parking", 0)))
            if have != want:
                found.append(f"office {o['sk']} on {day}: counters say {have[0]} desks, "
                             f"{have[1]} parking; the bookings are {want[0]} and {want[1]}")
            for b in held:
                week = (b["email"], week_of(day).isoformat())
                weeks[week] = weeks.get(week, 0) + 1
    for (email, monday), n in sorted(weeks.items()):
        counted = int((tables.table(COUNTERS.name).get(
            {"pk": f"week#{email}", "sk": monday}) or {}).get("n", 0))
        if counted != n:
            found.append(f"{email} in the week of {monday}: counter says {counted}, "
                         f"bookings are {n}")
    return found
