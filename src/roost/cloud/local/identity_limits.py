"""Rate limits as fixed-window counters in a table: one item per (bucket, window), incremented
with a condition so the limit holds across processes and Lambda instances without a lock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from roost.cloud.errors import RateLimited
from roost.cloud.table import Update, attr

from .identity_tables import LIMITS


@dataclass(frozen=True)
class Limit:
    count: int
    window: int  # seconds


@dataclass(frozen=True)
class Limits:
    """How many attempts each action allows per email address and per client address."""

    code_per_email: Limit = Limit(5, 900)
    code_per_client: Limit = Limit(30, 900)
    verify_per_client: Limit = Limit(30, 900)  # each code also allows only 5 tries
    signin_per_email: Limit = Limit(10, 900)
    signin_per_client: Limit = Limit(30, 900)
    signup_per_email: Limit = Limit(5, 900)
    signup_per_client: Limit = Limit(10, 900)


@dataclass(frozen=True)
class Hit:
    """One attempt counted against one limit."""

    bucket: str  # e.g. "code:email:ana@example.com"
    limit: Limit

    def op(self, now: datetime) -> Update:
        start = int(now.timestamp()) // self.limit.window * self.limit.window
        return Update(
            LIMITS.name, {"bucket": self.bucket, "window": str(start)},
            add={"count": 1}, set={"expires": start + self.limit.window},
            condition=attr("count").not_exists() | attr("count").lt(self.limit.count),
        )

    def refusal(self, now: datetime) -> RateLimited:
        ts = int(now.timestamp())
        retry = self.limit.window - ts % self.limit.window
        minutes = max(1, round(retry / 60))
        return RateLimited(f"too many attempts; try again in about {minutes} minute"
                           f"{'s' if minutes != 1 else ''}", retry_after=retry)
