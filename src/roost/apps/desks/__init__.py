"""Desks: whole-day desk (and parking) bookings per office, within office and personal quotas,
with a pass to show at the door. Every quota holds race-free: one `transact` per booking."""

from __future__ import annotations

from roost.apps.desks.store import TABLES
from roost.cloud.functions import App

app = App("desks", "Desks", tables=TABLES,
          description="Book a desk (and parking) in an office for a day; show a pass at "
                      "the door.")

from roost.apps.desks import api, demo, events, invariants, pages  # noqa: E402, F401

__all__ = ["app"]
