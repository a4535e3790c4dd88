"""`roost check` for desks: the counters the quotas are enforced on agree with the bookings."""

from __future__ import annotations

from datetime import timedelta

from roost.apps.desks import store
from roost.host.checks import run_checks

ANA = "ana@example.com"
BEN = "ben@example.com"
TUESDAY = "2026-01-06"


def _findings(desks) -> list[str]:
    return [f.problem for f in run_checks(desks.runtime, max_event_age=timedelta(days=365))
            if f.check == "desks.counters_match_bookings"]


def test_bookings_and_cancellations_keep_the_counters_true(desks):
    desks.book(ANA, TUESDAY, parking=True)
    b = desks.book(BEN, TUESDAY).json()
    assert desks.client.delete(f"/desks/bookings/{b['id']}",
                               headers=desks.auth(BEN)).status_code < 300
    assert _findings(desks) == []


def test_a_counter_that_disagrees_is_found(desks):
    assert desks.book(ANA, TUESDAY, parking=True).status_code == 201
    counters = desks.runtime.tables.table(store.COUNTERS.name)
    counters.update({"pk": "day#hq", "sk": TUESDAY}, add={"desks": 1})
    counters.update({"pk": f"week#{ANA}", "sk": "2026-01-05"}, add={"n": 2})
    assert _findings(desks) == [
        f"office hq on {TUESDAY}: counters say 2 desks, 1 parking; the bookings are 1 and 1",
        f"{ANA} in the week of 2026-01-05: counter says 3, bookings are 1",
    ]
