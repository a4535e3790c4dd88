"""Images: upload (HTTP or Kafka), processing into variants, metadata with status and timings,
7-day retention, analytics for analysts."""

from __future__ import annotations

from roost.cloud.functions import App

from .store import TABLES

app = App("images", "Images", tables=TABLES,
          description="Upload images; get thumbnails and web sizes; everything is deleted after "
                      "7 days.")

from . import api, demo, events, invariants, pages  # noqa: E402, F401  (they declare on `app`)

__all__ = ["app"]
